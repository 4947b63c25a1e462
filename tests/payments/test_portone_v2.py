"""The PortOne V2 client: V2 payments read as the shop's `IamportPayment`, cancels and
pre-registrations sent as PortOne expects, and every failure raised as the V1 client's
exception tree.

Replies are recorded V2 shapes (tests/fixtures/portone_v2/) with every field PortOne's schema
requires, served by a `responses` mock; nothing reaches the network.
"""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from payments import client as client_module
from payments import portone_v2
from payments.client import (
    IamportAuthError,
    IamportBadResponse,
    IamportNotFound,
    IamportPayment,
    IamportRejected,
    IamportTimeout,
    IamportUnavailable,
    PaymentStatus,
    time_budget,
)
from payments.portone_v2 import (
    PortOneAuthError,
    PortOneClient,
    PortOneRejected,
    get_client,
    payment_from_api,
)

FIXTURES = Path(__file__).parent.parent / "fixtures" / "portone_v2"
API = "https://api.portone.io/"
PAYMENT_ID = "order-1001"
KEY = "refund-7f3a9c2e-0001"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _fresh_clients():
    portone_v2._clients.clear()
    yield
    portone_v2._clients.clear()


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def client() -> PortOneClient:
    return PortOneClient(api_secret="secret-v2", timeout=(3.05, 60.0))


@pytest.fixture
def sent(client, monkeypatch) -> list[dict[str, Any]]:
    """The keyword arguments of every request the client's session makes."""
    calls: list[dict[str, Any]] = []
    original = client.session.request

    def spy(*args: Any, **kwargs: Any) -> requests.Response:
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(client.session, "request", spy)
    return calls


def serve(rsps, name: str, payment_id: str = PAYMENT_ID, **fields: Any) -> dict[str, Any]:
    body = fixture(name) | fields
    rsps.get(API + f"payments/{payment_id}", json=body)
    return body


# --- the seven statuses ---------------------------------------------------------------------
def test_paid_card_payment(rsps, client):
    serve(rsps, "payment_paid")

    payment = client.find_payment(PAYMENT_ID)

    assert isinstance(payment, IamportPayment)
    assert payment.status == PaymentStatus.PAID
    assert (payment.merchant_uid, payment.imp_uid) == ("order-1001", "0193a1b2-tx-1")
    assert (payment.amount, payment.cancel_amount, payment.currency) == (12000, 0, "KRW")
    assert (payment.pay_method, payment.pg_provider, payment.pg_tid) == (
        "card",
        "tosspayments",
        "pg-tx-1",
    )
    assert payment.channel == "TEST"
    assert payment.paid_at == datetime(2024, 4, 25, 10, 0, 5, tzinfo=UTC)
    assert (payment.name, payment.buyer_name, payment.buyer_email) == (
        "운동화",
        "홍길동",
        "buyer@example.com",
    )
    assert payment.receipt_url == "https://receipt.example.com/r/1"
    assert payment.holds_money and payment.remaining_amount == 12000
    assert not payment.is_virtual_account
    assert payment.cancel_history == ()
    # The browser's customData stays the string PortOne sent; nothing reads it as the truth.
    assert payment.raw["customData"] == '{"item":"shoes"}'


def test_the_readme_minimal_paid_body_is_enough(rsps, client):
    body = {
        "status": "PAID",
        "id": "order-1001",
        "transactionId": "tx-1",
        "merchantId": "merchant-1",
        "storeId": "store-1",
        "channel": {"type": "LIVE", "pgProvider": "TOSSPAYMENTS", "pgMerchantId": "tosstest"},
        "version": "V2",
        "requestedAt": "2024-04-25T10:00:00Z",
        "updatedAt": "2024-04-25T10:00:05Z",
        "statusChangedAt": "2024-04-25T10:00:05Z",
        "orderName": "Shoes",
        "amount": {
            "total": 1000,
            "taxFree": 0,
            "vat": 91,
            "discount": 0,
            "paid": 1000,
            "cancelled": 0,
            "cancelledTaxFree": 0,
        },
        "currency": "KRW",
        "customer": {},
        "origin": {"platformType": "PC", "ipAddress": "127.0.0.1"},
        "paidAt": "2024-04-25T10:00:05Z",
        "disputes": [],
        "method": {"type": "PaymentMethodCard"},
        "customData": '{"item":"shoes"}',
    }
    rsps.get(API + "payments/order-1001", json=body)

    payment = client.find_payment("order-1001")

    assert payment is not None
    assert (payment.status, payment.amount, payment.channel) == (PaymentStatus.PAID, 1000, "LIVE")
    assert payment.buyer_name == ""


