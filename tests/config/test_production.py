"""The production configuration: deployment checks, https switches, error logs, `make serve`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from config import serve
from tests.config.test_settings import FULL, ROOT, load_settings

STRONG = {**FULL, "DJANGO_SECRET_KEY": "x7Gq-2vLk9PzR4tYw8Nc1Bm6Hj3Sd5Fa0Ue_Ko7Ti9Xr2Zb4Yq8W"}

SECURITY = (
    "from django.conf import settings as s; import json; print(json.dumps([s.SECURE_SSL_REDIRECT,"
    " s.SECURE_HSTS_SECONDS, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE,"
    " s.SECURE_REFERRER_POLICY, s.X_FRAME_OPTIONS, s.SECURE_CROSS_ORIGIN_OPENER_POLICY,"
    " s.ADMINS]))"
)


def run_python(code: str, **env: str) -> subprocess.CompletedProcess:
    import os

    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "IAMPORT_", "SHOP_", "PORTONE_", "PAYMENTS_"))
    }
    clean.update(env, DJANGO_ENV_FILE="/dev/null", DATABASE_URL="sqlite:///:memory:")
    clean.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    return subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); {code}"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=ROOT,
    )


def security(**env: str) -> list:
    result = run_python(f"import django; django.setup(); {SECURITY}", **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_check_deploy_prints_no_warnings_for_a_complete_production_configuration():
    result = run_python(
        "from django.core.management import execute_from_command_line as run; "
        "run(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])",
        **STRONG,
    )

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNINGS" not in result.stderr + result.stdout


def test_debug_off_is_https_only_by_default():
    redirect, hsts, session_secure, csrf_secure, referrer, frames, opener, _ = security(**STRONG)

    assert (redirect, session_secure, csrf_secure) == (True, True, True)
    assert hsts >= 31_536_000
    # The PG sees which site sent the buyer, never the order page's path.
    assert referrer == "strict-origin-when-cross-origin"
    assert frames == "DENY"
    assert opener == "same-origin-allow-popups"  # PG popups keep their opener


def test_one_switch_turns_https_off_for_plain_http_testing():
    redirect, hsts, session_secure, csrf_secure, *_ = security(**STRONG, DJANGO_HTTPS="0")

    assert (redirect, hsts, session_secure, csrf_secure) == (False, 0, False, False)


def test_secure_cookies_can_still_be_turned_off_on_their_own():
    redirect, hsts, session_secure, csrf_secure, *_ = security(**STRONG, DJANGO_SECURE_COOKIES="0")

    assert (redirect, session_secure, csrf_secure) == (True, False, False)
    assert hsts > 0


def test_admins_come_from_the_environment():
    *_, admins = security(**STRONG, DJANGO_ADMINS="Kim Ops <ops@example.com>, dev@example.com")

    assert admins == [["Kim Ops", "ops@example.com"], ["dev@example.com", "dev@example.com"]]


def test_a_server_error_leaves_its_traceback_in_the_log_with_debug_off():
    code = """
import django, types
django.setup()
from django.test import Client, override_settings
from django.urls import path

def broken(request):
    raise ZeroDivisionError("the view broke")

urls = types.ModuleType("broken_urls")
urls.urlpatterns = [path("broken/", broken)]
sys.modules["broken_urls"] = urls
with override_settings(ROOT_URLCONF="broken_urls"):
    response = Client(raise_request_exception=False).get("/broken/", secure=True,
        HTTP_HOST="shop.example.com")
