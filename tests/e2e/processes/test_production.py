"""The production start, for real: `python -m config.serve` (what `make serve` runs), debug off.

A merchant following "Going live" sets DJANGO_DEBUG=0, a secret key, the hosts, SHOP_BASE_URL,
a database and the Iamport credentials, and runs `make serve`. Here Iamport is the sandbox,
running as a separate server (the stand-in) on another port, so the payment window is a
cross-origin iframe and the webhook crosses from one server to the other, as in production.

Both servers are separate processes with databases of their own (servers.py beside this
file), shared by the tests of this module; nothing here uses pytest-django's live server or
test database. The shop's database is read back through the helpers, with the shop's own
settings.
"""

from __future__ import annotations

import contextlib
import gzip
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.helpers import (
    BUYER,
    VBANK,
    expect_window_closed,
    open_payment_window,
    place_order,
    reload_until_status,
    wait_until,
    won,
)
from tests.e2e.processes.servers import (
    Browserless,
    CatalogueProduct,
    ProductionShop,
    Standin,
    production_shop,
)

pytestmark = pytest.mark.e2e

SCREENSHOTS = Path(__file__).resolve().parents[3] / "artifacts" / "screenshots"
ONE_YEAR = 365 * 24 * 60 * 60
HASHED_PAY_JS = re.compile(r'src="(/static/js/pay\.[0-9a-f]{12}\.js)"')
HASHED_SHOP_CSS = re.compile(r'href="(/static/css/shop\.[0-9a-f]{12}\.css)"')
MAX_AGE = re.compile(r"max-age=(\d+)")


# --- the servers -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def shop(standin: Standin, workdir: Path) -> Iterator[ProductionShop]:
    with production_shop(standin, workdir / "shop") as started:
        yield started


@pytest.fixture(scope="module")
def catalogue(shop: ProductionShop) -> list[CatalogueProduct]:
    """The demo products, loaded as a merchant would try the shop (`manage.py load_demo_data`)."""
    products = shop.load_demo_products()
    assert len([p for p in products if p.stock > 0]) >= 3, products
    return products


def _in_stock(catalogue: list[CatalogueProduct], index: int) -> CatalogueProduct:
    return [product for product in catalogue if product.stock > 0][index]


@pytest.fixture
def shop_page(
    browser: Browser, shop: ProductionShop, request: pytest.FixtureRequest
) -> Iterator[Page]:
    """A desktop page on the production shop, in a fresh context; screenshots if the test fails."""
    failed_before = request.session.testsfailed
    context = browser.new_context(
        base_url=shop.url,
        viewport={"width": 1280, "height": 800},
        locale="ko-KR",
        timezone_id="Asia/Seoul",
    )
    page = context.new_page()
    yield page
    if request.session.testsfailed > failed_before:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        for index, open_page in enumerate(context.pages):
            # A page that cannot be captured any more must not hide the real failure.
            with contextlib.suppress(PlaywrightError):
                open_page.screenshot(
                    path=SCREENSHOTS / f"FAILED-{name}-{index}.png", full_page=True
                )
    context.close()


def _order_page_html(shop: ProductionShop, product: CatalogueProduct) -> str:
    """Put `product` in a cart and check out through the forms (no browser): the order page."""
    client = Browserless(shop.url)
    assert client.get(product.get_absolute_url()).status == 200
    added = client.post_form(f"/cart/add/{product.pk}/", {"quantity": "1"})
    assert (added.status, added.url) == (200, f"{shop.url}/cart/"), added.text()[:2000]
    ordered = client.post_form("/checkout/", {**BUYER, "pay_method": "card"})
    assert ordered.status == 200, ordered.text()[:2000]
    assert re.search(r"/orders/[^/]+/$", ordered.url), ordered.url
    return ordered.text()


def _max_age(cache_control: str | None) -> int:
    match = MAX_AGE.search(cache_control or "")
    assert match, f"no max-age in Cache-Control: {cache_control!r}"
    return int(match[1])


