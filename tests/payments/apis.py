"""One payment scenario, played against either API: Iamport (PortOne V1) or PortOne V2.

The `api` fixture runs a test once per API, with settings.PAYMENTS_API set to it. Tests describe
payments in Iamport's words (an imp_uid, a merchant_uid, the fields and fixtures of
tests/fixtures/iamport/); `api` registers each payment in the shape of the API under test (for
V2 through tests/portone_fake.py's `payment_from_v1`), syncs it through that API's entry point
(`payment_sync` by imp_uid, `payment_sync_v2` by paymentId), delivers its webhook, answers the
shop's cancels and reports them in one form (`Cancel`).

A V2 paymentId shows one attempt at a time: registering another attempt for the same order
replaces the one shown, and syncing an attempt PortOne no longer shows is a scenario V2 cannot
have, which the V2 side refuses to pretend (tests of such scenarios use `iamport` alone).
"""

from __future__ import annotations

import copy
import itertools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import responses
from django.test import Client

from payments import banks, portone_v2
from payments.client import IamportPayment
from payments.services import SyncResult, payment_sync, payment_sync_v2
from tests.conftest import API as V1_API
from tests.conftest import FakeIamport
from tests.conftest import load_fixture as v1_fixture
from tests.portone_fake import API as V2_API
from tests.portone_fake import (
    FakePortOne,
    cancellation_from_v1,
    payment_from_v1,
    signed_headers,
    webhook_body,
)
from tests.portone_fake import load_fixture as v2_fixture

IMP = "imp_123456789012"
WEBHOOK = "/payments/webhook/"
V2_EVENTS = {
    "READY": "Transaction.Ready",
    "VIRTUAL_ACCOUNT_ISSUED": "Transaction.VirtualAccountIssued",
    "PAID": "Transaction.Paid",
    "FAILED": "Transaction.Failed",
    "PARTIAL_CANCELLED": "Transaction.PartialCancelled",
    "CANCELLED": "Transaction.Cancelled",
}


@dataclass(frozen=True)
class Cancel:
    """A cancel the shop asked for, in either API's terms."""

    imp_uid: str  # the attempt cancelled (V2: the one its paymentId showed when the cancel came)
    merchant_uid: str
    amount: int
    checksum: int | None  # V1 `checksum`, V2 `currentCancellableAmount`
    reason: str
    refund_account: dict[str, str] | None  # {"holder", "bank", "number"}, the API's bank code


def cancelled_v1(payment: dict[str, Any], amount: int, reason: str) -> dict[str, Any]:
    """Iamport's payment object after a successful cancel of `amount`: the figures
    FakeIamport.cancel_ok answers with, so that both APIs show the same cancel."""
    history = payment["cancel_history"]
    new = copy.deepcopy(payment)
    new["cancel_amount"] = payment["cancel_amount"] + amount
    if new["cancel_amount"] >= payment["amount"]:
        new["status"] = "cancelled"
    new["cancel_history"] = [
        *history,
        {
            "pg_tid": payment["pg_tid"],
            "amount": amount,
            "cancelled_at": 1764234000 + len(history),
            "reason": reason,
            "cancellation_id": f"cncl_{len(history) + 1:03d}",
            "receipt_url": "https://iniweb.inicis.com/receipt/cancel",
        },
    ]
    return new


