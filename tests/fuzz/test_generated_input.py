"""Generated input: every HTTP endpoint gets mutated requests (over 2,000 in all) and must
never answer 5xx for them (no 500, and no 503 for a client's mistake).

Each endpoint has valid base requests (below, `bases`) that really reach the code behind it:
real orders (pending, paid by card, a virtual account awaiting its deposit, partly refunded,
a paid virtual account), sandbox payments, and an Iamport mock that knows the shop's
payments. `fuzzlib.Mutator`, a `random.Random(SEED)` and nothing else, turns them into
mutated requests: the known crash cases and a few request-parsing cases, then one
request per endpoint and kind of mutation, per dictionary value (`DICTIONARY`), per field
and path parameter and mutation, and finally random combinations. Every request runs in a
transaction that is rolled back, so each one meets the same world and can be replayed alone:

    FUZZ_SEED=<seed> FUZZ_ONLY=<#>,<#> FUZZ_TRACE=1 pytest tests/fuzz -k never_answer_5xx

FUZZ_SEED picks another seed (the default is fixed and printed in every report), FUZZ_TRACE=1
adds full tracebacks, FUZZ_REPORT=<file> appends the reports to a file, FUZZ_PRINT=1 prints
them (a failure shows its report anyway).

Requests are what gunicorn (the production server) lets through to Django: header values
carry no control characters; a failure that needs a request line over gunicorn's limit is
marked as such in the report. Failures are grouped by (method, path template, status,
exception type), then by the production line that raised, each with its smallest request.
A status "None" means the exception escaped Django's handler (the WSGI server answers 500).

The PortOne V2 doors (settings.PAYMENTS_API = "v2") have a world of their own, in
test_generated_input_v2.py.

Iamport is a `responses` mock whose newest registration wins (`fuzzlib.IamportRegistry`): a
catch-all answers Iamport's 404 envelope for any id it does not know; the token, the known
payments, cancels and prepares answer as Iamport does. The sandbox's own REST API is called
through the Django test client, never through this mock. Iamport never fails in the first
test, so every answer must be < 500. The second test makes Iamport fail (HTTP 5xx, garbage,
timeouts, refused tokens, malformed payments) and then allows 502/503/504 besides < 500.
"""

from __future__ import annotations

import copy
import json
import os
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import requests
import responses
from django.conf import settings
from django.utils import timezone

from payments import client as iamport_client
from payments.services import SyncOutcome, payment_refund, payment_sync
from sandbox.models import SandboxCancellation, SandboxPayment, SandboxPrepare, SandboxToken
from shop.models import Order
from tests.conftest import API, FakeIamport, load_fixture
from tests.fuzz.fuzzlib import (
    Base,
    IamportRegistry,
    Mutator,
    Outcome,
    Req,
    Runner,
    get,
    make_client,
    plan,
    post_form,
    post_json,
    report,
    statuses,
    write_report,
)

SEED = int(os.environ.get("FUZZ_SEED") or 20251202)
ONLY = {int(i) for i in os.environ.get("FUZZ_ONLY", "").split(",") if i.strip()}
TRACES = os.environ.get("FUZZ_TRACE") == "1"  # full tracebacks in the report
RANDOM_REQUESTS = 400  # on top of the base requests and one request per (endpoint, mutation)
FAULT_REQUESTS = 60  # random extra requests in the Iamport-failure test
MIN_REQUESTS = 1000
MIN_PER_ENDPOINT = 10

MUID = {
    "pending": "o20990101000000000000000000000001",
    "vbank_wait": "o20990101000000000000000000000002",
    "paid": "o20990101000000000000000000000003",
    "partial": "o20990101000000000000000000000004",
    "vbank_paid": "o20990101000000000000000000000005",
}
IMP = {
    "pending": "imp_100000000001",
    "vbank_wait": "imp_100000000002",
    "paid": "imp_100000000003",
    "partial": "imp_100000000004",
    "vbank_paid": "imp_100000000005",
}
UNKNOWN_IMP = "imp_999999999999"
PRODUCT = {"coffee": 7001, "soldout": 7002, "hidden": 7003}
REFUND_KEY = "0123456789abcdef0123456789abcdef"  # unused: a fresh form
PARTIAL_KEY = "fedcba9876543210fedcba9876543210"  # the partial refund's: a repeated submit
CSRF_SECRET = "FuzzCsrfSecret0123456789abcdefgh"  # 32 characters, as Django's cookie secret
SANDBOX_TOKEN = "f" * 40
SBX = {
    "ready": "imps_000000000001",
    "paid": "imps_000000000002",
    "vbank": "imps_000000000003",
    "vbank_paid": "imps_000000000004",
    "partial": "imps_000000000005",
    "v2_cancelling": "00000000-0000-4000-8000-000000000006",  # a V2 txId
}
SBX_CANCELLATION = "sbcancel_0000000000000001"
SBX_PENDING_CANCELLATION = "sbcancel_0000000000000002"  # REQUESTED: its PG cancels later
WEBHOOK_URL = "http://shop.test/payments/webhook/"
SBX_API = "/sandbox/iamport/"


# --- the world ----------------------------------------------------------------------------
@dataclass
class World:
    runner: Runner
    registry: IamportRegistry
    remote: dict[str, dict[str, Any]]  # imp_uid -> the payment Iamport answers with
    orders: dict[str, Order]


def _cancelled(payment: dict[str, Any], amount: int, reason: str) -> dict[str, Any]:
    """Iamport's payment after a cancel of `amount`, as FakeIamport.cancel_ok computes it."""
    new = copy.deepcopy(payment)
    new["cancel_amount"] = payment["cancel_amount"] + amount
    new["status"] = "cancelled" if new["cancel_amount"] >= payment["amount"] else payment["status"]
    new["cancel_history"] = [
        *payment["cancel_history"],
        {
            "pg_tid": payment["pg_tid"],
            "amount": amount,
            "cancelled_at": 1764234000 + len(payment["cancel_history"]),
            "reason": reason,
            "cancellation_id": f"cncl_{len(payment['cancel_history']) + 1:03d}",
            "receipt_url": "https://iniweb.inicis.com/receipt/cancel",
        },
    ]
    return new


