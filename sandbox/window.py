"""The browser side: the SDK script, its start endpoint, the payment window and the receipt.

Flow: `IMP.request_pay` (sandbox/static/sandbox/iamport.js) posts its parameters to
`sdk/start`, which validates them as the real SDK would and creates a `ready` payment. The
script then shows `window/<imp_uid>/` in an iframe overlay (desktop) or navigates to it (mobile,
with `m_redirect_url`). The window's buttons post to `window/<imp_uid>/approve|decline|close`,
which move the payment and answer with the callback's `rsp`, and for a mobile payment the
`m_redirect_url` to go to. The window page hands the `rsp` to the shop's page by
`postMessage` (see sandbox/static/sandbox/window.js).

PortOne V2's `PortOne.requestPayment` (sandbox/static/sandbox/portone.js, views in
`sandbox.window_v2`) opens this same window, under `portone/window/<txId>/`: the buttons move
the payment through the same services, and the answer carries V2's result object instead of
V1's `rsp`, and V2's redirect query.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.core.exceptions import BadRequest
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from sandbox import services
from sandbox.http import BadRequestBody, envelope, read_params, render_page, sandbox_only
from sandbox.models import Api, SandboxPayment
from sandbox.params import (
    MERCHANT_CODE_MAX_LENGTH,
    InvalidParam,
    parse_pay_request,
    parse_text,
)
from sandbox.serializers import payment_to_rsp
from sandbox.serializers_v2 import browser_result

STATIC_DIR = Path(__file__).resolve().parent / "static" / "sandbox"
ASSETS = {
    "iamport.js": "text/javascript; charset=utf-8",
    "portone.js": "text/javascript; charset=utf-8",
    "window.js": "text/javascript; charset=utf-8",
    "sandbox.css": "text/css; charset=utf-8",
}
PAY_METHOD_LABELS = {
    "card": "신용카드",
    "trans": "실시간 계좌이체",
    "vbank": "가상계좌",
    "phone": "휴대폰 소액결제",
    "kakaopay": "카카오페이",
    "naverpay": "네이버페이",
    "tosspay": "토스페이",
    "payco": "페이코",
    "samsung": "삼성페이",
    "point": "포인트",
}
ORIGIN_PATTERN = re.compile(r"^https?://[A-Za-z0-9.\-\[\]:]+$")
REDIRECT_FIELDS = ("imp_uid", "merchant_uid", "error_code", "error_msg")
V2_REDIRECT_FIELDS = ("paymentId", "code", "message", "pgCode", "pgMessage")
# What the window posts to the page that opened it, per API (the SDK script listens for it).
MESSAGE_TYPES = {Api.V1: "iamport-sandbox:rsp", Api.V2: "portone-sandbox:result"}


def _cors(response: HttpResponse) -> HttpResponse:
    """The script may be loaded from another origin than the shop's page (any host or port)."""
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = "Content-Type"
    return response


def _asset_response(name: str) -> HttpResponse:
    if name not in ASSETS:
        raise Http404("No such sandbox asset.")
    response = HttpResponse((STATIC_DIR / name).read_bytes(), content_type=ASSETS[name])
    response["Cache-Control"] = "no-cache"
    return response


@sandbox_only
@require_GET
def sdk_script(request: HttpRequest) -> HttpResponse:
    """`iamport/v1/iamport.js`: the stand-in for `https://cdn.iamport.kr/v1/iamport.js`."""
    response = _asset_response("iamport.js")
    response["Access-Control-Allow-Origin"] = "*"
    return response


@sandbox_only
@require_GET
def asset(request: HttpRequest, name: str) -> HttpResponse:
    """The sandbox's own CSS and window script, served without relying on staticfiles."""
    return _asset_response(name)


def _refusal(error_code: str | None, message: str, *, status: int) -> HttpResponse:
    rsp = {"error_code": error_code or "F0000", "error_msg": message}
    return _cors(envelope(rsp, code=1, message=message, status=status))


