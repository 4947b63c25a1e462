"""Measurements inside the benchmark's own process, through Django's test client.

The request goes through the shop's whole middleware stack with the production settings
(debug off); `CaptureQueriesContext` switches the connection's query log on for the duration,
which debug off otherwise keeps off. The webhook still asks the stand-in over real HTTP.
"""

from __future__ import annotations

import re
import statistics
import time
from dataclasses import dataclass

from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from bench.load import WEBHOOK_PATH, Webhook, failure, v1_webhook

# Transaction control, which the shop's code does not write as statements: Django's atomic()
# sends these (BEGIN and COMMIT appear in the query log since Django 4.2).
TRANSACTION_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


def is_transaction_control(sql: str) -> bool:
    return sql.lstrip().upper().startswith(TRANSACTION_CONTROL)


def brief(sql: str, width: int = 160) -> str:
    """One statement on one line, column lists and values folded, for --verbose."""
    text = " ".join(sql.split())
    text = re.sub(
        r"^SELECT (.{60,}?) FROM ",
        # Display text for the report, never executed.
        lambda m: f"SELECT <{m[1].count(',') + 1} columns> FROM ",  # noqa: S608
        text,
    )
    text = re.sub(
        r"^(INSERT INTO \S+) \(([^)]*)\) VALUES \(.*?\)( ON CONFLICT .*| RETURNING .*)?$",
        lambda m: f"{m[1]} (<{m[2].count(',') + 1} columns>) VALUES (…){m[3] or ''}",
        text,
    )
    return text if len(text) <= width else text[: width - 1] + "…"


def client() -> Client:
    # The host the production server is told to serve; REMOTE_ADDR is the test client's
    # 127.0.0.1, a listed webhook sender (so the rate-limit counter is not touched).
    return Client(HTTP_HOST="127.0.0.1")


def verify(
    shop: Client, imp_uid: str, merchant_uid: str, *, webhook: Webhook = v1_webhook
) -> list[str]:
    """One verification through the webhook; the SQL it ran, in order."""
    body, headers = webhook(imp_uid, merchant_uid)
    content_type = headers.pop("Content-Type")
    with CaptureQueriesContext(connection) as captured:
        response = shop.post(WEBHOOK_PATH, body, content_type=content_type, headers=headers)
    problem = failure("webhook", response.status_code, response.content)
    if problem:
        raise RuntimeError(f"in-process verification failed: {problem}: {response.content!r}")
    return [query["sql"] for query in captured.captured_queries]


@dataclass(frozen=True)
class PageTiming:
    queries: int  # SQL statements of one request
    products_shown: int  # product cards on the page, to check what was measured
    seconds: list[float]  # per measured request

    @property
    def median_ms(self) -> float:
        return statistics.median(self.seconds) * 1000


def product_list(shop: Client, *, warmup: int, samples: int) -> PageTiming:
    """GET /: `samples` timed requests after `warmup` ones (template compilation, first
    queries), then one more with the query log on. Timed without it: logging costs time."""
    for _ in range(warmup):
        _get_page(shop)
    seconds = []
    for _ in range(samples):
        started = time.perf_counter()
        _get_page(shop)
        seconds.append(time.perf_counter() - started)
    with CaptureQueriesContext(connection) as captured:
        page = _get_page(shop)
    return PageTiming(len(captured.captured_queries), page.count("data-product-id="), seconds)


def _get_page(shop: Client) -> str:
    response = shop.get("/")
    if response.status_code != 200:
        raise RuntimeError(f"GET / answered {response.status_code}: {response.content[:300]!r}")
    return response.content.decode()
