"""The order page with its payments: re-sync and the refund form (full or partial)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from payments.admin.common import (
    can_refund,
    can_resync,
    missing_object_redirect,
    payment_link,
    refund_status_badge,
    report_sync,
    requested_by,
    resync_payments,
)
from payments.admin.filters import OrderPgFilter
from payments.admin.records import PaymentInline
from payments.client import IamportError
from payments.forms import RefundForm
from payments.models import Payment, Refund
from payments.names import pg_name
from payments.selectors import NotRefundable, Refundable, refundable
from payments.services import (
    RefundAlreadyRequested,
    RefundError,
    RefundPending,
    payment_refund,
    payment_sync_order,
)
from payments.services.refunds import already_requested_message, refund_for_request
from shop.admin import OrderAdmin, PayMethodFilter, local_datetime, won
from shop.models import Order
from shop.templatetags.shop_tags import won as won_text


def _with_pg(fieldsets: list) -> list:
    """shop's order fieldsets with the PG beside the pay method (shop knows no PGs)."""
    result = []
    for name, options in fieldsets:
        fields = list(options["fields"])
        if "pay_method_display" in fields:
            fields.insert(fields.index("pay_method_display") + 1, "pg_display")
        result.append((name, {**options, "fields": fields}))
    return result


def accepted_payment(order: Order) -> Payment | None:
    """The payment the order was settled with (at most one, a database constraint)."""
    return order.payments.filter(verdict=Payment.Verdict.ACCEPTED).first()


