"""Reads of sandbox records that are more than a one-line queryset."""

from __future__ import annotations

from django.db.models import F, QuerySet
from django.utils import timezone

from sandbox.models import Api, SandboxPayment, SandboxToken

# Iamport's `sorting` values and the order they mean (newest first unless told otherwise).
SORTINGS = {
    "-started": [F("started_at").desc(), F("id").desc()],
    "started": [F("started_at").asc(), F("id").asc()],
    "-paid": [F("paid_at").desc(nulls_last=True), F("id").desc()],
    "paid": [F("paid_at").asc(nulls_last=True), F("id").asc()],
    "-updated": [F("updated_at").desc(), F("id").desc()],
    "updated": [F("updated_at").asc(), F("id").asc()],
}
STATUS_FILTERS = {"", "all", *SandboxPayment.Status.values}


def token_valid(access_token: str) -> SandboxToken | None:
    """The token if it exists and has not expired."""
    if not access_token:
        return None
    return SandboxToken.objects.filter(
        access_token=access_token, expires_at__gt=timezone.now()
    ).first()


def payments_for_merchant_uid(
    merchant_uid: str, *, status: str = "", sorting: str = "-started"
) -> QuerySet[SandboxPayment]:
    """Every V1 attempt for a merchant_uid, optionally of one status, in Iamport's `sorting`.

    `status` must be one of STATUS_FILTERS and `sorting` a key of SORTINGS (checked by the
    caller, which answers 400 otherwise).
    """
    payments = SandboxPayment.objects.filter(api=Api.V1, merchant_uid=merchant_uid)
    if status and status != "all":
        payments = payments.filter(status=status)
    return payments.order_by(*SORTINGS[sorting])


def payment_paid_for_merchant_uid(merchant_uid: str, *, api: str = Api.V1) -> SandboxPayment | None:
    """A payment of `api` that currently holds money for this merchant_uid (`paid`, partly
    cancelled included). A fully cancelled one does not block a new attempt."""
    return (
        SandboxPayment.objects.filter(
            api=api, merchant_uid=merchant_uid, status=SandboxPayment.Status.PAID
        )
        .order_by("-started_at", "-id")
        .first()
    )


def attempts_money_first(payments: QuerySet[SandboxPayment]) -> QuerySet[SandboxPayment]:
    """Attempts ordered as a merchant_uid (paymentId) names them: the one that took money
    first (only one can), then the newest."""
    return payments.order_by(F("paid_at").desc(nulls_last=True), "-started_at", "-id")


def v2_payment(payment_id: str) -> SandboxPayment | None:
    """What PortOne V2 answers for a paymentId: its attempt that was paid, else the newest."""
    attempts = SandboxPayment.objects.filter(api=Api.V2, merchant_uid=payment_id)
    return attempts_money_first(attempts).prefetch_related("cancellations").first()
