"""NLU training data made from a shop's own catalog and knowledge base.

The committed training data (`training_data/`) teaches how shoppers ask; it cannot know what a
particular shop sells or which policies it writes about. This module reads the shop's catalog
and KB and writes Rasa NLU files into a build folder (`build/nlu/`, not committed) that
`rasa train` reads beside `training_data/`:

- lookups of the shop's product types, brands and colours, so the entity extractor knows the
  shop's own words ("cold brew coffee", "Acme");
- `search_product` examples built from the shop's product types with many phrasings, including
  the bare product name a shopper types alone ("dark roast beans"), with the entities marked;
- `ask_faq` examples from the KB's section headings and FAQ questions, so a question about a
  policy ("cancelling an order") is a question and not a request to act.

The phrasings are English shoppers' templates, never the demo shop's words: whatever the shop
sells is put into them. Every choice is seeded, so the same shop gives the same files.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from retrieval.catalog import product_colors
from retrieval.kb_documents import Chunk, DocumentError, kb_files, load_chunks
from retrieval.text import COLOR_WORDS, STOPWORDS, words
from shop.money import currency_sign, currency_unit, round_limit
from shop.order_numbers import OrderNumberFormat

# How many generated examples each intent gets at most: enough to teach the shop's words, few
# enough that the hand-written examples of other intents keep their weight.
MAX_SEARCH_EXAMPLES = 160
MAX_FAQ_EXAMPLES = 140
# A title ending shared by this many products is a product type the shop sells ("cold brew
# coffee"), even when the catalog has no subcategory field.
MIN_TITLE_TYPE_COUNT = 3
MAX_LOOKUP_TYPES = 400

SEARCH_TEMPLATES = (
    "{noun}",
    "{noun}",
    "{noun}?",
    "do you have {noun}",
    "do you have any {noun}?",
    "do you sell {noun}",
    "do you carry {noun}",
    "have you got {noun}",
    "i'm looking for {noun}",
    "looking for {noun}",
    "i need {noun}",
    "i want to buy {noun}",
    "show me {noun}",
    "show me your {noun}",
    "find me {noun}",
    "any {noun} in stock?",
    "where can i find {noun}",
    "i'd like some {noun}",
    "got any {noun}",
    "search for {noun}",
    "what {noun} do you have",
    "can i get {noun}",
    "need {noun} please",
)
BRAND_TEMPLATES = ("{brand} {noun}", "do you have {brand} {noun}", "{noun} from {brand}", "any {brand} {noun}?")
COLOR_TEMPLATES = ("{color} {noun}", "do you have {noun} in {color}", "{noun} in {color} please")
# In the shop's currency: its sign ("under £20") and its spoken unit ("below 20 pounds").
PRICE_TEMPLATES = ("{noun} under {price}", "cheap {noun}", "{noun} under {sign}{price}", "{noun} below {price} {unit}")
ATTRIBUTE_TEMPLATES = ("{attribute} {noun}", "i'm looking for {attribute} {noun}")
FAQ_TEMPLATES = (
    "{topic}?",
    "what about {topic}?",
    "i have a question about {topic}",
    "can you tell me about {topic}",
    "info on {topic} please",
    "what is your policy on {topic}",
    "question about {topic}",
    "tell me about {topic}",
    "what do i need to know about {topic}",
)


@dataclass
class ShopVocabulary:
    """The shop's own words, read from its catalog."""

    product_types: list[str] = field(default_factory=list)
    brands: list[str] = field(default_factory=list)
    colors: list[str] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)
    # Per product type, the brands, colours and round price limits of the products of that type,
    # so an example never asks for a brand or a colour the type does not come in.
    brands_of: dict[str, list[str]] = field(default_factory=dict)
    colors_of: dict[str, list[str]] = field(default_factory=dict)
    attributes_of: dict[str, list[str]] = field(default_factory=dict)
    prices_of: dict[str, list[int]] = field(default_factory=dict)
    # The currency most of the catalog is priced in.
    currency: str = "USD"