@sandbox_only
@csrf_exempt
def sdk_start(request: HttpRequest) -> HttpResponse:
    """`sdk/start`: validate a request_pay and create the `ready` payment.

    Body (JSON): `{"merchant_code", "param", "channel": "pc"|"mobile"}`. Success: envelope with
    `{imp_uid, merchant_uid, window_url}`. Refusal: a non-zero code and `{error_code,
    error_msg}` for the callback's `rsp`, HTTP 400 (bad parameters) or 409 (refused).
    """
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204))
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST", "OPTIONS"])
    try:
        body = read_params(request)
        pay_request = parse_pay_request(body.get("param"))
        merchant_code = parse_text(body.get("merchant_code"), field="merchant_code")
        if len(merchant_code) > MERCHANT_CODE_MAX_LENGTH:
            raise InvalidParam(f"merchant_code는 {MERCHANT_CODE_MAX_LENGTH}자 이하여야 합니다.")
        user_agent = parse_text(request.headers.get("User-Agent"), field="User-Agent")
    except InvalidParam as exc:
        return _refusal(exc.error_code, exc.message, status=400)
    except BadRequestBody as exc:
        return _refusal(None, str(exc), status=400)
    channel = "mobile" if body.get("channel") == "mobile" and pay_request.m_redirect_url else "pc"
    try:
        payment = services.payment_start(
            pay_request=pay_request,
            merchant_code=merchant_code,
            channel=channel,
            user_agent=user_agent,
        )
    except services.SandboxRefusal as exc:
        return _refusal(exc.error_code, exc.message, status=409)
    window_path = reverse("sandbox:window", args=[payment.imp_uid])
    return _cors(
        envelope(
            {
                "imp_uid": payment.imp_uid,
                "merchant_uid": payment.merchant_uid,
                "window_url": request.build_absolute_uri(window_path),
            }
        )
    )


def _with_query(url: str, added: list[tuple[str, str]], replaced: tuple[str, ...]) -> str:
    """`url` with `added` in its query; its own query is kept, but for `replaced` keys."""
    parts = urlsplit(url)
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key not in replaced
    ]
    return urlunsplit(parts._replace(query=urlencode(query + added)))


def mobile_redirect_url(payment: SandboxPayment) -> str | None:
    """Where a mobile payment returns to: `m_redirect_url` with the outcome in its query.

    An existing query string is kept; `error_code`/`error_msg` are added only on failure.
    A V2 payment in redirect mode returns to its `redirectUrl` (see `v2_redirect_url`).
    """
    if payment.api == Api.V2:
        return v2_redirect_url(payment)
    if payment.channel != "mobile" or not payment.m_redirect_url:
        return None
    added = [("imp_uid", payment.imp_uid), ("merchant_uid", payment.merchant_uid)]
    if payment.status == SandboxPayment.Status.FAILED:
        added += [
            ("error_code", payment.fail_code or "F0000"),
            ("error_msg", payment.fail_reason),
        ]
    return _with_query(payment.m_redirect_url, added, REDIRECT_FIELDS)


def v2_redirect_url(payment: SandboxPayment) -> str | None:
    """V2 redirect mode: `redirectUrl` with `paymentId`, and on failure `code`, `message`,
    `pgCode`, `pgMessage` (the result the promise would have resolved with)."""
    if not payment.m_redirect_url:
        return None
    result = browser_result(payment)
    added = [(key, str(result[key])) for key in V2_REDIRECT_FIELDS if key in result]
    return _with_query(payment.m_redirect_url, added, V2_REDIRECT_FIELDS)


def _notice(payment: SandboxPayment) -> str:
    """What the window says once it is done."""
    if payment.status == SandboxPayment.Status.FAILED:
        return _("결제가 완료되지 않았습니다: %(reason)s") % {"reason": payment.fail_reason}
    if payment.is_awaiting_deposit:
        return _("가상계좌가 발급되었습니다: %(bank)s %(number)s") % {
            "bank": payment.vbank_name,
            "number": payment.vbank_num,
        }
    return _("결제가 승인되었습니다.")


def _outcome(payment: SandboxPayment, request: HttpRequest) -> dict[str, Any]:
    v2 = payment.api == Api.V2
    return {
        "rsp": browser_result(payment) if v2 else payment_to_rsp(payment, request=request),
        "redirect_url": mobile_redirect_url(payment),
        "notice": _notice(payment),
        "failed": payment.status == SandboxPayment.Status.FAILED,
    }


