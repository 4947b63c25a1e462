"""Real server processes for the end-to-end tests of the production start.

Unlike the other e2e tests (pytest-django's live server, with the sandbox inside the shop),
these start separate processes, each with its own database, and talk to them only over HTTP:

- `iamport_standin()`: the sandbox as a stand-in for Iamport, `manage.py runserver` with debug
  on and a SQLite database of its own;
- `production_shop()`: the shop started by the production command, `python -m config.serve`
  (what `make serve` runs), with debug off and Iamport pointed at the stand-in; or, with
  `wsgi_app=`, gunicorn run directly on another WSGI module with the same flags;
- `shop_database()`: the shop's database: a PostgreSQL database of its own, created for the
  test and dropped afterwards, when the test's DATABASE_URL is a postgres URL; else SQLite.

Every server runs in a process group of its own on a free loopback port, with stdout and stderr
captured to a log file; it is stopped (the whole group) when the `with` block ends, also on
failure. Failures quote the server's log. A server's database is read back by Python code run
in a worker process with that server's own environment (`Server.query`): the test process never
opens these databases through Django.

    with iamport_standin(tmp / "standin") as standin:
        with production_shop(standin, tmp / "shop") as shop:
            products = shop.load_demo_products()
            ...  # a browser on shop.url; shop.order(merchant_uid); shop.server.requests()
"""

from __future__ import annotations

import atexit
import contextlib
import http.cookiejar
import json
import os
import queue
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from unittest import mock

REPO = Path(__file__).resolve().parents[3]
PYTHON = sys.executable  # the virtualenv's: config.serve finds gunicorn next to it
LOOPBACK = "127.0.0.1"

START_SECONDS = 120.0  # migrations on a fresh PostgreSQL database and collectstatic included
STOP_SECONDS = 15.0
COMMAND_SECONDS = 120.0
POLL_SECONDS = 0.2
LOG_TAIL_LINES = 150

# What the sandbox's `users/getToken` accepts, and its merchant code: with the sandbox on and no
# credentials configured, config/settings.py falls back to these (sandbox/services.token_issue
# compares against settings.IAMPORT_API_KEY / IAMPORT_API_SECRET).
STANDIN_API_KEY = "sandbox_api_key"
STANDIN_API_SECRET = "sandbox_api_secret"
STANDIN_MERCHANT_CODE = "imp00000000"

# Settings the shop reads from the environment: never inherited from the test process (whose
# tests/settings.py sets several of them) or from a developer's shell.
_APP_PREFIXES = ("DJANGO_", "IAMPORT_", "PORTONE_", "SANDBOX_", "SHOP_", "GUNICORN_", "PAYMENTS_")
_APP_NAMES = {"DATABASE_URL", "HOST", "PORT", "WEB_CONCURRENCY"}
_PORT_TAKEN = ("Address already in use", "That port is already in use", "Connection in use")

# gunicorn's default access log format: h l u t "r" s b "f" "a".
_ACCESS_LINE = re.compile(
    r'^\S+ \S+ \S+ \[[^\]]+\] "(?P<method>[A-Z]+) (?P<target>\S+) [^"]*" (?P<status>\d{3}) '
)
# runserver's: [date] "r" s b
_RUNSERVER_LINE = re.compile(
    r'^\[[^\]]+\] "(?P<method>[A-Z]+) (?P<target>\S+) [^"]*" (?P<status>\d{3}) '
)
# What counts as a crash in a server's log: a traceback, gunicorn's own errors (a worker timeout,
# a worker that died) and the shop's ERROR records (settings.LOGGING's format).
_CRASH_LINE = re.compile(
    r"Traceback \(most recent call last\)|\[(CRITICAL|ERROR)\]"
    r"|^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (CRITICAL|ERROR) "
)
_RESULT_MARK = "@@e2e-result@@ "


class ServerFailed(AssertionError):
    """A server did not start, or died; the message carries its log."""


class _PortTaken(Exception):
    pass


