"""A message that names an order is about that order, whatever the intent classifier thought.

"SO10003" on its own after a complaint, or "and the other one, SO10001?", reads to a sentence
classifier like a product query or nothing at all, and used to be searched as a product. The
order id entity (the regex extractor's, earlier in the pipeline) is the stronger signal: this
component turns such a message into `intent` (default `order_status`; an open order form takes
the id whatever the intent), unless the classifier already saw an intent that carries an order
id by itself (cancelling, returning, a complaint, asking for a person), or
`inform`: the reply to a form's question, which outside a form has its own rule (an order id
starts the status look-up, training_data/rules/orders.yml).

It goes after the FallbackClassifier so that a low-confidence message naming an order is
rescued too. A question that names an order ("what happened with my return on SO10007?") is
about that order, not about the policy: it is looked up too. Nothing is trained; the component
only reads the entities and rewrites the intent.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY
from rasa.shared.nlu.training_data.message import Message

INTENT_RANKING = "intent_ranking"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class OrderReferenceIntent(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "entity": "order_id",
            "intent": "order_status",
            # Intents that already say what to do with the order the message names.
            "keep_intents": ["order_status", "cancel_order", "return_item", "complaint", "human_handoff", "inform"],
        }

    def __init__(self, config: dict[str, Any]) -> None:
        self.entity = config["entity"]
        self.intent = config["intent"]
        self.keep_intents = set(config["keep_intents"]) | {self.intent}

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> OrderReferenceIntent:
        return cls({**cls.get_default_config(), **config})

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            self._redirect(message)
        return messages

    def _redirect(self, message: Message) -> None:
        if not any(entity.get("entity") == self.entity for entity in message.get(ENTITIES) or []):
            return
        intent = message.get(INTENT) or {}
        if intent.get(INTENT_NAME_KEY) in self.keep_intents:
            return
        redirected = {INTENT_NAME_KEY: self.intent, PREDICTED_CONFIDENCE_KEY: 1.0}
        ranking = [r for r in message.get(INTENT_RANKING) or [] if r.get(INTENT_NAME_KEY) != self.intent]
        message.set(INTENT, redirected, add_to_output=True)
        message.set(INTENT_RANKING, [redirected, *ranking], add_to_output=True)
