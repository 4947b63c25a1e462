"""`{% pay_button order %}`: the pay button on the order page, and `{% payment_receipt order %}`:
the PG's receipt of the payment that paid it.

The shop's templates reach payments only through these tags; everything the payment window
needs (`IMP.request_pay` for V1, `PortOne.requestPayment` for V2, as PAYMENTS_API says) is
assembled here, from the order as stored on the server.
"""

from __future__ import annotations

from datetime import timedelta

from django import template
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from payments.models import Payment
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


# PortOne.requestPayment's window language, for the page's language (Korean otherwise).
V2_LOCALES = {"en": "EN_US"}


def request_payment_params(order: Order, *, absolute, language: str = "ko") -> dict:
    """The PortOne V2 `PortOne.requestPayment` request for an order (paymentId = merchant_uid)."""
    method = settings.SHOP_PAY_METHODS[order.pay_method]
    customer: dict = {
        "fullName": order.buyer_name,
        "email": order.buyer_email,
        "phoneNumber": order.buyer_tel,
        "address": {
            "country": "KR",
            "addressLine1": order.buyer_addr,
            "addressLine2": order.buyer_addr_detail,
        },
        "zipcode": order.buyer_postcode,
    }
    params = {
        "storeId": settings.PORTONE_STORE_ID,
        "channelKey": method.get("channel_key") or settings.PORTONE_CHANNEL_KEY,
        "paymentId": order.merchant_uid,
        "orderName": order.name,
        "totalAmount": order.amount,
        "currency": "KRW",
        "payMethod": method["v2_pay_method"],
        "customer": customer,
        "redirectUrl": absolute(reverse("payments:complete")),
        "noticeUrls": [absolute(reverse("payments:webhook"))],
    }
    if language in V2_LOCALES:
        params["locale"] = V2_LOCALES[language]
    if method["v2_pay_method"] == "VIRTUAL_ACCOUNT":
        due = timezone.localtime() + timedelta(days=settings.SHOP_VBANK_DUE_DAYS)
        params["virtualAccount"] = {"accountExpiry": {"dueDate": f"{due:%Y%m%d}235959"}}
    return params


@register.inclusion_tag("payments/_pay_button.html", takes_context=True)
def pay_button(context, order: Order) -> dict:
    request = context["request"]
    if settings.SHOP_BASE_URL:
        absolute = lambda path: settings.SHOP_BASE_URL + path  # noqa: E731
    else:
        absolute = request.build_absolute_uri
    v2 = settings.PAYMENTS_API == "v2"
    if v2:
        language = getattr(request, "LANGUAGE_CODE", "ko")
        params = request_payment_params(order, absolute=absolute, language=language)
    else:
        params = request_pay_params(order, absolute=absolute)
    prepare = settings.IAMPORT_PREPARE
    return {
        "order": order,
        "request": request,
        "api": settings.PAYMENTS_API,
        "pay_params": params,
        "merchant_code": "" if v2 else settings.IAMPORT_MERCHANT_CODE,
        "script_url": settings.PORTONE_SDK_URL if v2 else settings.IAMPORT_SCRIPT_URL,
        "complete_url": reverse("payments:complete"),
        "prepare_url": reverse("payments:prepare") if prepare else None,
    }


@register.simple_tag
def payment_receipt(order: Order) -> str:
    """The receipt the PG issued for the payment that paid the order (a card slip), as Iamport
    gave its address; "" when there is none, or it is not an http(s) address."""
    if order.paid_at is None:
        return ""
    accepted = order.payments.filter(verdict=Payment.Verdict.ACCEPTED).exclude(receipt_url="")
    url = accepted.values_list("receipt_url", flat=True).order_by("-pk").first() or ""
    return url if url.startswith(("https://", "http://")) else ""
