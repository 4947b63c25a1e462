"""The PortOne V2 doors: `POST /payments/complete/ {paymentId}`, the `redirectUrl` GET, signed
webhooks, pre-registration, the TEST-channel rule and the order page's requestPayment."""

from __future__ import annotations

import json
import time

import pytest
import responses
from django.template.loader import render_to_string
from django.test import Client, RequestFactory
from django.urls import reverse

from payments import portone_v2
from payments.models import Payment, Refund, WebhookDelivery
from payments.services import (
    RefundError,
    SyncOutcome,
    payment_refund,
    payment_resync,
    payment_sync,
    payment_sync_order,
    payment_sync_v2,
)
from payments.templatetags.payments import pay_button
from shop.models import Order
from tests.portone_fake import API, FakePortOne, signed_headers, webhook_body

pytestmark = pytest.mark.django_db

COMPLETE = "/payments/complete/"
WEBHOOK = "/payments/webhook/"
PREPARE = "/payments/prepare/"
TX = "0193a1b2-tx-1"


@pytest.fixture(autouse=True)
def v2(settings):
    settings.PAYMENTS_API = "v2"
    portone_v2._clients.clear()
    yield
    portone_v2._clients.clear()


@pytest.fixture
def portone():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield FakePortOne(rsps)


@pytest.fixture
def order(order_factory):
    return order_factory(price=12000, stock=5)


def post_json(client: Client, url: str, data, **extra):
    body = data if isinstance(data, str | bytes) else json.dumps(data)
    return client.post(url, body, content_type="application/json", **extra)


def deliver(client: Client, body: bytes, **headers):
    return client.post(WEBHOOK, body, content_type="application/json", **headers)


def reload(obj):
    obj.refresh_from_db()
    return obj


# --- complete -----------------------------------------------------------------------------
def test_complete_with_a_payment_id_verifies_it_at_portone_and_pays_the_order(
    client, portone, order
):
    portone.payment(order.merchant_uid, amount=12000)

    reply = post_json(client, COMPLETE, {"paymentId": order.merchant_uid})

    assert reply.status_code == 200
    assert reply.json()["status"] == "paid"
    assert reply.json()["redirect_url"] == f"/orders/{order.merchant_uid}/"
    assert reload(order).status == Order.Status.PAID
    payment = Payment.objects.get()
    assert (payment.api, payment.imp_uid, payment.merchant_uid) == ("v2", TX, order.merchant_uid)
    assert payment.verdict == Payment.Verdict.ACCEPTED
    [call] = portone.calls("GET", f"payments/{order.merchant_uid}")
    assert call.request.headers["Authorization"] == "PortOne test_portone_secret"


def test_a_forged_amount_is_cancelled_with_the_balance_as_checksum_and_a_quoted_key(
    client, portone, order
):
    paid = portone.payment(order.merchant_uid, amount=100)
    portone.cancel_ok(paid, 100)

    reply = post_json(client, COMPLETE, {"paymentId": order.merchant_uid})

    assert reply.status_code == 409
    assert reload(order).status == Order.Status.PENDING
    [cancel] = portone.calls("POST", f"payments/{order.merchant_uid}/cancel")
    body = portone.body(cancel)
    assert body["amount"] == body["currentCancellableAmount"] == 100
    assert body["reason"]
    key = cancel.request.headers["Idempotency-Key"]
    assert key.startswith('"') and key.endswith('"') and TX in key
    payment = Payment.objects.get()
    assert payment.verdict == Payment.Verdict.FORGED
    assert payment.cancel_amount == 100


def test_a_virtual_account_awaits_its_deposit_and_shows_the_bank_by_name(client, portone, order):
    portone.payment(
        order.merchant_uid,
        fixture="payment_virtual_account_issued",
        amount=12000,
        method={"expiredAt": "2099-01-01T00:00:00Z"},
    )

    reply = post_json(client, COMPLETE, {"paymentId": order.merchant_uid})

    assert reply.status_code == 200
    order = reload(order)
    assert order.status == Order.Status.AWAITING_DEPOSIT
    assert order.deposit_bank == "신한은행"
    assert "56211234567890" in client.get(order.get_absolute_url()).content.decode()


