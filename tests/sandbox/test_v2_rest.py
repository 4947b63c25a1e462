"""PortOne V2 REST under /sandbox/portone/: payment shapes per status (read by the shop's own
parser), auth, every error type, idempotent cancels and pre-registration."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from payments import portone_v2
from sandbox import services
from sandbox.models import (
    Api,
    SandboxCancellation,
    SandboxIdempotencyKey,
    SandboxPayment,
    SandboxPrepare,
)
from tests.sandbox.conftest import V2_API, PortOneApi, sdk_start, v2_start, v2_window_action

pytestmark = pytest.mark.django_db

KEY = "refund-request-0001-abcdef"


def required_fields(status: str) -> tuple[str, ...]:
    return (*portone_v2.REQUIRED, *portone_v2.REQUIRED_BY_STATUS[status])


def assert_complete(body: dict, status: str) -> portone_v2.IamportPayment:
    """The payment has every field PortOne's schema requires for its status, and the shop's
    own parser reads it."""
    assert body["status"] == status
    missing = [key for key in ("status", *required_fields(status)) if body.get(key) is None]
    assert missing == []
    for key in ("total", "taxFree", "discount", "paid", "cancelled", "cancelledTaxFree"):
        assert isinstance(body["amount"][key], int)
    assert body["origin"]["platformType"] in ("PC", "MOBILE")
    assert body["origin"]["ipAddress"]
    return portone_v2.payment_from_api(body)


def error_of(reply) -> tuple[int, str]:
    body = reply.json()
    assert set(body) == {"type", "message"}
    assert body["message"]
    return reply.status_code, body["type"]


# --- GET payments/{paymentId} ---------------------------------------------------------------
def test_ready_while_the_window_is_open(portone, start_v2):
    tx_id = start_v2()

    body = portone.payment()

    remote = assert_complete(body, "READY")
    assert body["transactionId"] == tx_id
    assert body["id"] == "order_v2_0001"
    assert body["version"] == "V2"
    assert remote.status == "ready" and remote.imp_uid == tx_id
    assert "method" not in body and "paidAt" not in body


def test_paid_card_payment(portone, approve_v2, settings):
    tx_id = approve_v2()

    body = portone.payment()

    remote = assert_complete(body, "PAID")
    assert body["disputes"] == []
    assert body["storeId"] == settings.PORTONE_STORE_ID
    assert body["channel"] == {
        "type": "TEST",
        "id": body["channel"]["id"],
        "key": settings.PORTONE_CHANNEL_KEY,
        "name": body["channel"]["name"],
        "pgProvider": "TOSSPAYMENTS",
        "pgMerchantId": "sandbox",
    }
    assert body["channel"]["id"] and body["channel"]["name"]
    assert body["method"]["type"] == "PaymentMethodCard"
    assert body["method"]["approvalNumber"]
    assert body["amount"] == {
        "total": 12000,
        "taxFree": 0,
        "vat": 1091,
        "supply": 10909,
        "discount": 0,
        "paid": 12000,
        "cancelled": 0,
        "cancelledTaxFree": 0,
    }
    assert body["customer"] == {
        "name": {"full": "홍길동"},
        "email": "buyer@example.com",
        "phoneNumber": "010-1234-5678",
        "address": {"type": "ONE_LINE", "oneLine": "서울시 강남구 1층"},
        "zipcode": "06236",
    }
    assert json.loads(body["customData"]) == {"item": "coffee"}
    assert body["customData"] == '{"item":"coffee"}'  # a string, as JSON.stringify writes it
    assert remote.status == "paid" and remote.amount == 12000 and remote.channel == "TEST"
    assert remote.imp_uid == tx_id and remote.paid_at is not None
    assert body["paidAt"].endswith("Z") and body["receiptUrl"]


def test_custom_data_is_left_out_when_the_browser_gave_none(portone, approve_v2):
    approve_v2(customData=None)

    assert "customData" not in portone.payment()


@pytest.mark.parametrize(
    ("pay_method", "method_type", "pg_provider", "shop_pay_method"),
    [
        ("TRANSFER", "PaymentMethodTransfer", "TOSSPAYMENTS", "trans"),
        ("EASY_PAY", "PaymentMethodEasyPay", "KAKAOPAY", "point"),
    ],
)
def test_other_pay_methods(
    portone, approve_v2, pay_method, method_type, pg_provider, shop_pay_method
):
    approve_v2(payMethod=pay_method)

    body = portone.payment()

    remote = assert_complete(body, "PAID")
    assert body["method"]["type"] == method_type
    assert body["channel"]["pgProvider"] == pg_provider
    assert remote.pay_method == shop_pay_method
    if pay_method == "EASY_PAY":
        assert body["method"]["provider"] == "KAKAOPAY"
    else:
        assert body["method"]["bank"] == "KOOKMIN"


@pytest.fixture
def issued_account(client, start_v2):
    tx_id = start_v2(
        payMethod="VIRTUAL_ACCOUNT",
        virtualAccount={"accountExpiry": {"dueDate": "2099-12-31 23:59:59"}},
    )
    assert v2_window_action(client, tx_id, "approve").status_code == 200
    return tx_id


def test_virtual_account_issued(portone, issued_account):
    body = portone.payment()

    remote = assert_complete(body, "VIRTUAL_ACCOUNT_ISSUED")
    method = body["method"]
    assert method["type"] == "PaymentMethodVirtualAccount"
    assert method["bank"] == "KOOKMIN"  # V2's REST bank code, not "004"
    assert method["accountNumber"] and method["remitteeName"] and method["accountType"] == "NORMAL"
    assert method["expiredAt"] == "2099-12-31T14:59:59.000Z"  # 23:59:59 in Seoul
    assert method["issuedAt"]
    assert body["amount"]["paid"] == 0
    assert remote.status == "ready" and remote.vbank_num == method["accountNumber"]
    assert remote.vbank_name == "KB국민은행"


def test_deposited_virtual_account_is_paid(portone, issued_account):
    services.vbank_deposit(imp_uid=issued_account)

    body = portone.payment()

    assert_complete(body, "PAID")
    assert body["method"]["type"] == "PaymentMethodVirtualAccount"
    assert body["amount"]["paid"] == 12000


@pytest.mark.parametrize(
    ("action", "body", "reason", "pg_code", "pg_message"),
    [
        ("decline", {"error_code": "F1003"}, "[F1003] 잔액 부족", "F1003", "잔액 부족"),
        ("close", {}, "사용자가 결제를 취소하셨습니다", "F1001", "사용자가 결제를 취소하셨습니다"),
    ],
)
def test_failed(portone, client, start_v2, action, body, reason, pg_code, pg_message):
    tx_id = start_v2()
    v2_window_action(client, tx_id, action, body)

    payment = portone.payment()

    remote = assert_complete(payment, "FAILED")
    assert payment["failure"] == {"reason": reason, "pgCode": pg_code, "pgMessage": pg_message}
    assert remote.status == "failed" and remote.fail_reason == reason


def test_partial_then_full_cancel(portone, approve_v2):
    approve_v2()

    first = portone.cancel(amount=2000, reason="부분 환불")
    partial = portone.payment()
    second = portone.cancel(reason="나머지 환불")
    cancelled = portone.payment()

    assert first.status_code == 200 and second.status_code == 200
    remote = assert_complete(partial, "PARTIAL_CANCELLED")
    assert partial["amount"]["paid"] == 10000 and partial["amount"]["cancelled"] == 2000
    assert remote.status == "paid" and remote.cancel_amount == 2000
    remote = assert_complete(cancelled, "CANCELLED")
    assert [c["totalAmount"] for c in cancelled["cancellations"]] == [2000, 10000]
    assert cancelled["amount"]["paid"] == 0 and cancelled["amount"]["cancelled"] == 12000
    assert cancelled["cancelledAt"] == cancelled["cancellations"][-1]["cancelledAt"]
    assert remote.status == "cancelled"
    assert [h.amount for h in remote.cancel_history] == [2000, 10000]


def test_cancellation_shape(portone, approve_v2):
    approve_v2()

    cancellation = portone.cancel(amount=3000, reason="고객 요청").json()["cancellation"]

    assert cancellation["status"] == "SUCCEEDED"
    for key in ("id", "totalAmount", "taxFreeAmount", "vatAmount", "reason", "requestedAt"):
        assert cancellation[key] is not None
    assert cancellation["totalAmount"] == 3000
    assert cancellation["vatAmount"] == 273
    assert cancellation["reason"] == "고객 요청"
    assert cancellation["trigger"] == "API"
    assert cancellation["receiptUrl"] and cancellation["pgCancellationId"]
    parsed = portone_v2.Cancellation.from_api(cancellation)
    assert parsed.succeeded and parsed.amount == 3000


def test_a_payment_id_names_its_paid_attempt_else_the_newest(portone, client, start_v2):
    first = start_v2()
    second = start_v2()
    assert portone.payment()["transactionId"] == second

    v2_window_action(client, first, "approve")
    v2_window_action(client, second, "approve")  # fails: the paymentId is paid already

    body = portone.payment()
    assert body["transactionId"] == first and body["status"] == "PAID"
    later = SandboxPayment.objects.get(imp_uid=second)
    assert later.status == "failed" and later.fail_code == "ALREADY_PAID"


def test_v1_and_v2_do_not_see_each_other(portone, api, paid_payment, approve_v2):
    v1 = paid_payment(merchant_uid="shared_id")
    approve_v2(paymentId="shared_id")

    assert portone.payment("shared_id")["transactionId"] != v1
    assert api.get(f"payments/{v1}").json()["response"]["imp_uid"] == v1
    v2_tx = SandboxPayment.objects.get(api=Api.V2).imp_uid
    assert api.get(f"payments/{v2_tx}").status_code == 404
    found = api.get("payments/findAll/shared_id").json()["response"]
    assert [p["imp_uid"] for p in found["list"]] == [v1]


def test_unknown_payment_is_404(portone):
    assert error_of(portone.get("payments/nobody")) == (404, "PAYMENT_NOT_FOUND")


def test_escaped_slash_in_a_payment_id_is_still_404_json(portone):
    assert error_of(portone.get("payments/a%2Fb")) == (404, "PAYMENT_NOT_FOUND")
    assert error_of(portone.cancel("a%2Fb")) == (404, "PAYMENT_NOT_FOUND")


def test_store_id_of_another_store_is_forbidden(portone, approve_v2):
    approve_v2()

    assert error_of(portone.get("payments/order_v2_0001", storeId="store-other")) == (
        403,
        "FORBIDDEN",
    )


# --- auth -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "PortOne wrong-secret",
        "Bearer test_portone_secret",
        "test_portone_secret",
        "PortOne ",
        "PortOne 비밀",
    ],
)
def test_calls_without_the_api_secret_are_401(client, db, authorization):
    headers = {} if authorization is None else {"Authorization": authorization}

    for reply in (
        client.get(V2_API + "payments/order_v2_0001", headers=headers),
        client.post(
            V2_API + "payments/order_v2_0001/cancel",
            {"reason": "x"},
            content_type="application/json",
            headers=headers,
        ),
        client.post(
            V2_API + "payments/order_v2_0001/pre-register",
            {"totalAmount": 1000},
            content_type="application/json",
            headers=headers,
        ),
    ):
        assert error_of(reply) == (401, "UNAUTHORIZED")
    assert not SandboxPrepare.objects.exists()


def test_scheme_is_case_insensitive(client, db):
    reply = client.get(
        V2_API + "payments/nobody", headers={"Authorization": "portone test_portone_secret"}
    )

    assert reply.status_code == 404


def test_no_configured_secret_refuses_everyone(client, db, settings):
    settings.PORTONE_API_SECRET = ""

    assert error_of(PortOneApi(client, "").get("payments/x")) == (401, "UNAUTHORIZED")


def test_wrong_method_is_405(portone):
    reply = portone.post("payments/order_v2_0001")

    assert error_of(reply) == (405, "INVALID_REQUEST")
    assert reply["Allow"] == "GET"


def test_unknown_paths_answer_json_404(portone):
    for path in ("", "payments/", "billing-keys/x", "payments/x/refund"):
        status, _ = error_of(portone.get(path))
        assert status == 404


# --- cancel ---------------------------------------------------------------------------------
def test_cancel_refusals(portone, client, start_v2, approve_v2):
    ready = start_v2(paymentId="ready_one")
    failed = start_v2(paymentId="failed_one")
    v2_window_action(client, failed, "close")
    approve_v2(paymentId="paid_one")

    assert error_of(portone.cancel("ready_one")) == (409, "PAYMENT_NOT_PAID")
    assert error_of(portone.cancel("failed_one")) == (409, "PAYMENT_NOT_PAID")
    assert error_of(portone.cancel("paid_one", currentCancellableAmount=11000)) == (
        409,
        "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN",
    )
    assert error_of(portone.cancel("paid_one", amount=12001)) == (
        409,
        "CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT",
    )
    assert error_of(portone.cancel("nobody")) == (404, "PAYMENT_NOT_FOUND")
    assert portone.cancel("paid_one", currentCancellableAmount=12000).status_code == 200
    assert error_of(portone.cancel("paid_one")) == (409, "PAYMENT_ALREADY_CANCELLED")
    assert SandboxCancellation.objects.count() == 1
    assert SandboxPayment.objects.get(imp_uid=ready).status == "ready"


def test_consistency_message_names_the_balance(portone, approve_v2):
    approve_v2()

    message = portone.cancel(currentCancellableAmount=5000).json()["message"]

    assert "12,000" in message and "currentCancellableAmount" in message


@pytest.mark.parametrize(
    "body",
    [
        {"reason": ""},
        {"reason": "   "},
        {"reason": None},
        {"reason": 5},
        {"reason": "x" * 501},
        {"amount": "1000"},
        {"amount": 0},
        {"amount": -1},
        {"amount": 1.5},
        {"amount": True},
        {"currentCancellableAmount": "12000"},
        {"refundAccount": "KOOKMIN 123"},
        {"refundAccount": {"bank": "KOOKMIN", "number": "123"}},
        {"skipWebhook": "yes"},
        {"requester": "ROBOT"},
        {"taxFreeAmount": "0"},
        {"reason": "null\x00byte"},
    ],
)
def test_cancel_with_bad_fields_is_400_and_cancels_nothing(portone, approve_v2, body):
    approve_v2()
    payload = {"reason": "환불", **body}
    if body.get("reason", "") is None:
        del payload["reason"]

    reply = portone.post("payments/order_v2_0001/cancel", payload)

    assert error_of(reply) == (400, "INVALID_REQUEST")
    assert not SandboxCancellation.objects.exists()


@pytest.mark.parametrize("raw", [b"", b"[]", b'"text"', b"{", b"\xff\xfe", b"null"])
def test_cancel_body_that_is_not_a_json_object_is_400(portone, client, approve_v2, raw):
    approve_v2()

    reply = client.post(
        V2_API + "payments/order_v2_0001/cancel",
        raw,
        content_type="application/json",
        headers={"Authorization": "PortOne test_portone_secret"},
    )

    assert error_of(reply) == (400, "INVALID_REQUEST")
    assert not SandboxCancellation.objects.exists()


def test_deposited_virtual_account_needs_a_refund_account(portone, issued_account):
    services.vbank_deposit(imp_uid=issued_account)

    refused = portone.cancel(amount=1000)
    refunded = portone.cancel(
        amount=1000,
        refundAccount={
            "bank": "STANDARD_CHARTERED",
            "number": "110-123-456789",
            "holderName": "홍길동",
            "holderPhoneNumber": "010-1234-5678",
        },
    )

    assert error_of(refused) == (400, "INVALID_REQUEST")
    assert "refundAccount" in refused.json()["message"]
    assert refunded.status_code == 200
    cancellation = SandboxCancellation.objects.get()
    assert cancellation.refund_bank == "STANDARD_CHARTERED"
    assert cancellation.refund_account == "110-123-456789"
    assert cancellation.refund_holder == "홍길동"
    assert cancellation.refund_tel == "010-1234-5678"


def test_unfunded_virtual_account_is_closed_in_full_only(portone, issued_account):
    partial = portone.cancel(amount=1000)
    full = portone.cancel(reason="발급 취소")

    assert error_of(partial) == (409, "PAYMENT_NOT_PAID")
    assert full.status_code == 200
    body = portone.payment()
    assert_complete(body, "CANCELLED")
    assert body["amount"]["paid"] == 0  # nothing was deposited, nothing is refunded
    assert "paidAt" not in body


# --- Idempotency-Key ------------------------------------------------------------------------
def test_a_repeated_key_answers_the_first_cancel_and_cancels_nothing_more(
    portone, approve_v2, django_capture_on_commit_callbacks, v2_webhook_sink
):
    approve_v2()
    v2_webhook_sink.calls.reset()

    with django_capture_on_commit_callbacks(execute=True):
        first = portone.cancel(key=KEY, amount=2000, currentCancellableAmount=12000)
    with django_capture_on_commit_callbacks(execute=True):
        again = portone.cancel(key=KEY, amount=2000, currentCancellableAmount=12000)

    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert SandboxCancellation.objects.count() == 1
    assert portone.payment()["amount"]["cancelled"] == 2000
    assert len(v2_webhook_sink.calls) == 1  # the repeat notifies nothing either
    assert SandboxIdempotencyKey.objects.get().key == KEY


def test_a_repeated_full_cancel_is_answered_not_refused(portone, approve_v2):
    approve_v2()

    first = portone.cancel(key=KEY)
    again = portone.cancel(key=KEY)

    assert again.status_code == 200 and again.json() == first.json()


def test_another_key_is_another_cancel(portone, approve_v2):
    approve_v2()

    portone.cancel(key=KEY, amount=1000)
    portone.cancel(key=KEY + "-2", amount=1000)

    assert SandboxCancellation.objects.count() == 2


def test_a_refused_cancel_is_not_remembered(portone, approve_v2):
    approve_v2()

    refused = portone.cancel(key=KEY, amount=1000, currentCancellableAmount=1)
    retried = portone.cancel(key=KEY, amount=1000, currentCancellableAmount=12000)

    assert refused.status_code == 409 and retried.status_code == 200


def _age_keys(delta) -> None:
    SandboxIdempotencyKey.objects.update(created_at=timezone.now() - delta)


def test_a_key_is_kept_as_long_as_portone_keeps_it(portone, approve_v2):
    approve_v2()
    first = portone.cancel(key=KEY, amount=1000)
    _age_keys(services.IDEMPOTENCY_KEY_KEPT - timedelta(minutes=1))

    again = portone.cancel(key=KEY, amount=1000)

    assert again.json() == first.json()
    assert SandboxCancellation.objects.count() == 1


def test_an_expired_key_is_a_new_request(portone, approve_v2):
    approve_v2()
    first = portone.cancel(key=KEY, amount=1000, currentCancellableAmount=12000)
    _age_keys(services.IDEMPOTENCY_KEY_KEPT)

    # The same request three hours on: the checksum, not the key, now keeps it from repeating.
    stale = portone.cancel(key=KEY, amount=1000, currentCancellableAmount=12000)
    fresh = portone.cancel(key=KEY, amount=1000, currentCancellableAmount=11000)

    assert error_of(stale) == (409, "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN")
    assert fresh.status_code == 200
    assert fresh.json()["cancellation"]["id"] != first.json()["cancellation"]["id"]
    assert portone.payment()["amount"]["cancelled"] == 2000
    remembered = SandboxIdempotencyKey.objects.get().cancellation
    assert remembered.cancellation_id == fresh.json()["cancellation"]["id"]


def test_an_expired_key_may_serve_another_payment(portone, approve_v2):
    approve_v2(paymentId="order_a")
    approve_v2(paymentId="order_b")
    portone.cancel("order_a", key=KEY, amount=1000)
    _age_keys(services.IDEMPOTENCY_KEY_KEPT + timedelta(seconds=1))

    reply = portone.cancel("order_b", key=KEY, amount=1000)

    assert reply.status_code == 200
    assert SandboxCancellation.objects.count() == 2


def test_a_key_used_for_another_payment_is_refused(portone, approve_v2):
    approve_v2(paymentId="order_a")
    approve_v2(paymentId="order_b")
    portone.cancel("order_a", key=KEY, amount=1000)

    reply = portone.cancel("order_b", key=KEY, amount=1000)

    assert error_of(reply) == (400, "INVALID_REQUEST")
    assert SandboxCancellation.objects.count() == 1


@pytest.mark.parametrize(
    "header",
    ["unquoted-key-0000000000", '"short"', '"' + "k" * 257 + '"', '"bad"quote-000000000"', '"'],
)
def test_malformed_idempotency_keys_are_400(portone, approve_v2, header):
    approve_v2()

    reply = portone.post(
        "payments/order_v2_0001/cancel", {"reason": "x"}, headers={"Idempotency-Key": header}
    )

    assert error_of(reply) == (400, "INVALID_REQUEST")
    assert not SandboxCancellation.objects.exists()


def test_escaped_characters_in_a_key(portone, approve_v2):
    approve_v2()
    header = '"key-with-\\"quote\\"-and-\\\\"'

    first = portone.post(
        "payments/order_v2_0001/cancel",
        {"reason": "x", "amount": 1000},
        headers={"Idempotency-Key": header},
    )

    assert first.status_code == 200
    assert SandboxIdempotencyKey.objects.get().key == 'key-with-"quote"-and-\\'


# --- pre-register ---------------------------------------------------------------------------
def test_pre_register_then_the_sdk_refuses_another_amount(portone, client):
    reply = portone.post(
        "payments/order_v2_0001/pre-register", {"totalAmount": 12000, "currency": "KRW"}
    )

    assert reply.status_code == 200 and reply.json() == {}
    refused = v2_start(client, totalAmount=1000)
    assert refused.status_code == 409
    assert refused.json()["code"] == "PREPARED_AMOUNT_MISMATCH"
    assert v2_start(client, totalAmount=12000).status_code == 200


def test_pre_register_again_replaces_the_amount(portone, client):
    portone.post("payments/order_v2_0001/pre-register", {"totalAmount": 12000})
    portone.post("payments/order_v2_0001/pre-register", {"totalAmount": 9000})

    assert v2_start(client, totalAmount=9000).status_code == 200
    assert SandboxPrepare.objects.get(api=Api.V2).amount == 9000


def test_pre_register_without_an_amount_enforces_nothing(portone, client):
    assert portone.post("payments/order_v2_0001/pre-register", {}).status_code == 200

    assert not SandboxPrepare.objects.exists()
    assert v2_start(client).status_code == 200


def test_pre_register_of_a_paid_payment_is_409(portone, approve_v2):
    approve_v2()

    reply = portone.post("payments/order_v2_0001/pre-register", {"totalAmount": 12000})

    assert error_of(reply) == (409, "ALREADY_PAID")


def test_v1_prepare_does_not_bind_v2(portone, api, client):
    api.post("payments/prepare", {"merchant_uid": "order_v2_0001", "amount": 500})

    assert v2_start(client).status_code == 200
    assert sdk_start(client, merchant_uid="order_v2_0001", amount=12000).status_code == 409


@pytest.mark.parametrize(
    "body",
    [
        {"totalAmount": "12000"},
        {"totalAmount": 0},
        {"totalAmount": 10**15},
        {"currency": "USD", "totalAmount": 1000},
        {"currency": "CURRENCY_KRW", "totalAmount": 1000},
        {"taxFreeAmount": "0"},
        {"storeId": 5},
    ],
)
def test_pre_register_with_bad_fields_is_400(portone, body):
    reply = portone.post("payments/order_v2_0001/pre-register", body)

    assert error_of(reply) == (400, "INVALID_REQUEST")
    assert not SandboxPrepare.objects.exists()


def test_pre_register_of_an_unusable_payment_id_is_400(portone):
    reply = portone.post("payments/" + "x" * 41 + "/pre-register", {"totalAmount": 1000})

    assert error_of(reply) == (400, "INVALID_REQUEST")
