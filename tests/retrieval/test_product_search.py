"""Catalog ingest and product search on the demo catalog: filters, relaxation, incremental ingest."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import replace

import pytest

from retrieval.catalog import CatalogError, load_mapping, product_colors, product_text, read_catalog
from retrieval.product_index import ProductFilters, ProductIndex, ProductIndexMissingError
from retrieval.product_search import ProductSearch, SearchRequest, entity_values, parse_price, refinement
from retrieval.text import tokens
from shop.money import product_price


@pytest.fixture(scope="module")
def search(demo_products):
    return ProductSearch(demo_products)


@pytest.mark.parametrize(
    ("request_", "check"),
    [
        (
            SearchRequest("running shoes", category="running shoes", price_max="under 100"),
            lambda p: p["price"] <= 100 and p["subcategory"] == "running shoes",
        ),
        (SearchRequest("headphones", brand="Auralis"), lambda p: p["brand"] == "Auralis"),
        (
            SearchRequest("hoodie", category="hoodies", color="navy"),
            lambda p: p["color"] == "navy" and "hood" in p["subcategory"],
        ),
        (
            SearchRequest("", category="electronics", price_min=50, price_max=120),
            lambda p: p["category"] == "electronics" and 50 <= p["price"] <= 120,
        ),
        (
            SearchRequest("a gift", category="shoes", size="41"),
            lambda p: p["category"] == "footwear" and "41" in p["sizes"],
        ),
    ],
)
def test_every_result_honours_the_hard_filters(search, request_, check):
    result = search.search(request_, k=10, relax=False)
    assert result.hits and not result.relaxed and result.exact == len(result.hits)
    assert all(check(hit.product) for hit in result.hits)
    assert all(hit.product["stock"] > 0 for hit in result.hits)


def test_near_matches_follow_the_few_exact_ones_labelled_and_inside_price_and_brand(search):
    request = SearchRequest("yoga mat", category="yoga mats", color="grey", price_max=80)
    result = search.search(request, k=4)
    exact = [h.product for h in result.hits[: result.exact]]
    assert exact and all(p["color"] == "grey" and p["subcategory"] == "yoga mats" for p in exact)
    assert result.near and result.widened == "color" and result.wanted == "grey"
    assert all(h.product["color"] != "grey" and h.product["subcategory"] == "yoga mats" for h in result.near)
    assert all(h.product["price"] <= 80 and h.product["stock"] > 0 for h in result.hits)
    assert len({h.product["id"] for h in result.hits}) == len(result.hits) == 4
    # the next page carries on down the near matches: nothing repeated, none skipped
    more = search.search(request, k=4, offset=4)
    assert (
        more.exact == 0
        and more.near
        and not {h.product["id"] for h in more.hits} & {h.product["id"] for h in result.hits}
    )
    every_near = search.search(replace(request, color=None), k=20, relax=False).hits
    every_near = [h.product["id"] for h in every_near if h.product["color"] != "grey"]
    assert [h.product["id"] for h in result.near + more.near] == every_near[: len(result.near) + len(more.near)]
    # a brand is never widened: only that brand's products, however few
    brand = search.search(SearchRequest("headphones", category="headphones", brand="Auralis"), k=10)
    assert brand.widened == "subcategory" and all(h.product["brand"] == "Auralis" for h in brand.hits)
    assert all(h.product["category"] == "electronics" for h in brand.near)
    # nor a size: a shoe that does not fit is no alternative
    sized = search.search(SearchRequest("boots", category="hiking boots", size="43", price_max=150), k=10)
    assert sized.near and sized.widened == "subcategory"
    assert all("43" in h.product["sizes"] and h.product["category"] == "footwear" for h in sized.hits)
    # no colour or product type to widen: the exact matches alone
    plain = search.search(SearchRequest("", brand="Auralis", price_max=40), k=10)
    assert plain.exact == len(plain.hits) and not plain.near


def test_a_colour_the_nlu_found_in_a_product_name_is_not_a_colour(search):
    # "vitamin c serum": the NLU has tagged "c" as a colour
    result = search.search(SearchRequest("vitamin c serum", color="c"), k=5)
    assert result.filters.color is None and not result.relaxed
    assert all("serum" in h.product["subcategory"] for h in result.hits)
    # a real colour the shop does not stock is still named when it is left out
    teal = search.search(SearchRequest("hoodie", category="hoodies", color="teal"), k=3)
    assert teal.relaxed == ["the colour (teal)"]


def test_colour_words_side_by_side_are_one_colour_and_its_shade_filters(search):
    text = "sage green dk wool, or red or blue"
    spans = [
        {"entity": "color", "value": word, "start": text.index(word), "end": text.index(word) + len(word)}
        for word in ("sage", "green")
    ]
    assert entity_values(spans)["color"] == "sage green"
    apart = [
        {"entity": "color", "value": word, "start": text.index(word), "end": text.index(word) + len(word)}
        for word in ("red", "blue")
    ]
    assert entity_values(apart)["color"] == "blue"
    # The shade before the hue is the more specific colour; "dark" is no colour at all.
    assert search.catalog_color("navy blue") == "navy"
    assert search.catalog_color("Dark green") == "green"
    assert search.catalog_color("c") is None and search.catalog_color(None) is None
    assert search.filters_for(SearchRequest("hoodie", category="hoodies", color="dark grey")).color == "grey"


def test_a_kind_the_message_names_beside_the_nlus_own_widens_the_search_to_their_department(search):
    # The NLU took "running shoes"; the message names "trail running shoes" in full as well.
    request = SearchRequest("trail running shoes", category="running shoes")
    filters = search.filters_for(request)
    assert (filters.category, filters.subcategory) == ("footwear", None)
    assert "trail" in search.search(request, k=1).hits[0].product["subcategory"]
    # A kind sharing no word with the NLU's is context, not a rival.
    assert (
        search.filters_for(SearchRequest("jeans to go with my hiking boots", category="jeans")).subcategory == "jeans"
    )
    assert search.filters_for(SearchRequest("running shoes", category="running shoes")).subcategory == "running shoes"


def test_the_query_words_rank_the_filtered_products(search):
    hits = search.search(SearchRequest("waterproof trail shoes", category="footwear"), k=3).hits
    assert all("trail" in h.product["subcategory"] for h in hits)
    assert "Waterproof" in hits[0].product["title"]
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)


def test_nothing_matching_relaxes_one_constraint_and_names_it(search):
    result = search.search(SearchRequest("sneakers", category="sneakers", color="pink", price_max=20), k=5)
    assert result.relaxed == ["the price limit (under $20)"]
    assert result.hits and all(
        h.product["color"] == "pink" and h.product["subcategory"] == "sneakers" for h in result.hits
    )
    unknown_brand = search.search(SearchRequest("phone charger", category="electronics", brand="Acme"), k=3)
    assert unknown_brand.relaxed == ["the brand (Acme)"] and unknown_brand.hits


def test_the_constraint_just_asked_for_is_the_last_left_out(search):
    """ "in blue?" after "anything cheaper?": no blue one is that cheap, so the price limit goes,
    not the colour the shopper has just asked for."""
    products = [p for p in search.index.products if p["subcategory"] == "rain jackets"]
    cheapest = min(float(p["price"]) for p in products)
    color = next(
        c
        for c in sorted({p["color"] for p in products})
        if min(float(p["price"]) for p in products if p["color"] == c) > cheapest
    )
    request = SearchRequest("rain jackets", category="rain jackets", color=color, price_max=cheapest)
    assert search.search(request, k=5).relaxed == [f"the colour ({color})"]
    request.newest = ("color",)
    result = search.search(request, k=5)
    assert result.relaxed == [f"the price limit (under ${cheapest:g})"]
    assert result.hits and all(h.product["color"] == color for h in result.hits)


def test_words_a_follow_up_added_are_required_and_given_up_by_name_when_nothing_has_them(search):
    result = search.search(
        SearchRequest("headphones wireless", category="headphones", terms=["wireless"]), k=5, relax=False
    )
    assert result.hits and all("wireless" in tokens(product_text(h.product)) for h in result.hits)
    assert all(h.product["subcategory"] == "headphones" for h in result.hits)
    hooded = search.search(
        SearchRequest("jackets waterproof hood", category="jackets", terms=["waterproof", "hooded"]), k=10
    )
    assert hooded.hits and all({"waterproof", "hood"} <= set(tokens(product_text(h.product))) for h in hooded.hits)
    nowhere = search.search(SearchRequest("headphones cordless", category="headphones", terms=["cordless"]), k=5)
    assert nowhere.relaxed == ["the word “cordless”"] and nowhere.hits


def test_a_product_noun_of_several_subcategories_keeps_to_products_that_are_one(search):
    # "jackets" names no single subcategory (down jackets, rain jackets): the department alone
    # let a black hooded hoodie answer "hooded jackets in black"
    result = search.search(SearchRequest("hooded jackets", category="jackets", color="black"), k=10, relax=False)
    assert all("jacket" in h.product["title"].lower() for h in result.hits)
    jackets = search.search(SearchRequest("jackets", category="jackets"), k=50, relax=False).hits
    assert {h.product["subcategory"] for h in jackets} == {"down jackets", "rain jackets"}
    # the noun is matched on titles too: sun lotions are lotions
    lotions = {h.product["subcategory"] for h in search.search(SearchRequest("lotion", category="lotion"), k=50).hits}
    assert lotions == {"body lotion", "sunscreen"}
    # a department word stays the department
    assert search.filters_for(SearchRequest("shoes", category="shoes")).kind is None
    # the noun of "t-shirts" is "shirt": a product word cut at the hyphen ("cotton t") once
    # kept only products whose title has a "t"
    assert search.filters_for(SearchRequest("cotton t", category="cotton t")).kind is None
    assert search.filters_for(SearchRequest("shirts", category="shirts")).kind == ("shirt",)
    assert search.resolve_category("cotton t-shirt") == (None, "t-shirts")


def test_a_singular_product_word_finds_its_shelf(search):
    # "hoodie" once stemmed apart from "hoodies", so "purple hoodie" searched all clothing
    for word, shelf in (
        ("hoodie", "hoodies"),
        ("hoodies", "hoodies"),
        ("yoga mat", "yoga mats"),
        ("sneaker", "sneakers"),
    ):
        assert search.resolve_category(word) == (None, shelf)
    assert tokens("hoodie") == tokens("hoodies")


def test_cheap_orders_the_relevant_products_by_price(search):
    cheap = search.search(SearchRequest("cheap headphones", category="headphones"), k=5)
    plain = search.search(SearchRequest("headphones", category="headphones"), k=5)
    prices = [h.product["price"] for h in cheap.hits]
    assert cheap.cheapest_first and not plain.cheapest_first
    assert prices == sorted(prices) and prices != [h.product["price"] for h in plain.hits]
    every = sorted(p["price"] for p in search.index.products if p["subcategory"] == "headphones" and p["stock"] > 0)
    assert prices == every[:5]
    # the ordering is over relevant products only: no cheap charger among the headphones
    assert all(h.product["subcategory"] == "headphones" for h in cheap.hits)
    loose = search.search(SearchRequest("cheap noise cancelling headphones"), k=5)
    assert loose.cheapest_first and all(
        "headphones" in h.product["title"].lower() or "earbuds" in h.product["title"].lower() for h in loose.hits
    )


@pytest.mark.parametrize(
    ("query", "text", "entities", "expected"),
    [
        ("show me headphones", "the wireless ones", [], ("show me headphones wireless", ["wireless"])),
        (
            "jackets",
            "waterproof, in blue",
            [{"entity": "color", "value": "blue", "start": 15, "end": 19}],
            ("jackets waterproof", ["waterproof"]),
        ),
        (
            "jackets",
            "in navy",
            [{"entity": "color", "value": "navy"}],
            ("jackets", []),
        ),  # no span: the value still counts
        (
            "jackets",
            "under 50 dollars please",
            [{"entity": "price_max", "value": "50", "start": 6, "end": 8}],
            ("jackets", []),
        ),
        ("jackets", "only the jackets with a hood", [], ("jackets hood", ["jackets", "hood"])),
        ("waterproof jackets", "only waterproof ones", [], ("waterproof jackets", ["waterproof"])),
        ("shoes", "x" * 5000, [], ("shoes " + "x" * 294, ["x" * 300])),
    ],
)
def test_a_follow_up_adds_only_its_new_product_words(query, text, entities, expected):
    assert refinement(query, text, entities) == expected


def test_paging_and_exclusion(search):
    first = search.search(SearchRequest("t-shirt", category="t-shirts"), k=3)
    second = search.search(SearchRequest("t-shirt", category="t-shirts"), k=3, offset=3)
    ids = [h.product["id"] for h in first.hits + second.hits]
    assert len(ids) == len(set(ids)) == 6


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("footwear", ("footwear", None)),
        ("sneakers", (None, "sneakers")),
        ("headphone", (None, "headphones")),
        ("jackets", ("clothing", None)),
        ("skincare", ("beauty", None)),
        ("spaceship", (None, None)),
        (None, (None, None)),
        # a shared word is not a shelf: swimming is not about water bottles, nor leggings about yoga mats
        ("open water swimming", ("sports", None)),
        ("high rise leggings pockets yoga", (None, "leggings")),
        # the most specific shelf the words name
        ("vegan trail running shoes", (None, "trail running shoes")),
        ("running shoes", (None, "running shoes")),
    ],
)
def test_category_words_resolve_to_the_catalog(search, word, expected):
    assert search.resolve_category(word) == expected


def test_a_reason_joins_only_the_words_the_product_says_together(demo_products):
    pan = {
        "id": "X-PAN",
        "title": "Test Frying Pan",
        "subcategory": "cookware",
        "category": "home",
        "description": "A frying pan made with cast iron. Trail-tested on induction hobs. Keeps food hot.",
    }
    # "cast iron" is said together; "trail" and "induction" are both there, but apart; the
    # shopper's "keep" and "something" say nothing about why this pan was found.
    assert demo_products.matched_phrases(pan, "something to keep food hot, a cast iron trail induction pan") == [
        "food hot",
        "cast iron",
        "pan",
    ]
    assert demo_products.matched_phrases(pan, "cast iron trail induction", limit=2) == ["cast iron", "induction"]
    assert demo_products.matched_phrases(pan, "cast, iron") == ["cast", "iron"]
    assert demo_products.matched_phrases(pan, "a blue kettle") == []
    assert demo_products.matched_phrases(pan, "") == []


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("under $1,200.50", 1200.5),
        ("80", 80.0),
        ("cheap", None),
        (None, None),
        (-5, None),
        ("£20", 20.0),
        ("30 quid", 30.0),
        # Sizes the NLU's price entity sometimes takes are not prices.
        ("5mm", None),
        ("250 ml", None),
        ("300gsm", None),
    ],
)
def test_parse_price(text, value):
    assert parse_price(text) == value


def test_incremental_ingest_with_a_mapping(tmp_path, embedder):
    rows = [
        {"sku": "A1", "name": "Blue Wool Socks", "cost": "12.5", "category": "sports", "color": "blue"},
        {"sku": "A2", "name": "Red Rain Jacket", "cost": "80", "category": "clothing", "color": "red"},
        {"sku": "A3", "name": "No Price Mug"},
    ]
    catalog = tmp_path / "catalog.jsonl"
    catalog.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n")
    mapping_file = tmp_path / "mapping.json"
    mapping_file.write_text(json.dumps({"id": "sku", "title": "name", "price": "cost"}))
    index = ProductIndex(index_path=tmp_path / "idx", collection="tiny", embedder=embedder)
    report = index.ingest(catalog, load_mapping(mapping_file), progress=False)
    assert (report.added, report.total) == (2, 2)
    assert report.skipped == {
        3: "missing price",
        4: "malformed JSON (Expecting property name enclosed in double quotes)",
    }
    rows[1]["cost"] = "70"
    catalog.write_text("\n".join(json.dumps(r) for r in rows[:2]) + "\n")
    report = index.ingest(catalog, load_mapping(mapping_file), progress=False)
    assert (report.added, report.updated, report.unchanged, report.deleted) == (0, 1, 1, 0)
    assert index.search("rain jacket", k=1)[0].product["price"] == 70
    catalog.write_text(json.dumps(rows[0]) + "\n")
    assert index.ingest(catalog, load_mapping(mapping_file), progress=False).deleted == 1
    assert [h.product["id"] for h in index.search("jacket", k=5)] == ["A1"]


def test_csv_catalogs_and_bad_mappings(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text('id,title,price,sizes,reviews\nB1,Trail Shoe,99,41|42,"Great grip|Too narrow"\n')
    [product] = read_catalog(path).products
    assert product["sizes"] == ["41", "42"] and product["reviews"][1]["text"] == "Too narrow"
    bad = tmp_path / "m.json"
    bad.write_text('{"identifier": "sku"}')
    with pytest.raises(CatalogError, match="unknown fields"):
        load_mapping(bad)
    with pytest.raises(CatalogError, match="not found"):
        read_catalog(tmp_path / "missing.jsonl")


VARIANT_EXPORT = """Handle,Title,Price,Colour,Pack,Stock,Keywords
dry-food,Bushland Kangaroo Dry Dog Food,32.99,,3kg,24,"dog food; grain free, kangaroo"
dry-food,Bushland Kangaroo Dry Dog Food,89.95,,"2,5kg",0,
dry-food,Bushland Kangaroo Dry Dog Food,149.95,,13kg,3,
harness,Trail Harness,45,red,M,2,harness|walking
harness,Trail Harness,45,navy,M,0,
harness,Trail Harness,45,olive,L,4,
"""
VARIANT_MAPPING = {"id": "Handle", "title": "Title", "price": "Price", "color": "Colour", "sizes": "Pack"}


def test_rows_that_share_an_id_are_the_variants_of_one_product(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(VARIANT_EXPORT)
    report = read_catalog(path, {**VARIANT_MAPPING, "stock": "Stock", "tags": "Keywords"})
    food, harness = report.products
    assert report.variant_rows == 4 and not report.skipped
    # The sizes a shopper can buy; the out-of-stock 2,5 kg bag is not offered, its comma kept.
    assert food["sizes"] == ["3kg", "13kg"] and food["stock"] == 27
    assert (food["price"], food["price_max"]) == (32.99, 149.95)
    assert food["tags"] == ["dog food", "grain free", "kangaroo"]
    assert harness["colors"] == ["red", "olive"] and harness["color"] == "red" and "price_max" not in harness
    assert product_colors(harness) == ["red", "olive"] and "olive" in product_text(harness)
    assert product_price(food) == "from $32.99" and product_price(harness) == "$45.00"
    everything_gone = tmp_path / "gone.csv"
    everything_gone.write_text("id,title,price,sizes,stock\nX,Mug,5,S,0\nX,Mug,7,L,0\n")
    [mug] = read_catalog(everything_gone).products
    assert mug["sizes"] == ["S", "L"] and mug["stock"] == 0 and mug["price_max"] == 7


def test_a_platform_exports_html_placeholder_options_and_oversold_stock(tmp_path):
    """A Shopify-style export: descriptions in HTML, "Default Title" as the option of a product
    without options, and an item sold past zero ("continue selling") at stock -2."""
    path = tmp_path / "shopify.csv"
    path.write_text(
        "ID,Title,Body HTML,Option1 Value,Variant Price,Variant Inventory Qty\n"
        '7001,Za&#39;atar Blend 60g,"<p>Thyme, sumac &amp; sesame.</p><ul><li>Packed to order</li>'
        '<li>Vegan</li></ul>",Default Title,8.50,-2\n'
        "7002,Bucatini 500g,<p>Bronze-cut.<br/>Slow dried.</p>,Default Title,6.25,14\n"
        "7003,Ground Coffee,Plain text stays as it is: 2 < 3.,250 g,14.00,5\n"
    )
    mapping = {"id": "ID", "title": "Title", "description": "Body HTML", "sizes": "Option1 Value"}
    report = read_catalog(path, {**mapping, "price": "Variant Price", "stock": "Variant Inventory Qty"})
    zaatar, pasta, coffee = report.products
    assert not report.skipped
    assert zaatar["title"] == "Za'atar Blend 60g" and zaatar["stock"] == 0
    assert zaatar["description"] == "Thyme, sumac & sesame.\n- Packed to order\n- Vegan"
    assert pasta["description"] == "Bronze-cut.\nSlow dried." and pasta["sizes"] == [] and pasta["stock"] == 14
    assert coffee["description"] == "Plain text stays as it is: 2 < 3." and coffee["sizes"] == ["250 g"]
    assert "<" not in product_text(zaatar) and "sumac" in product_text(zaatar)


def test_a_variant_colour_or_size_is_found_by_the_filters(tmp_path, embedder):
    path = tmp_path / "export.csv"
    path.write_text(VARIANT_EXPORT)
    index = ProductIndex(index_path=tmp_path / "idx", collection="variants", embedder=embedder)
    index.ingest(path, {**VARIANT_MAPPING, "stock": "Stock"}, progress=False)
    assert [h.product["id"] for h in index.search("harness", ProductFilters(color="olive"))] == ["harness"]
    assert index.search("harness", ProductFilters(color="navy")) == []  # that variant is sold out
    assert [h.product["id"] for h in index.search("dog food", ProductFilters(size="13kg"))] == ["dry-food"]
    assert {"red", "olive"} <= index.vocabulary("color")
    # A shade is its colour too: "green" finds the forest green harness, "light green" does not.
    shade = tmp_path / "shade.csv"
    shade.write_text(VARIANT_EXPORT.replace(",olive,", ",forest green,"))
    index.ingest(shade, {**VARIANT_MAPPING, "stock": "Stock"}, progress=False)
    assert [h.product["id"] for h in index.search("harness", ProductFilters(color="green"))] == ["harness"]
    assert index.search("harness", ProductFilters(color="light green")) == []


def test_missing_product_index_names_the_fix(tmp_path, embedder):
    with pytest.raises(ProductIndexMissingError, match="make index"):
        ProductIndex(index_path=tmp_path / "none", embedder=embedder).search("shoes", ProductFilters())


def test_a_catalog_ingest_by_another_process_is_seen_by_a_running_index(tmp_path, embedder):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    catalog = tmp_path / "catalog.jsonl"
    rows = [{"id": "A1", "title": "Blue Wool Socks", "price": 12.5, "category": "sports", "color": "blue"}]
    catalog.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    index = ProductIndex(index_path=tmp_path / "idx", collection="live", embedder=embedder)
    index.ingest(catalog, progress=False)
    assert [h.product["id"] for h in index.search("socks", k=5)] == ["A1"]
    rows.append({"id": "A2", "title": "Red Rain Jacket", "price": 80, "category": "clothing", "color": "red"})
    catalog.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "retrieval",
            "catalog",
            "--index",
            str(index.index_path),
            "--collection",
            "live",
            "ingest",
            str(catalog),
        ],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert index.search("rain jacket", k=1)[0].product["id"] == "A2"


def test_words_only_descriptions_say_are_searched_but_never_called_a_product(search, description_only_word):
    """A shop whose products are known by what their descriptions say (a film by its themes): a
    short message of such words is worth a search, and the word is not "carried" as a product
    name, yet the shop does not "not carry" it either."""
    word = description_only_word
    assert search.named_products(word) is None and search.described_products(word) == word
    assert not search.carries(word) and search.describes(word)
    assert search.described_products(f"{word} quantum chromodynamics") is None  # not all said together
    assert search.described_products("what do you think of quantum chromodynamics and string theory") is None
    assert not search.describes("lawnmowers")


def test_the_suggested_search_is_in_the_shops_own_words_and_currency(search):
    kind, limit, currency = search.example_query()
    commonest = Counter(p["subcategory"] for p in search.index.products).most_common(1)[0][0]
    assert kind == commonest
    prices = [p["price"] for p in search.index.products if p["subcategory"] == kind]
    # A round limit that some, not all, of its products sit under.
    assert min(prices) < limit and limit % 5 == 0
    assert currency == "USD"


def test_a_typo_of_a_product_word_is_that_word_and_short_words_are_left_alone(search):
    assert search.index.correct("wireless headphnoes") == "wireless headphones"
    assert search.carries("headphnoes") and search.named_products("headphnoes please") == "headphones"
    # A real word a shopper types, or a short one a catalog brand is one edit from, stays.
    assert search.index.correct("amex") == "amex" and search.index.correct("astronomy") == "astronomy"
    hits = search.search(SearchRequest("wireless headphnoes"), k=3).hits
    assert hits and all(h.product["subcategory"] == "headphones" for h in hits)


@pytest.mark.parametrize(
    ("query", "price_max", "expected"),
    [
        ("food for my 14 yo cat", "14", None),
        ("a bed for a 3 month old puppy", "3", None),
        ("a jacket for my 4 year old under 40", "40", 40.0),
        ("hoodies under 14", "14", 14.0),
        # Said twice, once as a price: a price.
        ("treats for my 2 yo dog under 2 dollars each", "2", 2.0),
    ],
)
def test_an_age_the_nlu_took_for_a_price_is_no_price(search, query, price_max, expected):
    assert search.filters_for(SearchRequest(query=query, price_max=price_max)).price_max == expected


def test_the_product_word_takes_the_next_noun_only_when_the_catalog_never_says_it(search, demo_products):
    def entity(text: str, value: str) -> list[dict]:
        at = text.index(value)
        return [{"entity": "product_category", "value": value, "start": at, "end": at + len(value)}]

    text = "do you have hiking poles?"
    assert search.product_word(text, entity(text, "hiking")) == "hiking poles"
    # A word only descriptions say may be the shopper's name for what the shop has ("dk wool"
    # for DK yarn): the NLU's word stands.
    described = sorted(
        w
        for w in set().union(*(set(tokens(p["description"])) for p in demo_products.products))
        - demo_products.name_words()
        if w.isalpha() and len(w) > 4
    )[0]
    text = f"do you have hiking {described}"
    assert search.product_word(text, entity(text, "hiking")) == "hiking"
    for text in ("hiking boots please", "hiking boots size 42", "hiking boots", "a dog's hiking boots"):
        assert search.product_word(text, entity(text, "hiking boots")) == "hiking boots", text
    assert search.product_word("anything", []) is None


def test_the_product_word_takes_the_word_before_it_only_when_the_catalog_never_says_it(search, demo_products):
    def entity(text: str, value: str) -> list[dict]:
        at = text.index(value)
        return [{"entity": "product_category", "value": value, "start": at, "end": at + len(value)}]

    assert demo_products.count_described({"toddler"}) == 0
    # The NLU stops where the catalog's words do: "toddler hiking boots" is not the shop's.
    text = "do you have toddler hiking boots?"
    assert search.product_word(text, entity(text, "hiking boots")) == "toddler hiking boots"
    assert not search.carries("toddler hiking boots") and search.carries("hiking boots")
    # How a shopper says what they like, a word the catalog uses, or a possessive: the NLU's word.
    said = next(w for w in ("lightweight", "waterproof", "warm") if demo_products.count_described({w}))
    # A verb by its place ("do you take amex") is no part of a name either, though the catalog
    # never says it.
    assert demo_products.count_described({"wrangle"}) == 0
    for text in (
        "some comfy hiking boots",
        "decent hiking boots",
        f"{said} hiking boots",
        "my kid's hiking boots",
        "can you recommend hiking boots",
        "do you ship hiking boots",
        "i want to wrangle hiking boots",
        "4mm hiking boots",
        "a 12kg hiking boots",
        "a salomon type hiking boots",
    ):
        assert search.product_word(text, entity(text, "hiking boots")) == "hiking boots", text


def test_a_need_in_the_documents_words_with_one_no_product_says_is_about_the_shop(search):
    need = "my feet get soaked every time I walk the muddy trails, what should I wear"
    asked = set(tokens(need))
    unsaid = [word for word in asked if search.index.count_described({word}) == 0]
    assert unsaid and search.needs_products(need)
    # Pages that use every one of its words, one of which no product says ("diners club ok?"
    # beside a page on cards): a question about the shop, not a need.
    assert not search.needs_products(need, documents_words=asked | {"delivery"})
    # Pages missing one of its words, or words all of which products say too: still a need.
    assert search.needs_products(need, documents_words=asked - {unsaid[0]})
    described = [word for word in asked if word not in unsaid]
    assert described and search.needs_products(" ".join(described), documents_words=set(described))
