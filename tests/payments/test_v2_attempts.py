"""PortOne V2 shows one attempt per paymentId: what the shop does when a newer attempt of an
order replaces the one it holds.

The V1 tests of two live attempts of one order (tests/payments/test_sync.py, test_deadlines.py)
have no V2 form; these are what takes their place under V2: the attempt the shop holds can no
longer be read or cancelled by itself (`gateways.AttemptReplaced`).
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from payments.models import Payment
from payments.services import SyncOutcome
from shop.models import Order
from tests.payments import apis

# The `api` fixture, for PortOne V2 alone.
pytestmark = [
    pytest.mark.django_db,
    pytest.mark.parametrize("api", [apis.V2Api.name], indirect=True),
]

VBANK = "imp_000000000001"
NEWER = "imp_000000000002"
api = apis.api


def run() -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("sync_payments", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def awaiting(api, order_factory):
    """A 12,000 won order with a virtual account issued through the sync."""
    order = order_factory(price=12000, pay_method="vbank")
    vbank = api.payment(order.merchant_uid, imp_uid=VBANK, fixture="payment_vbank_ready")
    assert api.sync(VBANK).outcome == SyncOutcome.AWAITING_DEPOSIT
    order.refresh_from_db()
    return order, vbank


def test_a_card_attempt_replacing_an_issued_account_settles_the_order(api, awaiting):
    order, _ = awaiting
    api.payment(order.merchant_uid, imp_uid=NEWER)

    result = api.sync(NEWER)

    assert result.outcome == SyncOutcome.PAID
    order.refresh_from_db()
    assert order.status == Order.Status.PAID and order.lines.get().product.stock == 9
    verdicts = dict(Payment.objects.values_list("imp_uid", "verdict"))
    assert verdicts == {VBANK: Payment.Verdict.DUPLICATE, NEWER: Payment.Verdict.ACCEPTED}
    # PortOne shows the account no more: it is not cancelled through the card payment's id.
    assert not api.cancels()
    assert Payment.objects.get(imp_uid=VBANK).cancel_requested_at is None


def test_an_expired_account_hidden_by_a_newer_failed_attempt_releases_its_order(api, awaiting):
    order, _ = awaiting
    due = timezone.now() - timedelta(hours=1)
    Order.objects.filter(pk=order.pk).update(deposit_due=due)
    Payment.objects.filter(imp_uid=VBANK).update(vbank_date=due)
    # Another window of the same order failed a card payment; PortOne now shows that attempt.
    api.payment(order.merchant_uid, imp_uid=NEWER, fixture="payment_failed")

    out, err = run()

    assert err == ""
    assert f"{order.merchant_uid}: awaiting_deposit -> pending" in out
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING and order.is_payable
