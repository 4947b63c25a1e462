"""What the sandbox remembers: tokens, payments, cancellations, prepared amounts, webhooks.

These tables play Iamport's (V1) and PortOne V2's side of the conversation alike: a payment,
a pre-registered amount and a webhook delivery say which API they belong to (`api`), and each
API's REST paths only see their own. Amounts are whole won. They are written only by
`sandbox.services` and `sandbox.webhooks`.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Api(models.TextChoices):
    """Which of PortOne's APIs a record belongs to: Iamport (V1) or PortOne V2."""

    V1 = "v1", "V1"
    V2 = "v2", "V2"


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
    """An amount pre-registered for a merchant_uid (V1 `POST /payments/prepare`) or a
    paymentId (V2 `POST /payments/{paymentId}/pre-register`)."""

    api = models.CharField(max_length=2, choices=Api.choices, default=Api.V1)
    merchant_uid = models.CharField(max_length=40)
    amount = models.PositiveBigIntegerField()
    currency = models.CharField(max_length=3, default="KRW")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["api", "merchant_uid"], name="sandbox_prepare_once")
        ]
        verbose_name = "사전 등록 금액"
        verbose_name_plural = "사전 등록 금액"

    def __str__(self) -> str:
        return f"{self.merchant_uid}: {self.amount:,}원"


class SandboxPayment(models.Model):
    """One payment attempt, started in a browser by `IMP.request_pay` (V1) or
    `PortOne.requestPayment` (V2).

    Both APIs share the record and its lifecycle. For V2, `imp_uid` holds the attempt's
    `transactionId` (the browser's `txId`, a UUID), `merchant_uid` the merchant's `paymentId`,
    `pay_method` the V1 code of the V2 `payMethod` (CARD -> card, ...), `channel` the platform
    (pc | mobile), and `m_redirect_url` the `redirectUrl` only when the window runs in
    redirect mode.
    """

    class Status(models.TextChoices):
        READY = "ready", "미결제"
        PAID = "paid", "결제완료"
        CANCELLED = "cancelled", "결제취소"
        FAILED = "failed", "결제실패"

    api = models.CharField(max_length=2, choices=Api.choices, default=Api.V1, db_index=True)
    imp_uid = models.CharField(max_length=40, unique=True)
    merchant_uid = models.CharField(max_length=40, db_index=True)
    merchant_code = models.CharField("가맹점 식별코드", max_length=40, blank=True)
    store_id = models.CharField(max_length=100, blank=True)  # V2 storeId
    channel_key = models.CharField(max_length=200, blank=True)  # V2 channelKey
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
    notice_urls = models.JSONField(default=list, blank=True)  # V2 noticeUrls, resolved
    ip_address = models.CharField(max_length=45, blank=True)  # the buyer's, for V2 `origin`
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

    # V2 only, set in the console: the PG takes this payment's cancels but finishes them later
    # (PortOne answers a REQUESTED cancellation), until the console completes or fails them.
    pg_cancels_later = models.BooleanField("PG가 취소를 나중에 처리", default=False)

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
        """What has not been cancelled yet (the expected `checksum`, V2's
        currentCancellableAmount): cancels the PG is still making are not counted."""
        return max(self.amount - self.cancel_amount, 0)

    @property
    def cancel_pending(self) -> int:
        """What cancels the PG has taken but not finished (V2, REQUESTED) will give back."""
        return sum(
            c.amount
            for c in self.cancellations.all()
            if c.status == SandboxCancellation.Status.REQUESTED
        )

    @property
    def cancellable_now(self) -> int:
        """What a new cancel may take: the remaining amount less the cancels in progress."""
        return max(self.remaining_amount - self.cancel_pending, 0)

    @property
    def is_cancellable(self) -> bool:
        return self.cancellable_now > 0 and (
            self.status == self.Status.PAID or self.is_awaiting_deposit
        )

    @property
    def v2_status(self) -> str:
        """The status PortOne V2 reports for this attempt (READY, VIRTUAL_ACCOUNT_ISSUED, PAID,
        PARTIAL_CANCELLED, FAILED, CANCELLED): V2 names what V1 folds into `ready`/`paid`."""
        if self.status == self.Status.READY:
            return "VIRTUAL_ACCOUNT_ISSUED" if self.is_vbank_issued else "READY"
        if self.status == self.Status.PAID:
            return "PARTIAL_CANCELLED" if self.cancel_amount else "PAID"
        return str(self.status).upper()


