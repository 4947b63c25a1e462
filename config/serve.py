"""`make serve`: the production start on one machine.

    DJANGO_DEBUG=0 ... make serve          # or: python -m config.serve

Refuses to start unless debug is explicitly off and the production settings load (secret key,
hosts, Iamport credentials, SHOP_BASE_URL); then applies migrations, collects static files
(hashed and compressed, served by WhiteNoise), reports Django's deployment checks and replaces
itself with gunicorn on HOST:PORT (default 127.0.0.1:8000). Never runs the sandbox.

Environment: HOST, PORT, GUNICORN_WORKERS (default cores + 1), GUNICORN_THREADS (8).

The sizing: a payment verification's thread spends most of its time waiting for Iamport (tens
to hundreds of milliseconds) and little on the CPU, so threads carry the concurrency and a
process per core (and one spare) uses the cores. With fewer threads a worker whose connections
outnumber them keeps its requests waiting while another core idles (`make bench` measured 3 x 8
steadily ahead of 5 x 4 on two cores; README, Speed). Every thread may hold a database
connection: the start notes when PostgreSQL would refuse some of them.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# Workers silent this long are restarted; above the 15 s that a request may spend on Iamport.
WORKER_TIMEOUT = 30
DEFAULT_THREADS = 8
# Connections beyond gunicorn's that the shop itself opens: sync_payments (cron), a migration,
# an admin's shell.
OTHER_CONNECTIONS = 5


class CannotServe(Exception):
    """The environment is not fit for production; the message says what to set."""


def _load_environment() -> None:
    from dotenv import load_dotenv

    load_dotenv(os.environ.get("DJANGO_ENV_FILE") or BASE_DIR / ".env", override=False)
    debug = os.environ.get("DJANGO_DEBUG", "").strip().lower()
    if debug not in ("0", "false", "no", "off"):
        raise CannotServe(
            "make serve is the production start and needs DJANGO_DEBUG=0 "
            f"(got {debug or 'nothing'!r}). For local development use `make run`."
        )
    os.environ.setdefault("IAMPORT_SANDBOX", "0")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def _set_up_django() -> None:
    import django
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    try:
        django.setup()
    except ImproperlyConfigured as exc:
        raise CannotServe(str(exc)) from None
    if not settings.ALLOWED_HOSTS:
        raise CannotServe(
            "DJANGO_ALLOWED_HOSTS is not set: with debug off every request would be refused. "
            "Set it to the shop's host name(s), e.g. shop.example.com."
        )


def _prepare() -> None:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=1)
    call_command("collectstatic", interactive=False, verbosity=1)
    # Reported, not enforced: DJANGO_HTTPS=0 (plain-http testing) is allowed and warns here.
    call_command("check", deploy=True)


def _notices(workers: int, threads: int) -> list[str]:
    """Settings that are allowed but that a merchant going live most likely did not mean."""
    from django.conf import settings

    notices = [
        "uploaded product images (/media/) are served by the reverse proxy in front "
        f"(README, Going live, step 3), from {settings.MEDIA_ROOT}"
    ]
    if settings.EMAIL_BACKEND.endswith(("console.EmailBackend", "locmem.EmailBackend")):
        notices.append(
            f"mail is not delivered: DJANGO_EMAIL_BACKEND is {settings.EMAIL_BACKEND} "
            "(set the SMTP backend and DJANGO_EMAIL_HOST, see .env.example)"
        )
    allowed = _database_connections_allowed()
    if allowed is not None and workers * threads + OTHER_CONNECTIONS > allowed:
        notices.append(
            f"gunicorn may hold {workers * threads} database connections at once ({workers} "
            f"workers x {threads} threads, one each) and sync_payments a few more, but "
            f"PostgreSQL accepts {allowed}: under load the rest would be refused. Lower "
            "GUNICORN_WORKERS or GUNICORN_THREADS, or raise PostgreSQL's max_connections"
        )
    return notices


def _database_connections_allowed() -> int | None:
    """How many connections PostgreSQL accepts from the shop's (non-superuser) role; None
    for SQLite, which has no such limit."""
    from django.db import DatabaseError, connection

    if connection.vendor != "postgresql":
        return None
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT current_setting('max_connections')::int"
                " - current_setting('superuser_reserved_connections')::int"
            )
            (allowed,) = cursor.fetchone()
    except DatabaseError:  # a pooler in front that does not pass settings on: nothing to say
        return None
    return int(allowed)


def gunicorn_size() -> tuple[int, int]:
    """(workers, threads) from GUNICORN_WORKERS and GUNICORN_THREADS, or the defaults."""
    workers = os.environ.get("GUNICORN_WORKERS") or str((os.cpu_count() or 1) + 1)
    threads = os.environ.get("GUNICORN_THREADS") or str(DEFAULT_THREADS)
    for name, value in (("GUNICORN_WORKERS", workers), ("GUNICORN_THREADS", threads)):
        if not value.isdigit() or int(value) < 1:
            raise CannotServe(f"{name} must be a positive whole number, got {value!r}.")
    return int(workers), int(threads)


def gunicorn_argv() -> list[str]:
    workers, threads = gunicorn_size()
    host = os.environ.get("HOST") or "127.0.0.1"
    port = os.environ.get("PORT") or "8000"
    return [
        str(Path(sys.executable).with_name("gunicorn")),
        "config.wsgi:application",
        "--bind",
        f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--timeout",
        str(WORKER_TIMEOUT),
        "--graceful-timeout",
        str(WORKER_TIMEOUT),
        "--access-logfile",
        "-",
        "--error-logfile",
        "-",
        "--chdir",
        str(BASE_DIR),
        # Its default path is one per user: a second server on the machine would take it over.
        "--no-control-socket",
    ]


def main() -> None:
    try:
        _load_environment()
        _set_up_django()
        argv = gunicorn_argv()
        _prepare()
    except CannotServe as exc:
        print(f"make serve: {exc}", file=sys.stderr)
        sys.exit(2)
    from django.db import connections

    for notice in _notices(*gunicorn_size()):
        print(f"make serve: note: {notice}", file=sys.stderr)
    connections.close_all()  # gunicorn's workers open their own
    print(f"make serve: starting {' '.join(argv[1:])}", file=sys.stderr)
    # exec replaces the process without flushing: what migrate and collectstatic printed would
    # be lost whenever the output is a file or a pipe (systemd, a container's log).
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)  # noqa: S606 (a fixed program with arguments built above)


if __name__ == "__main__":
    main()
