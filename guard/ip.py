"""The client's address, as far as it can be trusted behind a configured number of proxies."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid(address: str) -> str | None:
    try:
        return str(ipaddress.ip_address(address.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """REMOTE_ADDR, or with DJANGO_TRUSTED_PROXIES = N, the address the outermost of our N
    proxies saw: the N-th entry of X-Forwarded-For from the right. Entries further left were
    written by the client itself and prove nothing."""
    remote = _valid(request.META.get("REMOTE_ADDR", ""))
    proxies = settings.TRUSTED_PROXIES
    if proxies <= 0:
        return remote
    forwarded = [part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part]
    if len(forwarded) < proxies:
        return remote  # not (all) through our proxies: only the direct peer is known
    return _valid(forwarded[-proxies]) or remote
