"""The browser side: the SDK script, sdk/start's checks, the window and its transitions."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from sandbox.models import SandboxPayment
from tests.sandbox.conftest import API, SandboxApi, sdk_start, window_action

pytestmark = pytest.mark.django_db


def refusal_of(reply) -> dict:
    body = reply.json()
    assert body["code"] != 0
    assert body["response"]["error_code"]
    assert body["response"]["error_msg"] == body["message"]
    return body["response"]


# --- assets -------------------------------------------------------------------------------
def test_sdk_script_is_served_as_javascript(client):
    reply = client.get(API + "v1/iamport.js")

    assert reply.status_code == 200
    assert reply["Content-Type"].startswith("text/javascript")
    script = reply.content.decode()
    assert "window.IMP" in script
    assert "request_pay" in script
    assert "sandbox-pay-frame" in script
    assert "document.currentScript" in script


@pytest.mark.parametrize("name", ["window.js", "sandbox.css"])
def test_window_assets_are_served(client, name):
    assert client.get(f"/sandbox/assets/{name}").status_code == 200


def test_unknown_asset_is_404(client):
    assert client.get("/sandbox/assets/settings.py").status_code == 404


# --- sdk/start ----------------------------------------------------------------------------
def test_start_creates_a_ready_payment(client):
    reply = sdk_start(client, custom_data={"order_id": 7}, pg="kcp.T0000")

    assert reply.status_code == 200
    started = reply.json()["response"]
    assert started["merchant_uid"] == "order_0001"
    assert started["window_url"].endswith(f"/sandbox/iamport/window/{started['imp_uid']}/")
    payment = SandboxPayment.objects.get(imp_uid=started["imp_uid"])
    assert payment.status == "ready"
    assert payment.amount == 12000
    assert (payment.pg_provider, payment.pg_id) == ("kcp", "T0000")
    assert payment.custom_data == '{"order_id": 7}'
    assert payment.notice_url == "http://shop.test/payments/webhook/"


def test_start_answers_cors_preflight(client):
    reply = client.options(API + "sdk/start")

    assert reply.status_code == 204
    assert reply["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize("amount", ["12000", None, True, 0, -5, 12000.5])
def test_start_refuses_an_amount_that_is_not_a_positive_number(client, amount):
    param = {"amount": amount} if amount is not None else {"amount": None}
    reply = client.post(
        API + "sdk/start",
        {
            "merchant_code": "imp00000000",
            "param": {"merchant_uid": "order_0001", "pay_method": "card", **param},
        },
        content_type="application/json",
    )

    assert reply.status_code == 400
    assert refusal_of(reply)["error_code"] == "INVALID_PARAMETER"
    assert not SandboxPayment.objects.exists()


def test_start_refuses_a_missing_merchant_uid(client):
    reply = sdk_start(client, merchant_uid=None)

    assert reply.status_code == 400
    assert "merchant_uid" in refusal_of(reply)["error_msg"]


def test_start_refuses_a_merchant_uid_over_40_characters(client):
    reply = sdk_start(client, merchant_uid="x" * 41)

    assert reply.status_code == 400


def test_start_refuses_a_missing_pay_method(client):
    reply = sdk_start(client, pay_method=None)

    assert reply.status_code == 400
    assert "pay_method" in refusal_of(reply)["error_msg"]


def test_start_refuses_an_unknown_merchant_code(client):
    reply = sdk_start(client, merchant_code="imp99999999")

    assert reply.status_code == 409
    assert refusal_of(reply)["error_code"] == "UNKNOWN_MERCHANT"


def test_start_refuses_an_amount_differing_from_the_prepared_one(client, api: SandboxApi):
    api.post("payments/prepare", {"merchant_uid": "order_0001", "amount": 12000})

    refused = sdk_start(client, amount=1000)
    accepted = sdk_start(client, amount=12000)

    assert refused.status_code == 409
    rsp = refusal_of(refused)
    assert rsp["error_code"] == "PREPARED_AMOUNT_MISMATCH"
    assert "12,000원" in rsp["error_msg"]
    assert accepted.status_code == 200


def test_start_refuses_a_merchant_uid_already_paid(client, paid_payment):
    paid_payment()

    reply = sdk_start(client)

    assert reply.status_code == 409
    assert refusal_of(reply)["error_code"] == "ALREADY_PAID"


def test_start_allows_a_new_attempt_after_a_failed_one(client, start_payment):
    window_action(client, start_payment(), "close")

    assert sdk_start(client).status_code == 200


def test_start_refuses_a_malformed_vbank_due(client):
    reply = sdk_start(client, pay_method="vbank", vbank_due="next week")

    assert reply.status_code == 400


# --- the window page ----------------------------------------------------------------------
def test_window_page_shows_the_payment(client, start_payment):
    imp_uid = start_payment()

    reply = client.get(f"{API}window/{imp_uid}/", {"parent_origin": "http://localhost:8000"})

    assert reply.status_code == 200
    page = reply.content.decode()
    for expected in (
        'id="sandbox-approve"',
        'id="sandbox-decline"',
        'id="sandbox-close"',
        "결제 승인",
        "결제 거절",
        "12,000원",
        "유기농 원두 200g",
        "신용카드",
        "홍길동",
        "imp00000000",
        "Sandbox PG",
        "SANDBOX — 실제 결제되지 않습니다",
        'data-parent-origin="http://localhost:8000"',
    ):
        assert expected in page
    assert "X-Frame-Options" not in reply.headers  # shown in the SDK's iframe


def test_window_page_ignores_a_parent_origin_that_is_not_an_origin(client, start_payment):
    imp_uid = start_payment()

    reply = client.get(f"{API}window/{imp_uid}/", {"parent_origin": '"><script>'})

    assert 'data-parent-origin=""' in reply.content.decode()


def test_vbank_window_offers_to_issue_an_account(client, start_payment):
    imp_uid = start_payment(pay_method="vbank")

    page = client.get(f"{API}window/{imp_uid}/").content.decode()

    assert "가상계좌 발급" in page
    assert "결제 승인" not in page


def test_window_of_a_finished_payment_offers_to_return(client, start_payment):
    imp_uid = start_payment()
    window_action(client, imp_uid, "close")

    page = client.get(f"{API}window/{imp_uid}/").content.decode()

    assert 'id="sandbox-return"' in page
    assert 'id="sandbox-outcome"' in page
    assert 'id="sandbox-approve"' not in page


def test_window_of_unknown_payment_is_404(client, db):
    assert client.get(f"{API}window/imps_000000000000/").status_code == 404


# --- transitions --------------------------------------------------------------------------
def test_approve_marks_paid_and_answers_a_success_rsp(client, start_payment):
    imp_uid = start_payment()

    reply = window_action(client, imp_uid, "approve")

    assert reply.status_code == 200
    outcome = reply.json()["response"]
    assert outcome["redirect_url"] is None
    rsp = outcome["rsp"]
    assert rsp["imp_uid"] == imp_uid
    assert rsp["merchant_uid"] == "order_0001"
    assert rsp["error_code"] is None and rsp["error_msg"] is None
    assert rsp["status"] == "paid"
    assert rsp["paid_amount"] == 12000
    assert rsp["pay_method"] == "card"
    assert rsp["pg_provider"] == "html5_inicis"
    assert rsp["apply_num"]
    assert rsp["receipt_url"].endswith(f"/sandbox/receipt/{imp_uid}/")
    assert "success" not in rsp
    payment = SandboxPayment.objects.get(imp_uid=imp_uid)
    assert payment.status == "paid"
    assert payment.paid_at is not None
    assert payment.pg_tid


def test_decline_marks_failed_with_the_pg_error(client, start_payment):
    imp_uid = start_payment()

    reply = window_action(client, imp_uid, "decline", {"error_code": "F1003"})

    rsp = reply.json()["response"]["rsp"]
    assert rsp["status"] == "failed"
    assert rsp["error_code"] == "F1003"
    assert rsp["error_msg"] == "[F1003] 잔액 부족"
    assert rsp["paid_amount"] == 0
    payment = SandboxPayment.objects.get(imp_uid=imp_uid)
    assert (payment.status, payment.fail_reason) == ("failed", "[F1003] 잔액 부족")
    assert payment.failed_at is not None


def test_decline_defaults_to_card_limit_exceeded(client, start_payment):
    imp_uid = start_payment()

    rsp = window_action(client, imp_uid, "decline").json()["response"]["rsp"]

    assert (rsp["error_code"], rsp["error_msg"]) == ("F1002", "[F1002] 카드 한도 초과")


def test_close_fails_with_user_cancelled(client, start_payment):
    imp_uid = start_payment()

    rsp = window_action(client, imp_uid, "close").json()["response"]["rsp"]

    assert rsp["status"] == "failed"
    assert rsp["error_code"]
    assert rsp["error_msg"] == "사용자가 결제를 취소하셨습니다"
    assert (
        SandboxPayment.objects.get(imp_uid=imp_uid).fail_reason == "사용자가 결제를 취소하셨습니다"
    )


def test_vbank_approve_issues_an_account_and_stays_ready(client, start_payment, settings):
    settings.SANDBOX_MERCHANT_NAME = "샌드박스 커피"
    imp_uid = start_payment(pay_method="vbank")
    before = timezone.now()

    rsp = window_action(client, imp_uid, "approve").json()["response"]["rsp"]

    assert rsp["status"] == "ready"
    assert rsp["error_code"] is None
    assert rsp["vbank_num"] and rsp["vbank_name"]
    assert rsp["vbank_holder"] == "샌드박스 커피"
    due = rsp["vbank_date"] - before.timestamp()
    assert 3 * 86400 - 5 <= due <= 3 * 86400 + 5
    payment = SandboxPayment.objects.get(imp_uid=imp_uid)
    assert payment.status == "ready"
    assert payment.vbank_issued_at is not None
    assert payment.paid_at is None


def test_vbank_due_from_the_param_sets_the_deadline(client, start_payment):
    imp_uid = start_payment(pay_method="vbank", vbank_due="209912312359")

    rsp = window_action(client, imp_uid, "approve").json()["response"]["rsp"]

    deadline = datetime.fromtimestamp(rsp["vbank_date"], tz=timezone.get_default_timezone())
    assert (deadline.year, deadline.month, deadline.day, deadline.hour, deadline.minute) == (
        2099,
        12,
        31,
        23,
        59,
    )


def test_second_action_answers_409_with_the_current_outcome(client, start_payment):
    imp_uid = start_payment()
    window_action(client, imp_uid, "approve")

    reply = window_action(client, imp_uid, "close")

    assert reply.status_code == 409
    assert reply.json()["response"]["rsp"]["status"] == "paid"
    assert SandboxPayment.objects.get(imp_uid=imp_uid).status == "paid"


def test_action_on_unknown_payment_is_404(client, db):
    assert window_action(client, "imps_000000000000", "approve").status_code == 404


def test_action_needs_post(client, start_payment):
    imp_uid = start_payment()

    assert client.get(f"{API}window/{imp_uid}/approve").status_code == 405


def test_approve_fails_when_another_attempt_got_paid_meanwhile(client, start_payment):
    first, second = start_payment(), start_payment()
    window_action(client, first, "approve")

    rsp = window_action(client, second, "approve").json()["response"]["rsp"]

    assert rsp["status"] == "failed"
    assert rsp["error_code"] == "ALREADY_PAID"


# --- mobile redirect ----------------------------------------------------------------------
def test_mobile_success_redirects_with_ids_and_keeps_the_query(client):
    reply = sdk_start(
        client, channel="mobile", m_redirect_url="http://shop.test/payments/complete/?order=7"
    )
    imp_uid = reply.json()["response"]["imp_uid"]

    outcome = window_action(client, imp_uid, "approve").json()["response"]

    url = urlsplit(outcome["redirect_url"])
    assert (url.netloc, url.path) == ("shop.test", "/payments/complete/")
    assert parse_qs(url.query) == {
        "order": ["7"],
        "imp_uid": [imp_uid],
        "merchant_uid": ["order_0001"],
    }


def test_mobile_failure_redirect_carries_the_error(client):
    reply = sdk_start(client, channel="mobile", m_redirect_url="http://shop.test/done")
    imp_uid = reply.json()["response"]["imp_uid"]

    outcome = window_action(client, imp_uid, "decline").json()["response"]

    query = parse_qs(urlsplit(outcome["redirect_url"]).query)
    assert query["imp_uid"] == [imp_uid]
    assert query["error_code"] == ["F1002"]
    assert query["error_msg"] == ["[F1002] 카드 한도 초과"]


def test_mobile_channel_without_m_redirect_url_behaves_as_pc(client):
    reply = sdk_start(client, channel="mobile")
    imp_uid = reply.json()["response"]["imp_uid"]

    outcome = window_action(client, imp_uid, "approve").json()["response"]

    assert outcome["redirect_url"] is None
    assert SandboxPayment.objects.get(imp_uid=imp_uid).channel == "pc"


# --- receipts -----------------------------------------------------------------------------
def test_receipt_of_a_paid_payment(client, start_payment):
    imp_uid = start_payment()
    rsp = window_action(client, imp_uid, "approve").json()["response"]["rsp"]

    reply = client.get(rsp["receipt_url"])

    assert reply.status_code == 200
    assert "매출전표" in reply.content.decode()
    assert "12,000원" in reply.content.decode()


def test_receipt_of_an_unpaid_payment_is_404(client, start_payment):
    imp_uid = start_payment()

    assert client.get(f"/sandbox/receipt/{imp_uid}/").status_code == 404
    assert client.get(f"/sandbox/receipt/{imp_uid}/?cancellation_id=nope").status_code == 404


def test_receipt_of_a_cancellation(client, api, start_payment):
    imp_uid = start_payment()
    window_action(client, imp_uid, "approve")
    payment = api.post("payments/cancel", {"imp_uid": imp_uid, "amount": 2000}).json()

    reply = client.get(payment["response"]["cancel_history"][0]["receipt_url"])

    assert reply.status_code == 200
    assert "취소 전표" in reply.content.decode()
    assert "2,000원" in reply.content.decode()
