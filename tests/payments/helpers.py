"""Plain helpers shared by the split client and admin test files in tests/payments/.

Fixtures shared by several of those files are in tests/payments/conftest.py.
"""

from __future__ import annotations

from typing import Any

from django.contrib.messages import get_messages
from django.urls import reverse

from payments.forms import RefundForm
from shop.models import Order
from tests.conftest import API, load_fixture

# --- the Iamport client: ids, envelopes, payments, calls ----------------------------------
IMP_UID = "imp_123456789012"
MERCHANT_UID = "order_20251127_0001"
FIXTURE_TOKEN = load_fixture("token")["response"]["access_token"]


def envelope(response: Any = None, *, code: int = 0, message: str | None = None) -> dict:
    return {"code": code, "message": message, "response": response}


def paid_payment(**fields: Any) -> dict[str, Any]:
    payment = load_fixture("payment_paid")["response"]
    payment.update({"imp_uid": IMP_UID, "merchant_uid": MERCHANT_UID, **fields})
    return payment


def serve_payment(iamport, payment: dict[str, Any]) -> None:
    iamport.rsps.get(API + f"payments/{IMP_UID}", json=envelope(payment))


def api_calls(iamport) -> list:
    """Every request except the token's."""
    return [c for c in iamport.rsps.calls if not c.request.url.endswith("/users/getToken")]


def _requested_urls(iamport) -> list[str]:
    return [call.request.url for call in api_calls(iamport)]


# --- the admin: URLs, messages and the refund form ----------------------------------------
CANCEL = ("POST", "payments/cancel")


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def refund_url(order: Order) -> str:
    return reverse("admin:shop_order_refund", args=[order.pk])


def change_url(order: Order) -> str:
    return reverse("admin:shop_order_change", args=[order.pk])


def form_of(client, order: Order) -> RefundForm:
    response = client.get(refund_url(order))
    assert response.status_code == 200
    return response.context["form"]


def refund_post(client, order: Order, *, key: str | None = None, **fields):
    """Submit the refund form as rendered, with `fields` typed in."""
    form = form_of(client, order)
    data = {"amount": form.initial["amount"], "reason": "고객 요청", **fields}
    data["request_key"] = key or form.initial["request_key"]
    return client.post(refund_url(order), data), data["request_key"]
