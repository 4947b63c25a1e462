"""The merchant console, like Iamport's admin console: list, detail, deposit, cancel, resend.

Plain Django pages with CSRF-protected POST forms; every action calls a service and reports
through the messages framework, then redirects back to the payment (post/redirect/get).
V1 and PortOne V2 payments are listed together (an API column tells them apart) and moved by
the same services; a V2 payment shows its paymentId, txId and V2 status, and its webhooks go
to its noticeUrls (the console says so when there are none).
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from sandbox import services
from sandbox.http import render_page, sandbox_only
from sandbox.models import Api, SandboxCancellation, SandboxPayment
from sandbox.params import MAX_AMOUNT, InvalidParam, parse_text
from sandbox.webhooks import v2_event, webhook_urls
from sandbox.window import PAY_METHOD_LABELS

PAGE_SIZE = 50


def storable_text(field: str) -> Callable[[str], None]:
    """A form field's validator with the checks of every sandbox text parameter
    (`sandbox.params.parse_text`): CharField refuses NUL itself, but not lone surrogates."""

    def validate(value: str) -> None:
        try:
            parse_text(value, field=field)
        except InvalidParam as exc:
            raise forms.ValidationError(exc.message) from None

    return validate


class CancelForm(forms.Form):
    amount = forms.IntegerField(
        label="취소 금액 (원)",
        required=False,
        min_value=1,
        max_value=MAX_AMOUNT - 1,
        help_text="비워 두면 남은 금액 전부를 취소합니다.",
    )
    reason = forms.CharField(
        label="취소 사유", max_length=200, required=False, validators=[storable_text("reason")]
    )


def _payment_or_404(imp_uid: str) -> SandboxPayment:
    payment = SandboxPayment.objects.filter(imp_uid=imp_uid).first()
    if payment is None:
        raise Http404("존재하지 않는 결제정보입니다.")
    return payment


@sandbox_only
@require_GET
def payment_list(request: HttpRequest) -> HttpResponse:
    """`console/`: payments, newest first, optionally of one status (`?status=`) or one API
    (`?api=v1|v2`)."""
    status = request.GET.get("status", "")
    api = request.GET.get("api", "")
    payments = SandboxPayment.objects.order_by("-started_at", "-id")
    if status in SandboxPayment.Status.values:
        payments = payments.filter(status=status)
    else:
        status = ""
    if api in Api.values:
        payments = payments.filter(api=api)
    else:
        api = ""
    page = Paginator(payments, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "status": status,
        "api": api,
        "apis": Api.choices,
        "statuses": SandboxPayment.Status.choices,
        "pay_method_labels": PAY_METHOD_LABELS,
    }
    return render_page(request, "sandbox/console/list.html", context)


def _detail(
    request: HttpRequest, payment: SandboxPayment, *, form: CancelForm | None = None, status=200
) -> HttpResponse:
    context = {
        "payment": payment,
        "pay_method_label": PAY_METHOD_LABELS.get(payment.pay_method, payment.pay_method),
        "cancellations": payment.cancellations.all(),
        "cancel_pending": payment.cancel_pending,
        "deliveries": payment.webhook_deliveries.all(),
        "webhook_urls": webhook_urls(payment),
        "v2": payment.api == Api.V2,
        "cancel_form": form or CancelForm(),
    }
    return render_page(request, "sandbox/console/detail.html", context, status=status)


@sandbox_only
@require_GET
def payment_detail(request: HttpRequest, imp_uid: str) -> HttpResponse:
    """`console/payments/<imp_uid>/`: everything about one payment, with its actions."""
    return _detail(request, _payment_or_404(imp_uid))


@sandbox_only
@require_POST
def deposit(request: HttpRequest, imp_uid: str) -> HttpResponse:
    """Deposit (입금 처리): money arrives in the issued virtual account."""
    try:
        services.vbank_deposit(imp_uid=imp_uid)
    except services.NotFound as exc:
        raise Http404(exc.message) from None
    except services.SandboxRefusal as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "입금 처리했습니다. " + _webhook_note(imp_uid))
    return redirect("sandbox:console_detail", imp_uid=imp_uid)


def _webhook_note(imp_uid: str) -> str:
    """What becomes of the webhook of the change just made, to end the console's message."""
    payment = SandboxPayment.objects.get(imp_uid=imp_uid)
    if payment.api != Api.V2:
        if payment.status == SandboxPayment.Status.PAID and not payment.cancel_amount:
            return "상점에 웹훅(paid)을 보냅니다."
        return "상점에 웹훅을 보냅니다."
    event_type = v2_event(payment)["type"]
    if not webhook_urls(payment):
        return _("noticeUrls가 없어 웹훅(%(type)s)을 보내지 않습니다.") % {"type": event_type}
    return _("상점에 웹훅(%(type)s)을 보냅니다.") % {"type": event_type}


