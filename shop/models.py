"""Catalogue and orders. Amounts are whole won in integer fields; nothing here knows Iamport."""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from shop.ids import new_order_number


class Product(models.Model):
    name = models.CharField("상품명", max_length=100)
    description = models.TextField("설명", blank=True)
    price = models.PositiveBigIntegerField("가격 (원)", validators=[MinValueValidator(100)])
    stock = models.PositiveIntegerField("재고", default=0)
    is_active = models.BooleanField("판매 중", default=True)
    image = models.ImageField("이미지", upload_to="products/", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        verbose_name = "상품"
        verbose_name_plural = "상품"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("shop:product_detail", args=[self.pk])

    @property
    def in_stock(self) -> bool:
        return self.stock > 0


def new_merchant_uid() -> str:
    """An unguessable order number: date for humans, 128 random bits for safety (33 chars)."""
    return f"o{timezone.localdate():%Y%m%d}{secrets.token_hex(12)}"


def new_number() -> str:
    """The short order number people read (see `shop.ids`)."""
    return new_order_number(timezone.localdate())


class Order(models.Model):
    class Status(models.TextChoices):
        # Shown to buyers on the order pages: translated into the page's language.
        PENDING = "pending", _("결제 대기")
        AWAITING_DEPOSIT = "awaiting_deposit", _("입금 대기")
        PAID = "paid", _("결제 완료")
        PARTIALLY_REFUNDED = "partially_refunded", _("부분 환불")
        REFUNDED = "refunded", _("환불 완료")
        CANCELLED = "cancelled", _("주문 취소")
        FAILED = "failed", _("주문 실패")

    merchant_uid = models.CharField(
        "주문번호", max_length=40, unique=True, default=new_merchant_uid
    )
    # Shown to people and typed by them (mails, guest lookup, admin search); unique, short.
    number = models.CharField("주문번호 (표시용)", max_length=20, unique=True, default=new_number)
    status = models.CharField(
        "상태", max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    amount = models.PositiveBigIntegerField("결제 금액 (원)")
    refunded_amount = models.PositiveBigIntegerField("환불 금액 (원)", default=0)
    pay_method = models.CharField("결제 수단", max_length=20)
    buyer_name = models.CharField("주문자", max_length=50)
    buyer_email = models.EmailField("이메일")
    buyer_tel = models.CharField("연락처", max_length=20)
    buyer_addr = models.CharField("주소", max_length=200)
    buyer_addr_detail = models.CharField("상세주소", max_length=100, blank=True)
    buyer_postcode = models.CharField("우편번호", max_length=10)
    # Why the order is where it is, for the buyer (e.g. the PG's message after a declined card).
    status_message = models.CharField("상태 메시지", max_length=255, blank=True)
    # Virtual account (무통장입금) issued for this order, shown to the buyer until the deposit.
    deposit_bank = models.CharField("입금 은행", max_length=50, blank=True)
    deposit_account = models.CharField("입금 계좌", max_length=50, blank=True)
    deposit_holder = models.CharField("예금주", max_length=50, blank=True)
    deposit_due = models.DateTimeField("입금 기한", null=True, blank=True)
    stock_taken = models.BooleanField("재고 차감됨", default=False)
    # The language the buyer shopped in (a code of settings.LANGUAGES): their mails use it.
    language = models.CharField("언어", max_length=8, default="ko")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField("주문일시", auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    paid_at = models.DateTimeField("결제일시", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "주문"
        verbose_name_plural = "주문"
        constraints = [
            models.CheckConstraint(
                condition=models.Q(refunded_amount__lte=models.F("amount")),
                name="order_refund_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return self.merchant_uid

    def get_absolute_url(self) -> str:
        return reverse("shop:order_detail", args=[self.merchant_uid])

    @property
    def name(self) -> str:
        """The order's name for the payment window (<= 40 chars): "첫 상품 외 N건"."""
        return order_title([line.product_name for line in self.lines.all()])

    @property
    def full_addr(self) -> str:
        """The address as one line: the street address, then 상세주소 when given."""
        return f"{self.buyer_addr} {self.buyer_addr_detail}".strip()

    @property
    def is_payable(self) -> bool:
        return self.status == self.Status.PENDING

    @property
    def is_refundable(self) -> bool:
        """Paid, and not everything given back yet."""
        return self.status in (self.Status.PAID, self.Status.PARTIALLY_REFUNDED)

    @property
    def refundable_amount(self) -> int:
        return self.amount - self.refunded_amount


def order_title(product_names: Sequence[str]) -> str:
    """An order's name from its lines' product names (<= 40 chars, as the payment window takes
    it): "첫 상품 외 N건"."""
    if not product_names:
        return gettext("주문")
    first = product_names[0]
    rest = len(product_names) - 1
    suffix = ngettext(" 외 %(rest)d건", " 외 %(rest)d건", rest) % {"rest": rest} if rest else ""
    room = 40 - len(suffix)
    if len(first) > room:
        first = first[: room - 1] + "…"
    return first + suffix


class OrderLine(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_lines")
    # Snapshots: what the buyer saw when ordering, whatever happens to the product later.
    product_name = models.CharField("상품명", max_length=100)
    unit_price = models.PositiveBigIntegerField("단가 (원)")
    quantity = models.PositiveIntegerField("수량", validators=[MinValueValidator(1)])

    class Meta:
        ordering = ["id"]
        verbose_name = "주문 상품"
        verbose_name_plural = "주문 상품"

    def __str__(self) -> str:
        return f"{self.product_name} × {self.quantity}"

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity


class OutgoingMail(models.Model):
    """A mail to a buyer, written in the same transaction as the change it reports.

    So it is never lost (the process may die right after the commit) and never sent for a
    change that was rolled back; `key` makes each mail exist once. Sent after commit in debug,
    otherwise by the worker step (`manage.py sync_payments`), off every request's path.

    What the mail reports is fixed when it is written: its `kind` and the `facts` of that
    moment (amounts, lines, an account), with the buyer's `language`. The words are rendered
    from them when it is sent (`shop.mail`), and kept then in `subject`, `body` and
    `html_body` as they went out. A mail without a kind was written out in full beforehand.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "발송 대기"
        SENT = "sent", "발송 완료"
        FAILED = "failed", "발송 실패 (재시도 중단)"

    key = models.CharField("식별 키", max_length=100, unique=True)
    order = models.ForeignKey(
        Order, null=True, blank=True, on_delete=models.SET_NULL, related_name="mails"
    )
    to = models.EmailField("받는 사람", max_length=254)
    # Which of the buyer's mails (shop.mail.SUBJECTS), what it reports, and in which language.
    kind = models.CharField("종류", max_length=30, blank=True)
    language = models.CharField("언어", max_length=8, blank=True)
    facts = models.JSONField("내용", default=dict, blank=True)
    subject = models.CharField("제목", max_length=255, blank=True)
    body = models.TextField("본문", blank=True)
    # The same mail as HTML, sent beside the plain text (mail readers show the one they can).
    html_body = models.TextField("HTML 본문", blank=True)
    status = models.CharField("상태", max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField("발송 시도", default=0)
    last_error = models.CharField("마지막 오류", max_length=500, blank=True)
    next_attempt_at = models.DateTimeField("다음 시도", default=timezone.now)
    created_at = models.DateTimeField("작성일시", auto_now_add=True)
    sent_at = models.DateTimeField("발송일시", null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "발송 메일"
        verbose_name_plural = "발송 메일"
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="mail_due")]

    def __str__(self) -> str:
        return f"{self.key} → {self.to}"
