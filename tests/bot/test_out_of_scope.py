"""The out-of-scope score: the threshold chosen at training time, persisted and loaded, and the gate."""

from __future__ import annotations

import json

import numpy as np
import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.components.out_of_scope import OutOfScopeScorer, held_out_indices, held_out_intents
from bot.components.out_of_scope_intent import OutOfScopeIntent
from bot.components.transformer_classifier import TransformerIntentClassifier

# The tiny data set has six examples per intent: 0.2 holds one of each out (five stay).
HOLD_OUT_ONE_PER_INTENT = {"out_of_scope_holdout_fraction": 0.2, "out_of_scope_keep_rate": 0.75}
UNRELATED = "explain the second law of thermodynamics in simple terms"


def _example(text, intent, generated=False):
    """A training example; `generated` marks it as `make shop` marks the ones it writes."""
    metadata = {"intent": {"generated": True}} if generated else {}
    return Message({"text": text, "intent": intent, "metadata": metadata})


def parse(component, texts):
    messages = [Message({"text": t}) for t in texts]
    component.process(messages)
    return messages


@pytest.fixture(scope="module")
def trained_with_threshold(make_component, tiny_training_data):
    component, storage, resource, context = make_component(HOLD_OUT_ONE_PER_INTENT)
    component.train(tiny_training_data)
    return component, storage, resource, context


def test_held_out_slice_is_stratified_and_leaves_small_intents_alone():
    labels = ["a"] * 20 + ["b"] * 10 + ["c"] * 5
    held = held_out_indices(labels, 0.1, seed=1)
    assert sum(labels[i] == "a" for i in held) == 2
    assert sum(labels[i] == "b" for i in held) == 1
    assert not any(labels[i] == "c" for i in held)  # five examples: all kept for training
    assert held == held_out_indices(labels, 0.1, seed=1)


def test_threshold_keeps_the_asked_share_of_held_out_scores():
    scores = np.linspace(0.0, 1.0, 101)
    threshold = OutOfScopeScorer.choose_threshold(scores, keep_rate=0.9)
    assert np.mean(scores >= threshold) == pytest.approx(0.9, abs=0.011)
    assert OutOfScopeScorer.choose_threshold([], keep_rate=0.9) is None


def test_balanced_threshold_sits_in_the_gap_and_never_drops_more_than_asked():
    in_scope = np.array([0.8, 0.85, 0.9, 0.95])
    unknown = np.array([0.2, 0.3, 0.4])
    # Apart: every threshold between 0.4 and 0.8 is as good; the middle of that gap is chosen.
    assert OutOfScopeScorer.balanced_threshold(in_scope, unknown, min_keep_rate=0.5) == pytest.approx(0.6, abs=0.03)
    # Overlapping: the one that keeps and rejects the most, here dropping one in-scope score.
    overlapping = np.array([0.5, 0.8, 0.85, 0.9])
    unknown_high = np.array([0.2, 0.3, 0.6, 0.62, 0.65])
    threshold = OutOfScopeScorer.balanced_threshold(overlapping, unknown_high, min_keep_rate=0.5)
    assert 0.65 < threshold < 0.8
    # A cap: however the unknown scores lie, at least min_keep_rate of the in-scope stay.
    capped = OutOfScopeScorer.balanced_threshold(overlapping, unknown_high, min_keep_rate=1.0)
    assert np.mean(overlapping >= capped) == 1.0
    assert OutOfScopeScorer.balanced_threshold(in_scope, [], min_keep_rate=0.5) is None


def test_held_out_intents_are_seeded_leave_two_taught_and_never_the_out_of_scope_intent():
    labels = ["a", "b", "c", "d", "out_of_scope"] * 3
    chosen = held_out_intents(labels, 0.25, seed=3, exempt=["out_of_scope"])
    assert len(chosen) == 1 and "out_of_scope" not in chosen
    assert chosen == held_out_intents(labels, 0.25, seed=3, exempt=["out_of_scope"])
    assert len(held_out_intents(labels, 0.9, seed=3, exempt=["out_of_scope"])) == 2  # two stay taught
    assert held_out_intents(["a", "b"], 0.5, seed=3) == []
    assert held_out_intents(labels, 0.0, seed=3) == []


