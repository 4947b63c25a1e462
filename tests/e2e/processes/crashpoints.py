"""Crash points: a real process SIGKILLs itself at one named step of the money flows, once.

Installed by `crashing_wsgi.py` (the shop under gunicorn) and `crashing_manage.py` (a
`manage.py` command such as `sync_payments`), both beside this file, never by the shop's own
code. Two environment variables drive them:

- `CRASH_AT`: the point, one of `POINTS` (unset or empty: nothing is installed);
- `CRASH_MARKER`: a file path. The process dies only if the file does not exist yet, creating
  it first (with the point and its pid), so a point fires once per test: gunicorn's master
  restarts the worker and the retry is served by a worker that passes through.

Each point wraps the function where its caller looks it up, so only that step dies:

- `verify_before_commit`: wraps `payments.services.sync._message`, the last step inside
  `_decide_under_lock`'s `transaction.atomic()`: dies after the decision, before the commit;
- `verify_after_commit`: wraps `payments.views.payment_sync`: dies after it returned, before
  the view answers;
- `cancel_before_send`: wraps `payments.client.IamportClient.cancel`: dies before the cancel
  is sent;
- `cancel_after_answer`: the same, dies after Iamport answered, before the caller records it;
- `mail_before_send`: wraps `shop.mail.send_mail`: dies inside `mail_send`, before the backend
  gets the order's paid mail (its other mails, such as the order-received one, pass);
- `mail_after_send`: the same, dies after the backend accepted the mail, before the outbox row
  is marked sent.

Which flow reaches a shared point (a forged payment's cancel or an admin refund) is decided by
the test that sets it.
"""

from __future__ import annotations

import functools
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

CRASH_AT = "CRASH_AT"
CRASH_MARKER = "CRASH_MARKER"
# Written to stderr (the server's log) just before the kill.
LOG_PREFIX = "crashpoint:"


def die(point: str) -> None:
    """SIGKILL this process, unless this test's crash has already happened."""
    marker = os.environ[CRASH_MARKER]
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return  # died once already: this process is the one that serves the retry
    try:
        os.write(fd, f"{point} pid={os.getpid()}\n".encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    sys.stderr.write(f"{LOG_PREFIX} SIGKILL at {point} (pid {os.getpid()})\n")
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def _before(point: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def crashing(*args: Any, **kwargs: Any) -> Any:
        die(point)
        return original(*args, **kwargs)

    return crashing


def _after(point: str, original: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(original)
    def crashing(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        die(point)
        return result

    return crashing


def _verify_before_commit() -> None:
    from django.db import transaction

    from payments.services import sync

    original = sync._message

    @functools.wraps(original)
    def crashing(*args: Any, **kwargs: Any) -> Any:
        message = original(*args, **kwargs)
        # The last step inside `_decide_under_lock`'s transaction: nothing is committed yet.
        if not transaction.get_connection().in_atomic_block:
            raise RuntimeError("verify_before_commit: not inside the decision's transaction")
        die("verify_before_commit")
        return message

    sync._message = crashing


def _verify_after_commit() -> None:
    from payments import views

    views.payment_sync = _after("verify_after_commit", views.payment_sync)


def _cancel(point: str, wrap: Callable[..., Callable[..., Any]]) -> None:
    from payments.client import IamportClient

    IamportClient.cancel = wrap(point, IamportClient.cancel)


def _mail(point: str, wrap: Callable[..., Callable[..., Any]]) -> None:
    from shop import mail

    original = mail.send_mail
    crashing = wrap(point, original)

    @functools.wraps(original)
    def paid_mail_only(*args: Any, **kwargs: Any) -> Any:
        # The crash is about the paid mail; the order-received mail of checkout goes out first.
        paid = str(kwargs.get("key", "")).startswith("order_paid:")
        return (crashing if paid else original)(*args, **kwargs)

    mail.send_mail = paid_mail_only


POINTS: dict[str, Callable[[], None]] = {
    "verify_before_commit": _verify_before_commit,
    "verify_after_commit": _verify_after_commit,
    "cancel_before_send": lambda: _cancel("cancel_before_send", _before),
    "cancel_after_answer": lambda: _cancel("cancel_after_answer", _after),
    "mail_before_send": lambda: _mail("mail_before_send", _before),
    "mail_after_send": lambda: _mail("mail_after_send", _after),
}


def install() -> str | None:
    """Install the point `CRASH_AT` names (Django must be set up); returns its name."""
    point = os.environ.get(CRASH_AT, "").strip()
    if not point:
        return None
    if point not in POINTS:
        raise RuntimeError(f"{CRASH_AT}={point!r}: not one of {sorted(POINTS)}")
    if not os.environ.get(CRASH_MARKER):
        raise RuntimeError(f"{CRASH_AT} is set but {CRASH_MARKER} is not")
    POINTS[point]()
    sys.stderr.write(f"{LOG_PREFIX} armed {point} in pid {os.getpid()}\n")
    sys.stderr.flush()
    return point
