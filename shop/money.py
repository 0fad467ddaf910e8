"""Prices as a shopper reads them, in the currency the shop sells in.

Babel (CLDR) knows each currency's sign and its decimals ("£7.95", "€7.95", "¥800"); the reply
text is English, so English conventions place the sign. The shop's currency is a setting
(`SHOP_CURRENCY`) for catalogs that have no currency column; a product's own currency wins.
"""

from __future__ import annotations

import re

from babel.numbers import format_currency, get_currency_name, get_currency_symbol, is_currency

# The replies are English; CLDR's English puts the sign first and uses a decimal point.
LOCALE = "en"
# A catalog's price cell may carry a sign or a code ("£7.95", "7,95 €", "USD 12"): these are
# dropped before the number is read, which `retrieval/catalog.py` then checks.
_NOT_NUMBER = re.compile(r"[^\d.,\-]")
# "1,299" and "1,299.50" group thousands; "7,95" and "1.299,50" have a decimal comma.
_DECIMAL_COMMA = re.compile(r"-?[\d.]*\d,\d{1,2}")


class CurrencyError(ValueError):
    pass


# A currency column that holds signs rather than codes: a sign is the shop's own currency when it
# is that currency's sign ("$" in a Canadian shop is CAD), else the currency it most often means.
SIGNS = {"$": "USD", "£": "GBP", "€": "EUR", "¥": "JPY", "₹": "INR", "₩": "KRW", "₺": "TRY", "zł": "PLN"}


def currency_code(value: str, shop_currency: str | None = None) -> str:
    """The ISO 4217 code, upper-cased, for a code or a sign; an unknown one is refused with it named."""
    text = str(value or "").strip()
    if text in SIGNS:
        # English writes the shop's own dollar as "CA$" or "A$"; the shop's export writes "$".
        if shop_currency and currency_sign(shop_currency).endswith(text):
            return shop_currency
        return SIGNS[text]
    code = text.upper()
    if not is_currency(code):
        raise CurrencyError(f"{value!r} is not an ISO 4217 currency code (like USD, GBP or EUR)")
    return code


def price_text(amount: float, currency: str) -> str:
    """'$7.95', '£7.95', '€1,299.00'."""
    return str(format_currency(amount, currency, locale=LOCALE))


def currency_sign(currency: str) -> str:
    """'$', '£', '€'; the code itself where English has no sign for it ('CHF')."""
    return str(get_currency_symbol(currency, locale=LOCALE))


def currency_unit(currency: str) -> str:
    """What a shopper calls it after a number: 'dollars', 'pounds', 'euros', 'yen'."""
    return str(get_currency_name(currency, count=2, locale=LOCALE)).split()[-1].lower()


def round_limit(value: float) -> int:
    """A round price limit a shopper would type near `value` (35 -> 35, 142 -> 150, 1234 -> 1000)."""
    for step in (5, 10, 50, 100, 500):
        if value < step * 10:
            return int(round(value / step) * step) or step
    return int(round(value, -3))


def limit_text(limit: int, currency: str) -> str:
    """'£20', '$150': a limit as a shopper types it, without the cents."""
    return f"{currency_sign(currency)}{limit}"


def price_number(cell: object) -> float:
    """The number in a catalog's price cell, its sign or code dropped; ValueError if none."""
    text = _NOT_NUMBER.sub("", str(cell).strip())
    if _DECIMAL_COMMA.fullmatch(text):
        text = text.replace(".", "").replace(",", ".")
    return float(text.replace(",", ""))


def product_currency(product: dict[str, object]) -> str:
    """A product's own currency; the shop's (`SHOP_CURRENCY`) for one that names none. Onboarded
    products always name one, but the page server reads a catalog file as it is, and a shop may
    point `SHOP_CATALOG_PATH` at a JSONL file of its own without a currency field."""
    from shop.settings import current

    return str(product.get("currency") or current().currency)


def product_price(product: dict[str, object]) -> str:
    """A catalog product's price in its own currency, else the shop's; "from" its lowest where
    its variants cost different amounts (retrieval.catalog.merge_variants)."""
    price = price_text(float(str(product["price"])), product_currency(product))
    return f"from {price}" if product.get("price_max") else price
