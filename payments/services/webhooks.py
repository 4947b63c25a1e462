"""Webhook deliveries: stored as they arrived (bounded), then settled with what came of them.

The endpoint is unauthenticated (Iamport V1 signs nothing), so what a delivery stores is
bounded: a capped body and only the headers worth keeping, never credentials or cookies.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping

from django.conf import settings

from payments.models import WebhookDelivery

logger = logging.getLogger(__name__)

# Headers worth keeping as evidence; anything else (Authorization, Cookie, API keys, ...) is
# dropped before the delivery is stored.
KEPT_HEADERS = frozenset(
    {
        "content-type",
        "content-length",
        "user-agent",
        "x-forwarded-for",
        "x-forwarded-proto",
        "x-real-ip",
        "host",
    }
)
HEADER_VALUE_MAX = 500
DETAIL_MAX = 10_000


def kept_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {
        name: value[:HEADER_VALUE_MAX]
        for name, value in headers.items()
        if name.lower() in KEPT_HEADERS
    }


def webhook_store(
    *, remote_addr: str | None, headers: Mapping[str, str], body: bytes
) -> WebhookDelivery:
    """Keep the delivery as it arrived, before anything is done with it."""
    limit = settings.IAMPORT_WEBHOOK_MAX_BODY
    return WebhookDelivery.objects.create(
        remote_addr=remote_addr,
        headers=kept_headers(headers),
        # NUL is replaced: PostgreSQL text cannot hold it, and the body is kept as evidence.
        body=body[:limit].decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
    )


def webhook_finish(
    delivery: WebhookDelivery, outcome: str, detail: str, *, error: BaseException | None = None
) -> WebhookDelivery:
    """Record what came of a delivery; an unexpected error keeps its traceback for the admin."""
    if error is not None:
        trace = "".join(traceback.format_exception(error))
        detail = f"{detail}\n\n{trace}"
    delivery.outcome, delivery.detail = outcome, detail[:DETAIL_MAX]
    delivery.save(update_fields=["outcome", "detail", "imp_uid", "merchant_uid", "status_hint"])
    logger.info(
        "webhook %s: %s (%s)", delivery.pk, outcome, detail.splitlines()[0] if detail else ""
    )
    return delivery
