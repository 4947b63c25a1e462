"""Fixtures for the end-to-end journeys: a real Chromium against pytest-django's live server.

The shop pays through the local Iamport sandbox over real HTTP, exactly as it would talk to
Iamport: its REST client points at the live server's `/sandbox/iamport/`, the order page loads the
sandbox's `IMP` script, and the sandbox sends its webhooks from a background thread.

- One Chromium for all e2e tests; a fresh context (cookies, session) and page per test.
- Screenshots of key pages go to `artifacts/screenshots/` (git-ignored); a failing test leaves a
  full-page screenshot of every page it had open there as well (`FAILED-<test>-...png`).
- The database is a file-based SQLite test database (or PostgreSQL with DATABASE_URL), so the
  live server's threads, the sandbox's webhook thread and the tests all see the same rows.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    Playwright,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from tests.e2e.helpers import STAFF_PASSWORD, TIMEOUT_MS, wait_until

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP_VIEWPORT = {"width": 1280, "height": 800}

expect.set_options(timeout=TIMEOUT_MS)

_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Keep each phase's report on the test, so that fixtures can tell whether it failed."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def _on_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _chromium_found(path: str) -> bool:
    return os.path.isfile(path) and os.access(path, os.X_OK)


@pytest.fixture(scope="package")
def playwright() -> Iterator[Playwright]:
    if not _chromium_found(CHROMIUM_PATH):
        reason = (
            f"Chromium not found at {CHROMIUM_PATH!r} (set CHROMIUM_PATH to a Chromium binary): "
            "the end-to-end journeys need a real browser"
        )
        if _on_ci():
            # CI must never pass while silently skipping the browser tests.
            pytest.fail(f"{reason}; CI is set, so this is an error, not a skip.", pytrace=False)
        pytest.skip(reason)
    # Playwright's sync API keeps an asyncio event loop marked as running in this (the test)
    # thread for as long as Playwright is started, and Django then refuses every ORM call from
    # this thread with SynchronousOnlyOperation: the tests' own queries, their fixtures and
    # pytest-django's database flush. Nothing here actually runs concurrently with that loop
    # (the sync API drives it only while a Playwright call waits), so Django's check is turned
    # off, for exactly as long as Playwright runs. The fixture is package-scoped rather than
    # session-scoped so that the running loop and this switch both end with the e2e tests,
    # instead of leaking into the rest of the suite that pytest runs after them.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as started:
            yield started


@pytest.fixture(scope="package")
def browser(playwright: Playwright) -> Iterator[Browser]:
    browser = playwright.chromium.launch(
        executable_path=CHROMIUM_PATH, headless=True, args=CHROMIUM_ARGS
    )
    yield browser
    browser.close()


@pytest.fixture(autouse=True)
def _shop_pays_through_the_sandbox(settings, live_server) -> None:
    """The shop's Iamport client calls the live server's sandbox over real HTTP.

    The sandbox's browser script stays at its default, `/sandbox/iamport/v1/iamport.js`, served
    by the same live server; tests/conftest.py drops the cached client before every test.
    """
    settings.IAMPORT_API_URL = f"{live_server.url}/sandbox/iamport/"


@pytest.fixture(autouse=True)
def _webhooks_settle(transactional_db) -> Iterator[None]:
    """Before the database is flushed, let every sandbox webhook of the test finish.

    A webhook still travelling when the tables are emptied would hit a flushed database (or
    leak into the next test). Torn down before `transactional_db`, which it depends on.
    """
    yield
    from sandbox.models import SandboxWebhookDelivery

    wait_until(
        lambda: not SandboxWebhookDelivery.objects.filter(finished_at__isnull=True).exists(),
        what="the sandbox's webhooks to be answered",
    )


@pytest.fixture
def new_context(
    browser: Browser, live_server, request: pytest.FixtureRequest
) -> Iterator[Callable[..., BrowserContext]]:
    """Open browser contexts (a desktop one by default); all are closed after the test."""
    contexts: list[BrowserContext] = []

    def open_context(**options) -> BrowserContext:
        options = {
            "viewport": DESKTOP_VIEWPORT,
            "locale": "ko-KR",
            "timezone_id": "Asia/Seoul",
            **options,
        }
        context = browser.new_context(base_url=live_server.url, **options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield open_context

    reports = request.node.stash.get(_REPORTS, {})
    failed = any(report.failed for report in reports.values())
    for number, context in enumerate(contexts):
        if failed:
            _screenshot_pages_of_failure(request.node.name, number, context)
        context.close()


def _screenshot_pages_of_failure(test_name: str, number: int, context: BrowserContext) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    safe_name = re.sub(r"[^\w.-]+", "_", test_name)
    for index, page in enumerate(context.pages):
        # A page that cannot be captured any more must not hide the real failure.
        with contextlib.suppress(PlaywrightError):
            page.screenshot(
                path=SCREENSHOTS / f"FAILED-{safe_name}-{number}-{index}.png", full_page=True
            )


@pytest.fixture
def page(new_context: Callable[..., BrowserContext]) -> Page:
    """A desktop page (1280x800) in a fresh context of its own."""
    return new_context().new_page()


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    """Save what a page shows to artifacts/screenshots/<name>.png (the viewport by default)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page: Page, name: str, *, full_page: bool = False) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=path, full_page=full_page, animations="disabled")
        return path

    return take


@pytest.fixture
def products(transactional_db):
    """A small catalogue, like the demo data; the first one is the one the journeys buy."""
    from shop.models import Product

    return [
        Product.objects.create(
            name="에티오피아 예가체프 원두 200g",
            description="꽃향기와 산뜻한 산미가 돋보이는 싱글 오리진 원두입니다.",
            price=12000,
            stock=10,
        ),
        Product.objects.create(
            name="핸드드립 스타터 세트",
            description="드리퍼, 서버, 필터 100매로 구성된 입문용 세트입니다.",
            price=39000,
            stock=5,
        ),
        Product.objects.create(
            name="콜드브루 원액 500ml",
            description="18시간 저온 추출한 콜드브루 원액입니다.",
            price=15500,
            stock=0,
        ),
    ]


@pytest.fixture
def product(products):
    return products[0]


@pytest.fixture
def staff_user(transactional_db):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.create_superuser(
        username="manager", email="manager@example.com", password=STAFF_PASSWORD
    )
