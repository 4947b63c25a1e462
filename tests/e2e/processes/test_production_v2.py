"""The production start on PortOne V2, for real: `python -m config.serve`, debug off,
PAYMENTS_API=v2.

A merchant on V2 sets the four PORTONE_* values from the PortOne console and no Iamport
credentials at all. Here PortOne is the sandbox in a process of its own (the stand-in), holding
the same store, API secret, webhook secret and channel key; the shop loads its browser SDK
cross-origin (as it loads PortOne's CDN), calls its REST paths and verifies its signed webhooks,
across the two processes.

The sandbox's channels are TEST channels. A shop taking real money (debug off) refuses a payment
through one: it cancels it at PortOne and leaves the order payable. A staging shop
(PORTONE_ALLOW_TEST_CHANNEL=1) takes it: the shop is restarted with it, on the same database,
for the tests that need it. The stand-in and the shop are separate processes with databases of
their own (servers.py beside this file), shared by the tests of this module.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import secrets
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import Error as PlaywrightError
from standardwebhooks.webhooks import Webhook

from tests.e2e.helpers import (
    TIMEOUT_MS,
    VBANK,
    expect_window_closed,
    open_payment_window,
    place_order,
    reload_until_status,
    wait_until,
    won,
)
from tests.e2e.processes.servers import (
    _CRASH_LINE,
    CatalogueProduct,
    ProductionShop,
    Server,
    Standin,
    iamport_standin,
    production_shop,
    shop_database,
)

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[3] / "artifacts" / "screenshots"
SDK_PATH = "/sandbox/portone/v2/browser-sdk.js"
REFUSED_AS_TEST = re.compile("테스트 결제는 이 상점에서 받지 않아 결제를 취소(했|하고 있)습니다")
# What the live shop logs (at ERROR, for its staff) for each TEST-channel payment it refuses.
TEST_CHANNEL_LOGGED = "came through a TEST channel: cancelling it"


def _webhook_secret() -> str:
    """A Standard Webhooks secret, as PortOne's console shows one."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


# --- the servers -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def portone() -> dict[str, str]:
    """The V2 store both sides know: what the merchant copies from the PortOne console."""
    return {
        "PORTONE_STORE_ID": f"store-{uuid.uuid4()}",
        "PORTONE_API_SECRET": secrets.token_urlsafe(48),
        "PORTONE_WEBHOOK_SECRET": _webhook_secret(),
        "PORTONE_CHANNEL_KEY": f"channel-key-{uuid.uuid4()}",
    }


@pytest.fixture(scope="module")
def standin(workdir: Path, portone: dict[str, str]) -> Iterator[Standin]:
    """Replaces conftest.py's: the stand-in plays the shop's V2 store as well."""
    with iamport_standin(workdir / "standin", env_overrides=portone) as started:
        assert started.server.get(SDK_PATH).status == 200, started.server.describe()
        # It takes the shared API secret: an unknown paymentId is a 404, not a 401.
        reply = started.server.get(
            "/sandbox/portone/payments/no-such-payment",
            headers={"Authorization": f"PortOne {portone['PORTONE_API_SECRET']}"},
        )
        assert (reply.status, reply.json()["type"]) == (404, "PAYMENT_NOT_FOUND"), reply.text()
        yield started


class V2Shop:
    """The shop on V2 (`make serve`, PortOne at the stand-in), on one database, restarted when
    a test needs the other PORTONE_ALLOW_TEST_CHANNEL, as a merchant would restart it."""

    def __init__(
        self, standin: Standin, portone: dict[str, str], workdir: Path, database_url: str
    ) -> None:
        self.standin, self.workdir, self.database_url = standin, workdir, database_url
        self.overrides: dict[str, str | None] = {
            "PAYMENTS_API": "v2",
            **portone,
            "PORTONE_API_URL": f"{standin.url}/sandbox/portone/",
            "PORTONE_SDK_URL": standin.url + SDK_PATH,  # cross-origin, as PortOne's CDN is
            **dict.fromkeys(standin.iamport_environ()),  # V2 needs no Iamport credentials
        }
        self._process = contextlib.ExitStack()
        self._running: tuple[bool, ProductionShop] | None = None
        self._catalogue_loaded = False

    def started(self, *, test_channels_allowed: bool) -> ProductionShop:
        if self._running and self._running[0] == test_channels_allowed:
            return self._running[1]
        self.stop()
        shop = self._process.enter_context(
            production_shop(
                self.standin,
                self.workdir / ("staging" if test_channels_allowed else "live"),
                env_overrides={
                    **self.overrides,
                    "PORTONE_ALLOW_TEST_CHANNEL": "1" if test_channels_allowed else None,
                },
                database_url=self.database_url,
            )
        )
        assert not any(name.startswith("IAMPORT_") for name in shop.server.env)
        if not self._catalogue_loaded:
            shop.load_demo_products()
            self._catalogue_loaded = True
        self._running = (test_channels_allowed, shop)
        return shop

    def stop(self) -> None:
        self._process.close()
        self._running = None


