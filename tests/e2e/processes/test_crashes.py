"""A worker killed at any step of the money flows loses nothing.

Real processes, as in production: the sandbox as Iamport's stand-in (its own process and
database), the shop under gunicorn with debug off (one worker), and `manage.py sync_payments`
as the worker step, all on one PostgreSQL (or SQLite) database of the shop's. Each test arms
one crash point (tests/e2e/processes/crashpoints.py) in the shop's worker or in a `sync_payments`
process; the process SIGKILLs itself there, once. Then one `sync_payments` run and one retry by
the person (the buyer posting the result again, the admin resubmitting the refund form) must
leave everything consistent: money taken is recorded, no order stuck, no refund left
"requested", no mail lost, and the person told the truth.

The stand-in sends no webhook here (the payments are started without `notice_url`), so that
nothing but the test's own steps touches a payment between the crash and the check.
Claims of a cancel or a refund protect their request for IAMPORT_REQUEST_BUDGET + 5 s; the
shop runs with a 2 s budget and the tests wait the 7 s out where the outcome depends on it, as
a cron run would come later in production.
"""

from __future__ import annotations

import contextlib
import email
import email.policy
import html
import http.client
import json
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.helpers import BUYER
from tests.e2e.processes.crashpoints import CRASH_AT, CRASH_MARKER, LOG_PREFIX
from tests.e2e.processes.servers import (
    PYTHON,
    REPO,
    Browserless,
    ProductionShop,
    QueryWorker,
    Reply,
    Standin,
    _on_a_free_port,
    _shop_ready,
    gunicorn_command,
    production_environ,
    production_shop,
    run_server,
    shop_database,
)

pytestmark = pytest.mark.e2e

CRASHING_WSGI = "tests.e2e.processes.crashing_wsgi:application"
BUDGET = 2  # IAMPORT_REQUEST_BUDGET of every process here
CLAIM_TTL = BUDGET + 5  # payments.services.records.claim_ttl()
ADMIN_USERNAME = "crash-admin"
ADMIN_PASSWORD = "crash-admin-password"
PRODUCT_PRICE = 23_000
PARTIAL_REFUND = 5_000
FORGED_AMOUNT = 1_000
GUNICORN_KILLED = "was sent SIGKILL"
MAIL_SEPARATOR = b"-" * 79 + b"\n"
PAID_MESSAGE = "결제가 완료되었습니다"


# --- the servers -----------------------------------------------------------------------------
@dataclass(frozen=True)
class World:
    """What every test's shop shares: the stand-in, the database, the product on sale, and a
    process that reads the database back with the shop's settings."""

    standin: Standin
    database_url: str
    workdir: Path
    product_pk: int
    queries: QueryWorker


SETUP = f"""
from django.contrib.auth import get_user_model
from shop.models import Product
get_user_model().objects.create_superuser(
    {ADMIN_USERNAME!r}, "crash-admin@example.com", {ADMIN_PASSWORD!r}
)
result = Product.objects.create(
    name="크래시 테스트 원두 1kg", price={PRODUCT_PRICE}, stock=1000, is_active=True
).pk
"""


@pytest.fixture(scope="module")
def world(standin: Standin, workdir: Path) -> Iterator[World]:
    """The shop's database, migrated (and static files collected) once by a first start of the
    shop, with a product and an admin who may refund."""
    with shop_database(workdir / "database", label="crashes") as database_url:
        with production_shop(
            standin, workdir / "setup", wsgi_app=CRASHING_WSGI, database_url=database_url
        ) as setup:
            env = setup.server.env
        queries = QueryWorker(env, workdir / "queries.log", "the shop's database")
        try:
            product_pk = queries.query(SETUP, what="a product and an admin")
            yield World(standin, database_url, workdir, product_pk, queries)
        finally:
            queries.close()