def _envelope(response: Any, *, code: int = 0, message: str | None = None) -> str:
    return json.dumps({"code": code, "message": message, "response": response})


def _mock_iamport(rsps: responses.RequestsMock) -> FakeIamport:
    """Unknown ids get Iamport's 404 envelope; cancels and prepares answer from the request."""
    not_found = load_fixture("not_found")
    anything = re.compile(re.escape(API) + ".*")
    for method in (responses.GET, responses.POST, responses.PUT):
        rsps.add(method, anything, status=404, json=not_found)
    return FakeIamport(rsps)  # registers the token


def _live_replies(rsps: responses.RequestsMock, remote: dict[str, dict[str, Any]]) -> None:
    """Cancel and prepare answer from the request and the payments as they stand."""

    def cancel(request) -> tuple[int, dict, str]:
        body = json.loads(request.body)
        payment = remote.get(body.get("imp_uid"))
        if payment is None:
            return 200, {}, _envelope(None, code=1, message="취소할 결제건이 존재하지 않습니다.")
        left = payment["amount"] - payment["cancel_amount"]
        if body.get("checksum") != left or not 0 < body.get("amount", 0) <= left:
            return 200, {}, _envelope(None, code=1, message="[checksum 불일치] 취소 가능 잔액 오류")
        return 200, {}, _envelope(_cancelled(payment, body["amount"], body.get("reason", "")))

    def prepare(request) -> tuple[int, dict, str]:
        body = json.loads(request.body)
        return 200, {}, _envelope({"merchant_uid": body["merchant_uid"], "amount": body["amount"]})

    json_type = "application/json"
    rsps.add_callback(responses.POST, API + "payments/cancel", cancel, content_type=json_type)
    for method in (responses.POST, responses.PUT):
        rsps.add_callback(method, API + "payments/prepare", prepare, content_type=json_type)


def _sandbox_world() -> None:
    now = timezone.now()
    SandboxToken.objects.create(
        access_token=SANDBOX_TOKEN,
        imp_key=settings.IAMPORT_API_KEY,
        expires_at=now + timedelta(days=1),
    )
    common = {
        "merchant_code": settings.IAMPORT_MERCHANT_CODE,
        "amount": 12000,
        "pg_provider": "html5_inicis",
        "name": "유기농 원두 200g",
        "buyer_name": "홍길동",
        "buyer_email": "buyer@example.com",
        "buyer_tel": "010-1234-5678",
        "notice_url": WEBHOOK_URL,
        "started_at": now - timedelta(minutes=5),
    }
    vbank = {
        "vbank_code": "004",
        "vbank_name": "KB국민은행",
        "vbank_num": "12345678901234",
        "vbank_holder": "아임포트 상점",
        "vbank_date": now + timedelta(days=3),
        "vbank_issued_at": now,
    }
    SandboxPayment.objects.create(
        imp_uid=SBX["ready"], merchant_uid="sbx_ready", pay_method="card", **common
    )
    SandboxPayment.objects.create(
        imp_uid=SBX["paid"],
        merchant_uid="sbx_paid",
        pay_method="card",
        status="paid",
        paid_at=now,
        pg_tid="sandbox_paid",
        **common,
    )
    SandboxPayment.objects.create(
        imp_uid=SBX["vbank"], merchant_uid="sbx_vbank", pay_method="vbank", **vbank, **common
    )
    SandboxPayment.objects.create(
        imp_uid=SBX["vbank_paid"],
        merchant_uid="sbx_vbank_paid",
        pay_method="vbank",
        status="paid",
        paid_at=now,
        **vbank,
        **common,
    )
    partial = SandboxPayment.objects.create(
        imp_uid=SBX["partial"],
        merchant_uid="sbx_partial",
        pay_method="card",
        status="paid",
        paid_at=now,
        cancel_amount=2000,
        **common,
    )
    SandboxCancellation.objects.create(
        payment=partial, cancellation_id=SBX_CANCELLATION, amount=2000, pg_tid="sandbox_c1"
    )
    cancelling = SandboxPayment.objects.create(
        api="v2",
        imp_uid=SBX["v2_cancelling"],
        merchant_uid="sbx_v2_cancelling",
        pay_method="card",
        status="paid",
        paid_at=now,
        pg_cancels_later=True,
        **common,
    )
    SandboxCancellation.objects.create(
        payment=cancelling,
        cancellation_id=SBX_PENDING_CANCELLATION,
        amount=3000,
        pg_tid="sandbox_c2",
        status="REQUESTED",
    )
    SandboxPrepare.objects.create(merchant_uid="sbx_ready", amount=12000)


