"""The V2 browser side without a browser: `portone/sdk/start` refusals and what it records,
the window's answers (the requestPayment result), redirect mode, and the SDK script."""

from __future__ import annotations

import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from sandbox.models import Api, SandboxPayment
from tests.sandbox.conftest import (
    V2_API,
    V2_WEBHOOK_URL,
    v2_start,
    v2_window_action,
)

pytestmark = pytest.mark.django_db


def refusal(reply, status: int) -> dict:
    assert reply.status_code == status
    body = reply.json()
    assert set(body) == {"code", "message"} and body["message"]
    return body


def outcome_of(reply) -> dict:
    assert reply.status_code == 200, reply.json()
    return reply.json()["response"]


def test_start_records_a_ready_v2_attempt(client, settings):
    reply = v2_start(client, platform="MOBILE")

    assert reply.status_code == 200
    body = reply.json()
    assert set(body) == {"txId", "paymentId", "redirect"}
    assert body["paymentId"] == "order_v2_0001" and body["redirect"] is False
    uuid.UUID(body["txId"])  # a UUID, as PortOne's transactionId
    payment = SandboxPayment.objects.get(imp_uid=body["txId"])
    assert payment.api == Api.V2
    assert payment.status == "ready"
    assert payment.store_id == settings.PORTONE_STORE_ID
    assert payment.channel_key == settings.PORTONE_CHANNEL_KEY
    assert payment.pay_method == "card" and payment.pg_provider == "TOSSPAYMENTS"
    assert payment.amount == 12000 and payment.name == "유기농 원두 200g"
    assert (payment.buyer_name, payment.buyer_email, payment.buyer_tel) == (
        "홍길동",
        "buyer@example.com",
        "010-1234-5678",
    )
    assert payment.buyer_addr == "서울시 강남구 1층" and payment.buyer_postcode == "06236"
    assert payment.custom_data == '{"item":"coffee"}'
    assert payment.notice_urls == [V2_WEBHOOK_URL]
    assert payment.channel == "mobile"  # the platform; no redirect without a redirectUrl
    assert payment.m_redirect_url == ""
    assert payment.ip_address == "127.0.0.1"


def test_start_answers_cors_preflight(client):
    reply = client.options(V2_API + "sdk/start")

    assert reply.status_code == 204
    assert reply["Access-Control-Allow-Origin"] == "*"


def test_start_is_post_only(client):
    assert client.get(V2_API + "sdk/start").status_code == 405


@pytest.mark.parametrize(
    "missing", ["storeId", "paymentId", "orderName", "totalAmount", "currency", "payMethod"]
)
def test_start_refuses_a_missing_field(client, missing):
    body = refusal(v2_start(client, **{missing: None}), 400)

    assert body["code"] == "INVALID_PARAMETER"
    assert missing in body["message"]
    assert not SandboxPayment.objects.exists()


@pytest.mark.parametrize(
    "overrides",
    [
        {"totalAmount": "12000"},
        {"totalAmount": 0},
        {"totalAmount": -1},
        {"totalAmount": 12000.5},
        {"totalAmount": 10**15},
        {"totalAmount": True},
        {"currency": "USD"},
        {"currency": ["KRW"]},
        {"payMethod": "MOBILE"},
        {"payMethod": "card"},
        {"payMethod": {"CARD": 1}},
        {"paymentId": "x" * 41},
        {"paymentId": 123},
        {"orderName": ["a"]},
        {"customer": "홍길동"},
        {"customer": {"email": 5}},
        {"customer": {"address": 5}},
        {"redirectUrl": "javascript:alert(1)"},
        {"forceRedirect": "yes"},
        {"noticeUrls": "http://shop.test/hook"},
        {"noticeUrls": [5]},
        {"noticeUrls": ["http://shop.test/hook"] * 11},
        {"payMethod": "VIRTUAL_ACCOUNT", "virtualAccount": {"accountExpiry": {"dueDate": "soon"}}},
        {"payMethod": "VIRTUAL_ACCOUNT", "virtualAccount": {"accountExpiry": {"validHours": 0}}},
        {
            "payMethod": "VIRTUAL_ACCOUNT",
            "virtualAccount": {"accountExpiry": {"validHours": 1, "dueDate": "20991231"}},
        },
        {"payMethod": "VIRTUAL_ACCOUNT", "virtualAccount": "3 days"},
        {"paymentId": "order\x00"},
        {"orderName": "커피\ud800"},
    ],
)
def test_start_refuses_bad_fields(client, overrides):
    body = refusal(v2_start(client, **overrides), 400)

    assert body["code"] == "INVALID_PARAMETER"
    assert not SandboxPayment.objects.exists()


