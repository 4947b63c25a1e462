"""PAYMENTS_API=v2: what a debug-off start needs, and what the sandbox fills in for debug."""

from __future__ import annotations

import json

import pytest

from tests.config.test_production import STRONG, run_python

V2 = {
    "PAYMENTS_API": "v2",
    "PORTONE_STORE_ID": "store-4ff4af41-85e3-4559-8eb8-0d08a2c6ceec",
    "PORTONE_API_SECRET": "v2-api-secret",
    "PORTONE_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
    "PORTONE_CHANNEL_KEY": "channel-key-893597d6-e62d-410f-83f9-119f530b4b11",
}
# A V2 shop needs no Iamport credentials.
STRONG_V2 = {
    **{k: v for k, v in STRONG.items() if not k.startswith("IAMPORT_")},
    **V2,
}
READ = (
    "import django; django.setup(); from django.conf import settings as s; import json; "
    "print(json.dumps([s.PAYMENTS_API, s.PORTONE_API_URL, s.PORTONE_SDK_URL,"
    " s.PORTONE_WEBHOOK_SECRETS, s.SANDBOX_ENABLED, s.PORTONE_TIMEOUT]))"
)


def read(**env: str) -> list:
    result = run_python(READ, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_complete_v2_configuration_starts_with_portones_real_hosts():
    api, api_url, sdk_url, secrets, sandbox, timeout = read(**STRONG_V2)

    assert api == "v2"
    assert api_url == "https://api.portone.io/"
    assert sdk_url == "https://cdn.portone.io/v2/browser-sdk.js"
    assert secrets == ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]
    assert sandbox is False
    assert timeout == [3.05, 60.0]


@pytest.mark.parametrize(
    "missing",
    ["PORTONE_STORE_ID", "PORTONE_API_SECRET", "PORTONE_WEBHOOK_SECRET", "PORTONE_CHANNEL_KEY"],
)
def test_with_debug_off_each_missing_v2_setting_stops_start_up_by_name(missing):
    env = {k: v for k, v in STRONG_V2.items() if k != missing}

    result = run_python("import django; django.setup()", **env)

    assert result.returncode != 0
    assert "Missing PortOne V2 settings" in result.stderr
    assert missing in result.stderr


def test_two_webhook_secrets_are_kept_for_rotation_and_three_refused():
    two = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw, whsec_c2FuZGJveA=="
    assert read(**{**STRONG_V2, "PORTONE_WEBHOOK_SECRET": two})[3] == [
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_c2FuZGJveA==",
    ]

    result = run_python(
        "import django; django.setup()", **{**STRONG_V2, "PORTONE_WEBHOOK_SECRET": f"{two},x"}
    )
    assert "at most two secrets" in result.stderr


def test_an_unknown_api_is_refused():
    result = run_python("import django; django.setup()", **{**STRONG_V2, "PAYMENTS_API": "v3"})

    assert "PAYMENTS_API must be v1 or v2" in result.stderr


def test_in_debug_without_a_v2_secret_the_sandbox_stands_in_for_portone():
    api, api_url, sdk_url, secrets, sandbox, _ = read(
        DJANGO_DEBUG="1", PAYMENTS_API="v2", SANDBOX_SITE_URL="http://127.0.0.1:8123"
    )

    assert (api, sandbox) == ("v2", True)
    assert api_url == "http://127.0.0.1:8123/sandbox/portone/"
    assert sdk_url == "/sandbox/portone/v2/browser-sdk.js"
    assert secrets and secrets[0].startswith("whsec_")


def test_in_debug_a_v2_secret_turns_the_sandbox_off():
    env = {"DJANGO_DEBUG": "1", **V2}

    assert read(**env)[4] is False
