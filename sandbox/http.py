"""Plumbing shared by the sandbox's views: the on/off guard, Iamport's envelope and PortOne
V2's error shape, body parsing and page rendering."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.template.backends.django import DjangoTemplates

View = Callable[..., HttpResponse]


def sandbox_only(view: View) -> View:
    """Answer 404 unless the sandbox is enabled.

    `config/urls.py` mounts the sandbox only while it is enabled; this check makes every view
    refuse on its own as well, so a wiring mistake cannot expose a fake payment provider.
    """

    @functools.wraps(view)
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not getattr(settings, "SANDBOX_ENABLED", False):
            raise Http404("The Iamport sandbox is disabled.")
        return view(request, *args, **kwargs)

    return guarded


def envelope(
    response: Any = None, *, code: int = 0, message: str | None = None, status: int = 200
) -> JsonResponse:
    """Iamport's reply shape: `{"code", "message", "response"}`; code 0 means success."""
    return JsonResponse(
        {"code": code, "message": message, "response": response},
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )


# How deeply a JSON body may nest. Iamport's parameters are at most a few levels deep; the bound
# keeps every later walk over the data (custom_data is dumped again) far from Python's
# recursion limit.
MAX_JSON_DEPTH = 32


class BadRequestBody(ValueError):
    """The request body could not be read as JSON or form fields."""


def v2_error(error_type: str, message: str, *, status: int) -> JsonResponse:
    """PortOne V2's error reply: `{"type", "message"}` with the HTTP status of that type."""
    return JsonResponse(
        {"type": error_type, "message": message},
        status=status,
        json_dumps_params={"ensure_ascii": False},
    )


def read_json_object(request: HttpRequest) -> dict[str, Any]:
    """The body as a JSON object ({} when empty), whatever the content type says; PortOne V2
    takes JSON only. BadRequestBody for anything else, or JSON nested too deep."""
    if not request.body:
        return {}
    try:
        data = json.loads(request.body)
    except RecursionError:
        # json.loads recurses once per level: a body nested far too deep ends here.
        raise _too_deep() from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequestBody("요청 본문이 올바른 JSON이 아닙니다.") from exc
    if not isinstance(data, dict):
        raise BadRequestBody("요청 본문은 JSON 객체여야 합니다.")
    if _json_depth_exceeds(data, MAX_JSON_DEPTH):
        raise _too_deep()
    return data


def read_params(request: HttpRequest) -> dict[str, Any]:
    """The request's fields, from a JSON object or a form-encoded body (Iamport takes both).

    Values are as sent; the parsers of `sandbox.params` check each field where it is used.
    """
    content_type = request.content_type or ""
    if content_type == "application/json":
        return read_json_object(request)
    if request.method == "POST":
        return request.POST.dict()
    # Django parses form bodies of POST only; PUT is read here.
    return QueryDict(request.body, encoding=request.encoding).dict()


def _too_deep() -> BadRequestBody:
    return BadRequestBody(f"요청 본문의 JSON은 {MAX_JSON_DEPTH}단계까지만 중첩할 수 있습니다.")


def _json_depth_exceeds(data: Any, limit: int) -> bool:
    """Whether `data` nests lists and objects more than `limit` levels deep (no recursion)."""
    pending = [(data, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict):
            value = list(value.values())
        if isinstance(value, list):
            if depth > limit:
                return True
            pending.extend((item, depth + 1) for item in value)
    return False


@functools.cache
def _engine() -> DjangoTemplates:
    """A template engine of the sandbox's own, so that its pages depend on nothing of the
    shop's (context processors, base templates, static files)."""
    return DjangoTemplates(
        {
            "NAME": "sandbox",
            "DIRS": [Path(__file__).resolve().parent / "templates"],
            "APP_DIRS": False,
            "OPTIONS": {
                "context_processors": [
                    "django.template.context_processors.request",
                    "django.contrib.messages.context_processors.messages",
                ],
            },
        }
    )


def render_page(
    request: HttpRequest, template_name: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    content = _engine().get_template(template_name).render(context, request)
    return HttpResponse(content, status=status)
