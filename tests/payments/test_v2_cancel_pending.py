"""A cancel PortOne V2 takes but the PG finishes later (the cancellation answered `REQUESTED`).

An admin's refund stays requested, saying so, until the finished cancel shows in PortOne's
payment; it is never called failed while the PG is still making it, nor booked as a cancel made
outside the shop when it finishes. A refused payment's give-back is not an error to retry: the
payment shows the cancel in progress and it is not asked again.

Iamport (V1) cancels synchronously: there is no V1 form of these scenarios.
"""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone

from payments.models import Payment, Refund, WebhookDelivery
from payments.services import RefundError, RefundPending, SyncOutcome, payment_refund
from payments.services.refunds import NOT_IN_HISTORY, PG_FAILED_CANCEL, PG_STILL_CANCELLING
from shop.models import Order
from tests.payments import apis
from tests.payments.helpers import change_url, messages_of, refund_post, refund_url
from tests.portone_fake import payment_from_v1, rfc3339

# The `api` fixture, for PortOne V2 alone.
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.parametrize("api", [apis.V2Api.name], indirect=True),
]

api = apis.api
KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def paid(api, order_factory):
    """A 12,000 won card order paid through PortOne V2."""
    order = order_factory(price=12000)
    payment = api.payment(order.merchant_uid)
    api.sync()
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    return order, payment


def cancellation(status: str, amount: int, **fields: Any) -> dict[str, Any]:
    return {
        "status": status,
        "id": "cancel-pending-1",
        "totalAmount": amount,
        "taxFreeAmount": 0,
        "vatAmount": 0,
        "reason": "고객 요청",
        "requestedAt": rfc3339(1764234000),
        **fields,
    }


def show_with(api, payment: dict[str, Any], *cancellations: dict[str, Any]) -> None:
    """Later lookups show the payment, unchanged in its figures, with these cancellations."""
    body = payment_from_v1(payment)
    body["cancellations"] = list(cancellations)
    api.portone.serve(body)


def pg_takes_its_time(api, payment: dict[str, Any], amount: int) -> None:
    """PortOne answers the cancel REQUESTED and shows it so until the PG finishes."""

    def answer(body: dict[str, Any]):
        show_with(api, payment, cancellation("REQUESTED", amount))
        return 200, {"cancellation": cancellation("REQUESTED", amount)}

    api.portone.on_cancel(payment["merchant_uid"], answer)


def refund(order: Order, amount: int) -> Refund:
    with pytest.raises(RefundPending) as raised:
        payment_refund(order=order, amount=amount, reason="고객 요청", request_key=KEY)
    assert "PG사가 취소를 처리하고 있어" in str(raised.value)
    return Refund.objects.get(request_key=KEY)


@pytest.fixture
def pending(api, paid) -> tuple[Order, dict[str, Any], Refund]:
    """The paid order with a 5,000 won refund the PG is still making: (order, payment, refund)."""
    order, payment = paid
    pg_takes_its_time(api, payment, 5000)
    return order, payment, refund(order, 5000)


def finished(payment: dict[str, Any], amount: int) -> dict[str, Any]:
    """The payment once the PG has finished the pending cancel: in the history, under the id
    PortOne gave it when it took it."""
    done = apis.cancelled_v1(payment, amount, "고객 요청")
    done["cancel_history"][-1]["cancellation_id"] = cancellation("REQUESTED", amount)["id"]
    return done


def age(refund: Refund) -> None:
    """Older than any request could still be waiting on PortOne for it."""
    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - timedelta(minutes=5))


def sync_payments() -> str:
    out = StringIO()
    call_command("sync_payments", stdout=out, stderr=StringIO())
    return out.getvalue()


def test_a_refund_the_pg_is_still_making_stays_requested_and_says_so(api, paid):
    order, payment = paid
    pg_takes_its_time(api, payment, 5000)

    pending = refund(order, 5000)

    assert (pending.status, pending.message) == (Refund.Status.REQUESTED, PG_STILL_CANCELLING)
    assert Payment.objects.get().cancel_pending == 5000
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PAID, 0)


