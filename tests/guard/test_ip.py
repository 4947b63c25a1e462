"""The client's address behind a configured number of proxies."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from guard.ip import client_ip


def request(remote="10.0.0.2", forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_without_proxies_the_peer_is_the_client(settings):
    settings.TRUSTED_PROXIES = 0

    assert client_ip(request("203.0.113.9", forwarded="52.78.100.19")) == "203.0.113.9"


@pytest.mark.parametrize(
    ("proxies", "forwarded", "expected"),
    [
        (1, "52.78.100.19", "52.78.100.19"),
        # A client's own X-Forwarded-For is kept on the left by the proxy, and ignored here.
        (1, "52.78.100.19, 198.51.100.7", "198.51.100.7"),
        (2, "spoofed, 198.51.100.7, 10.0.0.5", "198.51.100.7"),
        (2, "198.51.100.7", "10.0.0.2"),  # fewer hops than proxies: only the peer is known
        (1, "not-an-address", "10.0.0.2"),
        (1, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_behind_proxies_the_address_they_saw(settings, proxies, forwarded, expected):
    settings.TRUSTED_PROXIES = proxies

    assert client_ip(request(forwarded=forwarded)) == expected


def test_no_usable_address_at_all(settings):
    settings.TRUSTED_PROXIES = 0

    assert client_ip(request(remote="")) is None
