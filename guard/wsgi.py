"""Requests Django cannot even construct a request object for: refused before Django sees them.

Django builds the request outside its own error handling, so these would escape as a bare 500
from the WSGI server:
- a `charset` in Content-Type that names a codec but not a text encoding (`base64`, `hex`,
  `rot13`): Django adopts it, then fails to decode the query string with it;
- a query string with more fields than DATA_UPLOAD_MAX_NUMBER_FIELDS, which Django parses while
  building the request when a charset is given.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable, Iterable
from typing import Any

from django.conf import settings
from django.utils.http import parse_header_parameters

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def _is_text_codec(name: str) -> bool:
    try:
        return codecs.lookup(name)._is_text_encoding
    except LookupError:
        return True  # unknown to Python: Django ignores it and keeps its default


def refusal(environ: dict[str, Any]) -> str | None:
    """Why this request must be refused with a 400, or None when Django can take it."""
    _, params = parse_header_parameters(environ.get("CONTENT_TYPE", ""))
    charset = params.get("charset")
    if charset is not None and not _is_text_codec(charset):
        return f"unsupported charset {charset[:40]!r}"
    limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    query = environ.get("QUERY_STRING", "")
    if limit is not None and query and query.count("&") + 1 > limit:
        return "too many query parameters"
    return None


def refuse_unreadable_requests(app: WSGIApp) -> WSGIApp:
    """Wrap the WSGI application: answer 400 to what `refusal` names, pass the rest on."""

    def guarded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        reason = refusal(environ)
        if reason is None:
            return app(environ, start_response)
        body = f"Bad request: {reason} (잘못된 요청입니다).".encode()
        start_response(
            "400 Bad Request",
            [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return guarded
