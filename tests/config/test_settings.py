"""Start-up refuses to run in production without its secrets, and never with the sandbox."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FULL = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "k" * 50,
    "DJANGO_ALLOWED_HOSTS": "shop.example.com",
    "IAMPORT_MERCHANT_CODE": "imp12345678",
    "IAMPORT_API_KEY": "key",
    "IAMPORT_API_SECRET": "secret",
    "SHOP_BASE_URL": "https://shop.example.com",
}
PRINT = (
    "from django.conf import settings as s; "
    "print(s.DEBUG, s.SANDBOX_ENABLED, s.IAMPORT_API_URL, s.IAMPORT_SCRIPT_URL, s.IAMPORT_PG)"
)


def load_settings(**env: str) -> subprocess.CompletedProcess:
    """Import the real settings in a fresh interpreter with only `env` configured."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "IAMPORT_", "SHOP_"))
    }
    clean.update(
        env,
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_ENV_FILE="/dev/null",  # a developer's .env must not fill in what a test leaves out
        DATABASE_URL="sqlite:///:memory:",
    )
    return subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); {PRINT}"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_production_settings_with_everything_configured_load():
    result = load_settings(**FULL)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "False",
        "False",
        "https://api.iamport.kr/",
        "https://cdn.iamport.kr/v1/iamport.js",
        "html5_inicis",
    ]


@pytest.mark.parametrize(
    ("missing", "complaint"),
    [
        ("DJANGO_SECRET_KEY", "DJANGO_SECRET_KEY is not set"),
        ("IAMPORT_API_KEY", "Missing Iamport credentials: IAMPORT_API_KEY"),
        ("IAMPORT_API_SECRET", "Missing Iamport credentials: IAMPORT_API_SECRET"),
        ("IAMPORT_MERCHANT_CODE", "Missing Iamport credentials: IAMPORT_MERCHANT_CODE"),
        ("SHOP_BASE_URL", "SHOP_BASE_URL is not set"),
    ],
)
def test_production_without_a_secret_stops_with_a_clear_message(missing, complaint):
    env = {k: v for k, v in FULL.items() if k != missing}

    result = load_settings(**env)

    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert complaint in result.stderr


def test_the_sandbox_is_refused_in_production():
    result = load_settings(**FULL, IAMPORT_SANDBOX="1")

    assert result.returncode != 0
    assert "IAMPORT_SANDBOX=1 is refused with DJANGO_DEBUG off" in result.stderr


def test_debug_without_credentials_turns_the_sandbox_on():
    result = load_settings(DJANGO_DEBUG="1")

    assert result.returncode == 0, result.stderr
    debug, sandbox, api_url, script_url, _ = result.stdout.split()
    assert (debug, sandbox) == ("True", "True")
    assert api_url == "http://127.0.0.1:8000/sandbox/iamport/"
    assert script_url == "/sandbox/iamport/v1/iamport.js"


def test_debug_with_real_credentials_uses_real_iamport():
    result = load_settings(
        DJANGO_DEBUG="1", IAMPORT_API_KEY="key", IAMPORT_API_SECRET="secret", IAMPORT_PG="kcp"
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "True",
        "False",
        "https://api.iamport.kr/",
        "https://cdn.iamport.kr/v1/iamport.js",
        "kcp",
    ]


def test_a_malformed_boolean_is_refused():
    result = load_settings(**{**FULL, "DJANGO_DEBUG": "maybe"})

    assert result.returncode != 0
    assert "DJANGO_DEBUG must be a boolean" in result.stderr


def run_manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "IAMPORT_", "SHOP_"))
    }
    clean.update(env, DJANGO_ENV_FILE="/dev/null", DATABASE_URL="sqlite:///:memory:")
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_manage_py_is_a_development_tool_that_defaults_to_debug():
    result = run_manage("shell", "--verbosity", "0", "-c", PRINT)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["True", "True"]  # debug, and so the sandbox


def test_manage_py_with_debug_off_still_refuses_to_run_without_secrets():
    result = run_manage("check", DJANGO_DEBUG="0")

    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY is not set" in result.stderr


def test_manage_py_assumes_nothing_where_a_secret_key_is_configured():
    production = {k: v for k, v in FULL.items() if k != "DJANGO_DEBUG"}

    result = run_manage("shell", "--verbosity", "0", "-c", PRINT, **production)

    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[:2] == ["False", "False"]


def test_a_malformed_webhook_rate_stops_start_up():
    result = load_settings(**{**FULL, "IAMPORT_WEBHOOK_RATE": "lots"})

    assert result.returncode != 0
    assert "IAMPORT_WEBHOOK_RATE must look like 60/60" in result.stderr
