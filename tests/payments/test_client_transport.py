"""How the client's requests travel: the configured (and finite default) timeout on every
request, timeouts and connection failures mapped to IamportTimeout / IamportUnavailable,
and ids percent-encoded into the URL path (empty or dot segments refused before any
request).

Every reply is registered on the `iamport` fixture's `responses` mock (tests/conftest.py);
nothing reaches the network. Shared constants and reply builders are in tests/payments/helpers.py.
"""

from __future__ import annotations

import re

import pytest
import requests
import responses

from payments.client import IamportClient, IamportTimeout, IamportUnavailable, get_client
from tests.conftest import API
from tests.payments.helpers import IMP_UID, MERCHANT_UID, _requested_urls, envelope, paid_payment


# --- timeouts and transport errors --------------------------------------------------------
def test_every_request_is_sent_with_the_configured_timeout(iamport, settings):
    settings.IAMPORT_TIMEOUT = (1.5, 7.0)
    payment = iamport.payment(MERCHANT_UID, imp_uid=IMP_UID)
    iamport.cancel_ok(payment, amount=12000)
    iamport.rsps.post(
        API + "payments/prepare", json=envelope({"merchant_uid": MERCHANT_UID, "amount": 12000})
    )
    client = get_client()

    client.find_by_imp_uid(IMP_UID)
    client.cancel(
        imp_uid=IMP_UID, merchant_uid=MERCHANT_UID, amount=12000, checksum=12000, reason="환불"
    )
    client.prepare(merchant_uid=MERCHANT_UID, amount=12000)

    timeouts = [call.request.req_kwargs["timeout"] for call in iamport.rsps.calls]
    assert len(timeouts) == 4  # getToken + the three calls
    assert timeouts == [(1.5, 7.0)] * 4


def test_directly_built_client_sends_its_own_timeout(iamport):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID)
    client = IamportClient(api_key="k", api_secret="s", base_url=API, timeout=(2.0, 5.0))

    client.find_by_imp_uid(IMP_UID)

    assert [c.request.req_kwargs["timeout"] for c in iamport.rsps.calls] == [(2.0, 5.0)] * 2


def test_default_timeout_is_finite():
    client = IamportClient(api_key="k", api_secret="s")

    connect, read = client.timeout
    assert 0 < connect <= 10
    assert 0 < read <= 60


@pytest.mark.parametrize("error", [requests.ConnectTimeout, requests.ReadTimeout])
def test_request_timeout_becomes_iamport_timeout(iamport, error):
    iamport.rsps.get(API + f"payments/{IMP_UID}", body=error("slow"))

    with pytest.raises(IamportTimeout) as excinfo:
        get_client().find_by_imp_uid(IMP_UID)

    assert isinstance(excinfo.value, IamportUnavailable)
    assert isinstance(excinfo.value.__cause__, error)


def test_timeout_while_fetching_the_token_becomes_iamport_timeout(iamport):
    iamport.rsps.remove(responses.POST, API + "users/getToken")
    iamport.rsps.post(API + "users/getToken", body=requests.ReadTimeout("slow"))

    with pytest.raises(IamportTimeout):
        get_client().find_by_imp_uid(IMP_UID)


@pytest.mark.parametrize(
    "error",
    [
        requests.ConnectionError,
        requests.exceptions.SSLError,
        requests.exceptions.ChunkedEncodingError,
    ],
)
def test_connection_failure_becomes_iamport_unavailable_not_timeout(iamport, error):
    iamport.rsps.get(API + f"payments/{IMP_UID}", body=error("refused"))

    with pytest.raises(IamportUnavailable) as excinfo:
        get_client().find_by_imp_uid(IMP_UID)

    assert not isinstance(excinfo.value, IamportTimeout)
    assert isinstance(excinfo.value.__cause__, error)


# --- path ids -----------------------------------------------------------------------------
ANY_API_URL = re.compile(re.escape(API) + r".*")


PATH_IDS = [
    pytest.param("order/1", "order%2F1", id="slash"),
    pytest.param("imp/../../users/getToken", "imp%2F..%2F..%2Fusers%2FgetToken", id="traversal"),
    pytest.param("a?b=c", "a%3Fb%3Dc", id="question-mark"),
    pytest.param("a#frag", "a%23frag", id="hash"),
    pytest.param("주문 1", "%EC%A3%BC%EB%AC%B8%201", id="korean-and-space"),
    pytest.param("100%", "100%25", id="percent"),
    pytest.param("a&b;c+d", "a%26b%3Bc%2Bd", id="delimiters"),
]


def _serve_anything(iamport, method: str, response: dict) -> None:
    iamport.rsps.add(method, ANY_API_URL, json=envelope(response))


@pytest.mark.parametrize(("raw", "encoded"), PATH_IDS)
def test_imp_uid_is_percent_encoded_in_the_path(iamport, raw, encoded):
    _serve_anything(iamport, responses.GET, paid_payment(imp_uid=raw))

    get_client().find_by_imp_uid(raw)

    assert _requested_urls(iamport) == [API + f"payments/{encoded}"]


@pytest.mark.parametrize(("raw", "encoded"), PATH_IDS)
def test_merchant_uid_is_percent_encoded_in_the_find_path(iamport, raw, encoded):
    _serve_anything(iamport, responses.GET, paid_payment(merchant_uid=raw))

    get_client().find_by_merchant_uid(raw)
    get_client().find_by_merchant_uid(raw, status="paid")

    assert _requested_urls(iamport) == [
        API + f"payments/find/{encoded}",
        API + f"payments/find/{encoded}/paid",
    ]


@pytest.mark.parametrize(("raw", "encoded"), PATH_IDS)
def test_merchant_uid_is_percent_encoded_in_the_prepare_path(iamport, raw, encoded):
    _serve_anything(iamport, responses.GET, {"merchant_uid": raw, "amount": 12000})

    get_client().find_prepared(raw)

    assert _requested_urls(iamport) == [API + f"payments/prepare/{encoded}"]


def test_status_is_percent_encoded_in_the_find_path(iamport):
    _serve_anything(iamport, responses.GET, paid_payment())

    get_client().find_by_merchant_uid(MERCHANT_UID, status="paid/../x")

    assert _requested_urls(iamport) == [API + f"payments/find/{MERCHANT_UID}/paid%2F..%2Fx"]


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda c, uid: c.find_by_imp_uid(uid), id="find_by_imp_uid"),
        pytest.param(lambda c, uid: c.find_by_merchant_uid(uid), id="find_by_merchant_uid"),
        pytest.param(lambda c, uid: c.find_prepared(uid), id="find_prepared"),
    ],
)
@pytest.mark.parametrize("uid", ["", ".", ".."])
def test_empty_or_dot_segment_id_is_refused_before_any_request(iamport, call, uid):
    _serve_anything(iamport, responses.GET, paid_payment())

    with pytest.raises(ValueError):
        call(get_client(), uid)

    assert len(iamport.rsps.calls) == 0
