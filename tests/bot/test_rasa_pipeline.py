"""The component inside Rasa itself: `rasa train nlu` -> Agent -> parse, as /model/parse sees it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import yaml

from tests.bot.conftest import DATA_DIR, TINY_CONFIG

COMPONENT = "bot.components.transformer_classifier.TransformerIntentClassifier"


@pytest.fixture(scope="module")
def model_path(tmp_path_factory) -> str:
    import os

    from rasa.model_training import train_nlu

    root = tmp_path_factory.mktemp("rasa")
    # Keep Rasa's training cache out of the project folder.
    os.environ["RASA_CACHE_DIRECTORY"] = str(root / "cache")
    config = {
        "recipe": "default.v1",
        "language": "en",
        "assistant_id": "test",
        "pipeline": [
            {"name": "WhitespaceTokenizer"},
            # 0.2: one of each intent's six examples held out, so a threshold is chosen.
            {"name": COMPONENT, **TINY_CONFIG, "out_of_scope_holdout_fraction": 0.2},
            {"name": "FallbackClassifier", "threshold": 0.3},
            {"name": "bot.components.out_of_scope_intent.OutOfScopeIntent"},
        ],
        "policies": [],
    }
    config_path = root / "config.yml"
    config_path.write_text(yaml.safe_dump(config))
    path = train_nlu(str(config_path), str(DATA_DIR / "nlu.yml"), str(root / "models"), fixed_model_name="tiny")
    assert path and Path(path).exists()
    return path


def test_parse_result_has_intent_ranking_and_sentiment(model_path):
    from rasa.core.agent import Agent

    agent = Agent.load(model_path)
    result = asyncio.run(agent.parse_message("hello there, lovely shop"))
    assert result["intent"]["name"] in ("greet", "nlu_fallback")
    assert result["intent_ranking"] and 0.0 <= result["intent_ranking"][0]["confidence"] <= 1.0
    (sentiment,) = [e for e in result["entities"] if e["entity"] == "sentiment"]
    assert sentiment["value"] in ("negative", "neutral", "positive")
    assert sentiment["extractor"] == "TransformerIntentClassifier"
    assert result["sentiment"]["name"] == sentiment["value"]

    empty = asyncio.run(agent.parse_message(""))
    assert empty["intent"]["name"] == "nlu_fallback"


def test_out_of_scope_threshold_chosen_by_rasa_train_decides_the_parse(model_path):
    from rasa.core.agent import Agent

    agent = Agent.load(model_path)
    texts = ["where is my order", "hello", "explain the second law of thermodynamics", "qwxz plorb vrenk"]
    for text in texts:
        result = asyncio.run(agent.parse_message(text))
        report = result["out_of_scope"]
        assert report["threshold"] is not None  # chosen at training, loaded with the model
        if report["score"] < report["threshold"]:
            assert result["intent"]["name"] == "nlu_fallback"  # the tiny data has no out_of_scope intent
    # A training example is as close as a message can be: never out of scope.
    known = asyncio.run(agent.parse_message("where is my order"))
    assert known["out_of_scope"]["score"] >= known["out_of_scope"]["threshold"]
