"""`python -m bench`: run every measurement, then print the report (progress goes to stderr).

The order of work: the stand-in, the database (migrated) and the static files; the in-process
SQL count (3); gunicorn for the latency (2) and throughput (4) runs, whose stand-in counts
give (1); gunicorn stopped, the product list page in-process (5). Everything started is
stopped, and the temporary directory and the bench database are removed, on every way out.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import os
import platform
import secrets
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import bench
from bench import cpu, database, load, v2
from bench.server import Gunicorn, free_port, option
from bench.standin import (
    API_KEY,
    API_SECRET,
    CANCEL,
    LOOKUP,
    OTHER,
    TOKEN,
    V2_API_SECRET,
    V2_LOOKUP,
    V2_PREFIX,
    V2_STORE_ID,
    IamportStandin,
    lookup_latencies,
)

# The shop's own settings are never inherited from the shell that runs the benchmark
# (GUNICORN_WORKERS / GUNICORN_THREADS are: they are how `make serve` is sized).
APP_PREFIXES = ("DJANGO_", "IAMPORT_", "SANDBOX_", "SHOP_", "PAYMENTS_")
APP_NAMES = {"DATABASE_URL", "HOST", "PORT", "WEB_CONCURRENCY"}
LOOPBACK = "127.0.0.1"

# The load client: a process per core (up to 4), with threads enough that all connections
# together are half as many again as gunicorn's request threads (and at least 32; 36 for the
# default 3 x 8 on 2 cores), so that the server, not the client, is what limits the rate.
LOAD_PROCESSES = min(os.cpu_count() or 1, 4)
LOAD_CONNECTIONS = 32
PRODUCTS_FEW, PRODUCTS_MANY = 10, 1000
TARGET_RATIO = 1.15  # the latency median the payments core aims at, x the delay
BUSY_ELSEWHERE = 0.2  # cores busy with other work above which the report warns


@dataclass(frozen=True)
class Plan:
    """How many samples, how long. --quick is a smoke run: the same steps, fewer samples."""

    sql_warmup: int = 2
    sql_samples: int = 5
    latency_warmup: int = 5
    latency_samples: int = 30
    load_warmup: float = 2.0
    load_duration: float = 10.0
    page_warmup: int = 3
    page_samples: int = 20


QUICK = Plan(
    sql_warmup=1,
    sql_samples=2,
    latency_warmup=2,
    latency_samples=10,
    load_warmup=1.0,
    load_duration=3.0,
    page_warmup=1,
    page_samples=5,
)


def progress(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile: the smallest value with `fraction` of the values at or below."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(fraction * len(ordered)) - 1)]


def shop_environment(*, port: int, standin_url: str, database_url: str, workdir: Path) -> dict:
    """What a merchant following "Going live" sets, on loopback, with Iamport at the stand-in."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(APP_PREFIXES) and name not in APP_NAMES
    }
    no_proxy = ",".join(p for p in (env.get("NO_PROXY", ""), LOOPBACK, "localhost") if p)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "BENCH_STATIC_ROOT": str(workdir / "static"),
            "DJANGO_ENV_FILE": "/dev/null",  # no developer's .env
            "DJANGO_DEBUG": "0",
            "DJANGO_HTTPS": "0",  # plain http on loopback
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": LOOPBACK,
            "DJANGO_MEDIA_ROOT": str(workdir / "media"),
            "SHOP_BASE_URL": f"http://{LOOPBACK}:{port}",
            "SHOP_MAIL_SEND_NOW": "0",  # production: mail leaves through sync_payments
            "DATABASE_URL": database_url,
            "IAMPORT_SANDBOX": "0",
            "IAMPORT_API_URL": standin_url,
            "IAMPORT_MERCHANT_CODE": "imp00000000",
            "IAMPORT_API_KEY": API_KEY,
            "IAMPORT_API_SECRET": API_SECRET,
            # PortOne V2 beside it, as during a switch: new payments still go through V1
            # (PAYMENTS_API), while V2's signed webhooks are verified against its stand-in.
            "PORTONE_STORE_ID": V2_STORE_ID,
            "PORTONE_API_SECRET": V2_API_SECRET,
            "PORTONE_WEBHOOK_SECRET": v2.WEBHOOK_SECRET,
            "PORTONE_API_URL": standin_url.rstrip("/") + V2_PREFIX,
            "PORTONE_CHANNEL_KEY": "channel-key-00000000-0000-4000-8000-00000000bench",
            # Our webhooks come from 127.0.0.1: a listed sender is never rate-limited.
            "IAMPORT_WEBHOOK_SENDER_IPS": LOOPBACK,
            "HOST": LOOPBACK,
            "PORT": str(port),
            # requests must reach the stand-in directly, whatever proxy the shell names.
            "NO_PROXY": no_proxy,
            "no_proxy": no_proxy,
        }
    )
    return env