@pytest.fixture(scope="module")
def v2_shop(standin: Standin, portone: dict[str, str], workdir: Path) -> Iterator[V2Shop]:
    with shop_database(workdir / "shop", label="v2") as database_url:
        shop = V2Shop(standin, portone, workdir / "shop", database_url)
        try:
            yield shop
        finally:
            shop.stop()


@pytest.fixture
def live_shop(v2_shop: V2Shop) -> ProductionShop:
    """A shop taking real money: debug off, no PORTONE_ALLOW_TEST_CHANNEL."""
    return v2_shop.started(test_channels_allowed=False)


@pytest.fixture
def staging_shop(v2_shop: V2Shop) -> ProductionShop:
    """A staging shop: debug off too, but TEST-channel payments allowed."""
    return v2_shop.started(test_channels_allowed=True)


@pytest.fixture
def open_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[..., Page]]:
    """Desktop pages on a shop, each in a fresh context; screenshots of all if the test fails."""
    failed_before = request.session.testsfailed
    contexts = []

    def open_on(shop: ProductionShop) -> Page:
        context = browser.new_context(
            base_url=shop.url,
            viewport={"width": 1280, "height": 800},
            locale="ko-KR",
            timezone_id="Asia/Seoul",
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context.new_page()

    yield open_on
    failed = request.session.testsfailed > failed_before
    for number, context in enumerate(contexts):
        if failed:
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            name = re.sub(r"[^\w.-]+", "_", request.node.name)
            for index, page in enumerate(context.pages):
                # A page that cannot be captured any more must not hide the real failure.
                with contextlib.suppress(PlaywrightError):
                    page.screenshot(
                        path=SCREENSHOTS / f"FAILED-{name}-{number}-{index}.png", full_page=True
                    )
        context.close()


# --- reading both sides back -----------------------------------------------------------------
def _in_stock(shop: ProductionShop, index: int) -> CatalogueProduct:
    return [product for product in shop.products() if product.stock > 0][index]


def _stock(shop: ProductionShop, product: CatalogueProduct) -> int:
    return next(p.stock for p in shop.products() if p.pk == product.pk)


def _shop_side(shop: ProductionShop, merchant_uid: str) -> dict[str, Any]:
    """The order, its payments and the webhooks the shop stored for it."""
    return shop.server.query(
        f"""
        from payments.models import Payment, WebhookDelivery
        from shop.models import Order
        order = Order.objects.get(merchant_uid={merchant_uid!r})
        result = {{
            "status": order.status,
            "payable": order.is_payable,
            "stock_taken": order.stock_taken,
            "deposit_account": order.deposit_account,
            "payments": list(
                Payment.objects.filter(order=order).order_by("created_at", "id").values(
                    "imp_uid", "api", "status", "verdict", "amount", "cancel_amount"
                )
            ),
            "webhooks": list(
                WebhookDelivery.objects.filter(merchant_uid={merchant_uid!r})
                .order_by("received_at", "id")
                .values("api", "webhook_id", "status_hint", "outcome", "detail")
            ),
        }}
        """
    )


def _standin_side(standin: Standin, merchant_uid: str) -> dict[str, Any]:
    """The stand-in's V2 attempts for the paymentId, their cancellations and webhooks sent."""
    return standin.server.query(
        f"""
        from sandbox.models import SandboxPayment, SandboxWebhookDelivery
        attempts = SandboxPayment.objects.filter(merchant_uid={merchant_uid!r}, api="v2")
        result = {{
            "payments": [
                {{
                    "tx_id": p.imp_uid,
                    "status": p.status,
                    "amount": p.amount,
                    "vbank_num": p.vbank_num,
                    "cancellations": list(p.cancellations.values("amount", "source")),
                }}
                for p in attempts.order_by("started_at", "id")
            ],
            "webhooks": list(
                SandboxWebhookDelivery.objects.filter(payment__in=attempts)
                .order_by("created_at", "id")
                .values("api", "webhook_id", "url", "body", "outcome", "http_status",
                        "finished_at")
            ),
        }}
        """
    )


def _event(delivery: dict[str, Any]) -> str:
    return delivery["body"]["type"].removeprefix("Transaction.")


def _webhooks_crossed(
    shop: ProductionShop, standin: Standin, merchant_uid: str, events: set[str]
) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """Wait until the stand-in has sent the order's signed `events` (and had every webhook
    answered) and the shop has stored each one under its webhook-id, processed.
    Returns what the stand-in sent and the shop's deliveries by webhook-id."""

    def crossed() -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]] | None:
        sent = _standin_side(standin, merchant_uid)["webhooks"]
        if not events <= {_event(d) for d in sent} or not all(d["finished_at"] for d in sent):
            return None
        stored = {d["webhook_id"]: d for d in _shop_side(shop, merchant_uid)["webhooks"]}
        done = all(stored.get(d["webhook_id"], {}).get("outcome") == "processed" for d in sent)
        return (sent, stored) if done else None

    try:
        sent, stored = wait_until(crossed, what=f"the signed {events} webhooks of {merchant_uid}")
    except AssertionError as timed_out:
        raise AssertionError(
            f"{timed_out}\nthe stand-in sent: {_standin_side(standin, merchant_uid)['webhooks']}"
            f"\nthe shop stored: {_shop_side(shop, merchant_uid)['webhooks']}"
            + shop.server.describe(lines=40)
        ) from None
    for delivery in sent:
        assert delivery["api"] == "v2", delivery
        assert delivery["url"] == f"{shop.url}/payments/webhook/", delivery
        assert (delivery["outcome"], delivery["http_status"]) == ("delivered", 200), delivery
        assert delivery["body"]["data"]["paymentId"] == merchant_uid, delivery
        assert delivery["webhook_id"].startswith("msg_"), delivery
        received = stored[delivery["webhook_id"]]
        assert (received["api"], received["status_hint"]) == ("v2", _event(delivery)), received
    return sent, stored