def test_currency_krw_is_accepted_in_both_spellings(client):
    assert v2_start(client, currency="KRW").status_code == 200
    assert v2_start(client, currency="CURRENCY_KRW").status_code == 200
    assert set(SandboxPayment.objects.values_list("currency", flat=True)) == {"KRW"}


def test_start_refuses_another_store(client):
    body = refusal(v2_start(client, storeId="store-someone-else"), 409)

    assert body["code"] == "UNKNOWN_STORE"


@pytest.mark.parametrize("channel_key", ["channel-key-unknown", None])
def test_start_refuses_an_unknown_or_missing_channel(client, channel_key):
    body = refusal(v2_start(client, channelKey=channel_key), 409)

    assert body["code"] == "UNKNOWN_CHANNEL"


def test_a_pay_methods_own_channel_is_known(client, settings):
    methods = {**settings.SHOP_PAY_METHODS}
    methods["kakaopay"] = {**methods["kakaopay"], "channel_key": "channel-key-kakao"}
    settings.SHOP_PAY_METHODS = methods

    assert v2_start(client, channelKey="channel-key-kakao", payMethod="EASY_PAY").status_code == 200


def test_start_refuses_a_paid_payment_id(client, approve_v2):
    approve_v2()

    assert refusal(v2_start(client), 409)["code"] == "ALREADY_PAID"


def test_start_allows_a_new_attempt_after_a_failed_one(client, start_v2):
    v2_window_action(client, start_v2(), "close")

    assert v2_start(client).status_code == 200


def test_start_refuses_a_request_that_is_not_an_object(client, db):
    for request in (None, [], "pay", 5):
        reply = client.post(
            V2_API + "sdk/start", {"request": request}, content_type="application/json"
        )
        assert refusal(reply, 400)["code"] == "INVALID_PARAMETER"


def test_start_refuses_a_body_that_is_not_json(client, db):
    reply = client.post(V2_API + "sdk/start", "{", content_type="application/json")

    assert refusal(reply, 400)["code"] == "INVALID_PARAMETER"


# --- virtual-account deadlines --------------------------------------------------------------
@pytest.mark.parametrize(
    ("expiry", "local"),
    [
        ({"dueDate": "20991231235959"}, "2099-12-31 23:59:59"),
        ({"dueDate": "2099-12-31 23:59:59"}, "2099-12-31 23:59:59"),
        ({"dueDate": "20991231"}, "2099-12-31 23:59:59"),
        ({"dueDate": "2099-12-31"}, "2099-12-31 23:59:59"),
    ],
)
def test_account_due_date(client, start_v2, expiry, local):
    tx_id = start_v2(payMethod="VIRTUAL_ACCOUNT", virtualAccount={"accountExpiry": expiry})
    v2_window_action(client, tx_id, "approve")

    payment = SandboxPayment.objects.get(imp_uid=tx_id)
    assert f"{timezone.localtime(payment.vbank_date):%Y-%m-%d %H:%M:%S}" == local


def test_account_valid_hours(client, start_v2):
    tx_id = start_v2(
        payMethod="VIRTUAL_ACCOUNT", virtualAccount={"accountExpiry": {"validHours": 24}}
    )
    v2_window_action(client, tx_id, "approve")

    due = SandboxPayment.objects.get(imp_uid=tx_id).vbank_date
    assert abs(due - (timezone.now() + timedelta(hours=24))) < timedelta(minutes=1)


def test_account_default_is_three_days(client, start_v2):
    tx_id = start_v2(payMethod="VIRTUAL_ACCOUNT")
    v2_window_action(client, tx_id, "approve")

    due = SandboxPayment.objects.get(imp_uid=tx_id).vbank_date
    assert abs(due - (timezone.now() + timedelta(days=3))) < timedelta(minutes=1)


# --- the window -----------------------------------------------------------------------------
def test_window_page_for_a_v2_payment(client, start_v2, settings):
    tx_id = start_v2(payMethod="VIRTUAL_ACCOUNT")

    page = client.get(f"{V2_API}window/{tx_id}/").content.decode()

    assert 'data-message-type="portone-sandbox:result"' in page
    assert f'data-approve-url="/sandbox/portone/window/{tx_id}/approve"' in page
    assert "가상계좌 발급" in page
    assert settings.PORTONE_STORE_ID in page
    for button in ("sandbox-approve", "sandbox-decline", "sandbox-decline-reason", "sandbox-close"):
        assert f'id="{button}"' in page


