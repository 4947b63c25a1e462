"""Generated input at the PortOne V2 doors (settings.PAYMENTS_API = "v2"), with PortOne V2
mocked: the machinery of test_generated_input.py (`fuzzlib`) in a world of its own.

The doors and their valid base requests (`bases`): `POST /payments/complete/ {"paymentId"}`
(pays the order, a virtual account, a forged amount, an order already paid, a paymentId
PortOne does not know, an order the shop does not have), the `redirectUrl` GET (success, and
failure with code and message), PortOne's signed webhooks, and pre-registration. Real orders
stand behind them, and a `FakePortOne` that knows their payments; an id it does not know is
answered PortOne's 404 PAYMENT_NOT_FOUND. Every request runs in a transaction that is rolled
back, and PortOne's payments are served afresh before each one (`World.reset`: a forged
payment's cancel in one request is not seen by the next), so any request can be replayed
alone:

    FUZZ_SEED=<seed> FUZZ_ONLY=<#>,<#> FUZZ_TRACE=1 \\
        pytest tests/fuzz/test_generated_input_v2.py -k below_500

(this module draws from FUZZ_SEED + 2, and its failure test from FUZZ_SEED + 3).

Besides `fuzzlib.plan`'s mutations of every door, webhooks are mutated three more ways:
- the body under the base's signature (any mutation of it, from the plan): every such
  request must be refused, 400 (413 over the webhook body limit), without a call to PortOne;
- the signature headers (`header_cases`): missing, garbled, stale or future timestamps,
  values at gunicorn's limit, non-ASCII; each case says how it must be answered;
- the body mutated and then signed again (`signed_cases`): the signature holds, so what lies
  behind it (the event parser, the hints kept, the sync) meets the mutated JSON.

Deliveries are signed at SIGNED_AT (or seconds from it) and the signature check's clock is
pinned there (`_SigningClock`), so that a seed gives the same requests byte for byte, and a
replay's signatures still hold.

PortOne never fails in the first test, so every answer must be < 500. The second test makes
it fail (HTTP 4xx/5xx, bodies that are not JSON, timeouts, refused connections, payments
that break its schema, refused or unfinished cancels) and allows 502/503/504 besides < 500.
"""

from __future__ import annotations

import base64
import copy
import json
import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import unquote

import pytest
import requests
import responses
import standardwebhooks.webhooks

from payments import portone_v2
from payments.models import WebhookDelivery
from payments.services import SyncOutcome, payment_sync_v2
from shop.models import Order
from tests.conftest import API as IAMPORT_API
from tests.conftest import FakeIamport
from tests.conftest import load_fixture as load_iamport_fixture
from tests.fuzz.fuzzlib import (
    GUNICORN_FIELD_MAX,
    Base,
    IamportRegistry,
    Mutator,
    Outcome,
    Req,
    Runner,
    dictionary_cases,
    field_cases,
    get,
    header_value,
    make_client,
    plan,
    post_json,
    raw,
    report,
    short,
    statuses,
    write_report,
)
from tests.portone_fake import (
    API,
    SECRET,
    FakePortOne,
    cancelled,
    load_fixture,
    signed_headers,
    webhook_body,
)

SEED = int(os.environ.get("FUZZ_SEED") or 20251202)
ONLY = {int(i) for i in os.environ.get("FUZZ_ONLY", "").split(",") if i.strip()}
TRACES = os.environ.get("FUZZ_TRACE") == "1"  # full tracebacks in the report
RANDOM_REQUESTS = 300  # on top of the base requests and the targeted ones
SIGNED_RANDOM = 60  # random body mutations of webhooks, signed again
FAULT_REQUESTS = 60  # random extra requests in the PortOne-failure test
MIN_REQUESTS = 800
MIN_PER_ENDPOINT = 10
MIN_REACHED = 50  # mutated requests that made PortOne look up one of the world's payments
MIN_SIGNED_REACHED = 10  # ... of them signed again after the mutation
MIN_TAMPERED = 100  # webhooks whose body changed under the base's signature

COMPLETE, WEBHOOK, PREPARE = "/payments/complete/", "/payments/webhook/", "/payments/prepare/"
MUID = {
    "pending": "o20990101000000000000000000000021",  # PAID at PortOne, not reported yet
    "vbank": "o20990101000000000000000000000022",  # VIRTUAL_ACCOUNT_ISSUED
    "forged": "o20990101000000000000000000000023",  # PAID, but 100 won of 12,000
    "paid": "o20990101000000000000000000000024",  # PAID and already synced
    "partial": "o20990101000000000000000000000025",  # synced, then 3,000 won cancelled
    "unknown": "o20990101000000000000000000000026",  # an order PortOne has never heard of
}
NOT_OURS = "o20990101000000000000000000000099"  # neither the shop's nor PortOne's
TX = {name: f"0193a1b2-tx-{name}" for name in MUID}
PRODUCT = 7101
CSRF_SECRET = "FuzzCsrfSecret0123456789abcdefgh"
CSRF_HEADER = {"HTTP_X_CSRFTOKEN": CSRF_SECRET}