def test_ready_payment_holds_nothing(rsps, client):
    serve(rsps, "payment_ready")

    payment = client.find_payment(PAYMENT_ID)

    assert payment is not None
    assert payment.status == PaymentStatus.READY
    assert not payment.holds_money
    assert (payment.pay_method, payment.pg_provider, payment.channel) == ("", "", "")


def test_pay_pending_is_ready_not_paid(rsps, client):
    """The PG is still approving: no money has been taken, so the order must not ship."""
    serve(rsps, "payment_pay_pending")

    payment = client.find_payment(PAYMENT_ID)

    assert payment is not None
    assert payment.status == PaymentStatus.READY
    assert payment.paid_at is None
    assert not payment.holds_money


def test_issued_virtual_account(rsps, client):
    serve(rsps, "payment_virtual_account_issued")

    payment = client.find_payment(PAYMENT_ID)

    assert payment is not None
    assert payment.status == PaymentStatus.READY
    assert payment.is_issued_virtual_account and payment.holds_money
    assert not payment.is_funded_virtual_account
    assert (payment.vbank_code, payment.vbank_name) == ("SHINHAN", "신한은행")
    assert (payment.vbank_num, payment.vbank_holder) == ("56211234567890", "신발가게")
    # "2024-04-28T00:00:00+09:00" is midnight in Seoul, kept in UTC.
    assert payment.vbank_date == datetime(2024, 4, 27, 15, 0, tzinfo=UTC)


def test_deposited_virtual_account_is_paid_and_funded(rsps, client):
    body = fixture("payment_virtual_account_issued")
    body |= {"status": "PAID", "paidAt": "2024-04-26T01:00:00Z", "disputes": []}
    rsps.get(API + f"payments/{PAYMENT_ID}", json=body)

    payment = client.find_payment(PAYMENT_ID)

    assert payment is not None
    assert payment.status == PaymentStatus.PAID
    assert payment.is_funded_virtual_account


def test_failed_payment_keeps_the_reason(rsps, client):
    serve(rsps, "payment_failed")

    payment = client.find_payment(PAYMENT_ID)

    assert payment is not None
    assert payment.status == PaymentStatus.FAILED
    assert payment.fail_reason == "카드 한도 초과"
    assert payment.failed_at == datetime(2024, 4, 25, 10, 0, 7, tzinfo=UTC)
    assert not payment.holds_money


def test_failed_payment_without_a_reason_uses_the_pg_message(rsps, client):
    serve(rsps, "payment_failed", failure={"pgCode": "LIMIT", "pgMessage": "한도초과"})

    payment = client.find_payment(PAYMENT_ID)

    assert payment is not None and payment.fail_reason == "한도초과"


def test_partial_cancel_stays_paid_with_the_cancelled_amount(rsps, client):
    serve(rsps, "payment_partial_cancelled")

    payment = client.find_payment(PAYMENT_ID)

    assert payment is not None
    assert payment.status == PaymentStatus.PAID
    assert (payment.amount, payment.cancel_amount, payment.remaining_amount) == (12000, 3000, 9000)
    assert payment.holds_money
    # Only the succeeded cancel is history; the one still REQUESTED gave nothing back yet.
    [entry] = payment.cancel_history
    assert (entry.amount, entry.reason, entry.cancellation_id, entry.pg_tid) == (
        3000,
        "부분 환불",
        "cancel-1",
        "pg-cancel-1",
    )
    assert entry.cancelled_at == datetime(2024, 4, 26, 9, 0, 2, tzinfo=UTC)
    assert entry.receipt_url == "https://receipt.example.com/c/1"
    assert payment.cancel_reason == "부분 환불"
    assert payment.cancel_pending == 1000  # what the PG is still giving back


def test_cancelled_payment(rsps, client):
    serve(rsps, "payment_cancelled")

    payment = client.find_payment(PAYMENT_ID)

    assert payment is not None
    assert payment.status == PaymentStatus.CANCELLED
    assert (payment.cancel_amount, payment.remaining_amount) == (12000, 0)
    assert [e.cancellation_id for e in payment.cancel_history] == ["cancel-1", "cancel-3"]
    assert payment.cancel_reason == "주문 취소"  # the latest cancel's
    assert payment.cancelled_at == datetime(2024, 4, 27, 9, 0, 1, tzinfo=UTC)
    assert not payment.holds_money


