"""The complete (browser + mobile redirect), webhook and prepare endpoints."""

from __future__ import annotations

import json
from unittest import mock

import pytest
import requests
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from payments.models import Payment, WebhookDelivery
from payments.services import payment_sync
from payments.services.webhooks import RETRY_DETAIL
from shop.models import Order, Product
from tests.conftest import API

pytestmark = pytest.mark.django_db

IMP = "imp_123456789012"
COMPLETE = "/payments/complete/"
WEBHOOK = "/payments/webhook/"
PREPARE = "/payments/prepare/"


@pytest.fixture
def order(order_factory):
    return order_factory(price=12000, stock=5)


def post_json(client: Client, url: str, data, **extra):
    body = data if isinstance(data, str | bytes) else json.dumps(data)
    return client.post(url, body, content_type="application/json", **extra)


def reload(obj):
    obj.refresh_from_db()
    return obj


# --- complete (browser callback) ----------------------------------------------------------
def test_complete_paid_answers_200_with_the_verdict(client, iamport, order):
    iamport.payment(order.merchant_uid)

    reply = post_json(client, COMPLETE, {"imp_uid": IMP, "merchant_uid": order.merchant_uid})

    assert reply.status_code == 200
    assert reply.json() == {
        "status": "paid",
        "message": "결제가 완료되었습니다. 주문해 주셔서 감사합니다.",
        "redirect_url": f"/orders/{order.merchant_uid}/",
    }
    assert reload(order).status == Order.Status.PAID
    assert "결제가 완료되었습니다" in client.get(reply.json()["redirect_url"]).content.decode()


def test_complete_vbank_answers_200_awaiting_deposit(client, iamport, order):
    iamport.payment(order.merchant_uid, fixture="payment_vbank_ready")

    reply = post_json(client, COMPLETE, {"imp_uid": IMP, "merchant_uid": order.merchant_uid})

    assert reply.status_code == 200
    assert reply.json()["status"] == "awaiting_deposit"


def test_complete_failed_payment_answers_402_with_the_pg_message(client, iamport, order):
    iamport.payment(order.merchant_uid, fixture="payment_failed")

    reply = post_json(client, COMPLETE, {"imp_uid": IMP, "merchant_uid": order.merchant_uid})

    assert reply.status_code == 402
    assert reply.json()["status"] == "pending"
    assert reply.json()["message"] == "결제에 실패했습니다: [F1002] 카드 한도 초과"


def test_complete_forged_amount_answers_409_and_cancels(client, iamport, order):
    payment = iamport.payment(order.merchant_uid, amount=1000)
    iamport.cancel_ok(payment, 1000)

    reply = post_json(client, COMPLETE, {"imp_uid": IMP, "merchant_uid": order.merchant_uid})

    assert reply.status_code == 409
    assert reply.json()["status"] == "pending"
    assert len(iamport.calls("POST", "payments/cancel")) == 1


def test_complete_with_someone_elses_imp_uid_answers_409_and_changes_nothing(
    client, iamport, order, order_factory
):
    other = order_factory(price=12000)
    iamport.payment(other.merchant_uid)

    reply = post_json(client, COMPLETE, {"imp_uid": IMP, "merchant_uid": order.merchant_uid})

    assert reply.status_code == 409
    assert reload(order).status == reload(other).status == "pending"
    assert not Payment.objects.exists()


def test_complete_for_an_unknown_order_answers_404_without_asking_iamport(client, iamport):
    reply = post_json(client, COMPLETE, {"imp_uid": IMP, "merchant_uid": "o-no-such-order"})

    assert reply.status_code == 404
    assert reply.json()["status"] is None
    assert len(iamport.rsps.calls) == 0


def test_complete_with_an_unknown_imp_uid_answers_404(client, iamport, order):
    iamport.not_found("imp_unknown")

    reply = post_json(
        client, COMPLETE, {"imp_uid": "imp_unknown", "merchant_uid": order.merchant_uid}
    )

    assert reply.status_code == 404
    assert reload(order).status == "pending"