# --- small utilities -------------------------------------------------------------------------
def free_port() -> int:
    """A port that was free on loopback a moment ago (a start that loses the race is retried)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


# Plain HTTP to loopback, never through a proxy from the environment.
_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass
class Reply:
    status: int
    headers: Any  # http.client.HTTPMessage: case-insensitive, get_all() for repeated headers
    body: bytes
    url: str

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json.loads(self.body)


def http_request(
    url: str,
    *,
    method: str = "GET",
    data: Mapping[str, str] | None = None,
    headers: Mapping[str, str] | None = None,
    timeout: float = 10.0,
    opener: urllib.request.OpenerDirector | None = None,
) -> Reply:
    """One request; any HTTP status is a reply (not an exception). Follows redirects."""
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    headers = dict(headers or {})
    # Only the http:// URLs of the servers started here reach this.
    request = urllib.request.Request(url, data=body, method=method, headers=headers)  # noqa: S310
    try:
        with (opener or _opener).open(request, timeout=timeout) as response:
            return Reply(response.status, response.headers, response.read(), response.url)
    except urllib.error.HTTPError as error:
        with error:
            return Reply(error.code, error.headers, error.read(), error.url)


class Browserless:
    """A cookie-keeping HTTP client, for what a test does through forms without a browser."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.cookies = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(
            urllib.request.ProxyHandler({}), urllib.request.HTTPCookieProcessor(self.cookies)
        )

    def cookie(self, name: str) -> str | None:
        return next((c.value for c in self.cookies if c.name == name), None)

    def get(self, path: str, **kwargs: Any) -> Reply:
        return http_request(self.base_url + path, opener=self._opener, **kwargs)

    def post_form(self, path: str, data: Mapping[str, str]) -> Reply:
        """POST a form the way a page would, with the CSRF token from the cookie."""
        token = self.cookie("csrftoken") or ""
        return http_request(
            self.base_url + path,
            method="POST",
            data={"csrfmiddlewaretoken": token, **data},
            headers={"Referer": self.base_url + path},
            opener=self._opener,
        )


def base_environ() -> dict[str, str]:
    """The test process's environment without any of the shop's settings, and no .env file."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(_APP_PREFIXES) and name not in _APP_NAMES
    }
    no_proxy = ",".join(part for part in (env.get("NO_PROXY", ""), LOOPBACK, "localhost") if part)
    env.update(
        {
            # A developer's .env must not leak into these servers.
            "DJANGO_ENV_FILE": "/dev/null",
            # Output reaches the log file as it happens, and in UTF-8 (Korean messages).
            "PYTHONUNBUFFERED": "1",
            "PYTHONIOENCODING": "utf-8",
            # The shop calls the stand-in (and the stand-in the shop) on loopback: directly.
            "NO_PROXY": no_proxy,
            "no_proxy": no_proxy,
        }
    )
    return env


def _apply_overrides(env: dict[str, str], overrides: Mapping[str, str | None] | None) -> None:
    """`overrides` set variables; a value of None removes one."""
    for name, value in (overrides or {}).items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value


def run_command(
    argv: list[str], env: Mapping[str, str], *, what: str, timeout: float = COMMAND_SECONDS
) -> subprocess.CompletedProcess[str]:
    """Run a command to completion in the repository; fail with its output if it fails."""
    try:
        done = subprocess.run(
            argv,
            env=dict(env),
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"{what}: no end after {timeout:.0f} s\n--- stdout ---\n{exc.stdout}\n"
            f"--- stderr ---\n{exc.stderr}"
        ) from None
    if done.returncode != 0:
        raise AssertionError(
            f"{what}: exit status {done.returncode}\n$ {' '.join(argv)}\n"
            f"--- stdout ---\n{done.stdout}\n--- stderr ---\n{done.stderr}"
        )
    return done


# The loop of a query worker: Python code in, one JSON line (marked) out, with Django set up once.
_WORKER_SCRIPT = f"""
import json, sys, traceback
import django
django.setup()
for line in sys.stdin:
    namespace = {{}}
    try:
        exec(json.loads(line), namespace)
        reply = json.dumps({{"result": namespace.get("result")}}, default=str, ensure_ascii=False)
    except Exception:
        reply = json.dumps({{"error": traceback.format_exc()}})
    print({_RESULT_MARK!r} + reply, flush=True)