# --- signing ------------------------------------------------------------------------------
SIGNED_AT = 1764669600  # 2025-12-02 10:00:00 UTC: when the plan signs its deliveries
WEBHOOK_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SETTLED_ID = "msg_settled0000000000000000"  # a delivery the shop processed before
OTHER_SECRET = "whsec_" + base64.b64encode(b"another store's secret, 32 bytes").decode()
ID, TS, SIG = "HTTP_WEBHOOK_ID", "HTTP_WEBHOOK_TIMESTAMP", "HTTP_WEBHOOK_SIGNATURE"
REJECTED, ACCEPTED, EITHER = frozenset({400}), frozenset({200}), frozenset({200, 400})


class _SigningClock(datetime):
    """The signature check's `datetime`, whose now() is SIGNED_AT: the five minutes of
    tolerance are counted from the moment the plan signed its deliveries."""

    @classmethod
    def now(cls, tz=None):
        return datetime.fromtimestamp(SIGNED_AT, tz)


def sign(
    body: bytes, *, msg_id: str = WEBHOOK_ID, at: float = SIGNED_AT, secret: str = SECRET
) -> dict[str, str]:
    return signed_headers(body, msg_id=msg_id, at=at, secret=secret)


def encoded(base: Base) -> bytes:
    """A JSON base's body exactly as `fuzzlib.Mutator` sends it."""
    return json.dumps(base.fields).encode()


# --- the world ----------------------------------------------------------------------------
@dataclass
class World:
    runner: Runner
    registry: IamportRegistry
    portone: FakePortOne
    remote: dict[str, dict[str, Any]]  # order name -> the payment PortOne answers with

    def reset(self) -> None:
        """PortOne's payments as the world began (a cancel changes what it answers)."""
        for payment in self.remote.values():
            self.portone.serve(copy.deepcopy(payment))


def _catch_all(rsps: responses.RequestsMock) -> None:
    """Anything not registered later: PortOne's 404 PAYMENT_NOT_FOUND, Iamport's 404 envelope
    (a webhook that lost its signature headers is read as V1's)."""
    for host, answer in (
        (API, load_fixture("error_not_found")),
        (IAMPORT_API, load_iamport_fixture("not_found")),
    ):
        anything = re.compile(re.escape(host) + ".*")
        for method in (responses.GET, responses.POST, responses.PUT):
            rsps.add(method, anything, status=404, json=answer)


def _orders(product_factory, order_factory) -> dict[str, Order]:
    coffee = product_factory(pk=PRODUCT, price=12000, stock=50)
    orders = {}
    for name, muid in MUID.items():
        order = order_factory(product=coffee, pay_method="vbank" if name == "vbank" else "card")
        Order.objects.filter(pk=order.pk).update(merchant_uid=muid)
        order.refresh_from_db()
        orders[name] = order
    return orders


def _portone_world(portone: FakePortOne) -> dict[str, dict[str, Any]]:
    """PortOne's payments, after the shop synced the paid and partly refunded orders."""
    remote = {
        name: portone.payment(MUID[name], tx=TX[name], amount=12000)
        for name in ("pending", "paid", "partial")
    }
    remote["vbank"] = portone.payment(
        MUID["vbank"],
        fixture="payment_virtual_account_issued",
        tx=TX["vbank"],
        amount=12000,
        method={"expiredAt": "2099-01-01T00:00:00Z"},
    )
    remote["forged"] = portone.payment(MUID["forged"], tx=TX["forged"], amount=100)
    portone.not_found(MUID["unknown"])
    for name in ("paid", "partial"):
        assert payment_sync_v2(payment_id=MUID[name]).outcome == SyncOutcome.PAID
    remote["partial"] = portone.serve(cancelled(remote["partial"], 3000, "부분 환불")[0])
    for name, payment in remote.items():
        portone.cancel_ok(payment)  # whatever the shop decides to give back, PortOne does
        portone.pre_register_ok(MUID[name])
    portone.pre_register_ok(MUID["unknown"])
    return remote


@pytest.fixture
def world(db, settings, monkeypatch, product_factory, order_factory):
    settings.PAYMENTS_API = "v2"
    portone_v2._clients.clear()
    monkeypatch.setattr(standardwebhooks.webhooks, "datetime", _SigningClock)
    with responses.RequestsMock(
        assert_all_requests_are_fired=False, registry=IamportRegistry
    ) as rsps:
        registry: IamportRegistry = rsps._registry  # responses has no public getter
        _catch_all(rsps)
        FakeIamport(rsps)  # its token, should a request ever reach V1
        portone = FakePortOne(rsps)
        orders = _orders(product_factory, order_factory)
        remote = _portone_world(portone)
        for order in orders.values():
            order.refresh_from_db()
        assert {name: order.status for name, order in orders.items()} == {
            "pending": "pending",
            "vbank": "pending",
            "forged": "pending",
            "paid": "paid",
            "partial": "paid",
            "unknown": "pending",
        }, "the shop's orders as PortOne's payments should leave them"
        WebhookDelivery.objects.create(
            api="v2",
            webhook_id=SETTLED_ID,
            merchant_uid=MUID["paid"],
            outcome=WebhookDelivery.Outcome.PROCESSED,
        )

        session_cookie = settings.SESSION_COOKIE_NAME
        shopper = make_client()
        session = shopper.session
        session["shop_orders"] = [MUID["pending"], MUID["vbank"]]
        session.save()
        shopper_id = session.session_key
        csrf = {settings.CSRF_COOKIE_NAME: CSRF_SECRET}
        clients = {
            "anon": (make_client(), {}),
            "shopper": (shopper, {session_cookie: shopper_id}),
            "csrf": (make_client(enforce_csrf_checks=True), {session_cookie: shopper_id, **csrf}),
        }
        runner = Runner(clients, {}, registry)
        yield World(runner=runner, registry=registry, portone=portone, remote=remote)
    portone_v2._clients.clear()


