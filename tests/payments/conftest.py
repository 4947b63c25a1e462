"""Fixtures shared by the split admin test files (test_admin_*.py): paid orders."""

from __future__ import annotations

import pytest

from payments.services import SyncOutcome, payment_sync
from shop.models import Order
from tests.payments.helpers import IMP_UID


@pytest.fixture
def paid(order_factory, iamport):
    """A 12,000 won card order, paid and accepted through the sync service."""
    order = order_factory()
    remote = iamport.payment(order.merchant_uid, imp_uid=IMP_UID)
    assert payment_sync(imp_uid=IMP_UID).outcome == SyncOutcome.PAID
    order.refresh_from_db()
    return order, remote


@pytest.fixture
def two_orders(paid, db):
    order, _ = paid
    other = Order.objects.create(
        amount=5000,
        pay_method="trans",
        buyer_name="김철수",
        buyer_email="kim@example.org",
        buyer_tel="010-9999-0000",
        buyer_addr="부산광역시 해운대구 1",
        buyer_postcode="48000",
    )
    return order, other