"""


class QueryWorker:
    """A Python process with a server's environment that runs queries for the tests.

    It sets Django up once (with the server's settings and database), then runs each piece of
    code it is sent and returns what the code assigned to `result`, as JSON (dates as strings).
    Each query runs in autocommit mode, so it sees everything the server has committed.
    """

    def __init__(self, env: Mapping[str, str], log_path: Path, name: str) -> None:
        self.name = name
        self.log_path = log_path
        with log_path.open("ab") as log_file:
            self.process = subprocess.Popen(
                [PYTHON, "-c", _WORKER_SCRIPT],
                env={**env, "DJANGO_SETTINGS_MODULE": "config.settings"},
                cwd=REPO,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=log_file,
                text=True,
                encoding="utf-8",
                start_new_session=True,
            )
        _running.add(self.process)
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True, name=f"{name} reader").start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line)
        self._lines.put(None)

    def _failure(self, message: str) -> AssertionError:
        log = self.log_path.read_text(encoding="utf-8", errors="replace")[-5000:]
        return AssertionError(f"{self.name}: {message}\n----- its stderr -----\n{log}")

    def query(self, code: str, *, what: str, timeout: float = COMMAND_SECONDS) -> Any:
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(textwrap.dedent(code)) + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            raise self._failure(f"{what}: the query worker is gone") from None
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise self._failure(f"{what}: no answer after {timeout:.0f} s") from None
            if line is None:
                raise self._failure(f"{what}: the query worker exited")
            if line.startswith(_RESULT_MARK):
                reply = json.loads(line[len(_RESULT_MARK) :])
                if "error" in reply:
                    raise AssertionError(f"{what} failed in {self.name}:\n{reply['error']}")
                return reply["result"]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            if self.process.stdin:
                self.process.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(5)
        _stop(self.process)


# --- a running server ------------------------------------------------------------------------
@dataclass(frozen=True)
class LogLine:
    """A request as the server's access log recorded it."""

    method: str
    target: str
    status: int

    @property
    def path(self) -> str:
        return urllib.parse.urlsplit(self.target).path

    def __str__(self) -> str:
        return f"{self.method} {self.target} {self.status}"


@dataclass
class Server:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    process: subprocess.Popen[bytes]
    access_line: re.Pattern[str] = field(default=_ACCESS_LINE, repr=False)
    _worker: QueryWorker | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    # The log -------------------------------------------------------------------------------
    def log(self, since: int = 0) -> str:
        with self.log_path.open("rb") as file:
            file.seek(since)
            return file.read().decode("utf-8", errors="replace")

    def log_mark(self) -> int:
        """A position in the log: `log(since=mark)` is what was written after it."""
        return self.log_path.stat().st_size

    def describe(self, since: int = 0, *, lines: int = LOG_TAIL_LINES) -> str:
        """The log (its last `lines` lines), for an assertion message."""
        text = self.log(since).splitlines()
        cut = f"(last {lines} of {len(text)} lines) " if len(text) > lines else ""
        body = "\n".join(text[-lines:])
        return f"\n----- {self.name} log {cut}{self.log_path} -----\n{body}\n----- end of log -----"

    def requests(self, since: int = 0) -> list[LogLine]:
        """Every request in the access log after `since`."""
        found = []
        for line in self.log(since).splitlines():
            match = self.access_line.match(line)
            if match:
                found.append(LogLine(match["method"], match["target"], int(match["status"])))
        return found

    def assert_no_server_errors(self, since: int = 0) -> list[LogLine]:
        """No request after `since` answered 5xx, and nothing crashed; returns the requests."""
        seen = self.requests(since)
        failed = [line for line in seen if line.status >= 500]
        text = self.log(since)
        crashes = [line for line in text.splitlines() if _CRASH_LINE.search(line)]
        assert not failed and not crashes, (
            f"{self.name} answered with a server error or logged a crash: "
            f"{[str(line) for line in failed]} {crashes}" + self.describe(since)
        )
        return seen

    def assert_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            raise ServerFailed(f"{self.name} exited with status {code}" + self.describe())

    def get(self, path: str, **kwargs: Any) -> Reply:
        return http_request(self.url + path, **kwargs)

    def query(self, code: str, *, what: str = "") -> Any:
        """Run `code` with this server's settings and database; what it assigned to `result`.

        See `QueryWorker` (started on the first query, stopped with the server).
        """
        if self._worker is None:
            self._worker = QueryWorker(
                self.env, self.log_path.with_suffix(".queries.log"), f"{self.name} queries"
            )
        return self._worker.query(code, what=what or f"a query of {self.name}'s database")

    def close_queries(self) -> None:
        if self._worker is not None:
            self._worker.close()
            self._worker = None

    def manage(self, *args: str) -> subprocess.CompletedProcess[str]:
        """`manage.py <args>` with this server's environment."""
        return run_command(
            [PYTHON, "manage.py", *args], self.env, what=f"manage.py {' '.join(args)}"
        )


# Every server and query worker still running: stopped at exit too, should a test run be cut
# short (e.g. Ctrl-C) in a way that skips the `with` blocks' exits.
_running: set[subprocess.Popen[Any]] = set()


@atexit.register
def _stop_all() -> None:
    for process in list(_running):
        _stop(process)


def _stop(process: subprocess.Popen[Any]) -> None:
    """Stop the process's whole group: politely, then for certain."""
    group = process.pid  # start_new_session=True: the process leads a group of its own
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
            process.wait(STOP_SECONDS)
    # Children that outlived their parent (a gunicorn worker, runserver's threads' children).
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)
    _running.discard(process)


