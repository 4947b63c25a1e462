"""A stand-in for Iamport's REST API: stdlib only, with an injected delay and request counts.

Not the shop's sandbox app: the sandbox is Django code with a database of its own, so its cost
would be mixed into what is measured. This one answers from memory, sleeps `delay` seconds
before every answer (Iamport's own latency, made explicit) and counts requests by endpoint.

It speaks Iamport's envelope {"code": 0, "message": null, "response": ...} for the three
endpoints a card verification can touch:

- POST /users/getToken       an access token valid for 30 minutes (Iamport's own lifetime)
- GET  /payments/{imp_uid}   a paid card payment for the order registered under that imp_uid
- POST /payments/cancel      the payment, cancelled (a verification of a good payment never
                             calls it: the count shows whether it ever happens)

and PortOne V2's one lookup, under /portone/ (the shop's PORTONE_API_URL):

- GET /portone/payments/{paymentId}   with `Authorization: PortOne <secret>`: the order's paid
                                      card payment (paymentId = merchant_uid, transactionId =
                                      imp_uid), in V2's shape with what its schema requires

Anything else is answered 404 and counted as "other".
"""

from __future__ import annotations

import http.client
import json
import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

API_KEY = "bench_api_key"
API_SECRET = "bench_api_secret"  # noqa: S105 (a stand-in's fixed credential, loopback only)
TOKEN_LIFETIME = 1800  # seconds, as Iamport issues them
V2_PREFIX = "/portone/"
V2_API_SECRET = "bench_portone_api_secret"  # noqa: S105 (as above)
V2_STORE_ID = "store-00000000-0000-4000-8000-00000000bench"

# The endpoints counted, as the report names them.
TOKEN, LOOKUP, CANCEL, OTHER = "token", "lookup", "cancel", "other"
V2_LOOKUP = "v2 lookup"


@dataclass(frozen=True)
class RegisteredPayment:
    merchant_uid: str
    amount: int


def paid_card_payment(imp_uid: str, merchant_uid: str, amount: int, now: int) -> dict:
    """A paid card payment, shaped as Iamport answers GET /payments/{imp_uid}
    (tests/fixtures/iamport/payment_paid.json)."""
    tid = f"StdpayCARDINIpayTest{imp_uid}"
    return {
        "imp_uid": imp_uid,
        "merchant_uid": merchant_uid,
        "pay_method": "card",
        "channel": "pc",
        "pg_provider": "html5_inicis",
        "emb_pg_provider": None,
        "pg_tid": tid,
        "pg_id": "INIpayTest",
        "escrow": False,
        "apply_num": "30012345",
        "bank_code": None,
        "bank_name": None,
        "card_code": "361",
        "card_name": "BC카드",
        "card_quota": 0,
        "card_number": "910020*********5",
        "card_type": 0,
        "vbank_code": None,
        "vbank_name": None,
        "vbank_num": None,
        "vbank_holder": None,
        "vbank_date": 0,
        "vbank_issued_at": 0,
        "name": "벤치 상품",
        "amount": amount,
        "cancel_amount": 0,
        "currency": "KRW",
        "buyer_name": "홍길동",
        "buyer_email": "buyer@example.com",
        "buyer_tel": "010-1234-5678",
        "buyer_addr": "서울특별시 강남구 테헤란로 1",
        "buyer_postcode": "06236",
        "custom_data": None,
        "user_agent": "Mozilla/5.0",
        "status": "paid",
        "started_at": now - 30,
        "paid_at": now,
        "failed_at": 0,
        "cancelled_at": 0,
        "fail_reason": None,
        "cancel_reason": None,
        "receipt_url": f"https://iniweb.inicis.com/receipt?noTid={tid}",
        "cancel_history": [],
        "cancel_receipt_urls": [],
        "cash_receipt_issued": False,
        "customer_uid": None,
        "customer_uid_usage": None,
        "sandbox": True,
    }


