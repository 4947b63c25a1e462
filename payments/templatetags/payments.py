"""`{% pay_button order %}`: the Iamport pay button on the order page.

The shop's templates reach payments only through this tag; everything Iamport needs for
`IMP.request_pay` is assembled here, from the order as stored on the server.
"""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from shop.models import Order

register = template.Library()


def request_pay_params(order: Order, *, absolute) -> dict:
    """The `IMP.request_pay` parameters for an order; `absolute` turns a path into a full URL."""
    method = settings.SHOP_PAY_METHODS[order.pay_method]
    params = {
        "pg": method.get("pg") or settings.IAMPORT_PG,
        "pay_method": method["pay_method"],
        "merchant_uid": order.merchant_uid,
        "name": order.name,
        "amount": order.amount,
        "currency": "KRW",
        "buyer_name": order.buyer_name,
        "buyer_email": order.buyer_email,
        "buyer_tel": order.buyer_tel,
        "buyer_addr": order.full_addr,
        "buyer_postcode": order.buyer_postcode,
        "m_redirect_url": absolute(reverse("payments:complete")),
        "notice_url": absolute(reverse("payments:webhook")),
    }
    if method["pay_method"] == "vbank":
        due = timezone.localtime() + timedelta(days=settings.SHOP_VBANK_DUE_DAYS)
        params["vbank_due"] = f"{due:%Y%m%d}2359"
    return params


@register.inclusion_tag("payments/_pay_button.html", takes_context=True)
def pay_button(context, order: Order) -> dict:
    request = context["request"]
    if settings.SHOP_BASE_URL:
        absolute = lambda path: settings.SHOP_BASE_URL + path  # noqa: E731
    else:
        absolute = request.build_absolute_uri
    return {
        "order": order,
        "request": request,
        "pay_params": request_pay_params(order, absolute=absolute),
        "merchant_code": settings.IAMPORT_MERCHANT_CODE,
        "script_url": settings.IAMPORT_SCRIPT_URL,
        "complete_url": reverse("payments:complete"),
        "prepare_url": reverse("payments:prepare") if settings.IAMPORT_PREPARE else None,
    }
