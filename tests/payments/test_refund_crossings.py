"""A refund's cancel read by someone else before the refund's own answer arrives.

Iamport's cancel history names no refund: a cancel is matched to the refund that asked for it
by its amount, unless PortOne named it (V2, a cancel the PG finishes later). While a refund
request waits for its answer, a sync that reads the payment (the cancel's own webhook, an
admin's re-sync, reconciliation) cannot tell whose a new cancel is, and leaves it to the answer.
Each test taking `api` runs once per API (tests/payments/apis.py).
"""

from __future__ import annotations

import copy
import json
from io import StringIO
from types import SimpleNamespace

import pytest
import requests
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from payments.models import Refund
from payments.services import RefundError, payment_refund, payment_sync
from payments.services.records import claim_ttl
from payments.services.refunds import NOT_IN_HISTORY, refund_settle
from shop.models import Order
from tests.conftest import API
from tests.payments import apis
from tests.portone_fake import cancellation_from_v1

pytestmark = pytest.mark.django_db

IMP = "imp_123456789012"
api = apis.api  # the tests taking it run once per API


def key(tag: str) -> str:
    """A request key shaped as the refund form makes them (32 hex characters)."""
    return tag.encode().hex()[:32].ljust(32, "0")


def older_than_any_request(refund: Refund) -> Refund:
    Refund.objects.filter(pk=refund.pk).update(created_at=timezone.now() - 2 * claim_ttl())
    refund.refresh_from_db()
    return refund


def ledger() -> list[tuple[str, str, int, str]]:
    return [
        (r.reason, r.status, r.amount, r.cancellation_id) for r in Refund.objects.order_by("id")
    ]


@pytest.fixture
def paid(api, order_factory):
    order = order_factory(price=12000)
    payment = api.payment(order.merchant_uid)
    api.sync(IMP)
    order.refresh_from_db()
    return order, payment


def test_a_sync_while_a_refund_awaits_its_answer_leaves_its_cancel_to_it(api, paid):
    order, payment = paid
    # Refund A never reached the API and could not be checked: it is left "unknown".
    api.cancel_fails(payment, requests.ConnectionError("refused"))
    api.unreadable(payment, requests.ConnectionError("refused"))
    with pytest.raises(RefundError):
        payment_refund(order=order, amount=1000, reason="A", request_key=key("A"))
    api.replace_payment(payment)  # readable again
    # Refund B, the same amount: applied, and its cancel's webhook arrives before its answer.
    api.cancel_crossed(payment, 1000, meanwhile=lambda: api.webhook(IMP))

    b = payment_refund(order=order, amount=1000, reason="B", request_key=key("B"))

    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 1000)
    assert b.status == Refund.Status.SUCCEEDED
    assert ledger() == [("A", "unknown", 1000, ""), ("B", "succeeded", 1000, b.cancellation_id)]
    assert b.cancellation_id

    # A is then settled by what the history holds: no cancel of its own.
    a = refund_settle(refund=older_than_any_request(Refund.objects.get(reason="A")))

    assert (a.status, a.message) == (Refund.Status.FAILED, NOT_IN_HISTORY)
    assert Refund.objects.filter(status="succeeded").count() == 1


def test_an_unknown_refund_waits_while_another_awaits_its_answer(iamport, order_factory):
    order = order_factory(price=12000)
    payment = iamport.payment(order.merchant_uid)
    payment_sync(imp_uid=IMP)
    unknown = Refund.objects.create(
        payment=order.payments.get(), amount=1000, checksum=12000, reason="A", status="unknown"
    )
    unknown = older_than_any_request(unknown)
    # Another refund of the same amount has just asked Iamport, and the history shows a cancel.
    Refund.objects.create(
        payment=unknown.payment, amount=1000, checksum=12000, reason="B", status="requested"
    )
    iamport.replace_payment(payment, **iamport.cancel_ok(payment, 1000))
    looked_up = len(iamport.rsps.calls)

    assert refund_settle(refund=unknown).status == Refund.Status.UNKNOWN
    assert len(iamport.rsps.calls) == looked_up  # nothing to decide yet: Iamport not asked
    assert Refund.objects.filter(status="succeeded").count() == 0

    older_than_any_request(Refund.objects.get(reason="B"))  # B's request has ended meanwhile
    settled = refund_settle(refund=unknown)

    assert (settled.status, settled.cancellation_id) == (Refund.Status.SUCCEEDED, "cncl_001")
    assert Refund.objects.filter(status="succeeded").count() == 1


def test_a_refund_answered_before_its_cancel_shows_gets_it_when_it_does(iamport, order_factory):
    order = order_factory(price=12000)
    payment = iamport.payment(order.merchant_uid)
    payment_sync(imp_uid=IMP)
    order.refresh_from_db()
    done = iamport.cancel_ok(payment, 3000)
    # The answer has the new cancel_amount but not yet the history entry.
    iamport.rsps.replace(
        "POST",
        API + "payments/cancel",
        json={"code": 0, "message": None, "response": {**done, "cancel_history": []}},
    )

    refund = payment_refund(order=order, amount=3000, reason="반품", request_key=key("k"))

    assert (refund.status, refund.cancellation_id) == (Refund.Status.SUCCEEDED, "")
    iamport.replace_payment(payment, **done)  # the history shows it now
    payment_sync(imp_uid=IMP)

    refund.refresh_from_db()
    assert ledger() == [("반품", "succeeded", 3000, "cncl_001")]
    assert refund.message == ""  # not "made outside the shop"


