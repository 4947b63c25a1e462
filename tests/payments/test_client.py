"""The Iamport REST client (payments/client.py) against a mocked api.iamport.kr.

Every reply is registered on the `iamport` fixture's `responses` mock (tests/conftest.py);
nothing reaches the network. Payloads come from tests/fixtures/iamport/, shaped like the real
API, and are changed field by field where a test needs another shape.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import pytest
import requests
import responses
from django.test import override_settings

from payments import client as iamport_client
from payments.client import (
    TOKEN_REFRESH_MARGIN,
    CancelHistory,
    IamportAuthError,
    IamportBadResponse,
    IamportClient,
    IamportError,
    IamportNotFound,
    IamportPayment,
    IamportRejected,
    IamportTimeout,
    IamportUnavailable,
    Prepared,
    get_client,
)
from tests.conftest import API, load_fixture

IMP_UID = "imp_123456789012"
MERCHANT_UID = "order_20251127_0001"
FIXTURE_TOKEN = load_fixture("token")["response"]["access_token"]
ANY_API_URL = re.compile(re.escape(API) + r".*")


# --- helpers ------------------------------------------------------------------------------
def envelope(response: Any = None, *, code: int = 0, message: str | None = None) -> dict:
    return {"code": code, "message": message, "response": response}


def token_reply(access_token: str, *, now: int = 1764230400, life: int = 1800) -> dict:
    return envelope({"access_token": access_token, "now": now, "expired_at": now + life})


def set_token_replies(iamport, *replies: dict, status: int = 200) -> None:
    """Replace the fixture's getToken reply with `replies`, answered in order (the last repeats)."""
    iamport.rsps.remove(responses.POST, API + "users/getToken")
    for reply in replies:
        iamport.rsps.post(API + "users/getToken", json=reply, status=status)


def paid_payment(**fields: Any) -> dict[str, Any]:
    payment = load_fixture("payment_paid")["response"]
    payment.update({"imp_uid": IMP_UID, "merchant_uid": MERCHANT_UID, **fields})
    return payment


def serve_payment(iamport, payment: dict[str, Any]) -> None:
    iamport.rsps.get(API + f"payments/{IMP_UID}", json=envelope(payment))


def token_calls(iamport) -> list:
    return iamport.calls("POST", "users/getToken")


def api_calls(iamport) -> list:
    """Every request except the token's."""
    return [c for c in iamport.rsps.calls if not c.request.url.endswith("/users/getToken")]


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


# --- token --------------------------------------------------------------------------------
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


# --- replies that are not a success -------------------------------------------------------
@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_error_with_html_body_is_a_bad_response_with_http_status(iamport, status):
    iamport.rsps.get(
        API + f"payments/{IMP_UID}",
        status=status,
        body="<html><body><h1>502 Bad Gateway</h1></body></html>",
        content_type="text/html",
    )

    with pytest.raises(IamportBadResponse) as excinfo:
        get_client().find_by_imp_uid(IMP_UID)

    assert excinfo.value.http_status == status


def test_server_error_with_envelope_is_a_bad_response_keeping_the_message(iamport):
    iamport.rsps.get(
        API + f"payments/{IMP_UID}",
        status=500,
        json=envelope(code=-1, message="일시적인 오류가 발생했습니다."),
    )

    with pytest.raises(IamportBadResponse) as excinfo:
        get_client().find_by_imp_uid(IMP_UID)

    assert excinfo.value.http_status == 500
    assert "일시적인 오류가 발생했습니다." in excinfo.value.message


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("<html>maintenance</html>", id="html"),
        pytest.param("", id="empty"),
        pytest.param("{not json", id="broken-json"),
        pytest.param("null", id="json-null"),
        pytest.param("[]", id="json-empty-list"),
        pytest.param(json.dumps([envelope(paid_payment())]), id="json-list-of-envelopes"),
        pytest.param('"ok"', id="json-string"),
        pytest.param("0", id="json-number"),
        pytest.param(json.dumps(paid_payment()), id="bare-payment-no-envelope"),
        pytest.param('{"message": "ok", "response": {}}', id="object-without-code"),
    ],
)
def test_ok_status_with_body_that_is_not_an_envelope_is_a_bad_response(iamport, body):
    iamport.rsps.get(API + f"payments/{IMP_UID}", body=body, content_type="application/json")

    with pytest.raises(IamportBadResponse) as excinfo:
        get_client().find_by_imp_uid(IMP_UID)

    assert excinfo.value.http_status == 200


