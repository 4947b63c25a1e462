"""Mail to buyers through an outbox: written with the change it reports, sent off the request.

`mail_enqueue` runs inside the caller's transaction. `mail_send_due` is the worker step: it
claims due mails one at a time (`select_for_update(skip_locked=True)`, so several machines
running it never send one twice), sends, and records the outcome; a failed send is retried
with a growing delay. A process that dies after sending but before recording sends that one
mail again on the next run: at least once, never lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from shop.models import Order, OutgoingMail

logger = logging.getLogger(__name__)

MAX_ATTEMPTS = 8  # over about four hours, with the delays below
FIRST_RETRY = timedelta(minutes=1)
LONGEST_RETRY = timedelta(hours=1)


@dataclass(frozen=True)
class MailRun:
    sent: int
    failed: int


def absolute_url(path: str) -> str:
    """A link a mail reader can click: the shop's public address in front of the path."""
    return f"{settings.SHOP_BASE_URL}{path}" if settings.SHOP_BASE_URL else path


def mail_enqueue(*, key: str, to: str, subject: str, body: str, order: Order | None = None) -> None:
    """Add a mail to the outbox, once per `key`, as part of the caller's transaction.

    One INSERT that does nothing when the key is already there, so a repeated call neither
    fails the caller's transaction nor writes the mail twice.
    """
    key = key[:100]
    mail = OutgoingMail(key=key, to=to, subject=subject[:255], body=body, order=order)
    OutgoingMail.objects.bulk_create([mail], ignore_conflicts=True)
    if settings.SHOP_MAIL_SEND_NOW:
        transaction.on_commit(lambda: mail_send_key(key))


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
            send_mail(mail.subject, mail.body, None, [mail.to])
        except Exception as exc:  # any mail failure is retried; the payment is not undone
            _note_failure(mail, exc)
            return False
        mail.status, mail.sent_at, mail.last_error = OutgoingMail.Status.SENT, timezone.now(), ""
        mail.save(update_fields=["status", "sent_at", "attempts", "last_error"])
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
