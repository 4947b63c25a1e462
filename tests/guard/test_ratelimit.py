"""Rate limits counted in the database, so that every machine sees the same counts."""

from __future__ import annotations

import threading

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection

from guard import ratelimit
from guard.models import RateCounter
from guard.rates import Rate


def test_rate_is_parsed_from_requests_per_seconds():
    assert Rate.parse("30/60", setting="X") == Rate(30, 60)


@pytest.mark.parametrize("text", ["", "30", "30/0", "a/60", "30/-1", "1.5/60"])
def test_a_malformed_rate_names_its_setting(text):
    with pytest.raises(ImproperlyConfigured, match="IAMPORT_WEBHOOK_RATE must look like"):
        Rate.parse(text, setting="IAMPORT_WEBHOOK_RATE")


def test_counts_per_key_within_a_window(db):
    rate = Rate(2, 60)

    assert [ratelimit.allow("a", rate) for _ in range(3)] == [True, True, False]
    assert ratelimit.allow("b", rate) is True


def test_a_new_window_starts_afresh(db, monkeypatch):
    rate = Rate(1, 60)
    monkeypatch.setattr(ratelimit.time, "time", lambda: 1_000_020)
    assert ratelimit.allow("a", rate) is True
    assert ratelimit.allow("a", rate) is False

    monkeypatch.setattr(ratelimit.time, "time", lambda: 1_000_080)

    assert ratelimit.allow("a", rate) is True


def test_long_keys_are_cut_to_fit(db):
    assert ratelimit.hit("k" * 500, Rate(5, 60)) == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_lose_no_count():
    rate = Rate(1000, 3600)
    barrier = threading.Barrier(8)

    def hammer():
        try:
            barrier.wait(10)
            for _ in range(10):
                ratelimit.hit("flood", rate)
        finally:
            connection.close()

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert RateCounter.objects.get(key="flood").hits == 80


def test_old_windows_are_pruned(db, monkeypatch):
    monkeypatch.setattr(ratelimit.time, "time", lambda: 1_000_000)
    ratelimit.hit("old", Rate(5, 60))
    monkeypatch.setattr(ratelimit.time, "time", lambda: 1_000_000 + 2 * 86_400)
    ratelimit.hit("new", Rate(5, 60))

    assert ratelimit.prune() == 1
    assert list(RateCounter.objects.values_list("key", flat=True)) == ["new"]
