"""Reading what PortOne V2 callers send: the `PortOne.requestPayment` request and the REST
bodies of cancel and pre-register.

As in `sandbox.params`, parsing happens once, at the edge: the request becomes the same
`PayRequest` the V1 window starts from (in V1 terms: `CARD` is "card", ...), and the REST
bodies become small dataclasses of ints, bools and checked text. Anything of the wrong type
raises `InvalidParam`, which the browser sees as `INVALID_PARAMETER` and REST as 400
`INVALID_REQUEST`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from django.utils.translation import gettext as _

from sandbox.params import (
    MERCHANT_UID_MAX_LENGTH,
    InvalidParam,
    PayRequest,
    parse_amount,
    parse_text,
    parse_vbank_due,
)

# error codes of the V2 SDK's own refusals besides V1's (`sandbox.params.SDK_*`), named by the
# sandbox: PortOne publishes no table of them.
SDK_UNKNOWN_STORE = "UNKNOWN_STORE"
SDK_UNKNOWN_CHANNEL = "UNKNOWN_CHANNEL"
# V2 payMethod -> the V1 code the shared lifecycle (window, console, receipts) works with.
PAY_METHODS = {
    "CARD": "card",
    "TRANSFER": "trans",
    "VIRTUAL_ACCOUNT": "vbank",
    "EASY_PAY": "kakaopay",
}
V2_PAY_METHOD_OF = {code: v2 for v2, code in PAY_METHODS.items()}
# The browser SDK takes both spellings; the REST API only "KRW".
CURRENCIES = {"KRW", "CURRENCY_KRW"}
REQUIRED = ("storeId", "paymentId", "orderName", "totalAmount", "currency", "payMethod")
# The channel's PG, as V2 reports it in `channel.pgProvider`: Kakao Pay is a channel of its own,
# every other method goes through the sandbox's stand-in for a card/transfer/account PG.
PG_PROVIDERS = {"kakaopay": "KAKAOPAY"}
DEFAULT_PG_PROVIDER = "TOSSPAYMENTS"
PG_MERCHANT_ID = "sandbox"
MAX_NOTICE_URLS = 10
MAX_VALID_HOURS = 24 * 365 * 10  # ten years: any real deadline, far from datetime's end
CANCEL_REASON_MAX_LENGTH = 500
REQUESTERS = {"CUSTOMER", "ADMIN"}
# An Idempotency-Key is an RFC 8941 string: printable ASCII in double quotes, with \\ and \"
# escaped. PortOne wants 16 to 256 characters.
_SF_STRING = re.compile(r'"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\[\\"])*)"')
IDEMPOTENCY_KEY_LENGTH = (16, 256)


def _required_text(request: dict[str, Any], key: str, *, limit: int) -> str:
    value = request.get(key)
    if not isinstance(value, str) or not value.strip():
        raise InvalidParam(
            _("%(field)s은(는) 비어 있지 않은 문자열이어야 합니다.") % {"field": key}
        )
    return parse_text(value, field=key).strip()[:limit]


def _optional_text(data: dict[str, Any], key: str, *, limit: int, field: str = "") -> str:
    value = data.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidParam(_("%(field)s은(는) 문자열이어야 합니다.") % {"field": field or key})
    return parse_text(value, field=field or key).strip()[:limit]


def _optional_object(data: dict[str, Any], key: str, *, field: str = "") -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParam(_("%(field)s은(는) 객체여야 합니다.") % {"field": field or key})
    return value


def _optional_bool(data: dict[str, Any], key: str) -> bool:
    value = data.get(key)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidParam(_("%(field)s은(는) true 또는 false여야 합니다.") % {"field": key})
    return value


# --- PortOne.requestPayment ---------------------------------------------------------------
@dataclass(frozen=True)
class Buyer:
    name: str
    email: str
    tel: str
    addr: str
    postcode: str


def _customer(request: dict[str, Any]) -> Buyer:
    customer = _optional_object(request, "customer")

    def text(key: str, limit: int) -> str:
        return _optional_text(customer, key, limit=limit, field=f"customer.{key}")

    name = text("fullName", 100) or " ".join(
        part for part in (text("lastName", 50), text("firstName", 50)) if part
    )
    return Buyer(
        name=name,
        email=text("email", 200),
        tel=text("phoneNumber", 40),
        addr=_address(customer.get("address")),
        postcode=text("zipcode", 20),
    )


def _address(value: Any) -> str:
    """The buyer's address on one line: V2 sends {country, addressLine1, addressLine2, ...}."""
    if value is None:
        return ""
    if isinstance(value, str):
        return parse_text(value, field="customer.address").strip()[:300]
    if not isinstance(value, dict):
        raise InvalidParam(_("customer.address는 객체여야 합니다."))
    lines = [
        _optional_text(value, key, limit=300, field=f"customer.address.{key}")
        for key in ("addressLine1", "addressLine2")
    ]
    return " ".join(line for line in lines if line)[:300]


