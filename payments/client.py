"""The one module that talks to Iamport's REST API (PortOne V1).

- one pooled `requests.Session`, a (connect, read) timeout on every call;
- the access token is cached until shortly before it expires, computed from Iamport's own
  clock (`expired_at - now`), and fetched again once when a call answers 401;
- path ids are URL-encoded, bodies are JSON;
- replies are parsed once into typed objects with amounts as `int`;
- failures become a small exception tree that keeps Iamport's `message`.

Deliberately not `iamport-rest-client`: it pins requests 2.26.0, sets no timeout, fetches a
token for every call and drops Iamport's message on errors.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import requests
from django.conf import settings

from guard.text import storable_json, storable_text

logger = logging.getLogger(__name__)

# Refresh the token this many seconds before Iamport says it expires.
TOKEN_REFRESH_MARGIN = 60
# What `cancel` checks itself; `extra` may add fields (refund account, tax) but not these.
CANCEL_FIELDS = frozenset({"imp_uid", "merchant_uid", "amount", "checksum", "reason"})


# --- one time budget per request ------------------------------------------------------------
# The monotonic-clock instant by which every Iamport call of the current request (or of one
# reconciliation step) must be done. Without it a forged payment's token + lookup + cancel could
# each take a full timeout, and together outlast Iamport's own webhook timeout.
_deadline: ContextVar[float | None] = ContextVar("iamport_deadline", default=None)
# Below this many seconds left, a call is not started: it could not finish anyway.
MIN_CALL_SECONDS = 0.05


@contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Every Iamport call inside shares `seconds` (nested budgets keep the tighter deadline)."""
    deadline = time.monotonic() + seconds
    outer = _deadline.get()
    if outer is not None:
        deadline = min(deadline, outer)
    token = _deadline.set(deadline)
    try:
        yield
    finally:
        _deadline.reset(token)


def budget_remaining() -> float | None:
    """Seconds left in the current budget, or None outside any budget."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


# --- errors -------------------------------------------------------------------------------
class IamportError(Exception):
    """Base of every failure talking to Iamport. `message` is Iamport's text when it sent one."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class IamportUnavailable(IamportError):
    """Iamport could not be reached (connection refused, DNS, TLS)."""


class IamportTimeout(IamportUnavailable):
    """Iamport did not answer in time."""


class IamportBadResponse(IamportError):
    """Iamport (or something in between) answered with something that is not its envelope."""

    def __init__(self, message: str, *, http_status: int | None = None) -> None:
        super().__init__(message)
        self.http_status = http_status


class IamportRejected(IamportError):
    """Iamport answered and refused: `code` and `message` are its own."""

    def __init__(self, message: str, *, code: int | None, http_status: int) -> None:
        super().__init__(message or "Iamport refused the request")
        self.code = code
        self.http_status = http_status


class IamportAuthError(IamportRejected):
    """Wrong API key/secret, or a token Iamport no longer accepts."""


class IamportNotFound(IamportRejected):
    """No such payment / registration (HTTP 404)."""


# --- typed replies ------------------------------------------------------------------------
def _int(data: dict[str, Any], key: str, *, required: bool = False) -> int:
    """An amount or count as int. Iamport sends numbers; a float with a fraction is refused."""
    value = data.get(key)
    if value is None or value == "":
        if required:
            raise IamportBadResponse(f"{key} is missing")
        return 0
    if isinstance(value, bool):
        raise IamportBadResponse(f"{key} is not a number: {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise IamportBadResponse(f"{key} is not a whole number of won: {value!r}")
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.removeprefix("-").isdigit():
        return int(value)
    raise IamportBadResponse(f"{key} is not a number: {value!r}")


def _str(data: dict[str, Any], key: str) -> str:
    """Text as the database can keep it: no NUL characters, no lone surrogates."""
    value = data.get(key)
    return "" if value is None else storable_text(str(value))


# The largest amount of won this shop accepts from Iamport (well inside a 64-bit column).
MAX_AMOUNT = 10**15


def _amount(data: dict[str, Any], key: str, *, required: bool = False) -> int:
    """Whole won, 0 <= amount < MAX_AMOUNT; anything else is an unreadable reply."""
    value = _int(data, key, required=required)
    if not 0 <= value < MAX_AMOUNT:
        raise IamportBadResponse(f"{key} is out of range: {value!r}")
    return value


def _time(data: dict[str, Any], key: str) -> datetime | None:
    """Iamport's unix timestamps, where 0 means "not applicable". A fractional part (some
    replies carry milliseconds) is dropped: the shop keeps whole seconds."""
    value = data.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = float(value) if value.isascii() else None
        except ValueError:
            value = None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise IamportBadResponse(f"{key} is not a unix timestamp: {data.get(key)!r}")
    seconds = int(value)
    if seconds <= 0:
        return None
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError) as exc:
        raise IamportBadResponse(f"{key} is not a unix timestamp: {seconds!r}") from exc


