"""Reads for the payments admin: what an order's refund form may offer."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import F
from django.utils.translation import gettext as _

from payments.models import Payment
from shop.models import Order
from shop.templatetags.shop_tags import won


class NotRefundable(Exception):
    """The order has nothing to refund; the message is fit for an admin."""


@dataclass(frozen=True)
class Refundable:
    """The payment that paid an order and still has money to give back."""

    payment: Payment
    balance: int  # what has not been refunded: the `checksum` of the next refund
    needs_refund_account: bool  # a virtual account is refunded to the buyer's bank account

    @property
    def offer(self) -> int:
        """What a new refund may ask for (`Payment.refund_offer`)."""
        return self.payment.refund_offer


def refundable_payment(order: Order) -> Payment | None:
    """The payment that paid this order and still has money to give back."""
    return (
        order.payments.filter(
            verdict=Payment.Verdict.ACCEPTED,
            status__in=[Payment.Status.PAID, Payment.Status.CANCELLED],
            cancel_amount__lt=F("amount"),
        )
        .order_by("-created_at")
        .first()
    )


def refundable(order: Order) -> Refundable:
    """What the order's refund form offers, or NotRefundable saying why there is nothing."""
    if not order.is_refundable:
        raise NotRefundable(
            _("'%(status)s' 상태의 주문은 환불할 수 없습니다.")
            % {"status": order.get_status_display()}
        )
    payment = refundable_payment(order)
    if payment is None or payment.refundable_amount <= 0:
        raise NotRefundable(_("이 주문에는 환불할 결제가 없습니다."))
    target = Refundable(
        payment=payment,
        balance=payment.refundable_amount,
        needs_refund_account=payment.pay_method == "vbank",
    )
    if target.offer <= 0:
        raise NotRefundable(
            _(
                "PG사가 처리 중인 취소 %(pending)s이 남은 금액 전부입니다. "
                "처리가 끝나면 이 주문에 반영됩니다."
            )
            % {"pending": won(payment.cancel_pending)}
        )
    return target
