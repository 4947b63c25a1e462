"""What an order's ids look like, checked once before any query.

`merchant_uid` (the id Iamport knows): "o" + date + 24 hex digits; Iamport allows up to 40
characters. Anything else (NUL bytes, spaces, other scripts, longer strings) is not an order of
ours and is answered 404/400 without asking the database.

The order number people read and type (`Order.number`): the date and six characters from an
alphabet without look-alikes (no 0/O, 1/I/L, U), e.g. "20261202-7K3QX9". It is short, not
secret: it opens nothing without the buyer's email or phone (guest order lookup).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

MERCHANT_UID_PATTERN = r"[A-Za-z0-9_-]{1,40}"
_MERCHANT_UID = re.compile(MERCHANT_UID_PATTERN)


def is_merchant_uid(value: Any) -> bool:
    return isinstance(value, str) and _MERCHANT_UID.fullmatch(value) is not None


class MerchantUidConverter:
    """`<merchant_uid:merchant_uid>` in URL patterns: a path that does not fit is a 404."""

    regex = MERCHANT_UID_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


ORDER_NUMBER_ALPHABET = "23456789ABCDEFGHJKMNPQRSTVWXYZ"
ORDER_NUMBER_PATTERN = r"[0-9]{8}-[" + ORDER_NUMBER_ALPHABET + r"]{6}"
_ORDER_NUMBER = re.compile(ORDER_NUMBER_PATTERN)


def new_order_number(day) -> str:
    """`day` (a date) and six random characters: 30**6, about 729 million numbers a day."""
    tail = "".join(secrets.choice(ORDER_NUMBER_ALPHABET) for _ in range(6))
    return f"{day:%Y%m%d}-{tail}"


def normalise_order_number(value: Any) -> str | None:
    """What a person typed ("20261202 7k3qx9", "20261202-7K3QX9 ") -> "20261202-7K3QX9";
    None if it cannot be one of our order numbers."""
    if not isinstance(value, str):
        return None
    compact = re.sub(r"[\s-]", "", value).upper()[:40]
    candidate = f"{compact[:8]}-{compact[8:]}"
    return candidate if _ORDER_NUMBER.fullmatch(candidate) else None
