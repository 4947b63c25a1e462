"""What an Iamport payment id (`imp_uid`) may look like, checked once before any query or call.

Iamport's are "imp_" and 12 digits (the sandbox's "imps_" and 12); letters, digits, "_" and
"-" up to 64 characters are accepted, anything else is not a payment id and never
reaches the database or a URL path sent to Iamport.
"""

from __future__ import annotations

import re
from typing import Any

IMP_UID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def is_imp_uid(value: Any) -> bool:
    return isinstance(value, str) and IMP_UID.fullmatch(value) is not None