@contextlib.contextmanager
def _gunicorn(world: World, workdir: Path, overrides: dict[str, str]) -> Iterator[ProductionShop]:
    """The shop under gunicorn on the crashing WSGI module, on the already migrated database:
    what `production_shop(wsgi_app=...)` starts, without running migrate and collectstatic
    again for every test."""
    workdir.mkdir(parents=True, exist_ok=True)

    @contextlib.contextmanager
    def start(port: int) -> Iterator[ProductionShop]:
        env = production_environ(
            port=port,
            standin=world.standin,
            database_url=world.database_url,
            media_root=world.workdir / "media",
            overrides=overrides,
        )
        with run_server(
            "production shop",
            gunicorn_command(env, CRASHING_WSGI),
            port=port,
            env=env,
            log_path=workdir / "shop.log",
            ready=_shop_ready,
        ) as server:
            yield ProductionShop(server, world.standin, world.database_url)

    with _on_a_free_port(start) as shop:
        yield shop


@dataclass
class CrashingShop:
    """One test's shop: a gunicorn with one worker and (maybe) one crash point armed."""

    shop: ProductionShop
    world: World
    marker: Path
    mail_dir: Path
    sync_outputs: list[str] = field(default_factory=list)

    @property
    def server(self):
        return self.shop.server

    @property
    def url(self) -> str:
        return self.shop.url

    @property
    def standin(self) -> Standin:
        return self.world.standin

    def crashed(self) -> bool:
        return self.marker.exists()

    def expect_crash(self, since: int) -> None:
        """The armed point fired: the marker is written and gunicorn saw its worker killed;
        then wait until a new worker serves again."""
        assert self.crashed(), f"the crash point did not fire ({self.marker})" + self.describe()
        wait(
            lambda: GUNICORN_KILLED in self.server.log(since),
            what="gunicorn to notice its killed worker",
            server=self.server,
        )
        wait(self.serves, what="a new worker to serve", server=self.server, timeout=60)

    def serves(self) -> bool:
        """Whether a worker answers /healthz (a restarted one may take a while to boot)."""
        try:
            return _shop_ready(self.server)
        except OSError:  # not answering yet: still booting
            return False

    def sync_payments(self) -> str:
        """One `manage.py sync_payments` run with the shop's environment; its output."""
        done = self.server.manage("sync_payments")
        output = done.stdout + done.stderr
        self.sync_outputs.append(output)
        assert "nothing done" not in done.stdout, done.stdout
        return output

    def sync_payments_dying(self, point: str, marker: Path) -> subprocess.CompletedProcess:
        """`sync_payments` in a process that dies at `point` (crashing_manage.py)."""
        env = {**self.server.env, CRASH_AT: point, CRASH_MARKER: str(marker)}
        done = subprocess.run(
            [PYTHON, "-m", "tests.e2e.processes.crashing_manage", "sync_payments"],
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == -signal.SIGKILL and marker.exists(), (
            f"sync_payments was to die at {point}: exit {done.returncode}\n"
            f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}"
        )
        return done

    def describe(self) -> str:
        """The shop's log and what each sync_payments run printed, for a failure's message."""
        runs = "".join(f"\n----- sync_payments -----\n{out}" for out in self.sync_outputs)
        return self.server.describe() + runs

    # Reading the state back -----------------------------------------------------------------
    def state(self, merchant_uid: str) -> dict[str, Any]:
        """The order with its payments, refunds and paid mail, as the shop's database has them
        (its other mails, such as the order-received one, are not what the crashes are about)."""
        return self.world.queries.query(
            f"""
            from payments.models import Payment, Refund
            from shop.models import Order, OutgoingMail
            order = Order.objects.get(merchant_uid={merchant_uid!r})
            result = {{
                "pk": order.pk,
                "status": order.status,
                "status_message": order.status_message,
                "amount": order.amount,
                "refunded_amount": order.refunded_amount,
                "stock_taken": order.stock_taken,
                "payments": list(
                    Payment.objects.filter(order=order).order_by("created_at", "id").values(
                        "imp_uid", "status", "verdict", "verdict_reason", "amount",
                        "cancel_amount", "cancel_requested_at",
                    )
                ),
                "refunds": list(
                    Refund.objects.filter(payment__order=order).order_by("created_at", "id")
                    .values(
                        "id", "payment__imp_uid", "amount", "checksum", "status", "message",
                        "reason", "request_key", "cancellation_id",
                    )
                ),
                "mails": list(
                    OutgoingMail.objects.filter(order=order, key__startswith="order_paid:")
                    .order_by("id").values(
                        "key", "status", "attempts", "last_error", "sent_at"
                    )
                ),
            }}
            """,
            what=f"order {merchant_uid}",
        )

    def stock(self) -> int:
        return self.world.queries.query(
            f"from shop.models import Product\n"
            f"result = Product.objects.get(pk={self.world.product_pk}).stock",
            what="the product's stock",
        )

    def delivered(self, merchant_uid: str) -> list[str]:
        """Subjects of the paid mails the file backend delivered for this order (each mail
        names its outbox row in the X-Shop-Mail header)."""
        key = f"order_paid:{self.state(merchant_uid)['pk']}"
        subjects = []
        for path in sorted(self.mail_dir.glob("*")):
            for chunk in path.read_bytes().split(MAIL_SEPARATOR):
                if not chunk.strip():
                    continue
                message = email.message_from_bytes(chunk, policy=email.policy.default)
                if message["X-Shop-Mail"] == key:
                    subjects.append(str(message["Subject"]))
        return subjects

    def standin_payment(self, imp_uid: str) -> dict[str, Any]:
        return self.standin.server.query(
            f"""
            from sandbox.models import SandboxPayment
            payment = SandboxPayment.objects.get(imp_uid={imp_uid!r})
            result = {{
                "status": payment.status,
                "amount": payment.amount,
                "cancel_amount": payment.cancel_amount,
                "cancellations": list(
                    payment.cancellations.order_by("cancelled_at", "id").values(
                        "cancellation_id", "amount", "reason", "source"
                    )
                ),
            }}
            """
        )