class V1Api:
    """Iamport (PortOne V1), api.iamport.kr: a payment is looked up by its attempt's imp_uid."""

    name = "v1"
    not_found_message = v1_fixture("not_found")["message"]
    # GETs of the payment by its imp_uid when reconciliation syncs an order: none, the order's
    # lookup by merchant_uid (payments/find/...) answers the payment itself.
    lookups_per_reconcile = 0

    def __init__(self, iamport: FakeIamport) -> None:
        self.iamport = iamport

    # --- payments ---------------------------------------------------------------------------
    def payment(
        self,
        merchant_uid: str,
        *,
        imp_uid: str = IMP,
        fixture: str = "payment_paid",
        **fields: Any,
    ) -> dict[str, Any]:
        """Register a payment (an Iamport fixture with `fields` changed); its V1 object."""
        return self.iamport.payment(merchant_uid, imp_uid=imp_uid, fixture=fixture, **fields)

    def replace_payment(self, payment: dict[str, Any], **fields: Any) -> dict[str, Any]:
        """Later lookups show `payment` with `fields` changed."""
        return self.iamport.replace_payment(payment, **fields)

    def not_found(self, imp_uid: str, merchant_uid: str) -> None:
        self.iamport.not_found(imp_uid)

    def unreadable(self, payment: dict[str, Any], exc: Exception) -> None:
        """Later lookups of `payment` raise `exc`."""
        url = V1_API + f"payments/{payment['imp_uid']}"
        self.iamport.rsps.replace(responses.GET, url, body=exc)

    def find(self, merchant_uid: str, *, newest: Any = None, paid: Any = None) -> None:
        """What reconciliation finds for the order: each a payment, an exception or None."""
        self.iamport.find(merchant_uid, newest=newest, paid=paid)

    def sync(self, imp_uid: str = IMP, *, merchant_uid: str | None = None) -> SyncResult:
        return payment_sync(imp_uid=imp_uid, merchant_uid=merchant_uid)

    def webhook(self, imp_uid: str):
        body = json.dumps({"imp_uid": imp_uid})
        return Client().post(WEBHOOK, body, content_type="application/json")

    def parse(self, payment: dict[str, Any]) -> IamportPayment:
        return IamportPayment.from_api(payment)

    @staticmethod
    def raw_pg_tid(raw: dict[str, Any]) -> str:
        return raw["pg_tid"]

    @staticmethod
    def bank(code: str) -> str:
        """A bank's standard code as this API's cancel receives it."""
        return code

    # --- cancels ----------------------------------------------------------------------------
    def cancel_ok(
        self, payment: dict[str, Any], amount: int, reason: str = "환불"
    ) -> dict[str, Any]:
        """The next cancel of `payment` succeeds for `amount`; the payment after it."""
        return self.iamport.cancel_ok(payment, amount, reason)

    def cancel_crossed(
        self, payment: dict[str, Any], amount: int, meanwhile: Callable[[], object]
    ) -> dict[str, Any]:
        """The next cancel of `amount` happens and lookups show it done; `meanwhile()` runs
        before its answer reaches the shop (a sync crossing the request). The payment after."""
        done = cancelled_v1(payment, amount, "환불")

        def answer(request):
            self.iamport.replace_payment(payment, **done)
            meanwhile()
            return 200, {}, json.dumps({"code": 0, "message": None, "response": done})

        self.iamport.rsps.add_callback("POST", V1_API + "payments/cancel", callback=answer)
        return done

    def cancel_refused(self, payment: dict[str, Any], message: str, *, v2_type: str = "") -> None:
        self.iamport.cancel_refused(message)

    def cancel_fails(self, payment: dict[str, Any], exc: Exception) -> None:
        """The next cancel raises `exc` (nothing known to have happened)."""
        self.iamport.rsps.post(V1_API + "payments/cancel", body=exc)

    def cancel_unauthorized(self, payment: dict[str, Any]) -> None:
        self.iamport.rsps.post(
            V1_API + "payments/cancel", status=401, json=v1_fixture("unauthorized")
        )

    def cancel_lost(
        self, payment: dict[str, Any], amount: int, reason: str = "환불"
    ) -> dict[str, Any]:
        """The next cancel of `amount` happens, but its answer never arrives (a read
        timeout); lookups show it done. The payment after it."""
        self.iamport.rsps.post(V1_API + "payments/cancel", body=requests.ReadTimeout("slow"))
        return self.iamport.replace_payment(payment, **cancelled_v1(payment, amount, reason))

    def cancel_bodies(self) -> list[dict[str, Any]]:
        return [self.iamport.body(call) for call in self.iamport.calls("POST", "payments/cancel")]

    def cancels(self) -> list[Cancel]:
        return [
            Cancel(
                imp_uid=body["imp_uid"],
                merchant_uid=body["merchant_uid"],
                amount=body["amount"],
                checksum=body["checksum"],
                reason=body["reason"],
                refund_account=_v1_refund_account(body),
            )
            for body in self.cancel_bodies()
        ]

    @staticmethod
    def cancel_body(
        *, imp_uid: str, merchant_uid: str, amount: int, checksum: int, reason: str
    ) -> dict[str, Any]:
        """The whole body this API's cancel is sent with."""
        return {
            "imp_uid": imp_uid,
            "merchant_uid": merchant_uid,
            "amount": amount,
            "checksum": checksum,
            "reason": reason,
        }

    # --- calls ------------------------------------------------------------------------------
    def lookups(self, imp_uid: str) -> int:
        """How many times the payment was read."""
        return len(self.iamport.calls("GET", f"payments/{imp_uid}"))

    def asked_for_order(self, merchant_uid: str) -> bool:
        return bool(self.iamport.calls("GET", f"payments/find/{merchant_uid}/paid"))

    # --- pre-registration -------------------------------------------------------------------
    def prepare_ok(self, merchant_uid: str, amount: int) -> None:
        response = {"merchant_uid": merchant_uid, "amount": amount}
        self.iamport.rsps.post(
            V1_API + "payments/prepare", json={"code": 0, "message": None, "response": response}
        )

    def prepare_refused(self, merchant_uid: str, message: str) -> None:
        """The registration is refused, and none exists for the order."""
        self.iamport.rsps.post(
            V1_API + "payments/prepare", json={"code": 1, "message": message, "response": None}
        )
        self.iamport.rsps.get(
            V1_API + f"payments/prepare/{merchant_uid}",
            status=404,
            json={"code": 1, "message": "없음"},
        )


