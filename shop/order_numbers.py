"""What the shop's order numbers look like, from `SHOP_ORDER_ID_PREFIX` and `SHOP_ORDER_ID_DIGITS`.

One description serves every place that recognises an order number, so a shop whose numbers
are "WC-1234" or "100023817" changes two settings and nothing else:

- the shop DB's look-ups (`shop.db.normalize_order_id`, `find_order_id`);
- the NLU's `order_id` regex, written into `build/nlu` by `python -m shop nlu-data`;
- the log redaction (`shop.redaction`);
- what the order forms tell shoppers (`actions/orders.py`: "It starts with SO, like SO10042.").

People type a number in many ways ("so-10042", "#SO10042", "10042"): the prefix, a "#" and a
separator are optional when typed, and the canonical form is the prefix followed by the digits.
Standard library only: the Rasa side (redaction) imports it too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from shop.settings import Settings, current

PREFIX_VARIABLE = "SHOP_ORDER_ID_PREFIX"
DIGITS_VARIABLE = "SHOP_ORDER_ID_DIGITS"
# "none" spells an empty prefix: an unset variable means the default.
NO_PREFIX = "none"
_PREFIX_RE = re.compile(r"[A-Za-z][A-Za-z-]{0,9}")
_DIGITS_RE = re.compile(r"(\d{1,2})(?:-(\d{1,2}))?")
# A number shorter than this is a quantity or a size ("2", "42"), not an order.
_MIN_DIGITS = 3
_MAX_DIGITS = 16
# The shop DB's orders.id column (shop/db.py).
_MAX_ORDER_ID_CHARS = 16


@dataclass(frozen=True)
class OrderNumberFormat:
    """A prefix (may be empty; as the shop writes it, "WC-" included) and the number of digits
    after it (a range)."""

    prefix: str = "SO"
    min_digits: int = 5
    max_digits: int = 5

    @classmethod
    def parse(cls, prefix: str, digits: str) -> OrderNumberFormat:
        """From the two settings' text; a ValueError names the variable that is wrong."""
        prefix = prefix.strip()
        if prefix.lower() == NO_PREFIX:
            prefix = ""
        elif not _PREFIX_RE.fullmatch(prefix):
            raise ValueError(
                f"{PREFIX_VARIABLE} must be letters (a dash may follow them, up to 10 characters) or "
                f"{NO_PREFIX!r}, not {prefix!r}"
            )
        match = _DIGITS_RE.fullmatch(digits.strip())
        low, high = (int(match.group(1)), int(match.group(2) or match.group(1))) if match else (0, 0)
        if not (_MIN_DIGITS <= low <= high <= _MAX_DIGITS):
            raise ValueError(
                f"{DIGITS_VARIABLE} must be a number of digits ({_MIN_DIGITS} to {_MAX_DIGITS}) or a range "
                f"such as 4-9, not {digits!r}"
            )
        if len(prefix) + high > _MAX_ORDER_ID_CHARS:
            raise ValueError(
                f"{PREFIX_VARIABLE} and {DIGITS_VARIABLE} allow order numbers of {len(prefix) + high} characters; "
                f"the shop DB's order ids hold at most {_MAX_ORDER_ID_CHARS}"
            )
        return cls(prefix, low, high)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> OrderNumberFormat:
        settings = settings or current()
        return _parsed(settings.order_id_prefix, settings.order_id_digits)

    @property
    def _digits(self) -> str:
        return (
            rf"\d{{{self.min_digits}}}"
            if self.min_digits == self.max_digits
            else rf"\d{{{self.min_digits},{self.max_digits}}}"
        )

    @property
    def _letters(self) -> str:
        return self.prefix.rstrip("-")

    def typed_pattern(self) -> re.Pattern[str]:
        """A number as people type it, the digits in group 1: the prefix, a "#" and a separator
        optional, any case."""
        prefix = rf"(?:{re.escape(self._letters)}\s*[-#]?\s*)?" if self.prefix else ""
        return re.compile(rf"#?\s*{prefix}({self._digits})", re.ASCII | re.IGNORECASE)

    def canonical(self, digits: str) -> str:
        return f"{self.prefix}{digits}"

    def example(self) -> str:
        """An order number of this format to show shoppers: SO10042, WC-1042, 1042."""
        return self.canonical(f"1{'0' * (self.min_digits - 3)}42")

    def described(self) -> str:
        """How to recognise one, for the question that asks for it."""
        if self.prefix:
            return f"It starts with {self._letters}, like {self.example()}."
        return f"It's the number in your order confirmation, like {self.example()}."

    def nlu_regex(self) -> str:
        """The `order_id` regex for Rasa's RegexEntityExtractor. Without a prefix only a number
        of the digit count is tagged, and not one glued to a currency sign, a decimal point or
        another number ("$12999", "129.99")."""
        if not self.prefix:
            # Nor a price in words ("under 1500 dollars"), which a shopper says far more often
            # than a bare order number.
            money = r"\s*(?:dollars?|bucks|usd|euros?|eur|pounds?|gbp)\b"
            return rf"(?<![\w#$€£.,-])#?{self._digits}(?![\w.,]\d|\d)(?!{money})"
        # "#SO10003" is tagged whole: a match must start where a token does, and \b can't before '#'.
        letters = "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in self._letters)
        return rf"(?<![\w#-])#?{letters}-?{self._digits}\b"

    def nlu_yaml(self) -> str:
        """The `order_id` regex as a Rasa NLU training-data block: the entity the order forms and
        the order-reference component read."""
        # A literal block scalar keeps the backslashes as they are.
        return "\n".join(["- regex: order_id", "  examples: |", f"    - {self.nlu_regex()}"])

    def redaction_pattern(self) -> re.Pattern[str]:
        """The number with its last two digits in group 2 (the prefix, if any, in group 1)."""
        head = (
            rf"\d{{{self.min_digits - 2}}}"
            if self.min_digits == self.max_digits
            else rf"\d{{{self.min_digits - 2},{self.max_digits - 2}}}"
        )
        if not self.prefix:
            return re.compile(rf"(?<![\w.,$€£-])()#?{head}(\d{{2}})(?![\w]|[.,]\d)", re.ASCII)
        return re.compile(rf"\b({re.escape(self._letters)})-?{head}(\d{{2}})\b", re.ASCII | re.IGNORECASE)


@lru_cache(maxsize=8)
def _parsed(prefix: str, digits: str) -> OrderNumberFormat:
    return OrderNumberFormat.parse(prefix, digits)
