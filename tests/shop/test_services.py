"""The order services: creation, the guarded lifecycle and refund bookkeeping."""

from __future__ import annotations

from unittest import mock

import pytest
from django.core import mail

from shop import services
from shop.models import Order, Product
from shop.services import (
    ALLOWED_MOVES,
    Buyer,
    EmptyCart,
    IllegalTransition,
    OrderError,
    OutOfStock,
    PriceChanged,
    ProductUnavailable,
    order_create,
    order_mark_awaiting_deposit,
    order_mark_cancelled,
    order_mark_failed,
    order_mark_paid,
    order_record_refund,
)

pytestmark = pytest.mark.django_db

BUYER = Buyer(
    name="홍길동", email="buyer@example.com", tel="010-1234-5678", addr="서울", postcode="06236"
)
Status = Order.Status


def with_status(order: Order, status: str, **fields) -> Order:
    Order.objects.filter(pk=order.pk).update(status=status, **fields)
    order.refresh_from_db()
    return order


@pytest.mark.parametrize(
    ("current", "to"),
    [(c, t) for c in Status.values for t in Status.values if t not in ALLOWED_MOVES[c]],
)
def test_every_move_outside_the_lifecycle_is_refused(order_factory, current, to):
    order = with_status(order_factory(), current)

    with pytest.raises(IllegalTransition) as caught:
        services._move(order, to)

    message = str(caught.value)
    assert str(Status(current).label) in message and str(Status(to).label) in message
    assert caught.value.order is order and caught.value.to == to


def test_paying_twice_is_refused_and_takes_stock_once(order_factory):
    order = order_factory(stock=5, quantity=2)
    order_mark_paid(order=order)

    with pytest.raises(IllegalTransition):
        order_mark_paid(order=order)

    order.refresh_from_db()
    assert order.stock_taken and order.lines.get().product.stock == 3


def test_paying_when_sold_out_changes_nothing(order_factory):
    order = order_factory(stock=1, quantity=1)
    Product.objects.update(stock=0)

    with pytest.raises(OutOfStock, match="유기농 원두"):
        order_mark_paid(order=order)

    order.refresh_from_db()
    assert order.status == Status.PENDING and not order.stock_taken


def test_awaiting_deposit_keeps_the_account(order_factory):
    order = order_mark_awaiting_deposit(
        order=order_factory(), bank="KB국민은행", account="123", holder="상점", due=None
    )
    assert (order.status, order.deposit_bank, order.deposit_account) == (
        Status.AWAITING_DEPOSIT,
        "KB국민은행",
        "123",
    )


def test_cancel_and_fail_record_the_reason(order_factory):
    assert (
        order_mark_cancelled(order=order_factory(), reason="고객 요청").status_message
        == "고객 요청"
    )
    assert order_mark_failed(order=order_factory(), reason="품절").status == Status.FAILED


def test_a_refund_total_moves_paid_to_partially_refunded_then_refunded(order_factory):
    order = order_mark_paid(order=order_factory(price=10000))

    order = order_record_refund(order=order, refunded_total=3000)
    assert (order.status, order.refunded_amount) == (Status.PARTIALLY_REFUNDED, 3000)
    same = order_record_refund(order=order, refunded_total=3000)  # the same figure again
    assert (same.status, same.refunded_amount) == (Status.PARTIALLY_REFUNDED, 3000)
    order = order_record_refund(order=order, refunded_total=10000)
    assert (order.status, order.refunded_amount) == (Status.REFUNDED, 10000)


@pytest.mark.parametrize("total", [0, 10001])
def test_a_refund_total_outside_the_amount_is_refused(order_factory, total):
    order = order_mark_paid(order=order_factory(price=10000))

    with pytest.raises(OrderError, match="범위"):
        order_record_refund(order=order, refunded_total=total)


def test_a_refund_total_never_shrinks(order_factory):
    order = order_record_refund(
        order=order_mark_paid(order=order_factory(price=10000)), refunded_total=5000
    )

    with pytest.raises(OrderError, match="줄어들 수 없습니다"):
        order_record_refund(order=order, refunded_total=4000)


def test_create_merges_repeated_products_and_ignores_zero_quantities(product_factory):
    product = product_factory(price=1000, stock=10)
    other = product_factory(name="녹차", price=500, stock=10)

    order = order_create(
        items=[(product.pk, 1), (product.pk, 2), (other.pk, 0)], buyer=BUYER, pay_method="card"
    )

    assert order.amount == 3000
    assert [(line.product_name, line.quantity) for line in order.lines.all()] == [
        ("유기농 원두 200g", 3)
    ]


def test_create_refuses_an_empty_cart_an_unknown_pay_method_and_missing_products(
    product_factory,
):
    product = product_factory()
    hidden = product_factory(name="판매 중지", is_active=False)

    with pytest.raises(EmptyCart):
        order_create(items=[(product.pk, 0)], buyer=BUYER, pay_method="card")
    with pytest.raises(OrderError, match="결제 수단"):
        order_create(items=[(product.pk, 1)], buyer=BUYER, pay_method="bitcoin")
    with pytest.raises(ProductUnavailable, match="판매 중지") as caught:
        order_create(items=[(hidden.pk, 1), (999999, 1)], buyer=BUYER, pay_method="card")
    assert caught.value.names == ["판매 중지", "#999999"]
    assert not Order.objects.exists()


def test_create_refuses_more_than_the_stock(product_factory):
    product = product_factory(stock=2)

    with pytest.raises(OutOfStock):
        order_create(items=[(product.pk, 3)], buyer=BUYER, pay_method="card")

    assert not Order.objects.exists()


def test_create_refuses_a_total_other_than_the_one_the_buyer_was_shown(product_factory):
    product = product_factory(price=20000)

    with pytest.raises(PriceChanged) as refused:
        order_create(items=[(product.pk, 2)], buyer=BUYER, pay_method="card", expected_total=36000)

    assert (refused.value.seen, refused.value.total) == (36000, 40000)
    assert "36,000원에서 40,000원" in str(refused.value)
    assert not Order.objects.exists()
    order = order_create(
        items=[(product.pk, 2)], buyer=BUYER, pay_method="card", expected_total=40000
    )
    assert order.amount == 40000


def test_the_paid_mail_goes_out_once_after_commit(
    order_factory, django_capture_on_commit_callbacks
):
    order = order_factory()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        order = order_mark_paid(order=order)

    assert len(callbacks) == 1
    [message] = mail.outbox
    assert message.to == ["buyer@example.com"]
    assert order.number in message.body and "12,000원" in message.body


def test_a_mail_outage_does_not_undo_the_payment(order_factory, django_capture_on_commit_callbacks):
    with (
        mock.patch("shop.mail.send_mail", side_effect=OSError("smtp down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        order = order_mark_paid(order=order_factory())

    order.refresh_from_db()
    assert order.status == Status.PAID


def test_order_name_fits_the_payment_window(product_factory):
    long = product_factory(name="아주 긴 상품 이름" * 8, stock=5)
    other = product_factory(name="녹차", stock=5)
    order = order_create(items=[(long.pk, 1), (other.pk, 1)], buyer=BUYER, pay_method="card")

    assert len(order.name) == 40 and order.name.endswith("… 외 1건")
    order.lines.all().delete()
    assert order.name == "주문"
