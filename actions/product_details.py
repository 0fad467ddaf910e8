"""Questions about one product: "tell me more about the second one", "is it in stock?",
"does the first one come in size 42?". The product is one of the cards just shown, the one
the last question was about, the product page the shopper is on, or one named by its title."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.common import MAX_MESSAGE_CHARS, latest_text, slot_list, slot_text
from actions.products import UNAVAILABLE, card, cards_message, latest_entities, page_product_id
from retrieval.description_match import DescriptionMatcher, shared_description_matcher
from retrieval.product_index import ProductIndexMissingError
from retrieval.product_search import ProductSearch
from retrieval.text import tokens

logger = logging.getLogger(__name__)

_ORDINALS = {
    "first": 1, "1st": 1, "second": 2, "2nd": 2, "third": 3, "3rd": 3, "fourth": 4, "4th": 4,
    "fifth": 5, "5th": 5, "sixth": 6, "6th": 6, "seventh": 7, "7th": 7, "eighth": 8, "8th": 8,
    "ninth": 9, "9th": 9, "tenth": 10, "10th": 10, "last": -1,
}
_ORDINAL = re.compile(r"\b(" + "|".join(_ORDINALS) + r")\b|(?:\bnumber|\bno\.?|#|\boption)\s*(\d{1,2})\b")
# Words of a question that never name a product.
_QUESTION_WORDS = frozenset(tokens(
    "tell more about details detail info information please what which how many much is are does do it this that "
    "one ones come available stock left size sizes colour color colors colours price cost review reviews rating "
    "say people like made describe showed show sound sounds good want know they them their those these "
    "number option buy order get really actually still also well okay ok hi hey thanks great nice "
    "cheapest least expensive lowest priced most priciest best rated highest top worst " + " ".join(_ORDINALS)
))
# "is it ...": the shopper means the product already in view, not one whose title has the word.
_PRONOUN = re.compile(r"\b(it|its|they|them|this|that)\b", re.I)
_WORD = re.compile(r"[a-z0-9]+(?:[-'][a-z0-9]+)*")
_FEATURE_BREAK = re.compile(r"[,;.!?/()]+")
# Small words that can sit inside one feature ("free of bpa", "hiking in the rain"); any
# other word without meaning of its own ("is", "and", "it") ends the feature.
_INNER_WORDS = frozenset("of in on for the a an with to at from".split())
# What a question asks about; with none of them (or "tell me more") the whole description.
ASPECTS = {
    "sizes": re.compile(r"\b(sizes?|fits?)\b", re.I),
    "stock": re.compile(r"\b(stock|available|availability|left|sold out)\b", re.I),
    "price": re.compile(r"\b(price|costs?|how much)\b", re.I),
    "colour": re.compile(r"\b(colou?rs?)\b", re.I),
    "reviews": re.compile(r"\b(reviews?|rating|rated|people say|say about|opinions?|any good|worth it|quality)\b", re.I),
}
_EVERYTHING = re.compile(r"\b(more|details?|describe|description|info|information|made of|material)\b", re.I)
ASK_WHICH = "Which product do you mean? You can say “the second one”, or tell me its name."
# "compare them", "which is cheaper", "the first or the second?": several products side by side.
_COMPARE = re.compile(r"\b(compare|comparison|difference|differ|vs|versus|side by side|better than|"
                      r"which (?:one |of (?:them|those|these|the two) )?(?:is|are|has|would)|which one)\b", re.I)
_FIRST_N = re.compile(r"\b(?:first|top)\s+(two|three|four|five|2|3|4|5)\b", re.I)
_COUNTS = {"two": 2, "three": 3, "four": 4, "five": 5}
MAX_COMPARED = 5
# "the cheapest one", "the best-rated one": a product among those shown, picked by price or rating.
_SUPERLATIVE = re.compile(r"\b(cheapest|least expensive|lowest[- ]priced|most expensive|priciest|"
                          r"best[- ]rated|highest[- ]rated|top[- ]rated|worst[- ]rated|lowest[- ]rated)\b", re.I)
# Words of a comparison that are not features of a product ("which is cheaper?").
_COMPARE_WORDS = frozenset(tokens(
    "compare comparison difference differ between vs versus side better best cheaper cheapest expensive pricier "
    "rated two three four five top or than which would"
))


def ordinal(text: str) -> int | None:
    """1-based position named in the text ("the second one", "number 3", "#2"); -1 for "the last one"."""
    match = _ORDINAL.search(text.lower())
    return _position(match) if match else None


def _position(match: re.Match[str]) -> int:
    return _ORDINALS[match.group(1)] if match.group(1) else int(match.group(2))


def at_position(shown: Sequence[dict[str, Any]], position: int) -> dict[str, Any]:
    return shown[position - 1] if position > 0 else shown[-1]


def position_problem(picked: Sequence[int], shown: Sequence[dict[str, Any]]) -> str | None:
    """What to tell a shopper whose positions don't fit what was shown; None when they fit."""
    if not shown:
        return "I haven't shown you any products yet. What are you looking for?"
    if any(p == 0 or p > len(shown) for p in picked):
        return (f"I showed you {len(shown)} product{'s' if len(shown) != 1 else ''}. "
                f"Which one{'s' if len(picked) > 1 else ''} do you mean?")
    return None


