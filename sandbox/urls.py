"""Sandbox URLs, mounted by config/urls.py at `/sandbox/` only while SANDBOX_ENABLED.

`iamport/` mirrors Iamport's API host (`https://api.iamport.kr/` -> `/sandbox/iamport/`), and
`portone/` PortOne V2's (`https://api.portone.io/` -> `/sandbox/portone/`), so
IAMPORT_API_URL / PORTONE_API_URL is the only thing that differs between the sandbox and the
real thing. Every view also refuses on its own when the sandbox is disabled
(`sandbox.http.sandbox_only`).
"""

from django.urls import path, register_converter

from sandbox import console, rest, rest_v2, window, window_v2


class AnyTextConverter:
    """A V2 paymentId in a path. PortOne escapes it as one segment, but Django hands the path
    over decoded, so one that held "%2F" (or a newline) arrives with a "/" in it: this takes
    it whole, and the view decides whether it could name a payment."""

    regex = r"[\s\S]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


class RestOfPathConverter(AnyTextConverter):
    regex = r"[\s\S]*"


register_converter(AnyTextConverter, "sandbox_any_text")
register_converter(RestOfPathConverter, "sandbox_rest_of_path")

app_name = "sandbox"

urlpatterns = [
    # REST API, Iamport's paths. Specific paths come before payments/<imp_uid>.
    path("iamport/users/getToken", rest.get_token, name="api_get_token"),
    path("iamport/payments/cancel", rest.payment_cancel, name="api_cancel"),
    path("iamport/payments/prepare", rest.prepare, name="api_prepare"),
    path(
        "iamport/payments/prepare/<str:merchant_uid>",
        rest.prepare_detail,
        name="api_prepare_detail",
    ),
    path("iamport/payments/find/<str:merchant_uid>", rest.payment_find, name="api_find"),
    path(
        "iamport/payments/find/<str:merchant_uid>/<str:payment_status>",
        rest.payment_find,
        name="api_find_status",
    ),
    path("iamport/payments/findAll/<str:merchant_uid>", rest.payment_find_all, name="api_find_all"),
    path(
        "iamport/payments/findAll/<str:merchant_uid>/<str:payment_status>",
        rest.payment_find_all,
        name="api_find_all_status",
    ),
    path(
        "iamport/payments/status/<str:payment_status>",
        rest.payments_by_status,
        name="api_by_status",
    ),
    path("iamport/payments/<str:imp_uid>", rest.payment_detail, name="api_payment"),
    # Browser side: the SDK, the payment window, receipts.
    path("iamport/v1/iamport.js", window.sdk_script, name="sdk_script"),
    path("iamport/sdk/start", window.sdk_start, name="sdk_start"),
    path("iamport/window/<str:imp_uid>/", window.payment_window, name="window"),
    path(
        "iamport/window/<str:imp_uid>/approve",
        window.window_action,
        {"action": "approve"},
        name="window_approve",
    ),
    path(
        "iamport/window/<str:imp_uid>/decline",
        window.window_action,
        {"action": "decline"},
        name="window_decline",
    ),
    path(
        "iamport/window/<str:imp_uid>/close",
        window.window_action,
        {"action": "close"},
        name="window_close",
    ),
    # PortOne V2: the browser SDK and its window (the same window and buttons as V1's).
    path("portone/v2/browser-sdk.js", window_v2.sdk_script, name="v2_sdk_script"),
    path("portone/sdk/start", window_v2.sdk_start, name="v2_sdk_start"),
    path("portone/window/<str:imp_uid>/", window.payment_window, name="v2_window"),
    path(
        "portone/window/<str:imp_uid>/approve",
        window.window_action,
        {"action": "approve"},
        name="v2_window_approve",
    ),
    path(
        "portone/window/<str:imp_uid>/decline",
        window.window_action,
        {"action": "decline"},
        name="v2_window_decline",
    ),
    path(
        "portone/window/<str:imp_uid>/close",
        window.window_action,
        {"action": "close"},
        name="v2_window_close",
    ),
    # PortOne V2 REST API. Specific paths come before payments/<paymentId>.
    path(
        "portone/payments/<sandbox_any_text:payment_id>/cancel",
        rest_v2.payment_cancel,
        name="v2_cancel",
    ),
    path(
        "portone/payments/<sandbox_any_text:payment_id>/pre-register",
        rest_v2.pre_register,
        name="v2_pre_register",
    ),
    path(
        "portone/payments/<sandbox_any_text:payment_id>",
        rest_v2.payment_detail,
        name="v2_payment",
    ),
    path("portone/<sandbox_rest_of_path:rest>", rest_v2.unknown_path, name="v2_unknown"),
    path("receipt/<str:imp_uid>/", window.receipt, name="receipt"),
    path("assets/<str:name>", window.asset, name="asset"),
    # Merchant console.
    path("console/", console.payment_list, name="console"),
    path("console/payments/<str:imp_uid>/", console.payment_detail, name="console_detail"),
    path("console/payments/<str:imp_uid>/deposit", console.deposit, name="console_deposit"),
    path("console/payments/<str:imp_uid>/cancel", console.cancel, name="console_cancel"),
    path(
        "console/payments/<str:imp_uid>/pg-cancels-later",
        console.pg_cancels_later,
        name="console_pg_cancels_later",
    ),
    path(
        "console/payments/<str:imp_uid>/cancellations/<str:cancellation_id>/finish",
        console.finish_cancellation,
        name="console_finish_cancellation",
    ),
    path(
        "console/payments/<str:imp_uid>/resend-webhook",
        console.resend_webhook,
        name="console_resend_webhook",
    ),
]
