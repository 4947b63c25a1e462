"""What an order number (`merchant_uid`) may look like, checked once before any query.

Ours are "o" + date + 24 hex digits; Iamport allows up to 40 characters. Anything else (NUL
bytes, spaces, other scripts, longer strings) is not an order of ours and is answered 404/400
without asking the database.
"""

from __future__ import annotations

import re
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
