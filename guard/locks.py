"""A named lock that holds across machines: only one holder runs the guarded work at a time.

On PostgreSQL a session-level advisory lock (released by the server if the holder's
connection dies); on SQLite, which serves one machine only, an exclusive lock on a file beside
the database. Non-blocking: a second caller is told the work is already being done.
"""

from __future__ import annotations

import fcntl
import hashlib
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.db import connection


def _advisory_key(name: str) -> int:
    """A stable signed 64-bit key for the name (PostgreSQL's advisory locks take a bigint)."""
    return int.from_bytes(
        hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True
    )


@contextmanager
def exclusive(name: str) -> Iterator[bool]:
    """`with exclusive("sync_payments") as acquired:` acquired is False when another holds it."""
    if connection.vendor == "postgresql":
        with _advisory_lock(name) as acquired:
            yield acquired
    else:
        with _file_lock(name) as acquired:
            yield acquired


@contextmanager
def _advisory_lock(name: str) -> Iterator[bool]:
    key = _advisory_key(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        acquired = bool(cursor.fetchone()[0])
    try:
        yield acquired
    finally:
        if acquired:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


@contextmanager
def _file_lock(name: str) -> Iterator[bool]:
    database = str(connection.settings_dict["NAME"])
    in_memory = not database or database == ":memory:" or database.startswith("file:")
    folder = Path(tempfile.gettempdir()) if in_memory else Path(database).parent
    path = folder / f".{Path(database).name}.{name}.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
