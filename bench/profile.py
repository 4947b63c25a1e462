"""`python -m bench.profile`: where a verification's time goes, by cProfile.

Runs verifications through the webhook in this process (Django's test client, production
settings, the same delayed stand-in as `make bench`, PostgreSQL when reachable) under cProfile
and prints the functions with the most time of their own, then the most cumulative time. The
stand-in's delay is set to 0 here: waiting on the network is not what is being looked for.

    python -m bench.profile            # 300 verifications
    python -m bench.profile 1000
"""

from __future__ import annotations

import contextlib
import cProfile
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

from bench import database
from bench.run import progress, quiet_logging, shop_environment
from bench.server import free_port
from bench.standin import IamportStandin

TOP = 60


def main(argv: list[str]) -> None:
    count = int(argv[0]) if argv else 300
    with contextlib.ExitStack() as cleanup:
        workdir = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="bench-prof-")))
        standin = IamportStandin(delay_seconds=0)
        url = standin.start()
        cleanup.callback(standin.stop)
        db = database.create(workdir)
        cleanup.callback(database.drop, db)
        env = shop_environment(
            port=free_port(), standin_url=url, database_url=db.url, workdir=workdir
        )
        os.environ.clear()
        os.environ.update(env)
        _profile(count, workdir, standin, cleanup)


def _profile(count: int, workdir: Path, standin: IamportStandin, cleanup) -> None:
    import django
    from django.core.management import call_command
    from django.db import connections

    from bench import inprocess

    django.setup()
    quiet_logging(workdir / "shop.log")
    call_command("migrate", interactive=False, verbosity=0)
    cleanup.callback(connections.close_all)
    orders = database.add_orders(count + 120, database.add_products(10), standin.register)
    shop = inprocess.client()
    warm, plain, profiled = orders[:20], orders[20:120], orders[120:]
    for order in warm:  # token, caches, first queries
        _verify(shop, *order)
    started, cpu_started = time.perf_counter(), time.process_time()
    for order in plain:
        _verify(shop, *order)
    each = (time.perf_counter() - started) / len(plain) * 1000
    cpu = (time.process_time() - cpu_started) / len(plain) * 1000
    print(
        f"without the profiler: {each:.2f} ms per verification, {cpu:.2f} ms of it CPU in this "
        f"process ({len(plain)}, in-process)"
    )
    progress(f"profiling {len(profiled)} verifications ({db_label()})")
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for order in profiled:
        _verify(shop, *order)
    profiler.disable()
    elapsed = time.perf_counter() - started
    print(
        f"{len(profiled)} verifications in {elapsed:.2f} s: {elapsed / len(profiled) * 1000:.2f} "
        "ms each (in-process, no network delay, profiler overhead included)"
    )
    stats = pstats.Stats(profiler, stream=sys.stdout).strip_dirs()
    stats.sort_stats("tottime").print_stats(TOP)
    stats.sort_stats("cumulative").print_stats(TOP)


def _verify(shop, imp_uid: str, merchant_uid: str) -> None:
    from bench.load import WEBHOOK_PATH, webhook_body

    response = shop.post(
        WEBHOOK_PATH, webhook_body(imp_uid, merchant_uid), content_type="application/json"
    )
    if response.status_code != 200:
        raise RuntimeError(f"verification failed: {response.status_code} {response.content!r}")


def db_label() -> str:
    from django.db import connection

    return connection.vendor


if __name__ == "__main__":
    main(sys.argv[1:])
