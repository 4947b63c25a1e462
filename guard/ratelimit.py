"""Fixed-window rate limits counted in the database (one atomic upsert per request)."""

from __future__ import annotations

import time

from django.db import connection

from guard.models import RateCounter
from guard.rates import Rate

KEY_MAX_LENGTH = 200


def hit(key: str, rate: Rate) -> int:
    """Count one request for `key` in the current window; returns the window's count so far.

    One statement, atomic on PostgreSQL and SQLite alike, so that concurrent requests on
    several machines never lose a count.
    """
    window = int(time.time()) // rate.seconds * rate.seconds
    table = RateCounter._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (key, window_start, hits) VALUES (%s, %s, 1) "  # noqa: S608
            f"ON CONFLICT (key, window_start) DO UPDATE SET hits = {table}.hits + 1 "
            "RETURNING hits",
            [key[:KEY_MAX_LENGTH], window],
        )
        return int(cursor.fetchone()[0])


def allow(key: str, rate: Rate) -> bool:
    """Whether this request is within `rate` for `key` (it is counted either way)."""
    return hit(key, rate) <= rate.hits


def prune(*, older_than_seconds: int = 86_400) -> int:
    """Forget windows that ended long ago; returns how many counters were deleted."""
    cutoff = int(time.time()) - older_than_seconds
    deleted, _ = RateCounter.objects.filter(window_start__lt=cutoff).delete()
    return deleted