def test_without_a_refit_no_intent_is_held_out_and_the_keep_rate_decides(make_component, tiny_training_data):
    component, *_ = make_component({**HOLD_OUT_ONE_PER_INTENT, "out_of_scope_refit": False, "epochs": 1})
    component.train(tiny_training_data)
    stats = component.training_stats["out_of_scope"]
    assert stats["unknown_intents"] == [] and stats["keep_rate"] == 0.75
    assert stats["held_out_examples"] == 4


def test_score_is_the_similarity_to_the_predicted_intents_nearest_examples():
    vectors = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    scorer = OutOfScopeScorer(vectors, np.array([0, 0, 1]), neighbours=1, threshold=0.5)
    near, far = scorer.scores(np.array([[1.0, 0.05], [-1.0, 0.2]]), [0, 0])
    assert near > 0.99 and far < 0
    assert scorer.is_out_of_scope(np.array([near, far])).tolist() == [False, True]
    # An intent with no stored example is never rejected.
    assert scorer.scores(np.array([[-1.0, 0.0]]), [7])[0] == 1.0
    # A stored example scored as if it were new is not compared with itself.
    assert scorer.scores(vectors[:1], [0], leave_out=[0])[0] == pytest.approx(scorer.vectors[0] @ scorer.vectors[1])
    assert scorer.scores(vectors[:1], [0])[0] == pytest.approx(1.0)


def test_training_chooses_a_threshold_on_the_held_out_examples(trained_with_threshold):
    component, *_ = trained_with_threshold
    stats = component.training_stats["out_of_scope"]
    # One of the four intents was held out whole: its six examples stand for unknown requests,
    # and the other three intents' held-out example each stand for new in-scope messages.
    assert len(stats["unknown_intents"]) == 1 and stats["unknown_examples"] == 6
    assert stats["held_out_examples"] == 3
    assert stats["threshold"] is not None and stats["unknown_rejected"] is not None
    # The model served knows the intent the first model never saw.
    assert stats["unknown_intents"][0] in component.intent_labels
    unseen_example = {
        "greet": "hello there",
        "order_status": "where is my order",
        "search_product": "do you have running shoes",
        "complaint": "this is terrible service",
    }
    assert (
        parse(component, [unseen_example[stats["unknown_intents"][0]]])[0].get("intent")["name"]
        == stats["unknown_intents"][0]
    )
    assert component.out_of_scope is not None
    assert component.out_of_scope.threshold == pytest.approx(stats["threshold"], abs=1e-4)
    # The threshold came from a model that never saw the held-out examples; the model served
    # was trained again on all 24, and remembers all 24.
    assert stats["refit"] is True and component.training_stats["examples"] == 24
    assert len(component.out_of_scope.vectors) == 24
    assert stats["held_out_intent_accuracy"] is not None


def test_every_message_reports_its_score_and_an_unrelated_one_scores_lower(trained_with_threshold):
    component, *_ = trained_with_threshold
    known, unrelated = parse(component, ["where is my order", UNRELATED])
    for message in (known, unrelated):
        report = message.get("out_of_scope")
        assert {"score", "threshold"} <= set(report)
        assert "out_of_scope" in message.as_dict(only_output_properties=True)
    assert unrelated.get("out_of_scope")["score"] < known.get("out_of_scope")["score"]


def test_threshold_and_memory_are_persisted_and_loaded(trained_with_threshold):
    component, storage, resource, context = trained_with_threshold
    with storage.read_from(resource) as model_dir:
        meta = json.loads((model_dir / "meta.json").read_text())
        assert meta["out_of_scope"]["threshold"] == pytest.approx(component.out_of_scope.threshold)
        assert (model_dir / "out_of_scope.safetensors").exists()
    loaded = TransformerIntentClassifier.load(component.component_config, storage, resource, context)
    assert loaded.out_of_scope.threshold == component.out_of_scope.threshold
    texts = ["where is my order", UNRELATED, "hello"]
    assert [m.get("out_of_scope") for m in parse(loaded, texts)] == [
        m.get("out_of_scope") for m in parse(component, texts)
    ]


def test_too_few_examples_to_hold_out_means_no_threshold(trained):
    component, *_ = trained  # six examples per intent and the default 10%: none held out
    assert component.training_stats["out_of_scope"]["threshold"] is None
    assert parse(component, [UNRELATED])[0].get("out_of_scope")["threshold"] is None