# --- the doors and their valid requests ---------------------------------------------------
def webhook(
    event_type: str, name: str, *, msg_id: str = WEBHOOK_ID, label: str = "", **data: str
) -> Base:
    """PortOne's delivery of `event_type` for the order `name`, signed at SIGNED_AT."""
    payload = json.loads(webhook_body(event_type, MUID[name], TX[name], **data))
    base = post_json(WEBHOOK, payload, label=label or event_type)
    base.headers = sign(encoded(base), msg_id=msg_id)
    return base


def bases() -> list[Base]:
    def pay(name: str) -> dict[str, str]:
        return {"paymentId": MUID[name]}

    failed = [
        ("paymentId", MUID["pending"]),
        ("code", "FAILURE_TYPE_PG"),
        ("message", "[PG] 카드 한도가 초과되었습니다."),
        ("pgCode", "F113"),
        ("pgMessage", "한도초과"),
    ]
    return [
        post_json(COMPLETE, pay("pending"), client="shopper", label="pays the order"),
        post_json(COMPLETE, pay("vbank"), client="shopper", label="virtual account"),
        post_json(COMPLETE, pay("forged"), expect=(409,), label="forged amount"),
        post_json(COMPLETE, pay("paid"), label="already paid"),
        post_json(COMPLETE, pay("unknown"), expect=(404,), label="unknown to PortOne"),
        post_json(COMPLETE, {"paymentId": NOT_OURS}, expect=(404,), label="not our order"),
        post_json(
            COMPLETE,
            pay("pending"),
            client="csrf",
            headers=dict(CSRF_HEADER),
            label="CSRF enforced",
        ),
        get(COMPLETE, query=[("paymentId", MUID["pending"])], expect=(302,), client="shopper"),
        get(COMPLETE, query=failed, expect=(302,), label="failed, with code and message"),
        get(COMPLETE, query=[("paymentId", MUID["vbank"])], expect=(302,), label="virtual account"),
        webhook("Transaction.Paid", "pending"),
        webhook("Transaction.VirtualAccountIssued", "vbank"),
        webhook("Transaction.Paid", "forged", label="forged amount"),
        webhook("Transaction.PartialCancelled", "partial", cancellationId="cancel-1"),
        webhook("Transaction.Paid", "unknown", label="unknown to PortOne"),
        webhook("BillingKey.Issued", "pending", label="not a payment event"),
        webhook("Transaction.Paid", "paid", msg_id=SETTLED_ID, label="webhook-id seen before"),
        post_json(PREPARE, {"merchant_uid": MUID["pending"]}, client="shopper"),
        post_json(PREPARE, {"merchant_uid": MUID["paid"]}, expect=(409,), label="not payable"),
    ]


# Values tried, one request each, in every field and query item of that name.
PAYMENT_IDS: list[Any] = [
    *("", " ", "a\x00b", "x" * 41, "한글", "../x", "a/b", "o2099", "\ud800", "x" * 10_000),
    *(MUID["paid"], NOT_OURS, f" {MUID['pending']} ", MUID["pending"].upper()),
    *(42, None, True, ["x"], {"$ne": None}),
]
DICTIONARY: dict[str, list[Any]] = {
    "paymentId": PAYMENT_IDS,
    "merchant_uid": ["a\x00b", "x" * 41, "한글", "", MUID["unknown"], NOT_OURS, 42, None],
    "code": ["", "\x00", "0", "x" * 10_000],
    "message": ["", "\x00", "<script>alert(1)</script>", "한" * 10_000, "%s%n", "{{7*7}}"],
    "pgMessage": ["", "\ud800", "a" * 201],
    "type": [
        *("Transaction.Cancelled", "Transaction.", "Transaction", "transaction.paid"),
        *("BillingKey.Issued", "", "\x00", "Transaction." + "x" * 10_000),
        *(42, None, ["Transaction.Paid"], {"Transaction": "Paid"}),
    ],
    "transactionId": ["", "\x00", "x" * 65, "tx/1", "한글", 42, None, ["tx"]],
    "cancellationId": ["", "\x00", "x" * 10_000, 42, None],
    "storeId": ["store-other", "", None, 42],
    "timestamp": ["", "yesterday", "2099-13-40T99:99:99Z", 0, None],
    "data": [None, [], "", {}, 42, [{"paymentId": MUID["pending"]}]],
}


def _by(all_bases: list[Base], endpoint: str, label: str = "") -> Base:
    return next(b for b in all_bases if b.endpoint == endpoint and (not label or b.label == label))


def _variant(
    mutator: Mutator,
    base: Base,
    note: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    expect: frozenset[int] | None = None,
) -> Req:
    """The base request with other headers or another body, answered as `expect` says."""
    req = mutator.base(base)
    if headers is not None:
        req.headers = dict(headers)
    if body is not None:
        req.body = body
    req.note, req.kind, req.expect = note, "fuzz", expect
    return req


def _without(headers: dict[str, str], *names: str) -> dict[str, str]:
    return {key: value for key, value in headers.items() if key not in names}


