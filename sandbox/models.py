"""What the sandbox remembers: tokens, payments, cancellations, prepared amounts, webhooks.

These tables play Iamport's side of the conversation. Amounts are whole won. They are written
only by `sandbox.services` and `sandbox.webhooks`.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class SandboxToken(models.Model):
    """An access token handed out by `POST users/getToken`."""

    access_token = models.CharField(max_length=64, unique=True)
    imp_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "액세스 토큰"
        verbose_name_plural = "액세스 토큰"

    def __str__(self) -> str:
        return f"{self.access_token[:8]}… (~{self.expires_at:%Y-%m-%d %H:%M})"


class SandboxPrepare(models.Model):
    """An amount pre-registered for a merchant_uid (`POST /payments/prepare`)."""

    merchant_uid = models.CharField(max_length=40, unique=True)
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3, default="KRW")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "사전 등록 금액"
        verbose_name_plural = "사전 등록 금액"

    def __str__(self) -> str:
        return f"{self.merchant_uid}: {self.amount:,}원"


class SandboxPayment(models.Model):
    """One payment attempt (`imp_uid`), started by `IMP.request_pay` in a browser."""

    class Status(models.TextChoices):
        READY = "ready", "미결제"
        PAID = "paid", "결제완료"
        CANCELLED = "cancelled", "결제취소"
        FAILED = "failed", "결제실패"

    imp_uid = models.CharField(max_length=32, unique=True)
    merchant_uid = models.CharField(max_length=40, db_index=True)
    merchant_code = models.CharField("가맹점 식별코드", max_length=40, blank=True)
    amount = models.PositiveBigIntegerField()
    cancel_amount = models.PositiveBigIntegerField(default=0)
    currency = models.CharField(max_length=3, default="KRW")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.READY)

    pay_method = models.CharField(max_length=20)
    pg_provider = models.CharField(max_length=40)
    pg_id = models.CharField(max_length=80, blank=True)
    pg_tid = models.CharField(max_length=64, blank=True)
    channel = models.CharField(max_length=10, default="pc")  # pc | mobile
    apply_num = models.CharField(max_length=20, blank=True)
    card_code = models.CharField(max_length=10, blank=True)
    card_name = models.CharField(max_length=40, blank=True)
    card_number = models.CharField(max_length=20, blank=True)
    bank_code = models.CharField(max_length=10, blank=True)
    bank_name = models.CharField(max_length=40, blank=True)

    name = models.CharField(max_length=200, blank=True)
    buyer_name = models.CharField(max_length=100, blank=True)
    buyer_email = models.CharField(max_length=200, blank=True)
    buyer_tel = models.CharField(max_length=40, blank=True)
    buyer_addr = models.CharField(max_length=300, blank=True)
    buyer_postcode = models.CharField(max_length=20, blank=True)
    custom_data = models.TextField(blank=True)  # a JSON string, as Iamport returns it
    user_agent = models.CharField(max_length=500, blank=True)
    notice_url = models.CharField(max_length=500, blank=True)
    m_redirect_url = models.CharField(max_length=1000, blank=True)

    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    fail_code = models.CharField(max_length=20, blank=True)  # the PG's code, for the browser
    fail_reason = models.CharField(max_length=200, blank=True)
    cancel_reason = models.CharField(max_length=200, blank=True)

    # Virtual account: the requested deadline, then what was issued.
    vbank_due = models.DateTimeField(null=True, blank=True)
    vbank_code = models.CharField(max_length=10, blank=True)
    vbank_name = models.CharField(max_length=40, blank=True)
    vbank_num = models.CharField(max_length=32, blank=True)
    vbank_holder = models.CharField(max_length=100, blank=True)
    vbank_date = models.DateTimeField(null=True, blank=True)
    vbank_issued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name = "결제"
        verbose_name_plural = "결제"

    def __str__(self) -> str:
        return f"{self.imp_uid} ({self.merchant_uid}, {self.get_status_display()})"

    @property
    def is_vbank_issued(self) -> bool:
        return self.vbank_issued_at is not None

    @property
    def is_open(self) -> bool:
        """True while the payment window may still approve, decline or close it."""
        return self.status == self.Status.READY and not self.is_vbank_issued

    @property
    def is_awaiting_deposit(self) -> bool:
        return self.status == self.Status.READY and self.is_vbank_issued

    @property
    def remaining_amount(self) -> int:
        """What a cancel may still take back (the expected `checksum`)."""
        return max(self.amount - self.cancel_amount, 0)

    @property
    def is_cancellable(self) -> bool:
        return self.remaining_amount > 0 and (
            self.status == self.Status.PAID or self.is_awaiting_deposit
        )


class SandboxCancellation(models.Model):
    """One (partial) cancellation: an entry of the payment's `cancel_history`."""

    class Source(models.TextChoices):
        API = "api", "REST API"
        CONSOLE = "console", "콘솔"

    payment = models.ForeignKey(
        SandboxPayment, on_delete=models.CASCADE, related_name="cancellations"
    )
    cancellation_id = models.CharField(max_length=40, unique=True)
    amount = models.PositiveBigIntegerField()
    reason = models.CharField(max_length=200, blank=True)
    pg_tid = models.CharField(max_length=64)
    cancelled_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.API)
    refund_holder = models.CharField(max_length=100, blank=True)
    refund_bank = models.CharField(max_length=10, blank=True)
    refund_account = models.CharField(max_length=40, blank=True)
    refund_tel = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["cancelled_at", "id"]
        verbose_name = "취소 내역"
        verbose_name_plural = "취소 내역"

    def __str__(self) -> str:
        return f"{self.cancellation_id}: {self.amount:,}원"


class SandboxWebhookDelivery(models.Model):
    """One webhook POST to the shop, and what the shop answered."""

    class Outcome(models.TextChoices):
        PENDING = "pending", "전송 중"
        DELIVERED = "delivered", "성공 (2xx)"
        REJECTED = "rejected", "실패 응답"
        ERROR = "error", "전송 오류"

    payment = models.ForeignKey(
        SandboxPayment, on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    trigger = models.CharField(max_length=40)  # what caused it: paid, vbank_issued, ...
    url = models.CharField(max_length=500)
    body = models.JSONField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices, default=Outcome.PENDING)
    http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "웹훅 전송"
        verbose_name_plural = "웹훅 전송"

    def __str__(self) -> str:
        return f"{self.trigger} → {self.url} ({self.get_outcome_display()})"
