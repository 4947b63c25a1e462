"""Shared pieces of the payments admin: display helpers, permissions, re-sync reporting."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets
from django.http import HttpRequest
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _

from guard.admin import GuardedModelAdmin
from payments.client import IamportError
from payments.models import Payment, Refund, WebhookDelivery
from payments.names import pay_method_name, pg_name
from payments.services import (
    SyncResult,
    payment_resync,
)
from shop import services as shop_services
from shop.admin import AMBER, GREEN, GREY, PURPLE, RED, badge
from shop.models import Order

logger = logging.getLogger(__name__)
REFUND_PERMISSION = "payments.refund_payment"
# Re-syncing can move an order (paid, refunded, cancelled), as a webhook would.
RESYNC_PERMISSION = "shop.change_order"

PAYMENT_STATUS_COLOURS: dict[str, str] = {
    Payment.Status.READY: AMBER,
    Payment.Status.PAID: GREEN,
    Payment.Status.CANCELLED: PURPLE,
    Payment.Status.FAILED: RED,
}
VERDICT_COLOURS: dict[str, str] = {
    Payment.Verdict.PENDING: GREY,
    Payment.Verdict.ACCEPTED: GREEN,
    Payment.Verdict.FORGED: RED,
    Payment.Verdict.TEST_CHANNEL: RED,
    Payment.Verdict.DUPLICATE: RED,
    Payment.Verdict.UNFULFILLABLE: RED,
    Payment.Verdict.FAILED: RED,
}
REFUND_STATUS_COLOURS: dict[str, str] = {
    Refund.Status.REQUESTED: AMBER,
    Refund.Status.SUCCEEDED: GREEN,
    Refund.Status.FAILED: RED,
    Refund.Status.UNKNOWN: AMBER,
}
OUTCOME_COLOURS: dict[str, str] = {
    WebhookDelivery.Outcome.RECEIVED: AMBER,
    WebhookDelivery.Outcome.PROCESSED: GREEN,
    WebhookDelivery.Outcome.IGNORED: GREY,
    WebhookDelivery.Outcome.REJECTED: RED,
    WebhookDelivery.Outcome.ERROR: RED,
}


# --- small renderers ----------------------------------------------------------------------
def pretty_json(data: Any) -> str:
    text = json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True, default=str)
    return format_html(
        '<pre style="max-height:32em;overflow:auto;white-space:pre-wrap;margin:0">{}</pre>', text
    )


def external_link(url: str, label: str) -> str:
    # Iamport's URLs are stored as received; only ever link to http(s).
    if not url.startswith(("https://", "http://")):
        return "-"
    return format_html('<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>', url, label)


def order_link(order: Order) -> str:
    """The order by its short number (what people read and type), its merchant_uid (what
    Iamport knows it by) on hover."""
    return format_html(
        '<a href="{}" title="{}" style="white-space:nowrap">{}</a>',
        reverse("admin:shop_order_change", args=[order.pk]),
        order.merchant_uid,
        order.number,
    )


def payment_method(payment: Payment) -> str:
    """How a payment was made, by name: "신용카드 · KG이니시스"."""
    return f"{pay_method_name(payment.pay_method)} · {pg_name(payment.pg_provider)}"


def payment_link(payment: Payment) -> str:
    return format_html(
        '<a href="{}">{}</a>',
        reverse("admin:payments_payment_change", args=[payment.pk]),
        payment.imp_uid,
    )


def payment_status_badge(payment: Payment) -> str:
    return badge(payment.get_status_display(), PAYMENT_STATUS_COLOURS.get(payment.status, GREY))


def verdict_badge(payment: Payment) -> str:
    return badge(payment.get_verdict_display(), VERDICT_COLOURS.get(payment.verdict, GREY))


def refund_status_badge(refund: Refund) -> str:
    return badge(refund.get_status_display(), REFUND_STATUS_COLOURS.get(refund.status, GREY))


def missing_object_redirect(model_admin: admin.ModelAdmin, request: HttpRequest, object_id: str):
    """Back to the admin index with a message, for a custom view of an object that is gone."""
    model_admin.message_user(
        request,
        _("%(model)s #%(id)s: 없는 항목입니다 (삭제되었을 수 있습니다).")
        % {"model": model_admin.opts.verbose_name, "id": object_id},
        messages.WARNING,
    )
    return redirect("admin:index")


def requested_by(refund: Refund) -> str:
    if refund.requested_by_id:
        return str(refund.requested_by)
    return _("자동 (결제 검증)") if refund.request_key is None else "-"


def can_refund(request: HttpRequest) -> bool:
    return request.user.has_perm(REFUND_PERMISSION)


def can_resync(request: HttpRequest) -> bool:
    return request.user.has_perm(RESYNC_PERMISSION)


# --- re-sync ------------------------------------------------------------------------------
def resync_payments(
    model_admin: admin.ModelAdmin, request: HttpRequest, payments: Iterable[Payment]
) -> None:
    """Ask Iamport again about each payment and report, one message per payment.

    Iamport being unreachable or refusing is reported as an error message: the admin page
    itself never fails because of Iamport.
    """
    for payment in payments:
        try:
            result = payment_resync(payment)
        except IamportError as exc:
            logger.warning("admin re-sync of %s failed: %s", payment.imp_uid, exc.message)
            model_admin.message_user(
                request,
                _("%(imp_uid)s: 아임포트에서 조회하지 못했습니다 — %(error)s")
                % {"imp_uid": payment.imp_uid, "error": exc.message},
                messages.ERROR,
            )
            continue
        except shop_services.OrderError as exc:
            model_admin.message_user(
                request,
                _("%(imp_uid)s: 주문에 반영하지 못했습니다 — %(error)s")
                % {"imp_uid": payment.imp_uid, "error": exc},
                messages.ERROR,
            )
            continue
        report_sync(model_admin, request, payment.imp_uid, result)


def report_sync(
    model_admin: admin.ModelAdmin, request: HttpRequest, label: str, result: SyncResult
) -> None:
    """One admin message saying what a re-sync found."""
    if result.payment is None or result.order is None:
        model_admin.message_user(request, f"{label}: {result.message}", messages.WARNING)
        return
    model_admin.message_user(
        request,
        _(
            "%(imp_uid)s: 아임포트에서 다시 조회했습니다 — 아임포트 '%(status)s', "
            "판정 '%(verdict)s', 주문 '%(order_status)s'"
        )
        % {
            "imp_uid": result.payment.imp_uid,
            "status": result.payment.get_status_display(),
            "verdict": result.payment.get_verdict_display(),
            "order_status": result.order.get_status_display(),
        },
        messages.SUCCESS,
    )


# --- read-only records --------------------------------------------------------------------
class ReadOnlyAdmin(GuardedModelAdmin):
    """A financial record: viewable by staff with the view permission, never written here."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return flatten_fieldsets(self.fieldsets or ())
