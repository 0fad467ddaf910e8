"""Questions about products already in view: which product a question points at, and what it
asks about.

"tell me more about the second one", "is it in stock?", "does the first one come in size 42?",
"compare the first two", "is the cheapest one waterproof?". The product is one of the cards just
shown, the one the last question was about, the product page the shopper is on, or one named by
its title. `ProductQuestions.understand()` returns a `ProductQuestion` that an action turns
into words; nothing here writes a reply.

Positions ("the second one", "#3", "the first two") are read from the text with the word list
below. The NLU also tags them as `mention` entities, which reaches what the word list cannot: a
mention with a typo ("the secnd one") is matched to the closest position word.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

from retrieval.description_match import DescriptionMatcher
from retrieval.product_index import ProductIndex
from retrieval.spelling import edit_distance
from retrieval.text import COUNT_WORDS, INNER_WORDS, ORDINALS, feature_parts, joined_words, tokens
from retrieval.text import sentences as text_sentences

logger = logging.getLogger(__name__)

_ORDINAL = re.compile(r"\b(" + "|".join(ORDINALS) + r")\b|(?:\bnumber|\bno\.?|#|\boption)\s*(\d{1,2})\b")
# Words of a question that never name a product.
QUESTION_WORDS = frozenset(
    tokens(
        "tell more about details detail info information please what which how many much is are does do it this that "
        "one ones come available stock left size sizes colour color colors colours price cost review reviews rating "
        "say people like made describe showed show sound sounds good want know they them their those these "
        "number option buy order get really actually still also well okay ok hi hey thanks great nice "
        "cheapest least expensive lowest priced most priciest best rated highest top worst " + " ".join(ORDINALS)
    )
)
# "is it ...": the shopper means the product already in view, not one whose title has the word.
_PRONOUN = re.compile(r"\b(it|its|they|them|this|that)\b", re.I)
# What a question asks about; with none of them (or "tell me more") the whole description.
ASPECTS = {
    "sizes": re.compile(r"\b(sizes?|fits?)\b", re.I),
    "stock": re.compile(r"\b(stock|available|availability|left|sold out)\b", re.I),
    "price": re.compile(r"\b(price|costs?|how much)\b", re.I),
    "colour": re.compile(r"\b(colou?rs?)\b", re.I),
    "reviews": re.compile(
        r"\b(reviews?|rating|rated|people say|say about|opinions?|any good|worth it|quality)\b", re.I
    ),
}
_EVERYTHING = re.compile(r"\b(more|details?|describe|description|info|information|made of|material)\b", re.I)
# "compare them", "which is cheaper", "the first or the second?": several products side by side.
_COMPARE = re.compile(
    r"\b(compare|comparison|difference|differ|vs|versus|side by side|better than|"
    r"which (?:one |of (?:them|those|these|the two) )?(?:is|are|has|would)|which one)\b",
    re.I,
)
_FIRST_N = re.compile(r"\b(?:first|top)\s+(two|three|four|five|2|3|4|5)\b", re.I)
MAX_COMPARED = 5
# "the cheapest one", "the best-rated one": a product among those shown, picked by price or rating.
_SUPERLATIVE = re.compile(
    r"\b(cheapest|least expensive|lowest[- ]priced|most expensive|priciest|"
    r"best[- ]rated|highest[- ]rated|top[- ]rated|worst[- ]rated|lowest[- ]rated)\b",
    re.I,
)
# Words of a comparison that are not features of a product ("which is cheaper?").
_COMPARE_WORDS = frozenset(
    tokens(
        "compare comparison difference differ between vs versus side better best cheaper cheapest expensive pricier "
        "rated two three four five top or than which would"
    )
)
# At or under this many in stock the shopper is told how many are left.
LOW_STOCK = 5

Product = dict[str, Any]


@dataclass(frozen=True)
class FeatureAnswer:
    """What a product's own data says about one feature the shopper asked about: the sentence
    of its description that says it (`said`), that its tags or title list it (`listed`), the
    sentence closest in meaning that does not say it in those words (`closest`), or nothing."""

    feature: str
    said: str | None = None
    listed: bool = False
    closest: str | None = None

    @property
    def confirmed(self) -> bool:
        return bool(self.said or self.listed)


@dataclass
class ProductQuestion:
    """What a question about products in view means.

    kind: `one` (about `products[0]`), `compare` (`products` side by side), `ask_which` (no
    product could be told), `none_shown` (positions named, nothing shown) or `out_of_range`
    (a position past the `shown` cards)."""

    kind: Literal["one", "compare", "ask_which", "none_shown", "out_of_range"]
    products: list[Product] = field(default_factory=list)
    aspects: set[str] = field(default_factory=set)
    everything: bool = False
    size: str | None = None
    color: str | None = None
    # One list per product, in the order of `products`.
    features: list[list[FeatureAnswer]] = field(default_factory=list)
    shown: int = 0
    picked: int = 0


def ordinal(text: str) -> int | None:
    """1-based position named in the text ("the second one", "number 3", "#2"); -1 for "the last one"."""
    match = _ORDINAL.search(text.lower())
    return _position(match) if match else None


def _position(match: re.Match[str]) -> int:
    return ORDINALS[match.group(1)] if match.group(1) else int(match.group(2))


def at_position(shown: Sequence[Product], position: int) -> Product:
    return shown[position - 1] if position > 0 else shown[-1]


def fits(picked: Sequence[int], shown: Sequence[Product]) -> bool:
    return bool(shown) and not any(p == 0 or p > len(shown) for p in picked)


def positions(text: str) -> list[int]:
    """Every position the text names, in order and without repeats: "the first and the third"
    -> [1, 3], "the first two" -> [1, 2], "the second or the last" -> [2, -1]."""
    lowered = text.lower()
    first_n = _FIRST_N.search(lowered)
    if first_n:
        count = first_n.group(1)
        return list(range(1, (COUNT_WORDS.get(count) or int(count)) + 1))
    named: list[int] = []
    for match in _ORDINAL.finditer(lowered):
        position = _position(match)
        if position not in named:
            named.append(position)
    return named


def superlative(text: str, shown: Sequence[Product]) -> Product | None:
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


def cheapest(products: Sequence[Product]) -> Product:
    return min(products, key=lambda p: float(p["price"]))


def best_rated(products: Sequence[Product]) -> Product | None:
    """The best-rated product, when one alone has the best rating."""
    rated = [p for p in products if p.get("rating") is not None]
    if not rated:
        return None
    best = max(rated, key=lambda p: float(p["rating"]))
    return best if sum(float(p["rating"]) == float(best["rating"]) for p in rated) == 1 else None


def stock_left(product: Product) -> int | None:
    """How many are left when few are (at most `LOW_STOCK`), 0 when none, None when plenty."""
    stock = int(product.get("stock") or 0)
    return max(stock, 0) if stock <= LOW_STOCK else None


@lru_cache(maxsize=20_000)
def title_words(title: str) -> frozenset[str]:
    """A title's stemmed words, computed once per title: naming scans the whole catalog per question."""
    return frozenset(tokens(title))