class SandboxCancellation(models.Model):
    """One (partial) cancellation: an entry of the payment's `cancel_history` once it has
    succeeded. A V2 payment whose PG cancels later has it REQUESTED first (its amount not yet
    in the payment's `cancel_amount`), then SUCCEEDED or FAILED from the console."""

    class Source(models.TextChoices):
        API = "api", "REST API"
        CONSOLE = "console", "콘솔"

    class Status(models.TextChoices):
        SUCCEEDED = "SUCCEEDED", "완료"
        REQUESTED = "REQUESTED", "PG 처리 중"
        FAILED = "FAILED", "실패"

    payment = models.ForeignKey(
        SandboxPayment, on_delete=models.CASCADE, related_name="cancellations"
    )
    cancellation_id = models.CharField(max_length=40, unique=True)
    amount = models.PositiveBigIntegerField()
    reason = models.CharField(max_length=500, blank=True)
    pg_tid = models.CharField(max_length=64)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SUCCEEDED)
    requested_at = models.DateTimeField(default=timezone.now)
    # When it succeeded (or failed); while REQUESTED, when it was asked for.
    cancelled_at = models.DateTimeField(default=timezone.now)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.API)
    refund_holder = models.CharField(max_length=100, blank=True)
    refund_bank = models.CharField(max_length=40, blank=True)  # V1 "088", V2 "SHINHAN"
    refund_account = models.CharField(max_length=40, blank=True)
    refund_tel = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["requested_at", "id"]
        verbose_name = "취소 내역"
        verbose_name_plural = "취소 내역"

    def __str__(self) -> str:
        return f"{self.cancellation_id}: {self.amount:,}원"


class SandboxIdempotencyKey(models.Model):
    """A V2 cancel's `Idempotency-Key` and the cancellation it made: a repeat with the same key
    answers that cancellation again instead of cancelling twice, for as long as PortOne keeps a
    key (`services.IDEMPOTENCY_KEY_KEPT`)."""

    key = models.CharField(max_length=256, unique=True)
    payment = models.ForeignKey(SandboxPayment, on_delete=models.CASCADE, related_name="+")
    cancellation = models.OneToOneField(
        SandboxCancellation, on_delete=models.CASCADE, related_name="idempotency_key"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "멱등 키"
        verbose_name_plural = "멱등 키"

    def __str__(self) -> str:
        return f"{self.key[:16]}… → {self.cancellation_id}"


class SandboxWebhookDelivery(models.Model):
    """One webhook POST to the shop, and what the shop answered.

    A V2 delivery is one Standard Webhooks message: `webhook_id` names it, `raw_body` is the
    exact text signed and sent, `request_headers` the headers it went out with.
    """

    class Outcome(models.TextChoices):
        PENDING = "pending", "전송 중"
        DELIVERED = "delivered", "성공 (2xx)"
        REJECTED = "rejected", "실패 응답"
        ERROR = "error", "전송 오류"

    payment = models.ForeignKey(
        SandboxPayment, on_delete=models.CASCADE, related_name="webhook_deliveries"
    )
    api = models.CharField(max_length=2, choices=Api.choices, default=Api.V1)
    trigger = models.CharField(max_length=40)  # what caused it: paid, vbank_issued, ...
    url = models.CharField(max_length=500)
    body = models.JSONField()
    webhook_id = models.CharField(max_length=64, blank=True)
    raw_body = models.TextField(blank=True)
    request_headers = models.JSONField(default=dict, blank=True)
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