def _redirect_url(request: dict[str, Any], *, redirect: bool) -> str:
    url = _optional_text(request, "redirectUrl", limit=1000)
    if url and not url.startswith(("https://", "http://")):
        raise InvalidParam(_("redirectUrl은 http:// 또는 https://로 시작해야 합니다."))
    return url if redirect else ""


def _notice_urls(request: dict[str, Any]) -> tuple[str, ...]:
    urls = request.get("noticeUrls")
    if urls is None:
        return ()
    if not isinstance(urls, list) or len(urls) > MAX_NOTICE_URLS:
        raise InvalidParam(
            _("noticeUrls는 문자열 %(count)d개 이하의 배열이어야 합니다.")
            % {"count": MAX_NOTICE_URLS}
        )
    parsed = []
    for url in urls:
        if not isinstance(url, str) or not url.strip() or len(url) > 500:
            raise InvalidParam(_("noticeUrls의 항목은 500자 이하의 URL 문자열이어야 합니다."))
        parsed.append(parse_text(url, field="noticeUrls").strip())
    return tuple(parsed)


def _custom_data(request: dict[str, Any]) -> str:
    """`customData` as the JSON string REST hands back (any JSON value; V2 documents an
    object)."""
    if request.get("customData") is None:
        return ""
    try:
        dumped = json.dumps(
            request["customData"], ensure_ascii=False, allow_nan=False, separators=(",", ":")
        )
    except ValueError:
        raise InvalidParam(
            _("customData에 JSON으로 쓸 수 없는 숫자(NaN, Infinity)가 있습니다.")
        ) from None
    # json.dumps escapes a NUL (\u0000) but writes a lone surrogate out as it is.
    return parse_text(dumped, field="customData")


def _account_due(request: dict[str, Any]) -> datetime | None:
    """`virtualAccount.accountExpiry`: exactly one of {dueDate} (local time) or {validHours}."""
    account = _optional_object(request, "virtualAccount")
    expiry = _optional_object(account, "accountExpiry", field="virtualAccount.accountExpiry")
    due_date, valid_hours = expiry.get("dueDate"), expiry.get("validHours")
    if due_date is not None and valid_hours is not None:
        raise InvalidParam(_("accountExpiry에는 dueDate와 validHours 중 하나만 줄 수 있습니다."))
    if due_date is not None:
        if not isinstance(due_date, str):
            raise InvalidParam(_("accountExpiry.dueDate는 문자열이어야 합니다."))
        return parse_vbank_due(due_date, field="accountExpiry.dueDate")
    if valid_hours is None:
        return None
    if isinstance(valid_hours, float) and valid_hours.is_integer():
        valid_hours = int(valid_hours)
    if (
        isinstance(valid_hours, bool)
        or not isinstance(valid_hours, int)
        or not 1 <= valid_hours <= MAX_VALID_HOURS
    ):
        raise InvalidParam(
            _("accountExpiry.validHours는 1 이상 %(most)d 이하의 정수여야 합니다.")
            % {"most": MAX_VALID_HOURS}
        )
    return timezone.now() + timedelta(hours=valid_hours)