def _get_payment(imp_uid: str) -> SandboxPayment:
    payment = SandboxPayment.objects.filter(imp_uid=imp_uid).first()
    if payment is None:
        raise Http404("존재하지 않는 결제정보입니다.")
    return payment


@sandbox_only
@require_GET
@xframe_options_exempt  # shown in an iframe on the shop's page, like a PG's window
def payment_window(request: HttpRequest, imp_uid: str) -> HttpResponse:
    """`window/<imp_uid>/`: the payment window with approve, decline and close."""
    payment = _get_payment(imp_uid)
    parent_origin = request.GET.get("parent_origin", "")
    if not ORIGIN_PATTERN.match(parent_origin):
        parent_origin = ""
    prefix = "sandbox:v2_window" if payment.api == Api.V2 else "sandbox:window"
    context = {
        "payment": payment,
        "v2": payment.api == Api.V2,
        "message_type": MESSAGE_TYPES[Api(payment.api)],
        "action_urls": {
            action: reverse(f"{prefix}_{action}", args=[payment.imp_uid])
            for action in ("approve", "decline", "close")
        },
        "merchant_name": services.merchant_name(),
        "pay_method_label": PAY_METHOD_LABELS.get(payment.pay_method, payment.pay_method),
        "decline_reasons": services.DECLINE_REASONS,
        "default_decline_code": services.DEFAULT_DECLINE_CODE,
        "parent_origin": parent_origin,
        "vbank_due": payment.vbank_date or payment.vbank_due or services.default_vbank_due(),
        "outcome": None if payment.is_open else _outcome(payment, request),
    }
    return render_page(request, "sandbox/window.html", context)


@sandbox_only
@csrf_exempt
def window_action(request: HttpRequest, imp_uid: str, action: str) -> HttpResponse:
    """`window/<imp_uid>/approve|decline|close` (POST, JSON body; `error_code` for decline).

    Answers `{rsp, redirect_url}`; a payment no longer open answers 409 with its current
    outcome, so a double click or a reload still ends the window correctly.
    """
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    try:
        body = read_params(request)
        code = parse_text(body.get("error_code"), field="error_code") if action == "decline" else ""
    except (BadRequestBody, InvalidParam) as exc:
        return envelope(code=1, message=str(exc), status=400)
    try:
        if action == "approve":
            payment = services.payment_approve(imp_uid=imp_uid)
        elif action == "decline":
            code = code or services.DEFAULT_DECLINE_CODE
            payment = services.payment_decline(imp_uid=imp_uid, error_code=code)
        else:
            payment = services.payment_close(imp_uid=imp_uid)
    except services.NotFound as exc:
        return envelope(code=1, message=exc.message, status=404)
    except services.PaymentNotOpen as exc:
        current = _get_payment(imp_uid)
        return envelope(_outcome(current, request), code=1, message=exc.message, status=409)
    return envelope(_outcome(payment, request))


@sandbox_only
@require_GET
def receipt(request: HttpRequest, imp_uid: str) -> HttpResponse:
    """`receipt/<imp_uid>/`: a sandbox sales slip (매출전표); `?cancellation_id=` for a
    cancellation's slip."""
    payment = _get_payment(imp_uid)
    cancellation = None
    try:
        cancellation_id = parse_text(request.GET.get("cancellation_id"), field="cancellation_id")
    except InvalidParam as exc:
        raise BadRequest(exc.message) from None
    if cancellation_id:
        cancellation = payment.cancellations.filter(cancellation_id=cancellation_id).first()
        if cancellation is None:
            raise Http404("존재하지 않는 취소 내역입니다.")
    elif payment.paid_at is None:
        raise Http404("결제되지 않은 건에는 매출전표가 없습니다.")
    context = {
        "payment": payment,
        "cancellation": cancellation,
        "merchant_name": services.merchant_name(),
        "pay_method_label": PAY_METHOD_LABELS.get(payment.pay_method, payment.pay_method),
    }
    return render_page(request, "sandbox/receipt.html", context)