@pytest.fixture
def world(db, product_factory, order_factory, django_user_model):
    with responses.RequestsMock(
        assert_all_requests_are_fired=False, registry=IamportRegistry
    ) as rsps:
        registry: IamportRegistry = rsps._registry  # responses has no public getter
        iamport = _mock_iamport(rsps)
        admin = django_user_model.objects.create_superuser(
            "fuzzadmin", "admin@example.com", "fuzz-password"
        )
        coffee = product_factory(pk=PRODUCT["coffee"], price=12000, stock=50)
        product_factory(pk=PRODUCT["soldout"], name="품절 원두", price=9000, stock=0)
        product_factory(pk=PRODUCT["hidden"], name="단종 원두", price=8000, is_active=False)

        orders = {}
        for name, pay_method in [
            ("pending", "card"),
            ("vbank_wait", "vbank"),
            ("paid", "card"),
            ("partial", "card"),
            ("vbank_paid", "vbank"),
        ]:
            order = order_factory(product=coffee, pay_method=pay_method)
            Order.objects.filter(pk=order.pk).update(merchant_uid=MUID[name])
            order.refresh_from_db()
            orders[name] = order

        remote = {
            IMP["pending"]: iamport.payment(MUID["pending"], imp_uid=IMP["pending"]),
            IMP["vbank_wait"]: iamport.payment(
                MUID["vbank_wait"], imp_uid=IMP["vbank_wait"], fixture="payment_vbank_ready"
            ),
            IMP["paid"]: iamport.payment(MUID["paid"], imp_uid=IMP["paid"]),
            IMP["partial"]: iamport.payment(MUID["partial"], imp_uid=IMP["partial"]),
            IMP["vbank_paid"]: iamport.payment(
                MUID["vbank_paid"],
                imp_uid=IMP["vbank_paid"],
                pay_method="vbank",
                vbank_code="004",
                vbank_name="KB국민은행",
                vbank_num="12345678901234",
                vbank_holder="아임포트 상점",
            ),
        }
        # The pending order is only known to Iamport by its merchant_uid (the admin's re-sync).
        iamport.find(MUID["pending"], newest=remote[IMP["pending"]], paid=remote[IMP["pending"]])
        for name in ("vbank_wait", "paid", "partial", "vbank_paid"):
            assert payment_sync(imp_uid=IMP[name]).outcome in (
                SyncOutcome.PAID,
                SyncOutcome.AWAITING_DEPOSIT,
            )
        for order in orders.values():
            order.refresh_from_db()
        after = iamport.cancel_ok(remote[IMP["partial"]], 3000, reason="부분 환불")
        payment_refund(
            order=orders["partial"],
            amount=3000,
            reason="부분 환불",
            request_key=PARTIAL_KEY,
            user=admin,
        )
        remote[IMP["partial"]] = iamport.replace_payment(after)
        _live_replies(rsps, remote)
        for order in orders.values():
            order.refresh_from_db()
        assert [o.status for o in orders.values()] == [
            "pending",
            "awaiting_deposit",
            "paid",
            "partially_refunded",
            "paid",
        ]
        _sandbox_world()

        session_cookie = settings.SESSION_COOKIE_NAME
        shopper = make_client()
        session = shopper.session
        session["shop_cart"] = {str(PRODUCT["coffee"]): 1}
        session["shop_orders"] = [MUID["pending"]]
        session.save()
        admin_client = make_client()
        admin_client.force_login(admin)
        shopper_id = session.session_key
        admin_id = admin_client.cookies[session_cookie].value
        csrf = {settings.CSRF_COOKIE_NAME: CSRF_SECRET}
        clients = {
            "anon": (make_client(), {}),
            "shopper": (shopper, {session_cookie: shopper_id}),
            "admin": (admin_client, {session_cookie: admin_id}),
            "csrf": (make_client(enforce_csrf_checks=True), {session_cookie: shopper_id, **csrf}),
            "csrf_admin": (
                make_client(enforce_csrf_checks=True),
                {session_cookie: admin_id, **csrf},
            ),
        }
        refs = {f"order:{name}": str(order.pk) for name, order in orders.items()}
        runner = Runner(clients, refs, registry)
        yield World(runner=runner, registry=registry, remote=remote, orders=orders)


# --- the endpoints and their valid requests -----------------------------------------------
CSRF_HEADER = {"HTTP_X_CSRFTOKEN": CSRF_SECRET}
AUTH = {"HTTP_AUTHORIZATION": SANDBOX_TOKEN}
CHECKOUT = [
    ("buyer_name", "홍길동"),
    ("buyer_email", "buyer@example.com"),
    ("buyer_tel", "01012345678"),
    ("buyer_postcode", "06236"),
    ("buyer_addr", "서울특별시 강남구 테헤란로 1"),
    ("pay_method", "card"),
]
REFUND = "/admin/shop/order/<pk>/refund/"
ACCOUNT = [
    ("refund_holder", "홍길동"),
    ("refund_bank", "004"),
    ("refund_account", "123-456-789012"),
    ("refund_tel", "010-1234-5678"),
]


def order(name: str) -> str:
    return f"⟦order:{name}⟧"


def shop_bases() -> list[Base]:
    coffee = str(PRODUCT["coffee"])
    return [
        get("/", client="shopper"),
        get("/", query=[("page", "1")]),
        get("/products/<pk>/", params={"pk": coffee}, client="shopper"),
        get("/products/<pk>/", params={"pk": str(PRODUCT["soldout"])}, label="sold out"),
        get(
            "/products/<pk>/",
            params={"pk": str(PRODUCT["hidden"])},
            expect=(404,),
            label="withdrawn",
        ),
        get("/cart/", client="shopper"),
        post_form(
            "/cart/add/<pk>/",
            [("quantity", "1"), ("next", "/cart/")],
            params={"pk": coffee},
            client="shopper",
        ),
        post_form("/cart/add/<pk>/", [("quantity", "2")], params={"pk": coffee}),
        post_form(
            "/cart/update/<pk>/", [("quantity", "2")], params={"pk": coffee}, client="shopper"
        ),
        post_form("/cart/remove/<pk>/", [], params={"pk": coffee}, client="shopper"),
        get("/checkout/", client="shopper"),
        post_form("/checkout/", list(CHECKOUT), client="shopper"),
        post_form(
            "/checkout/",
            list(CHECKOUT),
            client="csrf",
            label="CSRF enforced, token in header",
            headers=dict(CSRF_HEADER),
        ),
        get("/orders/", client="shopper"),
        get("/orders/<merchant_uid>/", params={"merchant_uid": MUID["pending"]}, client="shopper"),
        get(
            "/orders/<merchant_uid>/", params={"merchant_uid": MUID["paid"]}, label="someone else's"
        ),
        get("/orders/<merchant_uid>/", params={"merchant_uid": MUID["vbank_wait"]}, client="admin"),
        get(
            "/orders/<merchant_uid>/status/",
            params={"merchant_uid": MUID["pending"]},
            client="shopper",
        ),
        post_form(
            "/orders/<merchant_uid>/pay-method/",
            [("pay_method", "vbank")],
            params={"merchant_uid": MUID["pending"]},
            client="shopper",
        ),
        post_form(
            "/orders/<merchant_uid>/cancel/",
            [],
            params={"merchant_uid": MUID["pending"]},
            client="shopper",
        ),
        get("/orders/lookup/", query=[("number", MUID["paid"])]),
        post_form(
            "/orders/lookup/",
            [("number", MUID["paid"]), ("contact", "010-1234-5678")],
            expect=(302, 429),
            label="guest lookup (limited per client and per order)",
        ),
        post_form("/i18n/setlang/", [("language", "en"), ("next", "/cart/")]),
    ]


