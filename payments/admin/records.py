"""Iamport's records in the admin: payments, refunds and webhook deliveries, read-only (a
stored delivery can be processed again, `payments.admin.reprocess`)."""

from __future__ import annotations

import json

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from payments.admin.common import (
    OUTCOME_COLOURS,
    ReadOnlyAdmin,
    can_refund,
    can_resync,
    external_link,
    missing_object_redirect,
    order_link,
    payment_link,
    payment_method,
    payment_status_badge,
    pretty_json,
    refund_status_badge,
    requested_by,
    resync_payments,
    verdict_badge,
)
from payments.admin.filters import PaymentPayMethodFilter, PaymentPgFilter
from payments.admin.reprocess import REPROCESS_PERMISSION, reprocess_deliveries
from payments.models import Payment, Refund, WebhookDelivery
from payments.names import pay_method_name, pg_name
from shop.admin import GREY, ReadOnlyTabularInline, badge, local_datetime, won


class PaymentNames:
    """A payment's pay method and PG by their names, for the admins that show payments."""

    @admin.display(description=_("결제 수단"), ordering="pay_method")
    def pay_method_display(self, payment: Payment) -> str:
        return pay_method_name(payment.pay_method)

    @admin.display(description=_("PG사"), ordering="pg_provider")
    def pg_display(self, payment: Payment) -> str:
        return pg_name(payment.pg_provider)


class RefundInline(ReadOnlyTabularInline):
    model = Refund
    fields = readonly_fields = (
        "created_at",
        "amount_display",
        "checksum_display",
        "status_badge",
        "reason",
        "message",
        "requested_by_display",
        "receipt",
    )

    @admin.display(description=_("환불 금액"))
    def amount_display(self, refund: Refund) -> str:
        return won(refund.amount)

    @admin.display(description=_("요청 시 잔액"))
    def checksum_display(self, refund: Refund) -> str:
        return won(refund.checksum)

    @admin.display(description=_("결과"))
    def status_badge(self, refund: Refund) -> str:
        return refund_status_badge(refund)

    @admin.display(description=_("취소 영수증"))
    def receipt(self, refund: Refund) -> str:
        return external_link(refund.receipt_url, gettext("영수증"))

    @admin.display(description=_("요청자"))
    def requested_by_display(self, refund: Refund) -> str:
        return requested_by(refund)


class PaymentInline(PaymentNames, ReadOnlyTabularInline):
    model = Payment
    fields = readonly_fields = (
        "imp_uid",
        "status_badge",
        "verdict_badge",
        "amount_display",
        "cancel_amount_display",
        "pay_method_display",
        "pg_display",
        "paid_at",
        "receipt",
    )

    @admin.display(description=_("아임포트 상태"))
    def status_badge(self, payment: Payment) -> str:
        return payment_status_badge(payment)

    @admin.display(description=_("판정"))
    def verdict_badge(self, payment: Payment) -> str:
        return verdict_badge(payment)

    @admin.display(description=_("결제 금액"))
    def amount_display(self, payment: Payment) -> str:
        return won(payment.amount)

    @admin.display(description=_("취소 금액"))
    def cancel_amount_display(self, payment: Payment) -> str:
        return won(payment.cancel_amount)

    @admin.display(description=_("영수증"))
    def receipt(self, payment: Payment) -> str:
        return external_link(payment.receipt_url, gettext("영수증"))