@dataclass
class NluDataReport:
    """What was generated, for the person who runs the build."""

    lookups: dict[str, int]
    examples: dict[str, int]
    samples: dict[str, list[str]]
    files: list[Path]
    kb_problems: dict[str, str] = field(default_factory=dict)
    order_numbers: OrderNumberFormat = field(default_factory=OrderNumberFormat)

    def summary(self) -> str:
        number = self.order_numbers
        digits = f"{number.min_digits}" + (f"-{number.max_digits}" if number.max_digits != number.min_digits else "")
        lines = [
            "lookups: " + ", ".join(f"{name} {n}" for name, n in self.lookups.items()),
            "examples: " + ", ".join(f"{name} {n}" for name, n in self.examples.items()),
            f"order numbers: {number.prefix or 'no prefix'} + {digits} digits, like {number.example()} "
            "(SHOP_ORDER_ID_PREFIX, SHOP_ORDER_ID_DIGITS)",
        ]
        for name, samples in self.samples.items():
            lines.append(f"samples of {name}:")
            lines += [f"  - {s}" for s in samples]
        lines += [f"KB file skipped: {source}: {why}" for source, why in self.kb_problems.items()]
        lines += [f"wrote {path}" for path in self.files]
        return "\n".join(lines)


def _clean(value: Any) -> str:
    return re.sub(r"\s+", " ", str(value or "")).strip()


def _is_word_phrase(text: str) -> bool:
    """Letters and spaces only (no sizes, codes or prices), short enough to be a product word."""
    return bool(re.fullmatch(r"[a-z][a-z' -]*[a-z]", text)) and len(text.split()) <= 4


def catalog_vocabulary(products: Sequence[dict[str, Any]]) -> ShopVocabulary:
    """Product types (subcategories, categories and repeated title endings), brands, colours,
    attribute words (tags) and typical prices of the catalog."""
    types: Counter[str] = Counter()
    for product in products:
        for name in ("subcategory", "category"):
            value = _clean(product.get(name)).lower()
            if _is_word_phrase(value):
                types[value] += 1
    brands = {_clean(p.get("brand")) for p in products}
    brand_words = {b.lower() for b in brands}
    endings: Counter[str] = Counter()
    for product in products:
        title = [w for w in words(_clean(product.get("title"))) if not w.isdigit()]
        for n in (1, 2, 3):
            if len(title) > n:
                ending = " ".join(title[-n:])
                if ending not in brand_words and not set(ending.split()) <= STOPWORDS | COLOR_WORDS:
                    endings[ending] += 1
    for ending, count in endings.items():
        if count >= MIN_TITLE_TYPE_COUNT and _is_word_phrase(ending):
            types[ending] += count
    colors = {_clean(c).lower() for p in products for c in product_colors(p)}
    tags: Counter[str] = Counter()
    for product in products:
        for tag in product.get("tags") or []:
            tag = _clean(tag).lower()
            if _is_word_phrase(tag) and len(tag.split()) <= 2:
                tags[tag] += 1
    product_types = [t for t, _ in types.most_common(MAX_LOOKUP_TYPES)]
    vocabulary = ShopVocabulary(
        product_types=product_types,
        brands=sorted(b for b in brands if b and len(b) > 1),
        colors=sorted(c for c in colors if _is_word_phrase(c)),
        attributes=[t for t, _ in tags.most_common(60)],
    )
    texts = [f" {' '.join(words(_clean(p.get('title'))))} {_clean(p.get('subcategory')).lower()} " for p in products]
    for noun in product_types[:MAX_SEARCH_EXAMPLES]:
        of_type = [
            p
            for p, text in zip(products, texts, strict=True)
            if f" {noun} " in text or _clean(p.get("category")).lower() == noun
        ]
        vocabulary.brands_of[noun] = sorted({b for p in of_type if (b := _clean(p.get("brand"))) in vocabulary.brands})
        vocabulary.attributes_of[noun] = sorted(
            {
                t
                for p in of_type
                for tag in p.get("tags") or []
                if (t := _clean(tag).lower()) in vocabulary.attributes and t not in noun
            }
        )
        vocabulary.colors_of[noun] = sorted(
            {c for p in of_type for color in product_colors(p) if (c := _clean(color).lower()) in vocabulary.colors}
        )
        prices = sorted(float(p["price"]) for p in of_type if isinstance(p.get("price"), (int, float)))
        # Round limits a shopper would type, around the type's own price range.
        vocabulary.prices_of[noun] = (
            sorted({round_limit(prices[int(len(prices) * q)]) for q in (0.3, 0.7)}) if prices else []
        )
    currencies = Counter(str(p.get("currency") or "USD") for p in products)
    vocabulary.currency = currencies.most_common(1)[0][0] if currencies else "USD"
    return vocabulary


