"""The Iamport client's access token (payments/client.py): one getToken call reused until
the refresh margin of its server-given life, the key and secret it is asked with, the raw
Authorization header, one refresh-and-retry on a 401, and wrong credentials or a token
reply without a token.

Every reply is registered on the `iamport` fixture's `responses` mock (tests/conftest.py);
nothing reaches the network. Shared constants and reply builders are in tests/payments/helpers.py.
"""

from __future__ import annotations

import json
from unittest import mock

import pytest
import responses

from payments.client import TOKEN_REFRESH_MARGIN, IamportAuthError, IamportBadResponse, get_client
from tests.conftest import API, load_fixture
from tests.payments.helpers import (
    FIXTURE_TOKEN,
    IMP_UID,
    MERCHANT_UID,
    api_calls,
    envelope,
    paid_payment,
    serve_payment,
)


# --- token replies and a hand-moved clock -------------------------------------------------
def token_reply(access_token: str, *, now: int = 1764230400, life: int = 1800) -> dict:
    return envelope({"access_token": access_token, "now": now, "expired_at": now + life})


def set_token_replies(iamport, *replies: dict, status: int = 200) -> None:
    """Replace the fixture's getToken reply with `replies`, answered in order (the last repeats)."""
    iamport.rsps.remove(responses.POST, API + "users/getToken")
    for reply in replies:
        iamport.rsps.post(API + "users/getToken", json=reply, status=status)


def token_calls(iamport) -> list:
    return iamport.calls("POST", "users/getToken")


