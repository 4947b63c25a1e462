"""Korean: a datetime as "2026-12-02 15:04" instead of "2026년 12월 2일 3:04 오후"."""

from config.formats import DATETIME_FORMAT

SHORT_DATETIME_FORMAT = DATETIME_FORMAT

__all__ = ["DATETIME_FORMAT", "SHORT_DATETIME_FORMAT"]
