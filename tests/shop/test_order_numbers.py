"""The shop's order-number format, one setting for the look-ups, the NLU's regex and the logs."""

from __future__ import annotations

import re

import pytest
import yaml

from shop.db import find_order_id, normalize_order_id
from shop.nlu_data import write_nlu_data
from shop.order_numbers import OrderNumberFormat
from shop.redaction import redact


def test_the_default_is_the_demo_shops_format_as_before():
    default = OrderNumberFormat.from_settings()
    assert default == OrderNumberFormat("SO", 5, 5)
    # The regex training_data/nlu/lookups.yml held before the format became a setting.
    assert default.nlu_regex() == r"(?<![\w#-])#?[Ss][Oo]-?\d{5}\b"
    assert [normalize_order_id(t) for t in ("so-10042", "#SO10042", " 10042 ", "SO1004", "WC-1234")] == [
        "SO10042",
        "SO10042",
        "SO10042",
        None,
        None,
    ]


def test_a_shop_with_its_own_prefix_is_looked_up_tagged_and_masked(monkeypatch):
    monkeypatch.setenv("SHOP_ORDER_ID_PREFIX", "WC-")
    monkeypatch.setenv("SHOP_ORDER_ID_DIGITS", "4")
    assert [normalize_order_id(t) for t in ("wc 1234", "#WC-1234", "WC1234", "1234", "SO10042", "12345")] == [
        "WC-1234",
        "WC-1234",
        "WC-1234",
        "WC-1234",
        None,
        None,
    ]
    assert find_order_id("it's wc-1234.") == "WC-1234"
    tagged = re.compile(OrderNumberFormat.from_settings().nlu_regex())
    assert [m.group(0) for m in tagged.finditer("where is #WC-1234 and wc1235, not SO10042")] == ["#WC-1234", "wc1235"]
    assert redact("order WC-1234 is late", OrderNumberFormat.from_settings()) == "order WC***34 is late"


def test_plain_numbers_are_orders_but_prices_and_long_numbers_are_not(monkeypatch):
    monkeypatch.setenv("SHOP_ORDER_ID_PREFIX", "none")
    monkeypatch.setenv("SHOP_ORDER_ID_DIGITS", "4-9")
    plain = OrderNumberFormat.from_settings()
    assert plain == OrderNumberFormat("", 4, 9)
    assert normalize_order_id("#1001") == "1001" and normalize_order_id("00123842") == "00123842"
    assert normalize_order_id("123") is None and normalize_order_id("1234567890") is None
    tagged = re.compile(plain.nlu_regex())
    message = "how to check the ETA of the purchase 00123842? it cost $1999, 129.99 or 2500 dollars, ref 1234567890123"
    assert [m.group(0) for m in tagged.finditer(message)] == ["00123842"]
    assert redact("purchase 00123842", plain) == "purchase ***42"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SHOP_ORDER_ID_PREFIX", "S0!"),
        ("SHOP_ORDER_ID_PREFIX", "ABCDEFGHIJKL"),
        ("SHOP_ORDER_ID_DIGITS", "five"),
        ("SHOP_ORDER_ID_DIGITS", "2"),
        ("SHOP_ORDER_ID_DIGITS", "9-4"),
        ("SHOP_ORDER_ID_DIGITS", "5-30"),
        ("SHOP_ORDER_ID_DIGITS", "12-15"),  # with the default prefix SO: 16 characters at most
    ],
)
def test_a_wrong_format_names_its_variable(monkeypatch, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=variable):
        OrderNumberFormat.from_settings()


def test_the_generated_nlu_data_carries_the_shops_order_id_regex(monkeypatch, tmp_path):
    monkeypatch.setenv("SHOP_ORDER_ID_PREFIX", "WC-")
    monkeypatch.setenv("SHOP_ORDER_ID_DIGITS", "4")
    report = write_nlu_data([], None, tmp_path)
    assert "order numbers: WC- + 4 digits, like WC-1042" in report.summary()
    nlu = yaml.safe_load((tmp_path / "shop_lookups.yml").read_text())["nlu"]
    [regex] = [block for block in nlu if block.get("regex") == "order_id"]
    [pattern] = [line[2:] for line in regex["examples"].splitlines() if line.startswith("- ")]
    assert pattern == OrderNumberFormat.from_settings().nlu_regex()
    assert re.search(pattern, "is wc-1234 shipped?")