def test_a_pay_pending_payment_does_not_pay(client, portone, order):
    portone.payment(order.merchant_uid, fixture="payment_pay_pending", amount=12000)

    reply = post_json(client, COMPLETE, {"paymentId": order.merchant_uid})

    assert reply.status_code == 402
    assert reload(order).status == Order.Status.PENDING


@pytest.mark.parametrize(
    "body",
    [
        {"paymentId": ""},
        {"paymentId": 12},
        {"paymentId": None},
        {"paymentId": "a/b"},
        {"paymentId": "x" * 41},
        {"paymentId": ["order"]},
        '{"paymentId": "unterminated',
    ],
)
def test_complete_refuses_an_unusable_payment_id_without_asking_portone(client, portone, body):
    reply = post_json(client, COMPLETE, body)

    assert reply.status_code == 400
    assert not portone.rsps.calls


def test_complete_for_an_order_we_do_not_have_is_404(client, portone):
    reply = post_json(client, COMPLETE, {"paymentId": "20990101nothere"})

    assert reply.status_code == 404
    assert not portone.rsps.calls


@pytest.mark.parametrize(("status", "answer"), [(500, 502), (401, 502), (404, 404)])
def test_portone_trouble_is_a_gateway_answer_and_changes_nothing(
    client, portone, order, status, answer
):
    portone.rsps.get(
        API + f"payments/{order.merchant_uid}", status=status, json={"type": "X", "message": "m"}
    )

    reply = post_json(client, COMPLETE, {"paymentId": order.merchant_uid})

    assert reply.status_code == answer
    assert reload(order).status == Order.Status.PENDING
    assert not Payment.objects.exists()


# --- redirectUrl (mobile) -----------------------------------------------------------------
def test_the_redirect_verifies_and_shows_the_order(client, portone, order):
    portone.payment(order.merchant_uid, amount=12000)

    reply = client.get(COMPLETE, {"paymentId": order.merchant_uid}, follow=True)

    assert reply.redirect_chain[-1][0] == order.get_absolute_url()
    assert "결제가 완료되었습니다" in reply.content.decode()
    assert reload(order).status == Order.Status.PAID


def test_a_failed_redirect_shows_portones_words_and_pays_nothing(client, portone, order):
    reply = client.get(
        COMPLETE,
        {
            "paymentId": order.merchant_uid,
            "code": "FAILURE_TYPE_PG",
            "message": "카드 한도 초과",
        },
        follow=True,
    )

    assert reply.redirect_chain[-1][0] == order.get_absolute_url()
    assert "카드 한도 초과" in reply.content.decode()
    assert reload(order).status == Order.Status.PENDING
    assert not portone.rsps.calls


@pytest.mark.parametrize("payment_id", ["", "a b", "../x", "x" * 60])
def test_a_redirect_with_an_unusable_payment_id_goes_to_the_products(client, portone, payment_id):
    reply = client.get(COMPLETE, {"paymentId": payment_id})

    assert reply.status_code == 302
    assert reply.url == reverse("shop:product_list")
    assert not portone.rsps.calls


# --- webhooks -----------------------------------------------------------------------------
def test_a_signed_paid_event_syncs_the_payment(client, portone, order):
    portone.payment(order.merchant_uid, amount=12000)
    body = webhook_body("Transaction.Paid", order.merchant_uid)

    reply = deliver(client, body, **signed_headers(body))

    assert reply.status_code == 200
    assert reload(order).status == Order.Status.PAID
    delivery = WebhookDelivery.objects.get()
    assert delivery.api == "v2"
    assert delivery.outcome == WebhookDelivery.Outcome.PROCESSED
    assert (delivery.webhook_id, delivery.merchant_uid, delivery.imp_uid) == (
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        order.merchant_uid,
        TX,
    )
    assert delivery.status_hint == "Paid"
    assert "webhook-signature" in {name.lower() for name in delivery.headers}


def tampered(body: bytes) -> bytes:
    return body.replace(b"Transaction.Paid", b"Transaction.Cancelled")