def test_success_envelope_without_a_payment_is_a_bad_response(iamport):
    iamport.rsps.get(API + f"payments/{IMP_UID}", json=envelope(None))

    with pytest.raises(IamportBadResponse):
        get_client().find_by_imp_uid(IMP_UID)


def test_not_found_keeps_iamport_korean_message(iamport):
    iamport.not_found(IMP_UID)

    with pytest.raises(IamportNotFound) as excinfo:
        get_client().find_by_imp_uid(IMP_UID)

    assert excinfo.value.message == "존재하지 않는 결제정보입니다."
    assert excinfo.value.http_status == 404
    assert excinfo.value.code == 1
    assert isinstance(excinfo.value, IamportRejected)


def test_not_found_without_a_message_still_says_not_found(iamport):
    iamport.rsps.get(API + f"payments/{IMP_UID}", status=404, json=envelope(code=1))

    with pytest.raises(IamportNotFound) as excinfo:
        get_client().find_by_imp_uid(IMP_UID)

    assert excinfo.value.message


def test_cancel_of_already_cancelled_payment_is_rejected_with_code_and_message(iamport):
    iamport.rsps.post(API + "payments/cancel", json=load_fixture("cancel_refused_already"))

    with pytest.raises(IamportRejected) as excinfo:
        get_client().cancel(
            imp_uid=IMP_UID, merchant_uid=MERCHANT_UID, amount=12000, checksum=12000, reason="환불"
        )

    error = excinfo.value
    assert type(error) is IamportRejected
    assert error.code == 1
    assert error.message == "이미 전액취소된 주문입니다."
    assert error.http_status == 200
    assert str(error) == "이미 전액취소된 주문입니다."


def test_bad_request_with_envelope_is_rejected_with_iamport_message(iamport):
    message = "merchant_uid 는 필수입력입니다."
    iamport.rsps.post(API + "payments/prepare", status=400, json=envelope(code=-1, message=message))

    with pytest.raises(IamportRejected) as excinfo:
        get_client().prepare(merchant_uid=MERCHANT_UID, amount=12000)

    assert type(excinfo.value) is IamportRejected
    assert excinfo.value.http_status == 400
    assert excinfo.value.code == -1
    assert excinfo.value.message == message


@pytest.mark.parametrize("status", [201, 400, 409])
def test_status_other_than_200_is_never_a_success_even_with_code_zero(iamport, status):
    iamport.rsps.post(
        API + "payments/prepare",
        status=status,
        json=envelope({"merchant_uid": MERCHANT_UID, "amount": 12000}, message="not done"),
    )

    with pytest.raises(IamportRejected) as excinfo:
        get_client().prepare(merchant_uid=MERCHANT_UID, amount=12000)

    assert excinfo.value.http_status == status
    assert excinfo.value.code == 0


def test_rejection_without_a_message_gets_a_readable_one(iamport):
    iamport.rsps.post(API + "payments/cancel", json=envelope(code=-1, message=None))

    with pytest.raises(IamportRejected) as excinfo:
        get_client().cancel(
            imp_uid=IMP_UID, merchant_uid=MERCHANT_UID, amount=100, checksum=100, reason="r"
        )

    assert excinfo.value.message


def test_every_failure_is_an_iamport_error():
    for error in (
        IamportUnavailable,
        IamportTimeout,
        IamportBadResponse,
        IamportRejected,
        IamportAuthError,
        IamportNotFound,
    ):
        assert issubclass(error, IamportError)


# --- parsing a payment --------------------------------------------------------------------
def test_paid_payment_is_parsed_into_typed_fields(iamport):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID)

    payment = get_client().find_by_imp_uid(IMP_UID)

    assert isinstance(payment, IamportPayment)
    assert payment.imp_uid == IMP_UID
    assert payment.merchant_uid == MERCHANT_UID
    assert payment.amount == 12000
    assert type(payment.amount) is int
    assert payment.cancel_amount == 0
    assert type(payment.cancel_amount) is int
    assert payment.currency == "KRW"
    assert payment.status == "paid"
    assert payment.pay_method == "card"
    assert payment.pg_provider == "html5_inicis"
    assert payment.pg_tid == "StdpayCARDINIpayTest20261127120000123456"
    assert payment.name == "유기농 원두 200g"
    assert payment.buyer_name == "홍길동"
    assert payment.buyer_email == "buyer@example.com"
    assert payment.receipt_url.startswith("https://iniweb.inicis.com/")
    assert payment.fail_reason == ""  # null -> "", never "None"
    assert payment.cancel_reason == ""
    assert payment.cancel_history == ()
    assert payment.remaining_amount == 12000
    assert payment.raw["apply_num"] == "30012345"


