"""Row locks on payments. Take the order's lock first (`shop.locks`, where the locking order of
order, then payment, then products is written down)."""

from __future__ import annotations

from payments.models import Payment


def lock_payment(payment_id: int) -> Payment:
    """A payment's row, locked until the surrounding transaction ends, freshly read."""
    return Payment.objects.select_for_update().get(pk=payment_id)
