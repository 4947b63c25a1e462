"""`GET /healthz` for a load balancer: is this process able to serve the shop?

Answered by a middleware placed first, so that a probe by IP address over plain http gets the
answer itself rather than a host-header refusal or the https redirect. The body says only
whether the database answers and the migrations are applied: no versions, hosts or secrets.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

PATH = "/healthz"

# Once every migration is applied it stays applied for this code, so the (comparatively slow)
# migration check runs until it first succeeds and then never again in this process.
_migrations_applied = False


def _database_answers() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        logger.error("healthz: the database does not answer: %s", exc)
        return False
    return True


def _migrations_are_applied() -> bool:
    global _migrations_applied
    if not _migrations_applied:
        executor = MigrationExecutor(connection)
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            logger.error("healthz: %d migration(s) not applied", len(plan))
        _migrations_applied = not plan
    return _migrations_applied


def health() -> tuple[int, dict[str, str]]:
    if not _database_answers():
        return 503, {"status": "unavailable", "database": "unreachable"}
    try:
        applied = _migrations_are_applied()
    except DatabaseError as exc:
        logger.error("healthz: could not read the applied migrations: %s", exc)
        applied = False
    if not applied:
        return 503, {"status": "unavailable", "database": "migrations pending"}
    return 200, {"status": "ok", "database": "ok"}


class HealthCheckMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info != PATH:
            return self.get_response(request)
        if request.method not in ("GET", "HEAD"):
            return JsonResponse({"status": "method not allowed"}, status=405)
        status, body = health()
        response = JsonResponse(body, status=status)
        response["Cache-Control"] = "no-store"
        return response