def test_unix_timestamps_become_aware_utc_datetimes_and_zero_becomes_none(iamport):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID)

    payment = get_client().find_by_imp_uid(IMP_UID)

    assert payment.paid_at == datetime(2025, 11, 27, 8, 1, 30, tzinfo=UTC)
    assert payment.paid_at.utcoffset().total_seconds() == 0
    assert payment.failed_at is None
    assert payment.cancelled_at is None
    assert payment.vbank_date is None


@pytest.mark.parametrize("value", [None, ""])
def test_missing_timestamp_becomes_none(iamport, value):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID, paid_at=value)

    assert get_client().find_by_imp_uid(IMP_UID).paid_at is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(12000, 12000, id="int"),
        pytest.param(12000.0, 12000, id="whole-float"),
        pytest.param("12000", 12000, id="numeric-string"),
    ],
)
def test_amounts_are_parsed_as_int(iamport, value, expected):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID, amount=value, cancel_amount=value)

    payment = get_client().find_by_imp_uid(IMP_UID)

    assert payment.amount == expected
    assert type(payment.amount) is int
    assert payment.cancel_amount == expected
    assert type(payment.cancel_amount) is int


@pytest.mark.parametrize("field", ["amount", "cancel_amount"])
@pytest.mark.parametrize(
    "value",
    [
        pytest.param(12000.5, id="fraction"),
        pytest.param(True, id="true"),
        pytest.param(False, id="false"),
        pytest.param("12,000", id="formatted-string"),
        pytest.param("12000.5", id="fractional-string"),
        pytest.param("abc", id="word"),
        pytest.param([12000], id="list"),
        pytest.param({"value": 12000}, id="object"),
    ],
)
def test_amount_that_is_not_whole_won_is_a_bad_response(iamport, field, value):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID, **{field: value})

    with pytest.raises(IamportBadResponse):
        get_client().find_by_imp_uid(IMP_UID)


@pytest.mark.parametrize("field", ["imp_uid", "merchant_uid"])
@pytest.mark.parametrize("value", [None, ""])
def test_payment_without_its_ids_is_a_bad_response(iamport, field, value):
    payment = paid_payment(**{field: value})
    serve_payment(iamport, payment)

    with pytest.raises(IamportBadResponse):
        get_client().find_by_imp_uid(IMP_UID)


@pytest.mark.parametrize("field", ["imp_uid", "merchant_uid"])
def test_payment_with_an_id_missing_altogether_is_a_bad_response(iamport, field):
    payment = paid_payment()
    del payment[field]
    serve_payment(iamport, payment)

    with pytest.raises(IamportBadResponse):
        get_client().find_by_imp_uid(IMP_UID)


@pytest.mark.parametrize("status", ["PAID", "partial_cancelled", "unknown", "", None])
def test_unknown_payment_status_is_a_bad_response(iamport, status):
    serve_payment(iamport, paid_payment(status=status))

    with pytest.raises(IamportBadResponse):
        get_client().find_by_imp_uid(IMP_UID)


@pytest.mark.parametrize("fixture", ["payment_paid", "payment_cancelled", "payment_failed"])
def test_every_known_status_fixture_is_parsed(iamport, fixture):
    body = load_fixture(fixture)
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID, fixture=fixture)

    assert get_client().find_by_imp_uid(IMP_UID).status == body["response"]["status"]


def test_payment_that_is_not_an_object_is_a_bad_response(iamport):
    iamport.rsps.get(API + f"payments/{IMP_UID}", json=envelope([paid_payment()]))

    with pytest.raises(IamportBadResponse):
        get_client().find_by_imp_uid(IMP_UID)


def test_cancel_history_is_parsed(iamport):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID, fixture="payment_cancelled")

    payment = get_client().find_by_imp_uid(IMP_UID)

    assert payment.status == "cancelled"
    assert payment.cancel_amount == 12000
    assert payment.cancelled_at == datetime(2025, 11, 27, 9, 0, tzinfo=UTC)
    assert payment.cancel_reason == "고객 요청"
    assert payment.cancel_history == (
        CancelHistory(
            amount=12000,
            reason="고객 요청",
            cancelled_at=datetime(2025, 11, 27, 9, 0, tzinfo=UTC),
            pg_tid="StdpayCARDINIpayTest20261127120000123456",
            receipt_url="https://iniweb.inicis.com/receipt/cancel/1",
            cancellation_id="cncl_001",
        ),
    )