# --- the shop as a server: health, headers, static files -------------------------------------
def test_healthz_answers_ok(shop: ProductionShop):
    reply = shop.server.get("/healthz")

    assert reply.status == 200, reply.text() + shop.server.describe()
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json()["status"] == "ok"
    assert reply.headers["Cache-Control"] == "no-store"

    # A load balancer probes by address: answered for a host that is not in ALLOWED_HOSTS.
    probe = shop.server.get("/healthz", headers={"Host": "10.0.0.5:8000"})
    assert (probe.status, probe.json()["status"]) == (200, "ok")


def test_pages_carry_the_security_headers(shop: ProductionShop, catalogue):
    for path in ("/", catalogue[0].get_absolute_url(), "/cart/"):
        reply = shop.server.get(path)
        assert reply.status == 200, f"{path}: {reply.status}" + shop.server.describe()
        headers = reply.headers
        assert headers["X-Frame-Options"] == "DENY", path
        assert headers["Referrer-Policy"] == "strict-origin-when-cross-origin", path
        assert headers["Cross-Origin-Opener-Policy"] == "same-origin-allow-popups", path
        assert headers["X-Content-Type-Options"] == "nosniff", path


def test_debug_is_off_and_the_sandbox_is_not_served(shop: ProductionShop):
    missing = shop.server.get("/no-such-page/")
    assert missing.status == 404
    assert "URLconf" not in missing.text(), "Django's debug 404 page: debug is on"

    page = shop.server.get("/")
    assert 'id="sandbox-banner"' not in page.text()
    for path in ("/sandbox/iamport/v1/iamport.js", "/sandbox/console/"):
        assert shop.server.get(path).status == 404, path


def test_static_files_are_hashed_cached_for_a_year_and_compressed(shop: ProductionShop, catalogue):
    html = _order_page_html(shop, _in_stock(catalogue, 2))
    pay_js = HASHED_PAY_JS.search(html)
    shop_css = HASHED_SHOP_CSS.search(html)
    assert pay_js and shop_css, "the order page must reference hashed pay.js and shop.css:\n" + html

    for path, content_type in ((pay_js[1], "javascript"), (shop_css[1], "text/css")):
        plain = shop.server.get(path, headers={"Accept-Encoding": "identity"})
        assert plain.status == 200, path
        assert content_type in plain.headers["Content-Type"], path
        cache_control = plain.headers["Cache-Control"]
        assert _max_age(cache_control) >= ONE_YEAR, (path, cache_control)
        assert "immutable" in cache_control, (path, cache_control)
        assert plain.headers.get("Content-Encoding") is None

        zipped = shop.server.get(path, headers={"Accept-Encoding": "gzip"})
        assert zipped.status == 200
        assert zipped.headers["Content-Encoding"] == "gzip", path
        assert "Accept-Encoding" in (zipped.headers["Vary"] or ""), path
        assert gzip.decompress(zipped.body) == plain.body, path
        assert len(zipped.body) < len(plain.body), path

    # The unhashed name answers too, but may change with the next release: a short max-age.
    for path in ("/static/js/pay.js", "/static/css/shop.css"):
        unhashed = shop.server.get(path)
        assert unhashed.status == 200, path
        cache_control = unhashed.headers["Cache-Control"]
        assert _max_age(cache_control) < ONE_YEAR, (path, cache_control)
        assert "immutable" not in cache_control, (path, cache_control)
    hashed_js = shop.server.get(pay_js[1], headers={"Accept-Encoding": "identity"}).body
    assert shop.server.get("/static/js/pay.js").body == hashed_js


def test_static_files_have_brotli_copies(shop: ProductionShop):
    html = shop.server.get("/").text()
    shop_css = HASHED_SHOP_CSS.search(html)
    assert shop_css, html

    reply = shop.server.get(shop_css[1], headers={"Accept-Encoding": "br, gzip"})

    assert reply.status == 200
    assert reply.headers["Content-Encoding"] == "br"


def test_product_images_are_files_in_the_media_root_for_the_proxy(shop: ProductionShop, catalogue):
    """Uploaded images are the reverse proxy's to serve (README, Going live, step 3)."""
    product = next(product for product in catalogue if product.image)
    html = shop.server.get(product.get_absolute_url()).text()
    image = re.search(r'<img class="product-image" src="/media/([^"]+)"', html)
    assert image, html

    # `location /media/ { alias <DJANGO_MEDIA_ROOT>/; }` serves this file.
    path = Path(shop.server.env["DJANGO_MEDIA_ROOT"]) / image[1]
    assert path.is_file(), path
    assert path.read_bytes().startswith(b"\x89PNG"), path


