"""The REST side of PortOne V2: `https://api.portone.io/` under `/sandbox/portone/`.

`GET payments/{paymentId}`, `POST payments/{paymentId}/cancel`, `POST payments/{paymentId}/
pre-register`, answered as PortOne does: plain JSON, errors `{"type", "message"}` with the
HTTP status of their type (400 INVALID_REQUEST, 401 UNAUTHORIZED, 403 FORBIDDEN, 404
PAYMENT_NOT_FOUND, 409 for a refused cancel or pre-registration). Every call needs
`Authorization: PortOne <PORTONE_API_SECRET>`. Only V2 payments are seen here; a paymentId
names its attempt that was paid, else its newest (`selectors.v2_payment`).

Reference: https://developers.portone.io/api/rest-v2/payment
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from sandbox import selectors, services
from sandbox.http import BadRequestBody, read_json_object, sandbox_only, v2_error
from sandbox.models import Api, SandboxCancellation
from sandbox.params import MERCHANT_UID_MAX_LENGTH, InvalidParam, storable
from sandbox.params_v2 import (
    parse_cancel_body,
    parse_idempotency_key,
    parse_pre_register_body,
)
from sandbox.serializers_v2 import cancellation_to_v2, payment_to_v2

# HTTP status of each refused cancel, by its V2 error type.
CANCEL_STATUSES = {
    services.CANCEL_NOT_FOUND: 404,
    services.CANCEL_INVALID: 400,
    services.CANCEL_ALREADY_CANCELLED: 409,
    services.CANCEL_NOT_PAID: 409,
    services.CANCEL_CONSISTENCY_BROKEN: 409,
    services.CANCEL_EXCEEDS: 409,
}


def _json(data: dict[str, Any], *, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, json_dumps_params={"ensure_ascii": False})


def _authorized(request: HttpRequest) -> bool:
    """`Authorization: PortOne <API secret>` (the scheme, as any HTTP scheme, in any case)."""
    expected = getattr(settings, "PORTONE_API_SECRET", "")
    scheme, _space, secret = (request.headers.get("Authorization") or "").strip().partition(" ")
    if not expected or scheme.lower() != "portone":
        return False
    # Bytes, not str: compare_digest refuses non-ASCII text, and any header may be sent.
    given = secret.strip().encode("utf-8", "surrogatepass")
    return secrets.compare_digest(given, expected.encode())


def _check_store(store_id: str) -> None:
    """A storeId, when given, must be the store the API secret belongs to."""
    if store_id and store_id != getattr(settings, "PORTONE_STORE_ID", ""):
        raise _Forbidden(
            _("이 API 시크릿으로는 접근할 수 없는 상점입니다: %(store)s") % {"store": store_id}
        )


class _Forbidden(Exception):
    pass


def portone_api(*methods: str) -> Callable:
    """Make a view a PortOne V2 endpoint: sandbox guard, no CSRF, allowed methods, the API
    secret, and bad input turned into 400 INVALID_REQUEST."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @functools.wraps(view)
        def endpoint(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                reply = v2_error(
                    "INVALID_REQUEST",
                    _("%(method)s 메서드는 지원하지 않습니다.") % {"method": request.method},
                    status=405,
                )
                reply["Allow"] = ", ".join(methods)
                return reply
            if not _authorized(request):
                return v2_error(
                    "UNAUTHORIZED",
                    _("인증 정보가 올바르지 않습니다 (Authorization: PortOne <API Secret>)."),
                    status=401,
                )
            try:
                return view(request, *args, **kwargs)
            except (BadRequestBody, InvalidParam) as exc:
                return v2_error("INVALID_REQUEST", str(exc), status=400)
            except _Forbidden as exc:
                return v2_error("FORBIDDEN", str(exc), status=403)

        return sandbox_only(csrf_exempt(endpoint))

    return decorate


def _not_found(payment_id: str) -> JsonResponse:
    return v2_error(
        "PAYMENT_NOT_FOUND",
        _("결제 건이 존재하지 않습니다: %(id)s") % {"id": payment_id[:MERCHANT_UID_MAX_LENGTH]},
        status=404,
    )


def _usable_id(payment_id: str) -> bool:
    """Whether `payment_id` could name a sandbox payment (others are not even looked up)."""
    return 0 < len(payment_id) <= MERCHANT_UID_MAX_LENGTH and storable(payment_id)


@portone_api("GET")
def payment_detail(request: HttpRequest, payment_id: str) -> HttpResponse:
    """`GET payments/{paymentId}` (optional `?storeId=`)."""
    _check_store(request.GET.get("storeId", ""))
    payment = selectors.v2_payment(payment_id) if _usable_id(payment_id) else None
    if payment is None:
        return _not_found(payment_id)
    return _json(payment_to_v2(payment, request=request))


@portone_api("POST")
def payment_cancel(request: HttpRequest, payment_id: str) -> HttpResponse:
    """`POST payments/{paymentId}/cancel`: `{"cancellation": {... "SUCCEEDED" ...}}`.

    A webhook (Transaction.Cancelled or PartialCancelled) follows unless `skipWebhook`.
    """
    body = parse_cancel_body(read_json_object(request))
    key = parse_idempotency_key(request.headers.get("Idempotency-Key"))
    _check_store(body.store_id)
    if not _usable_id(payment_id):
        return _not_found(payment_id)
    account = body.refund_account
    refund = services.RefundAccount(
        holder=account.holder_name if account else "",
        bank=account.bank if account else "",
        account=account.number if account else "",
        tel=account.holder_phone if account else "",
    )
    try:
        payment, cancellation = services.payment_cancel(
            merchant_uid=payment_id,
            api=Api.V2,
            amount=body.amount,
            checksum=body.current_cancellable_amount,
            reason=body.reason,
            refund_account=refund,
            source=SandboxCancellation.Source.API,
            notify=not body.skip_webhook,
            idempotency_key=key,
        )
    except services.CancelRefused as exc:
        error_type = exc.error_code or services.CANCEL_INVALID
        return v2_error(error_type, exc.message, status=CANCEL_STATUSES.get(error_type, 409))
    return _json(
        {"cancellation": cancellation_to_v2(cancellation, payment=payment, request=request)}
    )


@portone_api("POST")
def pre_register(request: HttpRequest, payment_id: str) -> HttpResponse:
    """`POST payments/{paymentId}/pre-register`: `{}`; the SDK then refuses another amount."""
    body = parse_pre_register_body(read_json_object(request))
    _check_store(body.store_id)
    if not _usable_id(payment_id):
        raise InvalidParam(
            _("paymentId는 %(most)d자 이하의 문자열이어야 합니다.")
            % {"most": MERCHANT_UID_MAX_LENGTH}
        )
    try:
        services.pre_register(payment_id=payment_id, amount=body.total_amount)
    except services.AlreadyRegistered as exc:
        return v2_error("ALREADY_PAID", exc.message, status=409)
    return _json({})


@sandbox_only
@csrf_exempt
def unknown_path(request: HttpRequest, rest: str = "") -> HttpResponse:
    """Any other path under `portone/`: PortOne's JSON error, never an HTML page."""
    return v2_error("NOT_FOUND", _("존재하지 않는 API 경로입니다."), status=404)
