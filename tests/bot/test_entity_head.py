"""The component's BIO token head: entities from the same encoder pass as the intent."""

from __future__ import annotations

import json
import shutil

import pytest
from rasa.shared.nlu.training_data.message import Message
from safetensors import safe_open

from bot.components import bio
from bot.components.transformer_classifier import InvalidTransformerModel, TransformerIntentClassifier
from tests.bot.conftest import DATA_DIR

# Enough passes over the tiny entity set for the head to learn it; a few seconds on two cores.
ENTITY_CONFIG = {"epochs": 10, "learning_rate": 3e-4}


@pytest.fixture(scope="module")
def with_entities(make_component):
    from rasa.shared.nlu.training_data.loading import load_data

    component, storage, resource, context = make_component(ENTITY_CONFIG, resource_name="entities")
    component.train(load_data(str(DATA_DIR / "nlu_entities.yml")))
    return component, storage, resource, context


def spans(message: Message) -> list[tuple[str, str]]:
    return [(e["entity"], e["value"]) for e in message.get("entities") or [] if e["entity"] != "sentiment"]


def parse(component, text: str, entities: list | None = None) -> Message:
    message = Message({"text": text, **({"entities": entities} if entities else {})})
    component.process([message])
    return message


def test_tags_are_built_from_the_annotated_entity_types(with_entities):
    component, *_ = with_entities
    assert component.entity_tags == ["O", "B-color", "I-color", "B-product_category", "I-product_category"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("show me red jackets", [("color", "red"), ("product_category", "jackets")]),
        # A new combination of known words, and a two-word value kept as one entity.
        ("do you have black wireless earbuds", [("color", "black"), ("product_category", "wireless earbuds")]),
    ],
)
def test_entities_are_found_with_offsets_into_the_message(with_entities, text, expected):
    component, *_ = with_entities
    message = parse(component, text)
    assert spans(message) == expected
    for entity in message.get("entities"):
        assert (
            message.get("text")[entity["start"] : entity["end"]] == entity["value"] or entity["entity"] == "sentiment"
        )
        assert entity["extractor"] == "TransformerIntentClassifier"
        assert 0.0 < entity["confidence_entity"] <= 1.0
    assert message.get("intent")["name"] == "search_product"


def test_offsets_survive_leading_spaces(with_entities):
    component, *_ = with_entities
    message = parse(component, "   show me red jackets")
    (color,) = [e for e in message.get("entities") if e["entity"] == "color"]
    assert (color["start"], color["end"], color["value"]) == (11, 14, "red")


def test_words_an_earlier_extractor_claimed_are_left_to_it(with_entities):
    component, *_ = with_entities
    lookup = {"entity": "color", "value": "red", "start": 8, "end": 11, "extractor": "RegexEntityExtractor"}
    message = parse(component, "show me red jackets", [lookup])
    ours = [
        e
        for e in message.get("entities")
        if e["extractor"] == "TransformerIntentClassifier" and e["entity"] != "sentiment"
    ]
    assert [(e["entity"], e["value"]) for e in ours] == [("product_category", "jackets")]
    assert lookup in message.get("entities")


def test_greeting_has_no_entities(with_entities):
    component, *_ = with_entities
    assert spans(parse(component, "hello there")) == []


def test_persist_load_gives_identical_entities(with_entities):
    component, storage, resource, context = with_entities
    texts = ["show me red jackets", "any blue running shoes", "hiya"]
    before = [parse(component, t).get("entities") for t in texts]
    loaded = TransformerIntentClassifier.load(component.component_config, storage, resource, context)
    assert loaded.entity_tags == component.entity_tags
    assert [parse(loaded, t).get("entities") for t in texts] == before


def test_no_annotations_or_switched_off_means_no_entity_head(trained, make_component, tiny_training_data):
    component, storage, resource, _ = trained  # the tiny intent set has no entity annotations
    assert component.entity_tags == []
    with storage.read_from(resource) as model_dir, safe_open(str(model_dir / "model.safetensors"), "pt") as f:
        assert not [k for k in f.keys() if k.startswith("entity_head")]
    from rasa.shared.nlu.training_data.loading import load_data

    off, *_ = make_component({"entity_recognition": False, "epochs": 1})
    off.train(load_data(str(DATA_DIR / "nlu_entities.yml")))
    assert off.entity_tags == []
    assert spans(parse(off, "show me red jackets")) == []


@pytest.mark.parametrize(
    "tags, message",
    [
        (["O", "B-color"], r"2 entity tag labels but the entity tag head has 5 outputs"),
        (["O", "color", "I-color", "B-product_category", "I-product_category"], r"must be 'O' and B-/I- tags"),
    ],
)
def test_bad_entity_tags_at_load_time_are_a_clear_error(with_entities, tmp_path, tags, message):
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    component, storage, resource, context = with_entities
    with storage.read_from(resource) as model_dir:
        shutil.copytree(model_dir, tmp_path / "storage" / resource.name)
    labels_path = tmp_path / "storage" / resource.name / "labels.json"
    labels = json.loads(labels_path.read_text())
    labels["entity_tags"] = tags
    labels_path.write_text(json.dumps(labels))
    with pytest.raises(InvalidTransformerModel, match=message):
        TransformerIntentClassifier.load(
            component.component_config, LocalModelStorage(tmp_path / "storage"), resource, context
        )


@pytest.mark.parametrize(
    "text, tagged, expected",
    [
        # The tokenizer splits "t-shirt" into "t", "-", "shirt"; a word is tagged by its first piece.
        (
            "organic cotton t-shirt",
            {"cotton": "B-product_category", "t": "I-product_category"},
            [("product_category", "cotton t-shirt")],
        ),
        (
            "red women's jackets",
            {"red": "B-color", "women": "B-product_category", "jackets": "I-product_category"},
            [("color", "red"), ("product_category", "women's jackets")],
        ),
        # Numbers around a hyphen stay apart: a price range is two entities.
        (
            "between 50-100",
            {"50": "B-color", "100": "B-product_category"},
            [("color", "50"), ("product_category", "100")],
        ),
    ],
)
def test_hyphenated_words_are_never_split(with_entities, text, tagged, expected):
    import numpy as np

    component, *_ = with_entities
    tokenized = component._tokenizer([text], return_offsets_mapping=True)
    offsets = tokenized["offset_mapping"][0]
    probs = np.zeros((len(offsets), len(component.entity_tags)), dtype=np.float32)
    for k, (start, end) in enumerate(offsets):
        tag = tagged.get(text[start:end], "O")
        probs[k, component.entity_tags.index(tag)] = 1.0
    found = bio.decode_entities(text, tokenized.word_ids(0), offsets, probs, component.entity_tags, component.name)
    assert [(e["entity"], e["value"]) for e in found] == expected


def test_bio_targets_tag_the_first_piece_of_each_word_and_mask_the_rest():
    tags = bio.entity_tags(["product_category", "color", "color"])
    assert tags == ["O", "B-color", "I-color", "B-product_category", "I-product_category"]
    # "[CLS] red wireless ear ##buds [SEP]"
    word_ids = [None, 0, 1, 2, 2, None]
    offsets = [(0, 0), (0, 3), (4, 12), (13, 16), (16, 20), (0, 0)]
    spans = [(0, 3, "color"), (4, 20, "product_category")]
    assert bio.word_tag_targets(word_ids, offsets, spans, tags) == [
        bio.IGNORED,
        tags.index("B-color"),
        tags.index("B-product_category"),
        tags.index("I-product_category"),
        bio.IGNORED,
        bio.IGNORED,
    ]
    assert bio.entity_tags([]) == []