def payments_bases() -> list[Base]:
    complete, webhook, prepare = "/payments/complete/", "/payments/webhook/", "/payments/prepare/"

    def pay(name: str, muid: str | None = None) -> dict[str, str]:
        return {"imp_uid": IMP[name], "merchant_uid": muid or MUID[name]}

    return [
        post_json(complete, pay("pending"), client="shopper", label="pays the order"),
        post_json(complete, pay("vbank_wait"), client="shopper", label="virtual account"),
        post_json(complete, pay("paid"), label="already paid"),
        post_json(
            complete, pay("paid", MUID["pending"]), expect=(409,), label="another order's payment"
        ),
        post_json(
            complete,
            {"imp_uid": UNKNOWN_IMP, "merchant_uid": MUID["pending"]},
            expect=(404,),
            label="unknown payment",
        ),
        post_json(
            complete,
            pay("pending"),
            client="csrf",
            headers=dict(CSRF_HEADER),
            label="CSRF enforced",
        ),
        get(
            complete,
            query=[("imp_uid", IMP["pending"]), ("merchant_uid", MUID["pending"])],
            expect=(302,),
            client="shopper",
        ),
        get(
            complete,
            query=[
                ("merchant_uid", MUID["pending"]),
                ("error_msg", "사용자가 결제를 취소하셨습니다"),
            ],
            expect=(302,),
            label="refused by the SDK",
        ),
        post_json(webhook, {**pay("pending"), "status": "paid"}, label="paid"),
        post_form(
            webhook,
            [
                ("imp_uid", IMP["vbank_wait"]),
                ("merchant_uid", MUID["vbank_wait"]),
                ("status", "ready"),
            ],
            expect=(200,),
            label="form-encoded",
        ),
        post_json(webhook, {**pay("partial"), "status": "cancelled"}, label="cancelled"),
        post_json(
            webhook,
            {"imp_uid": UNKNOWN_IMP, "merchant_uid": "x", "status": "paid"},
            label="unknown payment",
        ),
        post_json(prepare, {"merchant_uid": MUID["pending"]}, client="shopper"),
        post_json(prepare, {"merchant_uid": MUID["paid"]}, expect=(409,), label="not payable"),
        post_json(
            prepare,
            {"merchant_uid": MUID["pending"]},
            client="csrf",
            headers=dict(CSRF_HEADER),
            label="CSRF enforced",
        ),
    ]


def admin_bases() -> list[Base]:
    changelist = "/admin/shop/order/"
    change = "/admin/shop/order/<pk>/change/"
    buyer = [
        ("buyer_name", "홍길동"),
        ("buyer_email", "buyer@example.com"),
        ("buyer_tel", "010-1234-5678"),
        ("buyer_addr", "서울특별시 강남구 테헤란로 1"),
        ("buyer_postcode", "06236"),
    ]
    management = [
        (f"{prefix}-{name}", value)
        for prefix in ("lines", "payments")
        for name, value in [
            ("TOTAL_FORMS", "0"),
            ("INITIAL_FORMS", "0"),
            ("MIN_NUM_FORMS", "0"),
            ("MAX_NUM_FORMS", "1000"),
        ]
    ]

    def refund_fields(
        amount: str, key: str = REFUND_KEY, account: bool = False
    ) -> list[tuple[str, str]]:
        return [
            ("amount", amount),
            ("reason", "고객 요청"),
            ("request_key", key),
            *(ACCOUNT if account else []),
        ]

    return [
        get(
            "/admin/sales/",
            query=[("period", "custom"), ("from", "2026-11-01"), ("to", "2026-12-02")],
            client="admin",
        ),
        get("/admin/sales/export.csv", query=[("period", "7d")], client="admin"),
        get(REFUND, params={"pk": order("paid")}, client="admin"),
        get(REFUND, params={"pk": order("partial")}, client="admin", label="partly refunded"),
        get(REFUND, params={"pk": order("vbank_paid")}, client="admin", label="virtual account"),
        post_form(REFUND, refund_fields("12000"), params={"pk": order("paid")}, client="admin"),
        post_form(
            REFUND,
            refund_fields("1,000원"),
            params={"pk": order("partial")},
            client="admin",
            label="partial",
        ),
        post_form(
            REFUND,
            refund_fields("12000", account=True),
            params={"pk": order("vbank_paid")},
            client="admin",
            label="virtual account",
        ),
        post_form(
            REFUND,
            refund_fields("1000", key=PARTIAL_KEY),
            params={"pk": order("partial")},
            client="admin",
            label="repeated submit",
        ),
        post_form(
            REFUND,
            refund_fields("12000"),
            params={"pk": order("paid")},
            client="csrf_admin",
            headers=dict(CSRF_HEADER),
            label="CSRF enforced",
        ),
        post_form(
            "/admin/shop/order/<pk>/resync/", [], params={"pk": order("paid")}, client="admin"
        ),
        post_form(
            "/admin/shop/order/<pk>/resync/",
            [],
            params={"pk": order("pending")},
            client="admin",
            label="found by merchant_uid",
        ),
        post_form(
            "/admin/shop/order/<pk>/resync/", [], params={"pk": order("vbank_wait")}, client="admin"
        ),
        get(changelist, query=[("q", "홍길동")], client="admin"),
        get(changelist, query=[("q", IMP["paid"])], client="admin", label="by imp_uid"),
        get(
            changelist,
            query=[("status", "paid"), ("pay_method", "card"), ("o", "-1")],
            client="admin",
            label="filters",
        ),
        get(
            changelist,
            query=[("created_at__gte", "2020-01-01"), ("created_at__lt", "2999-01-01")],
            client="admin",
            label="date range",
        ),
        post_form(
            changelist,
            [
                ("action", "resync_selected"),
                ("_selected_action", order("paid")),
                ("index", "0"),
                ("select_across", "0"),
            ],
            client="admin",
            label="action",
        ),
        get(change, params={"pk": order("paid")}, client="admin"),
        get(change, params={"pk": order("partial")}, client="admin"),
        post_form(change, [*buyer, *management], params={"pk": order("paid")}, client="admin"),
    ]