def positions(text: str) -> list[int]:
    """Every position the text names, in order and without repeats: "the first and the third"
    -> [1, 3], "the first two" -> [1, 2], "the second or the last" -> [2, -1]."""
    lowered = text.lower()
    first_n = _FIRST_N.search(lowered)
    if first_n:
        count = first_n.group(1)
        return list(range(1, (_COUNTS.get(count) or int(count)) + 1))
    named: list[int] = []
    for match in _ORDINAL.finditer(lowered):
        position = _position(match)
        if position not in named:
            named.append(position)
    return named


def superlative(text: str, shown: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The shown product "the cheapest one" or "the best-rated one" means; the first shown wins a tie."""
    match = _SUPERLATIVE.search(text)
    if not match or not shown:
        return None
    word = match.group(1).lower().replace("-", " ")
    if word in ("cheapest", "least expensive", "lowest priced"):
        return min(shown, key=lambda p: float(p["price"]))
    if word in ("most expensive", "priciest"):
        return max(shown, key=lambda p: float(p["price"]))
    rated = [p for p in shown if p.get("rating") is not None]
    if not rated:
        return None
    if word in ("worst rated", "lowest rated"):
        return min(rated, key=lambda p: float(p["rating"]))
    return max(rated, key=lambda p: float(p["rating"]))


def named_among_shown(text: str, shown: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The shown products named by a word no other shown title has ("the Loomly tee or the
    Basecamp one": "tee" names neither, the brands name one each)."""
    words = set(tokens(text)) - _QUESTION_WORDS - _COMPARE_WORDS
    titles = [title_words(p["title"]) for p in shown]
    return [p for p, own in zip(shown, titles, strict=True)
            if any(w in own and sum(w in t for t in titles) == 1 for w in words)]


def compared_products(text: str, shown: Sequence[dict[str, Any]]) -> list[dict[str, Any]] | str | None:
    """The products a comparison is about; a message when the positions don't fit what was shown;
    None when the text is not a comparison."""
    picked = positions(text)
    if len(picked) > 1:
        if problem := position_problem(picked, shown):
            return problem
        chosen = [at_position(shown, p) for p in picked]
        return list({p["id"]: p for p in chosen}.values())[:MAX_COMPARED]
    if picked or len(shown) < 2 or not _COMPARE.search(text):
        return None
    named = named_among_shown(text, shown)
    return named if len(named) > 1 else list(shown[:MAX_COMPARED])


def comparison_text(products: Sequence[dict[str, Any]], features: Sequence[str] = (),
                    matcher: DescriptionMatcher | None = None) -> str:
    """Each product's price, rating, stock, colour and sizes, then which is cheapest and best rated."""
    lines = ["Side by side:"]
    for number, p in enumerate(products, start=1):
        facts = [f"Colour: {p['color']}."] if p.get("color") else []
        if p.get("sizes"):
            facts.append(f"Sizes: {sizes_text(p['sizes'])}.")
        lines.append(f"{number}. {p['title']} by {p['brand']}: ${float(p['price']):.2f}{rating_text(p)}. {stock_line(p)} "
                     + " ".join(facts))
        lines += [f"   {line}" for line in feature_lines(p, features, matcher, brief=True)]
    cheapest = min(products, key=lambda p: float(p["price"]))
    summary = [f"Cheapest: the {cheapest['title']} (${float(cheapest['price']):.2f})."]
    rated_products = [p for p in products if p.get("rating") is not None]
    if rated_products:
        best = max(rated_products, key=lambda p: float(p["rating"]))
        if sum(float(p["rating"]) == float(best["rating"]) for p in rated_products) == 1:
            summary.append(f"Best rated: the {best['title']} ({best['rating']}★).")
    lines.append(" ".join(summary))
    if any(line.startswith("   Its description") for line in lines):
        lines.append("A colleague can check what a description leaves out: just ask for a human.")
    return "\n".join(line.rstrip() for line in lines)


def rating_text(product: dict[str, Any]) -> str:
    """", 4.5★ from 120 reviews", or nothing for an unrated product."""
    if product.get("rating") is None:
        return ""
    count = product.get("rating_count")
    return f", {product['rating']}★" + (f" from {count} reviews" if count else "")


@lru_cache(maxsize=20_000)
def title_words(title: str) -> frozenset[str]:
    """A title's stemmed words, computed once per title: naming scans the whole catalog per question."""
    return frozenset(tokens(title))


def sentences(product: dict[str, Any]) -> list[str]:
    return [x for x in re.split(r"(?<=[.!?])\s+", str(product.get("description") or "").strip()) if x]


def named_product(text: str, shown: Sequence[dict[str, Any]], catalog: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The product whose title the text names. A shown product needs one title word in common
    ("the Voltix one"); any other needs two (brand and model), and the best must be alone."""
    words = set(tokens(text)) - _QUESTION_WORDS
    if not words:
        return None
    for pool, needed in ((shown, 1), (catalog, 2)):
        scored = sorted(((len(words & title_words(p["title"])), i) for i, p in enumerate(pool)), reverse=True)
        if scored and scored[0][0] >= needed and (len(scored) == 1 or scored[1][0] < scored[0][0]):
            return pool[scored[0][1]]
    return None


def stock_line(product: dict[str, Any]) -> str:
    stock = int(product.get("stock") or 0)
    if stock <= 0:
        return "Out of stock right now."
    return f"Only {stock} left." if stock <= 5 else "In stock."


def sizes_text(sizes: Sequence[Any]) -> str:
    return ", ".join(str(s) for s in sizes)


def asked_features(text: str, about: Sequence[dict[str, Any]], named: Sequence[dict[str, Any]] = (),
                   entity_values: Sequence[str] = (), comparing: bool = False) -> list[str]:
    """The shopper's own words of a yes/no question ("is it waterproof?" -> ["waterproof"]):
    neither question words, nor the kind of product asked `about` ("boots"), nor the title
    words of a product the shopper `named` by title; in a comparison, no comparison words
    either. Products picked by position keep their title words askable: "which of the first
    two is waterproof?" asks about "waterproof" even when one title says it."""
    skip = set(_QUESTION_WORDS) | set(tokens(" ".join(entity_values)))
    for product in about:
        skip |= set(tokens(f"{product.get('category', '')} {product.get('subcategory', '')}"))
    for product in named:
        skip |= title_words(product["title"])
    if comparing:
        skip |= _COMPARE_WORDS
    phrases: list[str] = []
    # Neighbouring words are one feature ("machine washable", "teflon free"); "and", "or",
    # punctuation and any word skipped above end it ("waterproof and breathable" is two).
    for part in _FEATURE_BREAK.split(text.lower()):
        run: list[str] = []
        for word in [*_WORD.findall(part), "and"]:
            # "what's" leaves the stem "s": a letter is never a feature
            stems = [x for x in tokens(word) if len(x) > 1]
            if stems and not word.isdigit() and not set(stems) & skip:
                run.append(word)
            elif run and word in _INNER_WORDS:
                run.append(word)  # a small word inside a feature: "free of bpa"
            else:
                while run and not [x for x in tokens(run[-1]) if len(x) > 1]:
                    run.pop()
                phrase = " ".join(run)
                if phrase and phrase not in phrases:
                    phrases.append(phrase)
                run = []
    return phrases[:3]


def feature_lines(product: dict[str, Any], features: Sequence[str],
                  matcher: DescriptionMatcher | None = None, brief: bool = False) -> list[str]:
    """For each feature, the sentence of the product's description that says it; else, with a
    `matcher`, the sentence closest in meaning, quoted without a yes; else that none says it.
    `brief` (one product of several) leaves the offer of a colleague to the caller."""
    described = sentences(product)
    tags = set(tokens(" ".join(str(t) for t in product.get("tags") or [])))
    title = title_words(product["title"])
    lines = []
    for feature in features:
        wanted = set(tokens(feature))
        said = next((x for x in described if wanted <= set(tokens(x))), None)
        if said:
            lines.append(f"Yes: “{said}”")
        elif wanted <= tags or wanted <= title:
            lines.append(f"Yes, it's listed as {feature}.")
        elif closest := closest_sentence(matcher, feature, described):
            lines.append(f"Its description doesn't say “{feature}” in those words. The closest it says: “{closest}”"
                         + ("" if brief else " A colleague can confirm: just ask for a human."))
        elif brief:
            lines.append(f"Its description doesn't mention “{feature}”.")
        else:
            lines.append(f"Its description doesn't mention “{feature}”, so I wouldn't count on it. "
                         "A colleague can check: just ask for a human.")
    return lines


def closest_sentence(matcher: DescriptionMatcher | None, feature: str, described: Sequence[str]) -> str | None:
    if matcher is None:
        return None
    try:
        match = matcher.closest(feature, described)
    except Exception:  # the word match above still answers; a broken model must not lose the reply
        logger.exception("description matching failed for %r", feature)
        return None
    return match.sentence if match else None


def asked_aspects(text: str) -> set[str]:
    return {name for name, pattern in ASPECTS.items() if pattern.search(text)}


def details_text(product: dict[str, Any], asked: set[str], asked_size: str | None = None,
                 asked_color: str | None = None, everything: bool = True, features: Sequence[str] = (),
                 matcher: DescriptionMatcher | None = None) -> str:
    """The answer: yes or no to a size, colour or feature asked about, then the aspects asked
    about (stock, sizes, price, colour, reviews), or all of it when `everything`."""
    p = product
    lines = []
    if features and not everything:
        lines.append(f"The {p['title']}:")
        lines += feature_lines(p, features, matcher)
    sizes = [str(s) for s in p.get("sizes") or []]
    if asked_size:
        if any(s.lower() == asked_size.lower() for s in sizes):
            lines.append(f"Yes, the {p['title']} comes in size {asked_size}.")
        elif sizes:
            lines.append(f"No, the {p['title']} doesn't come in size {asked_size}. Its sizes: {sizes_text(sizes)}.")
        else:
            lines.append(f"The {p['title']} comes in one size only.")
    if asked_color:
        if str(p.get("color", "")).lower() == asked_color.lower():
            lines.append(f"Yes, the {p['title']} is {p['color']}.")
        else:
            lines.append(f"No, the {p['title']} is {p['color']}. Say “show me {asked_color} ones” and I'll look for others.")
    show = set(ASPECTS) if everything else set(asked)
    price = f"${float(p['price']):.2f}{rating_text(p)}" if show & {"price", "reviews"} else ""
    stock = stock_line(p) if "stock" in show else ""
    if everything or not lines:
        lines.append(f"{p['title']} by {p['brand']}" + (f": {price}" if price else "") + "." + (f" {stock}" if stock else ""))
    elif price or stock:
        lines.append(" ".join(x for x in (f"{price}." if price else "", stock) if x))
    facts = [f"Colour: {p['color']}."] if p.get("color") and "colour" in show and not asked_color else []
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


class ActionProductDetails(Action):
    """Details of one product the shopper points at; asks which one when it cannot tell."""

    def name(self) -> str:
        return "action_product_details"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = latest_text(tracker)[:MAX_MESSAGE_CHARS]
        try:
            index = ProductSearch().index
            index.warm_up()
        except ProductIndexMissingError as exc:
            logger.error("product details unavailable: %s", exc)
            dispatcher.utter_message(text=UNAVAILABLE)
            return []
        shown = [p for pid in slot_list(tracker, "shown_product_ids") if (p := index.product(pid))]
        compared = compared_products(text, shown)
        if isinstance(compared, str):
            dispatcher.utter_message(text=compared)
            return []
        if compared:
            asked = asked_aspects(text)
            titled = [] if positions(text) else named_among_shown(text, shown)
            features = [] if asked else asked_features(text, compared, titled if len(titled) > 1 else [],
                                                       comparing=True)
            dispatcher.utter_message(text=comparison_text(compared, features, shared_description_matcher(index.embedder)),
                                     json_message=cards_message([card(p, stock_line(p)) for p in compared]))
            # "is it in stock?" after a comparison must ask which one, not answer for an older product.
            return [SlotSet("focus_product_id", None)]
        position = ordinal(text)
        product: dict[str, Any] | None
        named = False
        if position is None and (picked := superlative(text, shown)):
            product = picked
        elif position is not None:
            if problem := position_problem([position], shown):
                dispatcher.utter_message(text=problem)
                return []
            product = at_position(shown, position)
        else:
            in_view = [p for pid in (slot_text(tracker, "focus_product_id"), page_product_id(tracker))
                       if pid and (p := index.product(pid))]
            by_name = named_product(text, shown, index.products)
            if _PRONOUN.search(text) and in_view:
                product = in_view[0]
            else:
                product = by_name or next(iter(in_view), None)
            named = product is not None and product is by_name
            if product is None and len(shown) == 1:
                product = shown[0]
        if product is None:
            dispatcher.utter_message(text=ASK_WHICH)
            return []
        entities = latest_entities(tracker)
        size, color = entities.get("size"), entities.get("color")
        size = size if isinstance(size, str) else None
        color = color if isinstance(color, str) else None
        # "the best-rated one" names the product; it does not ask for its reviews
        asked = asked_aspects(_SUPERLATIVE.sub(" ", text))
        features = [] if asked else asked_features(text, [product], [product] if named else [],
                                                   [v for v in (size, color) if v])
        reply = details_text(product, asked, size, color, features=features,
                             matcher=shared_description_matcher(index.embedder),
                             everything=bool(_EVERYTHING.search(text)) or not (asked or size or color or features))
        dispatcher.utter_message(text=reply, json_message=cards_message([card(product, stock_line(product))]))
        return [SlotSet("focus_product_id", product["id"])]