def quiet_logging(path: Path) -> None:
    """The shop logs every webhook at INFO to stderr; in this process that goes to a file, so
    that the work is done as in production but the report stays readable."""
    stream = path.open("a", encoding="utf-8")  # closed when the process ends
    loggers = [logging.getLogger(), *map(logging.getLogger, logging.root.manager.loggerDict)]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if type(handler) is logging.StreamHandler:
                handler.setStream(stream)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=bench.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="fewer samples, shorter load")
    parser.add_argument(
        "--verbose", action="store_true", help="list the SQL of one verification, and more"
    )
    parser.add_argument(
        "--no-keepalive",
        action="store_true",
        help="load run: a new connection per request (as behind a proxy without upstream "
        "keep-alive) instead of keep-alive connections",
    )
    args = parser.parse_args(argv)
    text = os.environ.get("BENCH_DELAY_MS", "50")
    try:
        delay = float(text) / 1000
    except ValueError:
        parser.error(f"BENCH_DELAY_MS must be a number of milliseconds, got {text!r}")
    if not 0 <= delay <= 5:
        parser.error("BENCH_DELAY_MS must be between 0 and 5000")
    # SIGTERM (a killed `make`) and SIGHUP (a closed terminal) unwind like Ctrl-C, through
    # every cleanup: gunicorn runs in a session of its own and would outlive us otherwise.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGHUP, signal.default_int_handler)
    try:
        plan = QUICK if args.quick else Plan()
        Benchmark(plan, delay=delay, verbose=args.verbose, keep_alive=not args.no_keepalive).run()
    except KeyboardInterrupt:
        progress("interrupted; everything started was stopped")
        sys.exit(130)


