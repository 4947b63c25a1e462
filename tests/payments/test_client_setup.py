"""How clients are built and shared: get_client makes one client per configuration from the
settings and its calls share one pooled session; a directly built client uses a given
session, and a base URL without a trailing slash still joins paths.

Every reply is registered on the `iamport` fixture's `responses` mock (tests/conftest.py);
nothing reaches the network. Shared constants and reply builders are in tests/payments/helpers.py.
"""

from __future__ import annotations

from unittest import mock

import pytest
import requests
import responses
from django.test import override_settings

from payments import client as iamport_client
from payments.client import IamportClient, get_client
from tests.conftest import API, load_fixture
from tests.payments.helpers import IMP_UID, MERCHANT_UID, envelope, paid_payment


# --- one pooled session, one client per configuration -------------------------------------
def test_calls_through_get_client_share_one_session(iamport):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID)
    original = requests.Session.request

    with mock.patch.object(requests.Session, "request", autospec=True, side_effect=original) as spy:
        get_client().find_by_imp_uid(IMP_UID)
        get_client().find_by_imp_uid(IMP_UID)

    sessions = {id(call.args[0]) for call in spy.call_args_list}
    assert spy.call_count == 3  # one token, two payments
    assert sessions == {id(get_client().session)}


def test_get_client_returns_the_same_client_for_the_same_settings():
    assert get_client() is get_client()


def test_get_client_builds_the_client_from_settings():
    client = get_client()

    assert client.base_url == "https://api.iamport.kr/"
    assert client.api_key == "imp_apikey"
    assert client.api_secret == "test_api_secret"
    assert client.timeout == (3.05, 10.0)


def test_get_client_returns_another_client_after_the_api_url_changes():
    default = get_client()

    with override_settings(IAMPORT_API_URL="https://iamport-proxy.example.test/v1"):
        proxied = get_client()
        assert get_client() is proxied

    assert proxied is not default
    assert proxied.session is not default.session
    assert proxied.base_url == "https://iamport-proxy.example.test/v1/"
    assert get_client() is default


def test_base_url_without_trailing_slash_still_joins_paths():
    with responses.RequestsMock() as rsps:
        base = "https://iamport-proxy.example.test/v1"
        rsps.post(base + "/users/getToken", json=load_fixture("token"))
        rsps.get(base + f"/payments/{IMP_UID}", json=envelope(paid_payment()))
        client = IamportClient(api_key="k", api_secret="s", base_url=base)

        assert client.find_by_imp_uid(IMP_UID).imp_uid == IMP_UID


def test_client_uses_a_given_session(iamport):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID)
    session = requests.Session()
    client = IamportClient(api_key="k", api_secret="s", base_url=API, session=session)

    with mock.patch.object(session, "request", wraps=session.request) as spy:
        client.find_by_imp_uid(IMP_UID)

    assert client.session is session
    assert spy.call_count == 2
    assert session.headers["Accept"] == "application/json"


def test_the_module_keeps_one_client_per_configuration():
    get_client()
    with override_settings(IAMPORT_TIMEOUT=(1.0, 2.0)):
        get_client()

    assert len(iamport_client._clients) == 2


# --- the environment, read once -------------------------------------------------------------
@pytest.fixture
def env(monkeypatch):
    """No proxy or CA bundle from the machine running the tests; each test sets its own."""
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY", "NO_PROXY", "REQUESTS_CA_BUNDLE"):
        for variant in (name, name.lower()):
            monkeypatch.delenv(variant, raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    return monkeypatch


def test_a_proxy_in_the_environment_is_used_and_read_once(env):
    env.setenv("HTTPS_PROXY", "http://proxy.example:3128")

    session = IamportClient(api_key="k", api_secret="s").session

    assert session.proxies["https"] == "http://proxy.example:3128"
    # requests would read the environment (and look for ~/.netrc) again on every call.
    assert session.trust_env is False


def test_a_host_named_in_no_proxy_is_reached_directly(env):
    env.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    env.setenv("NO_PROXY", "api.iamport.kr")

    session = IamportClient(api_key="k", api_secret="s").session

    assert "https" not in session.proxies


def test_a_ca_bundle_from_the_environment_verifies_the_api(env):
    env.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/company.pem")

    assert IamportClient(api_key="k", api_secret="s").session.verify == "/etc/ssl/certs/company.pem"


def test_without_a_ca_bundle_the_default_one_verifies_the_api(env):
    assert IamportClient(api_key="k", api_secret="s").session.verify is True


def test_the_portone_v2_client_reads_the_environment_the_same_way(env):
    from payments.portone_v2 import PortOneClient

    env.setenv("HTTPS_PROXY", "http://proxy.example:3128")

    session = PortOneClient(api_secret="s").session

    assert session.proxies["https"] == "http://proxy.example:3128"
    assert session.trust_env is False
