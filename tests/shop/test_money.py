"""Prices in the shop's currency: read from a catalog's cells, written in replies, and in the NLU
examples made from a catalog priced in pounds."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from retrieval.catalog import CatalogError, read_catalog
from shop.db import ShopDB
from shop.money import CurrencyError, currency_code, price_number, price_text, product_price
from shop.nlu_data import catalog_vocabulary, search_examples
from shop.settings import Settings


@pytest.mark.parametrize(
    "cell, number",
    [
        ("7.95", 7.95),
        ("£7.95", 7.95),
        ("$1,299.50", 1299.5),
        ("1,299", 1299.0),
        ("7,95 €", 7.95),
        ("1.299,50", 1299.5),
        ("USD 12", 12.0),
        (19, 19.0),
    ],
)
def test_a_price_cell_is_read_with_its_sign_or_code_dropped(cell, number):
    assert price_number(cell) == pytest.approx(number)


def test_a_cell_without_a_number_is_refused():
    with pytest.raises(ValueError):
        price_number("call us")


@pytest.mark.parametrize(
    "amount, currency, text",
    [(7.95, "USD", "$7.95"), (7.95, "GBP", "£7.95"), (1299.5, "EUR", "€1,299.50"), (800, "JPY", "¥800")],
)
def test_prices_are_written_in_their_currency(amount, currency, text):
    assert price_text(amount, currency) == text
    assert product_price({"price": amount, "currency": currency}) == text


def test_a_product_naming_no_currency_is_priced_in_the_shops(monkeypatch):
    """What the page server reads when SHOP_CATALOG_PATH is the shop's own JSONL file."""
    monkeypatch.setenv("SHOP_CURRENCY", "GBP")
    assert product_price({"price": 7.95}) == "£7.95"
    assert product_price({"price": 7.95, "currency": "EUR"}) == "€7.95"


def test_an_unknown_currency_code_is_refused_by_name():
    assert currency_code(" gbp ") == "GBP"
    with pytest.raises(CurrencyError, match="'POUNDS' is not an ISO 4217 currency code"):
        currency_code("POUNDS")


def write_catalog(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_a_catalog_without_a_currency_column_is_priced_in_the_shops_currency(tmp_path):
    catalog = write_catalog(
        tmp_path / "c.jsonl",
        [
            {"id": "A1", "title": "Gouache set", "price": "£12.50", "category": "paint"},
            {"id": "A2", "title": "Easel", "price": "40", "category": "easels", "currency": "EUR"},
            {"id": "A3", "title": "Brush", "price": "2", "category": "brushes", "currency": "£"},
            {"id": "A4", "title": "Easel", "price": "2", "category": "easels", "currency": "pounds"},
        ],
    )
    report = read_catalog(catalog, currency="GBP")
    assert [(p["id"], p["price"], p["currency"]) for p in report.products] == [
        ("A1", 12.5, "GBP"),
        ("A2", 40.0, "EUR"),
        ("A3", 2.0, "GBP"),
    ]
    # A currency cell that is neither a code nor a sign is reported with the row, not guessed.
    assert "not an ISO 4217 currency code" in report.skipped[4]
    # A sign is the shop's own currency when it is its sign: "$" in a Canadian shop.
    assert currency_code("$", "CAD") == "CAD" and currency_code("$", "GBP") == "USD" and currency_code("€") == "EUR"
    with pytest.raises(CatalogError, match="SHOP_CURRENCY"):
        read_catalog(catalog, currency="dollars")


def test_the_shops_currency_is_a_setting():
    assert Settings.from_env({}).currency == "USD"
    assert Settings.from_env({"SHOP_CURRENCY": "GBP"}).currency == "GBP"


def test_order_totals_are_in_the_shops_currency(generated):
    shop = ShopDB(generated.url, currency="GBP")
    try:
        order = shop.get_order("SO10003")
        assert order is not None and order.currency == "GBP"
    finally:
        shop.dispose()


def test_price_examples_of_a_shop_in_pounds_say_pounds():
    products = [
        {"id": f"P{i}", "title": f"Pad {i}", "subcategory": kind, "price": 5.0 + i, "currency": "GBP"}
        for i, kind in enumerate(["watercolour pads", "sketchbooks", "gouache paints", "lino cutters"] * 5)
    ]
    vocabulary = catalog_vocabulary(products)
    assert vocabulary.currency == "GBP"
    priced = [
        example
        for seed in range(60)
        for example in search_examples(vocabulary, random.Random(seed))
        if "(price_max)" in example
    ]
    text = " ".join(priced)
    assert "£[" in text and "pounds" in text
    assert "$" not in text and "dollars" not in text