@pytest.mark.parametrize(
    "spoil",
    [
        pytest.param(lambda body, headers: (tampered(body), headers), id="tampered-body"),
        pytest.param(
            lambda body, headers: (body, signed_headers(body, secret="whsec_" + "A" * 32)),
            id="wrong-secret",
        ),
        pytest.param(
            lambda body, headers: (body, signed_headers(body, at=time.time() - 301)),
            id="stale",
        ),
        pytest.param(
            lambda body, headers: (body, signed_headers(body, at=time.time() + 301)),
            id="future",
        ),
        pytest.param(
            lambda body, headers: (body, {"HTTP_WEBHOOK_ID": headers["HTTP_WEBHOOK_ID"]}),
            id="missing-headers",
        ),
        pytest.param(
            lambda body, headers: (body, {**headers, "HTTP_WEBHOOK_SIGNATURE": "v1,not-base64"}),
            id="malformed-signature",
        ),
        pytest.param(
            lambda body, headers: (body, {**headers, "HTTP_WEBHOOK_TIMESTAMP": "soon"}),
            id="timestamp-not-a-number",
        ),
    ],
)
def test_a_delivery_failing_verification_is_stored_rejected_and_changes_nothing(
    client, portone, order, spoil
):
    portone.payment(order.merchant_uid, amount=12000)
    body = webhook_body("Transaction.Paid", order.merchant_uid)
    body, headers = spoil(body, signed_headers(body))

    reply = deliver(client, body, **headers)

    assert reply.status_code == 400
    delivery = WebhookDelivery.objects.get()
    assert delivery.outcome == WebhookDelivery.Outcome.REJECTED
    assert delivery.api == "v2"
    assert not delivery.webhook_id  # only a verified delivery's id is kept
    assert not portone.rsps.calls
    assert reload(order).status == Order.Status.PENDING


def test_a_repeated_webhook_id_is_a_no_op(client, portone, order):
    portone.payment(order.merchant_uid, amount=12000)
    body = webhook_body("Transaction.Paid", order.merchant_uid)

    first = deliver(client, body, **signed_headers(body))
    again = deliver(client, body, **signed_headers(body))

    assert (first.status_code, again.status_code) == (200, 200)
    assert len(portone.calls("GET", f"payments/{order.merchant_uid}")) == 1
    outcomes = list(WebhookDelivery.objects.order_by("id").values_list("outcome", flat=True))
    assert outcomes == [WebhookDelivery.Outcome.PROCESSED, WebhookDelivery.Outcome.IGNORED]


def test_a_retry_after_portone_failed_is_processed_again(client, portone, order):
    url = API + f"payments/{order.merchant_uid}"
    portone.rsps.get(url, status=503, json={"type": "X", "message": "down"})
    body = webhook_body("Transaction.Paid", order.merchant_uid)

    first = deliver(client, body, **signed_headers(body))
    portone.payment(order.merchant_uid, amount=12000)
    again = deliver(client, body, **signed_headers(body))

    assert first.status_code == 502
    assert again.status_code == 200
    assert reload(order).status == Order.Status.PAID


@pytest.mark.parametrize("event_type", ["BillingKey.Issued", "Promotion.Started", ""])
def test_an_event_the_shop_does_not_handle_is_answered_200_and_ignored(
    client, portone, order, event_type
):
    body = webhook_body(event_type, order.merchant_uid)

    reply = deliver(client, body, **signed_headers(body))

    assert reply.status_code == 200
    assert WebhookDelivery.objects.get().outcome == WebhookDelivery.Outcome.IGNORED
    assert not portone.rsps.calls


def test_a_transaction_event_of_a_new_type_still_syncs_the_payment_it_names(client, portone, order):
    portone.payment(order.merchant_uid, amount=12000)
    body = webhook_body("Transaction.SomethingNew", order.merchant_uid)

    assert deliver(client, body, **signed_headers(body)).status_code == 200
    assert reload(order).status == Order.Status.PAID


