"""Generated bad input on every V2 endpoint of the sandbox: never a 5xx, always the endpoint's
own error shape, and nothing stored by a refused request.

Each endpoint has a valid base request (`bases`, checked by `test_base_requests_succeed`).
A seeded `random.Random` mutates it: every field replaced by odd values or dropped, the path's
paymentId and the headers replaced, raw bodies that are not JSON at all, then random
combinations of several mutations at once. Every request runs inside a transaction that is
rolled back, so each meets the same world and a failure can be replayed alone (its number
and seed are in the message).
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from django.db import transaction
from django.test import Client

from guard.middleware import NUL_MESSAGE
from sandbox.models import (
    SandboxCancellation,
    SandboxIdempotencyKey,
    SandboxPayment,
    SandboxPrepare,
)
from tests.sandbox.conftest import V2_API, payment_request, v2_start, v2_window_action

pytestmark = pytest.mark.django_db

SEED = 20240425
AUTH = {"Authorization": "PortOne test_portone_secret"}
# fmt: off
ODD_VALUES: list[Any] = [
    None, "", " ", 0, -1, 1.5, 10**15, 10**30, -(10**30), float("nan"), float("inf"), True,
    False, [], {}, [""], {"": ""}, [[[[[]]]]], "12000", "1e3", "\x00", "a\x00b", "\ud800",
    "x\udfffy", "한글💳", "\u202e", "'; DROP TABLE x; --", "<script>", "%00", "../..",
    "9" * 5000, "x" * 20_000, {"$ne": None}, ["KRW"], "CURRENCY_KRW", "KRW", "CARD",
    "VIRTUAL_ACCOUNT", "http://", "https://x", "javascript:x", "2099-12-31", "99999999999999",
]
ODD_IDS = [
    "\x00", "a\x00b", "%00", "\ud800", "x" * 41, "x" * 5000, "한글", "%2F", "a%2Fb", "..",
    "%", "%zz", "a b", "a\nb", "\u202e", "💳", "order_v2_paid/", "order_v2_paid%00",
]
ODD_HEADERS = [
    "", " ", "PortOne", "PortOne ", "portone test_portone_secret", "Bearer x", "PortOne \x7f",
    "PortOne 비밀", "PortOne " + "x" * 8000, '"key-0000000000000000"', "x" * 300,
]
RAW_BODIES = [
    b"", b"{", b"[]", b"null", b"1", b'"s"', b"\xff\xfe\x00", b"{\"a\": \"\\ud800\"}",
    b"[" * 50_000 + b"]" * 50_000, b'{"reason": "x", "amount": ' + b"9" * 5000 + b"}",
    b'{"reason": NaN}', b'{"request": Infinity}', b"\xef\xbb\xbf{}", b"{}" * 1000,
]
# fmt: on


@dataclass
class Req:
    method: str
    path_id: str | None  # the paymentId or txId in the path, None for fixed paths
    template: str
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    label: str = ""

    def path(self) -> str:
        """Percent-encoded as a client sends it (a lone surrogate as its invalid UTF-8 bytes);
        "%" and "/" stay as given, so "%2F" and "%zz" reach the server as such."""
        segment = quote((self.path_id or "").encode("utf-8", "surrogatepass"), safe="%/")
        return V2_API + self.template.format(id=segment)


@dataclass
class World:
    paid: str
    ready_tx: str
    account_tx: str


@pytest.fixture
def world(client, approve_v2, start_v2, portone) -> World:
    approve_v2(paymentId="order_v2_paid")
    ready = start_v2(paymentId="order_v2_ready")
    account = start_v2(paymentId="order_v2_account", payMethod="VIRTUAL_ACCOUNT")
    v2_window_action(client, account, "approve")
    portone.post("payments/order_v2_prep/pre-register", {"totalAmount": 12000})
    return World(paid="order_v2_paid", ready_tx=ready, account_tx=account)


def bases(world: World) -> list[Req]:
    key = {"Idempotency-Key": '"bad-input-key-0000000001"', **AUTH}
    return [
        Req("get", world.paid, "payments/{id}", headers=dict(AUTH), label="get"),
        Req(
            "post",
            world.paid,
            "payments/{id}/cancel",
            body={"reason": "환불", "amount": 1000, "currentCancellableAmount": 12000},
            headers=key,
            label="cancel",
        ),
        Req(
            "post",
            "order_v2_account",
            "payments/{id}/cancel",
            body={
                "reason": "발급 취소",
                "refundAccount": {"bank": "SHINHAN", "number": "110", "holderName": "홍길동"},
                "skipWebhook": True,
            },
            headers=dict(AUTH),
            label="cancel account",
        ),
        Req(
            "post",
            "order_v2_new",
            "payments/{id}/pre-register",
            body={"totalAmount": 12000, "currency": "KRW"},
            headers=dict(AUTH),
            label="pre-register",
        ),
        Req(
            "post",
            None,
            "sdk/start",
            body={
                "request": payment_request(
                    paymentId="order_v2_prep",
                    redirectUrl="https://shop.test/back",
                    payMethod="VIRTUAL_ACCOUNT",
                    virtualAccount={"accountExpiry": {"validHours": 24}},
                ),
                "platform": "MOBILE",
                "redirect": True,
            },
            label="start",
        ),
        Req(
            "post",
            world.ready_tx,
            "window/{id}/decline",
            body={"error_code": "F1003"},
            label="decline",
        ),
    ]


def _leaves(value: Any, path: tuple = ()) -> Iterator[tuple]:
    if path:
        yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _leaves(item, (*path, index))


def _set(body: Any, path: tuple, value: Any, *, drop: bool = False) -> Any:
    body = copy.deepcopy(body)
    target = body
    for step in path[:-1]:
        target = target[step]
    if drop and isinstance(target, dict):
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return body


def mutations(base: Req, rng: random.Random) -> Iterator[Req]:
    """Each field replaced by every odd value (or dropped), the path id and the headers
    replaced, raw bodies, then random combinations of those."""
    for path in list(_leaves(base.body)):
        yield Req(**{**base.__dict__, "body": _set(base.body, path, None, drop=True)})
        for value in rng.sample(ODD_VALUES, 12):
            yield Req(**{**base.__dict__, "body": _set(base.body, path, value)})
    if base.path_id is not None:
        for odd_id in ODD_IDS:
            yield Req(**{**base.__dict__, "path_id": odd_id})
    for name in ("Authorization", "Idempotency-Key", "User-Agent"):
        for value in rng.sample(ODD_HEADERS, 4):
            yield Req(**{**base.__dict__, "headers": {**base.headers, name: value}})
    for raw in RAW_BODIES:
        yield Req(**{**base.__dict__, "raw": raw})
    leaves = list(_leaves(base.body))
    for _ in range(15):
        body = base.body
        for path in rng.sample(leaves, min(3, len(leaves))):
            try:
                body = _set(body, path, rng.choice(ODD_VALUES))
            except (KeyError, IndexError, TypeError):
                continue  # an earlier mutation replaced the parent
        yield Req(**{**base.__dict__, "body": body})


def send(client: Client, req: Req):
    if req.raw is not None:
        data, content_type = req.raw, "application/json"
    else:
        data, content_type = json.dumps(req.body), "application/json"
    return client.generic(
        req.method.upper(), req.path(), data, content_type=content_type, headers=req.headers
    )


def stored() -> tuple[int, ...]:
    return (
        SandboxPayment.objects.count(),
        SandboxCancellation.objects.count(),
        SandboxPrepare.objects.count(),
        SandboxIdempotencyKey.objects.count(),
        *SandboxPayment.objects.order_by("id").values_list("cancel_amount", flat=True),
    )


def check(client: Client, req: Req) -> str | None:
    """Send `req` in a transaction rolled back afterwards; the problem found, if any."""
    with transaction.atomic():
        before = stored()
        reply = send(client, req)
        after = stored()
        transaction.set_rollback(True)
    if reply.status_code >= 500:
        return f"HTTP {reply.status_code}"
    if req.template.startswith("window/"):
        return None  # the window answers the V1-style envelope its page reads
    if reply.status_code == 400 and reply.content.decode(errors="replace") == NUL_MESSAGE:
        return None  # the site's own guard, before any view: a NUL in the path
    try:
        body = json.loads(reply.content)
    except ValueError:
        return f"HTTP {reply.status_code} with a body that is not JSON"
    shape = {"code", "message"} if req.template == "sdk/start" else {"type", "message"}
    if reply.status_code >= 400 and set(body) != shape:
        return f"HTTP {reply.status_code} answered {sorted(body)}, not {sorted(shape)}"
    if reply.status_code >= 400 and before != after:
        return f"HTTP {reply.status_code} but something was stored: {before} -> {after}"
    return None


def test_base_requests_succeed(world: World):
    client = Client(raise_request_exception=False)
    for req in bases(world):
        with transaction.atomic():
            reply = send(client, req)
            transaction.set_rollback(True)
        assert reply.status_code == 200, (req.label, reply.content[:300])


def test_generated_bad_input_never_answers_5xx(world: World):
    rng = random.Random(SEED)
    client = Client(raise_request_exception=False)
    failures, count = [], 0
    for base in bases(world):
        for number, req in enumerate(mutations(base, rng)):
            count += 1
            problem = check(client, req)
            if problem:
                failures.append(
                    f"{base.label} #{number}: {problem}: id={req.path_id!r:.60} "
                    f"body={json.dumps(req.body, default=str)[:200]} raw={req.raw!r:.60} "
                    f"headers={req.headers!r:.200}"
                )
    assert count > 600
    assert failures == [], f"seed {SEED}, {len(failures)} of {count}:\n" + "\n".join(failures[:30])


def test_start_refusals_are_not_server_errors_for_generated_requests(client, db):
    """A few thousand random requestPayment requests: only 200, 400 or 409."""
    rng = random.Random(SEED + 1)
    keys = [*payment_request(), "virtualAccount", "redirectUrl", "forceRedirect"]
    statuses = set()
    for _ in range(300):
        overrides = {key: rng.choice(ODD_VALUES) for key in rng.sample(keys, 3)}
        with transaction.atomic():
            reply = v2_start(client, redirect=rng.choice([True, False]), **overrides)
            transaction.set_rollback(True)
        statuses.add(reply.status_code)
    assert statuses <= {200, 400, 409}
