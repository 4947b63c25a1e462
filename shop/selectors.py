"""Reads for the shopper-facing pages: the catalogue, one order, and a buyer's orders."""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Q, QuerySet

from shop.forms import normalise_phone
from shop.models import Order, OrderLine, Product


def product_list() -> QuerySet[Product]:
    """Products on sale, sold-out ones included (they are shown as sold out)."""
    return Product.objects.filter(is_active=True)


def product_get(*, pk: int) -> Product | None:
    """A product on sale, or None."""
    return Product.objects.filter(pk=pk, is_active=True).first()


def products_by_id(ids: Iterable[int]) -> dict[int, Product]:
    """Products by primary key, withdrawn ones included so that the cart can name them."""
    return {p.pk: p for p in Product.objects.filter(pk__in=list(ids))}


def order_get(*, merchant_uid: str) -> Order | None:
    return Order.objects.prefetch_related("lines").filter(merchant_uid=merchant_uid).first()


def order_list_for_buyer(*, merchant_uids: Iterable[str], user=None) -> QuerySet[Order]:
    """Orders placed from this session, plus the signed-in user's own orders."""
    condition = Q(merchant_uid__in=list(merchant_uids))
    if user is not None and user.is_authenticated:
        condition |= Q(user=user)
    return Order.objects.filter(condition).prefetch_related("lines")


def order_short_of_stock(lines: Iterable[OrderLine]) -> list[str]:
    """The names of the products an order needs more of than is in stock now: paid now, it
    could not be fulfilled, and the payment would be given back (`services.order_mark_paid`
    takes the stock when the payment arrives, product by product as here)."""
    lines = list(lines)
    needed: dict[int, int] = {}
    for line in lines:
        needed[line.product_id] = needed.get(line.product_id, 0) + line.quantity
    stock = dict(Product.objects.filter(pk__in=needed).values_list("pk", "stock"))
    short = {pk for pk, quantity in needed.items() if stock.get(pk, 0) < quantity}
    return list(dict.fromkeys(line.product_name for line in lines if line.product_id in short))


def order_status_get(*, merchant_uid: str) -> Order | None:
    """Just enough of an order for its status poll and the check of who may see it: one
    query, no lines."""
    return (
        Order.objects.only("merchant_uid", "status", "updated_at", "user_id")
        .filter(merchant_uid=merchant_uid)
        .first()
    )


def order_status_stamp(order: Order) -> dict[str, str]:
    """What the status poll answers, and what the page remembers to compare it with: the
    status and the moment the order last changed."""
    return {"status": order.status, "changed": order.updated_at.isoformat()}


def order_find_by_reference(reference: str) -> Order | None:
    """The order a buyer names by its short number or its merchant_uid (one query)."""
    return (
        Order.objects.only("merchant_uid", "number", "buyer_email", "buyer_tel")
        .filter(Q(number=reference) | Q(merchant_uid=reference))
        .first()
    )


# Compared with when no order has the number, so that an unknown number costs the same work
# as a known one with the wrong contact details.
_NOBODY_EMAIL = "nobody@invalid"
_NOBODY_TEL = "000-0000-0000"


def order_contact_matches(order: Order | None, contact: str) -> bool:
    """Whether `contact` is the email (any case) or the phone number (any format) the order
    was placed with.

    Both comparisons are always made, in constant time, and against stand-in values when
    there is no order: how long the answer takes says nothing about which part was wrong or
    whether the order exists.
    """
    email, tel = (order.buyer_email, order.buyer_tel) if order else (_NOBODY_EMAIL, _NOBODY_TEL)
    given_tel = normalise_phone(contact)
    email_ok = _same(contact.strip().lower(), email.strip().lower())
    tel_ok = _same(given_tel or "", normalise_phone(tel) or tel)
    return order is not None and (email_ok or (given_tel is not None and tel_ok))


def _same(given: str, stored: str) -> bool:
    return hmac.compare_digest(given.encode(), stored.encode())


def pay_method_label(code: str) -> str:
    method = settings.SHOP_PAY_METHODS.get(code)
    return str(method["label"]) if method else code


@dataclass(frozen=True)
class BuyerDetails:
    name: str
    email: str
    tel: str
    addr: str
    postcode: str
    masked: bool


def order_buyer_details(order: Order, *, full: bool) -> BuyerDetails:
    """The buyer's details as the viewer may see them: whole, or masked for a stranger.

    Masking happens here, before the template, so that a page shown to someone holding only
    the order link never carries the buyer's personal data at all.
    """
    if full:
        return BuyerDetails(
            name=order.buyer_name,
            email=order.buyer_email,
            tel=order.buyer_tel,
            addr=order.full_addr,
            postcode=order.buyer_postcode,
            masked=False,
        )
    return BuyerDetails(
        name=mask_name(order.buyer_name),
        email=mask_email(order.buyer_email),
        tel=mask_tel(order.buyer_tel),
        addr=mask_addr(order.buyer_addr),
        postcode="*****",
        masked=True,
    )


def mask_name(name: str) -> str:
    """홍길동 -> 홍*동, 홍길 -> 홍*."""
    name = name.strip()
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def mask_email(email: str) -> str:
    """hong@example.com -> ho**@example.com."""
    local, _, domain = email.partition("@")
    shown = local[:2] if len(local) > 2 else local[:1]
    return f"{shown}{'*' * max(len(local) - len(shown), 2)}@{domain}"


def mask_tel(tel: str) -> str:
    """010-1234-5678 -> 010-****-5678: only the area code and the last four digits."""
    digits = [c for c in tel if c.isdigit()]
    if len(digits) < 8:
        return "*" * len(tel)
    keep_head = 2 if tel.startswith("02") else 3
    result, seen = [], 0
    for char in tel:
        if char.isdigit():
            seen += 1
            hidden = keep_head < seen <= len(digits) - 4
            result.append("*" if hidden else char)
        else:
            result.append(char)
    return "".join(result)


def mask_addr(addr: str) -> str:
    """서울특별시 강남구 테헤란로 1 -> 서울특별시 강남구 ***: the district, never the street."""
    words = addr.split()
    return " ".join([*words[:2], "***"]) if words else "***"