def test_complete_twice_is_one_transition(client, iamport, order):
    iamport.payment(order.merchant_uid)
    body = {"imp_uid": IMP, "merchant_uid": order.merchant_uid}

    first, second = post_json(client, COMPLETE, body), post_json(client, COMPLETE, body)

    assert first.status_code == second.status_code == 200
    assert reload(order).lines.get().product.stock == 4


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        b"\xff\xfe",
        "[]",
        "null",
        '"imp_123"',
        {},
        {"imp_uid": IMP},
        {"merchant_uid": "o1"},
        {"imp_uid": 123, "merchant_uid": "o1"},
        {"imp_uid": IMP, "merchant_uid": ["o1"]},
        {"imp_uid": IMP, "merchant_uid": "x" * 41},
        {"imp_uid": "imp\n1", "merchant_uid": "o1"},
    ],
)
def test_complete_with_a_bad_body_answers_400(client, iamport, body):
    reply = post_json(client, COMPLETE, body)

    assert reply.status_code == 400
    assert reply.json()["message"]
    assert len(iamport.rsps.calls) == 0


def test_complete_is_csrf_protected(iamport, order):
    client = Client(enforce_csrf_checks=True)

    reply = post_json(client, COMPLETE, {"imp_uid": IMP, "merchant_uid": order.merchant_uid})

    assert reply.status_code == 403
    assert len(iamport.rsps.calls) == 0


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        (requests.ConnectTimeout("slow"), 504),
        (requests.ReadTimeout("slow"), 504),
        (requests.ConnectionError("refused"), 503),
    ],
)
def test_complete_when_iamport_cannot_be_reached(client, iamport, order, failure, status):
    iamport.rsps.get(API + f"payments/{IMP}", body=failure)

    reply = post_json(client, COMPLETE, {"imp_uid": IMP, "merchant_uid": order.merchant_uid})

    assert reply.status_code == status
    assert reply.json()["status"] == "pending"
    assert reload(order).status == "pending"


@pytest.mark.parametrize(
    ("status", "body"), [(500, "<html>Internal error</html>"), (502, ""), (200, "garbage")]
)
def test_complete_when_iamport_answers_garbage_is_502(client, iamport, order, status, body):
    iamport.rsps.get(API + f"payments/{IMP}", status=status, body=body)

    reply = post_json(client, COMPLETE, {"imp_uid": IMP, "merchant_uid": order.merchant_uid})

    assert reply.status_code == 502
    assert reload(order).status == "pending"


def test_complete_only_allows_get_and_post(client):
    assert client.put(COMPLETE).status_code == 405


# --- complete (mobile redirect) -----------------------------------------------------------
def test_mobile_redirect_verifies_and_shows_the_order(client, iamport, order):
    iamport.payment(order.merchant_uid)

    reply = client.get(
        COMPLETE, {"imp_uid": IMP, "merchant_uid": order.merchant_uid, "imp_success": "true"}
    )

    assert reply.status_code == 302
    assert reply.url == f"/orders/{order.merchant_uid}/"
    assert reload(order).status == Order.Status.PAID
    page = client.get(reply.url)
    assert "결제가 완료되었습니다" in page.content.decode()


def test_mobile_redirect_never_trusts_imp_success(client, iamport, order):
    iamport.payment(order.merchant_uid, fixture="payment_failed")

    reply = client.get(
        COMPLETE, {"imp_uid": IMP, "merchant_uid": order.merchant_uid, "imp_success": "true"}
    )

    assert reply.status_code == 302
    assert reload(order).status == Order.Status.PENDING
    page = client.get(reply.url).content.decode()
    # Said once, as the order's own notice: not again as a message above it.
    assert page.count("카드 한도 초과") == 1 and 'id="status-message"' in page


def test_mobile_redirect_without_imp_uid_shows_the_pg_message(client, iamport, order):
    reply = client.get(
        COMPLETE,
        {
            "merchant_uid": order.merchant_uid,
            "error_code": "F0000",
            "error_msg": "사용자가 결제를 취소하셨습니다",
        },
    )

    assert reply.url == f"/orders/{order.merchant_uid}/"
    assert "사용자가 결제를 취소하셨습니다" in client.get(reply.url).content.decode()
    assert len(iamport.rsps.calls) == 0


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"imp_uid": IMP},
        {"merchant_uid": "o-unknown", "imp_uid": IMP},
        {"merchant_uid": "x" * 99},
    ],
)
def test_mobile_redirect_with_bad_query_goes_home_with_a_message(client, iamport, query):
    reply = client.get(COMPLETE, query)

    assert reply.status_code == 302
    assert reply.url == reverse("shop:product_list")
    assert len(iamport.rsps.calls) == 0