def test_an_event_for_a_payment_portone_does_not_know_is_ignored(client, portone, order):
    portone.not_found(order.merchant_uid)
    body = webhook_body("Transaction.Paid", order.merchant_uid)

    reply = deliver(client, body, **signed_headers(body))

    assert reply.status_code == 200
    assert WebhookDelivery.objects.get().outcome == WebhookDelivery.Outcome.IGNORED


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"[]", "not a JSON object"),
        (b'{"type": "Transaction.Paid", "data": {"paymentId": "../x"}}', "usable paymentId"),
    ],
)
def test_a_genuine_signature_over_a_body_that_is_not_an_event_is_rejected(
    client, portone, body, reason
):
    reply = deliver(client, body, **signed_headers(body))

    assert reply.status_code == 400
    assert reason in WebhookDelivery.objects.get().detail
    assert not portone.rsps.calls


def test_a_body_that_is_not_utf8_is_rejected_before_any_signature_check(client, portone):
    body = b'{"type": "\xff"}'

    reply = deliver(client, body, **signed_headers(body.decode("latin-1").encode()))

    assert reply.status_code == 400
    assert "not UTF-8" in WebhookDelivery.objects.get().detail
    assert not portone.rsps.calls


def test_v1_deliveries_still_work_while_the_shop_takes_v2(client, iamport, order):
    iamport.payment(order.merchant_uid)

    reply = client.post(WEBHOOK, {"imp_uid": "imp_123456789012", "status": "paid"})

    assert reply.status_code == 200
    assert reload(order).status == Order.Status.PAID
    assert Payment.objects.get().api == "v1"


# --- one API only: the other's results are the caller's mistake -------------------------
@pytest.fixture
def v2_only(settings):
    settings.IAMPORT_API_KEY = settings.IAMPORT_API_SECRET = ""


@pytest.fixture
def v1_only(settings):
    settings.PAYMENTS_API = "v1"
    settings.PORTONE_API_SECRET = ""


def test_a_v2_only_shop_refuses_v1_results_without_asking_anyone(client, iamport, order, v2_only):
    body = {"imp_uid": "imp_123456789012", "merchant_uid": order.merchant_uid}
    complete = post_json(client, COMPLETE, body)
    redirected = client.get(COMPLETE, body)
    delivered = client.post(WEBHOOK, {"imp_uid": "imp_123456789012", "status": "paid"})

    assert complete.status_code == 400
    assert "this shop takes no Iamport (PortOne V1) payments" in complete.json()["message"]
    assert redirected.status_code == 302
    assert (delivered.status_code, delivered.json()["result"]) == (400, "rejected")
    assert WebhookDelivery.objects.get().detail == "this shop has no Iamport (V1) credentials"
    assert not iamport.rsps.calls
    assert reload(order).status == Order.Status.PENDING


def test_a_v1_only_shop_refuses_a_payment_id_without_asking_anyone(client, portone, order, v1_only):
    complete = post_json(client, COMPLETE, {"paymentId": order.merchant_uid})
    redirected = client.get(COMPLETE, {"paymentId": order.merchant_uid})

    assert complete.status_code == 400
    assert "this shop takes no PortOne V2 payments" in complete.json()["message"]
    assert redirected.status_code == 302
    assert not portone.rsps.calls
    assert reload(order).status == Order.Status.PENDING


# --- the TEST channel ---------------------------------------------------------------------
def test_with_debug_off_a_test_channel_payment_is_cancelled_and_flagged(
    client, portone, order, settings
):
    settings.DEBUG = False
    paid = portone.payment(order.merchant_uid, amount=12000, channel="TEST")
    portone.cancel_ok(paid, 12000)

    reply = post_json(client, COMPLETE, {"paymentId": order.merchant_uid})

    assert reply.status_code == 409
    assert "테스트 결제" in reply.json()["message"]
    assert reload(order).status == Order.Status.PENDING
    payment = Payment.objects.get()
    assert payment.verdict == Payment.Verdict.TEST_CHANNEL
    [cancel] = portone.calls("POST", f"payments/{order.merchant_uid}/cancel")
    assert portone.body(cancel)["currentCancellableAmount"] == 12000


