"""Mail to buyers through an outbox: written with the change it reports, sent off the request.

`order_mail_enqueue` adds one of the buyer's mails to the outbox inside the caller's
transaction: its kind, the facts it reports as they stand at that moment (amounts, lines, an
account, taken from what the caller already holds) and the buyer's language, in one INSERT and
no query more. The words come later: `mail_send_due` is the worker step, which claims due mails
one at a time (`select_for_update(skip_locked=True)`, so several machines running it never send
one twice), renders each from its facts (`mail_content`: plain text and HTML, in its language),
sends it and keeps what went out; a failed send, or a mail that cannot be rendered, is retried
with a growing delay. Rendering when sending keeps the templates off the payment's path, and a
broken template delays a mail instead of failing a payment. A process that dies after sending
but before recording sends that one mail again on the next run: at least once, never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from shop.models import Order, OrderLine, OutgoingMail, order_title

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # over about four hours, with the delays below
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)
# Deadlines in mails are Korean time whatever the reader's language: the bank counts in it.
SEOUL = ZoneInfo("Asia/Seoul")
# Sent with every mail: which outbox row it is (support can match a delivered mail to it).
KEY_HEADER = "X-Shop-Mail"

# The buyer's mails: each has templates/mail/<kind>.txt and .html, and this subject.
SUBJECTS = {
    "order_received": gettext_lazy("주문이 접수되었습니다"),
    "vbank_issued": gettext_lazy("입금하실 가상계좌를 알려 드립니다"),
    "paid": gettext_lazy("결제가 완료되었습니다"),
    "refunded": gettext_lazy("환불되었습니다"),
    "deposit_expired": gettext_lazy("입금 기한이 지나 가상계좌가 만료되었습니다"),
}


@dataclass(frozen=True)
class MailRun:
    sent: int
    failed: int


@dataclass(frozen=True)
class MailContent:
    """What a mail says: the subject, the plain text and the HTML beside it ("" for none)."""

    subject: str
    body: str
    html_body: str


@dataclass(frozen=True)
class MailLine:
    """An order line as a mail shows it (the templates' `line`)."""

    product_name: str
    quantity: int
    line_total: int


def base_url() -> str:
    """The shop's public address for links in mail. SHOP_BASE_URL is required with debug off;
    in debug it may be unset, and the shop is then where its own sandbox reaches it."""
    if settings.SHOP_BASE_URL:
        return settings.SHOP_BASE_URL
    return getattr(settings, "SANDBOX_SITE_URL", "") if settings.DEBUG else ""


def absolute_url(path: str) -> str:
    """A link a mail reader can click: the shop's public address in front of the path."""
    return f"{base_url()}{path}"


def kst(moment: datetime | None) -> str:
    """A time as a mail shows it: Korean time, to the minute ("2026-12-05 23:59")."""
    return f"{timezone.localtime(moment, SEOUL):%Y-%m-%d %H:%M}" if moment else ""


def mail_language(order: Order) -> str:
    """The order's language when the shop speaks it, else the shop's own."""
    languages = {code for code, _name in settings.LANGUAGES}
    return order.language if order.language in languages else settings.LANGUAGE_CODE


def order_mail_enqueue(
    *, kind: str, key: str, order: Order, lines: Sequence[OrderLine], **facts: Any
) -> None:
    """Add the buyer's `kind` mail about `order` to the outbox, once per `key`, as part of the
    caller's transaction: one INSERT that does nothing when the key is already there, so a
    repeated call neither fails the caller's transaction nor writes the mail twice.

    `lines` are the order's lines as the caller already holds them (no query here); `facts` are
    what this kind of mail reports besides the order (an account, a refunded amount), as JSON
    values. All of it is kept as it is now; the mail is rendered from it when it is sent.
    """
    if kind not in SUBJECTS:
        raise ValueError(f"no such mail: {kind!r}")
    key = key[:100]
    mail = OutgoingMail(
        key=key,
        to=order.buyer_email,
        order=order,
        kind=kind,
        language=mail_language(order),
        facts={
            "order": {
                "merchant_uid": order.merchant_uid,
                "number": order.number,
                "buyer_name": order.buyer_name,
                "amount": order.amount,
                "pay_method": order.pay_method,
            },
            "lines": [
                {"product_name": x.product_name, "quantity": x.quantity, "line_total": x.line_total}
                for x in lines
            ],
            **facts,
        },
    )
    OutgoingMail.objects.bulk_create([mail], ignore_conflicts=True)
    if settings.SHOP_MAIL_SEND_NOW:
        transaction.on_commit(lambda: mail_send_key(key))


def mail_content(mail: OutgoingMail) -> MailContent:
    """What `mail` says: as it went out (or as it was written, for a mail without a kind), else
    rendered now from its facts, in its language."""
    if not mail.kind or mail.subject:
        return MailContent(mail.subject, mail.body, mail.html_body)
    facts = mail.facts
    with translation.override(mail.language or settings.LANGUAGE_CODE):
        order = facts["order"]
        lines = [MailLine(**line) for line in facts["lines"]]
        context = {
            **facts,
            "shop_name": settings.SHOP_NAME,
            "lines": lines,
            "title": order_title([line.product_name for line in lines]),
            "order_url": absolute_url(reverse("shop:order_detail", args=[order["merchant_uid"]])),
        }
        subject = _("[%(shop)s] %(subject)s (주문번호 %(number)s)") % {
            "shop": settings.SHOP_NAME,
            "subject": SUBJECTS[mail.kind],
            "number": order["number"],
        }
        body = render_to_string(f"mail/{mail.kind}.txt", context).strip() + "\n"
        html_body = render_to_string(f"mail/{mail.kind}.html", context)
    return MailContent(subject[:255], body, html_body)


def mail_send_key(key: str) -> bool | None:
    """Send the mail with this key now (debug mode, right after the commit)."""
    mail_id = OutgoingMail.objects.filter(key=key).values_list("pk", flat=True).first()
    return mail_send(mail_id) if mail_id is not None else None


def mail_send_due(*, limit: int = 100) -> MailRun:
    """Send the mails that are due; returns how many went out and how many failed."""
    now = timezone.now()
    due = list(
        OutgoingMail.objects.filter(status=OutgoingMail.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    results = [mail_send(pk) for pk in due]
    return MailRun(sent=results.count(True), failed=results.count(False))


def send_mail(
    subject: str,
    body: str,
    from_email: str | None,
    to: list[str],
    *,
    html_body: str = "",
    key: str = "",
) -> None:
    """Hand one mail to the mail backend: the plain text, with the HTML beside it when there
    is one (the reader's program shows the one it can)."""
    message = EmailMultiAlternatives(
        subject, body, from_email, to, headers={KEY_HEADER: key} if key else None
    )
    if html_body:
        message.attach_alternative(html_body, "text/html")
    message.send()


def mail_send(mail_id: int) -> bool | None:
    """Send one pending mail. True: sent; False: failed (retried later); None: not ours to send
    (already sent, or another worker holds it right now)."""
    with transaction.atomic():
        mail = (
            OutgoingMail.objects.select_for_update(skip_locked=True)
            .filter(pk=mail_id, status=OutgoingMail.Status.PENDING)
            .first()
        )
        if mail is None:
            return None
        mail.attempts += 1
        try:
            content = mail_content(mail)
            send_mail(
                content.subject,
                content.body,
                None,
                [mail.to],
                html_body=content.html_body,
                key=mail.key,
            )
        except Exception as exc:  # any mail failure is retried; the payment is not undone
            _note_failure(mail, exc)
            return False
        # Kept as it went out: what the buyer got, whatever the templates say later.
        mail.subject, mail.body, mail.html_body = content.subject, content.body, content.html_body
        mail.status, mail.sent_at, mail.last_error = OutgoingMail.Status.SENT, timezone.now(), ""
        mail.save(
            update_fields=[
                "subject",
                "body",
                "html_body",
                "status",
                "sent_at",
                "attempts",
                "last_error",
            ]
        )
    logger.info("mail %s sent to %s", mail.key, mail.to)
    return True


def _note_failure(mail: OutgoingMail, exc: Exception) -> None:
    mail.last_error = f"{exc.__class__.__name__}: {exc}"[:500]
    if mail.attempts >= MAX_ATTEMPTS:
        mail.status = OutgoingMail.Status.FAILED
        logger.error("mail %s: giving up after %d attempts: %s", mail.key, mail.attempts, exc)
    else:
        delay = min(FIRST_RETRY * 2 ** (mail.attempts - 1), LONGEST_RETRY)
        mail.next_attempt_at = timezone.now() + delay
        logger.warning("mail %s: attempt %d failed (%s); retrying", mail.key, mail.attempts, exc)
    mail.save(update_fields=["status", "attempts", "last_error", "next_attempt_at"])
