"""The SDK script in a real Chromium: IMP.request_pay, the iframe window, refusals, mobile.

The "shop page" here is any sandbox page with the script added, as the shop's order page adds
it; the payment window is driven through its stable ids.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from sandbox.models import SandboxPayment, SandboxPrepare

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
IPHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)


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
    """A page on the live server with the sandbox script loaded, like the shop's order page."""
    context = browser.new_context(user_agent=user_agent) if user_agent else browser.new_context()
    page = context.new_page()
    page.goto((page_host or live_server.url) + "/sandbox/console/")
    page.add_script_tag(url=live_server.url + "/sandbox/iamport/v1/iamport.js")
    page.evaluate("window.__calls = []")
    return page


def param(**overrides: Any) -> dict[str, Any]:
    values = {
        "pg": "html5_inicis",
        "pay_method": "card",
        "merchant_uid": "order_browser_1",
        "name": "유기농 원두 200g",
        "amount": 12000,
        "buyer_name": "홍길동",
        "buyer_email": "buyer@example.com",
    }
    values.update(overrides)
    return values


def request_pay(page, pay_param: dict[str, Any], *, init: bool = True) -> None:
    page.evaluate(
        """([param, init]) => {
            if (init) { IMP.init("imp00000000"); }
            IMP.request_pay(param, (rsp) => window.__calls.push(rsp));
        }""",
        [pay_param, init],
    )


def callback_rsp(page) -> dict[str, Any]:
    page.wait_for_function("window.__calls.length > 0")
    page.wait_for_timeout(200)  # a second call would arrive now
    calls = page.evaluate("window.__calls")
    assert len(calls) == 1, calls
    return calls[0]


def test_desktop_approve_opens_iframe_and_calls_back_once(browser, live_server):
    page = shop_page(browser, live_server)

    request_pay(page, param())
    frame = page.frame_locator("#sandbox-pay-frame")
    assert frame.locator("#sandbox-amount").inner_text() == "12,000원"
    assert "SANDBOX — 실제 결제되지 않습니다" in frame.locator("body").inner_text()
    frame.locator("#sandbox-approve").click()
    rsp = callback_rsp(page)

    assert rsp["error_code"] is None
    assert rsp["status"] == "paid"
    assert rsp["paid_amount"] == 12000
    assert rsp["merchant_uid"] == "order_browser_1"
    assert "success" not in rsp
    assert SandboxPayment.objects.get(imp_uid=rsp["imp_uid"]).status == "paid"
    assert page.locator("#sandbox-pay-frame").count() == 0
    assert page.locator("#sandbox-pay-overlay").count() == 0


def test_desktop_decline_with_a_chosen_reason(browser, live_server):
    page = shop_page(browser, live_server)

    request_pay(page, param())
    frame = page.frame_locator("#sandbox-pay-frame")
    frame.locator("#sandbox-decline-reason").select_option("F1004")
    frame.locator("#sandbox-decline").click()
    rsp = callback_rsp(page)

    assert rsp["imp_uid"]
    assert rsp["error_code"] == "F1004"
    assert rsp["error_msg"] == "[F1004] 분실 또는 도난 신고된 카드"
    assert rsp["status"] == "failed"


def test_desktop_close_reports_user_cancel(browser, live_server):
    page = shop_page(browser, live_server)

    request_pay(page, param())
    page.frame_locator("#sandbox-pay-frame").locator("#sandbox-close").click()
    rsp = callback_rsp(page)

    assert rsp["error_msg"] == "사용자가 결제를 취소하셨습니다"
    assert page.locator("#sandbox-pay-frame").count() == 0


def test_vbank_issue(browser, live_server):
    page = shop_page(browser, live_server)

    request_pay(page, param(pay_method="vbank"))
    approve = page.frame_locator("#sandbox-pay-frame").locator("#sandbox-approve")
    assert approve.inner_text().strip() == "가상계좌 발급"
    approve.click()
    rsp = callback_rsp(page)

    assert rsp["error_code"] is None
    assert rsp["status"] == "ready"
    assert rsp["vbank_num"] and rsp["vbank_name"] and rsp["vbank_holder"]
    assert rsp["vbank_date"] > 0


@pytest.mark.parametrize(
    ("overrides", "init", "error_code"),
    [
        ({}, False, "NOT_INITIALIZED"),
        ({"amount": "12000"}, True, "INVALID_PARAMETER"),
        ({"merchant_uid": ""}, True, "INVALID_PARAMETER"),
        ({"pay_method": None}, True, "INVALID_PARAMETER"),
    ],
)
def test_refusals_call_back_without_opening_a_window(
    browser, live_server, overrides, init, error_code
):
    page = shop_page(browser, live_server)

    request_pay(page, param(**overrides), init=init)
    rsp = callback_rsp(page)

    assert rsp["imp_uid"] is None
    assert rsp["error_code"] == error_code
    assert rsp["error_msg"]
    assert page.locator("#sandbox-pay-frame").count() == 0
    assert not SandboxPayment.objects.exists()


def test_prepared_amount_mismatch_is_refused_before_the_window(browser, live_server):
    SandboxPrepare.objects.create(merchant_uid="order_browser_1", amount=12000)
    page = shop_page(browser, live_server)

    request_pay(page, param(amount=100))
    rsp = callback_rsp(page)

    assert rsp["imp_uid"] is None
    assert rsp["error_code"] == "PREPARED_AMOUNT_MISMATCH"
    assert page.locator("#sandbox-pay-frame").count() == 0


def test_script_loaded_from_another_origin(browser, live_server):
    """The page on 127.0.0.1, the script on localhost: URLs come from the script's src."""
    port = urlsplit(live_server.url).port
    page = shop_page(browser, live_server, page_host=f"http://127.0.0.1:{port}")

    request_pay(page, param())
    frame_url = page.locator("#sandbox-pay-frame").get_attribute("src")
    page.frame_locator("#sandbox-pay-frame").locator("#sandbox-approve").click()
    rsp = callback_rsp(page)

    assert frame_url.startswith(live_server.url + "/sandbox/iamport/window/")
    assert rsp["status"] == "paid"


def test_mobile_redirects_to_m_redirect_url(browser, live_server):
    page = shop_page(browser, live_server, user_agent=IPHONE_UA)
    back = live_server.url + "/sandbox/console/?from=mobile"

    request_pay(page, param(m_redirect_url=back))
    page.wait_for_url("**/sandbox/iamport/window/**")
    page.locator("#sandbox-decline").click()
    page.wait_for_url("**/sandbox/console/?**")

    query = parse_qs(urlsplit(page.url).query)
    payment = SandboxPayment.objects.get()
    assert query["from"] == ["mobile"]
    assert query["imp_uid"] == [payment.imp_uid]
    assert query["merchant_uid"] == ["order_browser_1"]
    assert query["error_code"] == ["F1002"]
    assert payment.channel == "mobile"