def sandbox_bases() -> list[Base]:
    def param(**overrides: Any) -> dict[str, Any]:
        return {
            "pg": "html5_inicis",
            "pay_method": "card",
            "merchant_uid": "sbx_new_order",
            "name": "유기농 원두 200g",
            "amount": 12000,
            "buyer_name": "홍길동",
            "buyer_email": "buyer@example.com",
            "buyer_tel": "010-1234-5678",
            "notice_url": WEBHOOK_URL,
            "m_redirect_url": "http://testserver/payments/complete/",
            **overrides,
        }

    def rest(method: str, path: str, **kw) -> Base:
        return Base(
            method,
            SBX_API + path,
            headers=dict(AUTH),
            weight=1,
            expect=frozenset(kw.pop("expect", (200,))),
            **kw,
        )

    window = SBX_API + "window/<imp_uid>/"
    console = "/sandbox/console/payments/<imp_uid>/"
    sb = {"weight": 1}
    return [
        post_json(
            SBX_API + "users/getToken",
            {"imp_key": settings.IAMPORT_API_KEY, "imp_secret": settings.IAMPORT_API_SECRET},
            **sb,
        ),
        post_form(
            SBX_API + "users/getToken",
            [("imp_key", settings.IAMPORT_API_KEY), ("imp_secret", "wrong")],
            expect=(401,),
            label="form, wrong secret",
            **sb,
        ),
        rest("GET", "payments/<imp_uid>", params={"imp_uid": SBX["paid"]}),
        rest("GET", "payments/<imp_uid>", params={"imp_uid": SBX["partial"]}),
        rest(
            "POST",
            "payments/cancel",
            body="json",
            fields={"imp_uid": SBX["paid"], "amount": 1000, "checksum": 12000, "reason": "fuzz"},
        ),
        rest(
            "POST",
            "payments/cancel",
            body="json",
            fields={
                "merchant_uid": "sbx_vbank_paid",
                "amount": 12000,
                "reason": "환불",
                **dict(ACCOUNT),
            },
            label="virtual account",
        ),
        rest(
            "POST",
            "payments/prepare",
            body="json",
            fields={"merchant_uid": "sbx_new_order", "amount": 12000},
        ),
        rest(
            "PUT",
            "payments/prepare",
            body="json",
            fields={"merchant_uid": "sbx_ready", "amount": 13000},
        ),
        rest("GET", "payments/prepare/<merchant_uid>", params={"merchant_uid": "sbx_ready"}),
        rest(
            "GET",
            "payments/find/<merchant_uid>",
            params={"merchant_uid": "sbx_paid"},
            query=[("sorting", "-started")],
        ),
        rest(
            "GET",
            "payments/find/<merchant_uid>/<payment_status>",
            params={"merchant_uid": "sbx_paid", "payment_status": "paid"},
        ),
        rest(
            "GET",
            "payments/findAll/<merchant_uid>",
            params={"merchant_uid": "sbx_paid"},
            query=[("page", "1"), ("limit", "20")],
        ),
        rest(
            "GET",
            "payments/findAll/<merchant_uid>/<payment_status>",
            params={"merchant_uid": "sbx_paid", "payment_status": "all"},
        ),
        rest(
            "GET",
            "payments/status/<payment_status>",
            params={"payment_status": "paid"},
            query=[
                ("from", "0"),
                ("to", "4102444800"),
                ("page", "1"),
                ("limit", "20"),
                ("sorting", "-paid"),
            ],
        ),
        get(SBX_API + "v1/iamport.js", **sb),
        post_json(
            SBX_API + "sdk/start",
            {"merchant_code": settings.IAMPORT_MERCHANT_CODE, "channel": "pc", "param": param()},
            **sb,
        ),
        post_json(
            SBX_API + "sdk/start",
            {
                "merchant_code": settings.IAMPORT_MERCHANT_CODE,
                "channel": "mobile",
                "param": param(
                    pay_method="vbank", vbank_due="20991231", merchant_uid="sbx_new_vbank"
                ),
            },
            label="virtual account, mobile",
            **sb,
        ),
        get(
            window,
            params={"imp_uid": SBX["ready"]},
            query=[("parent_origin", "http://testserver")],
            **sb,
        ),
        post_json(window + "approve", {}, params={"imp_uid": SBX["ready"]}, **sb),
        post_json(
            window + "decline", {"error_code": "F1003"}, params={"imp_uid": SBX["ready"]}, **sb
        ),
        post_json(window + "close", {}, params={"imp_uid": SBX["ready"]}, **sb),
        get("/sandbox/receipt/<imp_uid>/", params={"imp_uid": SBX["paid"]}, **sb),
        get(
            "/sandbox/receipt/<imp_uid>/",
            params={"imp_uid": SBX["partial"]},
            query=[("cancellation_id", SBX_CANCELLATION)],
            label="cancellation",
            **sb,
        ),
        get("/sandbox/assets/<name>", params={"name": "sandbox.css"}, **sb),
        get("/sandbox/console/", query=[("status", "paid"), ("page", "1")], **sb),
        get(console, params={"imp_uid": SBX["paid"]}, **sb),
        post_form(console + "deposit", [], params={"imp_uid": SBX["vbank"]}, **sb),
        post_form(
            console + "cancel",
            [("amount", "1000"), ("reason", "콘솔 취소")],
            params={"imp_uid": SBX["paid"]},
            **sb,
        ),
        post_form(console + "resend-webhook", [], params={"imp_uid": SBX["paid"]}, **sb),
        post_form(
            console + "pg-cancels-later",
            [("later", "1")],
            params={"imp_uid": SBX["v2_cancelling"]},
            **sb,
        ),
        post_form(
            console + "cancellations/<cancellation_id>/finish",
            [("outcome", "succeeded")],
            params={
                "imp_uid": SBX["v2_cancelling"],
                "cancellation_id": SBX_PENDING_CANCELLATION,
            },
            **sb,
        ),
    ]


def site_bases() -> list[Base]:
    """Answered before any view: the load balancer's probe and the static files."""
    return [
        get("/healthz"),
        get("/static/<path>", params={"path": "css/shop.css"}),
        get("/static/<path>", params={"path": "js/pay.js"}, weight=1),
    ]


def bases() -> list[Base]:
    return [*shop_bases(), *payments_bases(), *admin_bases(), *sandbox_bases(), *site_bases()]