def sentences(product: Product) -> list[str]:
    return text_sentences(str(product.get("description") or ""))


def named_among_shown(text: str, shown: Sequence[Product]) -> list[Product]:
    """The shown products named by a word no other shown title has ("the Loomly tee or the
    Basecamp one": "tee" names neither, the brands name one each)."""
    words = set(tokens(text)) - QUESTION_WORDS - _COMPARE_WORDS
    titles = [title_words(p["title"]) for p in shown]
    return [
        p
        for p, own in zip(shown, titles, strict=True)
        if any(w in own and sum(w in t for t in titles) == 1 for w in words)
    ]


def named_product(text: str, shown: Sequence[Product], catalog: Sequence[Product]) -> Product | None:
    """The product whose title the text names. A shown product needs one title word in common
    ("the Voltix one"); any other needs two (brand and model), and the best must be alone."""
    words = set(tokens(text)) - QUESTION_WORDS
    if not words:
        return None
    for pool, needed in ((shown, 1), (catalog, 2)):
        scored = sorted(((len(words & title_words(p["title"])), i) for i, p in enumerate(pool)), reverse=True)
        if scored and scored[0][0] >= needed and (len(scored) == 1 or scored[1][0] < scored[0][0]):
            return pool[scored[0][1]]
    return None


def asked_features(
    text: str,
    about: Sequence[Product],
    named: Sequence[Product] = (),
    entity_values: Sequence[str] = (),
    comparing: bool = False,
) -> list[str]:
    """The shopper's own words of a yes/no question ("is it waterproof?" -> ["waterproof"]):
    neither question words, nor the kind of product asked `about` ("boots"), nor the title
    words of a product the shopper `named` by title; in a comparison, no comparison words
    either. Products picked by position keep their title words askable: "which of the first
    two is waterproof?" asks about "waterproof" even when one title says it."""
    skip = set(QUESTION_WORDS) | set(tokens(" ".join(entity_values)))
    for product in about:
        skip |= set(tokens(f"{product.get('category', '')} {product.get('subcategory', '')}"))
    for product in named:
        skip |= title_words(product["title"])
    if comparing:
        skip |= _COMPARE_WORDS
    phrases: list[str] = []
    # Neighbouring words are one feature ("machine washable", "teflon free"); "and", "or",
    # punctuation and any word skipped above end it ("waterproof and breathable" is two).
    for part in feature_parts(text.lower()):
        run: list[str] = []
        for word in [*joined_words(part), "and"]:
            # "what's" leaves the stem "s": a letter is never a feature
            stems = [x for x in tokens(word) if len(x) > 1]
            if stems and not word.isdigit() and not set(stems) & skip:
                run.append(word)
            elif run and word in INNER_WORDS:
                run.append(word)  # a small word inside a feature: "free of bpa"
            else:
                while run and not [x for x in tokens(run[-1]) if len(x) > 1]:
                    run.pop()
                phrase = " ".join(run)
                if phrase and phrase not in phrases:
                    phrases.append(phrase)
                run = []
    return phrases[:3]


