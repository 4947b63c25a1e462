"""Text from outside (a webhook body, an Iamport reply) made fit for the database."""

from __future__ import annotations

import re
from typing import Any

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(text: str) -> str:
    """`text` with what no database text column can hold replaced by U+FFFD: NUL characters
    (PostgreSQL refuses them) and lone surrogates (not encodable as UTF-8)."""
    if text.isascii() and "\x00" not in text:
        return text
    return _UNSTORABLE.sub("\ufffd", text)


def storable_json(value: Any) -> Any:
    """A JSON value with every string (keys included) made storable: PostgreSQL's jsonb
    refuses the \\u0000 escape just as its text refuses NUL."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, list):
        return [storable_json(item) for item in value]
    if isinstance(value, dict):
        return {storable_text(str(key)): storable_json(item) for key, item in value.items()}
    return value
