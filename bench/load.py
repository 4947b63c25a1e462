"""The load client: processes x threads, each thread one keep-alive `http.client` connection
(or, with keep_alive=False, a new connection for every request).

Standard library only, and run in processes started with "spawn", so that the client never
shares a GIL (or a Django import) with the benchmark itself. Every thread sends requests back to
back from `start` to `stop`; what completes inside the measured window [`measure_from`, `stop`)
is counted, what completes during the warm-up before it is not (but its errors are).

A webhook request carries one order's ids (`imp_uid`, `merchant_uid`); each thread has its own
slice of fresh orders and stops early, saying so, if it runs out.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any

WEBHOOK, BARE = "webhook", "bare"
WEBHOOK_PATH = "/payments/webhook/"
TIMEOUT = 30.0  # seconds; above the shop's 15 s budget for Iamport
SAMPLE_CHARS = 300


@dataclass
class Result:
    """What one thread, one process or the whole client saw."""

    sent: int = 0  # requests answered or failed, warm-up included
    window_ok: int = 0  # successes completed in the measured window
    latencies: list[float] = field(default_factory=list)  # seconds, of those successes
    errors: Counter[str] = field(default_factory=Counter)  # kind -> count, warm-up included
    samples: dict[str, str] = field(default_factory=dict)  # kind -> one answer of that kind
    exhausted: bool = False  # a thread ran out of fresh orders before `stop`
    client_cpu: float = 0.0  # CPU seconds the client processes used in the window
    # The caller's `probe()` at the window's start and end (e.g. CPU seconds by process).
    probes: tuple = ()

    def add(self, other: Result) -> None:
        self.sent += other.sent
        self.window_ok += other.window_ok
        self.latencies += other.latencies
        self.errors.update(other.errors)
        for kind, sample in other.samples.items():
            self.samples.setdefault(kind, sample)
        self.exhausted |= other.exhausted
        self.client_cpu += other.client_cpu


def webhook_body(imp_uid: str, merchant_uid: str) -> bytes:
    """What Iamport posts (as JSON): only a hint, the shop fetches the payment itself."""
    return json.dumps({"imp_uid": imp_uid, "merchant_uid": merchant_uid, "status": "paid"}).encode()


def v1_webhook(imp_uid: str, merchant_uid: str) -> tuple[bytes, dict[str, str]]:
    """(body, headers) of Iamport's webhook for the order's payment."""
    return webhook_body(imp_uid, merchant_uid), {"Content-Type": "application/json"}


# What a webhook for an order is: (imp_uid, merchant_uid) -> (body, headers).
Webhook = Callable[[str, str], tuple[bytes, dict[str, str]]]


def send(
    connection: http.client.HTTPConnection,
    order: tuple[str, str] | None,
    *,
    keep_alive: bool = True,
    webhook: Webhook = v1_webhook,
) -> tuple[int, bytes]:
    """A webhook for `order` (imp_uid, merchant_uid), or with None a GET of the bare view.

    Without `keep_alive` the server closes the connection after answering and the next
    request opens a new one (http.client reconnects by itself), as a proxy in front does that
    keeps no upstream connections (the README's nginx)."""
    headers = {} if keep_alive else {"Connection": "close"}
    if order is not None:
        body, webhook_headers = webhook(*order)
        connection.request("POST", WEBHOOK_PATH, body, {**headers, **webhook_headers})
    else:
        connection.request("GET", "/bench/bare/", headers=headers)
    response = connection.getresponse()
    return response.status, response.read()


def failure(kind: str, status: int, body: bytes) -> str | None:
    """None for a success; otherwise what went wrong, as a short kind for the report."""
    if not 200 <= status < 300:
        return f"HTTP {status}"
    if kind == WEBHOOK:
        # 200 is also the answer for a payment that is not ours or a duplicate: a verification
        # succeeded only if the payment was processed and the order is paid.
        try:
            answer = json.loads(body)
        except ValueError:
            return f"HTTP {status}, not JSON"
        if answer.get("result") != "processed" or not str(answer.get("detail")).startswith(
            "paid; order paid"
        ):
            return f"HTTP {status} but {answer.get('result')}: {answer.get('detail')}"
    return None


def sequential(
    host: str, port: int, orders: list[tuple[str, str]], *, webhook: Webhook = v1_webhook
) -> tuple[list[float], Result]:
    """One client, one keep-alive connection, one verification after another."""
    result = Result()
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        for order in orders:
            started = time.perf_counter()
            status, body = send(connection, order, webhook=webhook)
            elapsed = time.perf_counter() - started
            result.sent += 1
            problem = failure(WEBHOOK, status, body)
            if problem:
                result.errors[problem] += 1
                result.samples.setdefault(problem, body[:SAMPLE_CHARS].decode(errors="replace"))
            else:
                result.latencies.append(elapsed)
    finally:
        connection.close()
    return result.latencies, result


def bare_sequential(host: str, port: int, count: int, *, pause: float = 0.0) -> list[float]:
    """One client, one keep-alive connection, `count` GETs of the bare view one after another,
    each after `pause` seconds of doing nothing (the seconds a verification leaves the server
    idle while Iamport answers). Seconds each; a failure raises."""
    latencies = []
    connection = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
    try:
        for _ in range(count):
            time.sleep(pause)
            started = time.perf_counter()
            status, body = send(connection, None)
            latencies.append(time.perf_counter() - started)
            if failure(BARE, status, body):
                raise RuntimeError(f"the bare view answered HTTP {status}: {body[:SAMPLE_CHARS]!r}")
    finally:
        connection.close()
    return latencies


# --- the multi-process client ------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    host: str
    port: int
    kind: str
    threads: int
    orders: list[list[tuple[str, str]]]  # one slice per thread (webhooks), or empty lists
    keep_alive: bool


def run(
    *,
    host: str,
    port: int,
    kind: str,
    processes: int,
    threads: int,
    warmup: float,
    duration: float,
    orders: list[tuple[str, str]] | None = None,
    keep_alive: bool = True,
    probe: Callable[[], Any] = lambda: None,
) -> Result:
    """Load the server for `warmup` + `duration` seconds; the window is the last `duration`.

    `probe()` is called in this process as the window opens and as it closes."""
    total = processes * threads
    # Thread k of all takes orders k, k + total, k + 2 * total, ...: disjoint, no coordination.
    slices = [(orders or [])[k::total] for k in range(total)]
    context = get_context("spawn")
    results = context.Queue()
    ready = context.Queue()
    go = context.Event()
    schedule = context.Array("d", 3)  # start, measure_from, stop (time.monotonic, system-wide)
    workers = [
        context.Process(
            target=_process_main,
            args=(
                Job(host, port, kind, threads, slices[p * threads : (p + 1) * threads], keep_alive),
                schedule,
                go,
                ready,
                results,
            ),
            name=f"bench load {p}",
            daemon=True,
        )
        for p in range(processes)
    ]
    try:
        for worker in workers:
            worker.start()
        for _ in workers:  # every process is up and its threads are waiting
            ready.get(timeout=60)
        start = time.monotonic() + 0.1
        schedule[:] = [start, start + warmup, start + warmup + duration]
        go.set()
        time.sleep(max(0.0, start + warmup - time.monotonic()))
        before = probe()
        time.sleep(max(0.0, start + warmup + duration - time.monotonic()))
        combined = Result(probes=(before, probe()))
        for _ in workers:
            combined.add(results.get(timeout=warmup + duration + 2 * TIMEOUT))
        for worker in workers:
            worker.join(10)
        return combined
    finally:
        for worker in workers:  # Ctrl-C or an error: no client outlives the benchmark
            if worker.is_alive():
                worker.terminate()
                worker.join(5)


def _process_main(job: Job, schedule, go, ready, results) -> None:
    # Ctrl-C reaches the whole foreground process group: the parent handles it and ends us.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    thread_results = [Result() for _ in range(job.threads)]
    threads = [
        threading.Thread(
            target=_thread_main,
            args=(job, job.orders[i] if job.orders else [], schedule, go, thread_results[i]),
            daemon=True,
        )
        for i in range(job.threads)
    ]
    for thread in threads:
        thread.start()
    ready.put(True)
    go.wait()
    _, measure_from, stop = schedule[:]
    time.sleep(max(0.0, measure_from - time.monotonic()))
    cpu_from = time.process_time()
    time.sleep(max(0.0, stop - time.monotonic()))
    cpu = time.process_time() - cpu_from
    for thread in threads:
        thread.join()
    combined = Result(client_cpu=cpu)
    for result in thread_results:
        combined.add(result)
    results.put(combined)


def _thread_main(job: Job, orders: list[tuple[str, str]], schedule, go, result: Result) -> None:
    connection = http.client.HTTPConnection(job.host, job.port, timeout=TIMEOUT)
    go.wait()
    start, measure_from, stop = schedule[:]
    time.sleep(max(0.0, start - time.monotonic()))
    next_order = iter(orders)
    try:
        while time.monotonic() < stop:
            order = None
            if job.kind == WEBHOOK:
                order = next(next_order, None)
                if order is None:
                    result.exhausted = True
                    break
            started = time.monotonic()
            try:
                status, body = send(connection, order, keep_alive=job.keep_alive)
            except (OSError, http.client.HTTPException) as exc:
                problem, body = f"connection: {exc.__class__.__name__}", str(exc).encode()
                connection.close()  # the next request opens a new connection
            else:
                problem = failure(job.kind, status, body)
            done = time.monotonic()
            result.sent += 1
            if problem:
                result.errors[problem] += 1
                result.samples.setdefault(problem, body[:SAMPLE_CHARS].decode(errors="replace"))
            elif measure_from <= done < stop:
                result.window_ok += 1
                result.latencies.append(done - started)
    finally:
        with contextlib.suppress(OSError):
            connection.close()