print(response.status_code)
"""
    result = run_python(code, **STRONG)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "500"
    assert "Traceback (most recent call last)" in result.stderr
    assert "ZeroDivisionError: the view broke" in result.stderr


def test_persistent_database_connections_come_from_the_environment():
    code = (
        "import django; django.setup(); from django.conf import settings as s; "
        "d = s.DATABASES['default']; print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"
    )

    default = run_python(code, **STRONG)
    chosen = run_python(code, **STRONG, DJANGO_CONN_MAX_AGE="300")

    assert default.stdout.split() == ["60", "True"]
    assert chosen.stdout.split() == ["300", "True"]


# --- make serve ---------------------------------------------------------------------------
def serve_refusal(**env: str) -> str:
    result = run_python("from config.serve import main; main()", **env)
    assert result.returncode == 2, (result.stdout, result.stderr)
    return result.stderr


def test_serve_refuses_to_start_without_debug_off():
    assert "needs DJANGO_DEBUG=0" in serve_refusal(**{**STRONG, "DJANGO_DEBUG": ""})
    assert "needs DJANGO_DEBUG=0" in serve_refusal(**{**STRONG, "DJANGO_DEBUG": "1"})


@pytest.mark.parametrize(
    ("missing", "complaint"),
    [
        ("DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY is not set"),
        ("IAMPORT_API_SECRET", "Missing Iamport credentials"),
        ("SHOP_BASE_URL", "SHOP_BASE_URL is not set"),
        ("DJANGO_ALLOWED_HOSTS", "DJANGO_ALLOWED_HOSTS is not set"),
    ],
)
def test_serve_names_what_is_missing(missing, complaint):
    env = {k: v for k, v in STRONG.items() if k != missing}

    stderr = serve_refusal(**env)

    assert complaint in stderr
    assert "Traceback" not in stderr


def test_serve_never_turns_the_sandbox_on():
    stderr = serve_refusal(**STRONG, IAMPORT_SANDBOX="1")

    assert "IAMPORT_SANDBOX=1 is refused with DJANGO_DEBUG off" in stderr


def test_gunicorn_binds_host_and_port_with_workers_and_threads_from_the_environment(monkeypatch):
    monkeypatch.setenv("HOST", "0.0.0.0")  # noqa: S104
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.setenv("GUNICORN_WORKERS", "3")
    monkeypatch.setenv("GUNICORN_THREADS", "8")

    argv = serve.gunicorn_argv()

    assert argv[1] == "config.wsgi:application"
    assert argv[argv.index("--bind") + 1] == "0.0.0.0:9000"
    assert argv[argv.index("--workers") + 1] == "3"
    assert argv[argv.index("--threads") + 1] == "8"


def test_gunicorn_defaults_to_loopback_port_8000_and_cores_plus_one_workers_of_8_threads(
    monkeypatch,
):
    for name in ("HOST", "PORT", "GUNICORN_WORKERS", "GUNICORN_THREADS"):
        monkeypatch.delenv(name, raising=False)

    monkeypatch.setattr("os.cpu_count", lambda: 4)

    argv = serve.gunicorn_argv()

    assert argv[argv.index("--bind") + 1] == "127.0.0.1:8000"
    assert argv[argv.index("--workers") + 1] == "5"  # a process per core and one spare
    assert argv[argv.index("--threads") + 1] == "8"


def test_a_bad_worker_count_is_named(monkeypatch):
    monkeypatch.setenv("GUNICORN_WORKERS", "many")

    with pytest.raises(serve.CannotServe, match="GUNICORN_WORKERS must be a positive"):
        serve.gunicorn_argv()


def test_the_production_settings_load_with_everything_configured():
    assert load_settings(**STRONG).returncode == 0


def test_a_request_for_a_foreign_host_is_one_warning_line_not_an_error():
    code = """
import django
django.setup()
from django.test import Client
response = Client().get("/", HTTP_HOST="10.0.0.5:8000")
print(response.status_code)
"""
    result = run_python(code, **STRONG)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "400"
    assert "WARNING django.security.DisallowedHost: Invalid HTTP_HOST header" in result.stderr
    assert "Traceback" not in result.stderr
    assert "ERROR" not in result.stderr


def test_serve_notes_what_a_merchant_most_likely_did_not_mean():
    code = (
        "import os, django; os.environ['DJANGO_EMAIL_BACKEND'] = "
        "'django.core.mail.backends.console.EmailBackend'; django.setup(); "
        "from config.serve import _notices; print('\\n'.join(_notices(3, 8)))"
    )

    result = run_python(code, **STRONG)

    assert "mail is not delivered" in result.stdout
    assert "/media/" in result.stdout
    assert "database connections" not in result.stdout  # SQLite: no such limit


@pytest.mark.postgres
def test_serve_notes_when_postgresql_would_refuse_some_of_gunicorns_connections(db):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW max_connections")
        (limit,) = cursor.fetchone()
    too_many = int(limit) // 2 + 1

    crowded = [n for n in serve._notices(too_many, 2) if "database connections" in n]
    roomy = [n for n in serve._notices(1, 2) if "database connections" in n]

    assert len(crowded) == 1
    assert (
        f"{too_many * 2} database connections at once ({too_many} workers x 2 threads"
        in (crowded[0])
    )
    assert "PostgreSQL accepts" in crowded[0]
    assert "GUNICORN_WORKERS" in crowded[0]
    assert roomy == []
