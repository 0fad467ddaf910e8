"""Product search from a shopper's words plus the NLU's entities: hard filters, hybrid ranking,
and one relaxed constraint (named) when nothing matches everything."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from typing import Any

from retrieval.product_index import ProductFilters, ProductHit, ProductIndex, ProductIndexMissingError
from retrieval.text import (
    CHEAP_WORDS,
    COLOR_WORDS,
    GENERIC_PRODUCT_WORDS,
    PRICE_WORDS,
    REASON_FILLER,
    REFINE_FILLER,
    SHOPPING_WORDS,
    STOPWORDS,
    joined_words,
    letter_words,
    stem,
    stemmed_words,
    tokens,
    words,
)
from shop.money import round_limit

# Shoppers' words for whole departments. Anything else is matched against the catalog's own
# category and subcategory names, and otherwise searched as plain words.
CATEGORY_WORDS = {
    "shoe": "footwear",
    "footwear": "footwear",
    "clothes": "clothing",
    "clothing": "clothing",
    "apparel": "clothing",
    "outfit": "clothing",
    "electronic": "electronics",
    "gadget": "electronics",
    "tech": "electronics",
    "beauty": "beauty",
    "skincare": "beauty",
    "cosmetic": "beauty",
    "makeup": "beauty",
    "home": "home",
    "homeware": "home",
    "sport": "sports",
    "fitness": "sports",
}
# The order in which constraints are given up when nothing matches all of them.
RELAX_ORDER = ("color", "size", "terms", "brand", "price_min", "price_max", "kind", "subcategory", "category")
# When only a few products match everything, near matches follow them, labelled: the same kind
# of product in another colour, or another kind in the same department. A price limit, a brand
# or a size is the shopper's line (a shoe that does not fit is no alternative), so near matches
# never cross it.
WIDEN_ORDER = ("color", "subcategory")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")
# A unit of length, volume, weight or paper weight right after a number: a size, not a price.
_MEASURE = re.compile(r"\s*(?:mm|cm|m|ml|cl|l|g|gsm|kg|oz|lb|lbs|in|inch|inches|ft)\b", re.I)
# An age or a time after a number ("food for my 14 yo cat", "a 3 month old puppy"): not a price.
_AGE = re.compile(r"\s*(?:yo|y/o|yr|yrs|year|years|month|months|mth|mths|week|weeks|wk|wks|day|days)\b", re.I)
MAX_QUERY_CHARS = 300
# A message the NLU was unsure of is searched for what the descriptions say when it is a short
# phrase (a shopper's "biopic", "dark comedy", "based on a book": at most three content words)
# that at least two products say in full: one product saying it could be a coincidence.
MAX_DESCRIBED_WORDS = 3
MIN_DESCRIBED_PRODUCTS = 2
# Words that may follow a product word without being part of its name ("hoodies please",
# "trainers size 40", "dumbbells already"): the rest of a product phrase is cut there.
NOT_PART_OF_A_NAME = frozenset(
    "size sizes already now today tonight tomorrow asap again too also instead online here anyway without "
    "thx cheers plz".split()
)
# The word right after an entity: letters, not a possessive ("dog's bed").
_NEXT_WORD = re.compile(r"[ \t]+([A-Za-z]+)\b(?!['’])")
# The word right before an entity, when nothing but spaces lies between: letters, not the end
# of a possessive ("my dog's bed") nor a unit after a number ("a 4mm hook").
_PREVIOUS_WORD = re.compile(r"(?<![A-Za-z0-9'’])([A-Za-z]+)[ \t]+$")
# How shoppers say what they like about a product, whatever it is ("a comfy dog bed", "some
# decent paint", "a kong type toy"): words that never make it another kind of product, though a
# small catalog may never use them. General English, no shop's words.
PREFERENCE_WORDS = frozenset(
    "nice good great best better cool cute lovely pretty comfy comfortable cosy cozy decent quality fancy funky "
    "simple basic plain little big small large tiny huge proper real sturdy durable strong light lightweight heavy "
    "new old used cheapish pricey expensive premium luxury top popular favourite favorite usual normal regular "
    "standard different another other same similar extra spare replacement matching type kind sort style".split()
)
# Verbs a shopper puts before what they ask about ("do you take amex", "recommend dog food"),
# and the words after which the next word is a verb, not part of a name ("you", "to", "can").
ASKING_VERBS = frozenset(
    "want wanna need needs recommend suggest take takes accept accepts offer offers ship ships deliver send "
    "order ordered bought buy love prefer try use pick choose grab recommended suggested".split()
)
_BEFORE_A_VERB = frozenset(
    "i you u ya we they he she it to please pls can could would will do does did dont don't can't cant "
    "i'd i'll lets let's just also really".split()
)
# How shoppers ask, whatever the product: never the start or the end of a product's name.
_ASKING = STOPWORDS | SHOPPING_WORDS | CHEAP_WORDS | COLOR_WORDS | GENERIC_PRODUCT_WORDS | PRICE_WORDS
# The conversation's slots that hold a search's constraints, and the `SearchRequest` field of each.
# The filters a constraint slot can become (a product word is a kind, a subcategory or a category).
FILTERS_OF_SLOT = {"product_category": ("kind", "subcategory", "category")}
CONSTRAINT_SLOTS = {
    "product_category": "category",
    "brand": "brand",
    "color": "color",
    "size": "size",
    "price_min": "price_min",
    "price_max": "price_max",
}


def entity_values(entities: Any) -> dict[str, Any]:
    """{entity name: value} of one message. Several product words are one description
    ("cozy slippers" + "memory foam"), so they are joined in order; so are colour words the
    NLU tagged one by one side by side ("sage" + "green" is one colour, where "red or blue" is
    two). For any other entity the last value wins."""
    found: dict[str, Any] = {}
    ends: dict[str, Any] = {}
    for entity in entities if isinstance(entities, list) else []:
        if isinstance(entity, dict) and isinstance(entity.get("entity"), str):
            name, value = entity["entity"], entity.get("value")
            earlier = found.get(name)
            if isinstance(earlier, str) and isinstance(value, str) and value not in earlier:
                if name == "product_category" or (name == "color" and _side_by_side(ends.get(name), entity)):
                    value = f"{earlier} {value}"
            found[name] = value
            ends[name] = entity.get("end")
    return found


def _side_by_side(earlier_end: Any, entity: dict[str, Any]) -> bool:
    """Whether the entity starts one space (or less) after the earlier one ended."""
    start = entity.get("start")
    return isinstance(earlier_end, int) and isinstance(start, int) and 0 <= start - earlier_end <= 1


def names_another_product(product_word: Any, query: str) -> bool:
    """A follow-up whose product word the last search did not have ("purple hoodie" after
    "waterproof jackets") is a new search, not a refinement of the old one."""
    return isinstance(product_word, str) and bool(set(tokens(product_word)) - set(tokens(query)))


def refinement(query: str, text: str, entities: Sequence[dict[str, Any]] = ()) -> tuple[str, list[str]]:
    """(the last search's query plus the new words of a follow-up, the follow-up's product
    words): "the wireless ones" -> ("... wireless", ["wireless"]). A word already in the query
    is required but not repeated ("only waterproof ones" after "waterproof jackets"). The NLU's
    entities (colours, brands, prices) are left out, by span and by value: they are filters."""
    kept = list(text[:MAX_QUERY_CHARS])
    entity_words: set[str] = set()
    for entity in entities:
        start, end = entity.get("start"), entity.get("end")
        if isinstance(start, int) and isinstance(end, int):
            start, end = max(0, start), max(0, min(end, len(kept)))
            kept[start:end] = [" "] * max(0, end - start)
        if isinstance(entity.get("value"), str):
            entity_words |= set(words(entity["value"]))
    added: list[str] = []
    for word in letter_words("".join(kept)):
        if word not in STOPWORDS and word not in REFINE_FILLER and word not in entity_words and word not in added:
            added.append(word)
    in_query = set(words(query))
    new = [w for w in added if w not in in_query]
    return (f"{query} {' '.join(new)}".strip()[:MAX_QUERY_CHARS] if new else query), added


def parse_price(value: Any) -> float | None:
    """'under $1,200.50' -> 1200.5; None when there is no number, or when the number is a
    size with its unit ("5mm knitting needles", "250ml", "A4 300gsm"), which the NLU's price
    entity sometimes takes."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value) if value >= 0 else None
    if not isinstance(value, str):
        return None
    match = _NUMBER.search(value[:200])
    if not match or _MEASURE.match(value[:200], match.end()):
        return None
    try:
        return float(match.group().replace(",", ""))
    except ValueError:
        return None