class PaymentStatus(StrEnum):
    """Iamport's payment status. An issued but unfunded virtual account is READY."""

    READY = "ready"
    PAID = "paid"
    CANCELLED = "cancelled"
    FAILED = "failed"


@dataclass(frozen=True)
class Token:
    access_token: str
    expired_at: int
    now: int


@dataclass(frozen=True)
class CancelHistory:
    amount: int
    reason: str
    cancelled_at: datetime | None
    pg_tid: str
    receipt_url: str
    cancellation_id: str

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> CancelHistory:
        return cls(
            amount=_amount(data, "amount"),
            reason=_str(data, "reason"),
            cancelled_at=_time(data, "cancelled_at"),
            pg_tid=_str(data, "pg_tid"),
            receipt_url=_str(data, "receipt_url"),
            cancellation_id=_str(data, "cancellation_id"),
        )


@dataclass(frozen=True)
class IamportPayment:
    imp_uid: str
    merchant_uid: str
    amount: int
    cancel_amount: int
    currency: str
    status: PaymentStatus
    pay_method: str
    pg_provider: str
    pg_tid: str
    name: str
    buyer_name: str
    buyer_email: str
    receipt_url: str
    paid_at: datetime | None
    failed_at: datetime | None
    cancelled_at: datetime | None
    fail_reason: str
    cancel_reason: str
    vbank_code: str
    vbank_name: str
    vbank_num: str
    vbank_holder: str
    vbank_date: datetime | None
    cancel_history: tuple[CancelHistory, ...]
    raw: dict[str, Any] = field(repr=False, compare=False)
    # PortOne V2's channel mode, "LIVE" or "TEST"; Iamport (V1) replies do not say: "".
    channel: str = ""
    # Won of cancels accepted but not finished by the PG (V2 cancellations still REQUESTED);
    # Iamport (V1) cancels synchronously: always 0.
    cancel_pending: int = 0
    # PortOne V2's ids of the cancels the PG is still making (REQUESTED) and of those it failed
    # after taking them (FAILED); Iamport (V1) has neither.
    cancellations_pending: tuple[str, ...] = ()
    cancellations_failed: tuple[str, ...] = ()

    @classmethod
    def from_api(cls, data: Any) -> IamportPayment:
        if not isinstance(data, dict):
            raise IamportBadResponse("the payment is not an object")
        imp_uid, merchant_uid, status = (
            _str(data, "imp_uid"),
            _str(data, "merchant_uid"),
            _str(data, "status"),
        )
        if not imp_uid or not merchant_uid:
            raise IamportBadResponse("the payment has no imp_uid or merchant_uid")
        try:
            parsed_status = PaymentStatus(status)
        except ValueError:
            raise IamportBadResponse(f"unknown payment status {status!r}") from None
        history = data.get("cancel_history") or []
        if not isinstance(history, list):
            raise IamportBadResponse("cancel_history is not a list")
        amount, cancelled = _amount(data, "amount", required=True), _amount(data, "cancel_amount")
        if cancelled > amount:
            raise IamportBadResponse(f"cancel_amount {cancelled} exceeds amount {amount}")
        if parsed_status == PaymentStatus.CANCELLED and 0 < cancelled < amount:
            # A partial cancel: Iamport keeps such a payment "paid", some sources say
            # "cancelled". The rest is still paid, and is decided and refunded as such.
            parsed_status = PaymentStatus.PAID
        return cls(
            imp_uid=imp_uid,
            merchant_uid=merchant_uid,
            amount=amount,
            cancel_amount=cancelled,
            currency=_str(data, "currency") or "KRW",
            status=parsed_status,
            pay_method=_str(data, "pay_method"),
            pg_provider=_str(data, "pg_provider"),
            pg_tid=_str(data, "pg_tid"),
            name=_str(data, "name"),
            buyer_name=_str(data, "buyer_name"),
            buyer_email=_str(data, "buyer_email"),
            receipt_url=_str(data, "receipt_url"),
            paid_at=_time(data, "paid_at"),
            failed_at=_time(data, "failed_at"),
            cancelled_at=_time(data, "cancelled_at"),
            fail_reason=_str(data, "fail_reason"),
            cancel_reason=_str(data, "cancel_reason"),
            vbank_code=_str(data, "vbank_code"),
            vbank_name=_str(data, "vbank_name"),
            vbank_num=_str(data, "vbank_num"),
            vbank_holder=_str(data, "vbank_holder"),
            vbank_date=_time(data, "vbank_date"),
            cancel_history=tuple(
                CancelHistory.from_api(item) for item in history if isinstance(item, dict)
            ),
            raw=storable_json(data),
        )

    @property
    def remaining_amount(self) -> int:
        """What can still be cancelled: the `checksum` for the next cancel."""
        return max(self.amount - self.cancel_amount, 0)

    @property
    def is_virtual_account(self) -> bool:
        return self.pay_method == "vbank"

    @property
    def is_issued_virtual_account(self) -> bool:
        """A virtual account issued and waiting for the buyer's deposit."""
        return (
            self.status == PaymentStatus.READY and self.is_virtual_account and bool(self.vbank_num)
        )

    @property
    def is_funded_virtual_account(self) -> bool:
        """A deposited virtual account with money left: refunded only to an account a person
        supplies (Iamport's refund_holder / refund_bank / refund_account)."""
        return (
            self.status == PaymentStatus.PAID
            and self.is_virtual_account
            and self.remaining_amount > 0
        )

    @property
    def holds_money(self) -> bool:
        """Money or an open virtual account that a cancel would give back or close."""
        if self.status == PaymentStatus.PAID:
            return self.remaining_amount > 0
        return self.is_issued_virtual_account


