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


def test_the_shops_own_order_numbers_are_tagged_by_rasas_regex_extractor(tmp_path):
    """The regex `make nlu-data` writes for a shop whose numbers are "WC-1234" (SHOP_ORDER_ID_*),
    read by Rasa's own reader and extractor as `rasa train` does."""
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.nlu.extractors.regex_entity_extractor import RegexEntityExtractor
    from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    from shop.order_numbers import OrderNumberFormat

    # The extractor uses a regex only for an entity the examples annotate (training_data/nlu does).
    examples = "- intent: order_status\n  examples: |\n    - where is [WC-1001](order_id)\n"
    regex = OrderNumberFormat.parse("WC-", "4").nlu_yaml()
    data = RasaYAMLReader().reads(f'version: "3.1"\nnlu:\n{examples}{regex}\n')
    extractor = RegexEntityExtractor.create(
        {**RegexEntityExtractor.get_default_config(), "use_lookup_tables": True, "use_regexes": True},
        LocalModelStorage(tmp_path),
        Resource("regex"),
        None,
    )
    extractor.train(data)
    message = Message(data={"text": "is #WC-1234 shipped, and wc1235? not SO10042"})
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process([message])
    [message] = extractor.process([message])
    assert [e["value"] for e in message.get("entities")] == ["#WC-1234", "wc1235"]
