"""A message the classifier's out-of-scope score rejects becomes out of scope.

The classifier (`TransformerIntentClassifier`) reports `out_of_scope: {score, threshold,
intent}` on every message, the threshold chosen when it was trained
(`bot.components.out_of_scope`), the intent the training data's own out-of-scope intent
(`out_of_scope`) when it has one. This component, placed after Rasa's FallbackClassifier,
turns a message below its threshold into that intent, first in the ranking with the
classifier's own ranking kept below it. The decision is the message's label then: `rasa test
nlu` counts it, and a shop's rules for out-of-scope messages answer it. With no such intent
in the data the message becomes `nlu_fallback`, as the FallbackClassifier makes it. A message
the FallbackClassifier already turned is left alone, and so is one in which the shop's own
word lists (regexes, lookup tables: an order id, a brand, a product type) found something:
it names this shop's things, so it is in scope whatever its wording ("please call off
SO10734, plans changed" had been taken for out of scope). Nothing is trained here.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import ENTITIES, INTENT, INTENT_NAME_KEY, PREDICTED_CONFIDENCE_KEY
from rasa.shared.nlu.training_data.message import Message

INTENT_RANKING = "intent_ranking"
OUT_OF_SCOPE_KEY = "out_of_scope"


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=False)
class OutOfScopeIntent(GraphComponent):
    @staticmethod
    def get_default_config() -> dict[str, Any]:
        return {
            "fallback_intent": DEFAULT_NLU_FALLBACK_INTENT_NAME,
            # Extractors whose entities are the shop's own words.
            "in_scope_extractors": ["RegexEntityExtractor"],
        }

    def __init__(self, config: dict[str, Any]) -> None:
        self.fallback_intent = config["fallback_intent"]
        self.in_scope_extractors = set(config["in_scope_extractors"])

    @classmethod
    def create(
        cls,
        config: dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> OutOfScopeIntent:
        return cls({**cls.get_default_config(), **config})

    def process(self, messages: list[Message]) -> list[Message]:
        for message in messages:
            if self.is_out_of_scope(message):
                self._fall_back(message)
        return messages

    def is_out_of_scope(self, message: Message) -> bool:
        report = message.get(OUT_OF_SCOPE_KEY)
        if not isinstance(report, dict) or report.get("threshold") is None or report.get("score") is None:
            return False
        if (message.get(INTENT) or {}).get(INTENT_NAME_KEY) in (None, self.fallback_intent):
            return False
        if any(entity.get("extractor") in self.in_scope_extractors for entity in message.get(ENTITIES) or []):
            return False
        return float(report["score"]) < float(report["threshold"])

    def _fall_back(self, message: Message) -> None:
        name = message.get(OUT_OF_SCOPE_KEY).get("intent") or self.fallback_intent
        # The score is a similarity, not a probability; the confidence says the decision is
        # this component's, as the FallbackClassifier's says its threshold.
        decided = {INTENT_NAME_KEY: name, PREDICTED_CONFIDENCE_KEY: 1.0}
        ranking = [r for r in message.get(INTENT_RANKING) or [] if r.get(INTENT_NAME_KEY) != name]
        message.set(INTENT, decided, add_to_output=True)
        message.set(INTENT_RANKING, [decided, *ranking], add_to_output=True)
