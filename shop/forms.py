"""The shopper's forms: checkout (who is buying, where it goes, how they pay) and the guest
order lookup."""

from __future__ import annotations

import re
from typing import cast

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from shop.ids import is_merchant_uid, normalise_order_number
from shop.services import Buyer

# Digits of a Korean phone number (after +82 has become 0): mobile, Seoul, other areas and 070.
_PHONE_PATTERNS = [
    re.compile(r"(01[016789])(\d{3,4})(\d{4})"),
    re.compile(r"(02)(\d{3,4})(\d{4})"),
    re.compile(r"(0[3-6][1-5]|070)(\d{3,4})(\d{4})"),
]
_PHONE_ALLOWED = re.compile(r"\+?[\d\s\-.()]+")


def normalise_phone(raw: str) -> str | None:
    """'01012345678', '010 1234 5678', '+82 10-1234-5678' -> '010-1234-5678'; None if invalid."""
    text = raw.strip()
    if not _PHONE_ALLOWED.fullmatch(text):
        return None
    digits = re.sub(r"\D", "", text)
    if text.startswith("+"):
        if not digits.startswith("82"):
            return None
        digits = "0" + digits[2:].removeprefix("0")
    for pattern in _PHONE_PATTERNS:
        match = pattern.fullmatch(digits)
        if match:
            return "-".join(match.groups())
    return None


class CheckoutForm(forms.Form):
    buyer_name = forms.CharField(
        label=_("이름"),
        max_length=50,
        widget=forms.TextInput(attrs={"autocomplete": "name", "placeholder": _("홍길동")}),
    )
    buyer_email = forms.EmailField(
        label=_("이메일"),
        max_length=254,
        help_text=_("결제 확인 메일을 보내 드립니다."),
        widget=forms.EmailInput(attrs={"autocomplete": "email", "placeholder": "you@example.com"}),
    )
    buyer_tel = forms.CharField(
        label=_("휴대폰 번호"),
        max_length=20,
        widget=forms.TextInput(
            attrs={"autocomplete": "tel", "inputmode": "tel", "placeholder": "010-1234-5678"}
        ),
    )
    buyer_postcode = forms.CharField(
        label=_("우편번호"),
        max_length=7,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "postal-code",
                "inputmode": "numeric",
                "placeholder": "06236",
                "pattern": r"\d{5}",
            }
        ),
    )
    buyer_addr = forms.CharField(
        label=_("주소"),
        max_length=200,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "street-address",
                "placeholder": _("서울특별시 강남구 테헤란로 1"),
            }
        ),
    )
    buyer_addr_detail = forms.CharField(
        label=_("상세주소"),
        max_length=100,
        required=False,
        widget=forms.TextInput(
            attrs={"autocomplete": "address-line2", "placeholder": _("101동 1001호")}
        ),
    )
    pay_method = forms.ChoiceField(label=_("결제 수단"), widget=forms.RadioSelect)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Read at form time (not import time) so that the offer follows the settings.
        methods = settings.SHOP_PAY_METHODS
        pay_method = cast(forms.ChoiceField, self.fields["pay_method"])
        pay_method.choices = [(code, m["label"]) for code, m in methods.items()]
        if methods and not self.is_bound:
            pay_method.initial = next(iter(methods))

    def clean_buyer_name(self) -> str:
        return " ".join(self.cleaned_data["buyer_name"].split())

    def clean_buyer_tel(self) -> str:
        tel = normalise_phone(self.cleaned_data["buyer_tel"])
        if tel is None:
            raise forms.ValidationError(_("휴대폰 번호를 010-1234-5678 형식으로 입력해 주세요."))
        return tel

    def clean_buyer_postcode(self) -> str:
        postcode = self.cleaned_data["buyer_postcode"].strip()
        if not re.fullmatch(r"\d{5}", postcode):
            raise forms.ValidationError(_("우편번호는 5자리 숫자입니다 (예: 06236)."))
        return postcode

    def clean_buyer_addr(self) -> str:
        return " ".join(self.cleaned_data["buyer_addr"].split())

    def clean_buyer_addr_detail(self) -> str:
        return " ".join(self.cleaned_data["buyer_addr_detail"].split())

    def buyer(self) -> Buyer:
        data = self.cleaned_data
        return Buyer(
            name=data["buyer_name"],
            email=data["buyer_email"],
            tel=data["buyer_tel"],
            addr=data["buyer_addr"],
            addr_detail=data["buyer_addr_detail"],
            postcode=data["buyer_postcode"],
        )


class OrderLookupForm(forms.Form):
    """An order number (the short one, or the merchant_uid) and the email or phone number the
    order was placed with. Whether they belong together is decided by the view, which says
    the same thing for every wrong guess."""

    number = forms.CharField(
        label=_("주문번호"),
        max_length=60,
        help_text=_("주문 완료 메일에 적힌 번호입니다 (예: 20261202-7K3QX9)."),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "autocapitalize": "characters",
                "spellcheck": "false",
                "placeholder": "20261202-7K3QX9",
            }
        ),
    )
    contact = forms.CharField(
        label=_("이메일 또는 휴대폰 번호"),
        max_length=254,
        help_text=_("주문할 때 입력하신 이메일이나 휴대폰 번호를 입력해 주세요."),
        widget=forms.TextInput(
            attrs={"autocomplete": "email", "placeholder": _("you@example.com 또는 010-1234-5678")}
        ),
    )

    def clean_number(self) -> str:
        """The short number as stored ("20261202 7k3qx9" -> "20261202-7K3QX9"), or a
        merchant_uid as given. A typo in the format is the buyer's to fix and says nothing
        about any order."""
        raw = self.cleaned_data["number"]
        reference = normalise_order_number(raw) or raw.strip()
        if not (normalise_order_number(reference) or is_merchant_uid(reference)):
            raise forms.ValidationError(
                _("주문번호를 확인해 주세요. 예: 20261202-7K3QX9"), code="format"
            )
        return reference