def test_approve_answers_the_success_result(client, start_v2):
    tx_id = start_v2()

    outcome = outcome_of(v2_window_action(client, tx_id, "approve"))

    assert outcome["rsp"] == {
        "transactionType": "PAYMENT",
        "paymentId": "order_v2_0001",
        "txId": tx_id,
    }
    assert outcome["redirect_url"] is None
    assert outcome["failed"] is False and outcome["notice"] == "결제가 승인되었습니다."


def test_virtual_account_issue_is_a_success_too(client, start_v2):
    tx_id = start_v2(payMethod="VIRTUAL_ACCOUNT")

    outcome = outcome_of(v2_window_action(client, tx_id, "approve"))

    assert "code" not in outcome["rsp"]
    assert outcome["notice"].startswith("가상계좌가 발급되었습니다: KB국민은행 ")


def test_decline_answers_a_pg_failure(client, start_v2):
    tx_id = start_v2()

    outcome = outcome_of(v2_window_action(client, tx_id, "decline", {"error_code": "F1004"}))

    assert outcome["rsp"] == {
        "transactionType": "PAYMENT",
        "paymentId": "order_v2_0001",
        "txId": tx_id,
        "code": "FAILURE_TYPE_PG",
        "message": "[F1004] 분실 또는 도난 신고된 카드",
        "pgCode": "F1004",
        "pgMessage": "분실 또는 도난 신고된 카드",
    }
    assert outcome["failed"] is True


def test_close_answers_the_buyer_cancelled(client, start_v2):
    tx_id = start_v2()

    rsp = outcome_of(v2_window_action(client, tx_id, "close"))["rsp"]

    assert rsp["code"] == "FAILURE_TYPE_PG"
    assert rsp["message"] == "사용자가 결제를 취소하셨습니다"
    assert rsp["pgMessage"] == "사용자가 결제를 취소하셨습니다"


def test_losing_the_race_to_another_window_keeps_its_own_code(client, start_v2):
    first, second = start_v2(), start_v2()
    v2_window_action(client, first, "approve")

    rsp = outcome_of(v2_window_action(client, second, "approve"))["rsp"]

    assert rsp["code"] == "ALREADY_PAID" and rsp["txId"] == second


def test_a_second_click_answers_409_with_the_outcome(client, start_v2):
    tx_id = start_v2()
    v2_window_action(client, tx_id, "approve")

    reply = v2_window_action(client, tx_id, "close")

    assert reply.status_code == 409
    assert reply.json()["response"]["rsp"]["txId"] == tx_id
    assert "code" not in reply.json()["response"]["rsp"]


# --- redirect mode --------------------------------------------------------------------------
def test_redirect_mode_keeps_the_redirect_url_and_adds_the_payment_id(client):
    back = "http://shop.test/payments/complete/?lang=ko"
    reply = v2_start(client, redirect=True, redirectUrl=back, forceRedirect=True)
    assert reply.json()["redirect"] is True
    tx_id = reply.json()["txId"]

    outcome = outcome_of(v2_window_action(client, tx_id, "approve"))

    url = urlsplit(outcome["redirect_url"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == "http://shop.test/payments/complete/"
    assert parse_qs(url.query) == {"lang": ["ko"], "paymentId": ["order_v2_0001"]}


def test_redirect_after_a_failure_carries_code_and_messages(client):
    back = "http://shop.test/payments/complete/?paymentId=stale&code=old"
    tx_id = v2_start(client, redirect=True, redirectUrl=back).json()["txId"]

    outcome = outcome_of(v2_window_action(client, tx_id, "decline"))

    query = parse_qs(urlsplit(outcome["redirect_url"]).query)
    assert query == {
        "paymentId": ["order_v2_0001"],
        "code": ["FAILURE_TYPE_PG"],
        "message": ["[F1002] 카드 한도 초과"],
        "pgCode": ["F1002"],
        "pgMessage": ["카드 한도 초과"],
    }


def test_redirect_needs_a_redirect_url(client):
    reply = v2_start(client, redirect=True)

    assert reply.json()["redirect"] is False
    assert SandboxPayment.objects.get().m_redirect_url == ""


def test_without_redirect_mode_the_redirect_url_is_not_used(client):
    tx_id = v2_start(client, redirectUrl="http://shop.test/back").json()["txId"]

    assert outcome_of(v2_window_action(client, tx_id, "approve"))["redirect_url"] is None


# --- the script -----------------------------------------------------------------------------
def test_sdk_script_is_served(client, db):
    reply = client.get(V2_API + "v2/browser-sdk.js")

    assert reply.status_code == 200
    assert reply["Content-Type"].startswith("text/javascript")
    assert reply["Access-Control-Allow-Origin"] == "*"
    script = reply.content.decode()
    assert "window.PortOne" in script and "requestPayment" in script