@contextlib.contextmanager
def run_server(
    name: str,
    argv: list[str],
    *,
    port: int,
    env: dict[str, str],
    log_path: Path,
    ready: Callable[[Server], bool],
    access_line: re.Pattern[str] = _ACCESS_LINE,
    timeout: float = START_SECONDS,
) -> Iterator[Server]:
    """Start `argv` in its own process group, wait until `ready(server)`, stop it at the end.

    Raises `_PortTaken` when the process exited because its port was taken (the caller may try
    another one), `ServerFailed` (with the log) when it exits or is not ready in time.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            argv,
            env=env,
            cwd=REPO,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    _running.add(process)
    server = Server(name, port, env, log_path, process, access_line)
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                if any(marker in server.log() for marker in _PORT_TAKEN):
                    raise _PortTaken(port)
                server.assert_alive()
            try:
                if ready(server):
                    break
            except OSError:  # not listening yet, or the connection was cut
                pass
            if time.monotonic() >= deadline:
                raise ServerFailed(
                    f"{name} was not ready after {timeout:.0f} s" + server.describe()
                )
            time.sleep(POLL_SECONDS)
        yield server
    finally:
        server.close_queries()
        _stop(process)


@contextlib.contextmanager
def _on_a_free_port(start: Callable[[int], Any], attempts: int = 3) -> Iterator[Any]:
    """Enter `start(port)` on a free port, trying another port if the chosen one was taken."""
    with contextlib.ExitStack() as stack:
        for _ in range(attempts):
            try:
                value = stack.enter_context(start(free_port()))
                break
            except _PortTaken:
                continue
        else:
            raise ServerFailed(f"no free port after {attempts} attempts")
        yield value


# --- the stand-in for Iamport ----------------------------------------------------------------
@dataclass
class Standin:
    """The sandbox, as Iamport's stand-in: what the shop must be told to use it."""

    server: Server
    api_key: str = STANDIN_API_KEY
    api_secret: str = STANDIN_API_SECRET
    merchant_code: str = STANDIN_MERCHANT_CODE

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def api_url(self) -> str:
        return f"{self.url}/sandbox/iamport/"

    @property
    def script_url(self) -> str:
        return f"{self.url}/sandbox/iamport/v1/iamport.js"

    def iamport_environ(self) -> dict[str, str]:
        """The shop's Iamport settings for this stand-in."""
        return {
            "IAMPORT_API_URL": self.api_url,
            "IAMPORT_SCRIPT_URL": self.script_url,
            "IAMPORT_MERCHANT_CODE": self.merchant_code,
            "IAMPORT_API_KEY": self.api_key,
            "IAMPORT_API_SECRET": self.api_secret,
        }

    def payments(self, merchant_uid: str) -> list[dict[str, Any]]:
        """The stand-in's payments for `merchant_uid`, oldest first."""
        return self.server.query(
            f"""
            from sandbox.models import SandboxPayment
            result = list(
                SandboxPayment.objects.filter(merchant_uid={merchant_uid!r})
                .order_by("started_at", "id")
                .values("imp_uid", "status", "amount", "pay_method", "notice_url", "vbank_num")
            )
            """
        )

    def webhook_deliveries(self, merchant_uid: str) -> list[dict[str, Any]]:
        """The webhooks the stand-in sent for `merchant_uid`'s payments, oldest first."""
        return self.server.query(
            f"""
            from sandbox.models import SandboxWebhookDelivery
            result = list(
                SandboxWebhookDelivery.objects.filter(payment__merchant_uid={merchant_uid!r})
                .order_by("created_at", "id")
                .values("trigger", "url", "body", "outcome", "http_status", "error",
                        "finished_at")
            )
            """
        )


