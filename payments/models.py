"""Records of what Iamport told us: payments, refunds and webhook deliveries.

These are financial records: they are written only by `payments.services` and are read-only in
the admin. Amounts are whole won.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from shop.models import Order


class Payment(models.Model):
    """One Iamport payment attempt (`imp_uid`) for an order, as last fetched from Iamport."""

    class Status(models.TextChoices):
        READY = "ready", "미결제 / 입금 대기"
        PAID = "paid", "결제 완료"
        CANCELLED = "cancelled", "취소"
        FAILED = "failed", "실패"

    class Verdict(models.TextChoices):
        """What the shop decided about this payment."""

        PENDING = "", "판정 전"
        ACCEPTED = "accepted", "주문에 반영"
        FORGED = "forged", "위변조 의심 (금액 불일치) — 취소"
        DUPLICATE = "duplicate", "중복 결제 — 취소"
        UNFULFILLABLE = "unfulfillable", "재고 부족 — 취소"
        # PortOne V2: paid through a TEST channel in a live shop (PORTONE_ALLOW_TEST_CHANNEL).
        TEST_CHANNEL = "test_channel", "테스트 채널 결제 — 취소"
        FAILED = "failed", "결제 실패"

    class Api(models.TextChoices):
        """Which PortOne API the payment was made and is looked up through."""

        V1 = "v1", "PortOne V1 (아임포트)"
        V2 = "v2", "PortOne V2"

    imp_uid = models.CharField("아임포트 거래번호", max_length=64, unique=True)
    api = models.CharField("PortOne API", max_length=2, choices=Api.choices, default=Api.V1)
    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    merchant_uid = models.CharField("주문번호", max_length=40, db_index=True)
    amount = models.PositiveBigIntegerField("결제 금액 (원)")
    cancel_amount = models.PositiveBigIntegerField("취소 금액 (원)", default=0)
    # Cancels PortOne (V2) took that the PG has not finished: not given back yet.
    cancel_pending = models.PositiveBigIntegerField("PG 처리 중인 취소 금액 (원)", default=0)
    status = models.CharField("아임포트 상태", max_length=20, choices=Status.choices)
    verdict = models.CharField(
        "판정", max_length=20, choices=Verdict.choices, blank=True, default=Verdict.PENDING
    )
    verdict_reason = models.CharField("판정 사유", max_length=255, blank=True)
    pay_method = models.CharField("결제 수단", max_length=20, blank=True)
    pg_provider = models.CharField("PG사", max_length=30, blank=True)
    pg_tid = models.CharField("PG 거래번호", max_length=100, blank=True)
    receipt_url = models.URLField("영수증", max_length=500, blank=True)
    fail_reason = models.CharField("실패 사유", max_length=255, blank=True)
    vbank_name = models.CharField("가상계좌 은행", max_length=50, blank=True)
    vbank_num = models.CharField("가상계좌 번호", max_length=50, blank=True)
    vbank_holder = models.CharField("예금주", max_length=50, blank=True)
    vbank_date = models.DateTimeField("입금 기한", null=True, blank=True)
    paid_at = models.DateTimeField("결제일시", null=True, blank=True)
    failed_at = models.DateTimeField("실패일시", null=True, blank=True)
    cancelled_at = models.DateTimeField("취소일시", null=True, blank=True)
    # Set by the one request that cancels a rejected payment at Iamport, so that concurrent
    # deliveries of the same payment leave the cancel to it.
    cancel_requested_at = models.DateTimeField("취소 요청일시", null=True, blank=True)
    raw = models.JSONField("아임포트 응답 원문", default=dict)
    created_at = models.DateTimeField("기록일시", auto_now_add=True)
    updated_at = models.DateTimeField("갱신일시", auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "결제"
        verbose_name_plural = "결제"
        permissions = [("refund_payment", "Can refund payments through Iamport")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(cancel_amount__lte=models.F("amount")),
                name="payment_cancel_within_amount",
            ),
            # An order is settled by one payment; any other one is a duplicate to give back.
            models.UniqueConstraint(
                fields=["order"],
                condition=models.Q(verdict="accepted"),
                name="one_accepted_payment_per_order",
            ),
        ]

    def __str__(self) -> str:
        return self.imp_uid

    @property
    def refundable_amount(self) -> int:
        return max(self.amount - self.cancel_amount, 0)

    @property
    def refund_offer(self) -> int:
        """What a new refund may ask for: the refundable amount less the cancels the PG is
        still making (PortOne V2), which will give that money back already."""
        return max(self.refundable_amount - self.cancel_pending, 0)

    @property
    def holds_money(self) -> bool:
        """What Iamport last said still holds something: money, or an open virtual account
        (as `IamportPayment.holds_money`, for the stored record)."""
        if self.status == self.Status.PAID:
            return self.refundable_amount > 0
        return self.status == self.Status.READY and bool(self.vbank_num)


class Refund(models.Model):
    """One cancel (refund) this shop asked Iamport for."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "요청 중"
        SUCCEEDED = "succeeded", "완료"
        FAILED = "failed", "실패"
        UNKNOWN = "unknown", "확인 필요 (응답 없음)"

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.PositiveBigIntegerField("환불 금액 (원)")
    checksum = models.PositiveBigIntegerField("요청 시 환불 가능 잔액 (원)")
    reason = models.CharField("사유", max_length=255)
    status = models.CharField("결과", max_length=20, choices=Status.choices)
    message = models.CharField("아임포트 메시지", max_length=255, blank=True)
    # One key per refund form: a second submit of the same form finds this row and stops.
    request_key = models.CharField("요청 키", max_length=64, unique=True, null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    cancellation_id = models.CharField("취소 거래 ID", max_length=100, blank=True)
    receipt_url = models.URLField("취소 영수증", max_length=500, blank=True)
    raw = models.JSONField("아임포트 응답 원문", default=dict, blank=True)
    created_at = models.DateTimeField("요청일시", auto_now_add=True)
    # When Iamport cancelled (its cancel_history), which is the day the refund belongs to in
    # the sales figures: a cancel made in Iamport's console is recorded here only when a later
    # sync finds it. Empty on refunds recorded before this was kept, and while in flight.
    cancelled_at = models.DateTimeField(_("취소일시 (아임포트)"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "환불"
        verbose_name_plural = "환불"

    def __str__(self) -> str:
        return f"{self.payment.imp_uid} -{self.amount:,}원"


class WebhookDelivery(models.Model):
    """A webhook as it arrived, stored before it is processed, with what came of it."""

    class Outcome(models.TextChoices):
        RECEIVED = "received", "수신"
        PROCESSED = "processed", "처리됨"
        IGNORED = "ignored", "무시 (우리 주문 아님 / 중복)"
        REJECTED = "rejected", "거부 (읽을 수 없음)"
        ERROR = "error", "오류 (재시도 필요)"

    received_at = models.DateTimeField("수신일시", auto_now_add=True, db_index=True)
    remote_addr = models.GenericIPAddressField("보낸 주소", null=True, blank=True)
    headers = models.JSONField("헤더", default=dict)
    body = models.TextField("본문", blank=True)
    imp_uid = models.CharField(max_length=64, blank=True, db_index=True)
    merchant_uid = models.CharField(max_length=40, blank=True, db_index=True)
    status_hint = models.CharField("본문의 status", max_length=20, blank=True)
    # PortOne V2 deliveries are signed; `webhook-id` (kept once the signature holds) makes a
    # repeated delivery of one message a no-op.
    api = models.CharField(
        "PortOne API", max_length=2, choices=Payment.Api.choices, default=Payment.Api.V1
    )
    webhook_id = models.CharField("webhook-id", max_length=100, blank=True, db_index=True)
    outcome = models.CharField(
        "결과", max_length=20, choices=Outcome.choices, default=Outcome.RECEIVED
    )
    detail = models.TextField("처리 내용", blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        verbose_name = "웹훅 수신 기록"
        verbose_name_plural = "웹훅 수신 기록"

    def __str__(self) -> str:
        received = timezone.localtime(self.received_at)  # shown in the admin: the shop's time
        return f"{received:%Y-%m-%d %H:%M} {self.imp_uid or '-'} {self.outcome}"
