"""POST payments/cancel: Iamport's rules for full and partial refunds."""

from __future__ import annotations

import pytest

from sandbox import services
from tests.sandbox.conftest import API, window_action

pytestmark = pytest.mark.django_db


def cancel(api, **body):
    reply = api.post("payments/cancel", body)
    assert reply.status_code == 200  # Iamport answers refusals with HTTP 200 too
    return reply.json()


def test_partial_cancels_keep_paid_and_add_up(api, paid_payment):
    imp_uid = paid_payment()

    first = cancel(api, imp_uid=imp_uid, amount=2000, checksum=12000, reason="부분 환불 1")
    second = cancel(api, imp_uid=imp_uid, amount=3000, checksum=10000, reason="부분 환불 2")

    assert first["code"] == 0
    assert first["response"]["status"] == "paid"
    assert first["response"]["cancel_amount"] == 2000
    payment = second["response"]
    assert payment["status"] == "paid"
    assert payment["cancel_amount"] == 5000
    assert payment["cancelled_at"] == 0
    history = payment["cancel_history"]
    assert [entry["amount"] for entry in history] == [2000, 3000]
    assert [entry["reason"] for entry in history] == ["부분 환불 1", "부분 환불 2"]
    for entry in history:
        assert set(entry) == {
            "pg_tid",
            "amount",
            "cancelled_at",
            "reason",
            "cancellation_id",
            "receipt_url",
        }
        assert entry["cancelled_at"] > 0 and entry["pg_tid"] and entry["cancellation_id"]
        assert "cancellation_id=" in entry["receipt_url"]
    assert len({entry["cancellation_id"] for entry in history}) == 2


def test_cancelling_the_rest_makes_it_cancelled(api, paid_payment):
    imp_uid = paid_payment()
    cancel(api, imp_uid=imp_uid, amount=2000, checksum=12000)

    body = cancel(api, imp_uid=imp_uid, amount=10000, checksum=10000, reason="나머지 환불")

    payment = body["response"]
    assert payment["status"] == "cancelled"
    assert payment["cancel_amount"] == 12000
    assert payment["cancelled_at"] > 0
    assert payment["cancel_reason"] == "나머지 환불"
    assert len(payment["cancel_history"]) == 2


def test_amount_omitted_or_zero_cancels_everything_left(api, paid_payment):
    first, second = paid_payment(merchant_uid="order_a"), paid_payment(merchant_uid="order_b")
    cancel(api, imp_uid=second, amount=2000)

    whole = cancel(api, imp_uid=first)["response"]
    rest = cancel(api, imp_uid=second, amount=0)["response"]

    assert (whole["status"], whole["cancel_amount"]) == ("cancelled", 12000)
    assert (rest["status"], rest["cancel_amount"]) == ("cancelled", 12000)
    assert rest["cancel_history"][-1]["amount"] == 10000


def test_cancel_by_merchant_uid(api, paid_payment):
    paid_payment()

    body = cancel(api, merchant_uid="order_0001", amount=12000, checksum=12000)

    assert body["code"] == 0
    assert body["response"]["status"] == "cancelled"


def test_imp_uid_wins_over_merchant_uid(api, paid_payment):
    first, second = paid_payment(merchant_uid="order_a"), paid_payment(merchant_uid="order_b")

    body = cancel(api, imp_uid=second, merchant_uid="order_a", amount=1000)

    assert body["response"]["imp_uid"] == second
    assert api.get(f"payments/{first}").json()["response"]["cancel_amount"] == 0


def test_form_encoded_cancel(api, paid_payment):
    imp_uid = paid_payment()

    reply = api.client.post(
        API + "payments/cancel",
        {"imp_uid": imp_uid, "amount": "1000", "checksum": "12000", "reason": "form"},
        HTTP_AUTHORIZATION=api.token,
    )

    assert reply.json()["response"]["cancel_amount"] == 1000


def test_stale_checksum_is_refused(api, paid_payment):
    imp_uid = paid_payment()
    cancel(api, imp_uid=imp_uid, amount=2000, checksum=12000)

    body = cancel(api, imp_uid=imp_uid, amount=2000, checksum=12000)  # a retried request

    assert body["code"] != 0
    assert "checksum" in body["message"]
    assert body["response"] is None
    assert api.get(f"payments/{imp_uid}").json()["response"]["cancel_amount"] == 2000


def test_over_cancel_is_refused(api, paid_payment):
    imp_uid = paid_payment()
    cancel(api, imp_uid=imp_uid, amount=10000)

    body = cancel(api, imp_uid=imp_uid, amount=3000)

    assert body["code"] != 0
    assert "2,000원" in body["message"]
    assert api.get(f"payments/{imp_uid}").json()["response"]["cancel_amount"] == 10000


def test_cancel_of_fully_cancelled_payment_is_refused(api, paid_payment):
    imp_uid = paid_payment()
    cancel(api, imp_uid=imp_uid, amount=12000, checksum=12000)

    body = cancel(api, imp_uid=imp_uid, amount=12000, checksum=0)

    assert body["code"] != 0
    assert body["message"] == "이미 전액취소된 주문입니다."


def test_cancel_of_unknown_payment_is_refused(api):
    body = cancel(api, imp_uid="imps_000000000000", amount=1000)

    assert body["code"] != 0
    assert body["message"] == "취소할 결제건이 존재하지 않습니다."


def test_cancel_without_ids_is_refused(api):
    assert cancel(api, amount=1000)["code"] != 0


def test_cancel_of_failed_payment_is_refused(api, client, start_payment):
    imp_uid = start_payment()
    window_action(client, imp_uid, "decline")

    body = cancel(api, imp_uid=imp_uid)

    assert body["code"] != 0
    assert "실패" in body["message"]


def test_cancel_of_payment_still_in_its_window_is_refused(api, start_payment):
    imp_uid = start_payment()

    assert cancel(api, imp_uid=imp_uid)["code"] != 0


def test_unfunded_virtual_account_can_be_cancelled_whole(api, client, start_payment):
    imp_uid = start_payment(pay_method="vbank")
    window_action(client, imp_uid, "approve")

    partial = cancel(api, imp_uid=imp_uid, amount=1000)
    whole = cancel(
        api,
        imp_uid=imp_uid,
        amount=12000,
        checksum=12000,
        refund_holder="홍길동",
        refund_bank="004",
        refund_account="12345678901234",
    )

    assert partial["code"] != 0
    assert whole["code"] == 0
    assert whole["response"]["status"] == "cancelled"


def test_non_numeric_cancel_amount_answers_400(api, paid_payment):
    imp_uid = paid_payment()

    reply = api.post("payments/cancel", {"imp_uid": imp_uid, "amount": "a lot"})

    assert reply.status_code == 400
    assert reply.json()["code"] != 0


def test_a_funded_virtual_account_is_refunded_only_to_a_given_account(
    api, client, start_payment, webhook_sink, django_capture_on_commit_callbacks
):
    imp_uid = start_payment(pay_method="vbank")
    window_action(client, imp_uid, "approve")
    with django_capture_on_commit_callbacks(execute=True):
        services.vbank_deposit(imp_uid=imp_uid)

    without = cancel(api, imp_uid=imp_uid, amount=12000, checksum=12000)
    with_account = cancel(
        api,
        imp_uid=imp_uid,
        amount=12000,
        checksum=12000,
        refund_holder="홍길동",
        refund_bank="004",
        refund_account="12345678901234",
    )

    assert without["code"] != 0 and "환불 계좌" in without["message"]
    assert with_account["code"] == 0
    assert with_account["response"]["status"] == "cancelled"
