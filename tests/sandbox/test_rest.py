"""The sandbox's REST contract: Iamport's envelope, auth, lookups, prepare and cancel."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from sandbox.models import SandboxPayment, SandboxToken
from tests.sandbox.conftest import API, SandboxApi, get_token

pytestmark = pytest.mark.django_db


def assert_envelope(body: dict) -> None:
    assert set(body) == {"code", "message", "response"}
    assert isinstance(body["code"], int)


# --- auth ---------------------------------------------------------------------------------
def test_get_token_returns_token_with_iamport_times(client):
    reply = get_token(client)

    assert reply.status_code == 200
    body = reply.json()
    assert_envelope(body)
    assert body["code"] == 0
    token = body["response"]
    assert set(token) == {"access_token", "expired_at", "now"}
    assert token["expired_at"] - token["now"] == pytest.approx(30 * 60, abs=2)


def test_get_token_accepts_form_encoded_body(client):
    reply = client.post(
        API + "users/getToken", {"imp_key": "imp_apikey", "imp_secret": "test_api_secret"}
    )

    assert reply.status_code == 200
    assert reply.json()["response"]["access_token"]


def test_get_token_again_before_expiry_returns_the_same_token(client):
    first = get_token(client).json()["response"]
    second = get_token(client).json()["response"]

    assert second["access_token"] == first["access_token"]
    assert SandboxToken.objects.count() == 1


def test_get_token_in_its_last_minute_extends_it(client):
    first = get_token(client).json()["response"]
    SandboxToken.objects.update(expires_at=timezone.now() + timedelta(seconds=30))

    second = get_token(client).json()["response"]

    assert second["access_token"] == first["access_token"]
    assert second["expired_at"] - second["now"] == pytest.approx(30 + 5 * 60, abs=2)


def test_get_token_after_expiry_returns_a_new_token(client, settings):
    settings.SANDBOX_TOKEN_LIFETIME = 0
    first = get_token(client).json()["response"]["access_token"]
    settings.SANDBOX_TOKEN_LIFETIME = 1800

    second = get_token(client).json()["response"]["access_token"]

    assert second != first


@pytest.mark.parametrize(
    ("imp_key", "imp_secret"),
    [("imp_apikey", "wrong"), ("wrong", "test_api_secret"), ("", ""), ("키😀", "비밀")],
)
def test_get_token_with_wrong_credentials_answers_401(client, imp_key, imp_secret):
    reply = get_token(client, imp_key=imp_key, imp_secret=imp_secret)

    assert reply.status_code == 401
    body = reply.json()
    assert_envelope(body)
    assert body["code"] == -1
    assert body["message"]
    assert body["response"] is None


def test_api_without_token_answers_401(client):
    reply = SandboxApi(client).get("payments/imps_000000000000")

    assert reply.status_code == 401
    assert reply.json() == {"code": -1, "message": "Unauthorized", "response": None}


def test_api_with_unknown_token_answers_401(client):
    reply = SandboxApi(client, "not-a-token").get("payments/imps_000000000000")

    assert reply.status_code == 401


def test_api_with_expired_token_answers_401(client, settings):
    settings.SANDBOX_TOKEN_LIFETIME = 0
    token = get_token(client).json()["response"]["access_token"]

    reply = SandboxApi(client, token).get("payments/imps_000000000000")

    assert reply.status_code == 401


def test_api_accepts_bearer_token(api):
    api.token = f"Bearer {api.token}"

    assert api.get("payments/imps_000000000000").status_code == 404


def test_wrong_method_answers_405_envelope(api):
    reply = api.get("payments/cancel")

    assert reply.status_code == 405
    assert_envelope(reply.json())


# --- reading payments ---------------------------------------------------------------------
def test_unknown_imp_uid_answers_404_envelope(api):
    reply = api.get("payments/imps_000000000000")

    assert reply.status_code == 404
    body = reply.json()
    assert_envelope(body)
    assert body["code"] != 0
    assert body["message"] == "존재하지 않는 결제정보입니다."
    assert body["response"] is None


def test_payment_has_iamport_fields(api, paid_payment):
    imp_uid = paid_payment(custom_data={"order": 7})

    reply = api.get(f"payments/{imp_uid}")

    assert reply.status_code == 200
    payment = reply.json()["response"]
    assert payment["imp_uid"] == imp_uid
    assert payment["imp_uid"].startswith("imps_") and len(payment["imp_uid"]) == 17
    assert payment["merchant_uid"] == "order_0001"
    assert payment["amount"] == 12000 and isinstance(payment["amount"], int)
    assert payment["cancel_amount"] == 0
    assert payment["currency"] == "KRW"
    assert payment["status"] == "paid"
    assert payment["pay_method"] == "card"
    assert payment["pg_provider"] == "html5_inicis"
    assert payment["pg_tid"]
    assert payment["apply_num"]
    assert payment["channel"] == "pc"
    assert payment["name"] == "유기농 원두 200g"
    assert payment["buyer_name"] == "홍길동"
    assert payment["buyer_email"] == "buyer@example.com"
    assert payment["custom_data"] == '{"order": 7}'
    assert payment["paid_at"] > 0 and payment["started_at"] > 0
    assert payment["failed_at"] == 0 and payment["cancelled_at"] == 0
    assert payment["fail_reason"] is None and payment["cancel_reason"] is None
    assert payment["receipt_url"].startswith("http://testserver/sandbox/receipt/")
    assert payment["cancel_history"] == []
    assert payment["vbank_num"] is None and payment["vbank_date"] == 0
    assert payment["sandbox"] is True


def test_find_returns_the_newest_attempt_for_a_merchant_uid(api, start_payment, client):
    older = start_payment()
    newer = start_payment()
    SandboxPayment.objects.filter(imp_uid=older).update(
        started_at=timezone.now() - timedelta(minutes=5)
    )

    reply = api.get("payments/find/order_0001")

    assert reply.status_code == 200
    assert reply.json()["response"]["imp_uid"] == newer


def make_ready_attempt_newest(imp_uid: str) -> None:
    SandboxPayment.objects.filter(imp_uid=imp_uid).update(
        started_at=timezone.now() + timedelta(minutes=1)
    )


def test_find_with_status_filters(api, start_payment, paid_payment):
    ready = start_payment()
    paid = paid_payment()
    make_ready_attempt_newest(ready)

    assert api.get("payments/find/order_0001/paid").json()["response"]["imp_uid"] == paid
    assert api.get("payments/find/order_0001/ready").json()["response"]["imp_uid"] == ready
    assert api.get("payments/find/order_0001").json()["response"]["imp_uid"] == ready
    assert (
        api.get("payments/find/order_0001", sorting="-paid").json()["response"]["imp_uid"] == paid
    )
    assert api.get("payments/find/order_0001/failed").status_code == 404


def test_find_unknown_merchant_uid_answers_404(api):
    reply = api.get("payments/find/no_such_order")

    assert reply.status_code == 404
    assert reply.json()["code"] != 0


def test_find_with_unknown_status_answers_400(api, start_payment):
    start_payment()

    reply = api.get("payments/find/order_0001/nonsense")

    assert reply.status_code == 400
    assert_envelope(reply.json())


def test_find_all_lists_every_attempt_paged(api, start_payment):
    imp_uids = [start_payment() for _ in range(3)]

    first = api.get("payments/findAll/order_0001", limit=2).json()["response"]
    second = api.get("payments/findAll/order_0001", limit=2, page=2).json()["response"]

    assert first["total"] == 3
    assert (first["previous"], first["next"]) == (0, 2)
    assert (second["previous"], second["next"]) == (1, 0)
    listed = [item["imp_uid"] for item in first["list"] + second["list"]]
    assert sorted(listed) == sorted(imp_uids)


def test_find_all_with_status_and_unknown_merchant_uid(api, start_payment, paid_payment):
    start_payment()
    paid_payment()

    page = api.get("payments/findAll/order_0001/paid").json()["response"]
    assert [item["status"] for item in page["list"]] == ["paid"]
    assert api.get("payments/findAll/no_such_order").status_code == 404


def test_find_all_refuses_a_limit_over_1000(api, start_payment):
    start_payment()

    assert api.get("payments/findAll/order_0001", limit=1001).status_code == 400


def test_payments_by_status(api, start_payment, paid_payment):
    paid = paid_payment()
    start_payment(merchant_uid="order_0002")

    page = api.get("payments/status/paid").json()["response"]
    everything = api.get("payments/status/all").json()["response"]

    assert [item["imp_uid"] for item in page["list"]] == [paid]
    assert everything["total"] == 2
    future = int((timezone.now() + timedelta(hours=1)).timestamp())
    assert api.get("payments/status/all", **{"from": future}).json()["response"]["total"] == 0


# --- prepare ------------------------------------------------------------------------------
def test_prepare_register_read_and_change(api):
    created = api.post("payments/prepare", {"merchant_uid": "order_0001", "amount": 12000})
    read = api.get("payments/prepare/order_0001")
    changed = api.put("payments/prepare", {"merchant_uid": "order_0001", "amount": 15000})
    read_again = api.get("payments/prepare/order_0001")

    assert created.status_code == 200
    assert created.json() == {
        "code": 0,
        "message": None,
        "response": {"merchant_uid": "order_0001", "amount": 12000, "currency": "KRW"},
    }
    assert read.json()["response"]["amount"] == 12000
    assert changed.json()["response"]["amount"] == 15000
    assert read_again.json()["response"]["amount"] == 15000


def test_prepare_twice_is_refused(api):
    api.post("payments/prepare", {"merchant_uid": "order_0001", "amount": 12000})

    reply = api.post("payments/prepare", {"merchant_uid": "order_0001", "amount": 9000})

    assert reply.json()["code"] != 0
    assert reply.json()["message"]
    assert api.get("payments/prepare/order_0001").json()["response"]["amount"] == 12000


def test_prepare_change_of_unknown_merchant_uid_answers_404(api):
    reply = api.put("payments/prepare", {"merchant_uid": "order_0001", "amount": 12000})

    assert reply.status_code == 404
    assert reply.json()["code"] != 0


def test_prepare_read_of_unknown_merchant_uid_answers_404(api):
    assert api.get("payments/prepare/no_such_order").status_code == 404


def test_prepare_accepts_form_encoded_amount(api):
    reply = api.client.post(
        API + "payments/prepare",
        {"merchant_uid": "order_0001", "amount": "12000"},
        HTTP_AUTHORIZATION=api.token,
    )

    assert reply.json()["response"]["amount"] == 12000


@pytest.mark.parametrize(
    "body",
    [
        {"merchant_uid": "order_0001"},
        {"merchant_uid": "order_0001", "amount": "12,000"},
        {"merchant_uid": "order_0001", "amount": 12000.5},
        {"amount": 12000},
    ],
)
def test_prepare_with_bad_parameters_answers_400(api, body):
    reply = api.post("payments/prepare", body)

    assert reply.status_code == 400
    assert reply.json()["code"] != 0


def test_malformed_json_answers_400(api):
    reply = api.client.post(
        API + "payments/prepare",
        "{not json",
        content_type="application/json",
        HTTP_AUTHORIZATION=api.token,
    )

    assert reply.status_code == 400
    assert_envelope(reply.json())
