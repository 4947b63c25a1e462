"""The three doors payment results come in by, all leading to the one sync decision.

- `complete` POST: the order page's pay button reports `imp_uid` + `merchant_uid` (V1) or
  `paymentId` (V2) as JSON.
- `complete` GET: the mobile redirect (V1 `m_redirect_url`, V2 `redirectUrl`) lands here with
  the same in the query.
- `webhook` POST: Iamport's notification, or PortOne V2's signed one; the body is only a hint.

None of them trusts what it is told: the payment is fetched from Iamport and compared with the
order on the server. None answers 500: bad input is a 4xx, Iamport trouble a 502/503/504.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.http.request import RawPostDataException
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext, gettext_lazy
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from guard import ratelimit
from guard.ip import client_ip
from guard.rates import Rate
from payments import gateways
from payments.client import (
    IamportError,
    IamportNotFound,
    IamportTimeout,
    IamportUnavailable,
)
from payments.ids import is_imp_uid
from payments.models import Payment, WebhookDelivery
from payments.services import (
    MESSAGES,
    SyncOutcome,
    SyncResult,
    payment_prepare,
    payment_sync,
    payment_sync_v2,
)
from payments.services.webhooks import (
    WebhookRejected,
    is_v2_delivery,
    webhook_finish,
    webhook_process,
    webhook_process_v2,
    webhook_store,
)
from shop import selectors as shop_selectors
from shop.ids import is_merchant_uid
from shop.models import Order
from shop.services import Message

logger = logging.getLogger(__name__)

HTTP_STATUS_OF_OUTCOME = {
    SyncOutcome.PAID: 200,
    SyncOutcome.AWAITING_DEPOSIT: 200,
    SyncOutcome.NOT_PAID: 402,
    SyncOutcome.CANCELLED: 409,
    SyncOutcome.REFUNDED: 409,
    SyncOutcome.FORGED: 409,
    SyncOutcome.TEST_CHANNEL: 409,
    SyncOutcome.DUPLICATE: 409,
    SyncOutcome.UNFULFILLABLE: 409,
    SyncOutcome.MISMATCH: 409,
    SyncOutcome.NOT_OURS: 404,
}

# What the buyer reads, in the language of the request it answers.
UNAVAILABLE_MESSAGE = gettext_lazy(
    "결제 확인이 지연되고 있습니다. 잠시 후 주문 내역에서 다시 확인해 주세요."
)
NOT_FOUND_MESSAGE = gettext_lazy("결제 정보를 찾을 수 없습니다.")


class BadInput(ValueError):
    """The request itself is unusable; the message says why."""


def _iamport_failure(exc: IamportError) -> tuple[int, str]:
    """HTTP status and a buyer-facing message for a failure to ask Iamport."""
    if isinstance(exc, IamportNotFound):
        return 404, str(NOT_FOUND_MESSAGE)
    if isinstance(exc, IamportTimeout):
        return 504, str(UNAVAILABLE_MESSAGE)
    if isinstance(exc, IamportUnavailable):
        return 503, str(UNAVAILABLE_MESSAGE)
    return 502, str(UNAVAILABLE_MESSAGE)


def _client_error(exc: Exception) -> tuple[int, str] | None:
    """The answer for an exception that is the client's doing, or None for our own fault."""
    if isinstance(exc, RequestDataTooBig):
        return 413, gettext("요청 본문이 너무 큽니다.")
    if isinstance(exc, SuspiciousOperation | MultiPartParserError | RawPostDataException):
        return 400, gettext("잘못된 요청입니다.")
    return None


def never_500(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The client's mistakes become a 4xx; a bug or an outage below us a logged 503 (retry
    later), never a bare 500."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except Exception as exc:
            client_error = _client_error(exc)
            if client_error is not None:
                status, message = client_error
                logger.info("%s %s: %s (%s)", request.method, request.path, status, exc)
                return JsonResponse(
                    {"status": None, "message": message, "redirect_url": None}, status=status
                )
            logger.exception("%s %s failed unexpectedly", request.method, request.path)
            return JsonResponse(
                {"status": None, "message": str(UNAVAILABLE_MESSAGE), "redirect_url": None},
                status=503,
            )

    return wrapper