def test_several_partial_cancels_keep_their_order(iamport):
    history = [
        {"amount": 2000, "reason": "부분 환불 1", "cancelled_at": 1764234000},
        {"amount": 3000.0, "reason": "부분 환불 2", "cancelled_at": 1764234001},
    ]
    serve_payment(iamport, paid_payment(cancel_amount=5000, cancel_history=history))

    payment = get_client().find_by_imp_uid(IMP_UID)

    assert [(h.amount, h.reason) for h in payment.cancel_history] == [
        (2000, "부분 환불 1"),
        (3000, "부분 환불 2"),
    ]
    assert payment.cancel_history[0].cancellation_id == ""  # absent -> ""
    assert payment.status == "paid"
    assert payment.remaining_amount == 7000


@pytest.mark.parametrize("history", [None, []])
def test_no_cancel_history_is_an_empty_tuple(iamport, history):
    serve_payment(iamport, paid_payment(cancel_history=history))

    assert get_client().find_by_imp_uid(IMP_UID).cancel_history == ()


@pytest.mark.parametrize("history", ["cancelled", {"amount": 100}])
def test_cancel_history_that_is_not_a_list_is_a_bad_response(iamport, history):
    serve_payment(iamport, paid_payment(cancel_history=history))

    with pytest.raises(IamportBadResponse):
        get_client().find_by_imp_uid(IMP_UID)


def test_cancel_history_with_a_fractional_amount_is_a_bad_response(iamport):
    history = [{"amount": 100.5, "reason": "r", "cancelled_at": 1764234000}]
    serve_payment(iamport, paid_payment(cancel_amount=100, cancel_history=history))

    with pytest.raises(IamportBadResponse):
        get_client().find_by_imp_uid(IMP_UID)


@pytest.mark.parametrize(
    ("amount", "cancel_amount", "remaining"),
    [
        (12000, 0, 12000),
        (12000, 5000, 7000),
        (12000, 12000, 0),
        (12000, 13000, 0),  # never negative, even if Iamport over-reports
    ],
)
def test_remaining_amount_is_what_can_still_be_cancelled(iamport, amount, cancel_amount, remaining):
    serve_payment(iamport, paid_payment(amount=amount, cancel_amount=cancel_amount))

    assert get_client().find_by_imp_uid(IMP_UID).remaining_amount == remaining


def test_virtual_account_fields_are_parsed(iamport):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID, fixture="payment_vbank_ready")

    payment = get_client().find_by_imp_uid(IMP_UID)

    assert payment.status == "ready"
    assert payment.pay_method == "vbank"
    assert payment.vbank_code == "004"
    assert payment.vbank_name == "KB국민은행"
    assert payment.vbank_num == "12345678901234"
    assert payment.vbank_holder == "아임포트 상점"
    assert payment.vbank_date == datetime(2025, 11, 30, 7, 59, 59, tzinfo=UTC)
    assert payment.paid_at is None


def test_card_payment_has_empty_virtual_account_fields(iamport):
    iamport.payment(MERCHANT_UID, imp_uid=IMP_UID)

    payment = get_client().find_by_imp_uid(IMP_UID)

    vbank = (payment.vbank_code, payment.vbank_name, payment.vbank_num, payment.vbank_holder)
    assert vbank == ("", "", "", "")  # null -> "", never "None"


def test_missing_currency_defaults_to_krw(iamport):
    payment = paid_payment()
    del payment["currency"]
    serve_payment(iamport, payment)

    assert get_client().find_by_imp_uid(IMP_UID).currency == "KRW"


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(1764230490000, id="milliseconds"),
        pytest.param(10**20, id="beyond-time_t"),
    ],
)
def test_out_of_range_timestamp_is_a_bad_response(iamport, value):
    serve_payment(iamport, paid_payment(paid_at=value))

    with pytest.raises(IamportBadResponse):
        get_client().find_by_imp_uid(IMP_UID)


# --- path ids -----------------------------------------------------------------------------
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


def _requested_urls(iamport) -> list[str]:
    return [call.request.url for call in api_calls(iamport)]


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