def test_a_staging_shop_may_let_test_payments_through(client, portone, order, settings):
    settings.DEBUG = False
    settings.PORTONE_ALLOW_TEST_CHANNEL = True
    portone.payment(order.merchant_uid, amount=12000, channel="TEST")

    assert post_json(client, COMPLETE, {"paymentId": order.merchant_uid}).status_code == 200
    assert reload(order).status == Order.Status.PAID


def test_in_debug_test_payments_pay(client, portone, order, settings):
    settings.DEBUG = True
    portone.payment(order.merchant_uid, amount=12000, channel="TEST")

    assert post_json(client, COMPLETE, {"paymentId": order.merchant_uid}).status_code == 200


# --- pre-registration and the order page --------------------------------------------------
def test_prepare_pre_registers_the_orders_amount(client, portone, order):
    portone.pre_register_ok(order.merchant_uid)

    reply = post_json(client, PREPARE, {"merchant_uid": order.merchant_uid})

    assert reply.status_code == 200
    [call] = portone.calls("POST", f"payments/{order.merchant_uid}/pre-register")
    assert portone.body(call) == {"totalAmount": 12000, "currency": "KRW"}


def pay_box(order: Order, language: str = "ko") -> tuple[dict, str]:
    """The pay button's requestPayment parameters and its rendered HTML."""
    request = RequestFactory().get("/", HTTP_HOST="testserver")
    request.LANGUAGE_CODE = language
    context = pay_button({"request": request}, order)
    return context["pay_params"], render_to_string("payments/_pay_button.html", context)


def test_the_order_page_calls_request_payment_with_the_servers_figures(order, settings):
    params, html = pay_box(order)

    assert 'data-api="v2"' in html
    assert f'src="{settings.PORTONE_SDK_URL}"' in html
    assert params["storeId"] == settings.PORTONE_STORE_ID
    assert params["channelKey"] == settings.PORTONE_CHANNEL_KEY
    assert params["paymentId"] == order.merchant_uid
    assert (params["totalAmount"], params["currency"], params["payMethod"]) == (
        12000,
        "KRW",
        "CARD",
    )
    assert params["orderName"] == order.name
    assert params["customer"]["fullName"] == "홍길동"
    assert params["redirectUrl"] == "http://testserver/payments/complete/"
    assert params["noticeUrls"] == ["http://testserver/payments/webhook/"]
    assert "locale" not in params


def test_each_pay_method_may_have_its_own_channel(order_factory, settings):
    methods = {name: dict(method) for name, method in settings.SHOP_PAY_METHODS.items()}
    methods["vbank"]["channel_key"] = "channel-key-vbank"
    settings.SHOP_PAY_METHODS = methods

    params, _ = pay_box(order_factory(pay_method="vbank"))

    assert params["channelKey"] == "channel-key-vbank"
    assert params["payMethod"] == "VIRTUAL_ACCOUNT"
    due = params["virtualAccount"]["accountExpiry"]["dueDate"]
    assert len(due) == 14 and due.endswith("235959")


def test_an_english_page_asks_for_an_english_window(order):
    assert pay_box(order, "en")[0]["locale"] == "EN_US"


# --- switching from V1 to V2 ----------------------------------------------------------------
def test_a_v1_payment_is_still_refunded_through_v1_after_the_switch(iamport, order, settings):
    settings.PAYMENTS_API = "v1"
    payment = iamport.payment(order.merchant_uid)
    assert payment_sync(imp_uid=payment["imp_uid"]).outcome == SyncOutcome.PAID
    settings.PAYMENTS_API = "v2"
    iamport.cancel_ok(payment, 5000, "부분 반품")

    refund = payment_refund(
        order=reload(order), amount=5000, reason="부분 반품", request_key="k" * 32
    )

    assert refund.status == "succeeded"
    [cancel] = iamport.calls("POST", "payments/cancel")
    assert iamport.body(cancel)["checksum"] == 12000
    assert reload(order).refunded_amount == 5000
    # And looked up again through V1 (the mock answers V1's API only).
    assert payment_resync(Payment.objects.get()).outcome == SyncOutcome.REFUNDED