@dataclass(frozen=True)
class Prepared:
    merchant_uid: str
    amount: int

    @classmethod
    def from_api(cls, data: Any) -> Prepared:
        if not isinstance(data, dict) or not data.get("merchant_uid"):
            raise IamportBadResponse("the prepared registration is not an object")
        return cls(merchant_uid=_str(data, "merchant_uid"), amount=_amount(data, "amount"))


# --- the client ---------------------------------------------------------------------------
def api_session(base_url: str) -> requests.Session:
    """A pooled session for one payment API (Iamport, PortOne V2).

    What the environment says about reaching the API (HTTPS_PROXY and NO_PROXY,
    REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE) is read once, here, as requests itself would read it;
    left to requests, it is read again, and a ~/.netrc file looked for, on every call.
    """
    session = requests.Session()
    session.proxies = requests.utils.get_environ_proxies(base_url)
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    session.verify = bundle or True
    session.trust_env = False
    return session


class IamportClient:
    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        base_url: str = "https://api.iamport.kr/",
        timeout: tuple[float, float] = (3.05, 10.0),
        session: requests.Session | None = None,
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.timeout = timeout
        self.session = session or api_session(self.base_url)
        self.session.headers.update({"Accept": "application/json"})
        self._token: str | None = None
        self._token_valid_until = 0.0  # local monotonic clock
        self._token_lock = threading.Lock()

    # Payments ------------------------------------------------------------------------------
    def find_by_imp_uid(self, imp_uid: str) -> IamportPayment:
        return IamportPayment.from_api(self._call("GET", f"payments/{_path(imp_uid)}"))

    def find_by_merchant_uid(self, merchant_uid: str, status: str | None = None) -> IamportPayment:
        path = f"payments/find/{_path(merchant_uid)}"
        if status:
            path += f"/{_path(status)}"
        return IamportPayment.from_api(self._call("GET", path))

    def cancel(
        self,
        *,
        imp_uid: str,
        merchant_uid: str,
        amount: int,
        checksum: int,
        reason: str,
        extra: dict[str, Any] | None = None,
    ) -> IamportPayment:
        """Cancel `amount` won of a payment (a refund once paid).

        `checksum` is the refundable balance this shop believes is left; Iamport refuses the
        cancel when its own figure differs, which makes a retried refund safe. The amount is
        always explicit: an omitted amount means "everything left".
        """
        clash = CANCEL_FIELDS.intersection(extra or {})
        if clash:
            raise ValueError(f"extra may not replace the checked fields {sorted(clash)}")
        if amount <= 0 or checksum <= 0 or amount > checksum:
            raise ValueError(f"cancel amount {amount} must be positive and at most {checksum}")
        body = {
            "imp_uid": imp_uid,
            "merchant_uid": merchant_uid,
            "amount": amount,
            "checksum": checksum,
            "reason": reason,
            **(extra or {}),
        }
        return IamportPayment.from_api(self._call("POST", "payments/cancel", json_body=body))

    def prepare(self, *, merchant_uid: str, amount: int) -> Prepared:
        body = {"merchant_uid": merchant_uid, "amount": amount}
        return Prepared.from_api(self._call("POST", "payments/prepare", json_body=body))

    def prepare_update(self, *, merchant_uid: str, amount: int) -> Prepared:
        body = {"merchant_uid": merchant_uid, "amount": amount}
        return Prepared.from_api(self._call("PUT", "payments/prepare", json_body=body))

    def find_prepared(self, merchant_uid: str) -> Prepared:
        return Prepared.from_api(self._call("GET", f"payments/prepare/{_path(merchant_uid)}"))

    # Token ---------------------------------------------------------------------------------
    def get_token(self, *, force: bool = False) -> str:
        with self._token_lock:
            if not force and self._token and time.monotonic() < self._token_valid_until:
                return self._token
            data = self._send(
                "POST",
                "users/getToken",
                json_body={"imp_key": self.api_key, "imp_secret": self.api_secret},
                token=None,
            )
            if not isinstance(data, dict) or not data.get("access_token"):
                raise IamportBadResponse("the token reply has no access_token")
            token = Token(
                access_token=str(data["access_token"]),
                expired_at=_int(data, "expired_at"),
                now=_int(data, "now"),
            )
            lifetime = token.expired_at - token.now
            self._token = token.access_token
            self._token_valid_until = time.monotonic() + max(lifetime - TOKEN_REFRESH_MARGIN, 0)
            return self._token

    # Plumbing ------------------------------------------------------------------------------
    def _call(self, method: str, path: str, *, json_body: dict | None = None) -> Any:
        token = self.get_token()
        try:
            return self._send(method, path, json_body=json_body, token=token)
        except IamportAuthError:
            # The token may have been revoked or expired early: fetch a new one, once.
            logger.info("iamport: 401 on %s %s, refreshing the token once", method, path)
            return self._send(method, path, json_body=json_body, token=self.get_token(force=True))

    def _send(self, method: str, path: str, *, json_body: dict | None, token: str | None) -> Any:
        reply = send(
            self.session,
            method,
            self.base_url + path,
            json_body=json_body,
            headers={"Authorization": token} if token else {},
            timeout=self.timeout,
            service="Iamport",
            what=f"{method} {path}",
        )
        return _unwrap(reply, f"{method} {path}")


