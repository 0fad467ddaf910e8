"""Seeded, reproducible demo shop: catalog, customers, orders and an interaction log.

``python -m shop generate [--out data] [--seed 7] [--today YYYY-MM-DD] [--database-url URL]``
writes ``<out>/catalog.jsonl`` (360 products, one JSON object per line, fixed key order; read by
search and the recommender), ``<out>/shop_meta.json`` (seed, reference date, row counts) and
(re)creates every table of the shop DB (``--database-url``, else ``SHOP_DATABASE_URL``, else
``sqlite:///<out>/shop.db``). Everything is invented. The same seed gives a byte-identical
catalog and the same customers, orders and statuses on any day; ``--today`` only moves their
dates (the same seed and ``--today`` give identical DB rows).

Fixture records, present whatever the seed (T = ``--today``, default the current UTC date;
all timestamps are naive UTC and lie before T 00:00):

    C0000 Ana Lopez  ana.lopez@example.com
      SO10001 placed      placed T-1 at 19:12, awaiting payment
      SO10002 paid        placed T-1 09:40, paid ten minutes later
      SO10003 shipped     shipped T-2 with UPS, tracking 1Z999AA10123456784, due T+2
      SO10004 delivered   delivered T-5 (inside the 30-day return window)
      SO10005 delivered   delivered T-60 (outside it)
      SO10006 cancelled   placed T-20, cancelled two hours later
      SO10007 returned    delivered T-40, return R-FIX10007 refunded
    C0001 Ben Okafor ben.okafor@example.com
      SO10008 delivered   delivered T-10

The interaction log (~40k rows: view, cart, purchase, rating) has learnable structure: each
customer prefers 1-3 categories, a price band, a few brands and tags; browsing comes in sessions
around one subcategory and its complements; item popularity is long-tailed (Zipf, boosted by
rating); some items trend in the last 30 days; order items are purchases at ``placed_at``, with
views and carts just before and some ratings after delivery. Complements
(``SUBCATEGORIES[...].goes_with``, e.g. trail running shoes -> running socks, hydration packs)
drive multi-item orders.

The catalog's word lists (subcategories with their phrases and tags, model names, brand
traits, review remarks, customer names) are data, in ``shop/demo_catalog.yml``.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any

import yaml
from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_OUT = ROOT / "data"

CATEGORIES = ("footwear", "clothing", "electronics", "home", "beauty", "sports")
BRANDS = {
    "footwear": ("Stridewell", "TrailForge", "Cloudstep", "UrbanSole"),
    "clothing": ("Northwind", "Loomly", "Basecamp", "Threadline"),
    "electronics": ("Voltix", "Auralis", "Pixelhaus", "Nimbus"),
    "home": ("Hearthly", "Casanova", "Brightnest", "Oakline"),
    "beauty": ("Glowra", "PureLeaf", "Velvetine", "Dermaluxe"),
    "sports": ("Peakform", "AquaDash", "IronPulse", "Rallypro"),
}
COLORS = (
    "black",
    "white",
    "red",
    "blue",
    "green",
    "grey",
    "navy",
    "brown",
    "pink",
    "beige",
    "yellow",
    "purple",
    "orange",
    "silver",
)
SHOE_SIZES = tuple(str(s) for s in range(36, 47))
CLOTHING_SIZES = ("XS", "S", "M", "L", "XL", "XXL")
CARRIERS = ("UPS", "FedEx", "USPS", "DHL")
N_CUSTOMERS = 400
N_ORDERS = 1200
TARGET_INTERACTIONS = 40_000
TRENDING_DAYS = 30


# ---- catalog vocabulary --------------------------------------------------------------------
# The word lists live in demo_catalog.yml (next to this module); its header says what each
# field means. They are read once, at import, into the structures below.

CATALOG_VOCABULARY = Path(__file__).with_name("demo_catalog.yml")


@dataclass(frozen=True)
class Phrase:
    """Words for a product description, the tags they imply and (features) a title word."""

    text: str
    tags: tuple[str, ...] = ()
    title_word: str | None = None


@dataclass(frozen=True)
class Sub:
    name: str
    category: str
    count: int
    price: tuple[float, float]
    title_nouns: tuple[str, ...]
    colors: tuple[str, ...]
    uses: tuple[Phrase, ...]
    materials: tuple[Phrase, ...]
    features: tuple[Phrase, ...]
    tags: tuple[str, ...]
    goes_with: tuple[str, ...]
    specialist_brands: tuple[str, ...]


def _phrase(entry: str | dict[str, Any]) -> Phrase:
    if isinstance(entry, str):
        return Phrase(entry)
    return Phrase(entry["text"], tuple(entry.get("tags", ())), entry.get("title_word"))


def _sub(category: str, row: dict[str, Any]) -> Sub:
    return Sub(
        name=row["name"],
        category=category,
        count=row["count"],
        price=(row["price"]["min"], row["price"]["max"]),
        title_nouns=tuple(row["title_nouns"]),
        colors=tuple(row["colors"]),
        uses=tuple(map(_phrase, row["uses"])),
        materials=tuple(map(_phrase, row["materials"])),
        features=tuple(map(_phrase, row["features"])),
        tags=tuple(row["tags"]),
        goes_with=tuple(row["goes_with"]),
        specialist_brands=tuple(row["specialist_brands"]),
    )


def _remarks(section: dict[str, Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(section["positive"]), tuple(section["negative"])


def _load_vocabulary(path: Path) -> dict[str, Any]:
    """The parsed data file, checked against the shop's fixed vocabulary (categories, brands, colors)."""
    with path.open(encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    problems = []
    if tuple(data["categories"]) != CATEGORIES:
        problems.append(f"categories must be {', '.join(CATEGORIES)} in that order")
    if set(data["brands"]) != {b for names in BRANDS.values() for b in names}:
        problems.append("brands must list exactly the brands of BRANDS")
    names = {row["name"] for c in data["categories"].values() for row in c["subcategories"]}
    for category, section in data["categories"].items():
        for row in section["subcategories"]:
            where = f"{category} / {row['name']}"
            problems += [f"{where}: unknown goes_with {n!r}" for n in row["goes_with"] if n not in names]
            problems += [
                f"{where}: {b!r} is not a {category} brand"
                for b in row["specialist_brands"]
                if b not in BRANDS.get(category, ())
            ]
            problems += [f"{where}: unknown color {c!r}" for c in row["colors"] if c not in COLORS]
    if problems:
        raise ValueError(f"{path}: " + "; ".join(problems))
    return data


_VOCABULARY = _load_vocabulary(CATALOG_VOCABULARY)
SUBCATEGORIES: list[Sub] = [
    _sub(category, row) for category, section in _VOCABULARY["categories"].items() for row in section["subcategories"]
]
SUB_BY_NAME = {s.name: s for s in SUBCATEGORIES}
MODEL_NAMES = {category: tuple(section["model_names"]) for category, section in _VOCABULARY["categories"].items()}
OPENERS = tuple(_VOCABULARY["product_openers"])
# Brand quality shifts the mean rating, so brands differ the way real ones do.
BRAND_QUALITY = {brand: b["rating_shift"] for brand, b in _VOCABULARY["brands"].items()}
BRAND_PRICE = {brand: b["price_factor"] for brand, b in _VOCABULARY["brands"].items() if "price_factor" in b}

# ---- review fragments ----------------------------------------------------------------------

# (positive, negative) remarks: ones that fit any product of the category, then ones that fit
# only one subcategory, so a review never praises the noise cancelling of a phone charger.
ASPECTS = {category: _remarks(section["review_remarks"]) for category, section in _VOCABULARY["categories"].items()}
SUB_ASPECTS = {
    row["name"]: _remarks(row["review_remarks"])
    for section in _VOCABULARY["categories"].values()
    for row in section["subcategories"]
}
OPENERS_5 = tuple(_VOCABULARY["reviews"]["openers"]["five_stars"])
OPENERS_4 = tuple(_VOCABULARY["reviews"]["openers"]["four_stars"])
OPENERS_3 = tuple(_VOCABULARY["reviews"]["openers"]["three_stars"])
OPENERS_NEG = tuple(_VOCABULARY["reviews"]["openers"]["one_or_two_stars"])
CLOSERS_POS = tuple(_VOCABULARY["reviews"]["closers"]["positive"])
CLOSERS_NEG = tuple(_VOCABULARY["reviews"]["closers"]["negative"])

FIRST_NAMES = tuple(_VOCABULARY["customer_names"]["first"])
LAST_NAMES = tuple(_VOCABULARY["customer_names"]["last"])
RETURN_REASONS = tuple(_VOCABULARY["return_reasons"])


# ---- helpers -------------------------------------------------------------------------------


def _an(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _join(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _price(rng: random.Random, lo: float, hi: float, brand: str) -> tuple[float, float]:
    """(price, where it sits in the subcategory's range: 0 cheap .. 1 dear)."""
    q = rng.betavariate(1.6, 2.2)
    raw = (lo + (hi - lo) * q) * BRAND_PRICE.get(brand, 1.0)
    cents = rng.choice((0.99, 0.99, 0.99, 0.49, 0.0))
    price = max(1, int(raw)) + cents
    return round(price if price >= 5 else 4.99, 2), q


def _review(rng: random.Random, stars: int, sub: Sub, use: str) -> str:
    """A short review whose tone follows ``stars``; remarks fit the subcategory more often than not."""
    (gpos, gneg), (spos, sneg) = ASPECTS[sub.category], SUB_ASPECTS[sub.name]

    def pos() -> str:
        return rng.choice(spos if rng.random() < 0.6 else gpos)

    def neg() -> str:
        return rng.choice(sneg if rng.random() < 0.6 else gneg)

    if stars == 5:
        parts = [rng.choice(OPENERS_5), pos(), pos() if rng.random() < 0.5 else f"Perfect {use}."]
        if rng.random() < 0.5:
            parts.append(rng.choice(CLOSERS_POS))
    elif stars == 4:
        parts = [
            rng.choice(OPENERS_4),
            pos(),
            f"Perfect {use}." if rng.random() < 0.5 else "Only downside: " + _lower_first(neg()),
        ]
    elif stars == 3:
        parts = [rng.choice(OPENERS_3), pos(), "But " + _lower_first(neg())]
    else:
        parts = [rng.choice(OPENERS_NEG), neg()]
        if stars == 1:
            parts += [neg() if rng.random() < 0.5 else f"Not great {use}, honestly.", rng.choice(CLOSERS_NEG)]
        elif rng.random() < 0.5:
            parts.append(pos().rstrip(".") + ", at least.")
    return " ".join(dict.fromkeys(parts))


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


def _stars(rng: random.Random, mean: float, spread: float) -> int:
    return max(1, min(5, round(rng.gauss(mean, spread))))


# ---- catalog -------------------------------------------------------------------------------


def build_catalog(seed: int) -> list[dict[str, Any]]:
    """360 products, ids P0001.. in category and subcategory order (stable across seeds)."""
    rng = random.Random(f"{seed}:catalog")
    products: list[dict[str, Any]] = []
    titles: set[str] = set()
    for category in CATEGORIES:
        for sub in (s for s in SUBCATEGORIES if s.category == category):
            weights = [4.0 if b in sub.specialist_brands else 1.0 for b in BRANDS[category]]
            for _ in range(sub.count):
                pid = f"P{len(products) + 1:04d}"
                brand = rng.choices(BRANDS[category], weights)[0]
                uses = rng.sample(sub.uses, min(len(sub.uses), rng.choice((1, 2))))
                material = rng.choice(sub.materials)
                features = rng.sample(sub.features, min(len(sub.features), rng.choice((2, 2, 3))))
                noun = rng.choice(sub.title_nouns)
                adj = next(
                    (f.title_word for f in features if f.title_word and f.title_word.lower() not in noun.lower()), None
                )
                title = ""
                for _attempt in range(50):
                    model = rng.choice(MODEL_NAMES[category])
                    if rng.random() < 0.45:
                        model += f" {rng.randint(2, 5)}"
                    title = " ".join(x for x in (brand, model, adj if rng.random() < 0.7 else None, noun) if x)
                    if title not in titles:
                        break
                titles.add(title)
                color = rng.choice(sub.colors)
                price, price_q = _price(rng, *sub.price, brand)

                use_texts = [u.text for u in uses]
                feature_texts = [f.text for f in features]
                tags = list(sub.tags)
                for phrase in (*uses, material, *features):
                    tags += phrase.tags
                if sub.category not in ("beauty",) and rng.random() < 0.12 and "gift" not in tags:
                    tags.append("gift")
                tags = list(dict.fromkeys(tags))

                plural = noun.endswith("s")
                opener = rng.choice(OPENERS)
                head = f"{opener} {noun.lower()}" if plural else f"{_an(opener)} {opener} {noun.lower()}"
                sentences = [
                    f"{head[:1].upper()}{head[1:]} {use_texts[0]}.",
                    f"Made with {material.text}.",
                    f"Features {_join(feature_texts)}.",
                ]
                if len(use_texts) > 1:
                    sentences.append(f"Also great {use_texts[1]}.")
                if category == "footwear":
                    lo = rng.choice((36, 36, 37, 38, 39))
                    hi = rng.randint(max(lo + 5, 42), 46)
                    sizes = [str(s) for s in range(lo, hi + 1)]
                    sentences.append(f"Available in EU sizes {lo}-{hi}, in {color}.")
                elif category == "clothing":
                    lo_i = rng.choice((0, 0, 1))
                    hi_i = rng.randint(max(lo_i + 3, 4), 5)
                    sizes = list(CLOTHING_SIZES[lo_i : hi_i + 1])
                    sentences.append(f"Available in sizes {sizes[0]}-{sizes[-1]}, in {color}.")
                else:
                    sizes = ["one size"]
                    sentences.append(
                        f"Finished in {color}." if category != "beauty" else f"Comes in {color} packaging."
                    )
                if "vegan" in tags:
                    sentences.append("Vegan: made without animal-derived materials.")
                if "gift" in tags:
                    sentences.append("Arrives in gift-ready packaging.")
                if "recycled" in tags and rng.random() < 0.6:
                    sentences.append("Part of our lower-impact range.")

                if rng.random() < 0.07:  # the occasional dud
                    rating = rng.gauss(2.6, 0.5)
                else:
                    rating = rng.gauss(4.05 + BRAND_QUALITY[brand], 0.45)
                rating = round(min(5.0, max(1.0, rating)), 1)
                reviews = []
                for _r in range(rng.randint(3, 5)):
                    stars = _stars(rng, rating, 1.05)
                    reviews.append({"text": _review(rng, stars, sub, rng.choice(use_texts)), "rating": stars})
                stock = 0 if rng.random() < 0.08 else min(500, int(rng.expovariate(1 / 60)) + 1)

                products.append(
                    {
                        "id": pid,
                        "title": title,
                        "description": " ".join(sentences),
                        "category": category,
                        "subcategory": sub.name,
                        "brand": brand,
                        "price": price,
                        "currency": "USD",
                        "color": color,
                        "sizes": sizes,
                        "stock": stock,
                        "rating": rating,
                        "rating_count": 0,
                        "reviews": reviews,
                        "tags": tags,
                        "image_url": f"/img/{pid}.svg",
                        "url": f"/product/{pid}",
                        "_price_q": price_q,
                    }
                )
    # Long-tailed popularity: Zipf over a random ranking, tilted towards well-rated items.
    ranking = list(range(len(products)))
    rng.shuffle(ranking)
    for rank, index in enumerate(ranking):
        p = products[index]
        p["_pop"] = (rank + 1) ** -0.95 * math.exp(0.9 * (p["rating"] - 4.0))
    total = sum(p["_pop"] for p in products)
    for p in products:
        p["rating_count"] = int(p["_pop"] / total * 60_000 * rng.uniform(0.6, 1.4)) + rng.randint(len(p["reviews"]), 8)
    return products


def public_product(p: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in p.items() if not k.startswith("_")}


def write_catalog(products: Sequence[dict[str, Any]], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="\n") as fh:
        for p in products:
            fh.write(json.dumps(public_product(p), ensure_ascii=False) + "\n")
    os.replace(tmp, path)


# ---- customers, orders, interactions -------------------------------------------------------


@dataclass
class Profile:
    """What drives one customer's behaviour (kept for tests and analysis; not stored)."""

    customer_id: str
    start: datetime
    categories: dict[str, float]
    brands: list[str]
    tags: list[str]
    band: str
    activity: float
    affinity: list[float] = field(default_factory=list)
    cum: list[float] = field(default_factory=list)
    cum_trending: list[float] = field(default_factory=list)


@dataclass
class ShopData:
    seed: int
    today: date
    catalog: list[dict[str, Any]]
    customers: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    order_items: list[dict[str, Any]]
    returns: list[dict[str, Any]]
    interactions: list[dict[str, Any]]
    profiles: dict[str, Profile]
    trending: list[str]

    def db_rows(self) -> dict[str, list[dict[str, Any]]]:
        products = [
            {
                "id": p["id"],
                "title": p["title"],
                "category": p["category"],
                "subcategory": p["subcategory"],
                "brand": p["brand"],
                "price": p["price"],
                "currency": p["currency"],
                "color": p["color"],
                "stock": p["stock"],
                "rating": p["rating"],
                "rating_count": p["rating_count"],
                "url": p["url"],
                "image_url": p["image_url"],
            }
            for p in self.catalog
        ]
        return {
            "customers": self.customers,
            "products": products,
            "orders": self.orders,
            "order_items": self.order_items,
            "returns": self.returns,
            "interactions": self.interactions,
        }

    def counts(self) -> dict[str, int]:
        return {name: len(rows) for name, rows in self.db_rows().items()}


def _band_fit(band: str, q: float) -> float:
    if band == "budget":
        return 1.0 if q <= 0.45 else 0.3
    if band == "premium":
        return 1.0 if q >= 0.5 else 0.3
    return 1.0 if 0.2 <= q <= 0.8 else 0.4


def _customers(rng: random.Random, now: datetime) -> list[dict[str, Any]]:
    rows = [
        {
            "id": "C0000",
            "name": "Ana Lopez",
            "email": "ana.lopez@example.com",
            "created_at": now - timedelta(days=420, hours=5),
        },
        {
            "id": "C0001",
            "name": "Ben Okafor",
            "email": "ben.okafor@example.com",
            "created_at": now - timedelta(days=300, hours=9),
        },
    ]
    emails = {r["email"] for r in rows}
    while len(rows) < N_CUSTOMERS:
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        base = f"{first}.{last}".lower()
        email, n = f"{base}@example.com", 2
        while email in emails:
            email, n = f"{base}{n}@example.com", n + 1
        emails.add(email)
        created = now - timedelta(days=rng.uniform(20, 900))
        rows.append(
            {
                "id": f"C{len(rows):04d}",
                "name": f"{first} {last}",
                "email": email,
                "created_at": created.replace(microsecond=0),
            }
        )
    return rows


def _profiles(
    rng: random.Random,
    customers: list[dict[str, Any]],
    catalog: list[dict[str, Any]],
    trending: set[int],
    now: datetime,
) -> dict[str, Profile]:
    cat_weight = {"footwear": 1.2, "clothing": 1.3, "electronics": 1.0, "home": 0.9, "beauty": 0.8, "sports": 0.8}
    profiles = {}
    year_ago = now - timedelta(days=365)
    for c in customers:
        n_pref = rng.choices((1, 2, 3), (0.3, 0.45, 0.25))[0]
        pool, chosen = list(CATEGORIES), []
        for _ in range(n_pref):
            pick = rng.choices(pool, [cat_weight[x] for x in pool])[0]
            pool.remove(pick)
            chosen.append(pick)
        cats = {x: 0.02 for x in CATEGORIES}
        for x, w in zip(chosen, (1.0, 0.6, 0.35), strict=False):
            cats[x] = w
        brand_pool = [b for x in chosen for b in BRANDS[x]]
        brands = rng.sample(brand_pool, min(len(brand_pool), rng.randint(1, 3)))
        tag_pool = [t for p in catalog if p["category"] in chosen for t in p["tags"]]
        tags = list(dict.fromkeys(rng.choice(tag_pool) for _ in range(rng.randint(1, 3))))
        band = rng.choices(("budget", "mid", "premium"), (0.35, 0.4, 0.25))[0]
        profile = Profile(
            c["id"], max(c["created_at"], year_ago), cats, brands, tags, band, activity=rng.lognormvariate(0.0, 0.8)
        )
        for p in catalog:
            a = p["_pop"] ** 0.9 * cats[p["category"]] * (3.0 if p["brand"] in brands else 1.0)
            a *= (1 + 0.7 * len(set(tags) & set(p["tags"]))) * _band_fit(band, p["_price_q"])
            profile.affinity.append(a)
        profile.cum = list(itertools.accumulate(profile.affinity))
        profile.cum_trending = list(
            itertools.accumulate(a * (6.0 if i in trending else 1.0) for i, a in enumerate(profile.affinity))
        )
        profiles[c["id"]] = profile
    return profiles


class _Sampler:
    """Draws products for a customer: overall, within a subcategory, or among complements."""

    def __init__(self, rng: random.Random, catalog: list[dict[str, Any]], trending: set[int], now: datetime) -> None:
        self.rng, self.catalog, self.trending = rng, catalog, trending
        self.trend_start = now - timedelta(days=TRENDING_DAYS)
        self.by_sub: dict[str, list[int]] = {}
        for i, p in enumerate(catalog):
            self.by_sub.setdefault(p["subcategory"], []).append(i)

    def _boost(self, i: int, ts: datetime) -> float:
        return 6.0 if i in self.trending and ts >= self.trend_start else 1.0

    def any(self, profile: Profile, ts: datetime) -> int:
        cum = profile.cum_trending if ts >= self.trend_start else profile.cum
        return bisect.bisect_right(cum, self.rng.random() * cum[-1])

    def in_sub(self, profile: Profile, sub: str, ts: datetime, exclude: Sequence[int] = ()) -> int | None:
        idx = [i for i in self.by_sub[sub] if i not in exclude]
        if not idx:
            return None
        weights = [profile.affinity[i] * self._boost(i, ts) + 1e-9 for i in idx]
        return self.rng.choices(idx, weights)[0]

    def complement(self, profile: Profile, anchor: int, ts: datetime, exclude: Sequence[int] = ()) -> int | None:
        sub = SUB_BY_NAME[self.catalog[anchor]["subcategory"]]
        return self.in_sub(profile, self.rng.choice(sub.goes_with), ts, exclude) if sub.goes_with else None


def _tracking(rng: random.Random, carrier: str) -> str:
    digits = lambda n: "".join(rng.choice("0123456789") for _ in range(n))  # noqa: E731
    if carrier == "UPS":
        return "1Z" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(16))
    if carrier == "USPS":
        return "9400" + digits(18)
    if carrier == "FedEx":
        return digits(12)
    return digits(10)


def _fixture_orders(catalog: list[dict[str, Any]], now: datetime) -> list[dict[str, Any]]:
    """The documented orders tests rely on (see the module docstring). Items are the first
    products of fixed subcategories, so only their titles and prices vary with the seed."""
    first: dict[str, list[int]] = {}
    for i, p in enumerate(catalog):
        first.setdefault(p["subcategory"], []).append(i)

    def d(days: float, hours: float = 0.0, minutes: float = 0.0) -> datetime:
        return now - timedelta(days=days) + timedelta(hours=hours, minutes=minutes)

    return [
        {
            "id": "SO10001",
            "customer_id": "C0000",
            "status": "placed",
            "placed_at": d(1, 19, 12),
            "items": [(first["running shoes"][0], 1)],
            "eta": 7,
        },
        {
            "id": "SO10002",
            "customer_id": "C0000",
            "status": "paid",
            "placed_at": d(1, 9, 40),
            "paid_at": d(1, 9, 50),
            "items": [(first["bluetooth speaker"][0], 1), (first["phone charger"][0], 1)],
            "eta": 5,
        },
        {
            "id": "SO10003",
            "customer_id": "C0000",
            "status": "shipped",
            "placed_at": d(4, 10, 5),
            "paid_at": d(4, 10, 9),
            "shipped_at": d(2, 8, 30),
            "carrier": "UPS",
            "tracking_number": "1Z999AA10123456784",
            "items": [(first["trail running shoes"][0], 1), (first["running socks"][0], 2)],
            "eta": 6,
        },
        {
            "id": "SO10004",
            "customer_id": "C0000",
            "status": "delivered",
            "placed_at": d(11, 16, 20),
            "paid_at": d(11, 16, 22),
            "shipped_at": d(9, 11),
            "delivered_at": d(5, 14, 30),
            "carrier": "FedEx",
            "tracking_number": "612999901234",
            "items": [(first["rain jackets"][0], 1)],
            "eta": 6,
        },
        {
            "id": "SO10005",
            "customer_id": "C0000",
            "status": "delivered",
            "placed_at": d(66, 12),
            "paid_at": d(66, 12, 3),
            "shipped_at": d(64, 9),
            "delivered_at": d(60, 15, 45),
            "carrier": "USPS",
            "tracking_number": "9400111899223344556677",
            "items": [(first["yoga mats"][0], 1)],
            "eta": 6,
        },
        {
            "id": "SO10006",
            "customer_id": "C0000",
            "status": "cancelled",
            "placed_at": d(20, 18),
            "paid_at": d(20, 18, 5),
            "cancelled_at": d(20, 20),
            "items": [(first["headphones"][0], 1)],
            "eta": 6,
        },
        {
            "id": "SO10007",
            "customer_id": "C0000",
            "status": "returned",
            "placed_at": d(46, 8, 15),
            "paid_at": d(46, 8, 20),
            "shipped_at": d(44, 10),
            "delivered_at": d(40, 13),
            "carrier": "DHL",
            "tracking_number": "4012345678",
            "items": [(first["hiking boots"][0], 1)],
            "eta": 6,
            "return": {"id": "R-FIX10007", "reason": "Doesn't fit", "created_at": d(36, 9), "status": "refunded"},
        },
        {
            "id": "SO10008",
            "customer_id": "C0001",
            "status": "delivered",
            "placed_at": d(15, 11),
            "paid_at": d(15, 11, 2),
            "shipped_at": d(13, 9),
            "delivered_at": d(10, 12, 10),
            "carrier": "UPS",
            "tracking_number": "1Z999AA10987654321",
            "items": [(first["ceramic mugs"][0], 4)],
            "eta": 6,
        },
    ]


def _simulate_order(rng: random.Random, placed: datetime, now: datetime) -> dict[str, Any]:
    """Timestamps of each stage the order reached by ``now`` and the resulting status."""
    stages: dict[str, Any] = {"placed_at": placed}
    slow_payment = rng.random() < 0.2  # bank transfers wait for confirmation
    paid = placed + (timedelta(hours=rng.uniform(6, 60)) if slow_payment else timedelta(minutes=rng.uniform(1, 45)))
    r = rng.random()
    if r < 0.03:  # never paid: cancelled after three days
        cancel = placed + timedelta(days=3)
        if cancel <= now:
            stages.update(status="cancelled", cancelled_at=cancel)
        else:
            stages.update(status="placed")
        return stages
    if paid > now:
        return {**stages, "status": "placed"}
    stages["paid_at"] = paid
    shipped = paid + timedelta(hours=rng.uniform(10, 60))
    if r < 0.08:  # cancelled by the shopper before it shipped
        cancel = paid + (shipped - paid) * rng.uniform(0.05, 0.9)
        if cancel > now:
            return {**stages, "status": "paid"}
        return {**stages, "status": "cancelled", "cancelled_at": cancel}
    if shipped > now:
        return {**stages, "status": "paid"}
    carrier = rng.choices(CARRIERS, (0.35, 0.25, 0.3, 0.1))[0]
    stages.update(shipped_at=shipped, carrier=carrier, tracking_number=_tracking(rng, carrier))
    delivered = shipped + timedelta(hours=rng.uniform(30, 140))
    if delivered > now:
        return {**stages, "status": "shipped"}
    stages["delivered_at"] = delivered
    if rng.random() < 0.07:
        returned = delivered + timedelta(days=rng.uniform(3, 25))
        if returned <= now:
            stages["return"] = {"reason": rng.choice(RETURN_REASONS), "created_at": returned, "status": "refunded"}
            return {**stages, "status": "returned"}
    return {**stages, "status": "delivered"}


ROWS_KEY = "2026-12-05"


def build(seed: int = 7, today: date | None = None, progress: bool = False) -> ShopData:
    """All the demo data in memory (no I/O)."""
    today = today or datetime.now(timezone.utc).date()
    now = datetime.combine(today, time.min)  # naive UTC: every timestamp lies before today 00:00
    catalog = build_catalog(seed)
    # The draw depends on the seed alone; only the dates move with `today`. So SO11152 is the
    # same customer's shipped order whichever day the shop is generated, and conversation tests
    # that name generated orders (tests/conversations) hold on any day. The key keeps the rows
    # the seed gave when it was first fixed, on 2026-12-05.
    rng = random.Random(f"{seed}:{ROWS_KEY}:shop")
    by_pop = sorted(range(len(catalog)), key=lambda i: -catalog[i]["_pop"])
    trending = set(rng.sample(by_pop[20:180], 14))
    customers = _customers(rng, now)
    profiles = _profiles(rng, customers, catalog, trending, now)
    sampler = _Sampler(rng, catalog, trending, now)
    events: list[tuple[datetime, int, dict[str, Any]]] = []

    def emit(ts: datetime, customer_id: str, i: int, event: str, value: float | None = None) -> None:
        row = {
            "customer_id": customer_id,
            "product_id": catalog[i]["id"],
            "event": event,
            "value": value,
            "ts": ts.replace(microsecond=0),
            "sender_id": None,
        }
        events.append((row["ts"], len(events), row))

    # -- orders: fixtures, then ~1200 in total from the customers' preferences ---------------
    raw_orders = [{**o, "fixture": True} for o in _fixture_orders(catalog, now)]
    shoppers = [c["id"] for c in customers[2:]]
    shopper_weights = [profiles[c].activity ** 0.8 for c in shoppers]
    generated = []
    for _ in range(N_ORDERS - len(raw_orders)):
        cid = rng.choices(shoppers, shopper_weights)[0]
        profile = profiles[cid]
        span = (now - timedelta(hours=2) - profile.start).total_seconds()
        placed = (profile.start + timedelta(seconds=span * rng.random() ** 0.8)).replace(microsecond=0)
        first = sampler.any(profile, placed)
        items = [first]
        for _extra in range(rng.choices((0, 1, 2, 3), (0.58, 0.29, 0.10, 0.03))[0]):
            nxt = sampler.complement(profile, items[-1], placed, items) if rng.random() < 0.6 else None
            nxt = nxt if nxt is not None else sampler.any(profile, placed)
            if nxt not in items:
                items.append(nxt)
        quantities = [(i, 2 if catalog[i]["price"] < 40 and rng.random() < 0.15 else 1) for i in items]
        generated.append(
            {"customer_id": cid, "items": quantities, "eta": rng.randint(4, 7), **_simulate_order(rng, placed, now)}
        )
    generated.sort(key=lambda o: o["placed_at"])
    for n, o in enumerate(generated):
        o["id"] = f"SO{10009 + n}"
    orders, order_items, returns = [], [], []
    for o in [*raw_orders, *generated]:
        lines = []
        for i, qty in o["items"]:
            unit = catalog[i]["price"]
            if "fixture" not in o and rng.random() < 0.12:  # a sale price now and then
                unit = round(unit * rng.choice((0.8, 0.85, 0.9)), 2)
            lines.append(
                {
                    "order_id": o["id"],
                    "product_id": catalog[i]["id"],
                    "title": catalog[i]["title"],
                    "quantity": qty,
                    "unit_price": unit,
                }
            )
        order_items += lines
        orders.append(
            {
                "id": o["id"],
                "customer_id": o["customer_id"],
                "status": o["status"],
                "placed_at": o["placed_at"],
                "paid_at": o.get("paid_at"),
                "shipped_at": o.get("shipped_at"),
                "delivered_at": o.get("delivered_at"),
                "cancelled_at": o.get("cancelled_at"),
                "carrier": o.get("carrier"),
                "tracking_number": o.get("tracking_number"),
                "estimated_delivery": None
                if o["status"] == "cancelled"
                else (o["placed_at"] + timedelta(days=o["eta"])).date(),
                "total": round(sum(x["unit_price"] * x["quantity"] for x in lines), 2),
            }
        )
        if "return" in o:
            ret = o["return"]
            returns.append(
                {
                    "id": ret.get("id") or f"R-{rng.getrandbits(32):08X}",
                    "order_id": o["id"],
                    "reason": ret["reason"],
                    "created_at": ret["created_at"],
                    "status": ret["status"],
                }
            )
        # The purchase funnel around the order: views and carts just before, ratings after delivery.
        profile, placed = profiles[o["customer_id"]], o["placed_at"]
        for i, _qty in o["items"]:
            for _v in range(rng.randint(1, 2)):
                emit(placed - timedelta(minutes=rng.uniform(8, 120)), o["customer_id"], i, "view")
            for _alt in range(rng.randint(0, 3)):
                alt = sampler.in_sub(profile, catalog[i]["subcategory"], placed, [i])
                if alt is not None:
                    emit(placed - timedelta(minutes=rng.uniform(8, 150)), o["customer_id"], alt, "view")
            emit(placed - timedelta(minutes=rng.uniform(1, 7)), o["customer_id"], i, "cart")
            emit(placed, o["customer_id"], i, "purchase")
            delivered = o.get("delivered_at")
            if delivered is not None and rng.random() < 0.35:
                ts = delivered + timedelta(days=rng.uniform(1, 14))
                if ts < now:
                    penalty = 1.5 if o["status"] == "returned" else 0.0
                    emit(ts, o["customer_id"], i, "rating", float(_stars(rng, catalog[i]["rating"] - penalty, 0.9)))

    # -- browsing sessions: the bulk of the log ------------------------------------------------
    budget = TARGET_INTERACTIONS - len(events)
    per_session = 4.4  # views + carts a session yields on average (measured)
    total_activity = sum(p.activity for p in profiles.values())
    for c in tqdm(customers, desc="interactions", unit="customer", disable=not progress):
        profile = profiles[c["id"]]
        n_sessions = max(1, round(budget / per_session * profile.activity / total_activity))
        span = (now - timedelta(minutes=30) - profile.start).total_seconds()
        for _s in range(n_sessions):
            ts = profile.start + timedelta(seconds=span * rng.random() ** 0.75)
            anchor = sampler.any(profile, ts)
            viewed = [anchor]
            for _v in range(min(11, int(rng.expovariate(1 / 3.8)))):
                r = rng.random()
                nxt = None
                if r < 0.55:
                    nxt = sampler.in_sub(profile, catalog[anchor]["subcategory"], ts, viewed[-1:])
                elif r < 0.75:
                    nxt = sampler.complement(profile, anchor, ts)
                viewed.append(nxt if nxt is not None else sampler.any(profile, ts))
            for i in viewed:
                ts += timedelta(seconds=rng.uniform(15, 240))
                emit(ts, c["id"], i, "view")
                if rng.random() < (0.09 if catalog[i]["brand"] in profile.brands else 0.05):
                    emit(ts + timedelta(seconds=rng.uniform(5, 60)), c["id"], i, "cart")
    events.sort(key=lambda e: (e[0], e[1]))
    interactions = [e[2] for e in events if e[0] < now]
    return ShopData(
        seed,
        today,
        catalog,
        customers,
        orders,
        order_items,
        returns,
        interactions,
        profiles,
        sorted(catalog[i]["id"] for i in trending),
    )


def generate(
    out: Path | str = DEFAULT_OUT,
    seed: int = 7,
    today: date | None = None,
    database_url: str | None = None,
    progress: bool = True,
) -> dict[str, Any]:
    """Writes the catalog and meta files into ``out`` and fills the shop DB; returns the summary."""
    from shop.db import ShopDB
    from shop.settings import configured_database_url

    out = Path(out)
    data = build(seed, today, progress)
    write_catalog(data.catalog, out / "catalog.jsonl")
    url = database_url or configured_database_url() or f"sqlite:///{(out / 'shop.db').resolve()}"
    db = ShopDB(url)
    db.load_demo_data(data.db_rows())
    db.dispose()
    meta = {"seed": seed, "today": data.today.isoformat(), "counts": data.counts(), "trending": data.trending}
    (out / "shop_meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return {**meta, "database": repr(db)}
