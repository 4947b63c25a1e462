"""The client's endpoints and what each sends: find by merchant_uid (with or without a
status), cancel with an explicit amount and checksum (impossible amounts and overriding
extras refused before any request), and prepare / prepare_update / find_prepared.

Every reply is registered on the `iamport` fixture's `responses` mock (tests/conftest.py);
nothing reaches the network. Shared constants and reply builders are in tests/payments/helpers.py.
"""

from __future__ import annotations

import pytest

from payments.client import IamportBadResponse, IamportNotFound, Prepared, get_client
from tests.conftest import API, load_fixture
from tests.payments.helpers import (
    FIXTURE_TOKEN,
    IMP_UID,
    MERCHANT_UID,
    _requested_urls,
    api_calls,
    envelope,
    paid_payment,
)


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