def test_detection_off_reports_nothing(make_component, tiny_training_data):
    component, *_ = make_component({**HOLD_OUT_ONE_PER_INTENT, "out_of_scope_detection": False, "epochs": 1})
    component.train(tiny_training_data)
    assert component.out_of_scope is None
    assert parse(component, [UNRELATED])[0].get("out_of_scope") is None


def _message(predicted, score, threshold, **report):
    message = Message({"text": "x"})
    ranking = [{"name": predicted, "confidence": 0.9}, {"name": "out_of_scope", "confidence": 0.1}]
    message.set("intent", ranking[0], add_to_output=True)
    message.set("intent_ranking", ranking, add_to_output=True)
    message.set("out_of_scope", {"score": score, "threshold": threshold, **report}, add_to_output=True)
    return message


def test_the_datas_own_out_of_scope_intent_is_reported_and_used(trained_with_threshold):
    component, *_ = trained_with_threshold
    assert component.out_of_scope_intent is None  # the tiny data has no out-of-scope intent
    component.intent_labels = [*component.intent_labels, "out_of_scope"]
    try:
        assert component.out_of_scope_intent == "out_of_scope"
    finally:
        component.intent_labels = component.intent_labels[:-1]
    gate = OutOfScopeIntent(OutOfScopeIntent.get_default_config())
    message = _message("greet", 0.2, 0.5, intent="out_of_scope")
    gate.process([message])
    # Its own label, which `rasa test nlu` keeps, and once in the ranking.
    assert message.get("intent") == {"name": "out_of_scope", "confidence": 1.0}
    assert [r["name"] for r in message.get("intent_ranking")] == ["out_of_scope", "greet"]


def test_gate_turns_a_message_below_the_threshold_into_nlu_fallback():
    gate = OutOfScopeIntent(OutOfScopeIntent.get_default_config())
    below, above, no_threshold = _message("greet", 0.2, 0.5), _message("greet", 0.7, 0.5), _message("greet", 0.2, None)
    gate.process([below, above, no_threshold])
    assert below.get("intent")["name"] == "nlu_fallback"
    # The classifier's own ranking stays below, as the FallbackClassifier leaves it.
    assert [r["name"] for r in below.get("intent_ranking")] == ["nlu_fallback", "greet", "out_of_scope"]
    assert above.get("intent")["name"] == "greet"
    assert no_threshold.get("intent")["name"] == "greet"


def test_gate_leaves_a_fallback_the_fallback_classifier_already_made():
    gate = OutOfScopeIntent(OutOfScopeIntent.get_default_config())
    message = _message("nlu_fallback", 0.1, 0.5)
    gate.process([message])
    assert [r["name"] for r in message.get("intent_ranking")] == ["nlu_fallback", "out_of_scope"]


def test_generated_examples_stay_out_of_the_threshold_slice_when_written_ones_fill_it(make_component):
    component, *_ = make_component({"out_of_scope_holdout_fraction": 0.2})
    written = [_example(f"written {i}", "greet", False) for i in range(10)]
    generated = [_example(f"generated {i}", "greet", True) for i in range(30)]
    held = component._held_out_for_threshold(written + generated)
    assert held and all(i < len(written) for i in held)
    # A shop with generated examples only still gets a slice.
    assert component._held_out_for_threshold(generated)


def test_an_unseen_intent_is_left_out_whole_but_scored_on_peoples_examples(make_component):
    component, *_ = make_component({"out_of_scope_unknown_intent_fraction": 0.5})
    examples = [_example(f"{intent} {i}", intent) for intent in ("a", "b", "c", "d") for i in range(3)]
    examples += [_example(f"generated {intent} {i}", intent, True) for intent in ("a", "b", "c", "d") for i in range(5)]
    examples += [_example(f"weather {i}", "out_of_scope") for i in range(2)]
    left_out, scored = component._unknown_for_threshold(examples)
    left_intents = {examples[i].get("intent") for i in left_out}
    assert "out_of_scope" in left_intents and len(left_intents) == 3  # two of a-d, and the data's own
    # Every example of an unseen intent stays out of the first fit; its generated ones are not scored.
    # Half of the data's own out-of-scope examples stay in it, to teach the first model that intent.
    assert len(left_out) == 2 * (3 + 5) + 1
    assert set(scored) <= set(left_out) and not any("generated" in examples[i].get("text") for i in scored)
    assert len(scored) == 2 * 3 + 1
    assert left_out == component._unknown_for_threshold(examples)[0]  # seeded


