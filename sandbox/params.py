"""Reading what callers send: amounts, flags, and the `IMP.request_pay` parameter object.

Parsing happens once, here, at the edge: services receive ints, bools and a `PayRequest`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

MERCHANT_UID_MAX_LENGTH = 40
MERCHANT_CODE_MAX_LENGTH = 40
# Amounts are whole won below this bound, the one the shop's client holds Iamport's answers to
# (Iamport's own range is far smaller); it keeps every amount well inside a 64-bit column.
MAX_AMOUNT = 10**15
# A deadline outside these years cannot be stored or shown in every time zone (datetime ends in
# year 9999), and before 1970 it would not be a unix time.
VBANK_DUE_FIRST = datetime(1970, 1, 1, tzinfo=UTC)
VBANK_DUE_END = datetime(9999, 1, 1, tzinfo=UTC)
# What no database text column can hold: NUL (PostgreSQL refuses it, even in a comparison) and
# lone surrogates (not encodable as UTF-8; JSON's "\ud800" or a UTF-7 form body makes one).
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

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


def parse_amount(
    value: Any, *, field: str = "amount", strict: bool = False, positive: bool = False
) -> int:
    """A whole-won amount, 0 <= amount < MAX_AMOUNT (and > 0 when `positive`).

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
            digits = text.split(".")[0].lstrip("0") or "0"
            # Checked before int(), which refuses strings of over 4300 digits with a ValueError.
            if len(digits) > len(str(MAX_AMOUNT)):
                raise _amount_too_large(field)
            value = int(digits)
    if not isinstance(value, int):
        raise InvalidParam(f"{field}은(는) 원 단위 정수여야 합니다. (받은 값: {value!r})")
    if value < 0:
        raise InvalidParam(f"{field}은(는) 0 이상이어야 합니다.")
    if value >= MAX_AMOUNT:
        raise _amount_too_large(field)
    if positive and value == 0:
        raise InvalidParam(f"{field}은(는) 0보다 커야 합니다.")
    return value


def _amount_too_large(field: str) -> InvalidParam:
    return InvalidParam(f"{field}은(는) {MAX_AMOUNT:,}원 미만이어야 합니다.")


def parse_optional_amount(value: Any, *, field: str) -> int | None:
    """An amount, or None when the field is absent or empty."""
    if value is None or value == "":
        return None
    return parse_amount(value, field=field)


def parse_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


def parse_text(value: Any, *, field: str) -> str:
    """A text parameter as `str`: "" when absent, a number as its digits.

    Every text a caller sends goes through here before it is stored or looked up. Refused
    (InvalidParam naming `field`): anything but a string or a number, and text no database
    column can hold (`UNSTORABLE`). Callers strip and shorten the result as the field needs.
    """
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise InvalidParam(f"{field}은(는) 문자열이어야 합니다.")
    text = str(value)
    if not storable(text):
        raise InvalidParam(
            f"{field}에 쓸 수 없는 문자(NUL 또는 짝이 없는 서로게이트)가 들어 있습니다."
        )
    return text


def storable(text: str) -> bool:
    """Whether a database text column can hold `text` (see `UNSTORABLE`)."""
    return UNSTORABLE.search(text) is None


def parse_vbank_due(value: Any, *, field: str = "vbank_due") -> datetime | None:
    """The `vbank_due` of request_pay: `YYYYMMDDhhmm`, `YYYYMMDD`, `YYYY-MM-DD[ hh:mm]` (local
    time; a bare date means the end of that day) or a unix timestamp. None when absent.
    V2's `accountExpiry.dueDate` uses the same reading (`field` names it in messages).

    The deadline must fall in [VBANK_DUE_FIRST, VBANK_DUE_END); NaN and infinities are refused.
    """
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Compared before any conversion (NaN compares false, so it is refused too): int()
        # refuses NaN and infinities, and fromtimestamp() overflows far below 1e300.
        if not VBANK_DUE_FIRST.timestamp() <= value < VBANK_DUE_END.timestamp():
            raise _vbank_due_out_of_range(value, field)
        return datetime.fromtimestamp(int(value), tz=timezone.get_default_timezone())
    text = parse_text(value, field=field).strip()
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
        due = timezone.make_aware(parsed, timezone.get_default_timezone())
        if not VBANK_DUE_FIRST <= due < VBANK_DUE_END:
            raise _vbank_due_out_of_range(text, field)
        return due
    raise InvalidParam(f"{field} 형식이 올바르지 않습니다: {text!r} (예: 202501312359)")


def _vbank_due_out_of_range(value: Any, field: str) -> InvalidParam:
    return InvalidParam(
        f"{field}는 {VBANK_DUE_FIRST.year}년부터 {VBANK_DUE_END.year}년 사이여야 합니다: {value!r}"
    )


def _text(param: dict[str, Any], key: str, *, limit: int) -> str:
    return parse_text(param.get(key), field=key).strip()[:limit]


@dataclass(frozen=True)
class PayRequest:
    """The parts of an `IMP.request_pay` parameter object the sandbox uses, or of a V2
    `PortOne.requestPayment` request in the same terms (`sandbox.params_v2`)."""

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
    # PortOne V2 only.
    api: str = "v1"
    store_id: str = ""
    channel_key: str = ""
    notice_urls: tuple[str, ...] = ()


def parse_pay_request(param: Any) -> PayRequest:
    """Check `param` as the real SDK would before opening a window; raise `InvalidParam`."""
    if not isinstance(param, dict):
        raise InvalidParam("결제 요청 파라미터가 객체가 아닙니다.")

    merchant_uid = param.get("merchant_uid")
    if not isinstance(merchant_uid, str) or not merchant_uid.strip():
        raise InvalidParam("merchant_uid는 필수 항목입니다.")
    merchant_uid = parse_text(merchant_uid, field="merchant_uid").strip()
    if len(merchant_uid) > MERCHANT_UID_MAX_LENGTH:
        raise InvalidParam(f"merchant_uid는 {MERCHANT_UID_MAX_LENGTH}자 이하여야 합니다.")

    if "amount" not in param:
        raise InvalidParam("amount는 필수 항목입니다.")
    amount = parse_amount(param["amount"], strict=True, positive=True)

    pay_method = param.get("pay_method")
    if not isinstance(pay_method, str) or not pay_method.strip():
        raise InvalidParam("pay_method는 필수 항목입니다.")
    pay_method = parse_text(pay_method, field="pay_method").strip()[:20]

    pg = _text(param, "pg", limit=120) or getattr(settings, "IAMPORT_PG", "") or "html5_inicis"
    pg_provider, _, pg_id = pg.partition(".")

    custom_data = param.get("custom_data")
    if custom_data is None:
        custom_data_text = ""
    elif isinstance(custom_data, str):
        custom_data_text = parse_text(custom_data, field="custom_data")
    else:
        # json.dumps escapes a NUL (\u0000) but writes a lone surrogate out as it is.
        dumped = json.dumps(custom_data, ensure_ascii=False)
        custom_data_text = parse_text(dumped, field="custom_data")

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
