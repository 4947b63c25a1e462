"""PortOne V1 (Iamport) and V2 behind the few questions the payment services ask.

The services decide; a gateway only talks to one API and answers in the shop's own types: the
payment as an `IamportPayment`, failures as the `payments.client` exception tree. So every rule
of the sync, the cancels and the refunds is written once and holds for both APIs.

- `gateway()` is the API new payments go through (`PAYMENTS_API`);
- `gateway_of(payment)` is the one a stored payment was made through (`Payment.api`), so that a
  V1 payment is still looked up and refunded through V1 after the shop switched to V2.

How the two differ underneath: V1 looks a payment up by its attempt (`imp_uid`), V2 by the
shop's id (`paymentId`, the order's `merchant_uid`), whose newest attempt PortOne answers
with. A V1 cancel answers with the updated payment; a V2 cancel answers with the cancellation
alone (whose id is kept), so the payment is read again for the writer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings

from payments import banks, portone_v2
from payments import client as v1
from payments.client import (
    IamportBadResponse,
    IamportNotFound,
    IamportPayment,
    IamportRejected,
)
from payments.models import Payment

Api = Payment.Api


class CancelPending(IamportBadResponse):
    """PortOne took the cancel but the PG has not finished it (V2 `REQUESTED`): the outcome
    arrives later, by webhook or the next lookup. `cancellation_id` is PortOne's id of it."""

    def __init__(self, message: str, *, cancellation_id: str) -> None:
        super().__init__(message)
        self.cancellation_id = cancellation_id


class AttemptReplaced(IamportNotFound):
    """PortOne V2 now answers the paymentId with another attempt than the stored one: the
    stored attempt can no longer be read or cancelled by itself."""


@dataclass(frozen=True)
class Cancelled:
    """A cancel's answer: the payment after it, and the id the API gave the cancel it made
    (PortOne V2; Iamport V1 answers with the payment alone: "")."""

    payment: IamportPayment
    cancellation_id: str = ""


class Gateway(Protocol):
    api: Api

    def find(self, ref: str) -> IamportPayment:
        """The payment `ref` names (V1: imp_uid, V2: paymentId); IamportNotFound if none."""
        ...

    def find_record(self, payment: Payment) -> IamportPayment:
        """The stored payment as the API shows it now (AttemptReplaced: not any more)."""
        ...

    def find_for_order(self, merchant_uid: str) -> IamportPayment | None:
        """The order's payment that matters (a paid attempt first), None when it has none."""
        ...

    def cancel(
        self,
        *,
        imp_uid: str,
        merchant_uid: str,
        amount: int,
        checksum: int,
        reason: str,
        key: str,
        refund_account: Mapping[str, str] | None = None,
    ) -> Cancelled:
        """Cancel `amount` won of the attempt `imp_uid` of order `merchant_uid`, with the
        balance `checksum` as the guard; the updated payment, and the cancel's id if any.

        `key` identifies this one request (V2 sends it as the Idempotency-Key); a refund
        account is given in the refund form's fields (`refund_holder`, `refund_bank`, ...)."""
        ...

    def prepare(self, *, merchant_uid: str, amount: int) -> int:
        """Register the amount to expect; the amount registered."""
        ...


class IamportGateway:
    """PortOne V1, `api.iamport.kr`."""

    api = Api.V1

    def find(self, ref: str) -> IamportPayment:
        return v1.get_client().find_by_imp_uid(ref)

    def find_record(self, payment: Payment) -> IamportPayment:
        return self.find(payment.imp_uid)

    def find_for_order(self, merchant_uid: str) -> IamportPayment | None:
        client = v1.get_client()
        try:
            # A paid attempt wins over a newer failed or abandoned one.
            return client.find_by_merchant_uid(merchant_uid, status="paid")
        except IamportNotFound:
            try:
                return client.find_by_merchant_uid(merchant_uid)
            except IamportNotFound:
                return None

    def cancel(
        self,
        *,
        imp_uid: str,
        merchant_uid: str,
        amount: int,
        checksum: int,
        reason: str,
        key: str,
        refund_account: Mapping[str, str] | None = None,
    ) -> Cancelled:
        updated = v1.get_client().cancel(
            imp_uid=imp_uid,
            merchant_uid=merchant_uid,
            amount=amount,
            checksum=checksum,
            reason=reason,
            extra=dict(refund_account) if refund_account else None,
        )
        return Cancelled(updated)

    def prepare(self, *, merchant_uid: str, amount: int) -> int:
        """Safe to repeat: an existing registration is read back and corrected if it differs."""
        client = v1.get_client()
        try:
            return client.prepare(merchant_uid=merchant_uid, amount=amount).amount
        except IamportRejected as exc:
            if isinstance(exc, IamportNotFound):
                raise
            try:
                existing = client.find_prepared(merchant_uid)
            except IamportNotFound:
                raise exc from None
        if existing.amount != amount:
            return client.prepare_update(merchant_uid=merchant_uid, amount=amount).amount
        return existing.amount