def test_a_v2_virtual_account_is_refunded_to_the_account_given_in_v2s_bank_codes(
    portone, order_factory
):
    order = order_factory(price=12000, pay_method="vbank")
    paid = portone.payment(
        order.merchant_uid,
        amount=12000,
        method={
            "type": "PaymentMethodVirtualAccount",
            "bank": "KOOKMIN",
            "accountNumber": "123",
        },
    )
    assert payment_sync_v2(payment_id=order.merchant_uid).outcome == SyncOutcome.PAID
    portone.cancel_ok(paid, 12000)
    account = {
        "refund_holder": "홍길동",
        "refund_bank": "088",
        "refund_account": "110123456789",
        "refund_tel": "01012345678",
    }

    payment_refund(
        order=reload(order),
        amount=12000,
        reason="반품",
        request_key="b" * 32,
        refund_account=account,
    )

    [cancel] = portone.calls("POST", f"payments/{order.merchant_uid}/cancel")
    assert portone.body(cancel)["refundAccount"] == {
        "bank": "SHINHAN",
        "number": "110123456789",
        "holderName": "홍길동",
        "holderPhoneNumber": "01012345678",
    }
    assert cancel.request.headers["Idempotency-Key"].startswith('"shop-refund-')
    assert reload(order).status == Order.Status.REFUNDED


def test_reconciliation_asks_v2_for_an_order_never_heard_of(portone, order):
    portone.payment(order.merchant_uid, amount=12000)

    result = payment_sync_order(order=order)

    assert result is not None and result.outcome == SyncOutcome.PAID
    assert Payment.objects.get().api == "v2"


def test_reconciliation_finds_nothing_when_portone_has_no_payment(portone, order):
    portone.not_found(order.merchant_uid)

    assert payment_sync_order(order=order) is None


# --- the admin's "다시 처리" of a V2 delivery -------------------------------------------------
def reprocess(admin_client, delivery: WebhookDelivery):
    return admin_client.post(
        reverse("admin:payments_webhookdelivery_changelist"),
        {"action": "reprocess_selected", "_selected_action": [str(delivery.pk)]},
    )


def test_a_verified_v2_delivery_that_failed_is_synced_again_by_its_payment_id(
    admin_client, client, portone, order
):
    portone.rsps.get(API + f"payments/{order.merchant_uid}", status=503, json={"type": "X"})
    body = webhook_body("Transaction.Paid", order.merchant_uid)
    assert deliver(client, body, **signed_headers(body)).status_code == 502
    delivery = WebhookDelivery.objects.get()
    portone.payment(order.merchant_uid, amount=12000)

    reprocess(admin_client, delivery)

    delivery = reload(delivery)
    assert delivery.outcome == WebhookDelivery.Outcome.PROCESSED
    assert "before: error" in delivery.detail
    assert reload(order).status == Order.Status.PAID


def test_a_v2_delivery_whose_signature_never_held_stays_rejected(
    admin_client, client, portone, order
):
    body = webhook_body("Transaction.Paid", order.merchant_uid)
    deliver(client, tampered(body), **signed_headers(body))
    delivery = WebhookDelivery.objects.get()

    reprocess(admin_client, delivery)

    assert reload(delivery).outcome == WebhookDelivery.Outcome.REJECTED
    assert not portone.rsps.calls
    assert reload(order).status == Order.Status.PENDING


def test_a_refund_account_at_a_bank_the_form_does_not_offer_is_refused_before_anything(
    portone, order_factory
):
    order = order_factory(price=12000, pay_method="vbank")
    portone.payment(
        order.merchant_uid,
        amount=12000,
        method={"type": "PaymentMethodVirtualAccount", "bank": "KOOKMIN", "accountNumber": "1"},
    )
    payment_sync_v2(payment_id=order.merchant_uid)
    account = {"refund_holder": "홍길동", "refund_bank": "999", "refund_account": "1234567"}

    with pytest.raises(RefundError, match="은행"):
        payment_refund(
            order=reload(order),
            amount=1000,
            reason="반품",
            request_key="c" * 32,
            refund_account=account,
        )

    assert not Refund.objects.exists()
    assert not portone.calls("POST", f"payments/{order.merchant_uid}/cancel")