def _pay_method(request: dict[str, Any]) -> str:
    pay_method = request["payMethod"]
    if not isinstance(pay_method, str) or pay_method not in PAY_METHODS:
        raise InvalidParam(
            _("샌드박스가 지원하지 않는 payMethod입니다: %(value)s (지원: %(supported)s)")
            % {"value": _shown(pay_method), "supported": ", ".join(PAY_METHODS)}
        )
    return PAY_METHODS[pay_method]


def _shown(value: Any) -> str:
    """A refused value for a message: short, and only characters any page can show."""
    text = value if isinstance(value, str) else json.dumps(value, default=str)[:40]
    return repr(text[:40]) if text.isprintable() else repr(text[:40].encode("unicode_escape"))


def parse_payment_request(request: Any, *, redirect: bool = False) -> PayRequest:
    """Check a `PortOne.requestPayment` request as the real SDK would before any window.

    `redirect` says whether the window runs in redirect mode (the script decides it from
    `forceRedirect` and the user agent); the `redirectUrl` is kept only then. Raises
    `InvalidParam` (code INVALID_PARAMETER); the store and the channel are checked against
    the settings by `services.payment_start`.
    """
    if not isinstance(request, dict):
        raise InvalidParam(_("결제 요청이 객체가 아닙니다."))
    for key in REQUIRED:
        if request.get(key) is None or request.get(key) == "":
            raise InvalidParam(_("%(field)s는 필수 항목입니다.") % {"field": key})
    payment_id = _required_text(request, "paymentId", limit=MERCHANT_UID_MAX_LENGTH + 1)
    if len(payment_id) > MERCHANT_UID_MAX_LENGTH:
        raise InvalidParam(
            _("paymentId는 %(most)d자 이하여야 합니다.") % {"most": MERCHANT_UID_MAX_LENGTH}
        )
    amount = parse_amount(request["totalAmount"], field="totalAmount", strict=True, positive=True)
    if not isinstance(request["currency"], str) or request["currency"] not in CURRENCIES:
        raise _not_krw(request["currency"])
    pay_method = _pay_method(request)
    _optional_bool(request, "forceRedirect")  # checked for its type; the script acts on it
    buyer = _customer(request)
    return PayRequest(
        merchant_uid=payment_id,
        amount=amount,
        pay_method=pay_method,
        pg_provider=PG_PROVIDERS.get(pay_method, DEFAULT_PG_PROVIDER),
        pg_id=PG_MERCHANT_ID,
        name=_required_text(request, "orderName", limit=200),
        currency="KRW",
        buyer_name=buyer.name,
        buyer_email=buyer.email,
        buyer_tel=buyer.tel,
        buyer_addr=buyer.addr,
        buyer_postcode=buyer.postcode,
        custom_data=_custom_data(request),
        notice_url="",
        m_redirect_url=_redirect_url(request, redirect=redirect),
        vbank_due=_account_due(request) if pay_method == "vbank" else None,
        api="v2",
        store_id=_required_text(request, "storeId", limit=100),
        channel_key=_optional_text(request, "channelKey", limit=200),
        notice_urls=_notice_urls(request),
    )


def _not_krw(currency: Any) -> InvalidParam:
    return InvalidParam(
        _("샌드박스는 원화(KRW)만 받습니다: %(value)s") % {"value": _shown(currency)}
    )


# --- REST bodies --------------------------------------------------------------------------
def _optional_amount(data: dict[str, Any], key: str, *, positive: bool = False) -> int | None:
    """A JSON integer (a numeric string is the wrong type, as for PortOne's int64)."""
    if data.get(key) is None:
        return None
    return parse_amount(data[key], field=key, strict=True, positive=positive)


@dataclass(frozen=True)
class RefundAccountBody:
    bank: str
    number: str
    holder_name: str
    holder_phone: str


@dataclass(frozen=True)
class CancelBody:
    reason: str
    amount: int | None
    current_cancellable_amount: int | None
    refund_account: RefundAccountBody | None
    skip_webhook: bool
    store_id: str