def test_the_finished_cancel_settles_that_refund_not_one_made_outside_the_shop(api, pending):
    order, payment, in_flight = pending
    api.replace_payment(finished(payment, 5000))

    response = api.webhook(apis.IMP)

    assert response.status_code == 200
    [settled] = Refund.objects.all()
    assert settled.pk == in_flight.pk
    assert (settled.status, settled.message) == (Refund.Status.SUCCEEDED, "")
    assert Payment.objects.get().cancel_pending == 0
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 5000)


def test_reconciliation_leaves_a_refund_the_pg_is_still_making_in_flight(api, pending):
    _, _, in_flight = pending
    age(in_flight)

    sync_payments()

    in_flight.refresh_from_db()
    assert (in_flight.status, in_flight.message) == (Refund.Status.REQUESTED, PG_STILL_CANCELLING)


def test_reconciliation_fails_the_refund_once_the_pg_gave_up_the_cancel(api, pending):
    order, payment, in_flight = pending
    age(in_flight)
    show_with(api, payment, cancellation("FAILED", 5000))

    sync_payments()

    in_flight.refresh_from_db()
    assert (in_flight.status, in_flight.message) == (Refund.Status.FAILED, PG_FAILED_CANCEL)
    assert Payment.objects.get().cancel_pending == 0
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PAID, 0)


@pytest.mark.parametrize(("in_progress", "kept"), [(1000, False), (5000, True)])
def test_a_refund_whose_answer_was_lost_is_kept_by_a_cancel_in_progress_of_its_amount(
    api, pending, in_progress, kept
):
    _, payment, in_flight = pending
    # The answer naming the cancel never arrived: only the amounts can tell.
    Refund.objects.filter(pk=in_flight.pk).update(cancellation_id="", status="unknown")
    age(in_flight)
    show_with(api, payment, cancellation("REQUESTED", in_progress, id="cancel-unseen"))

    sync_payments()

    in_flight.refresh_from_db()
    if kept:
        assert (in_flight.status, in_flight.message) == ("requested", PG_STILL_CANCELLING)
    else:
        assert (in_flight.status, in_flight.message) == ("failed", NOT_IN_HISTORY)
    assert Payment.objects.get().cancel_pending == in_progress


def test_the_refund_portone_named_is_settled_not_an_older_one_of_the_same_amount(api, pending):
    _, payment, named = pending
    lost = Refund.objects.create(
        payment=named.payment,
        amount=5000,
        checksum=12000,
        reason="먼저 요청했으나 응답을 받지 못함",
        status=Refund.Status.UNKNOWN,
        request_key="e" * 32,
    )
    Refund.objects.filter(pk=lost.pk).update(created_at=named.created_at - timedelta(seconds=1))
    api.replace_payment(finished(payment, 5000))

    api.sync()

    named.refresh_from_db()
    lost.refresh_from_db()
    assert named.status == Refund.Status.SUCCEEDED
    assert lost.status == Refund.Status.UNKNOWN  # not in the history: settled on its own later
    assert Refund.objects.count() == 2


def test_the_admin_is_told_the_pg_is_still_refunding_and_sent_back_to_the_order(
    api, paid, admin_client
):
    order, payment = paid
    pg_takes_its_time(api, payment, 12000)

    response, _ = refund_post(admin_client, order)

    assert response.status_code == 302
    assert response.url == change_url(order)
    assert any("PG사가 취소를 처리하고 있어" in m for m in messages_of(response))
    assert Refund.objects.get().status == Refund.Status.REQUESTED
    page = admin_client.get(f"/admin/payments/payment/{Payment.objects.get().pk}/change/")
    assert "PG 처리 중인 취소" in page.content.decode()
    # Everything left is being given back: there is nothing more to offer.
    refund_page = admin_client.get(refund_url(order))
    assert refund_page.status_code == 302 and refund_page.url == change_url(order)
    assert any(
        "PG사가 처리 중인 취소 12,000원이 남은 금액 전부입니다" in m
        for m in messages_of(refund_page)
    )


def test_the_refund_page_offers_what_the_pg_is_not_already_giving_back(api, pending, admin_client):
    order, _, _ = pending

    page = admin_client.get(refund_url(order)).content.decode()

    assert re.search(r"PG 처리 중인 취소</th><td[^>]*>(<[^>]*>)?5,000원<", page)
    assert re.search(r"환불 가능 금액</th><td[^>]*>(<[^>]*>)?7,000원<", page)
    assert re.search(r'<input[^>]*name="amount"[^>]*value="7000"', page)
    assert re.search(r'<input[^>]*name="amount"[^>]*max="7000"', page)