@admin.register(Payment)
class PaymentAdmin(PaymentNames, ReadOnlyAdmin):
    list_display = [
        "imp_uid",
        "order_link",
        "amount_display",
        "cancel_amount_display",
        "status_badge",
        "verdict_badge",
        "pay_method_display",
        "pg_display",
        "created_display",
    ]
    list_filter = [
        "status",
        "verdict",
        PaymentPayMethodFilter,
        PaymentPgFilter,
        "api",
        "created_at",
    ]
    search_fields = [
        "imp_uid",
        "merchant_uid",
        "order__number",
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
            _("결제"),
            {
                "fields": [
                    "imp_uid",
                    "api",
                    "order_link",
                    "merchant_uid",
                    "status_badge",
                    "verdict_badge",
                    "verdict_reason",
                    "pay_method_display",
                    "pg_display",
                    "pg_tid",
                    "receipt",
                ]
            },
        ),
        (
            _("금액"),
            {
                "fields": [
                    "amount_display",
                    "cancel_amount_display",
                    "cancel_pending_display",
                    "refundable_display",
                ]
            },
        ),
        (
            _("일시"),
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
            _("가상계좌"),
            {
                "fields": ["vbank_name", "vbank_num", "vbank_holder", "vbank_date"],
                "classes": ["collapse"],
            },
        ),
        (_("아임포트 응답 원문"), {"fields": ["raw_pretty"], "classes": ["collapse"]}),
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
            if can_refund(request) and obj.order.is_refundable
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
            return missing_object_redirect(self, request, object_id)
        resync_payments(self, request, [payment])
        return redirect("admin:payments_payment_change", payment.pk)

    @admin.action(description=_("아임포트에서 다시 조회"), permissions=["resync"])
    def resync_selected(self, request: HttpRequest, queryset: QuerySet[Payment]) -> None:
        resync_payments(self, request, queryset)

    def has_resync_permission(self, request: HttpRequest) -> bool:
        return can_resync(request)

    @admin.display(description=_("주문"), ordering="order__number")
    def order_link(self, payment: Payment) -> str:
        return order_link(payment.order)

    @admin.display(description=_("기록일시"), ordering="created_at")
    def created_display(self, payment: Payment) -> str:
        return local_datetime(payment.created_at)

    @admin.display(description=_("결제 금액"), ordering="amount")
    def amount_display(self, payment: Payment) -> str:
        return won(payment.amount)

    @admin.display(description=_("취소 금액"), ordering="cancel_amount")
    def cancel_amount_display(self, payment: Payment) -> str:
        return won(payment.cancel_amount)

    @admin.display(description=_("PG 처리 중인 취소"))
    def cancel_pending_display(self, payment: Payment) -> str:
        return won(payment.cancel_pending)

    @admin.display(description=_("환불 가능 잔액"))
    def refundable_display(self, payment: Payment) -> str:
        return won(payment.refundable_amount)

    @admin.display(description=_("아임포트 상태"), ordering="status")
    def status_badge(self, payment: Payment) -> str:
        return payment_status_badge(payment)

    @admin.display(description=_("판정"), ordering="verdict")
    def verdict_badge(self, payment: Payment) -> str:
        return verdict_badge(payment)

    @admin.display(description=_("영수증"))
    def receipt(self, payment: Payment) -> str:
        return external_link(payment.receipt_url, gettext("영수증 보기"))

    @admin.display(description=_("아임포트 응답 원문"))
    def raw_pretty(self, payment: Payment) -> str:
        return pretty_json(payment.raw)


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = [
        "created_display",
        "payment_link",
        "order_link",
        "amount_display",
        "checksum_display",
        "status_badge",
        "method_display",
        "reason",
        "message",
        "requested_by_display",
    ]
    list_filter = ["status", "created_at"]
    search_fields = [
        "payment__imp_uid",
        "payment__merchant_uid",
        "payment__order__number",
        "payment__order__buyer_name",
        "reason",
    ]
    list_select_related = ["payment__order", "requested_by"]
    date_hierarchy = "created_at"
    fieldsets = [
        (
            _("환불"),
            {
                "fields": [
                    "payment_link",
                    "order_link",
                    "method_display",
                    "amount_display",
                    "checksum_display",
                    "status_badge",
                    "reason",
                    "message",
                    "requested_by_display",
                    "created_at",
                    "cancelled_at",
                ]
            },
        ),
        (_("아임포트"), {"fields": ["cancellation_id", "receipt", "request_key"]}),
        (_("아임포트 응답 원문"), {"fields": ["raw_pretty"], "classes": ["collapse"]}),
    ]

    @admin.display(description=_("결제"), ordering="payment__imp_uid")
    def payment_link(self, refund: Refund) -> str:
        return payment_link(refund.payment)

    @admin.display(description=_("주문"), ordering="payment__order__number")
    def order_link(self, refund: Refund) -> str:
        return order_link(refund.payment.order)

    @admin.display(description=_("결제 수단"), ordering="payment__pay_method")
    def method_display(self, refund: Refund) -> str:
        return payment_method(refund.payment)

    @admin.display(description=_("요청일시"), ordering="created_at")
    def created_display(self, refund: Refund) -> str:
        return local_datetime(refund.created_at)

    @admin.display(description=_("환불 금액"), ordering="amount")
    def amount_display(self, refund: Refund) -> str:
        return won(refund.amount)

    @admin.display(description=_("요청 시 잔액"))
    def checksum_display(self, refund: Refund) -> str:
        return won(refund.checksum)

    @admin.display(description=_("결과"), ordering="status")
    def status_badge(self, refund: Refund) -> str:
        return refund_status_badge(refund)

    @admin.display(description=_("취소 영수증"))
    def receipt(self, refund: Refund) -> str:
        return external_link(refund.receipt_url, gettext("영수증 보기"))

    @admin.display(description=_("요청자"), ordering="requested_by")
    def requested_by_display(self, refund: Refund) -> str:
        return requested_by(refund)

    @admin.display(description=_("아임포트 응답 원문"))
    def raw_pretty(self, refund: Refund) -> str:
        return pretty_json(refund.raw)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "received_display",
        "imp_uid_display",
        "merchant_uid_display",
        "status_hint",
        "outcome_badge",
        "remote_addr",
    ]
    list_filter = ["outcome", "api", "received_at"]
    search_fields = ["imp_uid", "merchant_uid", "webhook_id"]
    date_hierarchy = "received_at"
    actions = ["reprocess_selected"]
    fieldsets = [
        (
            _("수신"),
            {
                "fields": [
                    "received_at",
                    "api",
                    "webhook_id",
                    "remote_addr",
                    "imp_uid_display",
                    "merchant_uid_display",
                    "status_hint",
                    "outcome_badge",
                    "detail",
                ]
            },
        ),
        (_("원문"), {"fields": ["body_pretty", "headers_pretty"]}),
    ]

    @admin.action(description=_("다시 처리"), permissions=["reprocess"])
    def reprocess_selected(self, request: HttpRequest, queryset: QuerySet[WebhookDelivery]):
        reprocess_deliveries(self, request, queryset)

    def has_reprocess_permission(self, request: HttpRequest) -> bool:
        # Records stay read-only (no change form); the change permission is what lets staff
        # act on them.
        return request.user.has_perm(REPROCESS_PERMISSION)

    @admin.display(description=_("수신일시"), ordering="received_at")
    def received_display(self, delivery: WebhookDelivery) -> str:
        return local_datetime(delivery.received_at)

    @admin.display(description=_("아임포트 거래번호"), ordering="imp_uid")
    def imp_uid_display(self, delivery: WebhookDelivery) -> str:
        return delivery.imp_uid or "-"

    @admin.display(description=_("주문번호"), ordering="merchant_uid")
    def merchant_uid_display(self, delivery: WebhookDelivery) -> str:
        return delivery.merchant_uid or "-"

    @admin.display(description=_("결과"), ordering="outcome")
    def outcome_badge(self, delivery: WebhookDelivery) -> str:
        colour = OUTCOME_COLOURS.get(delivery.outcome, GREY)
        return badge(delivery.get_outcome_display(), colour)

    @admin.display(description=_("본문"))
    def body_pretty(self, delivery: WebhookDelivery) -> str:
        try:
            return pretty_json(json.loads(delivery.body))
        except ValueError:
            return format_html('<pre style="white-space:pre-wrap">{}</pre>', delivery.body)

    @admin.display(description=_("헤더"))
    def headers_pretty(self, delivery: WebhookDelivery) -> str:
        return pretty_json(delivery.headers)