def test_mobile_redirect_when_iamport_is_down_keeps_the_order_and_says_so(client, iamport, order):
    iamport.rsps.get(API + f"payments/{IMP}", body=requests.ConnectionError("down"))

    reply = client.get(COMPLETE, {"imp_uid": IMP, "merchant_uid": order.merchant_uid})

    assert reply.url == f"/orders/{order.merchant_uid}/"
    assert "결제 확인이 지연되고 있습니다" in client.get(reply.url).content.decode()
    assert reload(order).status == "pending"


# --- webhook ------------------------------------------------------------------------------
def test_webhook_json_marks_paid_and_records_the_delivery(client, iamport, order):
    iamport.payment(order.merchant_uid)

    reply = post_json(
        client, WEBHOOK, {"imp_uid": IMP, "merchant_uid": order.merchant_uid, "status": "paid"}
    )

    assert reply.status_code == 200
    assert reload(order).status == Order.Status.PAID
    delivery = WebhookDelivery.objects.get()
    assert (delivery.imp_uid, delivery.merchant_uid, delivery.status_hint) == (
        IMP,
        order.merchant_uid,
        "paid",
    )
    assert delivery.outcome == WebhookDelivery.Outcome.PROCESSED
    assert '"status": "paid"' in delivery.body


@pytest.mark.django_db(transaction=True)
def test_webhook_outcome_commits_with_the_decision_it_reports(client, iamport, order, settings):
    settings.SHOP_MAIL_SEND_NOW = False  # production: no mail sent after the commit
    iamport.payment(order.merchant_uid)

    with CaptureQueriesContext(connection) as captured:
        post_json(client, WEBHOOK, {"imp_uid": IMP, "merchant_uid": order.merchant_uid})

    statements = [q["sql"] for q in captured.captured_queries]
    written = [
        i
        for i, sql in enumerate(statements)
        if sql.startswith("UPDATE") and "webhookdelivery" in sql
    ]
    begins = [i for i, sql in enumerate(statements) if sql.startswith("BEGIN")]
    commits = [i for i, sql in enumerate(statements) if sql == "COMMIT"]
    # One write of the outcome, inside the payment's transaction: no commit of its own.
    assert len(written) == 1 and len(begins) == len(commits) == 1, statements
    assert begins[0] < written[0] < commits[0]
    assert reload(order).status == Order.Status.PAID
    assert WebhookDelivery.objects.get().outcome == WebhookDelivery.Outcome.PROCESSED


def test_webhook_whose_decision_is_rolled_back_is_not_left_processed(client, iamport, order):
    iamport.payment(order.merchant_uid)
    recorded = []

    def record_then_fail(*args, **kwargs):
        kwargs["record"] = lambda result: (recorded.append(result), 1 / 0)
        return payment_sync(*args, **kwargs)

    with mock.patch("payments.services.webhooks.payment_sync", side_effect=record_then_fail):
        reply = post_json(client, WEBHOOK, {"imp_uid": IMP})

    assert reply.status_code == 503 and len(recorded) == 1
    assert reload(order).status == Order.Status.PENDING  # the decision rolled back
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookDelivery.Outcome.ERROR
    assert "ZeroDivisionError" in delivery.detail


def test_webhook_outcome_is_written_again_when_the_cancel_after_the_commit_fails(
    client, iamport, order
):
    iamport.payment(order.merchant_uid, amount=100)  # forged
    iamport.rsps.post(API + "payments/cancel", body=requests.ConnectionError("down"))

    reply = post_json(client, WEBHOOK, {"imp_uid": IMP})

    assert reply.status_code == 503
    assert reply.json()["detail"] == RETRY_DETAIL
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookDelivery.Outcome.ERROR
    assert delivery.detail.startswith("forged; order pending; cancel failed: IamportUnavailable")
    assert Payment.objects.get().verdict == Payment.Verdict.FORGED


def test_webhook_form_body_is_accepted(client, iamport, order):
    iamport.payment(order.merchant_uid)

    reply = client.post(
        WEBHOOK, {"imp_uid": IMP, "merchant_uid": order.merchant_uid, "status": "paid"}
    )

    assert reply.status_code == 200
    assert reload(order).status == Order.Status.PAID


