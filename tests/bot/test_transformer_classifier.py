"""The transformer NLU component: lifecycle, outputs, persistence, config and device."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest
from rasa.shared.exceptions import InvalidConfigException, RasaException
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components import transformer_classifier as tc
from bot.components.transformer_classifier import InvalidTransformerModel, TransformerIntentClassifier
from shop.device import pick_device

PROBES = [
    "hello",
    "where is my parcel? this is ridiculous, it's a week late",
    "show me running shoes",
    "the worst service I have ever had",
    "hi, I love this shop",
    "x" * 2000,  # longer than max_length: truncated, not an error
]


def parse(component, texts):
    messages = [Message({"text": t}) for t in texts]
    component.process(messages)
    return messages


def outputs(messages):
    return [(m.get("intent"), m.get("intent_ranking"), m.get("entities"), m.get("sentiment")) for m in messages]


def test_config_is_defaults_merged_with_user_settings(make_component):
    component, *_ = make_component({"epochs": 7, "device": "cpu"})
    defaults = TransformerIntentClassifier.get_default_config()
    assert component.component_config["epochs"] == 7
    assert component.component_config["device"] == "cpu"
    for key in set(defaults) - {"epochs", "device", "batch_size", "max_length", "learning_rate"}:
        assert component.component_config[key] == defaults[key]


@pytest.mark.parametrize(
    "bad",
    [
        {"epochs": 0},
        {"batch_size": -1},
        {"device": "tpu"},
        {"learning_rate": 0},
        {"max_length": 1000},
        {"dropout": 1.5},
    ],
)
def test_invalid_config_is_a_clear_error(make_component, bad):
    with pytest.raises(InvalidConfigException, match=list(bad)[0]):
        make_component(bad)


def test_trained_component_predicts_intents_with_probabilities(trained):
    component, *_ = trained
    messages = parse(component, PROBES)
    for message in messages:
        intent, ranking = message.get("intent"), message.get("intent_ranking")
        assert intent["name"] in component.intent_labels
        assert ranking[0] == intent
        confidences = [r["confidence"] for r in ranking]
        assert confidences == sorted(confidences, reverse=True)
        assert all(0.0 <= c <= 1.0 for c in confidences)
        # All four intents fit in the ranking, so it is the full distribution.
        assert sum(confidences) == pytest.approx(1.0, abs=1e-4)
    assert messages[0].get("intent")["name"] == "greet"
    assert messages[2].get("intent")["name"] == "search_product"


def test_sentiment_is_an_entity_and_a_parse_field_on_every_message(trained):
    component, *_ = trained
    for message, text in zip(parse(component, PROBES), PROBES, strict=False):
        sentiment_entities = [e for e in message.get("entities") if e["entity"] == "sentiment"]
        assert len(sentiment_entities) == 1
        entity = sentiment_entities[0]
        assert entity["value"] in ("negative", "neutral", "positive")
        assert 0.0 < entity["confidence_entity"] <= 1.0
        assert (entity["start"], entity["end"]) == (0, len(text))
        sentiment = message.get("sentiment")
        assert sentiment["name"] == entity["value"]
        assert sum(sentiment["ranking"].values()) == pytest.approx(1.0, abs=1e-4)
        # Rasa copies add_to_output properties into the /model/parse result.
        assert "sentiment" in message.as_dict(only_output_properties=True)


def test_existing_entities_are_kept(trained):
    component, *_ = trained
    message = Message(
        {
            "text": "where is SO10042",
            "entities": [
                {"entity": "order_id", "value": "SO10042", "start": 9, "end": 16, "extractor": "RegexEntityExtractor"}
            ],
        }
    )
    component.process([message])
    assert [e["entity"] for e in message.get("entities")] == ["order_id", "sentiment"]


def test_an_entity_type_an_earlier_extractor_found_is_not_guessed_again(trained, monkeypatch):
    component, *_ = trained
    regex_email = {
        "entity": "email",
        "value": "ana@example.com",
        "start": 24,
        "end": 39,
        "extractor": "RegexEntityExtractor",
    }
    guessed = [
        {"entity": "email", "value": "and", "start": 20, "end": 23, "extractor": component.name},
        {"entity": "color", "value": ".", "start": 19, "end": 20, "extractor": component.name},
        {"entity": "color", "value": "blue", "start": 0, "end": 4, "extractor": component.name},
    ]
    real_forward = component._forward

    def forward_with_guesses(texts, **kwargs):
        intents, sentiments, _, vectors = real_forward(texts, **kwargs)
        return intents, sentiments, [list(guessed) for _ in texts], vectors

    monkeypatch.setattr(component, "_forward", forward_with_guesses)
    message = Message({"text": "blue one, sorry wrong. and ana@example.com", "entities": [regex_email]})
    component.process([message])
    kept = [(e["entity"], e["value"]) for e in message.get("entities") if e["entity"] != "sentiment"]
    assert kept == [("email", "ana@example.com"), ("color", "blue")]


def test_negative_threshold_decides_between_negative_and_next_best(make_component):
    component, *_ = make_component({"negative_threshold": 0.6})
    assert component.decide_sentiment(np.array([0.55, 0.40, 0.05])) == ("neutral", 0.40)
    assert component.decide_sentiment(np.array([0.65, 0.30, 0.05]))[0] == "negative"
    assert component.decide_sentiment(np.array([0.1, 0.2, 0.7]))[0] == "positive"


@pytest.mark.parametrize("text", ["", "   ", "\n"])
def test_empty_message_is_handled(trained, text):
    component, *_ = trained
    empty, normal = parse(component, [text, "hello"])
    assert empty.get("intent") == {"name": None, "confidence": 0.0}
    assert empty.get("intent_ranking") == []
    assert not [e for e in (empty.get("entities") or []) if e["entity"] == "sentiment"]
    assert normal.get("intent")["name"] == "greet"


def test_message_without_text_and_empty_batch(trained):
    component, *_ = trained
    assert component.process([]) == []
    message = Message({})
    component.process([message])
    assert message.get("intent")["name"] is None


def test_persist_load_gives_identical_predictions(trained):
    component, storage, resource, context = trained
    before = outputs(parse(component, PROBES))
    loaded = TransformerIntentClassifier.load(component.component_config, storage, resource, context)
    assert loaded.intent_labels == component.intent_labels
    assert outputs(parse(loaded, PROBES)) == before
    # Batched and one-by-one inference agree on the decisions.
    one_by_one = [outputs(parse(loaded, [t]))[0] for t in PROBES]
    assert [o[0]["name"] for o in one_by_one] == [o[0]["name"] for o in before]


def test_persisted_files_are_safetensors_and_json_only(trained):
    _, storage, resource, _ = trained
    with storage.read_from(resource) as model_dir:
        names = {p.name for p in model_dir.rglob("*") if p.is_file()}
        assert "model.safetensors" in names
        assert not [n for n in names if n.endswith((".pkl", ".pickle", ".pt", ".bin"))]
        labels = json.loads((model_dir / "labels.json").read_text())
        assert labels["sentiments"] == ["negative", "neutral", "positive"]
        assert labels["intents"] == ["complaint", "greet", "order_status", "search_product"]


def _tampered_copy(trained, tmp_path, edit):
    from rasa.engine.storage.local_model_storage import LocalModelStorage

    _, storage, resource, context = trained
    with storage.read_from(resource) as model_dir:
        target = tmp_path / "storage" / resource.name
        shutil.copytree(model_dir, target)
    labels_path = target / "labels.json"
    labels = json.loads(labels_path.read_text())
    edit(labels)
    labels_path.write_text(json.dumps(labels))
    return LocalModelStorage(tmp_path / "storage"), resource, context


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda labels: labels["sentiments"].__setitem__(0, "furious"), r"unknown sentiment label\(s\) \['furious'\]"),
        (lambda labels: labels["intents"].append("track_parcel"), r"5 intent labels but the intent head has 4 outputs"),
        (lambda labels: labels.__setitem__("intents", []), r"non-empty list"),
        (lambda labels: labels["intents"].__setitem__(1, "complaint"), r"duplicate intent"),
    ],
)
def test_unknown_labels_at_load_time_are_a_clear_error(trained, tmp_path, edit, message):
    storage, resource, context = _tampered_copy(trained, tmp_path, edit)
    with pytest.raises(InvalidTransformerModel, match=message):
        TransformerIntentClassifier.load(trained[0].component_config, storage, resource, context)


def test_missing_resource_falls_back_to_create(make_component):
    from rasa.engine.storage.resource import Resource

    component, storage, _, context = make_component()
    loaded = TransformerIntentClassifier.load(component.component_config, storage, Resource("never_trained"), context)
    assert not loaded.is_trained
    (message,) = parse(loaded, ["hello"])
    assert message.get("intent") == {"name": None, "confidence": 0.0}


def test_unknown_sentiment_label_in_training_data_is_a_clear_error(make_component):
    component, *_ = make_component()
    data = TrainingData(
        [
            Message({"text": "hello", "intent": "greet"}),
            Message(
                {"text": "where is my order", "intent": "order_status", "metadata": {"example": {"sentiment": "livid"}}}
            ),
        ]
    )
    with pytest.raises(RasaException, match=r"unknown sentiment label.*'livid'.*where is my order"):
        component.train(data)


def test_sentiment_metadata_on_example_or_intent():
    example = Message(
        {"text": "x", "metadata": {"example": {"sentiment": " Negative "}, "intent": {"sentiment": "neutral"}}}
    )
    intent_level = Message({"text": "x", "metadata": {"intent": {"sentiment": "positive"}}})
    assert tc.sentiment_label_of(example) == "negative"
    assert tc.sentiment_label_of(intent_level) == "positive"
    assert tc.sentiment_label_of(Message({"text": "x"})) is None


def test_without_sentiment_labels_no_sentiment_is_emitted(make_component, caplog):
    component, *_ = make_component({"epochs": 1})
    data = TrainingData(
        [
            Message({"text": t, "intent": i})
            for t, i in [
                ("hello", "greet"),
                ("hi there", "greet"),
                ("where is my order", "order_status"),
                ("track my parcel", "order_status"),
            ]
        ]
    )
    with caplog.at_level(logging.WARNING):
        component.train(data)
    assert "sentiment head is not trained" in caplog.text
    (message,) = parse(component, ["hello"])
    assert message.get("intent")["name"] in ("greet", "order_status")
    assert not message.get("entities") and message.get("sentiment") is None


def test_training_is_deterministic_with_a_fixed_seed(make_component, tiny_training_data):
    runs = []
    for _ in range(2):
        component, *_ = make_component({"epochs": 1})
        component.train(tiny_training_data)
        runs.append(outputs(parse(component, PROBES)))
    assert runs[0] == runs[1]


def test_device_auto_and_cuda_fall_back_to_cpu(monkeypatch, caplog):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto") == "cpu"
    with caplog.at_level(logging.WARNING):
        assert pick_device("cuda") == "cpu"
    assert "CUDA is not available" in caplog.text
    assert pick_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto") == "cuda"
    assert pick_device("cuda:1") == "cuda:1"
    assert pick_device("cpu") == "cpu"


def test_quantized_and_full_precision_agree_on_the_tiny_set(trained):
    component, *_ = trained
    full, _ = component.predict_probabilities(PROBES[:5], quantized=False)
    int8, _ = component.predict_probabilities(PROBES[:5], quantized=True)
    assert (full.argmax(1) == int8.argmax(1)).all()


def test_epoch_callbacks_see_each_epoch_and_can_predict(make_component, tiny_training_data):
    seen = []

    def callback(component, epoch, stats):
        probs, _ = component.predict_probabilities(["hello"], quantized=False)
        seen.append((epoch, stats["epoch"], probs.shape))

    component, *_ = make_component({"epochs": 2})
    component.epoch_callbacks.append(callback)
    component.train(tiny_training_data)
    assert seen == [(1, 1, (1, 4)), (2, 2, (1, 4))]


def test_components_rasa_creates_get_callbacks_only_inside_the_block(make_component):
    def callback(component, epoch, stats):
        pass

    with TransformerIntentClassifier.created_with_epoch_callbacks([callback]):
        inside, *_ = make_component()
    outside, *_ = make_component()
    assert inside.epoch_callbacks == [callback]
    assert outside.epoch_callbacks == []
