"""Fixtures for the sandbox: an authenticated REST caller, payments started through the SDK
endpoint, and a `responses` mock standing in for the shop's webhook endpoint."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import responses
from django.conf import settings
from django.test import Client

API = "/sandbox/iamport/"
WEBHOOK_URL = "http://shop.test/payments/webhook/"


class SandboxApi:
    """Calls the sandbox's REST API through the test client, as the shop's client would."""

    def __init__(self, client: Client, token: str = "") -> None:
        self.client = client
        self.token = token

    def _auth(self) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": self.token} if self.token else {}

    def get(self, path: str, **query: Any):
        return self.client.get(API + path, query, **self._auth())

    def post(self, path: str, data: dict | None = None):
        return self.client.post(
            API + path, data or {}, content_type="application/json", **self._auth()
        )

    def put(self, path: str, data: dict | None = None):
        return self.client.put(
            API + path, data or {}, content_type="application/json", **self._auth()
        )


def get_token(client: Client, *, imp_key: str | None = None, imp_secret: str | None = None):
    """POST users/getToken, with the configured key and secret unless told otherwise."""
    return client.post(
        API + "users/getToken",
        {
            "imp_key": settings.IAMPORT_API_KEY if imp_key is None else imp_key,
            "imp_secret": settings.IAMPORT_API_SECRET if imp_secret is None else imp_secret,
        },
        content_type="application/json",
    )


@pytest.fixture(autouse=True)
def _sandbox_settings(settings):
    """Webhooks are sent synchronously (after commit) so tests can intercept them."""
    settings.SANDBOX_WEBHOOK_SYNC = True
    settings.SANDBOX_WEBHOOK_URL = None


@pytest.fixture
def api(client: Client, db) -> SandboxApi:
    token = get_token(client).json()["response"]["access_token"]
    return SandboxApi(client, token)


def pay_param(**overrides: Any) -> dict[str, Any]:
    param = {
        "pg": "html5_inicis",
        "pay_method": "card",
        "merchant_uid": "order_0001",
        "name": "유기농 원두 200g",
        "amount": 12000,
        "buyer_name": "홍길동",
        "buyer_email": "buyer@example.com",
        "buyer_tel": "010-1234-5678",
        "notice_url": WEBHOOK_URL,
    }
    param.update(overrides)
    return {key: value for key, value in param.items() if value is not None}


def sdk_start(client: Client, *, channel: str = "pc", merchant_code: str = "imp00000000", **param):
    return client.post(
        API + "sdk/start",
        {"merchant_code": merchant_code, "channel": channel, "param": pay_param(**param)},
        content_type="application/json",
    )


def window_action(client: Client, imp_uid: str, action: str, body: dict | None = None):
    return client.post(
        f"{API}window/{imp_uid}/{action}", body or {}, content_type="application/json"
    )


@pytest.fixture
def start_payment(client: Client, db) -> Callable[..., str]:
    """Start a payment through `sdk/start`; returns its imp_uid."""

    def start(**param: Any) -> str:
        reply = sdk_start(client, **param)
        assert reply.status_code == 200, reply.json()
        return reply.json()["response"]["imp_uid"]

    return start


@pytest.fixture
def paid_payment(client, start_payment, django_capture_on_commit_callbacks, webhook_sink):
    """A card payment of 12,000원, approved in the window (its webhook answered 200)."""

    def make(**param: Any) -> str:
        imp_uid = start_payment(**param)
        with django_capture_on_commit_callbacks(execute=True):
            assert window_action(client, imp_uid, "approve").status_code == 200
        return imp_uid

    return make


@pytest.fixture
def webhook_sink() -> Iterator[responses.RequestsMock]:
    """The shop's webhook endpoint, answering 200."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.post(WEBHOOK_URL, json={"status": "ok"})
        yield rsps


# --- PortOne V2 -------------------------------------------------------------------------------
V2_API = "/sandbox/portone/"
V2_WEBHOOK_URL = "http://shop.test/payments/webhook/"


