"""Questions about one product: "tell me more about the second one", "is it in stock?",
"does the first one come in size 42?". Which product is meant and what is asked is
`retrieval.product_questions`' job; this module phrases the answer."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import UsesServices, latest_entity_values, slot_list, slot_text
from actions.products import UNAVAILABLE, card, cards_message, latest_entities, page_product_id
from retrieval.catalog import color_named, product_colors
from retrieval.product_index import ProductIndexMissingError
from retrieval.product_questions import (
    ASPECTS,
    FeatureAnswer,
    ProductQuestion,
    best_rated,
    cheapest,
    sentences,
    stock_left,
)
from shop.money import product_price

logger = logging.getLogger(__name__)

ASK_WHICH = "Which product do you mean? You can say “the second one”, or tell me its name."


def position_problem(question: ProductQuestion) -> str:
    """What to tell a shopper whose positions don't fit what was shown."""
    if not question.shown:
        return "I haven't shown you any products yet. What are you looking for?"
    return (
        f"I showed you {question.shown} product{'s' if question.shown != 1 else ''}. "
        f"Which one{'s' if question.picked > 1 else ''} do you mean?"
    )


def colors_fact(product: dict[str, Any]) -> str:
    colors = product_colors(product)
    return f"Colours: {', '.join(colors)}." if len(colors) > 1 else f"Colour: {colors[0]}."


def comparison_text(products: Sequence[dict[str, Any]], features: Sequence[Sequence[FeatureAnswer]] = ()) -> str:
    """Each product's price, rating, stock, colour and sizes, then which is cheapest and best rated."""
    lines = ["Side by side:"]
    for number, p in enumerate(products, start=1):
        facts = [colors_fact(p)] if product_colors(p) else []
        if p.get("sizes"):
            facts.append(f"Sizes: {sizes_text(p['sizes'])}.")
        lines.append(
            f"{number}. {p['title']} by {p['brand']}: {product_price(p)}{rating_text(p)}. {stock_line(p)} "
            + " ".join(facts)
        )
        answers = features[number - 1] if number <= len(features) else []
        lines += [f"   {line}" for line in feature_lines(answers, brief=True)]
    low = cheapest(products)
    summary = [f"Cheapest: the {low['title']} ({product_price(low)})."]
    if best := best_rated(products):
        summary.append(f"Best rated: the {best['title']} ({best['rating']}★).")
    lines.append(" ".join(summary))
    if any(line.startswith("   Its description") for line in lines):
        lines.append("Our customer care team can check what a description leaves out: just ask for a human.")
    return "\n".join(line.rstrip() for line in lines)


def rating_text(product: dict[str, Any]) -> str:
    """ ", 4.5★ from 120 reviews", or nothing for an unrated product."""
    if product.get("rating") is None:
        return ""
    count = product.get("rating_count")
    return f", {product['rating']}★" + (f" from {count} reviews" if count else "")


def stock_line(product: dict[str, Any]) -> str:
    left = stock_left(product)
    if left is None:
        return "In stock."
    return f"Only {left} left." if left else "Out of stock right now."


def sizes_text(sizes: Sequence[Any]) -> str:
    return ", ".join(str(s) for s in sizes)


def feature_lines(answers: Sequence[FeatureAnswer], brief: bool = False) -> list[str]:
    """For each feature: the description's sentence that says it; that it is listed; the
    sentence closest in meaning, quoted without a yes; else that none says it. `brief` (one
    product of several) leaves the offer of a colleague to the caller."""
    lines = []
    for answer in answers:
        feature, closest = answer.feature, answer.closest
        if answer.said:
            lines.append(f"Yes: “{answer.said}”")
        elif answer.listed:
            lines.append(f"Yes, it's listed as {feature}.")
        elif closest:
            lines.append(
                f"Its description doesn't say “{feature}” in those words. The closest it says: “{closest}”"
                + ("" if brief else " Our customer care team can confirm: just ask for a human.")
            )
        elif brief:
            lines.append(f"Its description doesn't mention “{feature}”.")
        else:
            lines.append(
                f"Its description doesn't mention “{feature}”, so I wouldn't count on it. "
                "Our customer care team can check: just ask for a human."
            )
    return lines