def paid_v2_payment(payment_id: str, transaction_id: str, amount: int, now: int) -> dict:
    """The same paid card payment as PortOne V2 answers GET /payments/{paymentId}: every field
    its schema requires of a PAID payment (tests/fixtures/portone_v2/payment_paid.json)."""
    paid, started = _rfc3339(now), _rfc3339(now - 30)
    return {
        "status": "PAID",
        "id": payment_id,
        "transactionId": transaction_id,
        "merchantId": "merchant-00000000-0000-4000-8000-00000000bench",
        "storeId": V2_STORE_ID,
        "channel": {"type": "LIVE", "pgProvider": "INICIS_V2", "pgMerchantId": "INIpayTest"},
        "version": "V2",
        "requestedAt": started,
        "updatedAt": paid,
        "statusChangedAt": paid,
        "orderName": "벤치 상품",
        "amount": {
            "total": amount,
            "taxFree": 0,
            "vat": amount // 11,
            "discount": 0,
            "paid": amount,
            "cancelled": 0,
            "cancelledTaxFree": 0,
        },
        "currency": "KRW",
        "customer": {"name": {"full": "홍길동"}, "email": "buyer@example.com"},
        "origin": {"platformType": "PC", "ipAddress": "127.0.0.1"},
        "method": {"type": "PaymentMethodCard", "approvalNumber": "30012345"},
        "pgTxId": f"StdpayCARDINIpayTest{transaction_id}",
        "paidAt": paid,
        "disputes": [],
        "receiptUrl": f"https://iniweb.inicis.com/receipt?noTid={transaction_id}",
    }


def _rfc3339(stamp: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp))


class IamportStandin:
    """The server and what it knows: payments by imp_uid, issued tokens, request counts."""

    def __init__(self, *, delay_seconds: float) -> None:
        self.delay = delay_seconds
        self._payments: dict[str, RegisteredPayment] = {}
        self._transactions: dict[str, str] = {}  # V2 paymentId (merchant_uid) -> imp_uid
        self._tokens: set[str] = set()
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # --- what the benchmark does with it -------------------------------------------------
    def register(self, imp_uid: str, merchant_uid: str, amount: int) -> None:
        with self._lock:
            self._payments[imp_uid] = RegisteredPayment(merchant_uid, amount)
            self._transactions[merchant_uid] = imp_uid

    def counts(self) -> Counter[str]:
        with self._lock:
            return Counter(self._counts)

    def start(self) -> str:
        handler = type("Handler", (_Handler,), {"standin": self})
        self._server = _Server(("127.0.0.1", 0), handler)
        threading.Thread(
            target=self._server.serve_forever, name="iamport stand-in", daemon=True
        ).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        return self.url

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # --- what a request gets -------------------------------------------------------------
    def answer(self, method: str, path: str, body: bytes, token: str) -> tuple[int, dict]:
        endpoint, imp_uid = _endpoint(method, path)
        with self._lock:
            self._counts[endpoint] += 1
        # Iamport's latency, the same for every endpoint. Sleeping releases the GIL, so
        # concurrent requests overlap as they would against the real API.
        time.sleep(self.delay)
        if endpoint == V2_LOOKUP:
            return self._v2_lookup(imp_uid, token)
        if endpoint == TOKEN:
            return self._token(body)
        if endpoint == OTHER:
            return _envelope(HTTPStatus.NOT_FOUND, None, code=1, message="no such endpoint")
        if token not in self._tokens:
            return _envelope(HTTPStatus.UNAUTHORIZED, None, code=-1, message="Unauthorized")
        if endpoint == CANCEL:
            imp_uid = _json(body).get("imp_uid", "")
        known = self._payments.get(imp_uid)
        if known is None:
            return _envelope(HTTPStatus.NOT_FOUND, None, code=1, message="존재하지 않는 결제정보")
        payment = paid_card_payment(imp_uid, known.merchant_uid, known.amount, int(time.time()))
        if endpoint == CANCEL:
            now = int(time.time())
            payment.update(
                status="cancelled",
                cancel_amount=known.amount,
                cancelled_at=now,
                cancel_reason=str(_json(body).get("reason", "")),
                cancel_history=[
                    {
                        "pg_tid": payment["pg_tid"],
                        "amount": known.amount,
                        "cancelled_at": now,
                        "reason": str(_json(body).get("reason", "")),
                        "receipt_url": payment["receipt_url"],
                        "cancellation_id": f"cancel_{imp_uid}",
                    }
                ],
            )
        return _envelope(HTTPStatus.OK, payment)

    def _v2_lookup(self, payment_id: str, authorization: str) -> tuple[int, dict]:
        """PortOne V2's answer: the payment itself, or {"type", "message"} for an error."""
        if authorization != f"PortOne {V2_API_SECRET}":
            return HTTPStatus.UNAUTHORIZED, {"type": "UNAUTHORIZED", "message": "Unauthorized"}
        imp_uid = self._transactions.get(payment_id, "")
        known = self._payments.get(imp_uid)
        if known is None:
            return HTTPStatus.NOT_FOUND, {"type": "PAYMENT_NOT_FOUND", "message": "no payment"}
        return HTTPStatus.OK, paid_v2_payment(payment_id, imp_uid, known.amount, int(time.time()))

    def _token(self, body: bytes) -> tuple[int, dict]:
        data = _json(body)
        if data.get("imp_key") != API_KEY or data.get("imp_secret") != API_SECRET:
            return _envelope(HTTPStatus.UNAUTHORIZED, None, code=-1, message="Unauthorized")
        token = secrets.token_hex(20)
        with self._lock:
            self._tokens.add(token)
        now = int(time.time())
        return _envelope(
            HTTPStatus.OK,
            {"access_token": token, "now": now, "expired_at": now + TOKEN_LIFETIME},
        )


