"""Logging helpers for the settings' LOGGING."""

from __future__ import annotations

import logging


class OneLineWarning(logging.Filter):
    """Turn a record into a one-line warning: no traceback, level WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