@pytest.mark.parametrize(
    ("method", "code"),
    [
        ({"type": "PaymentMethodCard"}, "card"),
        ({"type": "PaymentMethodTransfer", "bank": "KOOKMIN"}, "trans"),
        ({"type": "PaymentMethodEasyPay", "provider": "KAKAOPAY"}, "point"),
        ({"type": "PaymentMethodMobile"}, "phone"),
        ({"type": "PaymentMethodSomethingNew"}, ""),
    ],
)
def test_pay_method_codes(method, code):
    body = fixture("payment_paid") | {"method": method}

    assert payment_from_api(body).pay_method == code


# --- unreadable payments --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "missing"),
    [
        ("payment_paid", "disputes"),
        ("payment_paid", "paidAt"),
        ("payment_paid", "channel"),
        ("payment_failed", "failure"),
        ("payment_cancelled", "cancellations"),
        ("payment_ready", "transactionId"),
        ("payment_ready", "amount"),
    ],
)
def test_a_known_status_without_a_required_field_is_unreadable(rsps, client, name, missing):
    body = fixture(name)
    del body[missing]
    rsps.get(API + f"payments/{PAYMENT_ID}", json=body)

    with pytest.raises(IamportBadResponse, match=missing):
        client.find_payment(PAYMENT_ID)


@pytest.mark.parametrize(
    "change",
    [
        {"status": "PENDING"},  # the list-filter enum, never a payment's own status
        {"status": None},
        {"amount": {"total": "lots", "cancelled": 0}},
        {"amount": {"total": 1000, "cancelled": 2000}},
        {"amount": {"total": 1000.5, "cancelled": 0}},
        {"amount": []},
        {"paidAt": "yesterday"},
        {"paidAt": "2024-04-25T10:00:05"},  # no offset: not RFC 3339
        {"paidAt": 1714039205},
        {"channel": "TEST"},
        {"cancellations": {"id": "c"}},
        {"cancellations": [{"status": "SUCCEEDED", "id": "c", "reason": "r"}]},  # no amount
        {"id": ""},
    ],
)
def test_odd_payments_are_unreadable_not_a_crash(change):
    body = fixture("payment_paid") | change

    with pytest.raises(IamportBadResponse):
        payment_from_api(body)


def test_issued_virtual_account_without_an_account_is_unreadable():
    body = fixture("payment_virtual_account_issued")
    del body["method"]["accountNumber"]

    with pytest.raises(IamportBadResponse, match="accountNumber"):
        payment_from_api(body)


def test_unknown_fields_are_ignored_and_text_made_storable():
    body = copy.deepcopy(fixture("payment_paid"))
    body |= {"brandNewField": [1, 2], "orderName": "운동\x00화"}

    payment = payment_from_api(body)

    assert payment.name == "운동\ufffd화"
    assert payment.raw["brandNewField"] == [1, 2]


# --- requests as sent -----------------------------------------------------------------------
def test_lookup_sends_the_secret_and_follows_no_redirect(rsps, client, sent):
    serve(rsps, "payment_paid")

    client.find_payment(PAYMENT_ID)

    [call] = rsps.calls
    assert call.request.headers["Authorization"] == "PortOne secret-v2"
    assert [kwargs["allow_redirects"] for kwargs in sent] == [False]
    assert call.request.req_kwargs["timeout"] == (3.05, 60.0)


def test_odd_payment_ids_are_one_escaped_path_segment(rsps, client):
    rsps.get(API + "payments/a%20b%2Fc%3F%23%25", json=fixture("payment_paid"))

    assert client.find_payment("a b/c?#%") is not None
    assert rsps.calls[0].request.url == API + "payments/a%20b%2Fc%3F%23%25"


@pytest.mark.parametrize("payment_id", ["", ".", ".."])
def test_dot_and_empty_ids_are_refused_before_any_request(rsps, client, payment_id):
    with pytest.raises(ValueError):
        client.find_payment(payment_id)
    assert len(rsps.calls) == 0


def test_unknown_payment_is_none(rsps, client):
    rsps.get(API + f"payments/{PAYMENT_ID}", json=fixture("error_not_found"), status=404)

    assert client.find_payment(PAYMENT_ID) is None


def test_cancel_sends_the_checked_balance_and_a_quoted_idempotency_key(rsps, client, sent):
    rsps.post(API + f"payments/{PAYMENT_ID}/cancel", json=fixture("cancel_succeeded"))

    cancellation = client.cancel(
        PAYMENT_ID,
        amount=5000,
        reason="고객 요청",
        current_cancellable_amount=12000,
        idempotency_key=KEY,
    )

    [call] = rsps.calls
    assert json.loads(call.request.body) == {
        "amount": 5000,
        "reason": "고객 요청",
        "currentCancellableAmount": 12000,
    }
    assert call.request.headers["Idempotency-Key"] == f'"{KEY}"'
    assert call.request.headers["Authorization"] == "PortOne secret-v2"
    assert [kwargs["allow_redirects"] for kwargs in sent] == [False]
    assert cancellation.succeeded
    assert (cancellation.id, cancellation.amount, cancellation.pg_cancellation_id) == (
        "cancel-9",
        5000,
        "pg-cancel-9",
    )
    assert cancellation.as_history().cancellation_id == "cancel-9"