def _an_age_in(text: str | None, value: Any) -> bool:
    """Whether the NLU's price is a number the message gives as an age or a time: every time
    the message says that number, a unit of age follows it."""
    number = _NUMBER.search(value[:200]) if isinstance(value, str) else None
    if number is None or not isinstance(text, str):
        return False
    said = [m for m in _NUMBER.finditer(text[:MAX_QUERY_CHARS]) if m.group() == number.group()]
    return bool(said) and all(_AGE.match(text, m.end()) for m in said)


def _clean(value: Any, limit: int = 100) -> str | None:
    """A shopper-given attribute as short text; other types (from a channel or a bad entity) are ignored."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        return None
    return value.strip()[:limit] or None


@dataclass
class SearchRequest:
    query: str = ""
    category: str | None = None
    brand: str | None = None
    color: str | None = None
    size: str | None = None
    price_min: Any = None
    price_max: Any = None
    terms: list[str] | None = None  # words every result must mention ("wireless")
    # Constraints the shopper has just added ("in blue?" after "anything cheaper?"): when nothing
    # matches everything, the older ones are left out first.
    newest: tuple[str, ...] = ()


@dataclass
class SearchResult:
    hits: list[ProductHit]
    filters: ProductFilters
    relaxed: list[str] = field(default_factory=list)  # e.g. ["colour (blue)"]
    query: str = ""
    # hits[:exact] match everything; the rest are near matches without `widened`.
    exact: int = 0
    widened: str | None = None  # the constraint the near matches leave out, e.g. "color"
    wanted: str | None = None  # its value, e.g. "grey"
    cheapest_first: bool = False  # the shopper asked for cheap ones: ordered by price

    @property
    def near(self) -> list[ProductHit]:
        return self.hits[self.exact :]


def describe(name: str, filters: ProductFilters, shown_terms: Sequence[str] | None = None) -> str:
    value = getattr(filters, name)
    if name == "price_max":
        return f"the price limit (under ${value:g})"
    if name == "price_min":
        return f"the minimum price (over ${value:g})"
    if name == "terms":
        named = [str(w) for w in (shown_terms or value)]
        return ("the words " if len(named) > 1 else "the word ") + ", ".join(f"“{w}”" for w in named)
    if name == "kind":
        return f"the product type ({' or '.join(value)})"
    label = {"color": "colour", "subcategory": "product type"}.get(name, name)
    return f"the {label} ({value})"


def _content_words(text: str) -> list[str]:
    """The message's words beyond how shoppers ask ("do you have", "please")."""
    return [w for w in words(text[:MAX_QUERY_CHARS]) if w not in STOPWORDS and w not in SHOPPING_WORDS]