def header_cases(mutator: Mutator, base: Base) -> list[Req]:
    """The signature headers of a valid delivery, spoiled one way each."""
    body, good = encoded(base), base.headers
    entry = good[SIG].split(",", 1)[1]
    junk = "v1," + base64.b64encode(bytes(32)).decode()
    other = sign(body.replace(b"Transaction.Paid", b"Transaction.Cancelled"))[SIG]
    cases: list[tuple[str, dict[str, str], frozenset[int]]] = [
        ("no signature headers (read as a V1 delivery)", _without(good, ID, TS, SIG), REJECTED),
        ("signed with another store's secret", sign(body, secret=OTHER_SECRET), REJECTED),
        ("the signature of another body", {**good, SIG: other}, REJECTED),
        ("webhook-id changed after signing", {**good, ID: good[ID] + "x"}, REJECTED),
        ("timestamp changed after signing", {**good, TS: str(SIGNED_AT + 1)}, REJECTED),
        (
            "a second, valid signature (secret rotation)",
            {**good, SIG: f"{junk} {good[SIG]}"},
            ACCEPTED,
        ),
        (
            "150 signatures, the last one valid",
            {**good, SIG: " ".join([junk] * 150 + [good[SIG]])},
            ACCEPTED,
        ),
        ("160 signatures, none valid", {**good, SIG: " ".join([junk] * 160)}, REJECTED),
    ]
    for name in (ID, TS, SIG):
        cases.append((f"{name} missing", _without(good, name), REJECTED))
        cases.append((f"{name} empty", {**good, name: ""}, REJECTED))
        cases.append(
            (f"{name} at gunicorn's limit", {**good, name: "9" * GUNICORN_FIELD_MAX}, REJECTED)
        )
    garbled = [
        "v1", "v1,", "v1,a,b", f"v2,{entry}", "v1,!!!!", f"v1,{entry[:-4]}", f"v1,{entry[1:]}",
        "v1,한글💳", raw(b"v1,\xff\xfe\x80"), junk, f"{junk} {junk}", entry, f"v1, {entry}",
    ]  # fmt: skip
    cases += [(f"signature {short(s)}", {**good, SIG: header_value(s)}, REJECTED) for s in garbled]
    # A server strips the spaces around a header value; these are inside it.
    for odd in (f"{junk}  {good[SIG]}", f"{good[SIG]}==", f"{good[SIG]}\t{junk}"):
        cases.append((f"signature {short(odd)}", {**good, SIG: odd}, EITHER))
    cases += _timestamp_cases(body, good)
    for msg_id in (
        "m" * GUNICORN_FIELD_MAX,
        header_value("msg_한글💳"),
        header_value(raw(b"msg_\xff\xfe\x80")),
        'msg "quoted" <b>x</b>; a=b, c.d %00 \\',
        "msg \t inner",
    ):
        cases.append((f"webhook-id {short(msg_id)}, signed", sign(body, msg_id=msg_id), ACCEPTED))
    cases.append(("webhook-id of a settled delivery, unsigned", {**good, ID: SETTLED_ID}, REJECTED))
    return [
        _variant(mutator, base, f"V2 headers: {note}", headers=headers, expect=expect)
        for note, headers, expect in cases
    ]


def _timestamp_cases(
    body: bytes, good: dict[str, str]
) -> list[tuple[str, dict[str, str], frozenset[int]]]:
    """Deliveries signed at another time (the tolerance is five minutes either way), and
    timestamps that are no time at all."""
    cases = [
        (f"signed {offset:+} s from the check", sign(body, at=SIGNED_AT + offset), expect)
        for offset, expect in (
            (-301, REJECTED),
            (301, REJECTED),
            (-299, ACCEPTED),
            (299, ACCEPTED),
            (-365 * 86400, REJECTED),
            (-SIGNED_AT, REJECTED),
        )
    ]
    for text in (
        *("0", "-1", "1e20", "1e400", "nan", "inf", "-inf", "soon", "0x6930bbe0", "9" * 5000),
        str(SIGNED_AT * 1000),  # milliseconds
        header_value("１７６４６６９６００"),  # full-width digits, as the server reads them
        header_value(raw(b"1764669600\xff")),
    ):
        cases.append((f"timestamp {short(text)}", {**good, TS: text}, REJECTED))
    for text in (f"{SIGNED_AT}.9", f"+{SIGNED_AT}", "1_764_669_600", f"{SIGNED_AT}.0e0"):
        # The signed second, written otherwise: accepting it or not are both fine.
        cases.append((f"timestamp {text!r}", {**good, TS: text}, EITHER))
    return cases


def _resigned(req: Req) -> Req:
    """The request with its (mutated) body signed again, so that the signature holds."""
    try:
        req.body.decode("utf-8")
    except UnicodeDecodeError:
        req.note += "; not UTF-8, sent with the base's signature"
        return req
    req.headers = {**req.headers, **sign(req.body, msg_id=req.headers.get(ID, WEBHOOK_ID))}
    req.note = "signed again: " + req.note
    return req


# What a mutation of the body alone can do (the rest are in the plan's own stages).
BODY_KINDS = [
    *("field", "field-type", "drop", "extra", "dup", "many-fields", "as-form", "multipart"),
    *("truncate", "empty-body", "bytes", "bom", "utf16", "json-nonobject", "json-deep"),
    "json-garbage",
]


