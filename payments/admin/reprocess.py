"""Stored webhook deliveries processed again from the admin ("다시 처리").

A delivery that ended in an error (Iamport unreachable, a cancel that failed) can be run
again through the very path a fresh delivery takes: `webhook_process` reads the payload,
`payment_sync` fetches the payment from Iamport by its imp_uid and decides, and the outcome is
recorded on the delivery. A PortOne V2 delivery is synced by the paymentId it named when its
signature was verified on arrival. The sender check is not repeated: staff ask for it, and the
body is only a hint anyway (nothing in it but the imp_uid is used).

What the delivery said before stays visible: the earlier outcome and detail are kept below
the new ones in its detail, with when and by whom it was processed again. That note is part
of the record, like the details the webhook service writes, so it is written as they are (in
English) rather than in the language of whoever happens to press the button.
"""

from __future__ import annotations

import json
import logging
from functools import partial
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest, QueryDict
from django.utils import formats, timezone
from django.utils.translation import gettext as _

from payments.client import budget_remaining
from payments.ids import is_imp_uid
from payments.models import Payment, WebhookDelivery
from payments.services.webhooks import (
    DETAIL_MAX,
    WebhookRejected,
    webhook_finish,
    webhook_process,
    webhook_reprocess_v2,
)

logger = logging.getLogger(__name__)

REPROCESS_PERMISSION = "payments.change_webhookdelivery"
# Each delivery may cost an Iamport lookup (and a cancel): the request's time budget
# (IAMPORT_REQUEST_BUDGET) is shared by all of them, so a selection is kept small.
REPROCESS_MOST = 50
# Below this many seconds of the request's budget, the next delivery is left alone rather
# than recorded as an Iamport timeout that no one caused.
RESERVE_SECONDS = 1.0

Outcome = WebhookDelivery.Outcome
MESSAGE_LEVELS: dict[str, int] = {
    Outcome.PROCESSED: messages.SUCCESS,
    Outcome.IGNORED: messages.WARNING,
    Outcome.REJECTED: messages.WARNING,
}


# --- reading a stored delivery ------------------------------------------------------------
def stored_payload(delivery: WebhookDelivery) -> dict[str, Any]:
    """The payload of a stored delivery, read by the webhook view's rules.

    The imp_uid the delivery kept when it arrived was already checked; without one, the
    stored body is read as the view reads a request's: JSON (an object) when it was sent as
    JSON, otherwise a form.
    """
    if delivery.imp_uid:
        return {
            "imp_uid": delivery.imp_uid,
            "merchant_uid": delivery.merchant_uid,
            "status": delivery.status_hint,
        }
    if _content_type(delivery.headers) != "application/json":
        return QueryDict(delivery.body).dict()
    try:
        data = json.loads(delivery.body)
    except (ValueError, RecursionError):
        raise WebhookRejected("the stored body is not JSON") from None
    if not isinstance(data, dict):
        raise WebhookRejected("the stored body is not a JSON object")
    return data


def _content_type(headers: Any) -> str:
    if not isinstance(headers, dict):
        return ""
    for name, value in headers.items():
        if isinstance(name, str) and name.lower() == "content-type" and isinstance(value, str):
            return value.split(";", 1)[0].strip().lower()
    return ""


def stored_imp_uid(payload: dict[str, Any]) -> str:
    """The payload's imp_uid, held to the webhook view's rule for it."""
    value = payload.get("imp_uid")
    value = value.strip() if isinstance(value, str) else value
    if not value:
        raise WebhookRejected("imp_uid is required")
    if not is_imp_uid(value):
        raise WebhookRejected("imp_uid is not a valid id")
    return value


# --- processing again ---------------------------------------------------------------------
def delivery_reprocess(delivery: WebhookDelivery, *, by: str) -> WebhookDelivery:
    """Process a stored delivery again as a fresh one would be, keeping its history.

    Iamport failing is an outcome (recorded, as for a fresh delivery), not an exception; an
    unexpected error is recorded with its traceback by `webhook_process` and raised.
    """
    earlier = _earlier(delivery, by)
    try:
        if delivery.api == Payment.Api.V2:
            webhook_reprocess_v2(delivery)
        else:
            webhook_process(
                delivery,
                sender_allowed=True,
                read_payload=partial(stored_payload, delivery),
                read_imp_uid=stored_imp_uid,
            )
    finally:
        # The new outcome first, cut to leave room for what came before (a traceback can be
        # long); the record as a whole is cut to DETAIL_MAX by webhook_finish.
        new = delivery.detail[: DETAIL_MAX // 2]
        webhook_finish(delivery, delivery.outcome, f"{new}\n\n{earlier}")
    return delivery


def _earlier(delivery: WebhookDelivery, by: str) -> str:
    when = formats.date_format(timezone.localtime(), "DATETIME_FORMAT")
    note = f"[processed again {when} by {by}; before: {delivery.outcome}]"
    return f"{note}\n{delivery.detail}" if delivery.detail else note


def reprocess_deliveries(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[WebhookDelivery]
) -> None:
    """The admin action: each selected delivery processed again, one message each."""
    count = queryset.count()
    if count > REPROCESS_MOST:
        model_admin.message_user(
            request,
            _("한 번에 %(most)d건까지 다시 처리할 수 있습니다 (%(count)d건 선택됨).")
            % {"most": REPROCESS_MOST, "count": count},
            messages.WARNING,
        )
        return
    # Oldest first, as Iamport sent them.
    deliveries = list(queryset.order_by("received_at", "id"))
    for index, delivery in enumerate(deliveries):
        if _out_of_time():
            _report_left(model_admin, request, len(deliveries) - index)
            return
        _reprocess_one(model_admin, request, delivery)


def _out_of_time() -> bool:
    remaining = budget_remaining()
    return remaining is not None and remaining < RESERVE_SECONDS


def _report_left(model_admin: admin.ModelAdmin, request: HttpRequest, count: int) -> None:
    model_admin.message_user(
        request,
        _("시간이 모자라 %(count)d건은 다시 처리하지 않았습니다. 다시 선택해 주세요.")
        % {"count": count},
        messages.WARNING,
    )


def _reprocess_one(
    model_admin: admin.ModelAdmin, request: HttpRequest, delivery: WebhookDelivery
) -> None:
    try:
        delivery_reprocess(delivery, by=request.user.get_username())
    except Exception:
        # Any other failure (a bug, the database): the delivery holds the traceback, and the
        # other selected deliveries are still processed.
        logger.exception("admin reprocessing of webhook %s failed", delivery.pk)
        model_admin.message_user(
            request,
            _("%(label)s: 처리하지 못했습니다. 기록의 처리 내용을 확인해 주세요.")
            % {"label": _label(delivery)},
            messages.ERROR,
        )
        return
    model_admin.message_user(
        request,
        _("%(label)s: 다시 처리했습니다 — %(outcome)s (%(detail)s)")
        % {
            "label": _label(delivery),
            "outcome": delivery.get_outcome_display(),
            "detail": (delivery.detail.splitlines() or ["-"])[0],
        },
        MESSAGE_LEVELS.get(delivery.outcome, messages.ERROR),
    )


def _label(delivery: WebhookDelivery) -> str:
    return _("웹훅 #%(id)s (%(imp_uid)s)") % {"id": delivery.pk, "imp_uid": delivery.imp_uid or "-"}
