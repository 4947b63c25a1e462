"""Writes on orders: creation and the guarded status transitions.

Every change of `Order.status` goes through `_move`, which refuses a move the lifecycle does
not allow. Each service takes the order's row lock (`shop.locks`) and reads the order fresh
inside the transaction, so two callers racing on one order (the browser and Iamport's webhook)
serialise and the second sees what the first did. A caller that already holds the lock (the
payment sync) hands the services its `LockedOrder` instead: no second read, no savepoint, and
the services write to that very instance. Services are safe to call inside a caller's own
`transaction.atomic()`; they then become part of it.

The buyer hears of each change by mail (`shop.mail`): the order received, the virtual account
to pay into, the payment, each refund and an expired account. Each mail is written to the
outbox in the transaction that makes the change, once per outbox key, with the facts it
reports taken from what the service already holds, so a mail costs its one INSERT and nothing
more (it is rendered when it is sent).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypeAlias

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from shop.locks import LockedOrder, lock_order
from shop.mail import kst, mail_language, order_mail_enqueue
from shop.models import Order, OrderLine, Product, new_number
from shop.templatetags.shop_tags import won

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

logger = logging.getLogger(__name__)

Status = Order.Status

# The order lifecycle: from each status, where it may go next.
ALLOWED_MOVES: dict[str, frozenset[str]] = {
    Status.PENDING: frozenset(
        {Status.AWAITING_DEPOSIT, Status.PAID, Status.CANCELLED, Status.FAILED}
    ),
    # Back to pending when the deposit deadline passes: the buyer may pay again, another way.
    Status.AWAITING_DEPOSIT: frozenset(
        {Status.PAID, Status.PENDING, Status.CANCELLED, Status.FAILED}
    ),
    Status.PAID: frozenset({Status.PARTIALLY_REFUNDED, Status.REFUNDED}),
    Status.PARTIALLY_REFUNDED: frozenset({Status.PARTIALLY_REFUNDED, Status.REFUNDED}),
    Status.REFUNDED: frozenset(),
    Status.CANCELLED: frozenset(),
    Status.FAILED: frozenset(),
}

# The virtual account an order shows the buyer while it waits for the deposit.
DEPOSIT_FIELDS = ["deposit_bank", "deposit_account", "deposit_holder", "deposit_due"]


class OrderError(Exception):
    """Base for refusals from the order services; the message is fit for a person."""


class IllegalTransition(OrderError):
    def __init__(self, order: Order, to: str) -> None:
        self.order, self.to = order, to
        super().__init__(
            f"주문 {order.merchant_uid}: '{Status(order.status).label}'에서 "
            f"'{Status(to).label}'(으)로 바꿀 수 없습니다."
        )


class OutOfStock(OrderError):
    def __init__(self, names: list[str]) -> None:
        self.names = names
        super().__init__(f"재고가 부족합니다: {', '.join(names)}")


class EmptyCart(OrderError):
    def __init__(self) -> None:
        super().__init__("장바구니가 비어 있습니다.")


class PriceChanged(OrderError):
    """The order would cost another total than the one the buyer was shown."""

    def __init__(self, seen: int, total: int) -> None:
        self.seen, self.total = seen, total
        super().__init__(
            _(
                "상품 가격이 바뀌어 주문 금액이 %(seen)s에서 %(total)s(으)로 바뀌었습니다. "
                "확인하고 다시 주문해 주세요."
            )
            % {"seen": won(seen), "total": won(total)}
        )


class ProductUnavailable(OrderError):
    def __init__(self, names: list[str]) -> None:
        self.names = names
        super().__init__(f"판매하지 않는 상품이 있습니다: {', '.join(names)}")


@dataclass(frozen=True)
class Buyer:
    name: str
    email: str
    tel: str
    addr: str
    postcode: str
    addr_detail: str = ""


def can_move(current: str, to: str) -> bool:
    return to in ALLOWED_MOVES[current]


@contextmanager
def _under_lock(order: Order | LockedOrder) -> Iterator[LockedOrder]:
    """The order under its row lock: the caller's lock and transaction when it already holds
    them (the payment sync does: no second read, no savepoint), else taken here."""
    if isinstance(order, LockedOrder):
        yield order
        return
    with transaction.atomic():
        yield lock_order(order.pk)


def _check_move(order: Order, to: str) -> None:
    if not can_move(order.status, to):
        raise IllegalTransition(order, to)


# What the order page says: text, or a lazy translation rendered in the buyer's language.
Message: TypeAlias = "str | _StrPromise"


def status_text(order: Order, message: Message) -> str:
    """A message for the order page as it is stored: in the buyer's language (the order's,
    not the language of whichever request or worker decides), cut to the field's length.
    `message` may be a lazy translation."""
    with translation.override(mail_language(order)):
        return str(message)[:255]


def _move(order: Order, to: str, *, message: Message | None = None) -> Order:
    _check_move(order, to)
    logger.info("order %s: %s -> %s", order.merchant_uid, order.status, to)
    order.status = to
    if message is not None:
        order.status_message = status_text(order, message)
    return order


def order_create(
    *,
    items: Iterable[tuple[int, int]],
    buyer: Buyer,
    pay_method: str,
    user=None,
    language: str = "ko",
    expected_total: int | None = None,
) -> Order:
    """A pending order for (product id, quantity) pairs, priced from the database.

    The browser never names a price: each line snapshots the product's current name and price,
    and the total is computed here; `expected_total`, when given, is the total the buyer was
    shown, and any other total raises PriceChanged. Stock is checked (not yet taken: that
    happens once, when the order is paid). The buyer is mailed the order with a link to its
    page, where it is paid.
    """
    quantities: dict[int, int] = {}
    for product_id, quantity in items:
        if quantity > 0:
            quantities[product_id] = quantities.get(product_id, 0) + quantity
    if not quantities:
        raise EmptyCart()
    if pay_method not in settings.SHOP_PAY_METHODS:
        raise OrderError(f"지원하지 않는 결제 수단입니다: {pay_method}")

    with transaction.atomic():
        products = {p.pk: p for p in Product.objects.filter(pk__in=quantities).order_by("pk")}
        unavailable = [
            products[pk].name if pk in products else f"#{pk}"
            for pk in quantities
            if pk not in products or not products[pk].is_active
        ]
        if unavailable:
            raise ProductUnavailable(unavailable)
        short = [products[pk].name for pk, qty in quantities.items() if products[pk].stock < qty]
        if short:
            raise OutOfStock(short)

        amount = sum(products[pk].price * qty for pk, qty in quantities.items())
        if expected_total is not None and amount != expected_total:
            raise PriceChanged(expected_total, amount)
        order = _insert_order(
            amount=amount,
            pay_method=pay_method,
            buyer_name=buyer.name,
            buyer_email=buyer.email,
            buyer_tel=buyer.tel,
            buyer_addr=buyer.addr,
            buyer_addr_detail=buyer.addr_detail,
            buyer_postcode=buyer.postcode,
            language=language,
            user=user if user is not None and user.is_authenticated else None,
        )
        lines = _create_lines(order, products, quantities)
        order_mail_enqueue(
            kind="order_received", key=f"order_received:{order.pk}", order=order, lines=lines
        )
    logger.info("order %s created: %s won", order.merchant_uid, order.amount)
    return order


# A new order's short number is already taken with a chance of (orders that day) in 729
# million; it is then drawn again, up to this many times in all.
NUMBER_DRAWS = 5


def _insert_order(**fields: object) -> Order:
    """A new order row; if its short number (`shop.ids`) is already taken, with another one."""
    order = Order(**fields)
    for _draw in range(NUMBER_DRAWS - 1):
        try:
            with transaction.atomic():
                order.save(force_insert=True)
            return order
        except IntegrityError:
            if not Order.objects.filter(number=order.number).exists():
                raise  # another constraint: not ours to retry
        order.number = new_number()
    order.save(force_insert=True)
    return order


def _create_lines(
    order: Order, products: dict[int, Product], quantities: dict[int, int]
) -> list[OrderLine]:
    """The order's lines, each a snapshot of its product's name and price at checkout."""
    return OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            product=products[pk],
            product_name=products[pk].name,
            unit_price=products[pk].price,
            quantity=qty,
        )
        for pk, qty in quantities.items()
    )


def order_mark_paid(*, order: Order | LockedOrder, paid_at: datetime | None = None) -> Order:
    """pending / awaiting_deposit -> paid, taking stock exactly once.

    Raises OutOfStock (and changes nothing) when another order has taken the last items since
    checkout; the caller decides what to do with the money.
    """
    with _under_lock(order) as locked:
        order = locked.order
        _check_move(order, Status.PAID)
        # Only pending / awaiting_deposit may become paid, and only once: stock is taken once.
        short = _take_stock(locked.lines)
        if not short:
            _move(order, Status.PAID, message="")
            order.stock_taken = True
            order.paid_at = paid_at or timezone.now()
            order.save(
                update_fields=["status", "status_message", "stock_taken", "paid_at", "updated_at"]
            )
            order_mail_enqueue(
                kind="paid", key=f"order_paid:{order.pk}", order=order, lines=locked.lines
            )
    if short:
        raise OutOfStock(short)
    return order


def _take_stock(lines: list[OrderLine]) -> list[str]:
    """Take the lines' quantities from stock; the names of products short of it (then nothing
    is taken).

    One conditional UPDATE per product both checks and takes (it waits for, then holds, the
    product's row lock); products go in id order, so two orders sharing products cannot
    deadlock. Should a later product be short, the earlier ones are given back.
    """
    needed: dict[int, int] = {}
    for line in lines:
        needed[line.product_id] = needed.get(line.product_id, 0) + line.quantity
    taken: list[tuple[int, int]] = []
    for product_id, quantity in sorted(needed.items()):
        if not Product.objects.filter(pk=product_id, stock__gte=quantity).update(
            stock=F("stock") - quantity
        ):
            for given_back, amount in taken:
                Product.objects.filter(pk=given_back).update(stock=F("stock") + amount)
            return [line.product_name for line in lines if line.product_id == product_id]
        taken.append((product_id, quantity))
    return []


def order_mark_awaiting_deposit(
    *, order: Order | LockedOrder, bank: str, account: str, holder: str, due: datetime | None
) -> Order:
    """pending -> awaiting_deposit, keeping the virtual account to show the buyer, who is
    mailed it (once per account: an order released after a deadline may get another one)."""
    with _under_lock(order) as locked:
        order = _move(locked.order, Status.AWAITING_DEPOSIT, message="")
        order.deposit_bank, order.deposit_account, order.deposit_holder = bank, account, holder
        order.deposit_due = due
        order.save(update_fields=["status", "status_message", *DEPOSIT_FIELDS, "updated_at"])
        order_mail_enqueue(
            kind="vbank_issued",
            key=f"order_vbank_issued:{order.pk}:{_account_key(order)}",
            order=order,
            lines=locked.lines,
            bank=bank,
            account=account,
            holder=holder,
            deadline=kst(due),
        )
    return order


def order_release_deposit(*, order: Order | LockedOrder) -> Order:
    """awaiting_deposit -> pending: the virtual account's deadline passed with no deposit.

    Back to pending, not cancelled: the buyer may pay again (by card, or a new account), and a
    deposit that still arrives late into the expired account then finds a payable order and is
    honoured. Should the buyer have paid otherwise meanwhile, the late deposit is a second
    payment for a paid order, which the payment sync refunds (one accepted payment per order),
    as it does for an order closed since. The expired account leaves the order, so that it is
    never shown as payable again; the buyer is mailed that it expired.
    """
    with _under_lock(order) as locked:
        order = locked.order
        _check_move(order, Status.PENDING)
        message = _expired_message(order)
        order_mail_enqueue(
            kind="deposit_expired",
            key=f"order_deposit_expired:{order.pk}:{_account_key(order)}",
            order=order,
            lines=locked.lines,
            bank=order.deposit_bank,
            account=order.deposit_account,
            deadline=kst(order.deposit_due),
        )
        _move(order, Status.PENDING, message=message)
        order.deposit_bank = order.deposit_account = order.deposit_holder = ""
        order.deposit_due = None
        order.save(update_fields=["status", "status_message", *DEPOSIT_FIELDS, "updated_at"])
    return order


def order_close_unpaid(*, order: Order | LockedOrder, days: int) -> Order:
    """pending -> cancelled: nobody paid the order in `days` days (the caller has asked Iamport
    first). An order paid meanwhile is left as it is; a payment that arrives later for the
    closed order is refunded by the payment sync."""
    with _under_lock(order) as locked:
        order = locked.order
        if order.status != Status.PENDING:
            return order
        with translation.override(mail_language(order)):
            message = ngettext(
                "%(days)d일 동안 결제되지 않아 주문을 닫았습니다.",
                "%(days)d일 동안 결제되지 않아 주문을 닫았습니다.",
                days,
            ) % {"days": days}
        _move(order, Status.CANCELLED, message=message)
        order.save(update_fields=["status", "status_message", "updated_at"])
    return order


def _expired_message(order: Order) -> str:
    """What the order page says once its virtual account expired, in the buyer's language."""
    with translation.override(mail_language(order)):
        if order.deposit_due is None:
            return _("가상계좌의 입금 기한이 지났습니다. 다시 결제해 주세요.")
        return _(
            "입금 기한(%(deadline)s)이 지나 가상계좌가 만료되었습니다. 다시 결제해 주세요."
        ) % {"deadline": kst(order.deposit_due)}


def _account_key(order: Order) -> str:
    """Which virtual account of the order a mail is about (its deadline, then its number)."""
    due = int(order.deposit_due.timestamp()) if order.deposit_due else 0
    return f"{due}:{order.deposit_account}"


def _refuse_unless_pending(order: Order, refusal: str) -> None:
    """OrderError with `refusal` (which names the order's %(status)s) unless it is pending."""
    if order.status != Status.PENDING:
        raise OrderError(refusal % {"status": order.get_status_display()})


def order_change_pay_method(*, order: Order | LockedOrder, pay_method: str) -> Order:
    """Another way to pay a pending order (e.g. a bank transfer after a declined card). Only
    while nothing holds the order: an issued virtual account, a payment, a closed order
    refuse it. A payment already under way the other way is still honoured or given back by
    the payment sync, as any second payment is."""
    if pay_method not in settings.SHOP_PAY_METHODS:
        raise OrderError(_("이 상점에서 받지 않는 결제 수단입니다."))
    with _under_lock(order) as locked:
        order = locked.order
        _refuse_unless_pending(order, _("'%(status)s' 상태의 주문은 결제 수단을 바꿀 수 없습니다."))
        if order.pay_method != pay_method:
            logger.info(
                "order %s: pay method %s -> %s", order.merchant_uid, order.pay_method, pay_method
            )
            order.pay_method = pay_method
            order.save(update_fields=["pay_method", "updated_at"])
    return order


def order_cancel_by_buyer(*, order: Order | LockedOrder) -> Order:
    """pending -> cancelled at the buyer's request. A payment that still arrives for it (a
    window left open elsewhere) is given back by the payment sync, as for any closed order."""
    with _under_lock(order) as locked:
        order = locked.order
        _refuse_unless_pending(order, _("'%(status)s' 상태의 주문은 취소할 수 없습니다."))
        _move(order, Status.CANCELLED, message=gettext_lazy("주문하신 분의 요청으로 취소했습니다."))
        order.save(update_fields=["status", "status_message", "updated_at"])
    return order


def order_mark_cancelled(*, order: Order | LockedOrder, reason: Message) -> Order:
    """pending / awaiting_deposit -> cancelled (nothing was paid)."""
    with _under_lock(order) as locked:
        order = _move(locked.order, Status.CANCELLED, message=reason)
        order.save(update_fields=["status", "status_message", "updated_at"])
    return order


def order_mark_failed(*, order: Order | LockedOrder, reason: Message) -> Order:
    """An order that can no longer be fulfilled (e.g. sold out while the buyer paid)."""
    with _under_lock(order) as locked:
        order = _move(locked.order, Status.FAILED, message=reason)
        order.save(update_fields=["status", "status_message", "updated_at"])
    return order


def order_note_payment_problem(*, order: Order | LockedOrder, message: Message) -> Order:
    """Keep a payable order payable, with the reason the last attempt did not pay it."""
    with _under_lock(order) as locked:
        order = locked.order
        text = status_text(order, message)
        if order.status_message != text:
            order.status_message = text
            order.save(update_fields=["status_message", "updated_at"])
    return order


def order_record_refund(*, order: Order | LockedOrder, refunded_total: int) -> Order:
    """paid / partially_refunded -> partially_refunded or refunded, from the total refunded.

    `refunded_total` is the whole amount refunded so far (not the latest refund), so applying
    the same figure twice changes nothing, and mails the buyer nothing twice: each refund's mail
    (what came back this time, what is left) is keyed by the new total.
    """
    with _under_lock(order) as locked:
        order = locked.order
        if refunded_total == order.refunded_amount and order.status != Status.PAID:
            return order
        if not 0 < refunded_total <= order.amount:
            raise OrderError(
                f"환불 합계 {refunded_total:,}원은 "
                f"주문 금액 {order.amount:,}원의 범위를 벗어납니다."
            )
        if refunded_total < order.refunded_amount:
            raise OrderError("환불 합계는 줄어들 수 없습니다.")
        to = Status.REFUNDED if refunded_total == order.amount else Status.PARTIALLY_REFUNDED
        _move(order, to)
        refunded_now = refunded_total - order.refunded_amount
        order.refunded_amount = refunded_total
        order.save(update_fields=["status", "refunded_amount", "updated_at"])
        if refunded_now:
            order_mail_enqueue(
                kind="refunded",
                key=f"order_refunded:{order.pk}:{refunded_total}",
                order=order,
                lines=locked.lines,
                refunded_now=refunded_now,
                refunded_total=refunded_total,
                remaining=order.refundable_amount,
            )
    return order