def _odd_bodies() -> list[tuple[str, bytes]]:
    """Whole bodies no mutation of a delivery makes: other JSON shapes, duplicate keys, depth
    past Python's recursion limit, numbers past its digit limit."""
    pending = MUID["pending"]
    paid_type = '"type": "Transaction.Paid"'
    paid = f'{paid_type}, "data": {{"paymentId": "{pending}"}}'

    def event(data: str, event_type: str = paid_type) -> str:
        return f'{{{event_type}, "data": {data}}}'

    texts = [
        ("no data", "{" + paid_type + "}"),
        ("data null", event("null")),
        ("no transactionId", "{" + paid + "}"),
        ("V1's body", json.dumps({"imp_uid": "imp_100000000001", "merchant_uid": pending})),
        ("NaN and Infinity", event('{"paymentId": Infinity}', '"type": NaN')),
        ("type twice", '{"type": "BillingKey.Issued", ' + paid + "}"),
        ("paymentId twice", event(f'{{"paymentId": "{NOT_OURS}", "paymentId": "{pending}"}}')),
        ("2000 nested lists", "[" * 2000 + "]" * 2000),
        ("data 3000 lists deep", event("[" * 3000 + "]" * 3000)),
        ("paymentId of 5000 digits", event('{"paymentId": 1' + "0" * 5000 + "}")),
        ("escaped NUL paymentId", event('{"paymentId": "\\u0000"}')),
        (
            "lone surrogate in type",
            event(f'{{"paymentId": "{pending}"}}', '"type": "Transaction.\\ud800"'),
        ),
        (
            "lone surrogate in transactionId",
            event(f'{{"paymentId": "{pending}", "transactionId": "\\udfff"}}'),
        ),
        ("timestamp 1e400", '{"timestamp": 1e400, ' + paid + "}"),
        ("Korean paymentId", event('{"paymentId": "한글"}')),
        ("trailing NUL", "{" + paid + "}\x00"),
        ("BOM", "\ufeff{" + paid + "}"),
    ]
    return [(note, text.encode()) for note, text in texts]


def signed_cases(mutator: Mutator, all_bases: list[Base]) -> list[Req]:
    """Webhook bodies mutated and signed again: the parser behind the signature at work."""
    hooks = [base for base in all_bases if base.endpoint == f"POST {WEBHOOK}"]
    first = hooks[0]
    reqs = [
        *field_cases(mutator, first, set()),
        *dictionary_cases(mutator, first, DICTIONARY, set()),
        *(mutator.mutate(base, [kind]) for base in hooks for kind in BODY_KINDS[:8]),
        *(mutator.mutate(first, [kind]) for kind in BODY_KINDS[8:]),
    ]
    for _ in range(SIGNED_RANDOM):
        base = mutator.rng.choice(hooks)
        kinds = mutator.rng.sample(BODY_KINDS, mutator.rng.choice([1, 2, 2, 3]))
        reqs.append(mutator.mutate(base, kinds))
    reqs += [_variant(mutator, first, f"body: {note}", body=body) for note, body in _odd_bodies()]
    return [_resigned(req) for req in reqs]


def v2_plan(mutator: Mutator) -> list[Req]:
    all_bases = bases()
    reqs = plan(
        mutator,
        all_bases,
        RANDOM_REQUESTS,
        known=lambda mutator, all_bases: [],
        dictionary=DICTIONARY,
        min_per_endpoint=MIN_PER_ENDPOINT,
    )
    for stage, members in (
        ("headers", header_cases(mutator, _by(all_bases, f"POST {WEBHOOK}"))),
        ("signed", signed_cases(mutator, all_bases)),
    ):
        for req in members:
            req.stage = stage
        reqs += members
    return reqs


# --- what the outcomes must show ----------------------------------------------------------
def _looked_up(outcome: Outcome) -> bool:
    """PortOne was asked for one of the world's payments."""
    known = {API + f"payments/{muid}" for muid in MUID.values()}
    return any(method == "GET" and url in known for method, url in outcome.iamport_calls)


def _signatures() -> dict[tuple[str, str, str], bytes]:
    """Each webhook base's signature headers, and the body they sign."""
    return {
        (base.headers[ID], base.headers[TS], base.headers[SIG]): encoded(base)
        for base in bases()
        if base.endpoint == f"POST {WEBHOOK}"
    }


def _tampered(outcome: Outcome, signatures: dict[tuple[str, str, str], bytes]) -> bool:
    """A delivery whose body changed under a base's signature (method and path kept)."""
    req = outcome.req
    signed = signatures.get((req.headers.get(ID), req.headers.get(TS), req.headers.get(SIG)))
    return (
        signed is not None
        and outcome.body != signed
        and req.method == "POST"
        and outcome.path.split("?")[0] == WEBHOOK
    )


