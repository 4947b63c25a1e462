"""The payments admin: Iamport's records, read-only, plus re-sync and refunds on orders.

Payments, refunds and webhook deliveries are financial records written only by
`payments.services`; here they can be looked at, never added, edited or deleted. Money moves
only through two doors, both calling a service and reporting through `message_user`:

- "아임포트에서 다시 조회" (re-sync): `payment_sync` for the order's payments, the same function
  the webhook and the browser callback call. Needs `shop.change_order`.
- "환불" (refund, full or partial): an intermediate form at
  `admin/shop/order/<pk>/refund/` that calls `payment_refund`. Needs `payments.refund_payment`.

The order page shows its payments and refunds, which `shop` cannot know about, so `Order` is
re-registered here with `PaymentOrderAdmin`, a subclass of shop's `OrderAdmin`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from payments.client import IamportError
from payments.forms import RefundForm
from payments.models import Payment, Refund, WebhookDelivery
from payments.services import (
    RefundAlreadyRequested,
    RefundError,
    SyncResult,
    payment_refund,
    payment_sync,
    payment_sync_order,
    refundable_payment,
)
from shop import services as shop_services
from shop.admin import AMBER, GREEN, GREY, PURPLE, RED, OrderAdmin, badge, won
from shop.models import Order

logger = logging.getLogger(__name__)

REFUND_PERMISSION = "payments.refund_payment"
# Re-syncing can move an order (paid, refunded, cancelled), as a webhook would.
RESYNC_PERMISSION = "shop.change_order"
REFUNDABLE_STATUSES = (Order.Status.PAID, Order.Status.PARTIALLY_REFUNDED)
DUPLICATE_REFUND_MESSAGE = "이미 처리된 환불 요청입니다 (중복 제출). 아무것도 바꾸지 않았습니다."

PAYMENT_STATUS_COLOURS = {
    Payment.Status.READY: AMBER,
    Payment.Status.PAID: GREEN,
    Payment.Status.CANCELLED: PURPLE,
    Payment.Status.FAILED: RED,
}
VERDICT_COLOURS = {
    Payment.Verdict.PENDING: GREY,
    Payment.Verdict.ACCEPTED: GREEN,
    Payment.Verdict.FORGED: RED,
    Payment.Verdict.DUPLICATE: RED,
    Payment.Verdict.UNFULFILLABLE: RED,
    Payment.Verdict.FAILED: RED,
}
REFUND_STATUS_COLOURS = {Refund.Status.SUCCEEDED: GREEN, Refund.Status.FAILED: RED}
OUTCOME_COLOURS = {
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


def order_link(order_id: int, label: str) -> str:
    return format_html(
        '<a href="{}">{}</a>', reverse("admin:shop_order_change", args=[order_id]), label
    )


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


def requested_by(refund: Refund) -> str:
    if refund.requested_by_id:
        return str(refund.requested_by)
    return "자동 (결제 검증)" if refund.request_key is None else "-"


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
            result = payment_sync(imp_uid=payment.imp_uid)
        except IamportError as exc:
            logger.warning("admin re-sync of %s failed: %s", payment.imp_uid, exc.message)
            model_admin.message_user(
                request,
                f"{payment.imp_uid}: 아임포트에서 조회하지 못했습니다 — {exc.message}",
                messages.ERROR,
            )
            continue
        except shop_services.OrderError as exc:
            model_admin.message_user(
                request,
                f"{payment.imp_uid}: 주문에 반영하지 못했습니다 — {exc}",
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
        f"{result.payment.imp_uid}: 아임포트에서 다시 조회했습니다 — "
        f"아임포트 '{result.payment.get_status_display()}', "
        f"판정 '{result.payment.get_verdict_display()}', "
        f"주문 '{result.order.get_status_display()}'",
        messages.SUCCESS,
    )


# --- read-only records --------------------------------------------------------------------
class ReadOnlyAdmin(admin.ModelAdmin):
    """A financial record: viewable by staff with the view permission, never written here."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj=None) -> list[str]:
        return flatten_fieldsets(self.fieldsets)


class ReadOnlyTabularInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class RefundInline(ReadOnlyTabularInline):
    model = Refund
    fields = [
        "created_at",
        "amount_display",
        "checksum_display",
        "status_badge",
        "reason",
        "message",
        "requested_by_display",
        "receipt",
    ]
    readonly_fields = fields

    @admin.display(description="환불 금액")
    def amount_display(self, refund: Refund) -> str:
        return won(refund.amount)

    @admin.display(description="요청 시 잔액")
    def checksum_display(self, refund: Refund) -> str:
        return won(refund.checksum)

    @admin.display(description="결과")
    def status_badge(self, refund: Refund) -> str:
        return refund_status_badge(refund)

    @admin.display(description="취소 영수증")
    def receipt(self, refund: Refund) -> str:
        return external_link(refund.receipt_url, "영수증")

    @admin.display(description="요청자")
    def requested_by_display(self, refund: Refund) -> str:
        return requested_by(refund)


class PaymentInline(ReadOnlyTabularInline):
    model = Payment
    fields = [
        "imp_uid",
        "status_badge",
        "verdict_badge",
        "amount_display",
        "cancel_amount_display",
        "pay_method",
        "pg_provider",
        "paid_at",
        "receipt",
    ]
    readonly_fields = fields

    @admin.display(description="아임포트 상태")
    def status_badge(self, payment: Payment) -> str:
        return payment_status_badge(payment)

    @admin.display(description="판정")
    def verdict_badge(self, payment: Payment) -> str:
        return verdict_badge(payment)

    @admin.display(description="결제 금액")
    def amount_display(self, payment: Payment) -> str:
        return won(payment.amount)

    @admin.display(description="취소 금액")
    def cancel_amount_display(self, payment: Payment) -> str:
        return won(payment.cancel_amount)

    @admin.display(description="영수증")
    def receipt(self, payment: Payment) -> str:
        return external_link(payment.receipt_url, "영수증")