# The endpoints whose answer depends on Iamport (the failure test drives only these).
IAMPORT_ENDPOINTS = {
    "POST /payments/complete/",
    "GET /payments/complete/",
    "POST /payments/webhook/",
    "POST /payments/prepare/",
    "POST /admin/shop/order/<pk>/refund/",
    "POST /admin/shop/order/<pk>/resync/",
    "POST /admin/shop/order/",
}
# Values tried, one request each, in every field, path parameter and query item of that name.
NUMBERS = ["-1", "0", "1e9", "99999999999999999999", "1.5", "0x10", "", " 1", "１", "9" * 5000]
DICTIONARY: dict[str, list[Any]] = {
    "next": [
        "abc",
        "//evil.com",
        "javascript:alert(1)",
        "shop:cart",
        "",
        "/\\evil.com",
        "https://evil.com/",
        "http://testserver/cart/",
        "\\\\evil.com",
        "/" + "a" * 10_000,
        "/%0d%0aSet-Cookie:x=1",
        "/cart/?\u202e",
    ],
    "quantity": [*NUMBERS, "51", "9" * 20_000, "٣"],
    "amount": [*NUMBERS, "12,000원", "１２０００", "NaN", "1e999", 10**30, 1e308, -1, True, None],
    "request_key": [
        "\x00",
        "0123456789abcdef0123456789abcde\x00",
        "a" * 65,
        "a" * 10_000,
        "ZZZZ",
        "0123456789ABCDEF0123456789ABCDEF",
        "",
        PARTIAL_KEY + "\n",
        "한글",
    ],
    "pk": ["0", "-1", "99999999999999999999", "9223372036854775808", "9" * 5000, "abc", "1.5"],
    "merchant_uid": ["a\x00b", "x" * 41, "한글", "", "..", "o2099", "x" * 10_000, "\ud800", 42],
    "imp_uid": ["a\x00b", "x" * 65, "imp_한글", "", "..", "imp/1", "\ud800", ["imp_1"], None],
    "q": ['"', "'", '"a', "\\", "%", "_", "\x00", "a" * 10_000, " ".join(["a"] * 600)],
    "status": ["\x00", "paid\x00", "x" * 100, "\ud800", 1, None],
    "vbank_due": [10**20, float("nan"), float("inf"), -(10**20), "20991340", "2099-13-01", 1e300],
    "from": ["2199023255552", "-1", "1e3", "x"],
    "to": ["99999999999999999999", "9" * 5000],
    "limit": ["0", "1001", "99999999999999999999"],
    "page": ["0", "-1", "99999999999999999999", "abc"],
    "path": ["../settings.py", "..%2f..%2fconfig/settings.py", "css/../../manage.py", "css/"],
}


def _by(all_bases: list[Base], endpoint: str, label: str = "") -> Base:
    return next(b for b in all_bases if b.endpoint == endpoint and (not label or b.label == label))


def known_cases(mutator: Mutator, all_bases: list[Base]) -> list[Req]:
    """Inputs that once crashed the shop, each sent once and listed on its own in the report."""
    add = "POST /cart/add/<pk>/"
    complete, webhook, prepare = (
        f"POST /payments/{name}/" for name in ("complete", "webhook", "prepare")
    )
    refund = _by(all_bases, "POST /admin/shop/order/<pk>/refund/")
    csrf_complete = _by(all_bases, complete, "CSRF enforced")
    cases = [
        *(
            mutator.literal(_by(all_bases, add), "field", "next", value, f"cart/add next={value!r}")
            for value in ("abc", "//evil.com", "javascript:alert(1)", "shop:cart")
        ),
        *(
            mutator.literal(
                _by(all_bases, add), "field", "quantity", value, f"cart/add quantity={value!r}"
            )
            for value in ("-1", "1e9", "99999999999999999999", "1.5", "0x10")
        ),
        mutator.literal(
            _by(all_bases, "GET /orders/<merchant_uid>/"),
            "path",
            "merchant_uid",
            "a\x00b",
            "GET /orders/a%00b/",
        ),
        mutator.literal(
            refund, "field", "request_key", "a\x00b" * 8, "refund form request_key with NUL"
        ),
        mutator.literal(
            refund, "field", "request_key", "a" * 100, "refund form request_key too long"
        ),
        mutator.literal(
            refund, "field", "request_key", "not-hex-" * 4, "refund form request_key not hex"
        ),
        mutator.literal(
            _by(all_bases, "GET /products/<pk>/"),
            "path",
            "pk",
            "99999999999999999999",
            "product pk 10**20",
        ),
    ]
    for endpoint in (complete, webhook, prepare):
        base = _by(all_bases, endpoint)
        name = endpoint.split()[1]
        cases += [
            mutator.with_kinds(base, ["json-deep"], f"{name} deeply nested JSON"),
            mutator.with_kinds(base, ["oversize"], f"{name} body over the upload limit"),
            mutator.with_kinds(base, ["multipart", "oversize"], f"{name} multipart over the limit"),
            mutator.with_kinds(base, ["multipart"], f"{name} multipart body"),
            mutator.with_kinds(base, ["as-form", "many-fields"], f"{name} > 1000 form fields"),
        ]
    cases += [
        mutator.with_kinds(
            _by(all_bases, add), ["multipart", "oversize"], "cart/add multipart over the limit"
        ),
        mutator.with_kinds(csrf_complete, ["multipart"], "complete multipart, CSRF enforced"),
        mutator.with_kinds(
            _by(all_bases, "GET /payments/complete/"),
            ["query-many"],
            "GET complete > 1000 query items",
        ),
    ]
    return cases + parsing_cases(mutator, all_bases)


