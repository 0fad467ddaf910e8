"""The seeded demo shop: determinism, catalog shape, orders, fixtures and interaction structure."""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime, time, timedelta

import pytest
import yaml

from retrieval.catalog import FIELDS
from shop.db import ShopDB, table_rows
from shop.generate import (
    BRANDS,
    CATALOG_VOCABULARY,
    CATEGORIES,
    CLOTHING_SIZES,
    COLORS,
    OPENERS_5,
    OPENERS_NEG,
    ROOT,
    SHOE_SIZES,
    SUB_BY_NAME,
    _load_vocabulary,
    build,
    build_catalog,
)
from tests.shop.conftest import SEED, TODAY

NOW = datetime.combine(TODAY, time.min)
TABLES = ["customers", "products", "orders", "order_items", "returns", "interactions"]


@pytest.fixture(scope="module")
def catalog(generated):
    lines = (generated.out / "catalog.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def generate_cli(out, *options: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m shop generate --out OUT OPTIONS --no-progress`, as a shop owner runs it."""
    return subprocess.run(
        [sys.executable, "-m", "shop", "generate", "--out", str(out), *options, "--no-progress"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


# ---- determinism -----------------------------------------------------------------------------


def test_same_seed_and_date_give_identical_files_and_rows(generated, tmp_path):
    # A second process with another hash seed: nothing may depend on set or dict-hash order.
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    proc = generate_cli(
        tmp_path,
        "--seed",
        str(SEED),
        "--today",
        TODAY.isoformat(),
        "--database-url",
        url,
        env={**os.environ, "PYTHONHASHSEED": "12345"},
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "catalog.jsonl").read_bytes() == (generated.out / "catalog.jsonl").read_bytes()
    assert (tmp_path / "shop_meta.json").read_bytes() == (generated.out / "shop_meta.json").read_bytes()
    first, second = ShopDB(generated.url), ShopDB(url)
    for table in TABLES:
        assert table_rows(first, table) == table_rows(second, table), table


def test_catalog_depends_on_the_seed_only(shop_data):
    assert build_catalog(SEED) == shop_data.catalog
    assert build(SEED, TODAY - timedelta(days=3)).catalog == shop_data.catalog
    other = build_catalog(SEED + 1)
    assert [p["title"] for p in other] != [p["title"] for p in shop_data.catalog]
    assert [p["subcategory"] for p in other] == [p["subcategory"] for p in shop_data.catalog]


def test_orders_and_their_customers_do_not_depend_on_the_day(shop_data):
    """Tests that name generated orders (the conversation set's SO11152) hold on any day: only
    the dates move."""
    later = build(SEED, TODAY + timedelta(days=40))

    def rows(data):
        emails = {c["id"]: c["email"] for c in data.customers}
        return [(o["id"], emails[o["customer_id"]], o["status"], o["total"]) for o in data.orders]

    assert rows(later) == rows(shop_data)
    assert later.orders[-1]["placed_at"] - shop_data.orders[-1]["placed_at"] == timedelta(days=40)


# ---- catalog ---------------------------------------------------------------------------------


def test_catalog_has_every_field_in_a_fixed_order(catalog):
    assert len(catalog) == 360
    assert [p["id"] for p in catalog] == [f"P{n:04d}" for n in range(1, 361)]
    for p in catalog:
        assert tuple(p) == FIELDS
    assert len({p["title"] for p in catalog}) == len(catalog)


def test_categories_brands_colors_and_sizes_follow_the_vocabulary(catalog):
    assert Counter(p["category"] for p in catalog) == {c: 60 for c in CATEGORIES}
    for p in catalog:
        assert p["brand"] in BRANDS[p["category"]]
        assert p["color"] in COLORS
        assert SUB_BY_NAME[p["subcategory"]].category == p["category"]
        assert p["currency"] == "USD"
        assert p["image_url"] == f"/img/{p['id']}.svg" and p["url"] == f"/product/{p['id']}"
        if p["category"] == "footwear":
            assert set(p["sizes"]) <= set(SHOE_SIZES) and len(p["sizes"]) >= 5
        elif p["category"] == "clothing":
            assert set(p["sizes"]) <= set(CLOTHING_SIZES) and len(p["sizes"]) >= 4
        else:
            assert p["sizes"] == ["one size"]
    # Each brand sells in its category, and each category has at least 5 subcategories.
    assert {p["brand"] for p in catalog} == {b for bs in BRANDS.values() for b in bs}
    for category in CATEGORIES:
        assert len({p["subcategory"] for p in catalog if p["category"] == category}) >= 5


def test_a_mistake_in_the_vocabulary_file_is_named(tmp_path):
    data = yaml.safe_load(CATALOG_VOCABULARY.read_text(encoding="utf-8"))
    running = data["categories"]["footwear"]["subcategories"][0]
    running["goes_with"].append("jetpacks")
    running["specialist_brands"].append("Voltix")
    bad = tmp_path / CATALOG_VOCABULARY.name
    bad.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    with pytest.raises(
        ValueError, match="footwear / running shoes: unknown goes_with 'jetpacks'.*'Voltix' is not a footwear brand"
    ):
        _load_vocabulary(bad)


def test_numbers_are_plausible(catalog):
    for p in catalog:
        lo, hi = SUB_BY_NAME[p["subcategory"]].price
        assert 0.75 * lo <= p["price"] <= 1.3 * hi, p
        assert round(p["price"], 2) == p["price"]
        assert isinstance(p["stock"], int) and p["stock"] >= 0
        assert 1.0 <= p["rating"] <= 5.0 and round(p["rating"], 1) == p["rating"]
        assert isinstance(p["rating_count"], int) and p["rating_count"] >= len(p["reviews"])
    assert any(p["stock"] == 0 for p in catalog) and sum(p["stock"] > 0 for p in catalog) > 300
    by_sub = defaultdict(list)
    for p in catalog:
        by_sub[p["subcategory"]].append(p["price"])
    assert statistics.median(by_sub["phone charger"]) < statistics.median(by_sub["headphones"])
    assert statistics.median(by_sub["ceramic mugs"]) < statistics.median(by_sub["coffee makers"])


def test_descriptions_and_tags_give_search_something_to_match(catalog):
    text = " ".join(p["description"] for p in catalog)
    for phrase in ("for trail running", "waterproof", "for the office", "for travel", "vegan", "Made with"):
        assert phrase in text
    for p in catalog:
        assert p["tags"] and len(p["tags"]) == len(set(p["tags"]))
        assert len(p["description"]) > 80
    tags = Counter(t for p in catalog for t in p["tags"])
    for tag in ("waterproof", "trail running", "gift", "vegan"):
        assert tags[tag] >= 5, tag
    trail = [p for p in catalog if p["subcategory"] == "trail running shoes"]
    assert all("trail running" in p["tags"] for p in trail)


def test_reviews_are_varied_and_their_sentiment_follows_the_rating_loosely(catalog):
    reviews = [(p, r) for p in catalog for r in p["reviews"]]
    for p in catalog:
        assert 3 <= len(p["reviews"]) <= 5
        for r in p["reviews"]:
            assert set(r) == {"text", "rating"} and r["rating"] in (1, 2, 3, 4, 5) and r["text"]
    texts = [r["text"] for _, r in reviews]
    assert len(set(texts)) > 0.9 * len(texts)
    negative = [r["text"] for _, r in reviews if r["rating"] <= 2]
    positive = [r["text"] for _, r in reviews if r["rating"] >= 4]
    assert len(negative) > 50 and len(positive) > 500
    assert all(t.startswith(OPENERS_NEG) for t in negative)
    assert sum(t.startswith(OPENERS_5) for t in positive) > 100
    # Correlated with the product rating ...
    ranked = sorted(catalog, key=lambda p: p["rating"])
    mean = lambda ps: statistics.mean(r["rating"] for p in ps for r in p["reviews"])  # noqa: E731
    assert mean(ranked[-90:]) > mean(ranked[:90]) + 1.0
    # ... but not perfectly: well-rated products get some critical reviews too.
    assert any(r["rating"] <= 3 for p in ranked[-90:] for r in p["reviews"])


# ---- customers and orders --------------------------------------------------------------------


def test_customers(shop_data):
    customers = shop_data.customers
    assert len(customers) == 400
    assert [c["id"] for c in customers] == [f"C{n:04d}" for n in range(400)]
    emails = [c["email"] for c in customers]
    assert len(set(emails)) == 400
    assert all(re.fullmatch(r"[a-z]+\.[a-z]+\d*@example\.com", e) for e in emails)
    assert all(c["created_at"] < NOW for c in customers)


def test_orders_have_realistic_statuses_and_consistent_dates(shop_data):
    orders, created = shop_data.orders, {c["id"]: c["created_at"] for c in shop_data.customers}
    assert 1100 <= len(orders) <= 1300
    assert all(re.fullmatch(r"SO\d{5}", o["id"]) for o in orders)
    assert len({o["id"] for o in orders}) == len(orders)
    statuses = Counter(o["status"] for o in orders)
    assert set(statuses) == {"placed", "paid", "shipped", "delivered", "cancelled", "returned"}
    assert statuses["delivered"] > len(orders) / 2
    for o in orders:
        assert NOW - timedelta(days=366) <= o["placed_at"] < NOW and o["placed_at"] >= created[o["customer_id"]]
        stamps = [o[k] for k in ("placed_at", "paid_at", "shipped_at", "delivered_at") if o[k] is not None]
        assert stamps == sorted(stamps) and all(s < NOW for s in stamps)
        reached = {"placed": 0, "paid": 1, "shipped": 2, "delivered": 3, "returned": 3}.get(o["status"])
        if reached is not None:
            assert len(stamps) == reached + 1, o
        has_tracking = o["status"] in ("shipped", "delivered", "returned")
        assert bool(o["tracking_number"]) == has_tracking and bool(o["carrier"]) == has_tracking
        assert (o["cancelled_at"] is not None) == (o["status"] == "cancelled")
    # Recent orders are still on their way; older ones were delivered.
    recent = [o for o in orders if o["placed_at"] >= NOW - timedelta(days=2)]
    assert recent and all(o["status"] in ("placed", "paid", "shipped", "cancelled") for o in recent)
    assert all(
        o["status"] not in ("placed", "paid", "shipped") for o in orders if o["placed_at"] < NOW - timedelta(days=15)
    )
    delivered_age = [(NOW - o["delivered_at"]).days for o in orders if o["status"] == "delivered"]
    assert sum(a < 30 for a in delivered_age) >= 20 and sum(a > 30 for a in delivered_age) >= 100


def test_order_items_and_totals(shop_data):
    prices = {p["id"]: p["price"] for p in shop_data.catalog}
    items = defaultdict(list)
    for it in shop_data.order_items:
        items[it["order_id"]].append(it)
        assert it["quantity"] >= 1 and 0 < it["unit_price"] <= prices[it["product_id"]]
    for o in shop_data.orders:
        lines = items[o["id"]]
        assert lines and len({x["product_id"] for x in lines}) == len(lines)
        assert o["total"] == pytest.approx(sum(x["unit_price"] * x["quantity"] for x in lines))
    assert sum(len(v) > 1 for v in items.values()) > 200
    returned = {o["id"] for o in shop_data.orders if o["status"] == "returned"}
    assert {r["order_id"] for r in shop_data.returns} == returned


FIXTURES = {
    "SO10001": ("C0000", "placed"),
    "SO10002": ("C0000", "paid"),
    "SO10003": ("C0000", "shipped"),
    "SO10004": ("C0000", "delivered"),
    "SO10005": ("C0000", "delivered"),
    "SO10006": ("C0000", "cancelled"),
    "SO10007": ("C0000", "returned"),
    "SO10008": ("C0001", "delivered"),
}


@pytest.mark.parametrize("seed", [SEED, 12345])
def test_fixture_records_are_present_whatever_the_seed(shop_data, seed):
    data = shop_data if seed == SEED else build(seed, TODAY)
    customers = {c["id"]: c for c in data.customers}
    assert (customers["C0000"]["name"], customers["C0000"]["email"]) == ("Ana Lopez", "ana.lopez@example.com")
    assert (customers["C0001"]["name"], customers["C0001"]["email"]) == ("Ben Okafor", "ben.okafor@example.com")
    orders = {o["id"]: o for o in data.orders}
    for order_id, (customer_id, status) in FIXTURES.items():
        assert (orders[order_id]["customer_id"], orders[order_id]["status"]) == (customer_id, status)
    assert {o["id"] for o in data.orders if o["customer_id"] in ("C0000", "C0001")} == set(FIXTURES)
    assert orders["SO10001"]["paid_at"] is None
    assert orders["SO10003"]["tracking_number"] == "1Z999AA10123456784" and orders["SO10003"]["carrier"] == "UPS"
    assert orders["SO10003"]["estimated_delivery"] >= TODAY
    assert orders["SO10004"]["delivered_at"].date() == TODAY - timedelta(days=5)
    assert orders["SO10005"]["delivered_at"].date() == TODAY - timedelta(days=60)
    assert orders["SO10008"]["delivered_at"].date() == TODAY - timedelta(days=10)
    assert [r["id"] for r in data.returns if r["order_id"] == "SO10007"] == ["R-FIX10007"]
    subs = {p["id"]: p["subcategory"] for p in data.catalog}
    so3 = [subs[i["product_id"]] for i in data.order_items if i["order_id"] == "SO10003"]
    assert so3 == ["trail running shoes", "running socks"]


# ---- interactions ----------------------------------------------------------------------------


def test_interaction_log_size_events_and_order(shop_data):
    log = shop_data.interactions
    assert 30_000 <= len(log) <= 50_000
    events = Counter(r["event"] for r in log)
    assert set(events) == {"view", "cart", "purchase", "rating"}
    assert events["view"] > events["cart"] > events["purchase"] > events["rating"] > 100
    assert [r["ts"] for r in log] == sorted(r["ts"] for r in log)
    assert all(NOW - timedelta(days=367) <= r["ts"] < NOW for r in log)
    assert all(1 <= r["value"] <= 5 for r in log if r["event"] == "rating")
    assert all(r["value"] is None for r in log if r["event"] != "rating")


def test_purchases_are_exactly_the_order_items_at_placed_at(shop_data):
    placed = {o["id"]: (o["customer_id"], o["placed_at"]) for o in shop_data.orders}
    expected = Counter((*placed[i["order_id"]], i["product_id"]) for i in shop_data.order_items)
    purchases = Counter(
        (r["customer_id"], r["ts"], r["product_id"]) for r in shop_data.interactions if r["event"] == "purchase"
    )
    assert purchases == expected
    # Every purchase follows a cart of the same item by the same customer.
    carts = defaultdict(list)
    for r in shop_data.interactions:
        if r["event"] == "cart":
            carts[(r["customer_id"], r["product_id"])].append(r["ts"])
    for customer_id, ts, product_id in purchases:
        assert any(t <= ts for t in carts[(customer_id, product_id)])


def test_customers_concentrate_on_their_preferred_categories(shop_data):
    category = {p["id"]: p["category"] for p in shop_data.catalog}
    per_customer = defaultdict(list)
    for r in shop_data.interactions:
        per_customer[r["customer_id"]].append(category[r["product_id"]])
    top2, preferred = [], []
    for customer_id, cats in per_customer.items():
        if len(cats) < 20:
            continue
        top2.append(sum(n for _, n in Counter(cats).most_common(2)) / len(cats))
        prefs = {c for c, w in shop_data.profiles[customer_id].categories.items() if w > 0.1}
        preferred.append(sum(c in prefs for c in cats) / len(cats))
    assert len(top2) > 300
    assert statistics.mean(top2) > 0.7  # uniform browsing would give 2/6
    assert statistics.mean(preferred) > 0.8


def test_popularity_is_long_tailed(shop_data):
    counts = sorted(Counter(r["product_id"] for r in shop_data.interactions).values(), reverse=True)
    assert len(counts) >= 340  # the tail is long, not missing
    assert sum(counts[:36]) / sum(counts) > 0.3
    assert counts[0] > 5 * statistics.median(counts)


def test_complements_are_bought_together(shop_data):
    sub = {p["id"]: p["subcategory"] for p in shop_data.catalog}
    baskets = defaultdict(set)
    for it in shop_data.order_items:
        baskets[it["order_id"]].add(sub[it["product_id"]])
    multi = [b for b in baskets.values() if len(b) > 1]
    with_complement = [b for b in multi if any(set(SUB_BY_NAME[s].goes_with) & b for s in b)]
    assert len(with_complement) / len(multi) > 0.5
    trail = [b for b in baskets.values() if "trail running shoes" in b and len(b) > 1]
    assert (
        trail and sum(bool({"running socks", "hydration packs", "rain jackets"} & b) for b in trail) / len(trail) > 0.4
    )


def test_trending_items_gain_share_in_the_last_month(shop_data):
    trending, cutoff = set(shop_data.trending), NOW - timedelta(days=30)
    recent = [r["product_id"] in trending for r in shop_data.interactions if r["ts"] >= cutoff]
    older = [r["product_id"] in trending for r in shop_data.interactions if r["ts"] < cutoff]
    assert statistics.mean(recent) > 2 * statistics.mean(older)


def test_ratings_follow_product_quality(shop_data):
    rating = {p["id"]: p["rating"] for p in shop_data.catalog}
    pairs = [(rating[r["product_id"]], r["value"]) for r in shop_data.interactions if r["event"] == "rating"]
    good = [v for q, v in pairs if q >= 4.3]
    poor = [v for q, v in pairs if q < 3.5]
    assert good and poor and statistics.mean(good) > statistics.mean(poor) + 0.8


# ---- the command line ------------------------------------------------------------------------


def test_cli_generates_and_reports(tmp_path):
    proc = generate_cli(
        tmp_path, "--seed", "3", "--today", "2024-02-29", "--database-url", f"sqlite:///{tmp_path / 'x.db'}"
    )
    assert proc.returncode == 0, proc.stderr
    assert "1200 orders" in proc.stdout
    assert (tmp_path / "catalog.jsonl").exists() and (tmp_path / "x.db").exists()
    meta = json.loads((tmp_path / "shop_meta.json").read_text())
    assert meta["seed"] == 3 and meta["today"] == "2024-02-29"
    assert ShopDB(f"sqlite:///{tmp_path / 'x.db'}").get_order("SO10004").delivered_at.date().isoformat() == "2024-02-24"


@pytest.mark.parametrize("args", [["--today", "yesterday"], ["--seed", "x"], []])
def test_cli_rejects_bad_arguments_clearly(args):
    cmd = [sys.executable, "-m", "shop", *(["generate", *args] if args else [])]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "usage:" in proc.stderr and "Traceback" not in proc.stderr