def _access_log(server: Server, since: int) -> set[tuple[str, str, int]]:
    return {(line.method, line.path, line.status) for line in server.requests(since)}


def _expect_in_access_log(shop: ProductionShop, since: int, *expected: tuple[str, str, int]):
    wait_until(
        lambda: set(expected) <= _access_log(shop.server, since),
        what=f"{expected} in the shop's access log",
        timeout=5,
    )


def _assert_only_test_channel_errors(server: Server, since: int) -> None:
    """No 5xx and no crash after `since`; the ERROR lines are the TEST-channel refusals."""
    failed = [str(line) for line in server.requests(since) if line.status >= 500]
    logged = [line for line in server.log(since).splitlines() if _CRASH_LINE.search(line)]
    unexpected = [line for line in logged if TEST_CHANNEL_LOGGED not in line]
    assert not failed and not unexpected, f"{failed} {unexpected}" + server.describe(since)


def _post_json(url: str, body: str, headers: dict[str, str]) -> tuple[int, str]:
    """POST `body` as it is (a webhook's signature covers its exact bytes), directly."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(  # noqa: S310 (the http:// URL of a server started here)
        url,
        data=body.encode(),
        method="POST",
        headers={"Content-Type": "application/json", **headers},
    )
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, error.read().decode()


# --- a shop taking real money ----------------------------------------------------------------
def test_live_shop_refuses_and_cancels_a_test_channel_payment(
    live_shop: ProductionShop, standin: Standin, open_page, screenshot
):
    shop, shop_mark, standin_mark = (
        live_shop,
        live_shop.server.log_mark(),
        standin.server.log_mark(),
    )
    product = _in_stock(shop, 0)
    page = open_page(shop)

    merchant_uid = place_order(page, product)
    expect(page.locator("#pay-box")).to_have_attribute("data-api", "v2")
    scripts = page.locator("script[src]").evaluate_all("nodes => nodes.map(n => n.src)")
    assert standin.url + SDK_PATH in scripts, scripts
    window = open_payment_window(page)
    frame_src = page.locator("#sandbox-pay-frame").get_attribute("src") or ""
    assert frame_src.startswith(f"{standin.url}/sandbox/portone/window/"), frame_src
    expect(window.locator("#sandbox-amount")).to_have_text(won(product.price))
    window.locator("#sandbox-approve").click()

    expect_window_closed(page)
    expect(page.locator("#pay-message")).to_contain_text(REFUSED_AS_TEST)
    expect(page.locator("#order-status")).to_have_attribute("data-status", "pending")
    expect(page.locator("#pay-button")).to_be_enabled()
    screenshot(page, "prod-v2-01-test-channel-refused", full_page=True)

    # The shop cancelled it through the stand-in's V2 REST API (not its console).
    cancelled = wait_until(
        lambda: (
            (found := _standin_side(standin, merchant_uid))
            and found["payments"][0]["status"] == "cancelled"
            and found
        ),
        what=f"the stand-in to show {merchant_uid} cancelled",
    )
    [attempt] = cancelled["payments"]
    assert attempt["cancellations"] == [{"amount": product.price, "source": "api"}], attempt
    console = page.context.new_page()
    console.goto(f"{standin.url}/sandbox/console/payments/{attempt['tx_id']}/")
    expect(console.locator("#console-v2-status")).to_have_text("CANCELLED")
    console.close()

    # Its signed webhooks (paid, then the cancel's) were verified by the shop and changed
    # nothing: the order is still open for a real payment.
    _webhooks_crossed(shop, standin, merchant_uid, {"Paid", "Cancelled"})
    order = _shop_side(shop, merchant_uid)
    assert (order["status"], order["payable"], order["stock_taken"]) == ("pending", True, False)
    [payment] = order["payments"]
    assert (payment["imp_uid"], payment["api"], payment["verdict"]) == (
        attempt["tx_id"],
        "v2",
        "test_channel",
    )
    assert (payment["status"], payment["cancel_amount"]) == ("cancelled", product.price)
    assert _stock(shop, product) == product.stock
    page.reload()
    expect(page.locator("#order-status")).to_have_attribute("data-status", "pending")
    expect(page.locator("#pay-button")).to_be_enabled()

    _expect_in_access_log(
        shop,
        shop_mark,
        ("POST", "/payments/complete/", 409),
        ("POST", "/payments/webhook/", 200),
    )
    assert TEST_CHANNEL_LOGGED in shop.server.log(shop_mark)
    _assert_only_test_channel_errors(shop.server, shop_mark)
    standin.server.assert_no_server_errors(standin_mark)


def test_live_shop_rejects_a_webhook_not_signed_with_its_secret(live_shop: ProductionShop):
    shop, mark = live_shop, live_shop.server.log_mark()
    body = json.dumps(
        {
            "type": "Transaction.Paid",
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "data": {
                "storeId": shop.server.env["PORTONE_STORE_ID"],
                "paymentId": "order-signed-by-someone-else",
                "transactionId": str(uuid.uuid4()),
            },
        },
        separators=(",", ":"),
    )
    webhook_id = f"msg_{secrets.token_hex(12)}"
    now = datetime.now(UTC)
    signature = Webhook(_webhook_secret()).sign(webhook_id, now, body)

    status, answer = _post_json(
        f"{shop.url}/payments/webhook/",
        body,
        {
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        },
    )

    assert status == 400, answer + shop.server.describe(mark)
    stored = shop.server.query(
        f"""
        from payments.models import WebhookDelivery
        result = list(
            WebhookDelivery.objects.filter(body={body!r}).values(
                "api", "outcome", "webhook_id", "merchant_uid", "headers"
            )
        )
        """
    )
    [delivery] = stored  # kept as it arrived, with what came of it
    assert (delivery["api"], delivery["outcome"]) == ("v2", "rejected"), delivery
    assert webhook_id in json.dumps(delivery["headers"]), delivery
    assert (delivery["webhook_id"], delivery["merchant_uid"]) == ("", ""), "nothing kept as theirs"
    shop.server.assert_no_server_errors(mark)


# --- a staging shop that takes TEST channels -------------------------------------------------
def test_staging_shop_takes_a_test_channel_card_payment(
    staging_shop: ProductionShop, standin: Standin, open_page, screenshot
):
    shop, shop_mark, standin_mark = (
        staging_shop,
        staging_shop.server.log_mark(),
        standin.server.log_mark(),
    )
    product = _in_stock(shop, 1)
    page = open_page(shop)

    merchant_uid = place_order(page, product)
    expect(page.locator("#pay-box")).to_have_attribute("data-api", "v2")
    open_payment_window(page).locator("#sandbox-approve").click()

    expect_window_closed(page)
    expect(page.locator("#order-status")).to_have_attribute("data-status", "paid")
    expect(page.locator("#order-status")).to_have_text("결제 완료")
    expect(page.locator("#pay-button")).to_have_count(0)
    screenshot(page, "prod-v2-02-staging-card-paid")

    [attempt] = _standin_side(standin, merchant_uid)["payments"]
    assert (attempt["status"], attempt["cancellations"]) == ("paid", [])
    _webhooks_crossed(shop, standin, merchant_uid, {"Paid"})
    order = _shop_side(shop, merchant_uid)
    assert (order["status"], order["stock_taken"]) == ("paid", True)
    [payment] = order["payments"]
    assert (payment["imp_uid"], payment["api"], payment["status"], payment["verdict"]) == (
        attempt["tx_id"],
        "v2",
        "paid",
        "accepted",
    )
    assert _stock(shop, product) == product.stock - 1, "stock is taken exactly once"

    _expect_in_access_log(
        shop,
        shop_mark,
        ("POST", "/payments/complete/", 200),
        ("POST", "/payments/webhook/", 200),
    )
    shop.server.assert_no_server_errors(shop_mark)
    standin.server.assert_no_server_errors(standin_mark)


def test_staging_virtual_account_is_paid_by_the_signed_deposit_webhook(
    staging_shop: ProductionShop, standin: Standin, open_page, screenshot
):
    shop, shop_mark, standin_mark = (
        staging_shop,
        staging_shop.server.log_mark(),
        standin.server.log_mark(),
    )
    product = _in_stock(shop, 2)
    page = open_page(shop)

    merchant_uid = place_order(page, product, pay_method=VBANK)
    window = open_payment_window(page)
    expect(window.locator("#sandbox-approve")).to_have_text("가상계좌 발급")
    window.locator("#sandbox-approve").click()

    expect(page.locator("#order-status")).to_have_attribute("data-status", "awaiting_deposit")
    [account] = _standin_side(standin, merchant_uid)["payments"]
    assert account["status"] == "ready" and account["vbank_num"], account
    expect(page.locator("#deposit-number")).to_have_text(account["vbank_num"])
    expect(page.locator("#deposit-account .deposit-amount")).to_have_text(won(product.price))
    screenshot(page, "prod-v2-03-staging-awaiting-deposit")
    _webhooks_crossed(shop, standin, merchant_uid, {"VirtualAccountIssued"})
    assert _shop_side(shop, merchant_uid)["stock_taken"] is False

    deposit_mark = shop.server.log_mark()
    console = page.context.new_page()
    console.goto(f"{standin.url}/sandbox/console/payments/{account['tx_id']}/")
    console.locator("#console-deposit").click()
    expect(console.locator("#console-payment")).to_have_attribute("data-status", "paid")
    console.close()

    # Nothing but the stand-in's signed webhook tells the shop about the deposit.
    wait_until(
        lambda: _shop_side(shop, merchant_uid)["status"] == "paid",
        what=f"the deposit webhook to mark {merchant_uid} paid",
    )
    sent, _ = _webhooks_crossed(shop, standin, merchant_uid, {"VirtualAccountIssued", "Paid"})
    assert [_event(d) for d in sent] == ["VirtualAccountIssued", "Paid"], sent
    after_deposit = _access_log(shop.server, deposit_mark)
    assert ("POST", "/payments/webhook/", 200) in after_deposit, after_deposit
    assert not any(path == "/payments/complete/" for _, path, _ in after_deposit), after_deposit

    reload_until_status(page, "paid")
    expect(page.locator("#deposit-account")).to_have_count(0)
    screenshot(page, "prod-v2-04-staging-paid-by-deposit")
    order = _shop_side(shop, merchant_uid)
    assert (order["status"], order["stock_taken"]) == ("paid", True)
    [payment] = order["payments"]
    assert (payment["api"], payment["status"], payment["verdict"]) == ("v2", "paid", "accepted")
    assert _stock(shop, product) == product.stock - 1

    shop.server.assert_no_server_errors(shop_mark)
    standin.server.assert_no_server_errors(standin_mark)