def number_variants(phrase: str) -> list[str]:
    """The phrase and its other grammatical number, by its last word ("rain jackets" ->
    "rain jacket"): a shopper types either, and a lookup only finds what it lists."""
    *head, last = phrase.split()
    if last.endswith("ies") and len(last) > 4:
        other = last[:-3] + "y"
    elif last.endswith(("ches", "shes", "sses", "xes")):
        other = last[:-2]
    elif last.endswith("s") and not last.endswith("ss"):
        other = last[:-1]
    elif last.endswith("y") and len(last) > 2 and last[-2] not in "aeiou":
        other = last[:-1] + "ies"
    elif last.endswith(("ch", "sh", "ss", "x")):
        other = last + "es"
    else:
        other = last + "s"
    return [phrase, " ".join([*head, other])]


def kb_topics(kb_folder: Path) -> tuple[list[str], list[str], dict[str, str]]:
    """(section headings, FAQ questions, files that could not be read) of a KB folder."""
    headings: list[str] = []
    questions: list[str] = []
    problems: dict[str, str] = {}
    for path in kb_files(kb_folder):
        source = str(path.relative_to(kb_folder))
        try:
            chunks: list[Chunk] = load_chunks(path, source)
        except DocumentError as exc:
            problems[source] = str(exc)
            continue
        for chunk in chunks:
            heading = _clean(chunk.heading)
            if not heading:
                continue
            (questions if heading.endswith("?") else headings).append(heading)
    return list(dict.fromkeys(headings)), list(dict.fromkeys(questions)), problems


def _entity(text: str, name: str) -> str:
    return f"[{text}]({name})"


def search_examples(vocabulary: ShopVocabulary, rng: random.Random, limit: int = MAX_SEARCH_EXAMPLES) -> list[str]:
    """Annotated `search_product` examples: each product type in a few phrasings, some with a
    brand, colour, price limit or attribute word of the shop."""
    if not vocabulary.product_types:
        return []
    # The commonest types first, then a sample of the rest: the long tail is covered by the lookup.
    nouns = vocabulary.product_types[:limit]
    examples: list[str] = []
    for noun in nouns:
        marked = _entity(noun, "product_category")
        examples.append(rng.choice(SEARCH_TEMPLATES).format(noun=marked))
        choice = rng.random()
        brands, colors, prices = (
            vocabulary.brands_of.get(noun, []),
            vocabulary.colors_of.get(noun, []),
            vocabulary.prices_of.get(noun, []),
        )
        if brands and choice < 0.2:
            brand = rng.choice(brands)
            examples.append(rng.choice(BRAND_TEMPLATES).format(brand=_entity(brand, "brand"), noun=marked))
        elif colors and choice < 0.4:
            color = rng.choice(colors)
            examples.append(rng.choice(COLOR_TEMPLATES).format(color=_entity(color, "color"), noun=marked))
        elif prices and choice < 0.55:
            price = str(rng.choice(prices))
            examples.append(
                rng.choice(PRICE_TEMPLATES).format(
                    noun=marked,
                    price=_entity(price, "price_max"),
                    sign=currency_sign(vocabulary.currency),
                    unit=currency_unit(vocabulary.currency),
                )
            )
        elif (attributes := vocabulary.attributes_of.get(noun, [])) and choice < 0.7:
            examples.append(rng.choice(ATTRIBUTE_TEMPLATES).format(attribute=rng.choice(attributes), noun=marked))
    unique = list(dict.fromkeys(examples))
    rng.shuffle(unique)
    return unique[:limit]