def send(
    session: requests.Session,
    method: str,
    url: str,
    *,
    json_body: dict | None,
    headers: dict[str, str],
    timeout: tuple[float, float],
    service: str,
    what: str,
) -> requests.Response:
    """One call to a payment API (Iamport or PortOne V2), within the request's time budget.

    No redirect is followed; no answer in time is IamportTimeout, no connection
    IamportUnavailable (`what` names the call in their messages). The reply is returned as it
    came, for the API's own unwrapping."""
    cut = timeout_within_budget(timeout, what)
    started = time.monotonic()
    try:
        reply = session.request(
            method,
            url,
            json=json_body,
            headers=headers,
            timeout=cut,
            # A redirect would turn a POST (a cancel) into a GET elsewhere: never follow one.
            allow_redirects=False,
        )
    except requests.Timeout as exc:
        raise IamportTimeout(f"{service} did not answer {what} in time") from exc
    except requests.RequestException as exc:
        raise IamportUnavailable(
            f"{service} could not be reached: {exc.__class__.__name__}"
        ) from exc
    elapsed = (time.monotonic() - started) * 1000
    logger.debug("%s %s -> %s in %.0f ms", service.lower(), what, reply.status_code, elapsed)
    return reply


def timeout_within_budget(timeout: tuple[float, float], what: str) -> tuple[float, float]:
    """The (connect, read) timeout for one call, cut to what the current budget has left;
    IamportTimeout, before anything is sent, when too little is left to finish the call."""
    connect, read = timeout
    remaining = budget_remaining()
    if remaining is None:
        return connect, read
    if remaining < MIN_CALL_SECONDS:
        raise IamportTimeout(f"no time left in this request's budget for {what}")
    return min(connect, remaining), min(read, remaining)