def _uid(data: Any, name: str) -> str:
    """An id from the caller, checked for length and characters before any query uses it."""
    value = _optional_uid(data, name)
    if value is None:
        raise BadInput(f"{name} is required")
    return value


def _optional_uid(data: Any, name: str) -> str | None:
    value = data.get(name) if isinstance(data, dict) else None
    if isinstance(value, str):
        value = value.strip()
    if value is None or value == "":
        return None
    valid = is_merchant_uid(value) if name in ("merchant_uid", "paymentId") else is_imp_uid(value)
    if not valid:
        raise BadInput(f"{name} is not a valid id")
    return value


API_NAMES: dict[str, str] = {Payment.Api.V1: "Iamport (PortOne V1)", Payment.Api.V2: "PortOne V2"}


def _check_api(api: str) -> None:
    """A result for an API the shop holds no credentials for (a V2 page's paymentId posted to
    a V1-only shop): the caller's mistake, answered before anything is asked."""
    if not gateways.is_configured(api):
        raise BadInput(f"this shop takes no {API_NAMES[api]} payments")


def _json_body(request: HttpRequest) -> dict:
    if request.content_type in ("multipart/form-data", "application/x-www-form-urlencoded"):
        raise BadInput("the body must be JSON")
    try:
        data = json.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadInput("the body is not JSON") from None
    if not isinstance(data, dict):
        raise BadInput("the body must be a JSON object")
    return data


def _verdict(status: int, message: Message, order: Order | None) -> JsonResponse:
    return JsonResponse(
        {
            "status": order.status if order else None,
            "message": message,
            "redirect_url": order.get_absolute_url() if order else None,
        },
        status=status,
    )


