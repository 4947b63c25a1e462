"""A rate as the settings name it ("60/60": requests per seconds); no models, so that the
settings can check theirs at start-up."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured


@dataclass(frozen=True)
class Rate:
    """`hits` requests per `seconds`."""

    hits: int
    seconds: int

    @classmethod
    def parse(cls, text: str, *, setting: str) -> Rate:
        """ "30/60" -> 30 requests per 60 seconds."""
        hits, _, seconds = text.partition("/")
        if not (hits.strip().isdigit() and seconds.strip().isdigit() and int(seconds) > 0):
            raise ImproperlyConfigured(
                f"{setting} must look like 60/60 (requests/seconds), got {text!r}."
            )
        return cls(int(hits), int(seconds))