@admin.register(Payment)
class PaymentAdmin(ReadOnlyAdmin):
    list_display = [
        "imp_uid",
        "order_link",
        "amount_display",
        "cancel_amount_display",
        "status_badge",
        "verdict_badge",
        "pay_method",
        "pg_provider",
        "created_at",
    ]
    list_filter = ["status", "verdict", "pay_method", "created_at"]
    search_fields = [
        "imp_uid",
        "merchant_uid",
        "order__buyer_name",
        "order__buyer_email",
        "order__buyer_tel",
    ]
    list_select_related = ["order"]
    date_hierarchy = "created_at"
    inlines = [RefundInline]
    actions = ["resync_selected"]
    fieldsets = [
        (
            "결제",
            {
                "fields": [
                    "imp_uid",
                    "order_link",
                    "status_badge",
                    "verdict_badge",
                    "verdict_reason",
                    "pay_method",
                    "pg_provider",
                    "pg_tid",
                    "receipt",
                ]
            },
        ),
        ("금액", {"fields": ["amount_display", "cancel_amount_display", "refundable_display"]}),
        (
            "일시",
            {
                "fields": [
                    "paid_at",
                    "failed_at",
                    "fail_reason",
                    "cancelled_at",
                    "created_at",
                    "updated_at",
                ]
            },
        ),
        (
            "가상계좌",
            {
                "fields": ["vbank_name", "vbank_num", "vbank_holder", "vbank_date"],
                "classes": ["collapse"],
            },
        ),
        ("아임포트 응답 원문", {"fields": ["raw_pretty"], "classes": ["collapse"]}),
    ]

    def get_urls(self):
        resync = path(
            "<path:object_id>/resync/",
            self.admin_site.admin_view(self.resync_view),
            name="payments_payment_resync",
        )
        return [resync, *super().get_urls()]

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # Always an existing payment: payments are never added here.
        context["resync_url"] = (
            reverse("admin:payments_payment_resync", args=[obj.pk]) if can_resync(request) else None
        )
        context["refund_url"] = (
            reverse("admin:shop_order_refund", args=[obj.order_id])
            if can_refund(request) and obj.order.status in REFUNDABLE_STATUSES
            else None
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def resync_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not can_resync(request):
            raise PermissionDenied
        payment = self.get_object(request, unquote(object_id))
        if payment is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        resync_payments(self, request, [payment])
        return redirect("admin:payments_payment_change", payment.pk)

    @admin.action(description="아임포트에서 다시 조회", permissions=["resync"])
    def resync_selected(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        resync_payments(self, request, queryset)

    def has_resync_permission(self, request: HttpRequest) -> bool:
        return can_resync(request)

    @admin.display(description="주문", ordering="merchant_uid")
    def order_link(self, payment: Payment) -> str:
        return order_link(payment.order_id, payment.merchant_uid)

    @admin.display(description="결제 금액", ordering="amount")
    def amount_display(self, payment: Payment) -> str:
        return won(payment.amount)

    @admin.display(description="취소 금액", ordering="cancel_amount")
    def cancel_amount_display(self, payment: Payment) -> str:
        return won(payment.cancel_amount)

    @admin.display(description="환불 가능 잔액")
    def refundable_display(self, payment: Payment) -> str:
        return won(payment.refundable_amount)

    @admin.display(description="아임포트 상태", ordering="status")
    def status_badge(self, payment: Payment) -> str:
        return payment_status_badge(payment)

    @admin.display(description="판정", ordering="verdict")
    def verdict_badge(self, payment: Payment) -> str:
        return verdict_badge(payment)

    @admin.display(description="영수증")
    def receipt(self, payment: Payment) -> str:
        return external_link(payment.receipt_url, "영수증 보기")

    @admin.display(description="아임포트 응답 원문")
    def raw_pretty(self, payment: Payment) -> str:
        return pretty_json(payment.raw)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "payment_link",
        "order_link",
        "amount_display",
        "checksum_display",
        "status_badge",
        "reason",
        "message",
        "requested_by_display",
    ]
    list_filter = ["status", "created_at"]
    search_fields = [
        "payment__imp_uid",
        "payment__merchant_uid",
        "payment__order__buyer_name",
        "reason",
    ]
    list_select_related = ["payment", "requested_by"]
    date_hierarchy = "created_at"
    fieldsets = [
        (
            "환불",
            {
                "fields": [
                    "payment_link",
                    "order_link",
                    "amount_display",
                    "checksum_display",
                    "status_badge",
                    "reason",
                    "message",
                    "requested_by_display",
                    "created_at",
                ]
            },
        ),
        ("아임포트", {"fields": ["cancellation_id", "receipt", "request_key"]}),
        ("아임포트 응답 원문", {"fields": ["raw_pretty"], "classes": ["collapse"]}),
    ]

    @admin.display(description="결제", ordering="payment__imp_uid")
    def payment_link(self, refund: Refund) -> str:
        return payment_link(refund.payment)

    @admin.display(description="주문", ordering="payment__merchant_uid")
    def order_link(self, refund: Refund) -> str:
        return order_link(refund.payment.order_id, refund.payment.merchant_uid)

    @admin.display(description="환불 금액", ordering="amount")
    def amount_display(self, refund: Refund) -> str:
        return won(refund.amount)

    @admin.display(description="요청 시 잔액")
    def checksum_display(self, refund: Refund) -> str:
        return won(refund.checksum)

    @admin.display(description="결과", ordering="status")
    def status_badge(self, refund: Refund) -> str:
        return refund_status_badge(refund)

    @admin.display(description="취소 영수증")
    def receipt(self, refund: Refund) -> str:
        return external_link(refund.receipt_url, "영수증 보기")

    @admin.display(description="요청자", ordering="requested_by")
    def requested_by_display(self, refund: Refund) -> str:
        return requested_by(refund)

    @admin.display(description="아임포트 응답 원문")
    def raw_pretty(self, refund: Refund) -> str:
        return pretty_json(refund.raw)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "received_at",
        "imp_uid_display",
        "merchant_uid_display",
        "status_hint",
        "outcome_badge",
        "remote_addr",
    ]
    list_filter = ["outcome", "received_at"]
    search_fields = ["imp_uid", "merchant_uid"]
    date_hierarchy = "received_at"
    fieldsets = [
        (
            "수신",
            {
                "fields": [
                    "received_at",
                    "remote_addr",
                    "imp_uid_display",
                    "merchant_uid_display",
                    "status_hint",
                    "outcome_badge",
                    "detail",
                ]
            },
        ),
        ("원문", {"fields": ["body_pretty", "headers_pretty"]}),
    ]

    @admin.display(description="아임포트 거래번호", ordering="imp_uid")
    def imp_uid_display(self, delivery: WebhookDelivery) -> str:
        return delivery.imp_uid or "-"

    @admin.display(description="주문번호", ordering="merchant_uid")
    def merchant_uid_display(self, delivery: WebhookDelivery) -> str:
        return delivery.merchant_uid or "-"

    @admin.display(description="결과", ordering="outcome")
    def outcome_badge(self, delivery: WebhookDelivery) -> str:
        colour = OUTCOME_COLOURS.get(delivery.outcome, GREY)
        return badge(delivery.get_outcome_display(), colour)

    @admin.display(description="본문")
    def body_pretty(self, delivery: WebhookDelivery) -> str:
        try:
            return pretty_json(json.loads(delivery.body))
        except ValueError:
            return format_html('<pre style="white-space:pre-wrap">{}</pre>', delivery.body)

    @admin.display(description="헤더")
    def headers_pretty(self, delivery: WebhookDelivery) -> str:
        return pretty_json(delivery.headers)