def parsing_cases(mutator: Mutator, all_bases: list[Base]) -> list[Req]:
    """How Django reads a request, the same for every endpoint: a charset that is not a text
    codec, more than 1000 query items, a form that is not UTF-8 (with CSRF enforced, as in
    production). Each sent once to a few endpoints, listed with the known cases."""
    cases = []

    def case(base: Base, tag: str, *, content_type: str, query: str = "") -> None:
        req = mutator.base(base)
        req.content_type, req.note, req.tag = content_type, tag, tag
        req.kind, req.expect = "parsing", None
        req.path += ("&" if "?" in req.path else "?") + query if query else ""
        cases.append(req)

    home = _by(all_bases, "GET /")
    add = _by(all_bases, "POST /cart/add/<pk>/")
    checkout = _by(all_bases, "POST /checkout/", "CSRF enforced, token in header")
    webhook = _by(all_bases, "POST /payments/webhook/", "form-encoded")
    form = "application/x-www-form-urlencoded"
    for codec in ("base64", "hex", "rot13"):
        case(
            home,
            f"GET / ?x=1, Content-Type charset={codec}",
            content_type=f"text/plain; charset={codec}",
            query="x=1",
        )
        case(
            add,
            f"cart/add ?x=1, form charset={codec}",
            content_type=f"{form}; charset={codec}",
            query="x=1",
        )
        case(
            add,
            f"cart/add, form charset={codec} (no query)",
            content_type=f"{form}; charset={codec}",
        )
    many = "&".join(["a"] * 1001)  # 2001 characters: within gunicorn's request line limit
    case(
        home,
        "GET / 1001 query items, charset=utf-8",
        content_type="text/plain; charset=utf-8",
        query=many,
    )
    case(
        webhook,
        "webhook 1001 query items, form charset=utf-8",
        content_type=f"{form}; charset=utf-8",
        query=many,
    )
    for charset in ("latin-1", "utf-16"):
        case(
            checkout,
            f"checkout (CSRF enforced) form charset={charset}",
            content_type=f"{form}; charset={charset}",
        )
        case(webhook, f"webhook form charset={charset}", content_type=f"{form}; charset={charset}")
    return cases


# --- the tests ----------------------------------------------------------------------------
@pytest.mark.django_db
def test_generated_requests_never_answer_5xx(world: World):
    mutator = Mutator(SEED)
    reqs = plan(
        mutator,
        bases(),
        RANDOM_REQUESTS,
        known=known_cases,
        dictionary=DICTIONARY,
        min_per_endpoint=MIN_PER_ENDPOINT,
    )
    chosen = [r for r in reqs if not ONLY or r.index in ONLY]
    started = time.perf_counter()
    with world.runner.recording():
        outcomes = [world.runner.send(req) for req in chosen]
    seconds = time.perf_counter() - started

    broken_bases = [o for o in outcomes if o.req.kind == "base" and o.status not in o.req.expect]
    failures = [o for o in outcomes if o.status is None or o.status >= 500]
    per_endpoint = Counter(o.req.endpoint for o in outcomes)
    oversize: dict[str, Counter] = defaultdict(Counter)
    for o in outcomes:
        if o.req.oversize:
            oversize[o.req.endpoint][str(o.status)] += 1
    reached_sync = sum(
        1
        for o in outcomes
        if o.req.kind != "base" and any("/payments/imp_1" in url for _, url in o.iamport_calls)
    )
    warned = Counter(
        (o.req.endpoint, w[:110]) for o in outcomes for w in set(o.warnings) if o.status < 500
    )
    spent: Counter = Counter()
    for o in outcomes:
        spent[o.req.endpoint] += o.seconds
    slowest = sorted(outcomes, key=lambda o: -o.seconds)[:8]
    notes = [
        f"Statuses: {statuses(outcomes)}. {len(outcomes)} requests in {seconds:.1f} s; "
        f"{reached_sync} mutated requests reached Iamport for a known payment.",
        "Plan: " + ", ".join(f"{k} {n}" for k, n in Counter(o.req.stage for o in outcomes).items()),
        "Time by endpoint: "
        + ", ".join(f"{e} {t:.1f}s/{per_endpoint[e]}" for e, t in spent.most_common(8)),
        "Slowest: "
        + ", ".join(
            f"#{o.req.index} {o.req.endpoint} {o.seconds:.2f}s ({o.req.note[:40]})" for o in slowest
        ),
        "Bodies over DATA_UPLOAD_MAX_MEMORY_SIZE (413 expected) answered: "
        + "; ".join(f"{e} {dict(c)}" for e, c in sorted(oversize.items())),
        "Warnings raised while answering < 500 (the suite turns RuntimeWarning into errors; "
        "here they are recorded): " + ("none" if not warned else ""),
        *(f"    {n} x {endpoint}: {warning}" for (endpoint, warning), n in sorted(warned.items())),
    ]
    text = report(
        failures,
        seed=SEED,
        total=len(outcomes),
        title="Generated requests answered 5xx",
        replay=f"FUZZ_SEED={SEED} FUZZ_ONLY=<#> pytest tests/fuzz -k never_answer_5xx -s",
        notes=notes,
        tagged=[o for o in outcomes if o.req.tag],
        traces=TRACES,
    )
    write_report(text)

    # The test cannot pass vacuously: the base requests work, enough requests reach every
    # endpoint and the sync code. These problems come first in the failure message.
    problems = [
        f"valid base request #{o.req.index} {o.req.endpoint} ({o.req.note}) answered "
        f"{o.status}, expected {sorted(o.req.expect)}: {o.crash}"
        for o in broken_bases
    ]
    if not ONLY:
        endpoints = {base.endpoint for base in bases()}
        thin = {e: per_endpoint[e] for e in endpoints if per_endpoint[e] < MIN_PER_ENDPOINT}
        if len(outcomes) < MIN_REQUESTS:
            problems.append(f"only {len(outcomes)} requests were sent (at least {MIN_REQUESTS})")
        if thin:
            problems.append(f"endpoints with fewer than {MIN_PER_ENDPOINT} requests: {thin}")
        if reached_sync < 50:
            problems.append(f"only {reached_sync} mutated requests reached the sync code")
    if problems or failures:
        pytest.fail("\n".join([*problems, "", text]), pytrace=False)


# --- Iamport failing ----------------------------------------------------------------------
def _answer(
    status: int = 200, *, body: Any = "", json_body: Any = None, content_type="application/json"
):
    kwargs: dict[str, Any] = {"json": json_body} if json_body is not None else {"body": body}
    if json_body is None and not isinstance(body, Exception):
        kwargs["content_type"] = content_type
    return responses.Response(responses.GET, API, status=status, **kwargs)


def _bad_payment(remote: dict[str, dict[str, Any]], **fields: Any):
    """GET payments/<imp_uid> answered with the known payment, changed by `fields`."""

    def reply(request) -> tuple[int, dict, str]:
        payment = remote.get(request.path_url.rsplit("/", 1)[-1])
        if payment is None:
            return 404, {}, json.dumps(load_fixture("not_found"))
        return 200, {}, _envelope({**payment, **fields})

    return responses.CallbackResponse(
        responses.GET, API, callback=reply, content_type="application/json"
    )