def faq_examples(
    headings: Iterable[str], questions: Iterable[str], rng: random.Random, limit: int = MAX_FAQ_EXAMPLES
) -> list[str]:
    """`ask_faq` examples: the FAQ's own questions, and each section heading asked about in two
    phrasings ("Paying in instalments" -> "what is your policy on paying in instalments")."""
    examples = [q.lower() if rng.random() < 0.5 else q for q in questions]
    for heading in headings:
        topic = heading.strip().rstrip(".:").lower()
        if not topic or len(topic.split()) > 8:
            continue
        for template in rng.sample(FAQ_TEMPLATES, 2):
            examples.append(template.format(topic=topic))
    unique = list(dict.fromkeys(_yaml_safe(e) for e in examples))
    rng.shuffle(unique)
    return unique[:limit]


def _yaml_safe(text: str) -> str:
    # One example per line under a literal block: no newlines, and no leading character YAML reads specially.
    text = _clean(text)
    return text if not text.startswith(("-", "#", "[", "{", "!", "&", "*", "|", ">", "%", "@", "`")) else f"… {text}"


def _lookup_yaml(name: str, values: Sequence[str]) -> str:
    lines = [f"- lookup: {name}", "  examples: |"]
    lines += [f"    - {v}" for v in values]
    return "\n".join(lines)


GENERATED_KEY = "generated"


def _examples_yaml(intent: str, examples: Sequence[str]) -> str:
    # Marked, so the NLU component leaves these out of the slice that sets its out-of-scope
    # threshold: variations of one template are far closer to each other than shoppers' words.
    lines = [f"- intent: {intent}", "  metadata:", f"    {GENERATED_KEY}: true", "  examples: |"]
    lines += [f"    - {e}" for e in examples]
    return "\n".join(lines)


HEADER = (
    "# Generated by `python -m shop nlu-data` from the shop's catalog and knowledge base.\n"
    "# Not committed: `make train` regenerates it when the catalog, the KB or the order-number format changes.\n"
    'version: "3.1"\nnlu:\n'
)


def write_nlu_data(
    products: Sequence[dict[str, Any]], kb_folder: Path | None, out: Path, extra_nlu: Path | None = None, seed: int = 13
) -> NluDataReport:
    """Writes `out/shop_lookups.yml` and `out/shop_examples.yml` (and copies a shop's own NLU
    files from `extra_nlu`), and reports what was generated."""
    rng = random.Random(seed)
    vocabulary = catalog_vocabulary(products)
    headings, questions, problems = kb_topics(kb_folder) if kb_folder else ([], [], {})
    searches = search_examples(vocabulary, rng)
    faqs = faq_examples(headings, questions, rng)
    out.mkdir(parents=True, exist_ok=True)
    for stale in out.glob("*.yml"):
        stale.unlink()
    types = list(dict.fromkeys(v for t in vocabulary.product_types for v in number_variants(t)))
    lookups = {"product_category": types, "brand": vocabulary.brands, "color": vocabulary.colors}
    order_numbers = OrderNumberFormat.from_settings()
    files = [out / "shop_lookups.yml", out / "shop_examples.yml"]
    files[0].write_text(
        HEADER + "\n".join([order_numbers.nlu_yaml(), *(_lookup_yaml(n, v) for n, v in lookups.items() if v)]) + "\n",
        encoding="utf-8",
    )
    blocks = [_examples_yaml(i, e) for i, e in (("search_product", searches), ("ask_faq", faqs)) if e]
    files[1].write_text(HEADER + "\n".join(blocks) + "\n", encoding="utf-8")
    if extra_nlu:
        for path in sorted(extra_nlu.rglob("*.yml")):
            target = out / f"own_{path.relative_to(extra_nlu).as_posix().replace('/', '_')}"
            target.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
            files.append(target)
    sample_rng = random.Random(seed)
    return NluDataReport(
        lookups={n: len(v) for n, v in lookups.items()},
        examples={"search_product": len(searches), "ask_faq": len(faqs)},
        samples={
            "search_product": sample_rng.sample(searches, min(6, len(searches))),
            "ask_faq": sample_rng.sample(faqs, min(6, len(faqs))),
        },
        files=files,
        kb_problems=problems,
        order_numbers=order_numbers,
    )
