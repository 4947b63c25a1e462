"""Requests that no view should ever see: refused at the door with a 4xx.

- a NUL character in the path, the query string or a form body (PostgreSQL cannot store or
  even compare text holding one, so it would surface as a database error);
- a body over DATA_UPLOAD_MAX_MEMORY_SIZE that is not a file upload: 413, before it is read.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.http import HttpRequest, HttpResponse

NUL_MESSAGE = "Bad request: NUL characters are not accepted (잘못된 요청입니다)."
TOO_BIG_MESSAGE = "Request body too large (요청 본문이 너무 큽니다)."


def _has_nul(raw: bytes | str) -> bool:
    data = raw.encode("latin-1", "replace") if isinstance(raw, str) else raw
    return b"\x00" in data or b"\x00" in unquote_to_bytes(data)


def _declared_length(request: HttpRequest) -> int:
    try:
        return max(int(request.META.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def _refusal(status: int, message: str) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def reject_malformed_requests(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    def middleware(request: HttpRequest) -> HttpResponse:
        if _has_nul(request.META.get("PATH_INFO", "")) or _has_nul(
            request.META.get("QUERY_STRING", "")
        ):
            return _refusal(400, NUL_MESSAGE)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        is_upload = request.content_type == "multipart/form-data"
        if limit is not None and not is_upload and _declared_length(request) > limit:
            return _refusal(413, TOO_BIG_MESSAGE)
        is_form = request.content_type == "application/x-www-form-urlencoded"
        if request.method == "POST" and is_form and _has_nul(request.body):
            return _refusal(400, NUL_MESSAGE)
        return get_response(request)

    return middleware