def _problems(outcomes: list[Outcome]) -> tuple[list[str], dict[str, Any]]:
    """What would make the test pass vacuously or the signature check leak, and the figures
    the report shows."""
    signatures = _signatures()
    tampered = [o for o in outcomes if _tampered(o, signatures)]
    figures = {
        "reached": sum(1 for o in outcomes if o.req.kind != "base" and _looked_up(o)),
        "signed_reached": sum(1 for o in outcomes if o.req.stage == "signed" and _looked_up(o)),
        "tampered": tampered,
    }
    problems = [
        f"#{o.req.index} {o.req.endpoint} ({o.req.note}) answered {o.status}, expected "
        f"{sorted(o.req.expect)}: {o.crash}"
        for o in outcomes
        if o.req.expect is not None and o.status not in o.req.expect
    ]
    problems += [
        f"#{o.req.index} {o.req.endpoint} ({o.req.note}) never asked PortOne to cancel"
        for o in outcomes
        if o.req.kind == "base"
        and "forged" in o.req.note
        and not any(url.endswith("/cancel") for _, url in o.iamport_calls)
    ]
    problems += [
        f"#{o.req.index} a body changed under a valid signature was answered {o.status}"
        + (" after asking PortOne" if o.iamport_calls else "")
        + f" ({o.req.note})"
        for o in tampered
        if o.status not in (400, 413) or o.iamport_calls
    ]
    if ONLY:
        return problems, figures
    per_endpoint = Counter(o.req.endpoint for o in outcomes)
    endpoints = {base.endpoint for base in bases()}
    thin = {e: per_endpoint[e] for e in endpoints if per_endpoint[e] < MIN_PER_ENDPOINT}
    reached, signed_reached = figures["reached"], figures["signed_reached"]
    checks = [
        (len(outcomes) >= MIN_REQUESTS, f"only {len(outcomes)} requests (at least {MIN_REQUESTS})"),
        (not thin, f"endpoints with fewer than {MIN_PER_ENDPOINT} requests: {thin}"),
        (reached >= MIN_REACHED, f"only {reached} mutated requests reached PortOne"),
        (signed_reached >= MIN_SIGNED_REACHED, f"only {signed_reached} signed ones did"),
        (len(tampered) >= MIN_TAMPERED, f"only {len(tampered)} bodies changed under a signature"),
    ]
    problems += [message for held, message in checks if not held]
    return problems, figures


def _notes(outcomes: list[Outcome], seconds: float, figures: dict[str, Any]) -> list[str]:
    spent: Counter = Counter()
    for o in outcomes:
        spent[o.req.endpoint] += o.seconds
    per_endpoint = Counter(o.req.endpoint for o in outcomes)
    by_stage: dict[str, list[Outcome]] = defaultdict(list)
    for o in outcomes:
        by_stage[o.req.stage].append(o)
    slowest = sorted(outcomes, key=lambda o: -o.seconds)[:6]
    return [
        f"Statuses: {statuses(outcomes)}. {len(outcomes)} requests in {seconds:.1f} s; "
        f"{figures['reached']} mutated requests made PortOne look up a payment of the world, "
        f"{figures['signed_reached']} of them webhooks signed again after the mutation.",
        "Plan: " + ", ".join(f"{k} {len(v)}" for k, v in by_stage.items()),
        *(f"    {stage}: {statuses(by_stage[stage])}" for stage in ("headers", "signed")),
        f"Bodies changed under a valid signature: {len(figures['tampered'])}, answered "
        f"{statuses(figures['tampered'])}.",
        "Time by endpoint: "
        + ", ".join(f"{e} {t:.1f}s/{per_endpoint[e]}" for e, t in spent.most_common()),
        "Slowest: "
        + ", ".join(
            f"#{o.req.index} {o.req.endpoint} {o.seconds:.2f}s ({o.req.note[:40]})" for o in slowest
        ),
    ]


# --- the tests ----------------------------------------------------------------------------
@pytest.mark.django_db
def test_generated_v2_requests_answer_below_500(world: World):
    mutator = Mutator(SEED + 2)
    chosen = [r for r in v2_plan(mutator) if not ONLY or r.index in ONLY]
    started = time.perf_counter()
    with world.runner.recording():
        outcomes = [world.runner.send(req, before=world.reset) for req in chosen]
    seconds = time.perf_counter() - started

    failures = [o for o in outcomes if o.status is None or o.status >= 500]
    problems, figures = _problems(outcomes)
    text = report(
        failures,
        seed=SEED + 2,
        total=len(outcomes),
        title="Generated requests to the PortOne V2 doors answered 5xx",
        replay=f"FUZZ_SEED={SEED} FUZZ_ONLY=<#> pytest tests/fuzz/test_generated_input_v2.py "
        "-k below_500 -s (this test draws from FUZZ_SEED + 2)",
        notes=_notes(outcomes, seconds, figures),
        traces=TRACES,
    )
    write_report(text)
    # The base requests and the header cases are answered as they must be, the signature
    # holds against every changed body, and enough requests reach every door and PortOne.
    if problems or failures:
        pytest.fail("\n".join([*problems, "", text]), pytrace=False)


# --- PortOne failing ----------------------------------------------------------------------
def _answer(status: int = 200, *, body: Any = "", json_body: Any = None, ctype="application/json"):
    kwargs: dict[str, Any] = {"json": json_body} if json_body is not None else {"body": body}
    if json_body is None and not isinstance(body, Exception):
        kwargs["content_type"] = ctype
    return responses.Response(responses.GET, API, status=status, **kwargs)


