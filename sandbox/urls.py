"""Sandbox URLs, mounted by config/urls.py at `/sandbox/` only while SANDBOX_ENABLED.

`iamport/` mirrors Iamport's API host (`https://api.iamport.kr/` -> `/sandbox/iamport/`), so
IAMPORT_API_URL is the only thing that differs between the sandbox and the real thing. Every
view also refuses on its own when the sandbox is disabled (`sandbox.http.sandbox_only`).
"""

from django.urls import path

from sandbox import console, rest, window

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
    path("receipt/<str:imp_uid>/", window.receipt, name="receipt"),
    path("assets/<str:name>", window.asset, name="asset"),
    # Merchant console.
    path("console/", console.payment_list, name="console"),
    path("console/payments/<str:imp_uid>/", console.payment_detail, name="console_detail"),
    path("console/payments/<str:imp_uid>/deposit", console.deposit, name="console_deposit"),
    path("console/payments/<str:imp_uid>/cancel", console.cancel, name="console_cancel"),
    path(
        "console/payments/<str:imp_uid>/resend-webhook",
        console.resend_webhook,
        name="console_resend_webhook",
    ),
]
