"""The V2 SDK script in a real Chromium: PortOne.requestPayment, the iframe window, the
resolved results, refusals before any window, redirect mode.

The "shop page" is any sandbox page with the script added, as the shop's order page adds it;
the payment window is driven through the same stable ids as V1's.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings

from sandbox.models import SandboxPayment, SandboxPrepare

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
SCRIPT = "/sandbox/portone/v2/browser-sdk.js"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if CHROMIUM is None:
        pytest.skip("Chromium is not installed")
    # Playwright's sync API keeps an event loop running in this thread; the ORM calls made
    # here between browser steps (and the database setup and teardown) are still synchronous.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with playwright_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            yield browser
            browser.close()


def shop_page(browser, live_server, *, user_agent: str | None = None, page_host: str = ""):
    """A page on the live server with the V2 script loaded, like the shop's order page."""
    context = browser.new_context(user_agent=user_agent) if user_agent else browser.new_context()
    page = context.new_page()
    page.goto((page_host or live_server.url) + "/sandbox/console/")
    page.add_script_tag(url=live_server.url + SCRIPT)
    page.evaluate("window.__results = []")
    return page


def request(**overrides: Any) -> dict[str, Any]:
    values = {
        "storeId": settings.PORTONE_STORE_ID,
        "channelKey": settings.PORTONE_CHANNEL_KEY,
        "paymentId": "order_browser_v2",
        "orderName": "유기농 원두 200g",
        "totalAmount": 12000,
        "currency": "KRW",
        "payMethod": "CARD",
        "customer": {"fullName": "홍길동", "email": "buyer@example.com"},
        "customData": {"item": "coffee"},
    }
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}


def request_payment(page, payment_request: Any) -> None:
    page.evaluate(
        """(request) => {
            const pending = PortOne.requestPayment(request);
            window.__isPromise = pending instanceof Promise;
            pending.then(
                (result) => window.__results.push(result),
                (error) => window.__results.push({rejected: String(error)}),
            );
        }""",
        payment_request,
    )


def result_of(page) -> dict[str, Any]:
    page.wait_for_function("window.__results.length > 0")
    page.wait_for_timeout(200)  # a second settlement would arrive now
    results = page.evaluate("window.__results")
    assert len(results) == 1, results
    assert page.evaluate("window.__isPromise") is True
    return results[0]


def test_approve_resolves_with_the_payment_and_its_tx_id(browser, live_server):
    page = shop_page(browser, live_server)

    request_payment(page, request())
    frame = page.frame_locator("#sandbox-pay-frame")
    assert frame.locator("#sandbox-amount").inner_text() == "12,000원"
    assert "SANDBOX" in frame.locator("body").inner_text()
    frame.locator("#sandbox-approve").click()
    result = result_of(page)

    payment = SandboxPayment.objects.get()
    assert result == {
        "transactionType": "PAYMENT",
        "paymentId": "order_browser_v2",
        "txId": payment.imp_uid,
    }
    assert payment.v2_status == "PAID"
    assert payment.custom_data == '{"item":"coffee"}'
    assert page.locator("#sandbox-pay-overlay").count() == 0


def test_decline_resolves_with_the_pg_failure(browser, live_server):
    page = shop_page(browser, live_server)

    request_payment(page, request())
    frame = page.frame_locator("#sandbox-pay-frame")
    frame.locator("#sandbox-decline-reason").select_option("F1004")
    frame.locator("#sandbox-decline").click()
    result = result_of(page)

    assert result["txId"] == SandboxPayment.objects.get().imp_uid
    assert result["code"] == "FAILURE_TYPE_PG"
    assert result["message"] == "[F1004] 분실 또는 도난 신고된 카드"
    assert result["pgCode"] == "F1004"
    assert result["pgMessage"] == "분실 또는 도난 신고된 카드"
    assert page.locator("#sandbox-pay-frame").count() == 0


def test_closing_the_window_resolves_with_the_buyers_cancel(browser, live_server):
    page = shop_page(browser, live_server)

    request_payment(page, request())
    page.frame_locator("#sandbox-pay-frame").locator("#sandbox-close").click()
    result = result_of(page)

    assert result["code"] == "FAILURE_TYPE_PG"
    assert result["message"] == "사용자가 결제를 취소하셨습니다"
    assert result["txId"]
    assert SandboxPayment.objects.get().v2_status == "FAILED"


