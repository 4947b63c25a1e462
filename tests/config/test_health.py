"""`GET /healthz`: 200 while the database answers and migrations are applied, 503 otherwise."""

from __future__ import annotations

import pytest
from django.db import DatabaseError

from config import health


@pytest.fixture(autouse=True)
def _check_migrations_again(monkeypatch):
    monkeypatch.setattr(health, "_migrations_applied", False)


def test_healthy(client, db):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_answers_a_probe_by_ip_over_plain_http(client, db, settings):
    settings.ALLOWED_HOSTS = ["shop.example.com"]
    settings.SECURE_SSL_REDIRECT = True

    response = client.get("/healthz", HTTP_HOST="10.0.0.7:8000")

    assert response.status_code == 200


def test_database_down_is_503(client, db, monkeypatch):
    def refuse(*args, **kwargs):
        raise DatabaseError("connection refused")

    with monkeypatch.context() as patch:  # undone before the test database is torn down
        patch.setattr(health.connection, "cursor", refuse)
        response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable"}


def test_pending_migrations_are_503(client, db, monkeypatch):
    monkeypatch.setattr(
        health.MigrationExecutor, "migration_plan", lambda self, targets: [("shop", "0099")]
    )

    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.json()["database"] == "migrations pending"


def test_the_migration_check_runs_until_it_first_succeeds(client, db, django_assert_num_queries):
    client.get("/healthz")

    with django_assert_num_queries(1):  # SELECT 1, nothing else
        assert client.get("/healthz").status_code == 200


def test_only_get_and_head(client, db):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


def test_says_nothing_about_the_installation(client, db):
    body = client.get("/healthz").content.decode()

    for secret_or_version in ("5.2", "postgres", "sqlite", "django", "secret"):
        assert secret_or_version not in body.lower()
