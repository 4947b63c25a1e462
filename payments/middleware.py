"""Request-wide limits on what the shop spends waiting for Iamport."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from payments.client import time_budget


def iamport_time_budget(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """All Iamport calls made while answering one request share IAMPORT_REQUEST_BUDGET seconds."""

    def middleware(request: HttpRequest) -> HttpResponse:
        with time_budget(settings.IAMPORT_REQUEST_BUDGET):
            return get_response(request)

    return middleware