# --- complete -----------------------------------------------------------------------------
@never_500
@require_http_methods(["GET", "POST"])
def complete(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return _complete_redirect(request)
    return _complete_json(request)


def _complete_json(request: HttpRequest) -> JsonResponse:
    """V1 posts {imp_uid, merchant_uid}; V2 {paymentId} (the order's merchant_uid)."""
    try:
        data = _json_body(request)
        if "paymentId" in data:
            imp_uid, merchant_uid = None, _uid(data, "paymentId")
        else:
            imp_uid, merchant_uid = _uid(data, "imp_uid"), _uid(data, "merchant_uid")
        _check_api(Payment.Api.V2 if imp_uid is None else Payment.Api.V1)
    except BadInput as exc:
        logger.info("complete: bad request: %s", exc)
        return _verdict(400, gettext("잘못된 요청입니다 (%(reason)s).") % {"reason": exc}, None)
    order = Order.objects.filter(merchant_uid=merchant_uid).first()
    if order is None:
        logger.info("complete: unknown order %s (imp_uid %s)", merchant_uid, imp_uid)
        return _verdict(404, gettext("주문을 찾을 수 없습니다."), None)
    try:
        result = _sync(imp_uid, merchant_uid)
    except IamportError as exc:
        status, message = _iamport_failure(exc)
        logger.warning("complete %s/%s: Iamport failed: %r", merchant_uid, imp_uid, exc)
        return _verdict(status, message, order)
    logger.info("complete %s/%s: %s", merchant_uid, imp_uid, result.outcome)
    if result.succeeded:
        _flash(request, result)  # shown on the order page the browser goes to next
    return _verdict(HTTP_STATUS_OF_OUTCOME[result.outcome], result.message, result.order or order)


def _sync(imp_uid: str | None, merchant_uid: str) -> SyncResult:
    """V1 names the attempt (imp_uid); V2 only the order's paymentId."""
    if imp_uid is None:
        return payment_sync_v2(payment_id=merchant_uid)
    return payment_sync(imp_uid=imp_uid, merchant_uid=merchant_uid)


def _complete_redirect(request: HttpRequest) -> HttpResponseRedirect:
    """The mobile flow: verify, then show the order page with the verdict as a message.

    V1 (`m_redirect_url`) adds imp_uid and merchant_uid (error_msg on failure); V2
    (`redirectUrl`) adds paymentId, and code and message when the payment failed."""
    if "paymentId" in request.GET:
        return _complete_redirect_v2(request)
    try:
        merchant_uid = _uid(request.GET, "merchant_uid")
        imp_uid = _optional_uid(request.GET, "imp_uid")
        _check_api(Payment.Api.V1)
    except BadInput as exc:
        messages.error(
            request, gettext("결제 결과를 확인할 수 없습니다 (%(reason)s).") % {"reason": exc}
        )
        return redirect("shop:product_list")
    order = Order.objects.filter(merchant_uid=merchant_uid).first()
    if order is None:
        messages.error(request, gettext("주문을 찾을 수 없습니다."))
        return redirect("shop:product_list")
    if imp_uid is None:
        # The payment never started (refused by the SDK); only the PG's words are left to show.
        messages.error(
            request,
            request.GET.get("error_msg", "")[:200] or gettext("결제가 시작되지 않았습니다."),
        )
        return redirect(order)
    try:
        result = payment_sync(imp_uid=imp_uid, merchant_uid=merchant_uid)
    except IamportError as exc:
        _, message = _iamport_failure(exc)
        logger.warning("mobile complete %s/%s: Iamport failed: %r", merchant_uid, imp_uid, exc)
        messages.warning(request, message)
        return redirect(order)
    logger.info("mobile complete %s/%s: %s", merchant_uid, imp_uid, result.outcome)
    _flash(request, result)
    return redirect(order)


def _complete_redirect_v2(request: HttpRequest) -> HttpResponseRedirect:
    try:
        payment_id = _uid(request.GET, "paymentId")
        _check_api(Payment.Api.V2)
    except BadInput as exc:
        messages.error(
            request, gettext("결제 결과를 확인할 수 없습니다 (%(reason)s).") % {"reason": exc}
        )
        return redirect("shop:product_list")
    order = Order.objects.filter(merchant_uid=payment_id).first()
    if order is None:
        messages.error(request, gettext("주문을 찾을 수 없습니다."))
        return redirect("shop:product_list")
    if request.GET.get("code"):
        # Failed or never started; PortOne's webhook records a failed attempt on its own.
        said = request.GET.get("pgMessage") or request.GET.get("message") or ""
        messages.error(request, said[:200] or str(MESSAGES[SyncOutcome.NOT_PAID]))
        return redirect(order)
    try:
        result = payment_sync_v2(payment_id=payment_id)
    except IamportError as exc:
        _, message = _iamport_failure(exc)
        logger.warning("mobile complete %s: PortOne failed: %r", payment_id, exc)
        messages.warning(request, message)
        return redirect(order)
    logger.info("mobile complete %s: %s", payment_id, result.outcome)
    _flash(request, result)
    return redirect(order)


def _flash(request: HttpRequest, result: SyncResult) -> None:
    if result.outcome == SyncOutcome.PAID:
        messages.success(request, result.message)
    elif result.outcome == SyncOutcome.AWAITING_DEPOSIT:
        messages.info(request, result.message)
    elif result.order is None or result.order.status_message != str(result.message):
        messages.error(request, result.message)  # else the order page says it already


# --- webhook ------------------------------------------------------------------------------
def _webhook_payload(request: HttpRequest) -> dict:
    try:
        if request.content_type == "application/json":
            return _json_body(request)
        return request.POST.dict()
    except (BadInput, MultiPartParserError) as exc:
        raise WebhookRejected(str(exc) or "the body is neither JSON nor a form") from None


def _webhook_imp_uid(payload: dict) -> str:
    try:
        return _uid(payload, "imp_uid")
    except BadInput as exc:
        raise WebhookRejected(str(exc)) from None


def _webhook_sender_is_trusted(address: str | None) -> bool:
    trusted = {*settings.IAMPORT_WEBHOOK_SENDER_IPS, *settings.IAMPORT_WEBHOOK_ALLOWED_IPS}
    return address is not None and address in trusted


def _webhook_rate_limited(address: str | None) -> bool:
    if _webhook_sender_is_trusted(address):
        return False  # Iamport's own deliveries always get through
    rate = Rate.parse(settings.IAMPORT_WEBHOOK_RATE, setting="IAMPORT_WEBHOOK_RATE")
    return not ratelimit.allow(f"webhook:{address or '-'}", rate)


def _answer(outcome: str, detail: str, status: int = 200) -> JsonResponse:
    return JsonResponse({"result": outcome, "detail": detail}, status=status)


@csrf_exempt
@never_500
@require_POST
def webhook(request: HttpRequest) -> JsonResponse:
    address = client_ip(request)
    # Counted before anything is stored or looked up: a flood costs one statement a request.
    if _webhook_rate_limited(address):
        logger.warning("webhook from %s: rate limited", address)
        return _answer(WebhookDelivery.Outcome.REJECTED, "too many deliveries", 429)
    declared = request.META.get("CONTENT_LENGTH") or "0"
    if declared.isdigit() and int(declared) > settings.IAMPORT_WEBHOOK_MAX_BODY:
        delivery = webhook_store(remote_addr=address, headers=request.headers, body=b"")
        webhook_finish(delivery, WebhookDelivery.Outcome.REJECTED, f"body of {declared} bytes")
        return _answer(WebhookDelivery.Outcome.REJECTED, "body too large", 413)
    allowed = settings.IAMPORT_WEBHOOK_ALLOWED_IPS
    sender_allowed = not allowed or address in allowed
    if is_v2_delivery(request.headers):
        delivery = webhook_store(
            remote_addr=address, headers=request.headers, body=request.body, api="v2"
        )
        answer = webhook_process_v2(
            delivery, sender_allowed=sender_allowed, body=request.body, headers=request.headers
        )
        return _answer(answer.outcome, answer.detail, answer.status)
    delivery = webhook_store(remote_addr=address, headers=request.headers, body=request.body)
    answer = webhook_process(
        delivery,
        sender_allowed=sender_allowed,
        read_payload=lambda: _webhook_payload(request),
        read_imp_uid=_webhook_imp_uid,
    )
    return _answer(answer.outcome, answer.detail, answer.status)


# --- prepare ------------------------------------------------------------------------------
def _not_payable_now(order: Order, refusal: str) -> JsonResponse:
    """409: the order cannot be paid now; the page shows why, and its current state."""
    return JsonResponse(
        {
            "message": refusal,
            "redirect_url": reverse("shop:order_detail", args=[order.merchant_uid]),
        },
        status=409,
    )


@never_500
@require_POST
def prepare(request: HttpRequest) -> JsonResponse:
    """Pre-register the order's server-side amount before the payment window opens."""
    try:
        merchant_uid = _uid(_json_body(request), "merchant_uid")
    except BadInput as exc:
        return JsonResponse(
            {"message": gettext("잘못된 요청입니다 (%(reason)s).") % {"reason": exc}}, status=400
        )
    order = Order.objects.filter(merchant_uid=merchant_uid).first()
    if order is None:
        return JsonResponse({"message": gettext("주문을 찾을 수 없습니다.")}, status=404)
    if not order.is_payable:
        refusal = gettext("이미 '%(status)s' 상태인 주문입니다.") % {
            "status": order.get_status_display()
        }
        return _not_payable_now(order, refusal)
    sold_out = shop_selectors.order_short_of_stock(order.lines.all())
    if sold_out:
        refusal = gettext(
            "주문하신 상품 중 품절된 상품이 있어 지금은 결제할 수 없습니다: %(names)s."
        ) % {"names": ", ".join(sold_out)}
        return _not_payable_now(order, refusal)
    try:
        amount = payment_prepare(order=order)
    except IamportError as exc:
        status, message = _iamport_failure(exc)
        logger.warning("prepare %s: Iamport failed: %r", merchant_uid, exc)
        return JsonResponse({"message": message}, status=502 if status == 404 else status)
    return JsonResponse({"merchant_uid": order.merchant_uid, "amount": amount})