def _refund_account(data: dict[str, Any]) -> RefundAccountBody | None:
    account = data.get("refundAccount")
    if account is None:
        return None
    if not isinstance(account, dict):
        raise InvalidParam(_("refundAccount는 객체여야 합니다."))
    fields = {}
    for key, limit in (("bank", 40), ("number", 40), ("holderName", 100)):
        fields[key] = _optional_text(account, key, limit=limit + 1, field=f"refundAccount.{key}")
        if not fields[key] or len(fields[key]) > limit:
            raise InvalidParam(
                _("refundAccount.%(field)s는 %(most)d자 이하의 필수 항목입니다.")
                % {"field": key, "most": limit}
            )
    phone = _optional_text(account, "holderPhoneNumber", limit=40, field="refundAccount.phone")
    return RefundAccountBody(
        bank=fields["bank"],
        number=fields["number"],
        holder_name=fields["holderName"],
        holder_phone=phone,
    )


def parse_cancel_body(data: dict[str, Any]) -> CancelBody:
    """`POST payments/{paymentId}/cancel` (OPENAPI `CancelPaymentBody`)."""
    reason = _optional_text(data, "reason", limit=CANCEL_REASON_MAX_LENGTH + 1)
    if not reason:
        raise InvalidParam(_("reason은 필수 항목입니다."))
    if len(reason) > CANCEL_REASON_MAX_LENGTH:
        raise InvalidParam(
            _("reason은 %(most)d자 이하여야 합니다.") % {"most": CANCEL_REASON_MAX_LENGTH}
        )
    for key in ("taxFreeAmount", "vatAmount"):
        _optional_amount(data, key)  # accepted for their type; the sandbox charges no tax
    requester = data.get("requester")
    if requester is not None and (not isinstance(requester, str) or requester not in REQUESTERS):
        raise InvalidParam(_("requester는 CUSTOMER 또는 ADMIN이어야 합니다."))
    _optional_text(data, "refundEmail", limit=200)
    _optional_text(data, "promotionDiscountRetainOption", limit=40)
    return CancelBody(
        reason=reason,
        amount=_optional_amount(data, "amount", positive=True),
        current_cancellable_amount=_optional_amount(data, "currentCancellableAmount"),
        refund_account=_refund_account(data),
        skip_webhook=_optional_bool(data, "skipWebhook"),
        store_id=_optional_text(data, "storeId", limit=100),
    )


@dataclass(frozen=True)
class PreRegisterBody:
    total_amount: int | None
    store_id: str


def parse_pre_register_body(data: dict[str, Any]) -> PreRegisterBody:
    """`POST payments/{paymentId}/pre-register` (OPENAPI `PreRegisterPaymentBody`)."""
    total_amount = _optional_amount(data, "totalAmount", positive=True)
    _optional_amount(data, "taxFreeAmount")
    currency = data.get("currency")
    if currency is not None and currency != "KRW":
        raise _not_krw(currency)
    return PreRegisterBody(
        total_amount=total_amount, store_id=_optional_text(data, "storeId", limit=100)
    )


def parse_idempotency_key(header: str | None) -> str:
    """The key of an `Idempotency-Key` header ("" when absent); InvalidParam when it is not an
    RFC 8941 string of 16 to 256 characters."""
    if header is None:
        return ""
    match = _SF_STRING.fullmatch(header.strip())
    if match is None:
        raise InvalidParam(
            _('Idempotency-Key는 큰따옴표로 감싼 RFC 8941 문자열이어야 합니다 (예: "key-123...").')
        )
    key = re.sub(r"\\(.)", r"\1", match.group(1))
    low, high = IDEMPOTENCY_KEY_LENGTH
    if not low <= len(key) <= high:
        raise InvalidParam(
            _("Idempotency-Key는 %(least)d자 이상 %(most)d자 이하여야 합니다.")
            % {"least": low, "most": high}
        )
    return key