def _is_token(request) -> bool:
    return request.url.endswith("users/getToken")


def _not_token(request) -> bool:
    return not _is_token(request)


def _any(request) -> bool:
    return True


def _is_cancel(request) -> bool:
    return request.url.endswith("payments/cancel")


def _is_prepare(request) -> bool:
    return "payments/prepare" in request.url


def _is_payment(request) -> bool:
    return request.method == "GET" and not _is_token(request)


def fault_modes(remote: dict[str, dict[str, Any]]) -> dict[str, list[tuple[Any, Any]]]:
    error = {"code": -1, "message": "일시적인 오류입니다.", "response": None}
    return {
        "HTTP 500 HTML page": [
            (
                _any,
                _answer(500, body="<html>Internal Server Error</html>", content_type="text/html"),
            )
        ],
        "HTTP 500 envelope": [(_not_token, _answer(500, json_body=error))],
        "HTTP 502 empty": [(_any, _answer(502))],
        "HTTP 503 Retry-After": [
            (_not_token, _answer(503, body="Service Unavailable", content_type="text/plain"))
        ],
        "HTTP 429": [
            (_not_token, _answer(429, json_body={**error, "message": "Too Many Requests"}))
        ],
        "200 garbage": [(_not_token, _answer(200, body="\x00garbage", content_type="text/plain"))],
        "200 JSON array": [(_not_token, _answer(200, json_body=[1, 2, 3]))],
        "response null": [
            (_not_token, _answer(200, json_body={"code": 0, "message": None, "response": None}))
        ],
        "response list": [
            (_not_token, _answer(200, json_body={"code": 0, "message": None, "response": []}))
        ],
        "read timeout": [(_any, _answer(body=requests.ReadTimeout("fuzz")))],
        "read timeout after the token": [(_not_token, _answer(body=requests.ReadTimeout("fuzz")))],
        "connect timeout": [(_any, _answer(body=requests.ConnectTimeout("fuzz")))],
        "connection refused": [(_any, _answer(body=requests.ConnectionError("fuzz")))],
        "token 401": [(_is_token, _answer(401, json_body=load_fixture("unauthorized")))],
        "token without access_token": [
            (
                _is_token,
                _answer(
                    200, json_body={"code": 0, "message": None, "response": {"access_token": None}}
                ),
            )
        ],
        "token with text expiry": [
            (
                _is_token,
                _answer(
                    200,
                    json_body={
                        "code": 0,
                        "message": None,
                        "response": {"access_token": "t", "now": "abc", "expired_at": 10**30},
                    },
                ),
            )
        ],
        "every call 401": [(_not_token, _answer(401, json_body=load_fixture("unauthorized")))],
        "cancel refused": [
            (_is_cancel, _answer(200, json_body=load_fixture("cancel_refused_already")))
        ],
        "cancel timeout": [(_is_cancel, _answer(body=requests.ReadTimeout("fuzz")))],
        "cancel HTTP 500": [(_is_cancel, _answer(500, body="oops", content_type="text/plain"))],
        "prepare refused": [
            (
                _is_prepare,
                _answer(
                    200,
                    json_body={
                        "code": 1,
                        "message": "이미 등록된 merchant_uid입니다.",
                        "response": None,
                    },
                ),
            )
        ],
        "payment amount is text": [(_is_payment, _bad_payment(remote, amount="abc"))],
        "payment amount 10**20": [(_is_payment, _bad_payment(remote, amount=10**20))],
        "payment amount 12000.5": [(_is_payment, _bad_payment(remote, amount=12000.5))],
        "payment status unknown": [(_is_payment, _bad_payment(remote, status="weird"))],
        "payment paid_at 10**20": [(_is_payment, _bad_payment(remote, paid_at=10**20))],
        "payment cancel_history text": [(_is_payment, _bad_payment(remote, cancel_history="x"))],
        "payment cancel_history garbage": [
            (_is_payment, _bad_payment(remote, cancel_history=[{"amount": "abc"}, 5]))
        ],
        "payment cancel_amount over amount": [
            (_is_payment, _bad_payment(remote, cancel_amount=10**9))
        ],
        "payment without imp_uid": [(_is_payment, _bad_payment(remote, imp_uid=""))],
        "payment in USD": [(_is_payment, _bad_payment(remote, currency="USD"))],
        "payment vbank_date text": [(_is_payment, _bad_payment(remote, vbank_date="tomorrow"))],
        "payment NUL in strings": [
            (
                _is_payment,
                _bad_payment(remote, pg_tid="a\x00b", vbank_num="1\x00", fail_reason="\x00"),
            )
        ],
    }


@pytest.mark.django_db
def test_iamport_failures_answer_only_502_503_504(world: World):
    mutator = Mutator(SEED + 1)
    modes = fault_modes(world.remote)
    targets = [base for base in bases() if base.endpoint in IAMPORT_ENDPOINTS]
    plans: list[tuple[Req, str]] = []
    firsts = {base.endpoint: base for base in reversed(targets)}  # the first base of each
    for mode in modes:
        for base in firsts.values():
            plans.append((mutator.base(base), mode))
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
                iamport_client._clients.clear()  # the token is fetched again, under the fault
                world.registry.faults = modes[mode]

            try:
                outcome = world.runner.send(req, before=fail)
            finally:
                world.registry.faults = []
            req.note = f"Iamport: {mode}; {req.note}"
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
    by_mode: dict[str, Counter] = defaultdict(Counter)
    for o, mode in outcomes:
        by_mode[mode][str(o.status)] += 1
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
        seed=SEED + 1,
        total=len(outcomes),
        title="With Iamport failing, requests answered 5xx other than 502/503/504",
        replay=f"FUZZ_SEED={SEED} FUZZ_ONLY=<#> pytest tests/fuzz -k iamport_failures "
        "(this test draws from FUZZ_SEED + 1; each request's Iamport fault is in its mutation)",
        notes=notes,
    )
    write_report(text)
    assert ONLY or len(outcomes) >= len(modes) * len(firsts)
    if failures:
        pytest.fail(text, pytrace=False)