def test_unknown_examples_the_out_of_scope_intent_already_catches_lower_the_threshold():
    in_scope = np.linspace(0.5, 1.0, 11)
    unknown = np.array([0.55, 0.6, 0.65, 0.7])
    alone = OutOfScopeScorer.balanced_threshold(in_scope, unknown, min_keep_rate=0.5)
    # Twenty more unknown examples that the classifier already calls out of scope: the same
    # four left for the threshold now matter less than the in-scope examples it would drop.
    helped = OutOfScopeScorer.balanced_threshold(in_scope, unknown, min_keep_rate=0.5, rejected_anyway=20)
    assert alone is not None and helped is not None and helped < alone
    assert helped < in_scope.min()
    # All of them caught already: the threshold keeps every in-scope example.
    assert OutOfScopeScorer.balanced_threshold(in_scope, [], min_keep_rate=0.5, rejected_anyway=3) < in_scope.min()


def test_an_intent_block_marked_generated_is_read_as_generated():
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    from bot.components.transformer_classifier import is_generated

    # The shape `python -m shop nlu-data` writes (tests/shop/test_nlu_data.py checks that side).
    block = (
        'version: "3.1"\nnlu:\n- intent: search_product\n  metadata:\n    generated: true\n'
        "  examples: |\n    - do you carry [lamps](product_category)\n"
        "- intent: search_product\n  examples: |\n    - lamps please\n"
    )
    marked, written = RasaYAMLReader().reads(block).intent_examples
    assert is_generated(marked) and not is_generated(written)


def test_gate_leaves_a_message_naming_the_shops_own_words_in_scope():
    gate = OutOfScopeIntent(OutOfScopeIntent.get_default_config())
    message = _message("cancel_order", 0.2, 0.5, intent="out_of_scope")
    order_id = {"entity": "order_id", "value": "SO10734", "start": 20, "end": 27, "extractor": "RegexEntityExtractor"}
    message.set("entities", [order_id])
    gate.process([message])
    assert message.get("intent")["name"] == "cancel_order"
    # The model's own entity guesses are no such sign.
    guessed = _message("cancel_order", 0.2, 0.5, intent="out_of_scope")
    guessed.set("entities", [{**order_id, "extractor": "TransformerIntentClassifier"}])
    gate.process([guessed])
    assert guessed.get("intent")["name"] == "out_of_scope"


def test_epoch_callbacks_watch_only_the_model_that_is_served(make_component, tiny_training_data):
    seen = []
    component, *_ = make_component({**HOLD_OUT_ONE_PER_INTENT, "epochs": 2})
    component.epoch_callbacks.append(lambda _component, epoch, _stats: seen.append(epoch))
    component.train(tiny_training_data)
    assert component.training_stats["out_of_scope"]["refit"] is True
    assert seen == [1, 2]  # the calibration model's epochs are not reported as a training curve


def test_half_the_datas_own_out_of_scope_examples_teach_the_first_model(make_component, tiny_training_data):
    from rasa.shared.nlu.training_data.training_data import TrainingData

    off_topic = [
        "what's the weather in oslo",
        "tell me a joke",
        "who won the football match",
        "how tall is mount everest",
        "write me a poem",
        "what's the capital of peru",
    ]
    data = tiny_training_data.merge(TrainingData([_example(t, "out_of_scope") for t in off_topic]))
    component, *_ = make_component({**HOLD_OUT_ONE_PER_INTENT, "out_of_scope_unknown_intent_fraction": 0.25})
    component.train(data)
    stats = component.training_stats["out_of_scope"]
    # One of the four other intents is unseen; the out-of-scope intent stays taught, so three of
    # its six examples are held out and scored, and those the first model already gave that
    # intent count as rejected whatever the threshold.
    assert "out_of_scope" not in stats["unknown_intents"] and len(stats["unknown_intents"]) == 1
    assert stats["unknown_examples"] == 6 + 3
    assert 0 <= stats["unknown_taken_as_out_of_scope"] <= 3
    assert stats["threshold"] is not None and stats["unknown_rejected"] is not None
    assert stats["unknown_rejected"] >= stats["unknown_taken_as_out_of_scope"] / stats["unknown_examples"]