def details_text(
    product: dict[str, Any],
    asked: set[str],
    asked_size: str | None = None,
    asked_color: str | None = None,
    everything: bool = True,
    features: Sequence[FeatureAnswer] = (),
) -> str:
    """The answer: yes or no to a size, colour or feature asked about, then the aspects asked
    about (stock, sizes, price, colour, reviews), or all of it when `everything`."""
    p = product
    lines = []
    if features and not everything:
        lines.append(f"The {p['title']}:")
        lines += feature_lines(features)
    sizes = [str(s) for s in p.get("sizes") or []]
    if asked_size:
        if any(s.lower() == asked_size.lower() for s in sizes):
            lines.append(f"Yes, the {p['title']} comes in size {asked_size}.")
        elif sizes:
            lines.append(f"No, the {p['title']} doesn't come in size {asked_size}. Its sizes: {sizes_text(sizes)}.")
        else:
            lines.append(f"The {p['title']} comes in one size only.")
    colors = product_colors(p)
    if asked_color:
        if named := color_named(p, asked_color):
            lines.append(f"Yes, the {p['title']} comes in {named}.")
        else:
            lines.append(
                f"No, the {p['title']} comes in {', '.join(colors) or 'one colour'}. "
                f"Say “show me {asked_color} ones” and I'll look for others."
            )
    show = set(ASPECTS) if everything else set(asked)
    price = f"{product_price(p)}{rating_text(p)}" if show & {"price", "reviews"} else ""
    stock = stock_line(p) if "stock" in show else ""
    if everything or not lines:
        lines.append(
            f"{p['title']} by {p['brand']}" + (f": {price}" if price else "") + "." + (f" {stock}" if stock else "")
        )
    elif price or stock:
        lines.append(" ".join(x for x in (f"{price}." if price else "", stock) if x))
    facts = [colors_fact(p)] if colors and "colour" in show and not asked_color else []
    if sizes and "sizes" in show and not asked_size:
        facts.append(f"Sizes: {sizes_text(sizes)}.")
    if facts:
        lines.append(" ".join(facts))
    if everything and (described := sentences(p)):
        lines.append(" ".join(described[:3]))
    if "reviews" in asked and p.get("reviews"):
        ranked = sorted(p["reviews"], key=lambda r: r.get("rating") or 0)
        quotes = [ranked[-1]] + ([ranked[0]] if len(ranked) > 1 and ranked[0] is not ranked[-1] else [])
        lines.append("What shoppers say: " + " / ".join(f"“{r['text']}” ({r.get('rating')}★)" for r in quotes))
    if p.get("url"):
        lines.append(f"More on its page: {p['url']}")
    return "\n".join(lines)


class ActionProductDetails(UsesServices, Action):
    """Details of one product the shopper points at, or several side by side; asks which one
    when it cannot tell."""

    def name(self) -> str:
        return "action_product_details"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        return self.answer(
            dispatcher,
            tracker,
            slot_list(tracker, "shown_product_ids"),
            [slot_text(tracker, "focus_product_id"), page_product_id(tracker)],
        )

    def answer(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, shown_ids: list[str], focus_ids: list[str | None]
    ) -> list[EventType]:
        """The latest message answered about the products shown or in focus (a search that
        found the one product a question names passes that one)."""
        entities = latest_entities(tracker)
        size, color = entities.get("size"), entities.get("color")
        mentions = latest_entity_values(tracker, "mention")
        try:
            question = self.services.product_questions.understand(
                self.message_text(tracker),
                shown_ids,
                focus_ids,
                mentions,
                size if isinstance(size, str) else None,
                color if isinstance(color, str) else None,
            )
        except ProductIndexMissingError as exc:
            logger.error("product details unavailable: %s", exc)
            dispatcher.utter_message(text=UNAVAILABLE)
            return []
        if question.kind in ("none_shown", "out_of_range"):
            dispatcher.utter_message(text=position_problem(question))
            return []
        if question.kind == "ask_which":
            dispatcher.utter_message(text=ASK_WHICH)
            return []
        products = question.products
        cards = cards_message([card(p, stock_line(p)) for p in products])
        if question.kind == "compare":
            dispatcher.utter_message(text=comparison_text(products, question.features), json_message=cards)
            # "is it in stock?" after a comparison must ask which one, not answer for an older product.
            return [SlotSet("focus_product_id", None)]
        product = products[0]
        reply = details_text(
            product,
            question.aspects,
            question.size,
            question.color,
            question.everything,
            question.features[0] if question.features else [],
        )
        dispatcher.utter_message(text=reply, json_message=cards)
        return [SlotSet("focus_product_id", product["id"])]