def test_webhook_is_csrf_exempt(iamport, order):
    iamport.payment(order.merchant_uid)

    reply = post_json(Client(enforce_csrf_checks=True), WEBHOOK, {"imp_uid": IMP})

    assert reply.status_code == 200


def test_webhook_body_status_is_only_a_hint(client, iamport, order):
    iamport.payment(order.merchant_uid, fixture="payment_failed")

    reply = post_json(
        client, WEBHOOK, {"imp_uid": IMP, "merchant_uid": order.merchant_uid, "status": "paid"}
    )

    assert reply.status_code == 200
    assert reload(order).status == Order.Status.PENDING


def test_duplicate_webhooks_and_callback_make_one_transition(client, iamport, order):
    iamport.payment(order.merchant_uid)
    body = {"imp_uid": IMP, "merchant_uid": order.merchant_uid, "status": "paid"}

    replies = [post_json(client, WEBHOOK, body) for _ in range(3)]
    replies.append(post_json(client, COMPLETE, body))

    assert [r.status_code for r in replies] == [200, 200, 200, 200]
    assert reload(order).lines.get().product.stock == 4
    assert Payment.objects.count() == 1
    assert WebhookDelivery.objects.count() == 3


def test_webhook_for_a_payment_iamport_does_not_know_answers_200_ignored(client, iamport):
    iamport.not_found("imp_unknown")

    reply = post_json(client, WEBHOOK, {"imp_uid": "imp_unknown", "status": "paid"})

    assert reply.status_code == 200
    assert WebhookDelivery.objects.get().outcome == WebhookDelivery.Outcome.IGNORED


def test_webhook_for_another_shops_order_answers_200_ignored(client, iamport):
    iamport.payment("o-somebody-elses")

    reply = post_json(client, WEBHOOK, {"imp_uid": IMP, "merchant_uid": "o-somebody-elses"})

    assert reply.status_code == 200
    assert WebhookDelivery.objects.get().outcome == WebhookDelivery.Outcome.IGNORED
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ("[1, 2]", "application/json"),
        ('{"merchant_uid": "o1"}', "application/json"),
        ('{"imp_uid": 5}', "application/json"),
        ("", "application/json"),
        ("merchant_uid=o1&status=paid", "application/x-www-form-urlencoded"),
        ("--x\r\ngarbage", "multipart/form-data; boundary=x"),
        ("--x\r\ngarbage", "multipart/form-data"),
        ("\x00\x01", "text/plain"),
    ],
)
def test_webhook_with_an_unreadable_body_answers_400_and_is_recorded(
    client, iamport, body, content_type
):
    reply = client.post(WEBHOOK, body, content_type=content_type)

    assert reply.status_code == 400
    assert WebhookDelivery.objects.get().outcome == WebhookDelivery.Outcome.REJECTED
    assert len(iamport.rsps.calls) == 0


@pytest.mark.parametrize(
    ("failure", "status"),
    [(requests.ConnectionError("down"), 503), (requests.ReadTimeout("slow"), 504)],
)
def test_webhook_when_iamport_is_unreachable_asks_for_a_retry(
    client, iamport, order, failure, status
):
    iamport.rsps.get(API + f"payments/{IMP}", body=failure)

    reply = post_json(client, WEBHOOK, {"imp_uid": IMP, "merchant_uid": order.merchant_uid})

    assert reply.status_code == status
    assert WebhookDelivery.objects.get().outcome == WebhookDelivery.Outcome.ERROR
    assert reload(order).status == "pending"


def test_webhook_only_accepts_post(client):
    assert client.get(WEBHOOK).status_code == 405


def test_webhook_allowlist_refuses_other_senders(client, iamport, order, settings):
    settings.IAMPORT_WEBHOOK_ALLOWED_IPS = ["52.78.100.19"]

    refused = post_json(client, WEBHOOK, {"imp_uid": IMP}, REMOTE_ADDR="10.0.0.1")
    iamport.payment(order.merchant_uid)
    accepted = post_json(client, WEBHOOK, {"imp_uid": IMP}, REMOTE_ADDR="52.78.100.19")

    assert (refused.status_code, accepted.status_code) == (403, 200)
    assert reload(order).status == Order.Status.PAID


