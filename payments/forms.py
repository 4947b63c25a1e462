"""The admin's refund form: how much, why, and where to send a virtual-account refund."""

from __future__ import annotations

import re
import uuid

from django import forms
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

from payments.banks import BANKS
from shop.templatetags.shop_tags import won

# The standard bank codes, as Iamport takes them for `refund_bank` (PortOne V2 gets its own
# code for the same bank, payments.banks).
BANK_CHOICES = [("", _("은행을 선택하세요")), *((bank.code, bank.name) for bank in BANKS)]

REFUND_ACCOUNT_FIELDS = ("refund_holder", "refund_bank", "refund_account", "refund_tel")


def new_request_key() -> str:
    """One key per rendered form: the refund service refunds each key at most once."""
    return uuid.uuid4().hex


class WonField(forms.IntegerField):
    """A whole number of won; "12,000" and "12,000원" are read as 12000, "12000.5" is refused."""

    def to_python(self, value):
        if isinstance(value, str):
            value = value.strip().removesuffix("원").replace(",", "").strip()
        return super().to_python(value)


class RefundForm(forms.Form):
    amount = WonField(
        label=_("환불 금액 (원)"),
        min_value=1,
        error_messages={
            "invalid": _("환불 금액은 원 단위의 정수로 입력해 주세요."),
            "min_value": _("환불 금액은 1원 이상이어야 합니다."),
        },
    )
    reason = forms.CharField(
        label=_("환불 사유"),
        max_length=255,
        widget=forms.TextInput(attrs={"size": 60}),
        error_messages={"required": _("환불 사유를 입력해 주세요.")},
    )
    refund_holder = forms.CharField(label=_("환불 계좌 예금주"), max_length=50)
    refund_bank = forms.ChoiceField(label=_("환불 계좌 은행"), choices=BANK_CHOICES)
    refund_account = forms.CharField(
        label=_("환불 계좌 번호"),
        max_length=30,
        help_text=_("숫자만 또는 '-'를 넣어 입력하세요."),
    )
    refund_tel = forms.CharField(
        label=_("예금주 연락처"),
        max_length=20,
        validators=[
            RegexValidator(r"^[0-9][0-9-]{7,19}$", _("전화번호는 숫자와 '-'로 입력해 주세요."))
        ],
    )
    request_key = forms.CharField(
        widget=forms.HiddenInput,
        validators=[RegexValidator(r"^[0-9a-f]{32}$", _("잘못된 요청입니다. 다시 시도해 주세요."))],
    )

    def __init__(self, *args, refundable: int, needs_refund_account: bool, **kwargs) -> None:
        initial = kwargs.setdefault("initial", {})
        initial.setdefault("amount", refundable)
        initial.setdefault("request_key", new_request_key())
        super().__init__(*args, **kwargs)
        self.refundable = refundable
        self.fields["amount"].widget.attrs.update({"min": 1, "max": refundable})
        self.fields["amount"].help_text = _("환불 가능 잔액: %(amount)s") % {
            "amount": won(refundable)
        }
        if not needs_refund_account:
            for name in REFUND_ACCOUNT_FIELDS:
                del self.fields[name]

    @property
    def needs_refund_account(self) -> bool:
        return "refund_account" in self.fields

    def request_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in ("amount", "reason")]

    def account_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in REFUND_ACCOUNT_FIELDS if name in self.fields]

    def clean_amount(self) -> int:
        amount = self.cleaned_data["amount"]
        if amount > self.refundable:
            raise forms.ValidationError(
                _("환불 금액 %(amount)s이 환불 가능 잔액 %(balance)s보다 큽니다.")
                % {"amount": won(amount), "balance": won(self.refundable)}
            )
        return amount

    def clean_refund_account(self) -> str:
        digits = re.sub(r"[\s-]", "", self.cleaned_data["refund_account"])
        if not re.fullmatch(r"[0-9]{6,20}", digits):
            raise forms.ValidationError(_("계좌번호는 6~20자리 숫자로 입력해 주세요."))
        return digits

    def refund_account_details(self) -> dict[str, str] | None:
        """The refund account fields as Iamport's cancel call takes them, or None."""
        if not self.needs_refund_account:
            return None
        return {name: self.cleaned_data[name] for name in REFUND_ACCOUNT_FIELDS}