class FakeMonotonic:
    """A local monotonic clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.value = start

    def __call__(self) -> float:
        return self.value


@pytest.fixture
def clock():
    fake = FakeMonotonic()
    with mock.patch("payments.client.time.monotonic", fake):
        yield fake


# --- caching and refresh ------------------------------------------------------------------
def test_token_is_fetched_once_and_reused_across_calls(iamport):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID)
    client = get_client()

    for _ in range(3):
        client.find_by_imp_uid(IMP_UID)

    assert len(token_calls(iamport)) == 1
    assert len(iamport.calls("GET", f"payments/{IMP_UID}")) == 3


def test_token_request_sends_key_and_secret_as_json(iamport):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID)

    get_client().find_by_imp_uid(IMP_UID)

    (call,) = token_calls(iamport)
    assert call.request.headers["Content-Type"] == "application/json"
    assert json.loads(call.request.body) == {
        "imp_key": "imp_apikey",
        "imp_secret": "test_api_secret",
    }
    assert "Authorization" not in call.request.headers


def test_token_is_sent_raw_in_authorization_header_without_bearer(iamport):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID)

    get_client().find_by_imp_uid(IMP_UID)

    (call,) = iamport.calls("GET", f"payments/{IMP_UID}")
    assert call.request.headers["Authorization"] == FIXTURE_TOKEN


@pytest.mark.parametrize(
    "server_now",
    [
        pytest.param(1764230400, id="server-clock-now"),
        pytest.param(1_000_000_000, id="server-clock-far-in-the-past"),
        pytest.param(4_102_444_800, id="server-clock-far-in-the-future"),
    ],
)
def test_token_life_is_expired_at_minus_now_of_the_reply_not_the_local_clock(
    iamport, clock, server_now
):
    set_token_replies(iamport, token_reply("tok", now=server_now, life=30 * 60))
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID)
    client = get_client()
    client.find_by_imp_uid(IMP_UID)

    clock.value += 30 * 60 - TOKEN_REFRESH_MARGIN - 1
    client.find_by_imp_uid(IMP_UID)
    assert len(token_calls(iamport)) == 1

    clock.value += 1  # now within the refresh margin of the expiry
    client.find_by_imp_uid(IMP_UID)
    assert len(token_calls(iamport)) == 2


@pytest.mark.parametrize(
    "life",
    [
        pytest.param(TOKEN_REFRESH_MARGIN, id="exactly-the-margin"),
        pytest.param(TOKEN_REFRESH_MARGIN - 1, id="inside-the-margin"),
        pytest.param(0, id="already-expired"),
        pytest.param(-600, id="expired-before-now"),
    ],
)
def test_token_with_life_within_refresh_margin_is_fetched_again_on_next_call(iamport, clock, life):
    set_token_replies(iamport, token_reply("short", life=life))
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID)
    client = get_client()

    client.find_by_imp_uid(IMP_UID)
    client.find_by_imp_uid(IMP_UID)  # the local clock has not moved at all

    assert len(token_calls(iamport)) == 2


def test_token_just_above_refresh_margin_is_reused_until_the_margin(iamport, clock):
    set_token_replies(iamport, token_reply("tok", life=TOKEN_REFRESH_MARGIN + 1))
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID)
    client = get_client()

    client.find_by_imp_uid(IMP_UID)
    clock.value += 0.5
    client.find_by_imp_uid(IMP_UID)
    assert len(token_calls(iamport)) == 1

    clock.value += 0.5
    client.find_by_imp_uid(IMP_UID)
    assert len(token_calls(iamport)) == 2


# --- 401: one refresh, one retry ----------------------------------------------------------
def test_401_on_api_call_refreshes_token_once_and_retries_with_new_token(iamport):
    set_token_replies(iamport, token_reply("old_token"), token_reply("new_token"))
    iamport.rsps.get(API + f"payments/{IMP_UID}", status=401, json=load_fixture("unauthorized"))
    serve_payment(iamport, paid_payment())

    payment = get_client().find_by_imp_uid(IMP_UID)

    assert payment.imp_uid == IMP_UID
    assert len(token_calls(iamport)) == 2
    first, retried = iamport.calls("GET", f"payments/{IMP_UID}")
    assert first.request.headers["Authorization"] == "old_token"
    assert retried.request.headers["Authorization"] == "new_token"


def test_refreshed_token_is_kept_for_later_calls(iamport):
    set_token_replies(iamport, token_reply("old_token"), token_reply("new_token"))
    iamport.rsps.get(API + f"payments/{IMP_UID}", status=401, json=load_fixture("unauthorized"))
    serve_payment(iamport, paid_payment())
    client = get_client()
    client.find_by_imp_uid(IMP_UID)

    client.find_by_imp_uid(IMP_UID)

    assert len(token_calls(iamport)) == 2
    last = iamport.calls("GET", f"payments/{IMP_UID}")[-1]
    assert last.request.headers["Authorization"] == "new_token"


def test_401_on_a_post_is_retried_with_the_same_body(iamport):
    set_token_replies(iamport, token_reply("old_token"), token_reply("new_token"))
    iamport.rsps.post(API + "payments/prepare", status=401, json=load_fixture("unauthorized"))
    iamport.rsps.post(
        API + "payments/prepare", json=envelope({"merchant_uid": MERCHANT_UID, "amount": 12000})
    )

    get_client().prepare(merchant_uid=MERCHANT_UID, amount=12000)

    first, retried = iamport.calls("POST", "payments/prepare")
    assert iamport.body(first) == iamport.body(retried)
    assert retried.request.headers["Authorization"] == "new_token"


def test_second_401_after_token_refresh_raises_auth_error(iamport):
    set_token_replies(iamport, token_reply("old_token"), token_reply("new_token"))
    iamport.rsps.get(API + f"payments/{IMP_UID}", status=401, json=load_fixture("unauthorized"))

    with pytest.raises(IamportAuthError) as excinfo:
        get_client().find_by_imp_uid(IMP_UID)

    assert excinfo.value.http_status == 401
    assert excinfo.value.message == "Unauthorized"
    assert len(token_calls(iamport)) == 2
    assert len(iamport.calls("GET", f"payments/{IMP_UID}")) == 2


# --- credentials refused, token replies without a token -----------------------------------
def test_wrong_credentials_raise_auth_error_with_iamport_message_without_retry(iamport):
    message = "imp_key, imp_secret 파라메터가 올바르지 않습니다."
    set_token_replies(iamport, envelope(code=-1, message=message), status=401)
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID)

    with pytest.raises(IamportAuthError) as excinfo:
        get_client().find_by_imp_uid(IMP_UID)

    assert excinfo.value.message == message
    assert excinfo.value.code == -1
    assert excinfo.value.http_status == 401
    assert len(token_calls(iamport)) == 1
    assert api_calls(iamport) == []


def test_wrong_credentials_without_envelope_raise_auth_error(iamport):
    iamport.rsps.remove(responses.POST, API + "users/getToken")
    iamport.rsps.post(API + "users/getToken", status=401, body="Unauthorized")

    with pytest.raises(IamportAuthError) as excinfo:
        get_client().find_by_imp_uid(IMP_UID)

    assert excinfo.value.http_status == 401
    assert len(token_calls(iamport)) == 1


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(None, id="null"),
        pytest.param({"now": 1764230400, "expired_at": 1764232200}, id="no-access-token"),
        pytest.param({"access_token": "", "expired_at": 1764232200}, id="empty-access-token"),
        pytest.param(["tok"], id="list"),
    ],
)
def test_token_reply_without_access_token_is_a_bad_response(iamport, response):
    set_token_replies(iamport, envelope(response))

    with pytest.raises(IamportBadResponse):
        get_client().find_by_imp_uid(IMP_UID)

    assert api_calls(iamport) == []
