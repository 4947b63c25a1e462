"""The production server: gunicorn with the command line `make serve` builds.

`config.serve.gunicorn_argv()` is called with the benchmark's environment, so workers,
threads, timeouts and logging are whatever `make serve` would use on this machine; only the
application is swapped for bench/wsgi.py (the shop plus `/bench/bare/`). gunicorn runs in a
process group of its own, with its output in a log file, and the whole group is killed when
the benchmark ends, however it ends.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
APP = "bench.wsgi:application"
START_SECONDS = 60.0
STOP_SECONDS = 15.0
SETTLE_SECONDS = 2.0

# gunicorn's default access log format: h l u t "r" s b "f" "a".
ACCESS_LINE = re.compile(r'^\S+ \S+ \S+ \[[^\]]+\] "(?P<request>[^"]*)" (?P<status>\d{3}) ')
# A traceback, gunicorn's own errors (a worker timeout, a worker that died) and the shop's
# ERROR records (settings.LOGGING's format).
PROBLEM_LINE = re.compile(
    r"Traceback \(most recent call last\)|\[(CRITICAL|ERROR)\]"
    r"|^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (CRITICAL|ERROR|WARNING) "
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """os.environ replaced by `env` for the duration (gunicorn_argv reads os.environ)."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def gunicorn_argv(env: Mapping[str, str]) -> list[str]:
    from config import serve

    with environment(env):
        argv = serve.gunicorn_argv()
    if "config.wsgi:application" not in argv:
        raise RuntimeError(f"config.serve.gunicorn_argv() no longer names config.wsgi: {argv}")
    argv[argv.index("config.wsgi:application")] = APP
    return argv


def option(argv: list[str], name: str) -> str:
    return argv[argv.index(name) + 1]


@dataclass
class LogSummary:
    statuses: Counter[str]  # access log: HTTP status -> count
    problems: list[str]  # error and warning lines, tracebacks


class Gunicorn:
    def __init__(self, env: Mapping[str, str], log_path: Path) -> None:
        self.env = dict(env)
        self.port = int(env["PORT"])
        self.argv = gunicorn_argv(env)
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Gunicorn:
        with self.log_path.open("ab") as log:
            # A fixed program (the virtualenv's gunicorn) with arguments built above.
            self.process = subprocess.Popen(  # noqa: S603
                self.argv,
                env=self.env,
                cwd=REPO,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: killed as one, spared the terminal's ^C
            )
        try:
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_SECONDS
        while self.process is not None and time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"gunicorn exited with {self.process.returncode}:\n{self.tail()}"
                )
            with contextlib.suppress(OSError, http.client.HTTPException):
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    connection.close()
                    return
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn not ready after {START_SECONDS:.0f} s:\n{self.tail()}")

    def stop(self) -> None:
        """The whole process group: politely (gunicorn lets its workers finish), then for sure."""
        if self.process is None:
            return
        group = self.process.pid
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_SECONDS)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)  # workers that outlived the arbiter
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(STOP_SECONDS)
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log().splitlines()[-lines:])

    def summary(self, since: int = 0) -> LogSummary:
        """What the log says from character `since` on, once gunicorn has stopped writing."""
        statuses: Counter[str] = Counter()
        problems = []
        for line in self._settled_log()[since:].splitlines():
            access = ACCESS_LINE.match(line)
            if access:
                statuses[access["status"]] += 1
            elif PROBLEM_LINE.search(line):
                problems.append(line)
        return LogSummary(statuses, problems)

    def _settled_log(self) -> str:
        """The log when it stops growing (for up to SETTLE_SECONDS): a request's access line
        is written after its answer, so the last lines may still be on their way when the
        load client is done."""
        text = self.log()
        deadline = time.monotonic() + SETTLE_SECONDS
        while time.monotonic() < deadline:
            time.sleep(0.1)
            later = self.log()
            if len(later) == len(text):
                break
            text = later
        return text

    def log_size(self) -> int:
        return len(self.log())