def _cancelled_message(payment: SandboxPayment, cancellation: SandboxCancellation) -> str:
    if cancellation.status == SandboxCancellation.Status.REQUESTED:
        pending = {"type": "Transaction.CancelPending"}
        note = (
            _("상점에 웹훅(%(type)s)을 보냅니다.") % pending
            if webhook_urls(payment)
            else _("noticeUrls가 없어 웹훅(%(type)s)을 보내지 않습니다.") % pending
        )
        return (
            _(
                "%(amount)s원 취소를 PG가 받았습니다 (REQUESTED): 아래 취소 내역에서 완료하거나 "
                "실패로 처리하세요. "
            )
            % {"amount": f"{cancellation.amount:,}"}
            + note
        )
    status = payment.v2_status if payment.api == Api.V2 else payment.get_status_display()
    return f"{cancellation.amount:,}원을 취소했습니다 (상태: {status}). " + _webhook_note(
        payment.imp_uid
    )


@sandbox_only
@require_POST
def cancel(request: HttpRequest, imp_uid: str) -> HttpResponse:
    """Cancel all or part of a payment as the merchant, which notifies the shop."""
    payment = _payment_or_404(imp_uid)
    form = CancelForm(request.POST)
    if not form.is_valid():
        return _detail(request, payment, form=form, status=400)
    try:
        payment, cancellation = services.payment_cancel(
            imp_uid=imp_uid,
            api=None,
            amount=form.cleaned_data["amount"],
            reason=form.cleaned_data["reason"] or "가맹점 콘솔에서 취소",
            source=SandboxCancellation.Source.CONSOLE,
            notify=True,
        )
    except services.SandboxRefusal as exc:
        messages.error(request, f"취소할 수 없습니다: {exc.message}")
    else:
        messages.success(request, _cancelled_message(payment, cancellation))
    return redirect("sandbox:console_detail", imp_uid=imp_uid)


@sandbox_only
@require_POST
def pg_cancels_later(request: HttpRequest, imp_uid: str) -> HttpResponse:
    """Turn on or off (`later=1|0`) the PG finishing this V2 payment's cancels later."""
    later = request.POST.get("later")
    if later not in ("0", "1"):
        messages.error(request, _("later는 0 또는 1이어야 합니다."))
        return redirect("sandbox:console_detail", imp_uid=imp_uid)
    try:
        services.pg_cancels_later_set(imp_uid=imp_uid, later=later == "1")
    except services.NotFound as exc:
        raise Http404(exc.message) from None
    except services.SandboxRefusal as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("이제 PG가 이 결제의 취소를 나중에 처리합니다: 취소는 REQUESTED로 남습니다.")
            if later == "1"
            else _("이제 PG가 이 결제의 취소를 바로 처리합니다."),
        )
    return redirect("sandbox:console_detail", imp_uid=imp_uid)


@sandbox_only
@require_POST
def finish_cancellation(request: HttpRequest, imp_uid: str, cancellation_id: str) -> HttpResponse:
    """The PG completes (`outcome=succeeded`) or fails (`outcome=failed`) a cancel it took."""
    payment = _payment_or_404(imp_uid)
    outcome = request.POST.get("outcome")
    if outcome not in ("succeeded", "failed"):
        messages.error(request, _("outcome은 succeeded 또는 failed여야 합니다."))
        return redirect("sandbox:console_detail", imp_uid=imp_uid)
    if not payment.cancellations.filter(cancellation_id=cancellation_id).exists():
        raise Http404("존재하지 않는 취소 내역입니다.")
    try:
        cancellation = services.cancellation_finish(
            cancellation_id=cancellation_id, succeeded=outcome == "succeeded"
        )
    except services.SandboxRefusal as exc:
        messages.error(request, exc.message)
    else:
        amount = f"{cancellation.amount:,}"
        if outcome == "succeeded":
            messages.success(
                request,
                _("PG가 %(amount)s원 취소를 마쳤습니다. ") % {"amount": amount}
                + _webhook_note(imp_uid),
            )
        else:
            messages.success(
                request,
                _(
                    "PG가 %(amount)s원 취소에 실패했습니다. PortOne은 이를 웹훅으로 알리지 "
                    "않습니다: 상점은 결제를 다시 조회해야 압니다 (sync_payments)."
                )
                % {"amount": amount},
            )
    return redirect("sandbox:console_detail", imp_uid=imp_uid)


@sandbox_only
@require_POST
def resend_webhook(request: HttpRequest, imp_uid: str) -> HttpResponse:
    """Resend the webhook (웹훅 재전송): the payment's current state, again."""
    try:
        payment = services.webhook_resend(imp_uid=imp_uid)
    except services.NotFound as exc:
        raise Http404(exc.message) from None
    except services.SandboxRefusal as exc:
        messages.error(request, exc.message)
    else:
        sent = v2_event(payment)["type"] if payment.api == Api.V2 else payment.status
        messages.success(request, f"웹훅({sent})을 다시 보냈습니다.")
    return redirect("sandbox:console_detail", imp_uid=imp_uid)
