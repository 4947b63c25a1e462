"""Iamport replies that are not a success, and the exceptions the client makes of them:
5xx statuses with HTML or an envelope, 200 bodies that are not an envelope, not-found and
rejections keeping Iamport's code and Korean message, non-200 statuses never a success even
with code 0, and the exception tree under IamportError.

Every reply is registered on the `iamport` fixture's `responses` mock (tests/conftest.py);
nothing reaches the network. Shared constants and reply builders are in tests/payments/helpers.py.
"""

from __future__ import annotations

import json

import pytest

from payments.client import (
    IamportAuthError,
    IamportBadResponse,
    IamportError,
    IamportNotFound,
    IamportRejected,
    IamportTimeout,
    IamportUnavailable,
    get_client,
)
from tests.conftest import API, load_fixture
from tests.payments.helpers import IMP_UID, MERCHANT_UID, envelope, paid_payment


# --- server errors and bodies that are not an envelope ------------------------------------
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


# --- not found and rejected, with Iamport's code and message ------------------------------
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


@pytest.mark.parametrize("status", [400, 409])
def test_a_non_2xx_status_is_never_a_success_even_with_code_zero(iamport, status):
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


# --- the exception tree -------------------------------------------------------------------
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