def standin_environ(
    *, port: int, database: Path, overrides: Mapping[str, str | None] | None = None
) -> dict[str, str]:
    """The stand-in's settings; `overrides` set (or, with None, remove) variables on top."""
    env = base_environ()
    env.update(
        {
            "DJANGO_DEBUG": "1",
            "IAMPORT_SANDBOX": "1",
            "DATABASE_URL": f"sqlite:///{database}",
            "SANDBOX_SITE_URL": f"http://{LOOPBACK}:{port}",
            "DJANGO_MEDIA_ROOT": str(database.parent / "media"),
        }
    )
    _apply_overrides(env, overrides)
    return env


def _standin_ready(server: Server) -> bool:
    return server.get("/sandbox/iamport/v1/iamport.js", timeout=2).status == 200


@contextlib.contextmanager
def iamport_standin(
    workdir: Path | None = None, *, env_overrides: Mapping[str, str | None] | None = None
) -> Iterator[Standin]:
    """The sandbox as Iamport's stand-in, in a process of its own, on a free loopback port.

    `env_overrides` go on top of its environment (e.g. the PortOne V2 store it plays).
    """
    with contextlib.ExitStack() as cleanup:
        if workdir is None:
            workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory()))
        workdir.mkdir(parents=True, exist_ok=True)
        database = workdir / "standin.sqlite3"

        @contextlib.contextmanager
        def start(port: int) -> Iterator[Standin]:
            env = standin_environ(port=port, database=database, overrides=env_overrides)
            run_command(
                [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"],
                env,
                what="the stand-in's migrate",
            )
            with run_server(
                "Iamport stand-in",
                [PYTHON, "manage.py", "runserver", "--noreload", f"{LOOPBACK}:{port}"],
                port=port,
                env=env,
                log_path=workdir / "standin.log",
                ready=_standin_ready,
                access_line=_RUNSERVER_LINE,
            ) as server:
                standin = Standin(server)
                token = server.get(
                    "/sandbox/iamport/users/getToken",
                    method="POST",
                    data={"imp_key": standin.api_key, "imp_secret": standin.api_secret},
                )
                assert token.status == 200 and token.json()["code"] == 0, (
                    f"the stand-in refused its own key pair: {token.status} {token.text()}"
                    + server.describe()
                )
                yield standin

        yield cleanup.enter_context(_on_a_free_port(start))


# --- the shop's database ---------------------------------------------------------------------
def _is_postgres(url: str) -> bool:
    return urllib.parse.urlsplit(url).scheme in ("postgres", "postgresql", "pgsql")


def _postgres_admin(url: str, *statements: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True, connect_timeout=10) as connection:
        for statement in statements:
            connection.execute(statement)


@contextlib.contextmanager
def shop_database(workdir: Path, label: str = "prod") -> Iterator[str]:
    """A fresh, empty database for a production shop; yields its DATABASE_URL.

    With a postgres DATABASE_URL in the test's environment: a database of its own on that
    server, `shop_e2e_<label>_<pid>` (never pytest-django's `test_...` one), created with the
    URL's role (which needs CREATEDB) and dropped at the end. Otherwise a SQLite file.
    """
    url = os.environ.get("DATABASE_URL", "").strip()
    if not _is_postgres(url):
        workdir.mkdir(parents=True, exist_ok=True)
        path = workdir / f"shop-{label}.sqlite3"
        path.unlink(missing_ok=True)
        yield f"sqlite:///{path}"
        return
    name = f"shop_e2e_{re.sub(r'[^a-z0-9_]', '_', label.lower())}_{os.getpid()}"
    _postgres_admin(url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    try:
        yield urllib.parse.urlsplit(url)._replace(path=f"/{name}").geturl()
    finally:
        # FORCE: a server that was killed may leave a connection behind for a moment.
        _postgres_admin(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- the production shop ---------------------------------------------------------------------
def production_environ(
    *,
    port: int,
    standin: Standin,
    database_url: str,
    media_root: Path,
    overrides: Mapping[str, str | None] | None = None,
) -> dict[str, str]:
    """What a merchant following "Going live" sets, on loopback, with Iamport at the stand-in.

    `overrides` set (or, with None, remove) variables on top.
    """
    env = base_environ()
    env.update(
        {
            "DJANGO_DEBUG": "0",
            "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
            "DJANGO_ALLOWED_HOSTS": f"{LOOPBACK},localhost",
            "DJANGO_HTTPS": "0",  # plain http on loopback
            "SHOP_BASE_URL": f"http://{LOOPBACK}:{port}",
            "HOST": LOOPBACK,
            "PORT": str(port),
            "GUNICORN_WORKERS": "2",
            "GUNICORN_THREADS": "2",
            "DATABASE_URL": database_url,
            "DJANGO_MEDIA_ROOT": str(media_root),
            **standin.iamport_environ(),
        }
    )
    _apply_overrides(env, overrides)
    return env


def gunicorn_command(env: Mapping[str, str], wsgi_app: str) -> list[str]:
    """The gunicorn command line `make serve` would run with `env`, serving `wsgi_app` instead."""
    from config import serve

    with mock.patch.dict(os.environ, dict(env), clear=True):
        argv = serve.gunicorn_argv()
    argv[argv.index("config.wsgi:application")] = wsgi_app
    return argv


def _shop_ready(server: Server) -> bool:
    reply = server.get("/healthz", timeout=2)
    return reply.status == 200 and reply.json().get("status") == "ok"


@dataclass
class CatalogueProduct:
    """A product as the tests need it (helpers.place_order calls get_absolute_url)."""

    pk: int
    name: str
    price: int
    stock: int
    image: str

    def get_absolute_url(self) -> str:
        return f"/products/{self.pk}/"


@dataclass
class ProductionShop:
    server: Server
    standin: Standin
    database_url: str

    @property
    def url(self) -> str:
        return self.server.url

    def load_demo_products(self) -> list[CatalogueProduct]:
        """`manage.py load_demo_data` (with debug off it makes no admin login); the catalogue."""
        done = self.server.manage("load_demo_data")
        assert "admin" not in done.stdout.lower(), "no admin/admin login with debug off"
        return self.products()

    def products(self) -> list[CatalogueProduct]:
        rows = self.server.query(
            """
            from shop.models import Product
            result = [
                [p.pk, p.name, p.price, p.stock, p.image.name if p.image else ""]
                for p in Product.objects.order_by("pk")
            ]
            """
        )
        return [CatalogueProduct(*row) for row in rows]

    def order(self, merchant_uid: str) -> dict[str, Any]:
        """The order with its payments, and the webhooks the shop received for it."""
        return self.server.query(
            f"""
            from payments.models import Payment, WebhookDelivery
            from shop.models import Order
            order = Order.objects.get(merchant_uid={merchant_uid!r})
            result = {{
                "status": order.status,
                "amount": order.amount,
                "paid_at": order.paid_at,
                "stock_taken": order.stock_taken,
                "deposit_account": order.deposit_account,
                "payments": list(
                    Payment.objects.filter(order=order).order_by("created_at", "id").values(
                        "imp_uid", "status", "verdict", "amount", "pay_method"
                    )
                ),
                "webhooks": list(
                    WebhookDelivery.objects.filter(merchant_uid={merchant_uid!r})
                    .order_by("received_at", "id")
                    .values("imp_uid", "status_hint", "outcome", "detail", "remote_addr")
                ),
            }}
            """
        )


@contextlib.contextmanager
def production_shop(
    standin: Standin,
    workdir: Path | None = None,
    *,
    env_overrides: Mapping[str, str | None] | None = None,
    wsgi_app: str | None = None,
    database_url: str | None = None,
) -> Iterator[ProductionShop]:
    """The shop as `make serve` starts it (`python -m config.serve`), on a free loopback port.

    With `wsgi_app` ("module:callable"), gunicorn is started directly on that WSGI application
    with the flags `make serve` uses, after `manage.py migrate` and `collectstatic` (what
    config.serve does before it starts gunicorn). Without `database_url`, `shop_database()`
    makes one for this shop (dropped at the end).
    """
    with contextlib.ExitStack() as cleanup:
        if workdir is None:
            workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory()))
        workdir.mkdir(parents=True, exist_ok=True)
        if database_url is None:
            database_url = cleanup.enter_context(shop_database(workdir))

        @contextlib.contextmanager
        def start(port: int) -> Iterator[ProductionShop]:
            env = production_environ(
                port=port,
                standin=standin,
                database_url=database_url,
                media_root=workdir / "media",
                overrides=env_overrides,
            )
            if wsgi_app is None:
                argv = [PYTHON, "-m", "config.serve"]
            else:
                for args in (["migrate", "--noinput"], ["collectstatic", "--noinput"]):
                    run_command([PYTHON, "manage.py", *args], env, what=f"manage.py {args[0]}")
                argv = gunicorn_command(env, wsgi_app)
            with run_server(
                "production shop",
                argv,
                port=port,
                env=env,
                log_path=workdir / "shop.log",
                ready=_shop_ready,
            ) as server:
                yield ProductionShop(server, standin, database_url)

        yield cleanup.enter_context(_on_a_free_port(start))
