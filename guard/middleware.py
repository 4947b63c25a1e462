"""Requests that no view should ever see: refused at the door with a 4xx.

- a NUL character in the path, the query string or a form field (PostgreSQL cannot store or
  even compare text holding one, so it would surface as a database error);
- a body over DATA_UPLOAD_MAX_MEMORY_SIZE that is not a file upload: 413, before it is read;
- a Content-Length that is not a number (gunicorn refuses one itself; a server in front of the
  shop may pass it on, and Django would fail reading the body).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError

NUL_MESSAGE = "Bad request: NUL characters are not accepted (잘못된 요청입니다)."
TOO_BIG_MESSAGE = "Request body too large (요청 본문이 너무 큽니다)."
UNREADABLE_MESSAGE = "Bad request: the form cannot be read (잘못된 요청입니다)."
LENGTH_MESSAGE = "Bad request: Content-Length is not a number (잘못된 요청입니다)."


def _has_nul(raw: bytes | str) -> bool:
    data = raw.encode("latin-1", "replace") if isinstance(raw, str) else raw
    return b"\x00" in data or b"\x00" in unquote_to_bytes(data)


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def _form_refusal(request: HttpRequest) -> HttpResponse | None:
    """A 4xx for a form body that cannot be read, or holds a NUL in a field's name or value.

    The form is parsed here (the CSRF check would parse it anyway), so that its errors are
    answered here too: left to Django's 400 handler, its own CSRF step would parse the broken
    form a second time and fail outside any error handling.
    """
    if request.content_type not in FORM_TYPES:
        return None
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if limit is None or _declared_length(request) <= limit:
        # Read the raw body first: the form is then parsed from memory and `request.body`
        # stays readable for a view that keeps it (the webhook stores what arrived).
        request.body  # noqa: B018
    try:
        fields = list(request.POST.lists())
    except MultiPartParserError:
        return None  # unreadable multipart: the view sees an empty form and answers it
    except RequestDataTooBig:
        return _refusal(413, TOO_BIG_MESSAGE)
    except (SuspiciousOperation, BadRequest):  # too many fields, a non-UTF-8 form, ...
        return _refusal(400, UNREADABLE_MESSAGE)
    if any("\x00" in name or any("\x00" in v for v in values) for name, values in fields):
        return _refusal(400, NUL_MESSAGE)
    return None


def _declared_length(request: HttpRequest) -> int:
    # Only asked once the door has refused a Content-Length that is not decimal digits.
    return int(request.META.get("CONTENT_LENGTH") or 0)


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
        declared = request.META.get("CONTENT_LENGTH") or ""
        if declared and not (declared.isascii() and declared.isdigit()):
            return _refusal(400, LENGTH_MESSAGE)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        is_upload = request.content_type == "multipart/form-data"
        if limit is not None and not is_upload and _declared_length(request) > limit:
            return _refusal(413, TOO_BIG_MESSAGE)
        refused = _form_refusal(request) if request.method == "POST" else None
        return refused or get_response(request)

    return middleware