@pytest.fixture
def start_shop(world: World, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """`start_shop(crash_at=None, **env)`: this test's shop, stopped after the test."""
    with contextlib.ExitStack() as stack:
        folder = world.workdir / re.sub(r"[^\w.-]+", "_", request.node.name)

        def start(crash_at: str | None = None, **env: str) -> CrashingShop:
            mail_dir = folder / "mail"
            marker = folder / "crashed"
            overrides = {
                "GUNICORN_WORKERS": "1",
                "IAMPORT_REQUEST_BUDGET": str(BUDGET),
                "IAMPORT_WEBHOOK_SENDER_IPS": "127.0.0.1",
                "SHOP_MAIL_SEND_NOW": "0",
                "DJANGO_EMAIL_BACKEND": "django.core.mail.backends.filebased.EmailBackend",
                "DJANGO_EMAIL_FILE_PATH": str(mail_dir),
                CRASH_AT: crash_at or "",
                CRASH_MARKER: str(marker),
                **env,
            }
            shop = stack.enter_context(_gunicorn(world, folder, overrides))
            if crash_at:
                assert f"{LOG_PREFIX} armed {crash_at}" in shop.server.log(), shop.server.describe()
            return CrashingShop(shop, world, marker, mail_dir)

        yield start


# --- small utilities -------------------------------------------------------------------------
def wait(predicate: Callable[[], Any], *, what: str, server=None, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            log = server.describe() if server is not None else ""
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}" + log)
        time.sleep(0.1)


def wait_out_claims(since: float) -> None:
    """Let a cancel claim or a refund taken before `since` (monotonic) expire, as a cron run
    a minute later would find it."""
    remaining = since + CLAIM_TTL + 0.5 - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)


def post_json(
    url: str, body: dict, *, client: Browserless | None = None, timeout: float = 30.0
) -> Reply:
    """POST a JSON body as pay.js and the stand-in's SDK do (with the page's cookies and CSRF
    token when `client` is given)."""
    handlers: list[Any] = [urllib.request.ProxyHandler({})]
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    if client is not None:
        handlers.append(urllib.request.HTTPCookieProcessor(client.cookies))
        headers["X-CSRFToken"] = client.cookie("csrftoken") or ""
    opener = urllib.request.build_opener(*handlers)
    data = json.dumps(body).encode()
    # Only the http:// URLs of the servers started here reach this.
    request = urllib.request.Request(url, data=data, method="POST", headers=headers)  # noqa: S310
    try:
        with opener.open(request, timeout=timeout) as response:
            return Reply(response.status, response.headers, response.read(), response.url)
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, error.headers, error.read(), error.url)


