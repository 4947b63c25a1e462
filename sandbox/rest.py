"""The REST side: Iamport's V1 API paths under `/sandbox/iamport/` (PortOne V2's are in
`sandbox.rest_v2`). Only V1 payments and prepared amounts are seen here.

Same envelope, status codes and field names as `https://api.iamport.kr/`, so the shop's client
talks to the sandbox exactly as it talks to Iamport. Auth failures answer HTTP 401 with code
-1, unknown ids on GET answer 404, bad parameters 400; a refused cancel answers HTTP 200 with
a non-zero code and a message, as Iamport does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt

from sandbox import selectors, services
from sandbox.http import BadRequestBody, envelope, read_params, sandbox_only
from sandbox.models import Api, SandboxCancellation, SandboxPayment, SandboxPrepare
from sandbox.params import (
    MERCHANT_UID_MAX_LENGTH,
    InvalidParam,
    parse_amount,
    parse_bool,
    parse_optional_amount,
    parse_text,
    storable,
)
from sandbox.serializers import payment_to_api, prepare_to_api, token_to_api

AUTH_FAILED = -1
REFUSED = 1
NOT_FOUND_MESSAGE = "존재하지 않는 결제정보입니다."
MAX_LIMIT = 1000


def _access_token(request: HttpRequest) -> str:
    """The token from `Authorization: <token>` (or `Bearer <token>`, or X-ImpTokenHeader)."""
    raw = request.headers.get("Authorization") or request.headers.get("X-ImpTokenHeader") or ""
    raw = raw.strip()
    if raw.lower().startswith("bearer "):
        raw = raw[len("bearer ") :].strip()
    # No token holds such characters, and the lookup could not even compare them.
    return raw if storable(raw) else ""


def iamport_api(*methods: str, auth: bool = True) -> Callable:
    """Make a view an Iamport endpoint: sandbox guard, no CSRF, allowed methods, token check,
    and bad parameters turned into a 400 envelope."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                reply = envelope(
                    code=REFUSED,
                    message=f"{request.method} 메서드는 지원하지 않습니다.",
                    status=405,
                )
                reply["Allow"] = ", ".join(methods)
                return reply
            if auth and selectors.token_valid(_access_token(request)) is None:
                return envelope(code=AUTH_FAILED, message="Unauthorized", status=401)
            try:
                return view(request, *args, **kwargs)
            except (BadRequestBody, InvalidParam) as exc:
                return envelope(code=REFUSED, message=str(exc), status=400)

        return sandbox_only(csrf_exempt(endpoint))

    return decorate


def _query_int(request: HttpRequest, name: str, default: int, *, low: int, high: int) -> int:
    raw = request.GET.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidParam(f"{name}은(는) 정수여야 합니다.") from None
    if not low <= value <= high:
        raise InvalidParam(f"{name}은(는) {low} 이상 {high} 이하여야 합니다.")
    return value


def _status_and_sorting(request: HttpRequest, payment_status: str) -> tuple[str, str]:
    if payment_status not in selectors.STATUS_FILTERS:
        raise InvalidParam(f"지원하지 않는 결제상태입니다: {payment_status}")
    sorting = parse_text(request.GET.get("sorting"), field="sorting") or "-started"
    if sorting not in selectors.SORTINGS:
        raise InvalidParam(f"지원하지 않는 sorting 값입니다: {sorting}")
    return payment_status, sorting


def _paged(request: HttpRequest, payments: Any) -> dict[str, Any]:
    """Iamport's `PagedPaymentAnnotation`: total, previous/next page (0 when none), list."""
    page_number = _query_int(request, "page", 1, low=1, high=10**6)
    limit = _query_int(request, "limit", 20, low=1, high=MAX_LIMIT)
    paginator = Paginator(payments.prefetch_related("cancellations"), limit)
    total = paginator.count
    items = paginator.page(page_number).object_list if page_number <= paginator.num_pages else []
    return {
        "total": total,
        "previous": page_number - 1 if page_number > 1 else 0,
        "next": page_number + 1 if page_number * limit < total else 0,
        "list": [payment_to_api(payment, request=request) for payment in items],
    }


# --- auth ---------------------------------------------------------------------------------
@iamport_api("POST", auth=False)
def get_token(request: HttpRequest) -> HttpResponse:
    """`POST users/getToken`."""
    params = read_params(request)
    imp_key = parse_text(params.get("imp_key"), field="imp_key")
    imp_secret = parse_text(params.get("imp_secret"), field="imp_secret")
    if not imp_key or not imp_secret:
        return envelope(
            code=AUTH_FAILED, message="imp_key, imp_secret 파라미터가 누락되었습니다.", status=401
        )
    try:
        token = services.token_issue(imp_key=imp_key, imp_secret=imp_secret)
    except services.AuthenticationFailed as exc:
        return envelope(code=AUTH_FAILED, message=exc.message, status=401)
    return envelope(token_to_api(token))


# --- reading payments ---------------------------------------------------------------------
@iamport_api("GET")
def payment_detail(request: HttpRequest, imp_uid: str) -> HttpResponse:
    """`GET payments/{imp_uid}`."""
    payment = SandboxPayment.objects.filter(api=Api.V1, imp_uid=imp_uid).first()
    if payment is None:
        return envelope(code=REFUSED, message=NOT_FOUND_MESSAGE, status=404)
    return envelope(payment_to_api(payment, request=request))


