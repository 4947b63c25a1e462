"""CPU time from /proc (Linux): of the whole machine, and of given processes.

Where a verification's CPU goes (gunicorn, PostgreSQL, and the benchmark's own stand-in and
client, which a real deployment would not pay), and whether other work on the machine took CPU
from what was measured. Elsewhere than Linux there is no /proc: `machine()` answers None and
the report leaves these figures out.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")


def _hz() -> int:
    return os.sysconf("SC_CLK_TCK")


def machine() -> tuple[float, float] | None:
    """(all, busy) CPU seconds of the whole machine since boot, summed over its cores."""
    try:
        ticks = [int(v) for v in (PROC / "stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return None
    idle = ticks[3] + ticks[4]  # idle + iowait
    return sum(ticks) / _hz(), (sum(ticks) - idle) / _hz()


def busy_cores(before: tuple[float, float] | None, after: tuple[float, float] | None):
    """How many cores were busy on average between two `machine()` readings."""
    if before is None or after is None or after[0] <= before[0]:
        return None
    cores = os.cpu_count() or 1
    return cores * (after[1] - before[1]) / (after[0] - before[0])


def background_load(seconds: float = 1.0) -> float | None:
    """Cores busy while the benchmark does nothing: other work on the machine."""
    before = machine()
    time.sleep(seconds)
    return busy_cores(before, machine())


def _stat(pid: int) -> list[str] | None:
    """/proc/<pid>/stat after the command name: [state, ppid, pgrp, ...]."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except OSError:  # gone meanwhile
        return None
    return text[text.rindex(")") + 2 :].split()


def _seconds(fields: list[str]) -> float:
    return (int(fields[11]) + int(fields[12])) / _hz()  # utime + stime


def processes(pids: Iterable[int]) -> float:
    """CPU seconds the processes `pids` have used so far (those still alive)."""
    return sum(_seconds(fields) for pid in pids if (fields := _stat(pid)) is not None)


def process_group(pgid: int) -> dict[int, float]:
    """CPU seconds used so far by each live process of group `pgid` (a server and workers)."""
    found = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit() and (fields := _stat(int(entry.name))) and int(fields[2]) == pgid:
            found[int(entry.name)] = _seconds(fields)
    return found
