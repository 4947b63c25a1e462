"""A refund's cancel read by someone else before the refund's own answer arrives.

Iamport's cancel history names no refund: a cancel is matched to the refund that asked for it
by its amount, unless PortOne named it (V2, a cancel the PG finishes later). While a refund
request waits for its answer, a sync that reads the payment (the cancel's own webhook, an
admin's re-sync, reconciliation) cannot tell whose a new cancel is, and leaves it to the answer.
Each test taking `api` runs once per API (tests/payments/apis.py).
"""

from __future__ import annotations

import pytest
import requests
from django.utils import timezone

from payments.models import Refund
from payments.services import RefundError, payment_refund, payment_sync
from payments.services.records import claim_ttl
from payments.services.refunds import NOT_IN_HISTORY, refund_settle
from shop.models import Order
from tests.conftest import API
from tests.payments import apis

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