@iamport_api("GET")
def payment_find(request: HttpRequest, merchant_uid: str, payment_status: str = "") -> HttpResponse:
    """`GET payments/find/{merchant_uid}[/{payment_status}]`: the newest attempt."""
    payment_status, sorting = _status_and_sorting(request, payment_status)
    payment = selectors.payments_for_merchant_uid(
        merchant_uid, status=payment_status, sorting=sorting
    ).first()
    if payment is None:
        return envelope(code=REFUSED, message=NOT_FOUND_MESSAGE, status=404)
    return envelope(payment_to_api(payment, request=request))


@iamport_api("GET")
def payment_find_all(
    request: HttpRequest, merchant_uid: str, payment_status: str = ""
) -> HttpResponse:
    """`GET payments/findAll/{merchant_uid}[/{payment_status}]`: every attempt, paged."""
    payment_status, sorting = _status_and_sorting(request, payment_status)
    payments = selectors.payments_for_merchant_uid(
        merchant_uid, status=payment_status, sorting=sorting
    )
    page = _paged(request, payments)
    if page["total"] == 0:
        return envelope(code=REFUSED, message=NOT_FOUND_MESSAGE, status=404)
    return envelope(page)


@iamport_api("GET")
def payments_by_status(request: HttpRequest, payment_status: str) -> HttpResponse:
    """`GET payments/status/{payment_status}`: every payment of a status, paged; `from` and
    `to` (unix seconds) bound `started_at`."""
    payment_status, sorting = _status_and_sorting(request, payment_status)
    payments = SandboxPayment.objects.filter(api=Api.V1)
    if payment_status != "all":
        payments = payments.filter(status=payment_status)
    bounds = {"from": "started_at__gte", "to": "started_at__lte"}
    for name, lookup in bounds.items():
        seconds = _query_int(request, name, 0, low=0, high=2**40)
        if seconds:
            payments = payments.filter(**{lookup: datetime.fromtimestamp(seconds, tz=UTC)})
    return envelope(_paged(request, payments.order_by(*selectors.SORTINGS[sorting])))


# --- cancel -------------------------------------------------------------------------------
@iamport_api("POST")
def payment_cancel(request: HttpRequest) -> HttpResponse:
    """`POST payments/cancel`. Refusals answer HTTP 200 with a non-zero code, as Iamport."""
    params = read_params(request)

    def text(key: str) -> str:
        return parse_text(params.get(key), field=key)

    try:
        payment, _ = services.payment_cancel(
            imp_uid=text("imp_uid").strip(),
            merchant_uid=text("merchant_uid").strip(),
            amount=parse_optional_amount(params.get("amount"), field="amount"),
            checksum=parse_optional_amount(params.get("checksum"), field="checksum"),
            reason=text("reason"),
            refund_account=services.RefundAccount(
                holder=text("refund_holder"),
                bank=text("refund_bank"),
                account=text("refund_account"),
                tel=text("refund_tel"),
            ),
            source=SandboxCancellation.Source.API,
            notify=parse_bool(params.get("enable_webhook", False)),
        )
    except services.CancelRefused as exc:
        return envelope(code=REFUSED, message=exc.message)
    return envelope(payment_to_api(payment, request=request))


# --- prepare ------------------------------------------------------------------------------
@iamport_api("POST", "PUT")
def prepare(request: HttpRequest) -> HttpResponse:
    """`POST payments/prepare` registers, `PUT payments/prepare` changes a registration."""
    params = read_params(request)
    merchant_uid = parse_text(params.get("merchant_uid"), field="merchant_uid").strip()
    if not merchant_uid:
        raise InvalidParam("merchant_uid는 필수 항목입니다.")
    if len(merchant_uid) > MERCHANT_UID_MAX_LENGTH:
        raise InvalidParam(f"merchant_uid는 {MERCHANT_UID_MAX_LENGTH}자 이하여야 합니다.")
    if params.get("amount") in (None, ""):
        raise InvalidParam("amount는 필수 항목입니다.")
    amount = parse_amount(params.get("amount"), positive=True)
    currency = (parse_text(params.get("currency"), field="currency") or "KRW").upper()[:3]
    if request.method == "POST":
        try:
            prepared = services.prepare_register(
                merchant_uid=merchant_uid, amount=amount, currency=currency
            )
        except services.AlreadyRegistered as exc:
            return envelope(code=REFUSED, message=exc.message)
    else:
        try:
            prepared = services.prepare_update(
                merchant_uid=merchant_uid, amount=amount, currency=currency
            )
        except services.NotFound as exc:
            return envelope(code=REFUSED, message=exc.message, status=404)
    return envelope(prepare_to_api(prepared))


@iamport_api("GET")
def prepare_detail(request: HttpRequest, merchant_uid: str) -> HttpResponse:
    """`GET payments/prepare/{merchant_uid}`."""
    prepared = SandboxPrepare.objects.filter(api=Api.V1, merchant_uid=merchant_uid).first()
    if prepared is None:
        return envelope(
            code=REFUSED, message=f"사전등록된 결제정보가 없습니다: {merchant_uid}", status=404
        )
    return envelope(prepare_to_api(prepared))