# --- orders, with their payments, refunds, re-sync and the refund form --------------------
class PaymentOrderAdmin(OrderAdmin):
    inlines = [*OrderAdmin.inlines, PaymentInline]
    search_fields = [*OrderAdmin.search_fields, "payments__imp_uid"]
    readonly_fields = [*OrderAdmin.readonly_fields, "refunds_table"]
    fieldsets = [*OrderAdmin.fieldsets, ("환불 내역", {"fields": ["refunds_table"]})]
    actions = ["resync_selected", "refund_selected"]
    change_form_template = "admin/payments/order_change_form.html"

    def get_urls(self):
        view = self.admin_site.admin_view
        custom = [
            path("<path:object_id>/refund/", view(self.refund_view), name="shop_order_refund"),
            path("<path:object_id>/resync/", view(self.resync_view), name="shop_order_resync"),
        ]
        return [*custom, *super().get_urls()]

    def has_refund_permission(self, request: HttpRequest) -> bool:
        return can_refund(request)

    def has_resync_permission(self, request: HttpRequest) -> bool:
        return can_resync(request)

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        # Always an existing order: orders are never added here.
        context["refund_url"] = (
            reverse("admin:shop_order_refund", args=[obj.pk])
            if can_refund(request) and obj.status in REFUNDABLE_STATUSES
            else None
        )
        context["resync_url"] = (
            reverse("admin:shop_order_resync", args=[obj.pk]) if can_resync(request) else None
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description="환불 내역")
    def refunds_table(self, order: Order) -> str:
        refunds = (
            Refund.objects.filter(payment__order=order)
            .select_related("payment", "requested_by")
            .order_by("created_at", "id")
        )
        if not refunds:
            return "환불 내역이 없습니다."
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td></tr>",
            (
                (
                    f"{timezone.localtime(refund.created_at):%Y-%m-%d %H:%M}",
                    payment_link(refund.payment),
                    won(refund.amount),
                    refund_status_badge(refund),
                    refund.reason,
                    refund.message or "-",
                    requested_by(refund),
                )
                for refund in refunds
            ),
        )
        return format_html(
            "<table><thead><tr><th>요청일시</th><th>결제</th><th>환불 금액</th><th>결과</th>"
            "<th>사유</th><th>아임포트 메시지</th><th>요청자</th></tr></thead>"
            "<tbody>{}</tbody></table>",
            rows,
        )

    # Re-sync ---------------------------------------------------------------------------
    @admin.action(description="아임포트에서 다시 조회", permissions=["resync"])
    def resync_selected(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        for order in queryset.prefetch_related("payments"):
            self._resync_order(request, order)

    def resync_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not can_resync(request):
            raise PermissionDenied
        order = self.get_object(request, unquote(object_id))
        if order is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        self._resync_order(request, order)
        return redirect("admin:shop_order_change", order.pk)

    def _resync_order(self, request: HttpRequest, order: Order) -> None:
        payments = list(order.payments.all())
        if payments:
            resync_payments(self, request, payments)
            return
        # No callback or webhook ever reached us: ask Iamport by the order number.
        try:
            result = payment_sync_order(order=order)
        except IamportError as exc:
            self.message_user(
                request,
                f"{order.merchant_uid}: 아임포트에서 조회하지 못했습니다 — {exc.message}",
                messages.ERROR,
            )
            return
        if result is None:
            self.message_user(
                request,
                f"{order.merchant_uid}: 아임포트에 이 주문의 결제가 없습니다.",
                messages.WARNING,
            )
            return
        report_sync(self, request, order.merchant_uid, result)

    # Refund ----------------------------------------------------------------------------
    @admin.action(description="선택한 주문 환불", permissions=["refund"])
    def refund_selected(self, request: HttpRequest, queryset: QuerySet[Order]):
        orders = list(queryset[:2])
        if len(orders) != 1:
            self.message_user(request, "환불할 주문을 하나만 선택해 주세요.", messages.WARNING)
            return None
        return redirect("admin:shop_order_refund", orders[0].pk)

    def refund_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The refund form: amount (default: all that is left), reason, and for a virtual
        account the account to send the money to. One rendered form refunds at most once."""
        if not can_refund(request):
            raise PermissionDenied
        order = self.get_object(request, unquote(object_id))
        if order is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, order):
            raise PermissionDenied

        # Checked before anything else so that a repeated submit is named as such, even when
        # the first one has already refunded everything.
        submitted_key = request.POST.get("request_key", "") if request.method == "POST" else ""
        if submitted_key and Refund.objects.filter(request_key=submitted_key).exists():
            self.message_user(request, DUPLICATE_REFUND_MESSAGE, messages.WARNING)
            return redirect("admin:shop_order_change", order.pk)

        payment = self._refundable_payment_or_message(request, order)
        if payment is None:
            return redirect("admin:shop_order_change", order.pk)

        form_kwargs = {
            "refundable": payment.refundable_amount,
            "needs_refund_account": payment.pay_method == "vbank",
        }
        if request.method != "POST":
            return self._render_refund_form(request, order, payment, RefundForm(**form_kwargs))

        form = RefundForm(request.POST, **form_kwargs)
        if not form.is_valid():
            return self._render_refund_form(request, order, payment, form)
        try:
            refund = payment_refund(
                order=order,
                amount=form.cleaned_data["amount"],
                reason=form.cleaned_data["reason"],
                request_key=form.cleaned_data["request_key"],
                user=request.user,
                refund_account=form.refund_account_details(),
            )
        except RefundAlreadyRequested:
            self.message_user(request, DUPLICATE_REFUND_MESSAGE, messages.WARNING)
            return redirect("admin:shop_order_change", order.pk)
        except RefundError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return self._refund_form_after_refusal(request, order, form)

        order.refresh_from_db()
        self.message_user(
            request,
            f"{refund.amount:,}원을 환불했습니다. 주문 상태: {order.get_status_display()} "
            f"(환불 합계 {order.refunded_amount:,}원, 남은 금액 {order.refundable_amount:,}원)",
            messages.SUCCESS,
        )
        return redirect("admin:shop_order_change", order.pk)

    def _refundable_payment_or_message(self, request: HttpRequest, order: Order) -> Payment | None:
        if order.status not in REFUNDABLE_STATUSES:
            self.message_user(
                request,
                f"'{order.get_status_display()}' 상태의 주문은 환불할 수 없습니다.",
                messages.ERROR,
            )
            return None
        payment = refundable_payment(order)
        if payment is None or payment.refundable_amount <= 0:
            self.message_user(request, "이 주문에는 환불할 결제가 없습니다.", messages.ERROR)
            return None
        return payment

    def _refund_form_after_refusal(
        self, request: HttpRequest, order: Order, refused: RefundForm
    ) -> HttpResponse:
        """The form again, with figures re-read (a refused refund re-reads Iamport) and a new
        request key, since the refused one has been used."""
        order.refresh_from_db()
        payment = self._refundable_payment_or_message(request, order)
        if payment is None:
            return redirect("admin:shop_order_change", order.pk)
        kept = {
            name: value for name, value in refused.cleaned_data.items() if name != "request_key"
        }
        if kept.get("amount", 0) > payment.refundable_amount:
            del kept["amount"]
        form = RefundForm(
            initial=kept,
            refundable=payment.refundable_amount,
            needs_refund_account=payment.pay_method == "vbank",
        )
        return self._render_refund_form(request, order, payment, form)

    def _render_refund_form(
        self, request: HttpRequest, order: Order, payment: Payment, form: RefundForm
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": f"주문 {order.merchant_uid} 환불",
            "opts": self.opts,
            "original": order,
            "order": order,
            "payment": payment,
            "form": form,
            "amount_display": won(order.amount),
            "refunded_display": won(order.refunded_amount),
            "refundable_display": won(payment.refundable_amount),
            "status_badge": self.status_badge(order),
            "pay_method_display": self.pay_method_display(order),
            "has_view_permission": self.has_view_permission(request, order),
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/payments/refund_form.html", context)


# shop.admin (imported above) has registered its own OrderAdmin; this one replaces it.
admin.site.unregister(Order)
admin.site.register(Order, PaymentOrderAdmin)
