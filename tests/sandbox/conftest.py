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