class PortOneApi:
    """Calls the sandbox's V2 REST API through the test client, as the shop's V2 client would:
    `Authorization: PortOne <secret>` and JSON bodies."""

    def __init__(self, client: Client, secret: str | None = None) -> None:
        self.client = client
        self.secret = settings.PORTONE_API_SECRET if secret is None else secret

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        auth = {"Authorization": f"PortOne {self.secret}"} if self.secret else {}
        return {**auth, **(headers or {})}

    def get(self, path: str, headers: dict[str, str] | None = None, **query: Any):
        return self.client.get(V2_API + path, query, headers=self._headers(headers))

    def post(self, path: str, data: Any = None, headers: dict[str, str] | None = None):
        return self.client.post(
            V2_API + path,
            {} if data is None else data,
            content_type="application/json",
            headers=self._headers(headers),
        )

    def payment(self, payment_id: str = "order_v2_0001") -> dict[str, Any]:
        reply = self.get(f"payments/{payment_id}")
        assert reply.status_code == 200, reply.json()
        return reply.json()

    def cancel(self, payment_id: str = "order_v2_0001", *, key: str | None = None, **body: Any):
        headers = {"Idempotency-Key": f'"{key}"'} if key else None
        return self.post(f"payments/{payment_id}/cancel", {"reason": "환불", **body}, headers)


@pytest.fixture
def portone(client: Client, db) -> PortOneApi:
    return PortOneApi(client)


def payment_request(**overrides: Any) -> dict[str, Any]:
    """A `PortOne.requestPayment` request as the shop's order page builds it."""
    request = {
        "storeId": settings.PORTONE_STORE_ID,
        "channelKey": settings.PORTONE_CHANNEL_KEY,
        "paymentId": "order_v2_0001",
        "orderName": "유기농 원두 200g",
        "totalAmount": 12000,
        "currency": "KRW",
        "payMethod": "CARD",
        "customer": {
            "fullName": "홍길동",
            "email": "buyer@example.com",
            "phoneNumber": "010-1234-5678",
            "address": {"country": "KR", "addressLine1": "서울시 강남구", "addressLine2": "1층"},
            "zipcode": "06236",
        },
        "customData": {"item": "coffee"},
        "noticeUrls": [V2_WEBHOOK_URL],
    }
    request.update(overrides)
    return {key: value for key, value in request.items() if value is not None}


def v2_start(client: Client, *, platform: str = "PC", redirect: bool = False, **overrides: Any):
    return client.post(
        V2_API + "sdk/start",
        {"request": payment_request(**overrides), "platform": platform, "redirect": redirect},
        content_type="application/json",
    )


def v2_window_action(client: Client, tx_id: str, action: str, body: dict | None = None):
    return client.post(
        f"{V2_API}window/{tx_id}/{action}", body or {}, content_type="application/json"
    )


@pytest.fixture
def start_v2(client: Client, db) -> Callable[..., str]:
    """Start a V2 payment through `portone/sdk/start`; returns its txId."""

    def start(**overrides: Any) -> str:
        reply = v2_start(client, **overrides)
        assert reply.status_code == 200, reply.json()
        return reply.json()["txId"]

    return start


@pytest.fixture
def v2_webhook_sink() -> Iterator[responses.RequestsMock]:
    """The shop's webhook endpoint (the noticeUrls of `payment_request`), answering 200."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.post(V2_WEBHOOK_URL, json={"status": "ok"})
        yield rsps


@pytest.fixture
def approve_v2(client, start_v2, django_capture_on_commit_callbacks, v2_webhook_sink):
    """Start a V2 payment and approve it in the window (webhooks answered 200); its txId."""

    def make(**overrides: Any) -> str:
        tx_id = start_v2(**overrides)
        with django_capture_on_commit_callbacks(execute=True):
            assert v2_window_action(client, tx_id, "approve").status_code == 200
        return tx_id

    return make