class Benchmark:
    def __init__(self, plan: Plan, *, delay: float, verbose: bool, keep_alive: bool) -> None:
        self.plan = plan
        self.delay = delay  # seconds the stand-in waits before every answer
        self.verbose = verbose
        self.keep_alive = keep_alive
        self.lines: list[str] = []

    def say(self, line: str = "") -> None:
        self.lines.append(line)

    def run(self) -> None:
        began = time.monotonic()
        # Other work on the machine (a test run, say) takes CPU from what is measured.
        self.background = [cpu.background_load()]
        with contextlib.ExitStack() as cleanup:
            workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
            self.standin = IamportStandin(delay_seconds=self.delay)
            standin_url = self.standin.start()
            cleanup.callback(self.standin.stop)

            progress("creating the bench database")
            self.database = database.create(workdir)
            cleanup.callback(database.drop, self.database)
            port = free_port()
            self.env = shop_environment(
                port=port,
                standin_url=standin_url,
                database_url=self.database.url,
                workdir=workdir,
            )
            # This process runs the shop too (the in-process measurements), with the very
            # environment gunicorn gets: Django reads its settings from it once, at setup.
            os.environ.clear()
            os.environ.update(self.env)
            self._set_up_django(workdir)
            cleanup.callback(self._close_connections)  # before the database is dropped

            self.products = database.add_products(PRODUCTS_FEW)
            self._header()
            self._sql_per_verification()
            self._under_gunicorn(workdir)
            self._product_list()

            self._report_upstream()
            self._report_latency()
            self._report_sql()
            self._report_throughput()
            self._report_pages()
            self._report_v2()
            progress("cleaning up")
        # Everything of ours is stopped and the database dropped: what is busy now is not us.
        self.background.append(cpu.background_load())
        self._report_background()
        minutes, seconds = divmod(round(time.monotonic() - began), 60)
        self.say()
        self.say(f"took {minutes} min {seconds:02d} s")
        print("\n".join(self.lines), flush=True)

    # --- set-up ----------------------------------------------------------------------------
    def _set_up_django(self, workdir: Path) -> None:
        import django
        from django.core.management import call_command

        django.setup()
        quiet_logging(workdir / "shop-in-process.log")
        progress(f"migrating ({self.database.label})")
        call_command("migrate", interactive=False, verbosity=0)
        progress("collecting static files (as make serve does)")
        call_command("collectstatic", interactive=False, verbosity=0)

    def _close_connections(self) -> None:
        from django.db import connections

        connections.close_all()

    def _orders(self, count: int) -> list[tuple[str, str]]:
        return database.add_orders(count, self.products, self.standin.register)

    def _header(self) -> None:
        import django
        import gunicorn

        from bench.server import gunicorn_argv

        self.argv = gunicorn_argv(self.env)
        self.workers = int(option(self.argv, "--workers"))
        self.threads = int(option(self.argv, "--threads"))
        connections = max(LOAD_CONNECTIONS, self.workers * self.threads * 3 // 2)
        self.load_threads = math.ceil(connections / LOAD_PROCESSES)
        chosen = [name for name in ("GUNICORN_WORKERS", "GUNICORN_THREADS") if name in self.env]
        sized = " and ".join(chosen) + " set" if chosen else "the defaults: cores + 1, 8"
        self.say("Iamport verification benchmark (make bench)")
        self.say(
            f"machine:  {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"Django {django.__version__}, gunicorn {gunicorn.__version__}, {platform.system()}"
        )
        self.say(f"database: {self.database.label}")
        self.say(
            f"server:   gunicorn as config.serve.gunicorn_argv() builds it, {self.workers} "
            f"workers x {self.threads} threads ({sized}), serving bench.wsgi (the shop + "
            "/bench/bare/)"
        )
        self.say(
            f"Iamport:  stand-in (bench/standin.py) on loopback, {self.delay * 1000:g} ms delay "
            "before every answer (BENCH_DELAY_MS)"
        )
        self.say(
            "settings: DJANGO_DEBUG=0, DJANGO_HTTPS=0, SHOP_MAIL_SEND_NOW=0, conn_max_age 60 s "
            "(default), webhooks from 127.0.0.1 = IAMPORT_WEBHOOK_SENDER_IPS (no rate limit)"
        )
        if self.plan == QUICK:
            self.say("mode:     --quick (a smoke run: too few samples to quote)")

    # --- 3. SQL, in-process ------------------------------------------------------------------
    def _sql_per_verification(self) -> None:
        from bench import inprocess

        progress("counting SQL statements of in-process verifications")
        shop = inprocess.client()
        orders = self._orders(self.plan.sql_warmup + self.plan.sql_samples)
        # The first verifications of a process also fetch the token and fill Django's caches.
        for order in orders[: self.plan.sql_warmup]:
            inprocess.verify(shop, *order)
        self.statements = [inprocess.verify(shop, *o) for o in orders[self.plan.sql_warmup :]]
        orders = self._orders(self.plan.sql_warmup + self.plan.sql_samples)
        for order in orders[: self.plan.sql_warmup]:
            inprocess.verify(shop, *order, webhook=v2.paid_webhook)
        self.v2_statements = [
            inprocess.verify(shop, *o, webhook=v2.paid_webhook)
            for o in orders[self.plan.sql_warmup :]
        ]

    # --- 1, 2, 4: under gunicorn ------------------------------------------------------------
    def _under_gunicorn(self, workdir: Path) -> None:
        from shop.models import Order

        plan = self.plan
        progress("timing the stand-in's answer alone")
        imp_uid, _ = self._orders(1)[0]
        samples = plan.latency_warmup + plan.latency_samples
        lookups = lookup_latencies(self.standin.url, imp_uid, samples)
        self.lookup_alone = lookups[plan.latency_warmup :]
        progress(f"starting gunicorn ({self.workers} workers x {self.threads} threads)")
        counts_before = self.standin.counts()
        with Gunicorn(self.env, workdir / "gunicorn.log") as server:
            progress(f"{plan.latency_samples} sequential verifications")
            orders = self._orders(plan.latency_warmup + plan.latency_samples)
            _, warm = load.sequential(LOOPBACK, server.port, orders[: plan.latency_warmup])
            self.latencies, self.sequential = load.sequential(
                LOOPBACK, server.port, orders[plan.latency_warmup :]
            )
            progress(f"{plan.latency_samples} sequential PortOne V2 verifications")
            v2_before = self.standin.counts()[V2_LOOKUP]
            orders = self._orders(plan.latency_warmup + plan.latency_samples)
            load.sequential(
                LOOPBACK, server.port, orders[: plan.latency_warmup], webhook=v2.paid_webhook
            )
            self.v2_latencies, self.v2_sequential = load.sequential(
                LOOPBACK, server.port, orders[plan.latency_warmup :], webhook=v2.paid_webhook
            )
            self.v2_lookups = self.standin.counts()[V2_LOOKUP] - v2_before
            self.v2_sent = len(orders)

            progress("bare view, one client, back to back and after idle pauses")
            self.bare_alone = {
                pause: load.bare_sequential(LOOPBACK, server.port, samples, pause=pause)[
                    plan.latency_warmup :
                ]
                for pause in (0.0, self.delay)
            }

            concurrency = LOAD_PROCESSES * self.load_threads
            # Enough fresh orders for the fastest rate possible: no verification can take less
            # than the stand-in's delay (nor much less than the quickest sequential one).
            fastest = max(self.delay, 0.8 * min(self.latencies or [0.001]))
            needed = math.ceil(concurrency / fastest * (plan.load_warmup + plan.load_duration))
            progress(f"creating {needed:,} orders for the load run")
            orders = self._orders(needed + concurrency)
            paid_before = Order.objects.filter(status=Order.Status.PAID).count()
            log_from = server.log_size()
            progress(f"verifications under load for {plan.load_warmup + plan.load_duration:g} s")
            self.webhooks = self._load(server, load.WEBHOOK, orders)
            self.webhook_log = server.summary(log_from)
            self.paid = Order.objects.filter(status=Order.Status.PAID).count() - paid_before
            # Section 1 is about every verification sent to gunicorn, warm-ups included.
            self.upstream = self.standin.counts() - counts_before
            runs = (warm, self.sequential, self.webhooks)
            self.sent = sum(run.sent for run in runs)
            self.answered = self.sent - sum(sum(run.errors.values()) for run in runs)

            log_from = server.log_size()
            progress(f"bare view under load for {plan.load_warmup + plan.load_duration:g} s")
            self.bare = self._load(server, load.BARE)
            self.bare_log = server.summary(log_from)
            progress("stopping gunicorn")

    def _load(self, server: Gunicorn, kind: str, orders: list[tuple[str, str]] | None = None):
        return load.run(
            host=LOOPBACK,
            port=server.port,
            kind=kind,
            processes=LOAD_PROCESSES,
            threads=self.load_threads,
            warmup=self.plan.load_warmup,
            duration=self.plan.load_duration,
            orders=orders,
            keep_alive=self.keep_alive,
            probe=lambda: self._cpu_probe(server),
        )

    def _cpu_probe(self, server: Gunicorn) -> dict[str, float] | None:
        """CPU seconds so far: the machine's (busy), and that of the benchmark's own parts."""
        from django.db import connection

        machine = cpu.machine()
        if machine is None or server.process is None:
            return None
        arbiter = server.process.pid
        probe = {
            "machine": machine[1],
            # While the load runs this process does nothing but the stand-in's threads.
            "stand-in": time.process_time(),
        }
        for pid, seconds in cpu.process_group(arbiter).items():
            probe["gunicorn arbiter" if pid == arbiter else f"gunicorn worker {pid}"] = seconds
        if self.database.postgres:
            # The server processes of gunicorn's (kept) connections; with SQLite the database
            # work happens inside gunicorn's workers.
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
                probe["PostgreSQL"] = cpu.processes(pid for (pid,) in cursor.fetchall())
        return probe

    # --- 5. product list, in-process -----------------------------------------------------------
    def _product_list(self) -> None:
        from bench import inprocess

        shop = inprocess.client()
        self.pages = {}
        active = len(self.products)
        for total in (PRODUCTS_FEW, PRODUCTS_MANY):
            database.add_products(total - active)
            active = total
            progress(f"product list with {total:,} products")
            self.pages[total] = inprocess.product_list(
                shop, warmup=self.plan.page_warmup, samples=self.plan.page_samples
            )

    # --- the report ----------------------------------------------------------------------------
    def _report_upstream(self) -> None:
        upstream, sent, answered = self.upstream, self.sent, self.answered
        self.say()
        self.say(
            f"1. Upstream requests per verification: POST /payments/webhook/ through gunicorn, "
            f"{sent:,} verifications (every run below, warm-ups included)"
        )
        per = upstream[LOOKUP] / sent if sent else float("nan")
        self.say(
            f"   payment lookups  GET /payments/{{imp_uid}}  {per:.2f} per verification "
            f"({upstream[LOOKUP]:,} for {sent:,}; {answered:,} answered 2xx)"
        )
        self.say(
            f"   token requests   POST /users/getToken     {upstream[TOKEN]:,} in all "
            f"({upstream[TOKEN] / max(sent, 1):.4f} per verification; the token is cached per "
            f"worker process, {self.workers} workers)"
        )
        extra = f", other requests: {upstream[OTHER]:,}" if upstream[OTHER] else ""
        self.say(f"   cancels          POST /payments/cancel    {upstream[CANCEL]:,}{extra}")

    def _report_latency(self) -> None:
        latencies = self.latencies
        self.say()
        self.say(
            f"2. Verification latency: one client, {len(latencies)} sequential verifications "
            f"(a fresh order each, one keep-alive connection) after {self.plan.latency_warmup} "
            "warm-up ones"
        )
        self._say_latency(latencies)
        self._report_errors(self.sequential)
        self._report_floor()

    def _say_latency(self, latencies: list[float]) -> None:
        """Median and p95 (nearest rank: the 29th of 30), in ms and as multiples of the delay."""
        if not latencies:
            self.say("   no verification succeeded")
            return
        for name, value in (
            ("median", statistics.median(latencies)),
            ("p95   ", percentile(latencies, 0.95)),
        ):
            ratio = f"{value / self.delay:.2f} x the {self.delay * 1000:g} ms delay"
            self.say(f"   {name}  {value * 1000:6.1f} ms  {ratio if self.delay else ''}")

    def _report_floor(self) -> None:
        """What no shop code can go below on this machine, beside the verification's median."""
        alone = statistics.median(self.lookup_alone)
        back_to_back, after_pause = (statistics.median(v) for v in self.bare_alone.values())
        self.say("   the floor here, same samples:")
        self.say(
            f"   Iamport's answer alone   {alone * 1000:6.1f} ms  (a lookup from this process "
            "on a keep-alive connection, no shop)"
        )
        self.say(
            f"   bare view, one client    {back_to_back * 1000:6.2f} ms back to back, "
            f"{after_pause * 1000:.2f} ms after {self.delay * 1000:g} ms idle (a cold machine)"
        )
        if self.latencies:
            own = statistics.median(self.latencies) - alone
            self.say(
                f"   the shop's own part      {own * 1000:6.1f} ms  (the median less Iamport's "
                f"answer; a median of {TARGET_RATIO} x the delay leaves "
                f"{(TARGET_RATIO * self.delay - alone) * 1000:.1f} ms)"
            )

    def _report_sql(self) -> None:
        from bench.inprocess import is_transaction_control

        statements = self.statements

        counted = [[s for s in run if not is_transaction_control(s)] for run in statements]
        kept, everything = [len(c) for c in counted], [len(s) for s in statements]
        self.say()
        self.say(
            "3. SQL statements per verification of a 1-line order (webhook, in-process test "
            f"client, CaptureQueriesContext, {len(statements)} verifications after "
            f"{self.plan.sql_warmup} warm-up ones)"
        )
        self.say(
            f"   {_span(kept)} statements, BEGIN/COMMIT/SAVEPOINT/RELEASE not counted "
            f"({_span(everything)} with them)"
        )
        self.say(
            "   (under gunicorn each request also checks its kept connection once: "
            "SELECT 1, outside Django's query log)"
        )
        self._list_statements(statements[-1])

    def _list_statements(self, statements: list[str]) -> None:
        """With --verbose, the SQL of one verification, transaction control marked."""
        from bench.inprocess import brief, is_transaction_control

        if not self.verbose:
            return
        self.say("   the statements of one verification:")
        for number, sql in enumerate(statements, 1):
            mark = "  (not counted)" if is_transaction_control(sql) else ""
            self.say(f"   {number:3d}. {brief(sql)}{mark}")

    def _report_throughput(self) -> None:
        webhooks, paid, plan = self.webhooks, self.paid, self.plan
        self.say()
        self.say(
            f"4. Throughput under gunicorn: {plan.load_duration:g} s measured after "
            f"{plan.load_warmup:g} s of warm-up; load client {LOAD_PROCESSES} processes x "
            f"{self.load_threads} threads = {LOAD_PROCESSES * self.load_threads} "
            + (
                "keep-alive connections"
                if self.keep_alive
                else "clients, a new connection per request (--no-keepalive)"
            )
        )
        rates = []
        for name, result, log in (
            ("verifications", webhooks, self.webhook_log),
            ("bare view    ", self.bare, self.bare_log),
        ):
            rates.append(result.window_ok / plan.load_duration)
            latency = (
                f"latency median {statistics.median(result.latencies) * 1000:.0f} ms, "
                f"p95 {percentile(result.latencies, 0.95) * 1000:.0f} ms"
                if result.latencies
                else "no successes"
            )
            self.say(
                f"   {name} {rates[-1]:8,.1f}/s  ({result.window_ok:,} in the window; {latency})"
            )
            self._report_cpu(result)
            self._report_errors(result, log, indent="      ")
        verification_rate, bare_rate = rates
        self.say(f"   ratio         {verification_rate / (bare_rate or 1):.3f} of a bare view")
        ok = webhooks.sent - sum(webhooks.errors.values())
        check = "=" if paid == ok else "≠ (!)"
        self.say(
            f"   check: {paid:,} orders paid in the database {check} {ok:,} successful webhook "
            "answers of the load run"
        )
        if webhooks.exhausted:
            self.say("   (!) the client ran out of fresh orders before the end: rate understated")

    def _report_cpu(self, result: load.Result) -> None:
        """Per request, the CPU each part of the benchmark spent in the window, and the rest."""
        before, after = result.probes
        if not (before and after and result.window_ok):
            return
        spent = {name: after[name] - before.get(name, 0.0) for name in after if name != "machine"}
        spent["load client"] = result.client_cpu
        workers = sorted(v for k, v in spent.items() if k.startswith("gunicorn worker"))
        spent["gunicorn"] = sum(v for k, v in spent.items() if k.startswith("gunicorn "))

        def ms(*names: str) -> float:
            return sum(spent.get(name, 0.0) for name in names) / result.window_ok * 1000

        shop = ms("gunicorn", "PostgreSQL")  # what production pays; the rest is our apparatus
        database = f" + PostgreSQL {ms('PostgreSQL'):.2f}" if "PostgreSQL" in spent else ""
        self.say(
            f"      CPU per request: shop {shop:.2f} ms (gunicorn {ms('gunicorn'):.2f}{database}); "
            f"stand-in {ms('stand-in'):.2f}, load client {ms('load client'):.2f}"
        )
        # A keep-alive connection stays with the worker that accepted it: how evenly the
        # connections landed shows in how the workers shared the CPU.
        shares = " ".join(f"{v / (sum(workers) or 1):.0%}" for v in reversed(workers))
        self.say(f"      gunicorn workers' shares of its CPU: {shares}")
        machine = (after["machine"] - before["machine"]) / self.plan.load_duration
        ours = sum(v for k, v in spent.items() if not k.startswith("gunicorn "))
        other = machine - ours / self.plan.load_duration
        self.say(
            f"      machine: {machine:.2f} of {os.cpu_count() or 1} cores busy, "
            f"{max(other, 0):.2f} of them outside those processes (other work; the kernel's "
            "and PostgreSQL's own)"
        )

    def _report_errors(self, result, log=None, indent: str = "   ") -> None:
        if result.errors:
            for kind, count in result.errors.most_common():
                self.say(f"{indent}errors: {count:,} x {kind}: {result.samples.get(kind, '')!r}")
        else:
            self.say(f"{indent}errors: none ({result.sent:,} requests, all 2xx)")
        if log is not None:
            statuses = ", ".join(f"{n:,} x {s}" for s, n in sorted(log.statuses.items()))
            problems = len(log.problems)
            self.say(
                f"{indent}server log: {statuses or 'no access lines'}; "
                f"{problems} error/warning line(s)"
            )
            for line in log.problems[: 10 if self.verbose else 3]:
                self.say(f"{indent}  {line[:200]}")

    def _report_background(self) -> None:
        if None in self.background:
            return
        before, after = self.background
        cores = os.cpu_count() or 1
        self.say()
        self.say(
            f"other work on the machine: {before:.2f} of {cores} cores busy before the run, "
            f"{after:.2f} after it (1 s each, /proc/stat)"
        )
        if max(before, after) > BUSY_ELSEWHERE:
            self.say(
                "(!) something else was using the CPU: latency and throughput are understated "
                "and will not repeat; run again on an idle machine"
            )

    def _report_v2(self) -> None:
        """The same order paid through PortOne V2: its signed webhook, one V2 lookup."""
        from bench.inprocess import is_transaction_control

        latencies = self.v2_latencies
        self.say()
        self.say(
            "6. PortOne V2: the same verification from a signed Transaction.Paid webhook (the "
            f"V1 run's server, V2 configured beside V1), {len(latencies)} sequential after "
            f"{self.plan.latency_warmup} warm-up ones"
        )
        per = self.v2_lookups / self.v2_sent if self.v2_sent else float("nan")
        self.say(
            f"   payment lookups  GET /payments/{{paymentId}}  {per:.2f} per verification "
            f"({self.v2_lookups:,} for {self.v2_sent:,}; no token: the API secret is the key)"
        )
        self._say_latency(latencies)
        self._report_errors(self.v2_sequential)
        counted = [[s for s in run if not is_transaction_control(s)] for run in self.v2_statements]
        self.say(
            f"   SQL statements   {_span([len(c) for c in counted])} per verification "
            f"({_span([len(s) for s in self.v2_statements])} with BEGIN/COMMIT; in-process, "
            f"{len(self.v2_statements)} verifications)"
        )
        self._list_statements(self.v2_statements[-1])

    def _report_pages(self) -> None:
        self.say()
        self.say(
            f"5. Product list page GET / (in-process test client, {self.plan.page_samples} "
            f"requests after {self.plan.page_warmup} warm-up ones)"
        )
        for total, page in self.pages.items():
            self.say(
                f"   {total:>5,} active products: {page.queries} queries, median "
                f"{page.median_ms:6.1f} ms ({page.products_shown} products on the page)"
            )


def _span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}–{high}"