def _v1_refund_account(body: dict[str, Any]) -> dict[str, str] | None:
    if "refund_account" not in body:
        return None
    return {
        "holder": body["refund_holder"],
        "bank": body["refund_bank"],
        "number": body["refund_account"],
    }


class V2Api:
    """PortOne V2, api.portone.io: a payment is looked up by its paymentId (the order's
    merchant_uid), which shows its current attempt (transactionId, the shop's imp_uid)."""

    name = "v2"
    not_found_message = v2_fixture("error_not_found")["message"]
    # GET payments/{paymentId} finds the order's payment, and the sync decides on that answer.
    lookups_per_reconcile = 1

    def __init__(self, iamport: FakeIamport) -> None:
        self.portone = FakePortOne(iamport.rsps)
        self._order_of: dict[str, str] = {}  # imp_uid -> merchant_uid
        self._deliveries = itertools.count(1)

    # --- payments ---------------------------------------------------------------------------
    def payment(
        self,
        merchant_uid: str,
        *,
        imp_uid: str = IMP,
        fixture: str = "payment_paid",
        **fields: Any,
    ) -> dict[str, Any]:
        payment = v1_fixture(fixture)["response"]
        payment.update(imp_uid=imp_uid, merchant_uid=merchant_uid, **fields)
        return self._show(payment)

    def _show(self, payment: dict[str, Any]) -> dict[str, Any]:
        """The paymentId now shows this attempt."""
        self._order_of[payment["imp_uid"]] = payment["merchant_uid"]
        self.portone.serve(payment_from_v1(payment))
        return payment

    def replace_payment(self, payment: dict[str, Any], **fields: Any) -> dict[str, Any]:
        return self._show({**copy.deepcopy(payment), **fields})

    def not_found(self, imp_uid: str, merchant_uid: str) -> None:
        self.portone.not_found(merchant_uid)

    def unreadable(self, payment: dict[str, Any], exc: Exception) -> None:
        self.portone.unreadable(payment["merchant_uid"], exc)

    def find(self, merchant_uid: str, *, newest: Any = None, paid: Any = None) -> None:
        """V2 answers the paymentId with its attempt that matters: the paid one, else the
        newest (the same GET the sync makes)."""
        answer = paid if paid is not None else newest
        if answer is None:
            self.portone.not_found(merchant_uid)
        elif isinstance(answer, Exception):
            self.portone.unreadable(merchant_uid, answer)
        else:
            self._show(answer)

    def _payment_id(self, imp_uid: str) -> str:
        payment_id = self._order_of[imp_uid]
        shown = self.portone.shown(payment_id)
        if isinstance(shown, dict):
            assert shown["transactionId"] == imp_uid, (
                f"{payment_id} shows attempt {shown['transactionId']}: {imp_uid} has no V2 form"
            )
        return payment_id

    def sync(self, imp_uid: str = IMP, *, merchant_uid: str | None = None) -> SyncResult:
        payment_id = merchant_uid if imp_uid not in self._order_of else self._payment_id(imp_uid)
        assert merchant_uid in (None, payment_id), "V2 syncs by paymentId, never by attempt"
        return payment_sync_v2(payment_id=payment_id or "")

    def webhook(self, imp_uid: str):
        payment_id = self._payment_id(imp_uid)
        shown = self.portone.shown(payment_id)
        status = shown["status"] if isinstance(shown, dict) else "PAID"
        body = webhook_body(V2_EVENTS[status], payment_id, tx=imp_uid)
        headers = signed_headers(body, msg_id=f"msg_{next(self._deliveries):024d}")
        return Client().post(WEBHOOK, body, content_type="application/json", **headers)

    def parse(self, payment: dict[str, Any]) -> IamportPayment:
        return portone_v2.payment_from_api(payment_from_v1(payment))

    @staticmethod
    def raw_pg_tid(raw: dict[str, Any]) -> str:
        return raw["pgTxId"]

    @staticmethod
    def bank(code: str) -> str:
        return banks.v2_code(code)

    # --- cancels ----------------------------------------------------------------------------
    def cancel_ok(
        self, payment: dict[str, Any], amount: int, reason: str = "환불"
    ) -> dict[str, Any]:
        done = cancelled_v1(payment, amount, reason)

        def answer(body: dict[str, Any]):
            self._show(done)
            return 200, {"cancellation": cancellation_from_v1(done["cancel_history"][-1])}

        self.portone.on_cancel(payment["merchant_uid"], answer)
        return done

    def cancel_crossed(
        self, payment: dict[str, Any], amount: int, meanwhile: Callable[[], object]
    ) -> dict[str, Any]:
        done = cancelled_v1(payment, amount, "환불")

        def answer(body: dict[str, Any]):
            self._show(done)
            meanwhile()
            return 200, {"cancellation": cancellation_from_v1(done["cancel_history"][-1])}

        self.portone.on_cancel(payment["merchant_uid"], answer)
        return done

    def cancel_refused(
        self,
        payment: dict[str, Any],
        message: str,
        *,
        v2_type: str = "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN",
    ) -> None:
        refusal = {"type": v2_type, "message": message}
        self.portone.on_cancel(payment["merchant_uid"], lambda body: (409, refusal))

    def cancel_fails(self, payment: dict[str, Any], exc: Exception) -> None:
        self.portone.on_cancel(payment["merchant_uid"], lambda body: exc)

    def cancel_unauthorized(self, payment: dict[str, Any]) -> None:
        refusal = {"type": "UNAUTHORIZED", "message": "유효하지 않은 API Secret입니다."}
        self.portone.on_cancel(payment["merchant_uid"], lambda body: (401, refusal))

    def cancel_lost(
        self, payment: dict[str, Any], amount: int, reason: str = "환불"
    ) -> dict[str, Any]:
        done = cancelled_v1(payment, amount, reason)

        def answer(body: dict[str, Any]):
            self._show(done)
            return requests.ReadTimeout("slow")

        self.portone.on_cancel(payment["merchant_uid"], answer)
        return done

    def cancel_bodies(self) -> list[dict[str, Any]]:
        posted = [
            call
            for call in self.portone.rsps.calls
            if call.request.method == "POST" and call.request.url.endswith("/cancel")
        ]
        # A cancel sent where none was expected (or to V1) went unanswered: count it too.
        assert len(posted) == len(self.portone.sent_cancels), "a cancel nobody answered"
        return [sent.body for sent in self.portone.sent_cancels]

    def cancels(self) -> list[Cancel]:
        self.cancel_bodies()
        return [
            Cancel(
                imp_uid=sent.transaction_id,
                merchant_uid=sent.payment_id,
                amount=sent.body["amount"],
                checksum=sent.body.get("currentCancellableAmount"),
                reason=sent.body["reason"],
                refund_account=_v2_refund_account(sent.body),
            )
            for sent in self.portone.sent_cancels
        ]

    @staticmethod
    def cancel_body(
        *, imp_uid: str, merchant_uid: str, amount: int, checksum: int, reason: str
    ) -> dict[str, Any]:
        return {"amount": amount, "reason": reason, "currentCancellableAmount": checksum}

    # --- calls ------------------------------------------------------------------------------
    def lookups(self, imp_uid: str) -> int:
        return len(self.portone.calls("GET", f"payments/{self._order_of[imp_uid]}"))

    def asked_for_order(self, merchant_uid: str) -> bool:
        return bool(self.portone.calls("GET", f"payments/{merchant_uid}"))

    # --- pre-registration -------------------------------------------------------------------
    def prepare_ok(self, merchant_uid: str, amount: int) -> None:
        self.portone.pre_register_ok(merchant_uid)

    def prepare_refused(self, merchant_uid: str, message: str) -> None:
        self.portone.pre_register_refused(merchant_uid, message)


def _v2_refund_account(body: dict[str, Any]) -> dict[str, str] | None:
    account = body.get("refundAccount")
    if account is None:
        return None
    return {"holder": account["holderName"], "bank": account["bank"], "number": account["number"]}


Api = V1Api | V2Api


@pytest.fixture(params=[V1Api.name, V2Api.name])
def api(request, settings, iamport):
    """The test's payments go through Iamport (V1), then, in a second run, PortOne V2."""
    settings.PAYMENTS_API = request.param
    portone_v2._clients.clear()
    yield V1Api(iamport) if request.param == V1Api.name else V2Api(iamport)
    portone_v2._clients.clear()
    other = V2_API if request.param == V1Api.name else V1_API
    strays = [call.request.url for call in iamport.rsps.calls if call.request.url.startswith(other)]
    assert not strays, f"the {request.param} run called the other API: {strays}"