# --- buying through it -----------------------------------------------------------------------
def _processed(order: dict, imp_uid: str, status_hint: str) -> bool:
    return any(
        hook["imp_uid"] == imp_uid
        and hook["status_hint"] == status_hint
        and hook["outcome"] == "processed"
        for hook in order["webhooks"]
    )


def _sent_and_answered(standin: Standin, merchant_uid: str, count: int) -> list[dict]:
    """Wait until the stand-in has sent `count` webhooks for the order and had them answered."""
    return wait_until(
        lambda: (
            (deliveries := standin.webhook_deliveries(merchant_uid))
            and len(deliveries) >= count
            and all(delivery["finished_at"] for delivery in deliveries)
            and deliveries
        ),
        what=f"the stand-in's {count} webhook(s) for {merchant_uid} to be answered",
    )


def _stock(shop: ProductionShop, product: CatalogueProduct) -> int:
    return next(p.stock for p in shop.products() if p.pk == product.pk)


def _expect_in_access_log(shop: ProductionShop, since: int, *expected: tuple[str, str, int]):
    """Each (method, path, status) shows up in gunicorn's access log after `since`."""

    def logged() -> bool:
        seen = {(line.method, line.path, line.status) for line in shop.server.requests(since)}
        return all(entry in seen for entry in expected)

    wait_until(logged, what=f"{expected} in the shop's access log", timeout=5)


def test_card_purchase_in_chromium_through_the_production_server(
    shop: ProductionShop, standin: Standin, catalogue, shop_page: Page, screenshot
):
    shop_mark, standin_mark = shop.server.log_mark(), standin.server.log_mark()
    product = _in_stock(catalogue, 0)
    page = shop_page

    page.goto("/")
    expect(page.locator(f'#product-list [data-product-id="{product.pk}"]')).to_be_visible()
    expect(page.locator("#sandbox-banner")).to_have_count(0)
    merchant_uid = place_order(page, product)
    expect(page.locator("#pay-button")).to_have_text(f"{won(product.price)} 결제하기")
    expect(page.locator("#pay-button")).to_be_enabled()  # pay.js and the stand-in's SDK loaded
    scripts = page.locator("script[src]").evaluate_all("nodes => nodes.map(n => n.src)")
    assert standin.script_url in scripts, scripts
    assert any(HASHED_PAY_JS.search(f'src="{src.removeprefix(shop.url)}"') for src in scripts)
    screenshot(page, "prod-01-order-pending")

    window = open_payment_window(page)  # the stand-in's window: a cross-origin iframe
    frame_src = page.locator("#sandbox-pay-frame").get_attribute("src") or ""
    assert frame_src.startswith(f"{standin.url}/sandbox/iamport/window/"), frame_src
    expect(window.locator("#sandbox-amount")).to_have_text(won(product.price))
    expect(window.locator("#sandbox-item-name")).to_have_text(product.name)
    screenshot(page, "prod-02-standin-window")
    window.locator("#sandbox-approve").click()

    expect_window_closed(page)
    expect(page.locator("#order-status")).to_have_attribute("data-status", "paid")
    expect(page.locator("#order-status")).to_have_text("결제 완료")
    expect(page.locator("#pay-button")).to_have_count(0)
    screenshot(page, "prod-03-order-paid")

    order = shop.order(merchant_uid)
    assert (order["status"], order["amount"], order["stock_taken"]) == (
        "paid",
        product.price,
        True,
    )
    assert order["paid_at"]
    [payment] = order["payments"]
    assert (payment["status"], payment["verdict"], payment["amount"]) == (
        "paid",
        "accepted",
        product.price,
    )
    imp_uid = payment["imp_uid"]
    assert [p["imp_uid"] for p in standin.payments(merchant_uid)] == [imp_uid]

    # The stand-in's webhook reached the production shop, which processed it.
    [delivery] = _sent_and_answered(standin, merchant_uid, 1)
    assert delivery["url"] == f"{shop.url}/payments/webhook/"
    assert (delivery["outcome"], delivery["http_status"]) == ("delivered", 200), delivery
    assert delivery["body"] == {"imp_uid": imp_uid, "merchant_uid": merchant_uid, "status": "paid"}
    order = wait_until(
        lambda: (
            (found := shop.order(merchant_uid)) and _processed(found, imp_uid, "paid") and found
        ),
        what=f"the shop to record the 'paid' webhook of {imp_uid} as processed",
    )
    assert order["status"] == "paid"
    assert len(order["payments"]) == 1
    assert _stock(shop, product) == product.stock - 1, "stock is taken exactly once"

    _expect_in_access_log(
        shop,
        shop_mark,
        ("POST", "/checkout/", 302),
        ("POST", "/payments/prepare/", 200),
        ("POST", "/payments/complete/", 200),
        ("POST", "/payments/webhook/", 200),
    )
    shop.server.assert_no_server_errors(shop_mark)
    standin.server.assert_no_server_errors(standin_mark)


