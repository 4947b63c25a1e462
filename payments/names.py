"""The names people know Iamport's codes by: PGs (`pg_provider`) and pay methods.

Iamport reports a payment's PG and pay method as codes (`html5_inicis`, `vbank`); staff read
them as the PG's and the checkout's names. A code this shop has not met yet is shown as it is,
so that nothing is hidden behind a wrong name.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _

from shop.selectors import pay_method_label

# Codes as Iamport (PortOne V1) reports them in `pg_provider`; several are older names of one PG.
# V2's names of the same PGs (TOSSPAYMENTS, KAKAOPAY, NICE_V2, ...) lowercased are among them.
PG_NAMES = {
    "html5_inicis": _("KG이니시스"),
    # PortOne V2 reports the channel's PG (`channel.pgProvider`), lowercased here.
    "inicis_v2": _("KG이니시스"),
    "kcp_v2": _("NHN KCP"),
    "inicis": _("KG이니시스"),
    "inicis_unified": _("KG이니시스"),
    "kcp": _("NHN KCP"),
    "kcp_billing": _("NHN KCP"),
    "nice": _("나이스페이"),
    "nice_v2": _("나이스페이"),
    "tosspayments": _("토스페이먼츠"),
    "uplus": _("토스페이먼츠"),
    "kakaopay": _("카카오페이"),
    "naverpay": _("네이버페이"),
    "danal_tpay": _("다날"),
    "danal": _("다날"),
    "kicc": _("KICC"),
    "ksnet": _("KSNET"),
    "payco": _("페이코"),
    "tosspay": _("토스페이"),
    "smilepay": _("스마일페이"),
    "paypal": _("페이팔"),
}

# Pay methods Iamport reports that checkout does not offer under that code (a Kakao Pay
# payment is reported as "point" or "card"); the offered ones are named by the settings.
IAMPORT_PAY_METHOD_NAMES = {
    "card": _("신용카드"),
    "trans": _("실시간 계좌이체"),
    "vbank": _("가상계좌"),
    "phone": _("휴대폰 소액결제"),
    "point": _("간편결제 포인트"),
}

UNKNOWN = _("(알 수 없음)")


def pg_name(code: str) -> str:
    """ "html5_inicis" -> "KG이니시스"; an unknown code as it is; none as "(알 수 없음)"."""
    if not code:
        return str(UNKNOWN)
    return str(PG_NAMES.get(code, code))


def pay_method_name(code: str) -> str:
    """ "vbank" -> the checkout's label for it; an unknown code as it is."""
    if not code:
        return str(UNKNOWN)
    if code in settings.SHOP_PAY_METHODS:
        return pay_method_label(code)
    return str(IAMPORT_PAY_METHOD_NAMES.get(code, code))