class PaymentOrderAdmin(OrderAdmin):
    inlines = [*OrderAdmin.inlines, PaymentInline]
    search_fields = [*OrderAdmin.search_fields, "payments__imp_uid"]
    list_filter = ["status", PayMethodFilter, OrderPgFilter, "created_at"]
    readonly_fields = [*OrderAdmin.readonly_fields, "pg_display", "refunds_table"]
    fieldsets = [
        *_with_pg(OrderAdmin.fieldsets),
        (gettext_lazy("환불 내역"), {"fields": ["refunds_table"]}),
    ]
    actions = ["resync_selected", "refund_selected"]
    change_form_template = "admin/payments/order_change_form.html"
    change_list_template = "admin/payments/order_change_list.html"

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
            if can_refund(request) and obj.is_refundable
            else None
        )
        context["resync_url"] = (
            reverse("admin:shop_order_resync", args=[obj.pk]) if can_resync(request) else None
        )
        return super().render_change_form(request, context, add, change, form_url, obj)

    @admin.display(description=gettext_lazy("PG사"))
    def pg_display(self, order: Order) -> str:
        payment = accepted_payment(order)
        return pg_name(payment.pg_provider) if payment else "-"

    @admin.display(description=gettext_lazy("환불 가능 금액"))
    def refundable_display(self, order: Order) -> str:
        """What a refund may still ask for: less what the PG is already giving back."""
        payment = accepted_payment(order)
        if payment is None or not payment.cancel_pending:
            return super().refundable_display(order)
        return format_html(
            '{}<br><span class="quiet">{}</span>',
            won(payment.refund_offer),
            _("PG 처리 중인 취소 %(amount)s 제외") % {"amount": won_text(payment.cancel_pending)},
        )

    @admin.display(description=gettext_lazy("환불 내역"))
    def refunds_table(self, order: Order) -> str:
        refunds = (
            Refund.objects.filter(payment__order=order)
            .select_related("payment", "requested_by")
            .order_by("created_at", "id")
        )
        if not refunds:
            return _("환불 내역이 없습니다.")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
            "<td>{}</td></tr>",
            (
                (
                    local_datetime(refund.created_at),
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
        headings = format_html_join(
            "",
            "<th>{}</th>",
            (
                (_("요청일시"),),
                (_("결제"),),
                (_("환불 금액"),),
                (_("결과"),),
                (_("사유"),),
                (_("아임포트 메시지"),),
                (_("요청자"),),
            ),
        )
        return format_html(
            "<table><thead><tr>{}</tr></thead><tbody>{}</tbody></table>", headings, rows
        )

    # Re-sync ---------------------------------------------------------------------------
    @admin.action(description=gettext_lazy("아임포트에서 다시 조회"), permissions=["resync"])
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
            return missing_object_redirect(self, request, object_id)
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
                _("%(order)s: 아임포트에서 조회하지 못했습니다 — %(error)s")
                % {"order": order.merchant_uid, "error": exc.message},
                messages.ERROR,
            )
            return
        if result is None:
            self.message_user(
                request,
                _("%(order)s: 아임포트에 이 주문의 결제가 없습니다.")
                % {"order": order.merchant_uid},
                messages.WARNING,
            )
            return
        report_sync(self, request, order.merchant_uid, result)

    # Refund ----------------------------------------------------------------------------
    @admin.action(description=gettext_lazy("선택한 주문 환불"), permissions=["refund"])
    def refund_selected(self, request: HttpRequest, queryset: QuerySet[Order]):
        orders = list(queryset[:2])
        if len(orders) != 1:
            self.message_user(request, _("환불할 주문을 하나만 선택해 주세요."), messages.WARNING)
            return None
        return redirect("admin:shop_order_refund", orders[0].pk)

    def refund_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The refund form: amount (default: all that is left), reason, and for a virtual
        account the account to send the money to. One rendered form refunds at most once."""
        if not can_refund(request):
            raise PermissionDenied
        order = self.get_object(request, unquote(object_id))
        if order is None:
            return missing_object_redirect(self, request, object_id)
        if not self.has_view_or_change_permission(request, order):
            raise PermissionDenied
        back = redirect("admin:shop_order_change", order.pk)
        # Checked before anything else so that a repeated submit is named as such, even when
        # the first one has already refunded everything, and says what became of the first.
        if request.method == "POST" and self._repeated_refund_submit(request):
            return back
        target = self._refundable_or_message(request, order)
        if target is None:
            return back
        form = RefundForm(
            request.POST if request.method == "POST" else None,
            refundable=target.offer,
            needs_refund_account=target.needs_refund_account,
        )
        if request.method != "POST" or not form.is_valid():
            return self._render_refund_form(request, order, target, form)
        try:
            refund = payment_refund(
                order=order,
                amount=form.cleaned_data["amount"],
                reason=form.cleaned_data["reason"],
                request_key=form.cleaned_data["request_key"],
                user=request.user,
                refund_account=form.refund_account_details(),
            )
        except (RefundAlreadyRequested, RefundPending) as exc:
            self.message_user(request, str(exc), messages.WARNING)
            return back
        except RefundError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return self._refund_form_after_refusal(request, order, form)
        self._report_refund(request, refund)
        return back

    def _report_refund(self, request: HttpRequest, refund: Refund) -> None:
        order = Order.objects.get(pk=refund.payment.order_id)
        self.message_user(
            request,
            # Translators: the amounts are written with their currency, e.g. "5,000원".
            _(
                "%(amount)s을 환불했습니다. 주문 상태: %(status)s "
                "(환불 합계 %(refunded)s, 남은 금액 %(left)s)"
            )
            % {
                "amount": won_text(refund.amount),
                "status": order.get_status_display(),
                "refunded": won_text(order.refunded_amount),
                "left": won_text(order.refundable_amount),
            },
            messages.SUCCESS,
        )

    def _repeated_refund_submit(self, request: HttpRequest) -> bool:
        """True (and the admin told what became of it) when this form was submitted before."""
        try:
            earlier = refund_for_request(request_key=request.POST.get("request_key", ""))
        except IamportError as exc:
            self.message_user(
                request,
                _(
                    "이미 제출된 환불 요청입니다. "
                    "결과를 아임포트에서 확인하지 못했습니다 — %(error)s"
                )
                % {"error": exc.message},
                messages.ERROR,
            )
            return True
        if earlier is None:
            return False
        level = messages.WARNING if earlier.status != Refund.Status.FAILED else messages.ERROR
        self.message_user(request, already_requested_message(earlier), level)
        return True

    def _refundable_or_message(self, request: HttpRequest, order: Order) -> Refundable | None:
        try:
            return refundable(order)
        except NotRefundable as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return None

    def _refund_form_after_refusal(
        self, request: HttpRequest, order: Order, refused: RefundForm
    ) -> HttpResponse:
        """The form again, with figures re-read (a refused refund re-reads Iamport) and a new
        request key, since the refused one has been used."""
        order.refresh_from_db()
        target = self._refundable_or_message(request, order)
        if target is None:
            return redirect("admin:shop_order_change", order.pk)
        kept = {
            name: value for name, value in refused.cleaned_data.items() if name != "request_key"
        }
        if kept.get("amount", 0) > target.offer:
            del kept["amount"]
        form = RefundForm(
            initial=kept,
            refundable=target.offer,
            needs_refund_account=target.needs_refund_account,
        )
        return self._render_refund_form(request, order, target, form)

    def _render_refund_form(
        self, request: HttpRequest, order: Order, target: Refundable, form: RefundForm
    ) -> HttpResponse:
        context = {
            **self.admin_site.each_context(request),
            "title": _("주문 %(number)s 환불") % {"number": order.number},
            "opts": self.opts,
            "original": order,
            "order": order,
            "payment": target.payment,
            "form": form,
            "amount_display": won(order.amount),
            "refunded_display": won(order.refunded_amount),
            "refundable_display": won(target.offer),
            "cancel_pending_display": won(target.payment.cancel_pending),
            "status_badge": self.status_badge(order),
            "pay_method_display": self.pay_method_display(order),
            "pg_display": pg_name(target.payment.pg_provider),
            "has_view_permission": self.has_view_permission(request, order),
            "media": self.media + form.media,
        }
        return TemplateResponse(request, "admin/payments/refund_form.html", context)


# shop.admin (imported above) has registered its own OrderAdmin; this one replaces it.
admin.site.unregister(Order)
admin.site.register(Order, PaymentOrderAdmin)