def lookup_latencies(url: str, imp_uid: str, count: int) -> list[float]:
    """The stand-in's answer alone, as the shop's worker waits for it: a token, then `count`
    lookups of `imp_uid` one after another on one keep-alive connection (http.client, no
    parsing beyond the status). Seconds each; a failure raises. Counted like any request."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        connection.request(
            "POST",
            "/users/getToken",
            json.dumps({"imp_key": API_KEY, "imp_secret": API_SECRET}),
            {"Content-Type": "application/json"},
        )
        token = json.loads(connection.getresponse().read())["response"]["access_token"]
        latencies = []
        for _ in range(count):
            started = time.perf_counter()
            connection.request("GET", f"/payments/{imp_uid}", headers={"Authorization": token})
            response = connection.getresponse()
            response.read()
            latencies.append(time.perf_counter() - started)
            if response.status != HTTPStatus.OK:
                raise RuntimeError(f"the stand-in answered a lookup with HTTP {response.status}")
    finally:
        connection.close()
    return latencies


def _endpoint(method: str, path: str) -> tuple[str, str]:
    """(endpoint, the id in the path): V1's imp_uid, or V2's paymentId."""
    path = path.split("?", 1)[0]
    if path.startswith(V2_PREFIX):
        parts = path.removeprefix(V2_PREFIX).split("/")
        if method == "GET" and len(parts) == 2 and parts[0] == "payments":
            return V2_LOOKUP, unquote(parts[1])
        return OTHER, ""
    if method == "POST" and path == "/users/getToken":
        return TOKEN, ""
    if method == "POST" and path == "/payments/cancel":
        return CANCEL, ""
    parts = path.strip("/").split("/")
    if method == "GET" and len(parts) == 2 and parts[0] == "payments":
        return LOOKUP, unquote(parts[1])
    return OTHER, ""


def _envelope(
    status: int, response: dict | None, *, code: int = 0, message: str | None = None
) -> tuple[int, dict]:
    return status, {"code": code, "message": message, "response": response}


def _json(body: bytes) -> dict:
    try:
        data = json.loads(body or b"{}")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # The shop's workers open their pooled connections at once when the load starts.
    request_queue_size = 128


class _Handler(BaseHTTPRequestHandler):
    standin: IamportStandin
    # Keep-alive, as the shop's pooled requests.Session expects from Iamport.
    protocol_version = "HTTP/1.1"
    # Headers and body leave in two writes: with Nagle's algorithm on, the body would wait for
    # the client's delayed ACK (40 ms on Linux), a stall no real API adds.
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        self._reply()

    def do_POST(self) -> None:
        self._reply()

    def _reply(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        status, payload = self.standin.answer(
            self.command, self.path, body, self.headers.get("Authorization", "")
        )
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass  # counted, not logged