def without_an_answer(call: Callable[[], Any], what: str) -> None:
    """`call` sends a request whose server process dies: the connection ends with no answer."""
    try:
        reply = call()
    except (urllib.error.URLError, http.client.HTTPException, ConnectionError):
        return  # the connection ended without an answer: the worker died
    raise AssertionError(f"{what} was answered ({reply.status}): {reply.text()[:500]}")


def page_messages(page: str) -> list[tuple[str, str]]:
    """(level, text) of the Django messages a page shows (admin or shop)."""
    found = re.findall(
        r'<li class="(debug|info|success|warning|error)"[^>]*>(.*?)</li>', page, re.S
    )
    return [(level, html.unescape(re.sub(r"<[^>]+>", "", text)).strip()) for level, text in found]


# --- the buyer -------------------------------------------------------------------------------
@dataclass
class Buyer:
    shop: CrashingShop
    client: Browserless
    merchant_uid: str
    amount: int
    params: dict[str, Any]  # IMP.request_pay's parameters, as the order page rendered them
    merchant_code: str
    imp_uid: str = ""

    def prepare(self) -> None:
        """What the pay button does first: pre-register the amount (POST /payments/prepare/)."""
        reply = post_json(
            f"{self.shop.url}/payments/prepare/",
            {"merchant_uid": self.merchant_uid},
            client=self.client,
        )
        assert reply.status == 200, reply.text() + self.shop.describe()

    def pay(self, *, amount: int | None = None) -> str:
        """Start the payment at the stand-in (its SDK's start call) and approve it in the
        window, as the stand-in's iamport.js and window do. No notice_url: no webhook."""
        param = {**self.params, "amount": self.amount if amount is None else amount}
        param.pop("notice_url", None)
        started = post_json(
            f"{self.shop.standin.url}/sandbox/iamport/sdk/start",
            {"merchant_code": self.merchant_code, "channel": "pc", "param": param},
        )
        assert started.status == 200, started.text()
        self.imp_uid = started.json()["response"]["imp_uid"]
        approved = post_json(
            f"{self.shop.standin.url}/sandbox/iamport/window/{self.imp_uid}/approve", {}
        )
        assert approved.status == 200, approved.text()
        assert approved.json()["response"]["rsp"]["status"] == "paid", approved.text()
        return self.imp_uid

    def complete(self) -> Reply:
        """What pay.js posts after the window closed: the imp_uid, for the server to verify."""
        return post_json(
            f"{self.shop.url}/payments/complete/",
            {"imp_uid": self.imp_uid, "merchant_uid": self.merchant_uid},
            client=self.client,
        )

    def order_page(self) -> str:
        reply = self.client.get(f"/orders/{self.merchant_uid}/")
        assert reply.status == 200, reply.text()[:2000]
        return reply.text()


def check_out(shop: CrashingShop) -> Buyer:
    """Cart, checkout form, order page: a pending card order for one product."""
    client = Browserless(shop.url)
    assert client.get(f"/products/{shop.world.product_pk}/").status == 200
    added = client.post_form(f"/cart/add/{shop.world.product_pk}/", {"quantity": "1"})
    assert added.status == 200, added.text()[:2000] + shop.describe()
    ordered = client.post_form("/checkout/", {**BUYER, "pay_method": "card"})
    assert ordered.status == 200 and re.search(r"/orders/[^/]+/$", ordered.url), (
        ordered.text()[:2000] + shop.describe()
    )
    page = ordered.text()
    params = json.loads(
        re.search(r'<script id="pay-params" type="application/json">(.*?)</script>', page, re.S)[1]
    )
    merchant_code = re.search(r'data-merchant-code="([^"]*)"', page)[1]
    return Buyer(shop, client, params["merchant_uid"], params["amount"], params, merchant_code)


def paid_order(shop: CrashingShop) -> Buyer:
    """A card order paid and verified through the shop's pay flow, with no crash."""
    buyer = check_out(shop)
    buyer.prepare()
    buyer.pay()
    reply = buyer.complete()
    assert reply.status == 200 and reply.json()["status"] == "paid", reply.text() + shop.describe()
    return buyer