class ProductSearch:
    def __init__(self, index: ProductIndex | None = None) -> None:
        # Not `index or ...`: an index not loaded yet has no products, so it is falsy.
        self._index = index if index is not None else ProductIndex()

    @property
    def index(self) -> ProductIndex:
        return self._index

    def example_query(self) -> tuple[str, int, str] | None:
        """(the catalog's commonest product type, a round price limit its products sit under,
        their currency): a search to suggest in the shop's own words ("sketchbooks under £20");
        None without a catalog."""
        try:
            self.index.warm_up()
        except ProductIndexMissingError:
            return None
        kinds = Counter(str(p.get("subcategory") or p.get("category") or "") for p in self.index.products)
        kinds.pop("", None)
        if not kinds:
            return None
        kind = kinds.most_common(1)[0][0]
        of_kind = [p for p in self.index.products if (p.get("subcategory") or p.get("category")) == kind]
        prices = sorted(float(p["price"]) for p in of_kind)
        currency = Counter(str(p.get("currency") or "USD") for p in of_kind).most_common(1)[0][0]
        return kind, round_limit(prices[int(len(prices) * 0.7)]), currency

    def named_products(self, text: str) -> str | None:
        """The message's product words when every word it has beyond how shoppers ask names
        products the catalog has ("dark roast beans", "do you sell pruning shears?"); else None.
        A message the NLU was unsure of is worth a search then."""
        content = _content_words(self.index.correct(text))
        stems = {stem(w) for w in content}
        if not stems or any(w.isdigit() for w in content) or not stems <= self.index.name_words():
            return None
        return " ".join(content) if self.index.count_named(stems) else None

    def described_products(self, text: str) -> str | None:
        """The message's words when, beyond how shoppers ask, they are a short phrase that the
        descriptions of several products say in full, though no product is called by it
        ("atmospheric" or "time travel" in a shop of films, whose titles say neither); else None.
        A message the NLU was unsure of is worth a search then. Longer messages are left out:
        their words meet in some description by chance."""
        content = _content_words(self.index.correct(text))
        if not content or len(content) > MAX_DESCRIBED_WORDS or any(w.isdigit() for w in content):
            return None
        stems = {stem(w) for w in content}
        return " ".join(content) if self.index.count_described(stems) >= MIN_DESCRIBED_PRODUCTS else None

    def needs_products(self, text: str, documents_words: AbstractSet[str] = frozenset()) -> bool:
        """Whether a message none of whose words names products, and which the NLU found out of
        scope, describes a need some product meets: it comes closer to a product than 95% of
        off-topic requests come to this catalog's (`ProductIndex.off_topic_cosine`). In the pet
        shop "my kelpie drags me down the street every walk, what can i get to stop him pulling"
        scores 0.358 and "something waterproof for my cavoodle for rainy walks" 0.506, against
        0.281 there; every product query of three blind shops scores above its shop's cut.
        A message all of whose words the shop's documents use (`documents_words`), one of them
        a word no product says, is about the shop, not a need: "diners club ok?" had come as
        close to a dry dog food as a need does, and got it."""
        if not _content_words(text):
            return False
        asked = set(tokens(text))
        if asked and asked <= documents_words and any(self.index.count_described({word}) == 0 for word in asked):
            return False
        _, cosines, _ = self.index.scores(text, mode="dense")
        return bool(len(cosines)) and float(cosines.max()) >= self.index.off_topic_cosine()

    def product_word(self, text: str, entities: Sequence[dict[str, Any]]) -> str | None:
        """The shopper's product word as the NLU found it (several joined, `entity_values`),
        with the word after it, and the word before it, when the catalog never uses that word:
        the NLU knows the catalog's words and stops where they do, so "cat flaps" comes out as
        "cat", "dog prams" as "dog" and "layer pellets for the chooks" as "pellets", which the
        shop carries. Only the next word and the one before are taken, so "sneakers please"
        stays "sneakers"; before a product word, how shoppers say what they like ("comfy
        sneakers") is never part of its name."""
        value = entity_values(list(entities)).get("product_category")
        if not isinstance(value, str):
            return None
        spans = [e for e in entities if e.get("entity") == "product_category" and isinstance(e.get("end"), int)]
        if not spans:
            return value
        following = _NEXT_WORD.match(text, max(int(e["end"]) for e in spans))
        if following is not None and self._foreign_word(following.group(1), NOT_PART_OF_A_NAME):
            value = f"{value} {following.group(1).lower()}"
        starts = [int(e["start"]) for e in spans if isinstance(e.get("start"), int)]
        preceding = _PREVIOUS_WORD.search(text, 0, min(starts)) if starts else None
        if (
            preceding is not None
            and not self._a_verb(text[: preceding.start()])
            and self._foreign_word(preceding.group(1), PREFERENCE_WORDS | ASKING_VERBS | REASON_FILLER)
        ):
            value = f"{preceding.group(1).lower()} {value}"
        return value

    @staticmethod
    def _a_verb(before: str) -> bool:
        """Whether the word that follows `before` is a verb by its place: after "you", "to" or
        "can" ("do you take amex"), not after "a", "for" or "sell" ("do you sell layer pellets")."""
        previous = joined_words(before.replace("’", "'"))
        return bool(previous) and previous[-1] in _BEFORE_A_VERB

    def _foreign_word(self, word: str, not_a_name: AbstractSet[str]) -> bool:
        """Whether a word beside the NLU's product word names what the catalog lacks: not one of
        how shoppers ask, and no word the catalog uses. A word the catalog says anywhere, even
        only in descriptions, may be the shopper's name for what the shop has ("dk wool" for DK
        yarn whose blends say wool): only one it never uses ("flaps", "prams", "emulsion") shows
        the product is not the shop's."""
        word = word.lower()
        if word in _ASKING or word in not_a_name or stem(word) in GENERIC_PRODUCT_WORDS:
            return False
        stems = set(tokens(self.index.correct(word)))
        return bool(stems) and self.index.count_described(stems) == 0

    def names_products(self, text: str) -> bool:
        """Whether any word of the message is one the catalog's products are called by: "cat"
        in "do you have cat flaps", which the shop lacks, so cat products are the closest thing
        to show. In "do you take amex" no word is, and the products whose descriptions happen to
        say "take" would be no answer."""
        asked = {stem(w) for w in _content_words(self.index.correct(text))} - GENERIC_PRODUCT_WORDS
        return bool(asked & self.index.name_words())

    def rather_than_passage(self, text: str, passage_confidence: float, passage_is_sure: bool) -> bool:
        """Whether the message wants products rather than the passage the shop's documents
        offer for it. Help pages that talk about products (care guides, safety notes) answer
        "lino cutters" or "scalpel for paper cutting" too: a message made only of the catalog's
        product words wants products even over a sure passage, and one a product matches more
        closely than the passage it only suggests (the same MiniLM embeds products and, unless
        it was fine-tuned on the shop's questions, passages) wants them over a hedge. Checked on
        Bitext's policy questions against a craft shop: 1 in 110 of those at the suggestion
        level, none of those answered with confidence, would have been searched instead."""
        if self.named_products(text):
            return True
        if passage_is_sure:
            return False
        _, cosines, _ = self.index.scores(text, mode="dense")
        return bool(len(cosines)) and float(cosines.max()) > passage_confidence

    def describes(self, product_word: str | None) -> bool:
        """Whether some product's description or tags say the shopper's product word in full,
        when no product is called by it."""
        stems = set(tokens(self.index.correct(product_word or ""))) - GENERIC_PRODUCT_WORDS - SHOPPING_WORDS
        return bool(stems) and self.index.count_described(stems) > 0

    def kind_of(self, product_ids: Sequence[str]) -> str | None:
        """The product type most of these products are (their commonest subcategory), as a
        query for more like them: "cheaper ones?" after a recommendation, which had no query."""
        kinds = Counter(
            str(product["subcategory"]) for product_id in product_ids if (product := self.index.product(product_id))
        )
        return kinds.most_common(1)[0][0] if kinds else None

    def carries(self, product_word: str | None) -> bool:
        """False when no product of the catalog is called by the shopper's product word
        ("pizza oven" in a shop of clothes); True when it is, or when there is no such word.
        A typo of a word products are called by ("needels") is that word."""
        stems = set(tokens(self.index.correct(product_word or ""))) - GENERIC_PRODUCT_WORDS - SHOPPING_WORDS
        return not stems or self.index.count_named(stems) > 0

    def resolve_category(self, value: str | None) -> tuple[str | None, str | None]:
        """(category, subcategory) for a shopper's product word, or (None, None) if unsure."""
        if not value:
            return None, None
        index = self.index
        index.warm_up()
        text = value.strip().lower()
        categories = index.vocabulary("category")
        subcategories = index.vocabulary("subcategory")
        if text in categories:
            return text, None
        asked = stemmed_words(text)
        # A subcategory is meant only when the shopper's words name all of it ("trail running
        # shoes" -> trail running shoes, the most specific). One shared word is too little:
        # "open water swimming" is not about water bottles, nor "yoga" about yoga mats; such a
        # word narrows the department only when every subcategory it touches lies in one.
        named = [s for s in subcategories if stemmed_words(s) and stemmed_words(s) <= asked]
        if named:
            most = max(len(stemmed_words(s)) for s in named)
            best = [s for s in named if len(stemmed_words(s)) == most]
            if len(best) == 1:
                return None, best[0]
        matches = [s for s in subcategories if asked & stemmed_words(s)]
        parents = self.departments_of(matches)
        if len(parents) == 1:
            return parents.pop(), None
        for word in asked:
            if CATEGORY_WORDS.get(word) in categories:
                return CATEGORY_WORDS[word], None
        return None, None

    def departments_of(self, subcategories: Collection[str]) -> set[str]:
        """The categories the products of these subcategories are in (both lower-cased at read)."""
        return {str(p["category"]) for p in self.index.products if p["subcategory"] in subcategories}

    def other_kinds_named(self, text: str, subcategory: str) -> list[str]:
        """Kinds akin to `subcategory` (sharing a word of its name) that the message names in
        full, with at least as many words, and that `subcategory`'s own name does not contain:
        "oil sets" in "oil paint starter set", "trail running shoes" beside "running shoes". A
        kind named only as context shares no word ("jeans to go with my hiking boots")."""
        asked, own = stemmed_words(text[:MAX_QUERY_CHARS]), stemmed_words(subcategory)
        return [
            other
            for other in sorted(self.index.vocabulary("subcategory"))
            if other != subcategory
            and (named := stemmed_words(other))
            and named <= asked
            and named & own
            and not named <= own
            and len(named) >= len(own)
        ]

    def product_nouns(self, value: str | None) -> tuple[str, ...] | None:
        """The shopper's product nouns that end a subcategory's name ("jackets": down jackets,
        rain jackets), stemmed; None when there are none or the word is a department's.
        Products of the department whose title or subcategory says one of them are meant, so
        a hooded hoodie is not a jacket, while "lotion" keeps the sun lotions too."""
        asked = stemmed_words(value or "")
        if not asked or any(w in CATEGORY_WORDS for w in asked):
            return None
        # The last word of the name: "shirt" of "t-shirts", never its "t".
        heads = {stem(words(s)[-1]) for s in self.index.vocabulary("subcategory") if words(s)}
        nouns = tuple(sorted(asked & heads))
        return nouns or None

    def catalog_color(self, asked: str | None) -> str | None:
        """The colour to filter by for the shopper's colour words, or None when none is a colour.
        Of a colour the catalog does not name as the shopper does ("sage green", "dark green",
        "navy blue"), the first word that is a colour: the shade before the hue is the more
        specific, and "dark" or "light" is none."""
        asked = (asked or "").strip().lower()
        known = COLOR_WORDS | self.index.vocabulary("color")
        if not asked or asked in known:
            return asked or None
        return next((word for word in words(asked) if word in known), None)

    def filters_for(self, request: SearchRequest) -> ProductFilters:
        category, subcategory = self.resolve_category(_clean(request.category))
        kind = self.product_nouns(_clean(request.category)) if category and not subcategory else None
        if subcategory and (rivals := self.other_kinds_named(request.query, subcategory)):
            # "oil paint starter set": the NLU's "oil paint" is one kind, the message names
            # "oil sets" as fully. Unsure which, the search keeps to what both are (their
            # department) and lets the message's words rank.
            departments = self.departments_of({subcategory, *rivals})
            category, subcategory, kind = (departments.pop() if len(departments) == 1 else None), None, None
        price_min, price_max = (
            None if _an_age_in(request.query, value) else parse_price(value)
            for value in (request.price_min, request.price_max)
        )
        if price_min is not None and price_max is not None and price_min > price_max:
            price_min, price_max = price_max, price_min
        color = self.catalog_color(_clean(request.color))
        return ProductFilters(
            category=category,
            subcategory=subcategory,
            brand=_clean(request.brand),
            color=color,
            size=_clean(request.size),
            price_min=price_min,
            price_max=price_max,
            kind=kind,
            terms=tuple(tokens(" ".join(w for w in (request.terms or [])[:10] if isinstance(w, str)))) or None,
        )

    def search(
        self,
        request: SearchRequest,
        k: int = 5,
        offset: int = 0,
        exclude: set[str] | None = None,
        relax: bool = True,
        mode: str = "hybrid",
    ) -> SearchResult:
        """Hard filters from the request over `mode` ranking (hybrid; dense or bm25 for comparison)."""
        filters = self.filters_for(request)
        # The product word stays in the query even when it became a filter: "trail" in
        # "trail running shoes" still ranks trail shoes first.
        # Only when it adds words: NLU entities are spans of the message, and a repeated word
        # would count twice for BM25.
        text, product_word = _clean(request.query, 1000) or "", _clean(request.category) or ""
        query = f"{text} {product_word}".strip() if stemmed_words(product_word) - stemmed_words(text) else text
        cheap = bool(CHEAP_WORDS.intersection(letter_words(text)))
        hits = self.index.search(query, filters, k=k, offset=offset, mode=mode, exclude=exclude, cheapest_first=cheap)
        if relax and len(hits) < k and (hits or offset):
            return self._with_near_matches(query, filters, hits, k, offset, mode, exclude, cheap)
        if hits or offset or not relax:
            return SearchResult(hits, filters, [], query, exact=len(hits), cheapest_first=cheap)
        newest = {n for slot in request.newest for n in FILTERS_OF_SLOT.get(slot, (slot,))}
        for name in sorted(RELAX_ORDER, key=lambda n: n in newest):
            if getattr(filters, name) is None:
                continue
            candidate = replace(filters)
            setattr(candidate, name, None)
            hits = self.index.search(query, candidate, k=k, mode=mode, exclude=exclude, cheapest_first=cheap)
            if hits:
                return SearchResult(
                    hits,
                    candidate,
                    [describe(name, filters, request.terms)],
                    query,
                    exact=len(hits),
                    cheapest_first=cheap,
                )
        return SearchResult([], filters, [], query)

    def _with_near_matches(
        self,
        query: str,
        filters: ProductFilters,
        hits: list[ProductHit],
        k: int,
        offset: int,
        mode: str,
        exclude: set[str] | None,
        cheap: bool = False,
    ) -> SearchResult:
        """The exact matches of this page, then near matches in another colour or of another product type.
        Near matches go by relevance even for "cheap ...": by price, a cheap charger would lead
        the alternatives to headphones."""
        index = self.index
        exact_ids = {index.products[i]["id"] for i in index.mask(filters).nonzero()[0]} - set(exclude or ())
        name = next((n for n in WIDEN_ORDER if getattr(filters, n) is not None), None)
        if name is None or not exact_ids:
            # Nothing to widen, or a later page of a search that matched nothing (its first page
            # left out one constraint and said so): the exact matches alone, as before.
            return SearchResult(hits, filters, [], query, exact=len(hits), cheapest_first=cheap)
        wider = replace(filters)
        setattr(wider, name, None)
        if name == "subcategory" and wider.category is None:
            # "headphones" widens to electronics, not to the whole shop
            wider.category = str(index.product(next(iter(exact_ids)))["category"])  # type: ignore[index]
        # The near list carries on across pages once the exact matches run out.
        near = index.search(
            query,
            wider,
            k=k - len(hits),
            offset=max(0, offset - len(exact_ids)),
            mode=mode,
            exclude=set(exclude or ()) | exact_ids,
        )
        return SearchResult(
            hits + near,
            filters,
            [],
            query,
            exact=len(hits),
            widened=name if near else None,
            wanted=str(getattr(filters, name)) if near else None,
            cheapest_first=cheap,
        )