# --- prepare ------------------------------------------------------------------------------
def test_prepare_registers_the_server_side_amount(client, iamport, order):
    iamport.rsps.post(
        API + "payments/prepare",
        json={
            "code": 0,
            "message": None,
            "response": {"merchant_uid": order.merchant_uid, "amount": 12000},
        },
    )

    reply = post_json(client, PREPARE, {"merchant_uid": order.merchant_uid, "amount": 1})

    assert reply.status_code == 200
    assert reply.json() == {"merchant_uid": order.merchant_uid, "amount": 12000}
    sent = iamport.body(iamport.calls("POST", "payments/prepare")[0])
    assert sent == {"merchant_uid": order.merchant_uid, "amount": 12000}


def test_prepare_again_corrects_a_registration_that_differs(client, iamport, order):
    iamport.rsps.post(
        API + "payments/prepare",
        json={"code": 1, "message": "이미 등록된 merchant_uid입니다.", "response": None},
    )
    iamport.rsps.get(
        API + f"payments/prepare/{order.merchant_uid}",
        json={
            "code": 0,
            "message": None,
            "response": {"merchant_uid": order.merchant_uid, "amount": 500},
        },
    )
    iamport.rsps.put(
        API + "payments/prepare",
        json={
            "code": 0,
            "message": None,
            "response": {"merchant_uid": order.merchant_uid, "amount": 12000},
        },
    )

    reply = post_json(client, PREPARE, {"merchant_uid": order.merchant_uid})

    assert reply.status_code == 200
    assert iamport.body(iamport.calls("PUT", "payments/prepare")[0])["amount"] == 12000


def test_prepare_refuses_an_order_that_is_not_payable(client, iamport, order):
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PAID)

    reply = post_json(client, PREPARE, {"merchant_uid": order.merchant_uid})

    assert reply.status_code == 409
    assert len(iamport.rsps.calls) == 0


def test_prepare_refuses_an_order_short_of_stock_before_the_payment_window(client, iamport, order):
    Product.objects.filter(pk=order.lines.get().product_id).update(stock=0)

    reply = post_json(client, PREPARE, {"merchant_uid": order.merchant_uid})

    assert reply.status_code == 409
    assert "품절" in reply.json()["message"]
    assert reply.json()["redirect_url"] == order.get_absolute_url()
    assert len(iamport.rsps.calls) == 0


@pytest.mark.parametrize("body", ["nope", "[]", {}, {"merchant_uid": 7}])
def test_prepare_with_a_bad_body_answers_400(client, iamport, body):
    assert post_json(client, PREPARE, body).status_code == 400


def test_prepare_for_an_unknown_order_answers_404(client, iamport):
    assert post_json(client, PREPARE, {"merchant_uid": "o-unknown"}).status_code == 404


def test_prepare_when_iamport_is_down_answers_503(client, iamport, order):
    iamport.rsps.post(API + "payments/prepare", body=requests.ConnectionError("down"))

    reply = post_json(client, PREPARE, {"merchant_uid": order.merchant_uid})

    assert reply.status_code == 503
    assert reply.json()["message"]


def test_webhook_naming_another_order_still_syncs_the_real_one(client, iamport, order, caplog):
    iamport.payment(order.merchant_uid)

    reply = post_json(client, WEBHOOK, {"imp_uid": IMP, "merchant_uid": "o-claimed-elsewhere"})

    assert reply.status_code == 200
    assert reload(order).status == Order.Status.PAID
    assert "named o-claimed-elsewhere but the payment is for" in caplog.text


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [
        ("post", COMPLETE, {"imp_uid": IMP, "merchant_uid": "M"}),
        ("post", WEBHOOK, {"imp_uid": IMP}),
        ("post", PREPARE, {"merchant_uid": "M"}),
    ],
)
def test_an_unexpected_failure_is_a_logged_503_never_a_500(
    client, iamport, order, caplog, method, url, body
):
    body = {k: (order.merchant_uid if v == "M" else v) for k, v in body.items()}
    with (
        mock.patch("payments.views.payment_sync", side_effect=RuntimeError("bug")),
        mock.patch("payments.services.webhooks.payment_sync", side_effect=RuntimeError("bug")),
        mock.patch("payments.views.payment_prepare", side_effect=RuntimeError("bug")),
    ):
        reply = post_json(client, url, body)

    assert reply.status_code == 503
    assert "failed unexpectedly" in caplog.text