def test_virtual_account_purchase_paid_by_a_deposit_at_the_standin(
    shop: ProductionShop, standin: Standin, catalogue, shop_page: Page, screenshot
):
    shop_mark, standin_mark = shop.server.log_mark(), standin.server.log_mark()
    product = _in_stock(catalogue, 1)
    page = shop_page

    merchant_uid = place_order(page, product, pay_method=VBANK)
    window = open_payment_window(page)
    expect(window.locator("#sandbox-approve")).to_have_text("가상계좌 발급")
    window.locator("#sandbox-approve").click()

    expect(page.locator("#order-status")).to_have_attribute("data-status", "awaiting_deposit")
    [account] = standin.payments(merchant_uid)
    assert (account["status"], account["pay_method"]) == ("ready", "vbank")
    expect(page.locator("#deposit-number")).to_have_text(account["vbank_num"])
    expect(page.locator("#deposit-account .deposit-amount")).to_have_text(won(product.price))
    screenshot(page, "prod-04-order-awaiting-deposit")
    order = shop.order(merchant_uid)
    assert (order["status"], order["deposit_account"]) == ("awaiting_deposit", account["vbank_num"])
    assert order["stock_taken"] is False

    console = page.context.new_page()
    console.goto(f"{standin.url}/sandbox/console/payments/{account['imp_uid']}/")
    console.locator("#console-deposit").click()
    expect(console.locator("#console-payment")).to_have_attribute("data-status", "paid")
    console.close()

    reload_until_status(page, "paid")
    expect(page.locator("#deposit-account")).to_have_count(0)
    screenshot(page, "prod-05-order-paid-by-deposit")

    deliveries = _sent_and_answered(standin, merchant_uid, 2)
    assert [d["body"]["status"] for d in deliveries] == ["ready", "paid"], deliveries
    assert all(d["outcome"] == "delivered" and d["http_status"] == 200 for d in deliveries)
    order = wait_until(
        lambda: (
            (found := shop.order(merchant_uid))
            and _processed(found, account["imp_uid"], "ready")
            and _processed(found, account["imp_uid"], "paid")
            and found
        ),
        what="the shop to process the 'ready' and 'paid' webhooks",
    )
    assert (order["status"], order["stock_taken"]) == ("paid", True)
    [payment] = order["payments"]
    assert (payment["status"], payment["verdict"]) == ("paid", "accepted")
    assert _stock(shop, product) == product.stock - 1

    _expect_in_access_log(
        shop,
        shop_mark,
        ("POST", "/payments/complete/", 200),
        ("POST", "/payments/webhook/", 200),
    )
    shop.server.assert_no_server_errors(shop_mark)
    standin.server.assert_no_server_errors(standin_mark)


def test_no_request_to_the_shop_answered_a_server_error(shop: ProductionShop):
    """Over every test of this module (run last): gunicorn's access log has no 5xx."""
    seen = shop.server.assert_no_server_errors()
    assert seen, "gunicorn's access log is empty" + shop.server.describe()