# --- find by merchant_uid -----------------------------------------------------------------
def test_find_by_merchant_uid_without_status_hits_find_path(iamport):
    iamport.rsps.get(API + f"payments/find/{MERCHANT_UID}", json=envelope(paid_payment()))

    payment = get_client().find_by_merchant_uid(MERCHANT_UID)

    assert payment.merchant_uid == MERCHANT_UID
    assert _requested_urls(iamport) == [API + f"payments/find/{MERCHANT_UID}"]
    assert api_calls(iamport)[0].request.method == "GET"


@pytest.mark.parametrize("status", ["ready", "paid", "cancelled", "failed"])
def test_find_by_merchant_uid_with_status_hits_status_path(iamport, status):
    iamport.rsps.get(
        API + f"payments/find/{MERCHANT_UID}/{status}",
        json=envelope(paid_payment(status=status)),
    )

    payment = get_client().find_by_merchant_uid(MERCHANT_UID, status=status)

    assert payment.status == status
    assert _requested_urls(iamport) == [API + f"payments/find/{MERCHANT_UID}/{status}"]


def test_find_by_merchant_uid_not_found(iamport):
    iamport.rsps.get(
        API + f"payments/find/{MERCHANT_UID}", status=404, json=load_fixture("not_found")
    )

    with pytest.raises(IamportNotFound):
        get_client().find_by_merchant_uid(MERCHANT_UID)


# --- cancel -------------------------------------------------------------------------------
def test_cancel_sends_explicit_amount_and_checksum_as_json(iamport):
    payment = iamport.payment(MERCHANT_UID, imp_uid=IMP_UID)
    iamport.cancel_ok(payment, amount=12000, reason="고객 요청")

    result = get_client().cancel(
        imp_uid=IMP_UID, merchant_uid=MERCHANT_UID, amount=12000, checksum=12000, reason="고객 요청"
    )

    (call,) = iamport.calls("POST", "payments/cancel")
    assert call.request.headers["Content-Type"] == "application/json"
    assert call.request.headers["Authorization"] == FIXTURE_TOKEN
    assert iamport.body(call) == {
        "imp_uid": IMP_UID,
        "merchant_uid": MERCHANT_UID,
        "amount": 12000,  # explicit even for a full cancel
        "checksum": 12000,
        "reason": "고객 요청",
    }
    assert result.status == "cancelled"
    assert result.cancel_amount == 12000
    assert result.remaining_amount == 0
    assert [h.reason for h in result.cancel_history] == ["고객 요청"]


def test_partial_cancel_sends_the_part_and_the_balance(iamport):
    payment = iamport.payment(MERCHANT_UID, imp_uid=IMP_UID)
    iamport.cancel_ok(payment, amount=3000)

    result = get_client().cancel(
        imp_uid=IMP_UID, merchant_uid=MERCHANT_UID, amount=3000, checksum=12000, reason="부분 환불"
    )

    body = iamport.body(iamport.calls("POST", "payments/cancel")[0])
    assert (body["amount"], body["checksum"]) == (3000, 12000)
    assert result.status == "paid"
    assert result.remaining_amount == 9000


def test_cancel_passes_extra_fields(iamport):
    payment = iamport.payment(MERCHANT_UID, imp_uid=IMP_UID, fixture="payment_vbank_ready")
    iamport.cancel_ok(payment, amount=12000)
    extra = {
        "refund_holder": "홍길동",
        "refund_bank": "04",
        "refund_account": "12345678901234",
        "refund_tel": "010-1234-5678",
        "tax_free": 0,
    }

    get_client().cancel(
        imp_uid=IMP_UID,
        merchant_uid=MERCHANT_UID,
        amount=12000,
        checksum=12000,
        reason="환불",
        extra=extra,
    )

    body = iamport.body(iamport.calls("POST", "payments/cancel")[0])
    assert body == {
        "imp_uid": IMP_UID,
        "merchant_uid": MERCHANT_UID,
        "amount": 12000,
        "checksum": 12000,
        "reason": "환불",
        **extra,
    }