# --- a cancel left to a refund's reply that never showed it ---------------------------------
def history_entry(payment: dict, amount: int, n: int, cid: str) -> dict:
    return {
        "pg_tid": payment["pg_tid"],
        "amount": amount,
        "cancelled_at": 1764234000 + n,
        "reason": "콘솔 취소" if cid == "cncl_C" else "반품",
        "cancellation_id": cid,
        "receipt_url": "https://iniweb.inicis.com/receipt/cancel",
    }


@pytest.fixture
def crossing(iamport, order_factory):
    """A paid 12,000원 order; while a 3,000원 refund waits for Iamport's answer, a 2,000원
    cancel made in Iamport's console (C) arrives by webhook, and is left to that answer."""
    order = order_factory(price=12000)
    payment = iamport.payment(order.merchant_uid)
    payment_sync(imp_uid=IMP)
    order.refresh_from_db()
    c = history_entry(payment, 2000, 0, "cncl_C")
    after_c = {**copy.deepcopy(payment), "cancel_amount": 2000, "cancel_history": [c]}

    def cancel_answered(answer: dict, then=lambda: None):
        def reply(request):
            iamport.replace_payment(payment, **after_c)
            webhook = Client().post(
                "/payments/webhook/", json.dumps({"imp_uid": IMP}), content_type="application/json"
            )
            assert webhook.status_code == 200
            then()
            return 200, {}, json.dumps(answer)

        iamport.rsps.add_callback("POST", API + "payments/cancel", callback=reply)

    return SimpleNamespace(
        order=order, payment=payment, c=c, after_c=after_c, cancel_answered=cancel_answered
    )


def reconcile() -> str:
    out = StringIO()
    call_command("sync_payments", stdout=out, stderr=StringIO())
    return out.getvalue()


def test_a_cancel_left_to_a_reply_that_came_before_its_history_is_booked_by_reconciliation(
    iamport, crossing
):
    order, payment = crossing.order, crossing.payment
    a = history_entry(payment, 3000, 1, "cncl_A")
    lagging = {**copy.deepcopy(payment), "cancel_amount": 5000, "cancel_history": []}
    shown = {"cancel_amount": 5000, "cancel_history": [crossing.c, a]}
    crossing.cancel_answered(
        {"code": 0, "message": None, "response": lagging},
        then=lambda: iamport.replace_payment(payment, **shown),
    )

    payment_refund(order=order, amount=3000, reason="반품", request_key=key("A"))
    out = reconcile()

    order.refresh_from_db()
    assert order.refunded_amount == 5000
    assert "read again 1 payments with cancels not booked as refunds" in out
    assert sorted(ledger()) == [
        ("반품", "succeeded", 3000, "cncl_A"),
        ("콘솔 취소", "succeeded", 2000, "cncl_C"),
    ]
    assert "read again 0 payments" in reconcile()  # booked: not read again


def test_a_cancel_left_to_a_refused_refund_whose_reread_failed_is_booked_by_reconciliation(
    iamport, crossing
):
    order, payment = crossing.order, crossing.payment
    unreachable = requests.ConnectionError("down")
    crossing.cancel_answered(
        {"code": 1, "message": "취소 가능 잔액 불일치", "response": None},
        then=lambda: iamport.rsps.replace("GET", API + f"payments/{IMP}", body=unreachable),
    )
    with pytest.raises(RefundError):
        payment_refund(order=order, amount=3000, reason="반품", request_key=key("B"))
    iamport.replace_payment(payment, **crossing.after_c)  # reachable again

    reconcile()

    order.refresh_from_db()
    assert order.refunded_amount == 2000
    assert ledger() == [("반품", "failed", 3000, ""), ("콘솔 취소", "succeeded", 2000, "cncl_C")]


def test_a_reply_showing_only_another_cancel_does_not_give_it_to_the_refund(iamport, crossing):
    order, payment, c = crossing.order, crossing.payment, crossing.c
    a = history_entry(payment, 3000, 1, "cncl_A")
    only_c = {**copy.deepcopy(payment), "cancel_amount": 5000, "cancel_history": [c]}
    crossing.cancel_answered({"code": 0, "message": None, "response": only_c})

    refund = payment_refund(order=order, amount=3000, reason="반품", request_key=key("A"))
    assert (refund.status, refund.cancellation_id) == (Refund.Status.SUCCEEDED, "")
    iamport.replace_payment(payment, cancel_amount=5000, cancel_history=[c, a])
    payment_sync(imp_uid=IMP)

    assert sorted(ledger()) == [
        ("반품", "succeeded", 3000, "cncl_A"),
        ("콘솔 취소", "succeeded", 2000, "cncl_C"),
    ]


@pytest.mark.parametrize("api", ["v2"], indirect=True)  # V1 answers a cancel without an id
def test_a_v2_refund_keeps_the_id_portone_gave_its_cancel_though_the_read_after_it_lags(api, paid):
    order, payment = paid
    console = {**history_entry(payment, 3000, 0, "cncl_console"), "reason": "콘솔 취소"}
    ours = {**history_entry(payment, 3000, 1, "cncl_ours"), "reason": "반품"}

    def answer(body):  # the cancel is made; the payment read after it does not show it yet
        return 200, {"cancellation": cancellation_from_v1(ours)}

    api.portone.on_cancel(payment["merchant_uid"], answer)
    refund = payment_refund(order=order, amount=3000, reason="반품", request_key=key("A"))
    assert (refund.status, refund.cancellation_id) == (Refund.Status.SUCCEEDED, "cncl_ours")

    # Both show now: one made earlier in the console, of the same amount, and ours.
    api.replace_payment(payment, cancel_amount=6000, cancel_history=[console, ours])
    api.sync(IMP)

    assert sorted(ledger()) == [
        ("반품", "succeeded", 3000, "cncl_ours"),
        ("콘솔 취소", "succeeded", 3000, "cncl_console"),
    ]