# --- the admin -------------------------------------------------------------------------------
class Admin:
    """A staff member with the refund permission, in Django admin, without a browser."""

    def __init__(self, shop: CrashingShop) -> None:
        self.shop = shop
        self.client = Browserless(shop.url)
        assert self.client.get("/admin/login/").status == 200
        logged_in = self.client.post_form(
            "/admin/login/",
            {"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD, "next": "/admin/"},
        )
        assert logged_in.status == 200 and logged_in.url.endswith("/admin/"), (
            logged_in.url + shop.describe()
        )

    def refund_form(self, order_pk: int) -> str:
        """Open the order's refund form; the form's one-time request_key."""
        reply = self.client.get(f"/admin/shop/order/{order_pk}/refund/")
        assert reply.status == 200, reply.text()[:2000]
        return re.search(r'name="request_key" value="([0-9a-f]{32})"', reply.text())[1]

    def submit_refund(self, order_pk: int, request_key: str, amount: int) -> Reply:
        return self.client.post_form(
            f"/admin/shop/order/{order_pk}/refund/",
            {"amount": str(amount), "reason": "고객 요청 부분 환불", "request_key": request_key},
        )


def messages_of(reply: Reply) -> list[tuple[str, str]]:
    assert reply.status == 200, reply.text()[:2000]
    return page_messages(reply.text())


# --- the checks shared by the tests ----------------------------------------------------------
def assert_paid_once(shop: CrashingShop, buyer: Buyer, stock_before: int) -> dict[str, Any]:
    state = shop.state(buyer.merchant_uid)
    assert (state["status"], state["stock_taken"]) == ("paid", True), f"{state}" + shop.describe()
    accepted = [p for p in state["payments"] if p["verdict"] == "accepted"]
    assert len(state["payments"]) == 1 and len(accepted) == 1, state["payments"]
    assert (accepted[0]["imp_uid"], accepted[0]["status"]) == (buyer.imp_uid, "paid"), accepted
    assert shop.stock() == stock_before - 1, "the stock is taken exactly once"
    return state


def assert_mailed_once(shop: CrashingShop, buyer: Buyer) -> None:
    state = shop.state(buyer.merchant_uid)
    [mail] = state["mails"]
    assert mail["status"] == "sent", f"{mail}" + shop.describe()
    delivered = shop.delivered(buyer.merchant_uid)
    assert len(delivered) == 1, f"the paid mail must be delivered once: {delivered}"


def assert_no_server_error(shop: CrashingShop, buyer: Buyer) -> None:
    """Nothing but the planned kill: no 5xx answer, no traceback; and no webhook reached the
    shop for the order (nothing but the test's steps touched the payment)."""
    failed = [str(line) for line in shop.server.requests() if line.status >= 500]
    tracebacks = "Traceback (most recent call last)" in shop.server.log()
    assert not failed and not tracebacks, f"{failed}" + shop.describe()
    assert shop.standin.webhook_deliveries(buyer.merchant_uid) == []


def status_message(page: str) -> str:
    """What the order page says about the order under its status (#status-message)."""
    found = re.search(r'<p id="status-message"[^>]*>(.*?)</p>', page, re.S)
    return html.unescape(found[1]).strip() if found else ""


# --- 1, 2: verification ----------------------------------------------------------------------
def test_1_verification_killed_before_the_decision_commits(start_shop):
    shop = start_shop("verify_before_commit")
    stock_before = shop.stock()
    buyer = check_out(shop)
    buyer.prepare()
    buyer.pay()
    mark = shop.server.log_mark()

    without_an_answer(buyer.complete, "the verification")
    shop.expect_crash(mark)
    state = shop.state(buyer.merchant_uid)
    assert state["status"] == "pending" and not state["payments"] and not state["mails"], (
        f"nothing of the uncommitted decision may remain: {state}"
    )
    assert shop.stock() == stock_before

    output = shop.sync_payments()

    assert_paid_once(shop, buyer, stock_before)
    assert_mailed_once(shop, buyer)
    retry = buyer.complete()
    assert (retry.status, retry.json()["status"]) == (200, "paid"), retry.text() + output
    assert PAID_MESSAGE in retry.json()["message"]
    assert_paid_once(shop, buyer, stock_before)
    assert len(shop.delivered(buyer.merchant_uid)) == 1
    assert_no_server_error(shop, buyer)


def test_2_verification_killed_after_the_commit_before_the_answer(start_shop):
    shop = start_shop("verify_after_commit")
    stock_before = shop.stock()
    buyer = check_out(shop)
    buyer.prepare()
    buyer.pay()
    mark = shop.server.log_mark()

    without_an_answer(buyer.complete, "the verification")
    shop.expect_crash(mark)
    assert_paid_once(shop, buyer, stock_before)  # committed before the worker died
    [mail] = shop.state(buyer.merchant_uid)["mails"]
    assert mail["status"] == "pending", mail

    output = shop.sync_payments()

    assert_paid_once(shop, buyer, stock_before)
    assert_mailed_once(shop, buyer)
    # The buyer reloads the order page, and the page posts the result again.
    assert 'data-status="paid"' in buyer.order_page()
    retry = buyer.complete()
    assert (retry.status, retry.json()["status"]) == (200, "paid"), retry.text() + output
    assert PAID_MESSAGE in retry.json()["message"]
    assert_paid_once(shop, buyer, stock_before)
    assert len(shop.delivered(buyer.merchant_uid)) == 1
    assert_no_server_error(shop, buyer)


# --- 3, 4: a forged payment's cancel ---------------------------------------------------------
def _forged_payment(shop: CrashingShop) -> Buyer:
    """The buyer pays the order's merchant_uid with another amount (nothing pre-registered, so
    the stand-in's SDK lets it through, as with IAMPORT_PREPARE=0)."""
    buyer = check_out(shop)
    assert buyer.amount != FORGED_AMOUNT
    buyer.pay(amount=FORGED_AMOUNT)
    return buyer


def _assert_forged_and_cancelled(shop: CrashingShop, buyer: Buyer, stock_before: int) -> dict:
    at_standin = shop.standin_payment(buyer.imp_uid)
    assert (at_standin["status"], at_standin["cancel_amount"]) == ("cancelled", FORGED_AMOUNT), (
        at_standin
    )
    assert len(at_standin["cancellations"]) == 1, f"one cancel only: {at_standin}"
    [cancel] = at_standin["cancellations"]

    state = shop.state(buyer.merchant_uid)
    assert state["status"] == "pending", f"a forged payment never pays the order: {state}"
    assert not state["stock_taken"] and shop.stock() == stock_before
    assert not state["mails"], state["mails"]
    [payment] = state["payments"]
    assert (payment["verdict"], payment["status"], payment["cancel_amount"]) == (
        "forged",
        "cancelled",
        FORGED_AMOUNT,
    ), payment
    [refund] = state["refunds"]
    assert (refund["status"], refund["amount"], refund["cancellation_id"]) == (
        "succeeded",
        FORGED_AMOUNT,
        cancel["cancellation_id"],
    ), state["refunds"]
    return state


def _assert_told_cancelled(reply: Reply) -> None:
    answer = reply.json()
    assert reply.status == 409 and answer["status"] != "paid", reply.text()
    assert "취소했습니다" in answer["message"], answer
    assert PAID_MESSAGE not in answer["message"], answer


def test_3_forged_payment_killed_before_the_cancel_is_sent(start_shop):
    shop = start_shop("cancel_before_send")
    stock_before = shop.stock()
    buyer = _forged_payment(shop)
    mark = shop.server.log_mark()

    without_an_answer(buyer.complete, "the verification of a forged payment")
    crashed_at = time.monotonic()
    shop.expect_crash(mark)
    at_standin = shop.standin_payment(buyer.imp_uid)
    assert (at_standin["status"], at_standin["cancellations"]) == ("paid", []), at_standin
    [payment] = shop.state(buyer.merchant_uid)["payments"]
    assert payment["verdict"] == "forged" and payment["cancel_requested_at"], payment
    # The verification got no answer, and pay.js tells the buyer to reload the order page
    # before paying again: what the page says while the money is still at Iamport.
    said_before_the_cancel = status_message(buyer.order_page())

    wait_out_claims(crashed_at)  # the dead request's claim on the cancel expires
    output = shop.sync_payments()

    _assert_forged_and_cancelled(shop, buyer, stock_before)
    retry = buyer.complete()
    _assert_told_cancelled(retry)
    _assert_forged_and_cancelled(shop, buyer, stock_before)
    assert_no_server_error(shop, buyer)
    # Until Iamport confirms, the buyer is told the payment is *being* cancelled, not that it
    # was. Checked last, so that everything above is known to hold as well.
    assert "취소하고 있습니다" in said_before_the_cancel, said_before_the_cancel
    assert "취소했습니다" not in said_before_the_cancel, (
        "the order page says the payment was cancelled while Iamport still holds it "
        f"(until a sync_payments run after the claim's {CLAIM_TTL} s): "
        f"{said_before_the_cancel!r}\nsync_payments: {output}"
    )


def test_4_forged_payment_killed_after_the_cancel_was_answered(start_shop):
    shop = start_shop("cancel_after_answer")
    stock_before = shop.stock()
    buyer = _forged_payment(shop)
    mark = shop.server.log_mark()

    without_an_answer(buyer.complete, "the verification of a forged payment")
    shop.expect_crash(mark)
    at_standin = shop.standin_payment(buyer.imp_uid)
    assert (at_standin["status"], len(at_standin["cancellations"])) == ("cancelled", 1)
    state = shop.state(buyer.merchant_uid)
    assert not state["refunds"], "the answer was never recorded"

    shop.sync_payments()

    _assert_forged_and_cancelled(shop, buyer, stock_before)
    retry = buyer.complete()
    _assert_told_cancelled(retry)
    _assert_forged_and_cancelled(shop, buyer, stock_before)
    assert_no_server_error(shop, buyer)


# --- 5, 6: an admin's refund -----------------------------------------------------------------
def test_5_admin_refund_killed_before_the_cancel_is_sent(start_shop):
    shop = start_shop("cancel_before_send")
    buyer = paid_order(shop)
    order_pk = shop.state(buyer.merchant_uid)["pk"]
    admin = Admin(shop)
    request_key = admin.refund_form(order_pk)
    mark = shop.server.log_mark()

    without_an_answer(
        lambda: admin.submit_refund(order_pk, request_key, PARTIAL_REFUND), "the refund"
    )
    crashed_at = time.monotonic()
    shop.expect_crash(mark)
    [refund] = shop.state(buyer.merchant_uid)["refunds"]
    assert (refund["status"], refund["request_key"]) == ("requested", request_key), refund
    assert shop.standin_payment(buyer.imp_uid)["cancellations"] == []

    wait_out_claims(crashed_at)  # no request can still be waiting on Iamport for it
    output = shop.sync_payments()

    state = shop.state(buyer.merchant_uid)
    [refund] = state["refunds"]
    assert refund["status"] == "failed", f"{refund}\n{output}"
    assert "환불되지 않은" in refund["message"], refund
    assert (state["status"], state["refunded_amount"]) == ("paid", 0), state
    at_standin = shop.standin_payment(buyer.imp_uid)
    assert (at_standin["cancel_amount"], at_standin["cancellations"]) == (0, []), at_standin

    # The admin resubmits the same form: told it was not applied, and nothing changes.
    resubmitted = messages_of(admin.submit_refund(order_pk, request_key, PARTIAL_REFUND))
    assert any("환불되지 않았습니다" in text for _, text in resubmitted), resubmitted
    assert not any("이미 처리된" in text for _, text in resubmitted), resubmitted
    assert shop.standin_payment(buyer.imp_uid)["cancellations"] == []
    assert shop.state(buyer.merchant_uid)["status"] == "paid"

    # A fresh form refunds it, once.
    refunded = messages_of(
        admin.submit_refund(order_pk, admin.refund_form(order_pk), PARTIAL_REFUND)
    )
    assert any(f"{PARTIAL_REFUND:,}원을 환불했습니다" in text for _, text in refunded), refunded
    at_standin = shop.standin_payment(buyer.imp_uid)
    assert at_standin["cancel_amount"] == PARTIAL_REFUND, at_standin
    assert len(at_standin["cancellations"]) == 1, at_standin
    state = shop.state(buyer.merchant_uid)
    assert (state["status"], state["refunded_amount"]) == ("partially_refunded", PARTIAL_REFUND)
    assert [r["status"] for r in state["refunds"]] == ["failed", "succeeded"], state["refunds"]
    assert_no_server_error(shop, buyer)


def test_6_admin_refund_killed_after_the_cancel_was_answered(start_shop):
    shop = start_shop("cancel_after_answer")
    buyer = paid_order(shop)
    order_pk = shop.state(buyer.merchant_uid)["pk"]
    admin = Admin(shop)
    request_key = admin.refund_form(order_pk)
    mark = shop.server.log_mark()

    without_an_answer(
        lambda: admin.submit_refund(order_pk, request_key, PARTIAL_REFUND), "the refund"
    )
    crashed_at = time.monotonic()
    shop.expect_crash(mark)
    [refund] = shop.state(buyer.merchant_uid)["refunds"]
    assert refund["status"] == "requested", refund
    assert len(shop.standin_payment(buyer.imp_uid)["cancellations"]) == 1

    wait_out_claims(crashed_at)
    output = shop.sync_payments()

    at_standin = shop.standin_payment(buyer.imp_uid)
    [cancel] = at_standin["cancellations"]
    assert (at_standin["cancel_amount"], cancel["amount"]) == (PARTIAL_REFUND, PARTIAL_REFUND)
    state = shop.state(buyer.merchant_uid)
    [refund] = state["refunds"]
    assert (refund["status"], refund["request_key"], refund["cancellation_id"]) == (
        "succeeded",
        request_key,
        cancel["cancellation_id"],
    ), f"{refund}\n{output}"
    assert (state["status"], state["refunded_amount"]) == ("partially_refunded", PARTIAL_REFUND)

    resubmitted = messages_of(admin.submit_refund(order_pk, request_key, PARTIAL_REFUND))
    assert any(
        "이미 처리된" in text and f"{PARTIAL_REFUND:,}원이 환불되었습니다" in text
        for _, text in resubmitted
    ), resubmitted
    assert len(shop.standin_payment(buyer.imp_uid)["cancellations"]) == 1
    assert len(shop.state(buyer.merchant_uid)["refunds"]) == 1
    assert_no_server_error(shop, buyer)


# --- 7, 8: the paid mail ---------------------------------------------------------------------
def test_7_mail_sent_right_after_the_commit_killed_before_the_send(start_shop):
    shop = start_shop("mail_before_send", SHOP_MAIL_SEND_NOW="1")
    stock_before = shop.stock()
    buyer = check_out(shop)
    buyer.prepare()
    buyer.pay()
    mark = shop.server.log_mark()

    without_an_answer(buyer.complete, "the verification (its mail sent after the commit)")
    shop.expect_crash(mark)
    assert_paid_once(shop, buyer, stock_before)
    [mail] = shop.state(buyer.merchant_uid)["mails"]
    assert mail["status"] == "pending" and not shop.delivered(buyer.merchant_uid), mail

    shop.sync_payments()

    assert_mailed_once(shop, buyer)
    retry = buyer.complete()
    assert (retry.status, retry.json()["status"]) == (200, "paid"), retry.text()
    assert_paid_once(shop, buyer, stock_before)
    assert len(shop.delivered(buyer.merchant_uid)) == 1
    assert_no_server_error(shop, buyer)


def test_8_sync_payments_killed_while_sending_the_mail(start_shop):
    shop = start_shop()
    shop.sync_payments()  # nothing else of this database is due when the worker dies
    buyer = paid_order(shop)
    [mail] = shop.state(buyer.merchant_uid)["mails"]
    assert mail["status"] == "pending", mail

    shop.sync_payments_dying("mail_after_send", shop.marker)
    assert len(shop.delivered(buyer.merchant_uid)) == 1, "the backend had accepted it"
    [mail] = shop.state(buyer.merchant_uid)["mails"]
    assert mail["status"] == "pending", mail

    output = shop.sync_payments()

    [mail] = shop.state(buyer.merchant_uid)["mails"]
    assert mail["status"] == "sent", f"{mail}\n{output}"
    delivered = shop.delivered(buyer.merchant_uid)
    assert 1 <= len(delivered) <= 2, f"at least once, at most twice: {delivered}"
    assert 'data-status="paid"' in buyer.order_page()
    assert_no_server_error(shop, buyer)