def test_cancel_with_a_refund_account_and_an_asynchronous_answer(rsps, client):
    rsps.post(API + f"payments/{PAYMENT_ID}/cancel", json=fixture("cancel_requested"))
    account = {"bank": "SHINHAN", "number": "110123456789", "holderName": "홍길동"}

    cancellation = client.cancel(
        PAYMENT_ID,
        amount=5000,
        reason="환불",
        current_cancellable_amount=5000,
        refund_account=account,
        idempotency_key=KEY,
    )

    assert json.loads(rsps.calls[0].request.body)["refundAccount"] == account
    assert cancellation.status == "REQUESTED" and not cancellation.succeeded
    assert cancellation.cancelled_at is None


@pytest.mark.parametrize(
    ("key", "header"),
    [
        ("a" * 16, '"' + "a" * 16 + '"'),
        ('quote"and\\slash-key', '"quote\\"and\\\\slash-key"'),
    ],
)
def test_idempotency_key_is_an_rfc_8941_string(key, header):
    assert portone_v2.idempotency_header(key) == header


@pytest.mark.parametrize(
    "key", ["short", "x" * 257, "환불-키-0000000000000000", "tab\there-00000000"]
)
def test_unusable_idempotency_keys_are_refused_before_any_request(rsps, client, key):
    with pytest.raises(ValueError):
        client.cancel(
            PAYMENT_ID, amount=1, reason="r", current_cancellable_amount=1, idempotency_key=key
        )
    assert len(rsps.calls) == 0


@pytest.mark.parametrize(
    ("amount", "balance", "reason"),
    [(0, 1000, "r"), (-1, 1000, "r"), (2000, 1000, "r"), (1000, 1000, "  ")],
)
def test_odd_cancels_are_refused_before_any_request(rsps, client, amount, balance, reason):
    with pytest.raises(ValueError):
        client.cancel(
            PAYMENT_ID,
            amount=amount,
            reason=reason,
            current_cancellable_amount=balance,
            idempotency_key=KEY,
        )
    assert len(rsps.calls) == 0


def test_pre_register_sends_the_amount_in_won(rsps, client):
    rsps.post(API + f"payments/{PAYMENT_ID}/pre-register", json={})

    assert client.pre_register(PAYMENT_ID, total_amount=12000) is None

    assert json.loads(rsps.calls[0].request.body) == {"totalAmount": 12000, "currency": "KRW"}


# --- errors ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "error_type",
    [
        "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN",
        "PAYMENT_ALREADY_CANCELLED",
        "PAYMENT_NOT_PAID",
        "MAX_CANCEL_COUNT_REACHED",
        "IDEMPOTENCY_OUTSTANDING_REQUEST",
    ],
)
def test_cancel_refusals_keep_portones_type_and_message(rsps, client, error_type):
    rsps.post(
        API + f"payments/{PAYMENT_ID}/cancel",
        json={"type": error_type, "message": "취소할 수 없습니다."},
        status=409,
    )

    with pytest.raises(PortOneRejected) as caught:
        client.cancel(
            PAYMENT_ID,
            amount=1000,
            reason="r",
            current_cancellable_amount=1000,
            idempotency_key=KEY,
        )

    assert isinstance(caught.value, IamportRejected)
    assert not isinstance(caught.value, IamportAuthError | IamportNotFound)
    assert (caught.value.type, caught.value.message) == (error_type, "취소할 수 없습니다.")
    assert (caught.value.http_status, caught.value.code) == (409, None)


def test_a_refusal_without_a_message_is_named_by_its_type(rsps, client):
    rsps.post(
        API + f"payments/{PAYMENT_ID}/pre-register", json={"type": "ALREADY_PAID"}, status=409
    )

    with pytest.raises(PortOneRejected, match="ALREADY_PAID"):
        client.pre_register(PAYMENT_ID, total_amount=1000)


