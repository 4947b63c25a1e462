"""Counters of requests per client and time window, shared by every machine through the database."""

from __future__ import annotations

from django.db import models


class RateCounter(models.Model):
    """How many requests `key` (e.g. "webhook:203.0.113.9") made in one fixed time window."""

    key = models.CharField(max_length=200)
    window_start = models.BigIntegerField(help_text="Unix time the window began")
    hits = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key", "window_start"], name="one_counter_per_key_window"
            )
        ]
        indexes = [models.Index(fields=["window_start"], name="guard_counter_window")]

    def __str__(self) -> str:
        return f"{self.key} @ {self.window_start}: {self.hits}"