def _path(value: str) -> str:
    """One URL path segment. "." and ".." would be resolved away and reach another endpoint."""
    value = str(value)
    if value in ("", ".", ".."):
        raise ValueError(f"{value!r} is not a usable Iamport id")
    return quote(value, safe="")


def _unwrap(reply: requests.Response, what: str) -> Any:
    """Iamport's envelope {"code", "message", "response"} -> `response`, or an exception."""
    try:
        envelope = reply.json()
    except (ValueError, json.JSONDecodeError):
        envelope = None
    if not isinstance(envelope, dict) or "code" not in envelope:
        if reply.status_code == 401:
            raise IamportAuthError("Iamport refused the credentials", code=None, http_status=401)
        raise IamportBadResponse(
            f"unreadable reply to {what} (HTTP {reply.status_code})", http_status=reply.status_code
        )
    code, message = envelope.get("code"), str(envelope.get("message") or "")
    if reply.status_code == 401:
        raise IamportAuthError(message, code=code, http_status=401)
    if reply.status_code == 404:
        raise IamportNotFound(message or "not found", code=code, http_status=404)
    if reply.status_code >= 500:
        raise IamportBadResponse(
            f"Iamport failed on {what} (HTTP {reply.status_code}): {message}",
            http_status=reply.status_code,
        )
    # Any 2xx carrying the envelope counts as an answer; its `code` says whether it succeeded.
    if code != 0 or not 200 <= reply.status_code < 300:
        raise IamportRejected(message, code=code, http_status=reply.status_code)
    return envelope.get("response")


_clients: dict[tuple, IamportClient] = {}
_clients_lock = threading.Lock()


def get_client() -> IamportClient:
    """The process-wide client for the configured account (one pooled session, one token)."""
    key = (
        settings.IAMPORT_API_URL,
        settings.IAMPORT_API_KEY,
        settings.IAMPORT_API_SECRET,
        tuple(settings.IAMPORT_TIMEOUT),
    )
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = IamportClient(
                api_key=settings.IAMPORT_API_KEY,
                api_secret=settings.IAMPORT_API_SECRET,
                base_url=settings.IAMPORT_API_URL,
                timeout=(settings.IAMPORT_TIMEOUT[0], settings.IAMPORT_TIMEOUT[1]),
            )
        return client
