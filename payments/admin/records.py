"""Iamport's records in the admin: payments, refunds and webhook deliveries, read-only."""

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

from payments.admin.common import (
    OUTCOME_COLOURS,
    ReadOnlyAdmin,
    can_refund,
    can_resync,
    external_link,
    missing_object_redirect,
    order_link,
    payment_link,
    payment_status_badge,
    pretty_json,
    refund_status_badge,
    requested_by,
    resync_payments,
    verdict_badge,
)
from payments.models import Payment, Refund, WebhookDelivery
from shop.admin import GREY, ReadOnlyTabularInline, badge, won


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
    fields = readonly_fields = (
        "imp_uid",
        "status_badge",
        "verdict_badge",
        "amount_display",
        "cancel_amount_display",
        "pay_method",
        "pg_provider",
        "paid_at",
        "receipt",
    )

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
