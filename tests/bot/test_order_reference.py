"""bot.components.order_reference: a message naming an order is about that order."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.training_data.message import Message

from bot.components.order_reference import OrderReferenceIntent


def parsed(text: str, intent: str, entities: list[dict]) -> Message:
    return Message(
        data={
            "text": text,
            "intent": {"name": intent, "confidence": 0.41},
            "entities": entities,
            "intent_ranking": [{"name": intent, "confidence": 0.41}, {"name": "order_status", "confidence": 0.2}],
        }
    )


ORDER = [{"entity": "order_id", "value": "SO10001", "start": 18, "end": 25, "extractor": "RegexEntityExtractor"}]
COMPONENT = OrderReferenceIntent(OrderReferenceIntent.get_default_config())


@pytest.mark.parametrize(
    "intent", ["search_product", "nlu_fallback", "out_of_scope", "product_details", "greet", "ask_faq"]
)
def test_a_message_naming_an_order_is_an_order_question(intent):
    message = COMPONENT.process([parsed("and the other one, SO10001?", intent, ORDER)])[0]
    assert message.get("intent") == {"name": "order_status", "confidence": 1.0}
    ranking = [r["name"] for r in message.get("intent_ranking")]
    assert ranking[0] == "order_status" and ranking.count("order_status") == 1 and intent in ranking


@pytest.mark.parametrize("intent", ["cancel_order", "return_item", "complaint", "human_handoff", "inform"])
def test_intents_that_already_say_what_to_do_with_the_order_are_kept(intent):
    message = COMPONENT.process([parsed("cancel SO10001 please", intent, ORDER)])[0]
    assert message.get("intent")["name"] == intent


def test_without_an_order_id_nothing_changes():
    entities = [{"entity": "color", "value": "red", "start": 0, "end": 3}]
    message = COMPONENT.process([parsed("red ones", "search_product", entities)])[0]
    assert message.get("intent") == {"name": "search_product", "confidence": 0.41}
