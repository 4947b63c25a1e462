"""The browser side of PortOne V2: the SDK script and its start endpoint.

Flow: `PortOne.requestPayment` (sandbox/static/sandbox/portone.js) posts the request to
`portone/sdk/start`, which checks it as the real SDK would and creates a READY attempt with a
UUID transactionId. The script then shows the sandbox's one payment window
(`portone/window/<txId>/`, `sandbox.window`) in the same iframe overlay as V1's, or navigates
to it in redirect mode; the window's buttons move the payment through the same services and
answer with the result the promise resolves with.
"""

from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from sandbox import services
from sandbox.http import BadRequestBody, read_json_object, sandbox_only
from sandbox.params import SDK_INVALID_PARAMETER, InvalidParam, parse_text, storable
from sandbox.params_v2 import parse_payment_request
from sandbox.window import _asset_response, _cors

MOBILE_USER_AGENT = re.compile(r"Mobi|Android|iPhone|iPad")


@sandbox_only
@require_GET
def sdk_script(request: HttpRequest) -> HttpResponse:
    """`portone/v2/browser-sdk.js`: the stand-in for `https://cdn.portone.io/v2/browser-sdk.js`."""
    response = _asset_response("portone.js")
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _refusal(code: str | None, message: str, *, status: int) -> HttpResponse:
    """A refusal before any window: the `code` and `message` the promise resolves with."""
    body = {"code": code or SDK_INVALID_PARAMETER, "message": message}
    return _cors(JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False}))


def _client_ip(request: HttpRequest) -> str:
    address = request.META.get("REMOTE_ADDR") or ""
    return address if storable(address) else ""


@sandbox_only
@csrf_exempt
def sdk_start(request: HttpRequest) -> HttpResponse:
    """`portone/sdk/start`: check a requestPayment request and create the READY attempt.

    Body (JSON): `{"request": {...}, "platform": "PC"|"MOBILE", "redirect": bool}`; `redirect`
    is the script's choice (a `redirectUrl` with `forceRedirect` or a mobile browser) and holds
    only with a `redirectUrl`. Success: `{txId, paymentId, redirect}`. Refusal: `{code,
    message}`, HTTP 400 (bad request) or 409 (refused: store, channel, paid, amount).
    """
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204))
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST", "OPTIONS"])
    try:
        body = read_json_object(request)
        user_agent = parse_text(request.headers.get("User-Agent"), field="User-Agent")
        pay_request = parse_payment_request(
            body.get("request"), redirect=body.get("redirect") is True
        )
    except InvalidParam as exc:
        return _refusal(exc.error_code, exc.message, status=400)
    except BadRequestBody as exc:
        return _refusal(None, str(exc), status=400)
    mobile = body.get("platform") == "MOBILE" or (
        body.get("platform") is None and MOBILE_USER_AGENT.search(user_agent) is not None
    )
    try:
        payment = services.payment_start(
            pay_request=pay_request,
            merchant_code="",
            channel="mobile" if mobile else "pc",
            user_agent=user_agent,
            ip_address=_client_ip(request),
        )
    except services.SandboxRefusal as exc:
        return _refusal(exc.error_code, exc.message, status=409)
    return _cors(
        JsonResponse(
            {
                "txId": payment.imp_uid,
                "paymentId": payment.merchant_uid,
                "redirect": bool(payment.m_redirect_url),
            }
        )
    )
