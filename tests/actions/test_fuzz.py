"""Every action, fed random trackers (unicode, control characters, oversize text, wrong types in
slots and entities): no unhandled exception, and only well-formed replies."""

from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

import actions
from actions.common import UsesServices
from retrieval.services import ServiceRegistry
from shop.db import ShopDB
from tests.actions.conftest import load_tracker

ACTION_CLASSES = sorted(
    {
        cls
        # every module of the package, so a new action is fuzzed without being listed here
        for module in (f"actions.{m.name}" for m in pkgutil.iter_modules(actions.__path__))
        for _, cls in inspect.getmembers(importlib.import_module(module), inspect.isclass)
        if issubclass(cls, Action) and cls.__module__ == module and not cls.__name__.startswith("_")
    },
    key=lambda cls: cls.__name__,
)
SLOTS = [
    "order_id",
    "email",
    "product_category",
    "brand",
    "color",
    "size",
    "price_min",
    "price_max",
    "search_query",
    "search_page",
    "shown_product_ids",
    "liked_product_ids",
    "focus_product_id",
    "verified_customer_id",
    "awaiting_cancel_confirmation",
    "sentiment",
    "requested_slot",
]
ENTITIES = SLOTS + ["faq_log_id", "helpful", "product_id", "feedback"]
INTENTS = [
    "greet",
    "ask_faq",
    "search_product",
    "recommend_product",
    "order_status",
    "cancel_order",
    "return_item",
    "inform",
    "affirm",
    "deny",
    "cheaper_products",
    "show_more_products",
    "product_feedback",
    "faq_feedback",
    "complaint",
    "human_handoff",
    "product_details",
    "nlu_fallback",
    "made_up",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)
special = st.sampled_from(
    [
        "SO10003",
        "ana.lopez@example.com",
        "'; DROP TABLE orders;--",
        "\x00\x1b[2J",
        "𝕊𝕆𝟙𝟘𝟘𝟘𝟛",
        "nan",
        "inf",
        "-1",
        "1e309",
        "P0001",
        "x" * 3000,
    ]
)
texts = st.one_of(st.text(max_size=200), st.text(min_size=2000, max_size=5000), special)
values = st.one_of(st.text(max_size=40), special, json_values)


@pytest.fixture
def services(shop_db_url, demo_kb, demo_products, embedder):
    return ServiceRegistry(
        shop_db=ShopDB(shop_db_url), knowledge_base=demo_kb, product_index=demo_products, embedder=embedder
    )


def fuzzed_tracker(
    text: Any, intent: str, slots: dict[str, Any], entities: list[tuple[str, Any]], metadata: Any
) -> Tracker:
    tracker = load_tracker("order_form_filled", slots, intent=intent, sender_id="fuzz")
    tracker.latest_message["text"] = text
    tracker.latest_message["entities"] = [{"entity": name, "value": value} for name, value in entities]
    tracker.latest_message["metadata"] = metadata
    return tracker


@pytest.mark.parametrize("action_class", ACTION_CLASSES, ids=lambda cls: cls.__name__)
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    text=st.one_of(texts, json_values),
    intent=st.sampled_from(INTENTS),
    slots=st.dictionaries(st.sampled_from(SLOTS), values, max_size=6),
    entities=st.lists(st.tuples(st.sampled_from(ENTITIES), values), max_size=4),
    metadata=json_values,
)
async def test_actions_survive_random_trackers(services, action_class, text, intent, slots, entities, metadata):
    dispatcher = CollectingDispatcher()
    action = action_class(services) if issubclass(action_class, UsesServices) else action_class()
    events = await action.run(
        dispatcher, fuzzed_tracker(text, intent, slots, entities, metadata), {"slots": {}, "forms": {}}
    )
    assert isinstance(events, list)
    json.dumps(events)  # what goes back to Rasa must serialise
    for message in dispatcher.messages:
        assert message.get("text") or message.get("custom") or message.get("response")
        json.dumps(message)