def test_the_order_page_counts_what_the_pg_is_giving_back(api, pending, admin_client):
    order, _, _ = pending

    page = admin_client.get(change_url(order)).content.decode()

    assert re.search(
        r"7,000원(</span>)?<br><span class=\"quiet\">PG 처리 중인 취소 5,000원 제외", page
    )


def test_a_refund_of_what_the_pg_is_giving_back_is_refused_before_asking(api, pending):
    order, _, _ = pending
    cancels = len(api.portone.sent_cancels)

    with pytest.raises(RefundError, match="7,000"):
        payment_refund(order=order, amount=8000, reason="고객 요청", request_key="f" * 32)

    assert len(api.portone.sent_cancels) == cancels
    assert not Refund.objects.filter(request_key="f" * 32).exists()


def test_a_forged_payment_whose_cancel_the_pg_is_still_making_is_not_a_failure(api, order_factory):
    order = order_factory(price=12000)
    forged = api.payment(order.merchant_uid, amount=100)
    pg_takes_its_time(api, forged, 100)

    response = api.webhook(apis.IMP)

    assert response.status_code == 200
    assert WebhookDelivery.objects.get().outcome == WebhookDelivery.Outcome.PROCESSED
    payment = Payment.objects.get()
    assert (payment.verdict, payment.cancel_pending) == (Payment.Verdict.FORGED, 100)
    assert payment.cancel_requested_at is None  # the claim is released
    assert len(api.cancels()) == 1

    sync_payments()
    assert api.sync().outcome == SyncOutcome.FORGED
    assert len(api.cancels()) == 1  # what the PG is giving back is not asked for again

    api.replace_payment(apis.cancelled_v1(forged, 100, "결제 금액 불일치"))
    api.sync()
    payment.refresh_from_db()
    assert (payment.status, payment.cancel_amount, payment.cancel_pending) == ("cancelled", 100, 0)
    assert Refund.objects.get().status == Refund.Status.SUCCEEDED
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
    assert "취소했습니다" in order.status_message  # no longer "being cancelled"


def test_once_the_pg_failed_a_refused_payments_cancel_the_retry_is_a_new_request(
    api, order_factory
):
    order = order_factory(price=12000)
    forged = api.payment(order.merchant_uid, amount=100)
    pg_takes_its_time(api, forged, 100)
    api.webhook(apis.IMP)
    # The PG gives up; PortOne shows the cancellation FAILED and would answer its key with it.
    show_with(api, forged, cancellation("FAILED", 100))

    def failed_again(body: dict[str, Any]):
        return 200, {"cancellation": cancellation("FAILED", 100, id="cancel-failed-2")}

    api.portone.on_cancel(forged["merchant_uid"], failed_again)
    sync_payments()
    # The same failure is not retried under a key PortOne would answer with it again.
    show_with(
        api, forged, cancellation("FAILED", 100), cancellation("FAILED", 100, id="cancel-failed-2")
    )
    Payment.objects.update(cancel_requested_at=None)  # a refused cancel's claim runs out
    sync_payments()

    first, second, third = (sent.idempotency_key for sent in api.portone.sent_cancels)
    assert len({first, second, third}) == 3
    assert second.endswith('-after-1-failed"') and third.endswith('-after-2-failed"')
    payment = Payment.objects.get()
    assert (payment.verdict, payment.cancel_amount, payment.cancel_pending) == ("forged", 0, 0)


def test_a_retry_after_a_lost_answer_keeps_the_key(api, order_factory):
    order = order_factory(price=12000)
    forged = api.payment(order.merchant_uid, amount=100)
    api.portone.on_cancel(forged["merchant_uid"], lambda body: requests.ConnectionError("lost"))

    api.webhook(apis.IMP)
    Payment.objects.update(cancel_requested_at=None)  # the claim of the lost request is over
    sync_payments()

    keys = [sent.idempotency_key for sent in api.portone.sent_cancels]
    assert len(keys) >= 2 and len(set(keys)) == 1
