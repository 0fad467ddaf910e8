"""Fixtures for the NLU component tests: one tiny model, trained once per session."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
# The channels read the hand-off state from the shop DB: a throw-away one, never data/shop.db
# (an empty one there would pass for the generated demo shop).
os.environ.setdefault("SHOP_DATABASE_URL", f"sqlite:///{tempfile.mkdtemp(prefix='shop-bot-tests-')}/shop.db")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

DATA_DIR = Path(__file__).parent / "data"
# A few seconds on two CPU cores: enough to learn the four tiny intents, not to be good.
TINY_CONFIG: dict[str, Any] = {"epochs": 3, "batch_size": 8, "max_length": 32, "learning_rate": 2e-4}


@pytest.fixture(scope="session")
def tiny_training_data():
    from rasa.shared.nlu.training_data.loading import load_data

    return load_data(str(DATA_DIR / "nlu.yml"))


@pytest.fixture(scope="session")
def make_component(tmp_path_factory) -> Callable[..., Any]:
    """Builds (component, storage, resource, context) in a fresh model storage."""
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource

    from bot.components.transformer_classifier import TransformerIntentClassifier

    def make(
        config: dict[str, Any] | None = None,
        storage_dir: Path | None = None,
        resource_name: str = "transformer_classifier",
    ):
        storage = LocalModelStorage(storage_dir or tmp_path_factory.mktemp("storage"))
        resource = Resource(resource_name)
        context = ExecutionContext(GraphSchema({}), node_name=resource_name)
        component = TransformerIntentClassifier.create({**TINY_CONFIG, **(config or {})}, storage, resource, context)
        return component, storage, resource, context

    return make


@pytest.fixture(scope="session")
def trained(make_component, tiny_training_data):
    component, storage, resource, context = make_component()
    component.train(tiny_training_data)
    return component, storage, resource, context
