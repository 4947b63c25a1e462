"""Reading what callers send: amounts, flags, and the `IMP.request_pay` parameter object.

Parsing happens once, here, at the edge: services receive ints, bools and a `PayRequest`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

MERCHANT_UID_MAX_LENGTH = 40

# error_code values of the browser SDK's own refusals (before any payment window opens). Iamport
# publishes no table; these names are the sandbox's. PG declines use PG-style codes instead.
SDK_NOT_INITIALIZED = "NOT_INITIALIZED"
SDK_INVALID_PARAMETER = "INVALID_PARAMETER"
SDK_UNKNOWN_MERCHANT = "UNKNOWN_MERCHANT"
SDK_ALREADY_PAID = "ALREADY_PAID"
SDK_AMOUNT_MISMATCH = "PREPARED_AMOUNT_MISMATCH"


class InvalidParam(ValueError):
    """A field the caller sent cannot be used. `message` is meant for the caller."""

    def __init__(self, message: str, *, error_code: str = SDK_INVALID_PARAMETER) -> None:
        super().__init__(message)
        self.message = message
        self.error_code = error_code


def parse_amount(value: Any, *, field: str = "amount", strict: bool = False) -> int:
    """A whole-won amount >= 0.

    `strict` (the browser SDK) accepts only a JSON number, as the real SDK wants a number;
    otherwise a numeric string from a form-encoded body is fine too.
    """
    if isinstance(value, bool):
        raise InvalidParam(f"{field}은(는) 숫자여야 합니다.")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and not strict:
        text = value.strip()
        if re.fullmatch(r"\d+(\.0+)?", text):
            value = int(text.split(".")[0])
    if not isinstance(value, int):
        raise InvalidParam(f"{field}은(는) 원 단위 정수여야 합니다. (받은 값: {value!r})")
    if value < 0:
        raise InvalidParam(f"{field}은(는) 0 이상이어야 합니다.")
    return value


def parse_optional_amount(value: Any, *, field: str) -> int | None:
    """An amount, or None when the field is absent or empty."""
    if value is None or value == "":
        return None
    return parse_amount(value, field=field)


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def parse_vbank_due(value: Any) -> datetime | None:
    """The `vbank_due` of request_pay: `YYYYMMDDhhmm`, `YYYYMMDD`, `YYYY-MM-DD[ hh:mm]` (local
    time; a bare date means the end of that day) or a unix timestamp. None when absent."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(int(value), tz=timezone.get_default_timezone())
    text = str(value).strip()
    formats = {
        r"\d{14}": "%Y%m%d%H%M%S",
        r"\d{12}": "%Y%m%d%H%M",
        r"\d{8}": "%Y%m%d",
        r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}": "%Y-%m-%d %H:%M:%S",
        r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}": "%Y-%m-%d %H:%M",
        r"\d{4}-\d{2}-\d{2}": "%Y-%m-%d",
    }
    for shape, pattern in formats.items():
        if not re.fullmatch(shape, text):
            continue
        try:
            parsed = datetime.strptime(text, pattern)  # naive; made aware below
        except ValueError:
            break
        if "%H" not in pattern:
            parsed = datetime.combine(parsed.date(), time(23, 59, 59))
        return timezone.make_aware(parsed, timezone.get_default_timezone())
    raise InvalidParam(f"vbank_due 형식이 올바르지 않습니다: {text!r} (예: 202501312359)")


def _text(param: dict[str, Any], key: str, *, limit: int) -> str:
    value = param.get(key)
    if value is None:
        return ""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise InvalidParam(f"{key}은(는) 문자열이어야 합니다.")
    return str(value).strip()[:limit]


@dataclass(frozen=True)
class PayRequest:
    """The parts of an `IMP.request_pay` parameter object the sandbox uses."""

    merchant_uid: str
    amount: int
    pay_method: str
    pg_provider: str
    pg_id: str
    name: str
    currency: str
    buyer_name: str
    buyer_email: str
    buyer_tel: str
    buyer_addr: str
    buyer_postcode: str
    custom_data: str
    notice_url: str
    m_redirect_url: str
    vbank_due: datetime | None


def parse_pay_request(param: Any) -> PayRequest:
    """Check `param` as the real SDK would before opening a window; raise `InvalidParam`."""
    if not isinstance(param, dict):
        raise InvalidParam("결제 요청 파라미터가 객체가 아닙니다.")

    merchant_uid = param.get("merchant_uid")
    if not isinstance(merchant_uid, str) or not merchant_uid.strip():
        raise InvalidParam("merchant_uid는 필수 항목입니다.")
    merchant_uid = merchant_uid.strip()
    if len(merchant_uid) > MERCHANT_UID_MAX_LENGTH:
        raise InvalidParam(f"merchant_uid는 {MERCHANT_UID_MAX_LENGTH}자 이하여야 합니다.")

    if "amount" not in param:
        raise InvalidParam("amount는 필수 항목입니다.")
    amount = parse_amount(param["amount"], strict=True)
    if amount <= 0:
        raise InvalidParam("amount는 0보다 커야 합니다.")

    pay_method = param.get("pay_method")
    if not isinstance(pay_method, str) or not pay_method.strip():
        raise InvalidParam("pay_method는 필수 항목입니다.")
    pay_method = pay_method.strip()[:20]

    pg = _text(param, "pg", limit=120) or getattr(settings, "IAMPORT_PG", "") or "html5_inicis"
    pg_provider, _, pg_id = pg.partition(".")

    custom_data = param.get("custom_data")
    if custom_data is None:
        custom_data_text = ""
    elif isinstance(custom_data, str):
        custom_data_text = custom_data
    else:
        custom_data_text = json.dumps(custom_data, ensure_ascii=False)

    notice_url = param.get("notice_url")
    if isinstance(notice_url, list):
        # Iamport accepts several URLs; the sandbox notifies the first.
        notice_url = notice_url[0] if notice_url else ""

    return PayRequest(
        merchant_uid=merchant_uid,
        amount=amount,
        pay_method=pay_method,
        pg_provider=pg_provider[:40],
        pg_id=pg_id[:80],
        name=_text(param, "name", limit=200),
        currency=(_text(param, "currency", limit=3) or "KRW").upper(),
        buyer_name=_text(param, "buyer_name", limit=100),
        buyer_email=_text(param, "buyer_email", limit=200),
        buyer_tel=_text(param, "buyer_tel", limit=40),
        buyer_addr=_text(param, "buyer_addr", limit=300),
        buyer_postcode=_text(param, "buyer_postcode", limit=20),
        custom_data=custom_data_text,
        notice_url=_text({"notice_url": notice_url}, "notice_url", limit=500),
        m_redirect_url=_text(param, "m_redirect_url", limit=1000),
        vbank_due=parse_vbank_due(param.get("vbank_due")) if pay_method == "vbank" else None,
    )


def default_vbank_due() -> datetime:
    return timezone.now() + timedelta(days=3)