def _merged(payment: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    new = copy.deepcopy(payment)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(new.get(key), dict):
            new[key] = _merged(new[key], value)
        else:
            new[key] = value
    return new


def _bad_payment(remote: dict[str, dict[str, Any]], **changes: Any):
    """GET payments/<paymentId> answered with the world's payment, changed by `changes`."""
    by_id = {payment["id"]: payment for payment in remote.values()}

    def reply(request) -> tuple[int, dict, str]:
        payment = by_id.get(unquote(request.path_url.rsplit("/", 1)[-1]))
        if payment is None:
            return 404, {}, json.dumps(load_fixture("error_not_found"))
        return 200, {}, json.dumps(_merged(payment, changes))

    return responses.CallbackResponse(
        responses.GET, API, callback=reply, content_type="application/json"
    )


def _cancellation(status: str) -> dict[str, Any]:
    return {
        "cancellation": {
            "status": status,
            "id": "cancel-fuzz",
            "totalAmount": 100,
            "reason": "위조",
            "requestedAt": "2024-04-26T09:00:00Z",
        }
    }


def _portone(request) -> bool:
    return request.url.startswith(API)


def _lookup(request) -> bool:
    return _portone(request) and request.method == "GET"


def _cancel(request) -> bool:
    return _portone(request) and request.url.endswith("/cancel")


def _pre_register(request) -> bool:
    return _portone(request) and request.url.endswith("/pre-register")


def _error(error_type: str, message: str = "") -> dict[str, str]:
    return {"type": error_type, "message": message or error_type}


Fault = list[tuple[Callable[[Any], bool], Any]]


def transport_faults() -> dict[str, Fault]:
    """PortOne (or what stands before it) answering badly, or not at all."""
    html = "<html><body>Internal Server Error</body></html>"
    return {
        "HTTP 500 HTML page": [(_portone, _answer(500, body=html, ctype="text/html"))],
        "HTTP 500 error object": [(_portone, _answer(500, json_body=_error("INTERNAL")))],
        "HTTP 502 PG_PROVIDER": [(_lookup, _answer(502, json_body=_error("PG_PROVIDER")))],
        "HTTP 502 empty": [(_portone, _answer(502))],
        "HTTP 503 text": [(_portone, _answer(503, body="Service Unavailable", ctype="text/plain"))],
        "HTTP 504 HTML": [(_portone, _answer(504, body=html, ctype="text/html"))],
        "HTTP 429": [(_portone, _answer(429, json_body=_error("TOO_MANY_REQUESTS")))],
        "HTTP 401 UNAUTHORIZED": [(_portone, _answer(401, json_body=_error("UNAUTHORIZED")))],
        "HTTP 403 FORBIDDEN": [(_portone, _answer(403, json_body=_error("FORBIDDEN")))],
        "HTTP 403 empty": [(_portone, _answer(403))],
        "HTTP 400 INVALID_REQUEST": [(_portone, _answer(400, json_body=_error("INVALID_REQUEST")))],
        "HTTP 404 not JSON": [(_lookup, _answer(404, body="Not Found", ctype="text/plain"))],
        "HTTP 404 another type": [(_lookup, _answer(404, json_body=_error("STORE_NOT_FOUND")))],
        "HTTP 302 elsewhere": [
            (
                _portone,
                responses.Response(
                    responses.GET, API, status=302, headers={"Location": "https://evil.example/"}
                ),
            )
        ],
        "200 not JSON": [(_lookup, _answer(200, body="\x00garbage", ctype="text/plain"))],
        "200 HTML": [(_lookup, _answer(200, body=html, ctype="text/html"))],
        "200 truncated JSON": [
            (_lookup, _answer(200, body='{"id": "o2099', ctype="application/json"))
        ],
        "200 JSON array": [(_lookup, _answer(200, json_body=[1, 2, 3]))],
        "200 JSON string": [(_lookup, _answer(200, json_body="PAID"))],
        "200 null": [(_lookup, _answer(200, body="null"))],
        "200 empty object": [(_lookup, _answer(200, json_body={}))],
        "read timeout": [(_portone, _answer(body=requests.ReadTimeout("fuzz")))],
        "connect timeout": [(_portone, _answer(body=requests.ConnectTimeout("fuzz")))],
        "connection refused": [(_portone, _answer(body=requests.ConnectionError("fuzz")))],
        "TLS failure": [(_portone, _answer(body=requests.exceptions.SSLError("fuzz")))],
        "connection cut mid-body": [
            (_lookup, _answer(body=requests.exceptions.ChunkedEncodingError("fuzz")))
        ],
        "cancel HTTP 500": [(_cancel, _answer(500, body="oops", ctype="text/plain"))],
        "cancel timeout": [(_cancel, _answer(body=requests.ReadTimeout("fuzz")))],
        "cancel refused": [(_cancel, _answer(409, json_body=_error("PAYMENT_ALREADY_CANCELLED")))],
        "cancel balance differs": [
            (_cancel, _answer(409, json_body=_error("CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN")))
        ],
        "cancel still REQUESTED": [(_cancel, _answer(200, json_body=_cancellation("REQUESTED")))],
        "cancel FAILED": [(_cancel, _answer(200, json_body=_cancellation("FAILED")))],
        "cancel reply without cancellation": [(_cancel, _answer(200, json_body={}))],
        "pre-register refused": [(_pre_register, _answer(409, json_body=_error("ALREADY_PAID")))],
        "pre-register HTTP 500": [(_pre_register, _answer(500, body="oops", ctype="text/plain"))],
        "pre-register timeout": [(_pre_register, _answer(body=requests.ReadTimeout("fuzz")))],
    }


def payment_faults(remote: dict[str, dict[str, Any]]) -> dict[str, Fault]:
    """The world's payments, as PortOne might answer them against its own schema."""
    changes: dict[str, dict[str, Any]] = {
        "status unknown": {"status": "WEIRD"},
        "status missing": {"status": None},
        "amount.total text": {"amount": {"total": "abc"}},
        "amount.total 10**20": {"amount": {"total": 10**20}},
        "amount.total 12000.5": {"amount": {"total": 12000.5}},
        "amount.total -1": {"amount": {"total": -1}},
        "amount.total true": {"amount": {"total": True}},
        "amount not an object": {"amount": "12000"},
        "amount.cancelled over total": {"amount": {"cancelled": 10**9}},
        "currency USD": {"currency": "USD"},
        "paidAt text": {"paidAt": "yesterday"},
        "paidAt without zone": {"paidAt": "2024-04-25T10:00:05"},
        "paidAt at the end of time": {"paidAt": "9999-12-31T23:59:59-23:59"},
        "paidAt a number": {"paidAt": 1714039205},
        "cancellations text": {"cancellations": "x"},
        "cancellations without id": {"cancellations": [{"status": "SUCCEEDED", "totalAmount": 1}]},
        "cancellations of numbers": {"cancellations": [5]},
        "cancellation amount text": {
            "cancellations": [{"status": "SUCCEEDED", "id": "c1", "totalAmount": "abc"}]
        },
        "method text": {"method": "card"},
        "channel a list": {"channel": []},
        "customer null": {"customer": None},
        "id empty": {"id": ""},
        "id of another order": {"id": NOT_OURS},
        "transactionId with NUL": {"transactionId": "tx\x00"},
        "transactionId of 100 characters": {"transactionId": "t" * 100},
        "pgTxId with NUL": {"pgTxId": "a\x00b"},
        "orderName of 10k characters": {"orderName": "원두" * 5000},
        "buyer name with a lone surrogate": {"customer": {"name": {"full": "\ud800"}}},
        "issued account without number": {
            "status": "VIRTUAL_ACCOUNT_ISSUED",
            "method": {"type": "PaymentMethodVirtualAccount", "bank": "SHINHAN"},
        },
        "account expiry text": {
            "method": {"type": "PaymentMethodVirtualAccount", "expiredAt": "soon"}
        },
        "account bank unknown": {
            "status": "VIRTUAL_ACCOUNT_ISSUED",
            "method": {"type": "PaymentMethodVirtualAccount", "bank": "\x00", "accountNumber": "1"},
        },
    }
    return {
        f"payment {name}": [(_lookup, _bad_payment(remote, **change))]
        for name, change in changes.items()
    }


@pytest.mark.django_db
def test_portone_failures_answer_only_502_503_504(world: World):
    mutator = Mutator(SEED + 3)
    modes = {**transport_faults(), **payment_faults(world.remote)}
    targets = bases()
    firsts = {base.endpoint: base for base in reversed(targets)}  # the first base of each
    plans: list[tuple[Req, str]] = [
        (mutator.base(base), mode) for mode in modes for base in firsts.values()
    ]
    for base in targets:  # every base request once more, under a fault of its own
        plans.append((mutator.base(base), mutator.rng.choice(sorted(modes))))
    for _ in range(FAULT_REQUESTS):
        base = mutator.rng.choice(targets)
        plans.append(
            (mutator.mutate(base, mutator.random_kinds(base)), mutator.rng.choice(sorted(modes)))
        )

    outcomes: list[tuple[Outcome, str]] = []
    started = time.perf_counter()
    with world.runner.recording():
        for req, mode in [(r, m) for r, m in plans if not ONLY or r.index in ONLY]:

            def fail(mode: str = mode) -> None:
                world.reset()
                world.registry.faults = modes[mode]

            try:
                outcome = world.runner.send(req, before=fail)
            finally:
                world.registry.faults = []
            req.note = f"PortOne: {mode}; {req.note}"
            outcomes.append((outcome, mode))
    seconds = time.perf_counter() - started

    failures = [
        o
        for o, _ in outcomes
        if o.status is None or (o.status >= 500 and o.status not in (502, 503, 504))
    ]
    caught = [
        o
        for o, _ in outcomes
        if o.status == 503 and o.crash is not None and o.crash.source != "signal"
    ]
    notes = [
        f"{len(outcomes)} requests in {seconds:.1f} s. "
        f"Statuses: {statuses([o for o, _ in outcomes])}.",
        f"503s that hide an unexpected exception (caught by never_500): {len(caught)}",
        *(
            f"    {o.req.endpoint} [{o.req.note.split(';')[0]}] {o.crash.type} at {o.crash.origin}"
            for o in caught[:40]
        ),
    ]
    text = report(
        failures,
        seed=SEED + 3,
        total=len(outcomes),
        title="With PortOne V2 failing, requests answered 5xx other than 502/503/504",
        replay=f"FUZZ_SEED={SEED} FUZZ_ONLY=<#> pytest tests/fuzz/test_generated_input_v2.py "
        "-k portone_failures (this test draws from FUZZ_SEED + 3; each request's PortOne "
        "fault is in its mutation)",
        notes=notes,
    )
    write_report(text)
    assert ONLY or len(outcomes) >= len(modes) * len(firsts)
    if failures:
        pytest.fail(text, pytrace=False)