def test_virtual_account_issue_resolves_without_a_code(browser, live_server):
    page = shop_page(browser, live_server)

    request_payment(
        page,
        request(
            payMethod="VIRTUAL_ACCOUNT",
            virtualAccount={"accountExpiry": {"dueDate": "20991231235959"}},
        ),
    )
    approve = page.frame_locator("#sandbox-pay-frame").locator("#sandbox-approve")
    assert approve.inner_text().strip() == "가상계좌 발급"
    approve.click()
    result = result_of(page)

    assert "code" not in result and result["txId"]
    assert SandboxPayment.objects.get().v2_status == "VIRTUAL_ACCOUNT_ISSUED"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"storeId": None}, "INVALID_PARAMETER"),
        ({"paymentId": None}, "INVALID_PARAMETER"),
        ({"orderName": None}, "INVALID_PARAMETER"),
        ({"totalAmount": "12000"}, "INVALID_PARAMETER"),
        ({"currency": "USD"}, "INVALID_PARAMETER"),
        ({"payMethod": None}, "INVALID_PARAMETER"),
        ({"storeId": "store-someone-else"}, "UNKNOWN_STORE"),
        ({"channelKey": "channel-key-unknown"}, "UNKNOWN_CHANNEL"),
    ],
)
def test_refusals_resolve_without_opening_a_window(browser, live_server, overrides, code):
    page = shop_page(browser, live_server)

    request_payment(page, request(**overrides))
    result = result_of(page)

    assert result["code"] == code and result["message"]
    assert "txId" not in result
    assert result["transactionType"] == "PAYMENT"
    assert page.locator("#sandbox-pay-frame").count() == 0
    assert not SandboxPayment.objects.exists()


def test_a_request_that_is_not_an_object_is_refused(browser, live_server):
    page = shop_page(browser, live_server)

    request_payment(page, None)

    assert result_of(page)["code"] == "INVALID_PARAMETER"


def test_pre_registered_amount_mismatch_and_paid_payment_id(browser, live_server):
    SandboxPrepare.objects.create(api="v2", merchant_uid="order_browser_v2", amount=12000)
    page = shop_page(browser, live_server)

    request_payment(page, request(totalAmount=100))
    assert result_of(page)["code"] == "PREPARED_AMOUNT_MISMATCH"

    page.evaluate("window.__results = []")
    request_payment(page, request())
    page.frame_locator("#sandbox-pay-frame").locator("#sandbox-approve").click()
    result_of(page)
    page.evaluate("window.__results = []")
    request_payment(page, request())
    assert result_of(page)["code"] == "ALREADY_PAID"


def test_script_loaded_from_another_origin(browser, live_server):
    """The page on 127.0.0.1, the script on localhost: URLs come from the script's src."""
    port = urlsplit(live_server.url).port
    page = shop_page(browser, live_server, page_host=f"http://127.0.0.1:{port}")

    request_payment(page, request())
    frame_url = page.locator("#sandbox-pay-frame").get_attribute("src")
    page.frame_locator("#sandbox-pay-frame").locator("#sandbox-approve").click()
    result = result_of(page)

    assert frame_url.startswith(live_server.url + "/sandbox/portone/window/")
    assert "code" not in result


def test_mobile_with_redirect_url_goes_to_the_window_and_back(browser, live_server):
    page = shop_page(browser, live_server, user_agent=IPHONE_UA)
    back = live_server.url + "/sandbox/console/?from=mobile"

    request_payment(page, request(redirectUrl=back))
    page.wait_for_url("**/sandbox/portone/window/**")
    page.locator("#sandbox-decline").click()
    page.wait_for_url("**/sandbox/console/?**")

    query = parse_qs(urlsplit(page.url).query)
    payment = SandboxPayment.objects.get()
    assert query == {
        "from": ["mobile"],
        "paymentId": ["order_browser_v2"],
        "code": ["FAILURE_TYPE_PG"],
        "message": ["[F1002] 카드 한도 초과"],
        "pgCode": ["F1002"],
        "pgMessage": ["카드 한도 초과"],
    }
    assert payment.channel == "mobile"


def test_force_redirect_on_a_desktop(browser, live_server):
    page = shop_page(browser, live_server)
    back = live_server.url + "/sandbox/console/"

    request_payment(page, request(redirectUrl=back, forceRedirect=True))
    page.wait_for_url("**/sandbox/portone/window/**")
    page.locator("#sandbox-approve").click()
    page.wait_for_url("**/sandbox/console/?**")

    assert parse_qs(urlsplit(page.url).query) == {"paymentId": ["order_browser_v2"]}
    assert SandboxPayment.objects.get().v2_status == "PAID"


def test_mobile_without_redirect_url_uses_the_overlay(browser, live_server):
    page = shop_page(browser, live_server, user_agent=IPHONE_UA)

    request_payment(page, request())
    page.frame_locator("#sandbox-pay-frame").locator("#sandbox-approve").click()

    assert "code" not in result_of(page)
    assert SandboxPayment.objects.get().channel == "mobile"  # origin.platformType MOBILE
