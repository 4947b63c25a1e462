"""English: a datetime as "2026-12-02 15:04" instead of "Dec. 2, 2026, 3:04 p.m."."""

from config.formats import DATETIME_FORMAT

SHORT_DATETIME_FORMAT = DATETIME_FORMAT

__all__ = ["DATETIME_FORMAT", "SHORT_DATETIME_FORMAT"]