class PortOneGateway:
    """PortOne V2, `api.portone.io`."""

    api = Api.V2

    def find(self, ref: str) -> IamportPayment:
        return portone_v2.get_client().get_payment(ref)

    def find_record(self, payment: Payment) -> IamportPayment:
        remote = self.find(payment.merchant_uid)
        if remote.imp_uid != payment.imp_uid:
            raise AttemptReplaced(
                f"{payment.merchant_uid} is now attempt {remote.imp_uid}, not {payment.imp_uid}",
                code=None,
                http_status=404,
            )
        return remote

    def find_for_order(self, merchant_uid: str) -> IamportPayment | None:
        # PortOne answers a paymentId with its one attempt that can succeed (or the newest).
        return portone_v2.get_client().find_payment(merchant_uid)

    def cancel(
        self,
        *,
        imp_uid: str,
        merchant_uid: str,
        amount: int,
        checksum: int,
        reason: str,
        key: str,
        refund_account: Mapping[str, str] | None = None,
    ) -> Cancelled:
        client = portone_v2.get_client()
        cancellation = client.cancel(
            merchant_uid,
            amount=amount,
            reason=reason,
            current_cancellable_amount=checksum,
            refund_account=_v2_refund_account(refund_account),
            idempotency_key=key,
        )
        if cancellation.status == "FAILED":
            raise portone_v2.PortOneRejected(
                "the PG refused the cancel", error_type="CANCELLATION_FAILED", http_status=200
            )
        if cancellation.status == "REQUESTED":
            raise CancelPending(
                "PortOne accepted the cancel; the PG has not finished it yet",
                cancellation_id=cancellation.id,
            )
        # The payment read after it may not show this cancel yet: its id names it when it does.
        return Cancelled(self.find(merchant_uid), cancellation.id)

    def prepare(self, *, merchant_uid: str, amount: int) -> int:
        portone_v2.get_client().pre_register(merchant_uid, total_amount=amount)
        return amount


def _v2_refund_account(fields: Mapping[str, str] | None) -> dict[str, str] | None:
    """The refund form's account as V2's `refundAccount`."""
    if not fields:
        return None
    account = {
        "bank": banks.v2_code(fields["refund_bank"]),
        "number": fields["refund_account"],
        "holderName": fields["refund_holder"],
    }
    if fields.get("refund_tel"):
        account["holderPhoneNumber"] = fields["refund_tel"]
    return account


GATEWAYS: dict[str, Gateway] = {Api.V1: IamportGateway(), Api.V2: PortOneGateway()}


def is_configured(api: str) -> bool:
    """Whether the shop holds credentials for `api`. A payment of an API it holds none for
    cannot be verified here: asking would only fail, and the request is the caller's mistake."""
    if api == Api.V2:
        return bool(settings.PORTONE_API_SECRET)
    return bool(settings.IAMPORT_API_KEY and settings.IAMPORT_API_SECRET)


def gateway() -> Gateway:
    """The API the shop takes new payments through."""
    return GATEWAYS[settings.PAYMENTS_API]


def gateway_of(payment: Payment) -> Gateway:
    """The API this payment was made through, and is looked up and refunded through."""
    return GATEWAYS[payment.api or Api.V1]