def asked_aspects(text: str) -> set[str]:
    return {name for name, pattern in ASPECTS.items() if pattern.search(text)}


def mention_positions(mentions: Sequence[str]) -> list[int]:
    """The positions of the NLU's `mention` entities, in order: "second" -> 2, "#3" -> 3, and
    a word one edit from a position word (two for longer ones) as that word: "secnd" -> 2."""
    found: list[int] = []
    for mention in mentions:
        named = positions(mention)
        if not named:
            for word in joined_words(mention):
                close = [w for w in ORDINALS if len(w) > 3 and edit_distance(word, w) <= (1 if len(w) < 6 else 2)]
                if len(close) == 1:
                    named.append(ORDINALS[close[0]])
        for position in named:
            if position not in found:
                found.append(position)
    return found


class ProductQuestions:
    """Resolves which products a question is about and what it asks. Cheap to build: the index
    and the matcher load on first use (or in `warm_up()`)."""

    def __init__(self, index: ProductIndex, matcher: DescriptionMatcher | None = None) -> None:
        self.index = index
        self.matcher = matcher

    def warm_up(self) -> None:
        self.index.warm_up()

    def named_in_full(self, text: str, product_ids: Sequence[str]) -> str | None:
        """The one product among these whose whole title the text names ("do the Cloudstep
        Loft Hiking Boots come in 42?"), so that "how much are they" next is about it."""
        words = set(tokens(text))
        named = [p["id"] for p in self.products(product_ids) if title_words(p["title"]) <= words]
        return named[0] if len(named) == 1 else None

    def asks_about_products(self, text: str) -> bool:
        """Whether the message asks about a product's price, sizes, stock, colours or reviews, or
        compares products ("how much are they", "which one is better"): with products in view,
        a follow-up about them even when the NLU could not place it."""
        return bool(asked_aspects(text) or _COMPARE.search(text))

    def products(self, product_ids: Sequence[str]) -> list[Product]:
        """The catalog's products of these ids, in order; unknown ids are left out."""
        self.index.warm_up()
        return [p for pid in product_ids if (p := self.index.product(pid))]

    def understand(
        self,
        text: str,
        shown_ids: Sequence[str] = (),
        in_view_ids: Sequence[str | None] = (),
        mentions: Sequence[str] = (),
        size: str | None = None,
        color: str | None = None,
    ) -> ProductQuestion:
        """`shown_ids`: the cards just shown, in order. `in_view_ids`: the product asked about
        last, then the product page the shopper is on. `mentions`: the NLU's position words.
        `size`, `color`: the NLU's entities of this message (a yes/no about them)."""
        shown = self.products(shown_ids)
        picked = positions(text) or mention_positions(mentions)
        compared = self._compared(text, shown, picked)
        if isinstance(compared, ProductQuestion):
            return compared
        if compared:
            aspects = asked_aspects(text)
            titled = [] if picked else named_among_shown(text, shown)
            features = (
                [] if aspects else asked_features(text, compared, titled if len(titled) > 1 else [], comparing=True)
            )
            return ProductQuestion(
                "compare",
                compared,
                aspects=aspects,
                shown=len(shown),
                features=[self.feature_answers(p, features) for p in compared],
            )
        position = picked[0] if picked else None
        product: Product | None
        named = False
        if position is None and (by_rank := superlative(text, shown)):
            product = by_rank
        elif position is not None:
            if not fits([position], shown):
                return ProductQuestion("out_of_range" if shown else "none_shown", shown=len(shown), picked=1)
            product = at_position(shown, position)
        else:
            in_view = self.products([pid for pid in in_view_ids if pid])
            by_name = named_product(text, shown, self.index.products)
            if _PRONOUN.search(text) and in_view:
                product = in_view[0]
            else:
                product = by_name or next(iter(in_view), None)
            named = product is not None and product is by_name
            if product is None and len(shown) == 1:
                product = shown[0]
        if product is None:
            return ProductQuestion("ask_which", shown=len(shown))
        # "the best-rated one" names the product; it does not ask for its reviews
        aspects = asked_aspects(_SUPERLATIVE.sub(" ", text))
        features = (
            []
            if aspects
            else asked_features(text, [product], [product] if named else [], [v for v in (size, color) if v])
        )
        everything = bool(_EVERYTHING.search(text)) or not (aspects or size or color or features)
        return ProductQuestion(
            "one",
            [product],
            aspects=aspects,
            everything=everything,
            size=size,
            color=color,
            features=[self.feature_answers(product, features)],
            shown=len(shown),
        )

    def _compared(self, text: str, shown: list[Product], picked: list[int]) -> list[Product] | ProductQuestion | None:
        """The products a comparison is about; a question of kind `none_shown`/`out_of_range`
        when its positions don't fit what was shown; None when the text is not a comparison."""
        if len(picked) > 1:
            if not fits(picked, shown):
                return ProductQuestion("out_of_range" if shown else "none_shown", shown=len(shown), picked=len(picked))
            chosen = [at_position(shown, p) for p in picked]
            return list({p["id"]: p for p in chosen}.values())[:MAX_COMPARED]
        if picked or len(shown) < 2 or not _COMPARE.search(text):
            return None
        named = named_among_shown(text, shown)
        return named if len(named) > 1 else list(shown[:MAX_COMPARED])

    def feature_answers(self, product: Product, features: Sequence[str]) -> list[FeatureAnswer]:
        """For each feature, the sentence of the product's description that says it; else that
        its tags or title list it; else, with a matcher, the sentence closest in meaning."""
        described = sentences(product)
        tags = set(tokens(" ".join(str(t) for t in product.get("tags") or [])))
        title = title_words(product["title"])
        answers = []
        for feature in features:
            wanted = set(tokens(feature))
            said = next((x for x in described if wanted <= set(tokens(x))), None)
            if said:
                answers.append(FeatureAnswer(feature, said=said))
            elif wanted <= tags or wanted <= title:
                answers.append(FeatureAnswer(feature, listed=True))
            else:
                answers.append(FeatureAnswer(feature, closest=self._closest(feature, described)))
        return answers

    def _closest(self, feature: str, described: Sequence[str]) -> str | None:
        if self.matcher is None:
            return None
        try:
            match = self.matcher.closest(feature, described)
        except Exception:  # the word match above still answers; a broken model must not lose the reply
            logger.exception("description matching failed for %r", feature)
            return None
        return match.sentence if match else None
