"""Shared fixtures: a `responses`-backed Iamport, and small factories for products and orders.

The whole suite runs with real network blocked (pytest-socket, see pyproject.toml): only
loopback is reachable, for the browser tests' live server.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import responses

from payments import client as iamport_client

FIXTURES = Path(__file__).parent / "fixtures" / "iamport"
API = "https://api.iamport.kr/"


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


class FakeIamport:
    """Registers Iamport replies (shaped like the real API) on a `responses` mock."""

    def __init__(self, rsps: responses.RequestsMock) -> None:
        self.rsps = rsps
        self.token = rsps.post(API + "users/getToken", json=load_fixture("token"))

    def payment(
        self,
        merchant_uid: str,
        *,
        imp_uid: str = "imp_123456789012",
        fixture: str = "payment_paid",
        **fields: Any,
    ) -> dict[str, Any]:
        """Register GET payments/{imp_uid}; returns the payment object it answers with."""
        body = load_fixture(fixture)
        body["response"].update(imp_uid=imp_uid, merchant_uid=merchant_uid, **fields)
        self.rsps.get(API + f"payments/{imp_uid}", json=body)
        return body["response"]

    def replace_payment(self, payment: dict[str, Any], **fields: Any) -> dict[str, Any]:
        """Make later GETs of this payment answer with changed fields."""
        new = {**copy.deepcopy(payment), **fields}
        self.rsps.replace(
            responses.GET,
            API + f"payments/{payment['imp_uid']}",
            json={"code": 0, "message": None, "response": new},
        )
        return new

    def find(self, merchant_uid: str, *, newest=None, paid=None) -> None:
        """Register GET payments/find/{merchant_uid} (newest attempt) and .../paid.

        Each is a payment object (answered), an exception (raised), or None (HTTP 404).
        """
        for path, answer in (
            (f"payments/find/{merchant_uid}", newest),
            (f"payments/find/{merchant_uid}/paid", paid),
        ):
            if answer is None:
                self.rsps.get(API + path, status=404, json=load_fixture("not_found"))
            elif isinstance(answer, Exception):
                self.rsps.get(API + path, body=answer)
            else:
                self.rsps.get(API + path, json={"code": 0, "message": None, "response": answer})

    def not_found(self, imp_uid: str) -> None:
        self.rsps.get(API + f"payments/{imp_uid}", status=404, json=load_fixture("not_found"))

    def cancel_ok(self, payment: dict[str, Any], amount: int, reason: str = "환불") -> dict:
        """Register a successful POST payments/cancel of `amount` from `payment`."""
        cancelled = payment["cancel_amount"] + amount
        new = copy.deepcopy(payment)
        new["cancel_amount"] = cancelled
        new["status"] = "cancelled" if cancelled >= payment["amount"] else payment["status"]
        new["cancel_history"] = [
            *payment["cancel_history"],
            {
                "pg_tid": payment["pg_tid"],
                "amount": amount,
                "cancelled_at": 1764234000 + len(payment["cancel_history"]),
                "reason": reason,
                "cancellation_id": f"cncl_{len(payment['cancel_history']) + 1:03d}",
                "receipt_url": "https://iniweb.inicis.com/receipt/cancel",
            },
        ]
        self.rsps.post(API + "payments/cancel", json={"code": 0, "message": None, "response": new})
        return new

    def cancel_refused(self, message: str = "이미 전액취소된 주문입니다.") -> None:
        self.rsps.post(
            API + "payments/cancel", json={"code": 1, "message": message, "response": None}
        )

    def calls(self, method: str, path: str) -> list:
        return [
            call
            for call in self.rsps.calls
            if call.request.method == method and call.request.url == API + path
        ]

    @staticmethod
    def body(call) -> dict[str, Any]:
        return json.loads(call.request.body)


@pytest.fixture(autouse=True)
def _fresh_iamport_client():
    """Each test starts with no cached token or session."""
    iamport_client._clients.clear()
    yield
    iamport_client._clients.clear()


@pytest.fixture
def iamport():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakeIamport(rsps)


@pytest.fixture
def product_factory(db):
    from shop.models import Product

    def make(**fields: Any) -> Product:
        fields.setdefault("name", "유기농 원두 200g")
        fields.setdefault("price", 12000)
        fields.setdefault("stock", 10)
        return Product.objects.create(**fields)

    return make


@pytest.fixture
def order_factory(db, product_factory):
    from shop.services import Buyer, order_create

    def make(*, quantity: int = 1, pay_method: str = "card", product=None, **product_fields):
        product = product or product_factory(**product_fields)
        return order_create(
            items=[(product.pk, quantity)],
            buyer=Buyer(
                name="홍길동",
                email="buyer@example.com",
                tel="010-1234-5678",
                addr="서울특별시 강남구 테헤란로 1",
                postcode="06236",
            ),
            pay_method=pay_method,
        )

    return make


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` need PostgreSQL's row locks; on SQLite they are skipped."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    skip = pytest.mark.skip(reason="needs PostgreSQL (set DATABASE_URL=postgres://...)")
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)