@pytest.mark.parametrize(
    ("amount", "checksum"),
    [
        pytest.param(0, 12000, id="zero-amount"),
        pytest.param(-1, 12000, id="negative-amount"),
        pytest.param(1000, 0, id="zero-checksum"),
        pytest.param(1000, -1, id="negative-checksum"),
        pytest.param(12001, 12000, id="amount-above-checksum"),
    ],
)
def test_cancel_refuses_impossible_amounts_before_any_request(iamport, amount, checksum):
    with pytest.raises(ValueError):
        get_client().cancel(
            imp_uid=IMP_UID,
            merchant_uid=MERCHANT_UID,
            amount=amount,
            checksum=checksum,
            reason="환불",
        )

    assert len(iamport.rsps.calls) == 0  # not even a token


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"amount": 0}, id="amount-zero-means-everything"),
        pytest.param({"checksum": None}, id="no-checksum"),
        pytest.param({"imp_uid": "imp_someone_else"}, id="other-payment"),
    ],
)
def test_cancel_extra_cannot_replace_the_checked_fields(iamport, extra):
    iamport.rsps.post(API + "payments/cancel", json=envelope(paid_payment()))

    with pytest.raises(ValueError):
        get_client().cancel(
            imp_uid=IMP_UID,
            merchant_uid=MERCHANT_UID,
            amount=1000,
            checksum=12000,
            reason="환불",
            extra=extra,
        )

    assert len(iamport.rsps.calls) == 0


# --- prepare ------------------------------------------------------------------------------
def _prepare_reply(amount: int = 12000) -> dict:
    body = load_fixture("prepare")
    body["response"]["merchant_uid"] = MERCHANT_UID
    body["response"]["amount"] = amount
    return body


def test_prepare_posts_merchant_uid_and_amount(iamport):
    iamport.rsps.post(API + "payments/prepare", json=_prepare_reply())

    prepared = get_client().prepare(merchant_uid=MERCHANT_UID, amount=12000)

    assert prepared == Prepared(merchant_uid=MERCHANT_UID, amount=12000)
    (call,) = iamport.calls("POST", "payments/prepare")
    assert call.request.headers["Content-Type"] == "application/json"
    assert call.request.headers["Authorization"] == FIXTURE_TOKEN
    assert iamport.body(call) == {"merchant_uid": MERCHANT_UID, "amount": 12000}


def test_prepare_update_puts_merchant_uid_and_amount(iamport):
    iamport.rsps.put(API + "payments/prepare", json=_prepare_reply(15000))

    prepared = get_client().prepare_update(merchant_uid=MERCHANT_UID, amount=15000)

    assert prepared == Prepared(merchant_uid=MERCHANT_UID, amount=15000)
    (call,) = iamport.calls("PUT", "payments/prepare")
    assert iamport.body(call) == {"merchant_uid": MERCHANT_UID, "amount": 15000}
    assert iamport.calls("POST", "payments/prepare") == []


def test_prepare_update_of_unknown_registration_is_not_found(iamport):
    iamport.rsps.put(
        API + "payments/prepare",
        status=404,
        json=envelope(code=1, message="사전등록된 결제정보가 존재하지 않습니다."),
    )

    with pytest.raises(IamportNotFound) as excinfo:
        get_client().prepare_update(merchant_uid=MERCHANT_UID, amount=15000)

    assert excinfo.value.message == "사전등록된 결제정보가 존재하지 않습니다."


def test_find_prepared_gets_the_registration(iamport):
    iamport.rsps.get(API + f"payments/prepare/{MERCHANT_UID}", json=_prepare_reply())

    prepared = get_client().find_prepared(MERCHANT_UID)

    assert prepared == Prepared(merchant_uid=MERCHANT_UID, amount=12000)
    assert type(prepared.amount) is int
    (call,) = iamport.calls("GET", f"payments/prepare/{MERCHANT_UID}")
    assert call.request.body is None


@pytest.mark.parametrize(
    "response",
    [
        pytest.param(None, id="null"),
        pytest.param([], id="list"),
        pytest.param({"amount": 12000}, id="no-merchant-uid"),
        pytest.param({"merchant_uid": MERCHANT_UID, "amount": 12000.5}, id="fractional-amount"),
    ],
)
def test_prepared_reply_that_is_not_a_registration_is_a_bad_response(iamport, response):
    iamport.rsps.get(API + f"payments/prepare/{MERCHANT_UID}", json=envelope(response))

    with pytest.raises(IamportBadResponse):
        get_client().find_prepared(MERCHANT_UID)


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


@pytest.mark.parametrize("amount", [None, "", "1_000", "١٢٠٠٠", " 12000", -1, "-500", 10**15])
def test_missing_or_oddly_written_amount_is_a_bad_response(iamport, amount):
    payment = paid_payment(amount=amount)
    if amount is None:
        del payment["amount"]
    serve_payment(iamport, payment)

    with pytest.raises(IamportBadResponse, match="amount"):
        get_client().find_by_imp_uid(IMP_UID)