def test_invalid_request_is_a_rejection(rsps, client):
    rsps.get(
        API + f"payments/{PAYMENT_ID}",
        json={"type": "INVALID_REQUEST", "message": "bad"},
        status=400,
    )

    with pytest.raises(PortOneRejected) as caught:
        client.find_payment(PAYMENT_ID)
    assert caught.value.type == "INVALID_REQUEST"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, {"type": "UNAUTHORIZED", "message": "인증 정보가 올바르지 않습니다."}),
        (403, {"type": "FORBIDDEN", "message": "권한이 없습니다."}),
        (401, "<html>401</html>"),
    ],
)
def test_refused_secret_is_the_auth_error(rsps, client, status, body):
    if isinstance(body, dict):
        rsps.get(API + f"payments/{PAYMENT_ID}", json=body, status=status)
    else:
        rsps.get(API + f"payments/{PAYMENT_ID}", body=body, status=status)

    with pytest.raises(IamportAuthError) as caught:
        client.find_payment(PAYMENT_ID)

    assert isinstance(caught.value, PortOneAuthError)
    assert caught.value.http_status == status
    assert caught.value.type == (body["type"] if isinstance(body, dict) else "")


def test_no_secret_configured_sends_nothing(rsps):
    with pytest.raises(IamportAuthError, match="no PortOne API secret"):
        PortOneClient(api_secret="").find_payment(PAYMENT_ID)
    assert len(rsps.calls) == 0


def test_a_404_of_another_kind_is_not_taken_for_a_missing_payment(rsps, client):
    rsps.get(API + f"payments/{PAYMENT_ID}", json={"type": "NOT_FOUND"}, status=404)

    with pytest.raises(IamportNotFound):
        client.find_payment(PAYMENT_ID)


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (502, "<html><body>502 Bad Gateway</body></html>"),
        (200, "<html>maintenance</html>"),
        (404, "<html>not here</html>"),
        (302, ""),
        (500, '{"type": "INTERNAL", "message": "oops"}'),
        (502, '{"type": "PG_PROVIDER", "message": "PG", "pgCode": "E1", "pgMessage": "x"}'),
    ],
)
def test_server_errors_and_pages_that_are_not_json_are_unreadable_replies(
    rsps, client, status, body
):
    rsps.get(API + f"payments/{PAYMENT_ID}", body=body, status=status)

    with pytest.raises(IamportBadResponse) as caught:
        client.find_payment(PAYMENT_ID)
    assert caught.value.http_status == status


@pytest.mark.parametrize("body", ['"a string"', "[]", "null"])
def test_a_success_that_is_not_a_payment_is_unreadable(rsps, client, body):
    rsps.get(API + f"payments/{PAYMENT_ID}", body=body)
    rsps.post(API + f"payments/{PAYMENT_ID}/cancel", body=body)

    with pytest.raises(IamportBadResponse):
        client.find_payment(PAYMENT_ID)
    with pytest.raises(IamportBadResponse):
        client.cancel(
            PAYMENT_ID, amount=1, reason="r", current_cancellable_amount=1, idempotency_key=KEY
        )


def test_timeout_and_connection_failure(rsps, client):
    rsps.get(API + "payments/slow", body=requests.ReadTimeout("slow"))
    rsps.get(API + "payments/gone", body=requests.ConnectionError("refused"))

    with pytest.raises(IamportTimeout, match="did not answer"):
        client.find_payment("slow")
    with pytest.raises(IamportUnavailable) as caught:
        client.find_payment("gone")
    assert not isinstance(caught.value, IamportTimeout)


# --- the request's time budget --------------------------------------------------------------
def test_the_time_budget_cuts_the_timeout(rsps, client, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(client_module.time, "monotonic", lambda: now[0])
    serve(rsps, "payment_paid")

    with time_budget(8):
        client.find_payment(PAYMENT_ID)
        now[0] += 6.5
        client.find_payment(PAYMENT_ID)
        now[0] += 1.49
        with pytest.raises(IamportTimeout, match="no time left"):
            client.find_payment(PAYMENT_ID)

    timeouts = [call.request.req_kwargs["timeout"] for call in rsps.calls]
    assert timeouts == [(3.05, 8.0), (1.5, 1.5)]


# --- configuration --------------------------------------------------------------------------
def test_get_client_reads_the_settings(settings):
    settings.PORTONE_API_URL = "http://127.0.0.1:9/v2"
    settings.PORTONE_API_SECRET = "s3cret"

    client = get_client()

    assert (client.base_url, client.api_secret) == ("http://127.0.0.1:9/v2/", "s3cret")


@pytest.mark.parametrize(
    "changes",
    [
        {"paidAt": "9999-12-31T23:59:59-23:59"},
        {"transactionId": "t" * 65},
        {"transactionId": "tx/../1"},
    ],
)
def test_a_reply_the_shop_cannot_keep_is_an_unreadable_reply(changes):
    data = {**fixture("payment_paid"), **changes}

    with pytest.raises(IamportBadResponse):
        payment_from_api(data)
