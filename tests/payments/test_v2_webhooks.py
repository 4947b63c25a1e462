"""PortOne V2 webhook deliveries are accepted only when signed, fresh and readable."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import UTC, datetime
from unittest import mock

import pytest
from django.http import HttpHeaders

from payments.v2_webhooks import V2WebhookRejected, verify_delivery
from tests.portone_fake import signed_headers

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
OTHER_SECRET = "whsec_" + base64.b64encode(b"another key of the other mode!!").decode()
MSG_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
TIMESTAMP = 1614265330
BODY = (
    b'{"type":"Transaction.Paid","timestamp":"2024-04-25T10:00:00.000Z","data":'
    b'{"paymentId":"example-payment-id","storeId":"store-ae356798-3d20-4969-b739-14c6b0e1a667",'
    b'"transactionId":"55451513-9763-4a7a-bb43-78a4c65be843"}}'
)
SIGNATURE = "v1,h53Cfvz3LPTtaRNnsKeOqr36KWzFZtGAA/76B97E2ls="


def frozen_at(seconds: float):
    """The library reads the clock through its module's `datetime`."""

    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(seconds, tz=tz or UTC)

    return mock.patch("standardwebhooks.webhooks.datetime", Frozen)


@pytest.fixture(autouse=True)
def _clock():
    with frozen_at(TIMESTAMP):
        yield


def sign(body: bytes, secret: str = SECRET, timestamp: int = TIMESTAMP, msg_id: str = MSG_ID):
    key = base64.b64decode(secret.removeprefix("whsec_"))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(signature: str = SIGNATURE, timestamp: int = TIMESTAMP, **extra: str):
    return {
        "webhook-id": MSG_ID,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature,
        **extra,
    }


def rejected(body: bytes, hdrs, secrets=(SECRET,)) -> str:
    with pytest.raises(V2WebhookRejected) as info:
        verify_delivery(body, hdrs, list(secrets))
    return info.value.reason


def test_the_documented_example_verifies():
    event = verify_delivery(BODY, headers(), [SECRET])

    assert event.webhook_id == MSG_ID
    assert event.type == "Transaction.Paid"
    assert event.timestamp == "2024-04-25T10:00:00.000Z"
    assert event.payment_id == "example-payment-id"
    assert event.transaction_id == "55451513-9763-4a7a-bb43-78a4c65be843"
    assert event.cancellation_id is None
    assert event.is_transaction


def test_our_signing_helper_matches_the_documented_signature():
    assert sign(BODY) == SIGNATURE


def test_a_tampered_body_is_rejected():
    tampered = BODY.replace(b"example-payment-id", b"example-payment-ie")

    assert "signature" in rejected(tampered, headers())


def test_a_wrong_secret_is_rejected():
    assert "signature" in rejected(BODY, headers(), secrets=[OTHER_SECRET])


def test_the_second_of_two_secrets_is_tried_during_rotation():
    event = verify_delivery(BODY, headers(), [OTHER_SECRET, SECRET])

    assert event.payment_id == "example-payment-id"


def test_no_secret_configured_rejects_everything():
    assert rejected(BODY, headers(), secrets=[])


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_each_missing_header_is_rejected(name):
    hdrs = {k: v for k, v in headers().items() if k != name}

    assert name in rejected(BODY, hdrs)


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_an_empty_header_counts_as_missing(name):
    assert name in rejected(BODY, {**headers(), name: ""})


@pytest.mark.parametrize("offset", [-301, 301])
def test_stale_and_future_timestamps_are_rejected(offset):
    stamp = TIMESTAMP + offset
    body_sig = sign(BODY, timestamp=stamp)

    assert "timestamp" in rejected(BODY, headers(body_sig, timestamp=stamp)).lower()


@pytest.mark.parametrize("offset", [-300, 300])
def test_five_minutes_either_way_is_still_accepted(offset):
    stamp = TIMESTAMP + offset

    event = verify_delivery(BODY, headers(sign(BODY, timestamp=stamp), timestamp=stamp), [SECRET])

    assert event.type == "Transaction.Paid"


def test_a_non_numeric_timestamp_is_rejected():
    assert rejected(BODY, headers(timestamp="soon"))  # type: ignore[arg-type]


def test_one_valid_signature_among_several_is_enough():
    wrong = sign(BODY, secret=OTHER_SECRET)
    hdrs = headers(f"v2,aGVsbG8= {wrong} {SIGNATURE}")

    assert verify_delivery(BODY, hdrs, [SECRET]).payment_id == "example-payment-id"


@pytest.mark.parametrize("signature", ["garbage", "v1,not base64!", "v1,a,b", "v1"])
def test_a_malformed_signature_header_is_rejected_not_crashed(signature):
    assert rejected(BODY, headers(signature))


def test_an_unknown_event_type_is_returned_for_the_caller_to_ignore():
    body = b'{"type":"BillingKey.Issued","timestamp":"t","data":{"billingKey":"bk"}}'

    event = verify_delivery(body, headers(sign(body)), [SECRET])

    assert event.type == "BillingKey.Issued"
    assert not event.is_transaction
    assert event.payment_id == ""


def test_a_cancellation_carries_its_id():
    body = (
        b'{"type":"Transaction.Cancelled","timestamp":"t","data":{"paymentId":"p1",'
        b'"transactionId":"t1","cancellationId":"c1","newField":1}}'
    )

    event = verify_delivery(body, headers(sign(body)), [SECRET])

    assert event.cancellation_id == "c1"


@pytest.mark.parametrize(
    "body",
    [
        b'{"type":"Transaction.Paid","data":{}}',
        b'{"type":"Transaction.Paid","data":{"paymentId":"a b"}}',
        b'{"type":"Transaction.Paid","data":{"paymentId":123}}',
        b'{"type":"Transaction.Paid","data":"x"}',
        b'{"type":"Transaction.Paid","data":{"paymentId":"' + b"x" * 65 + b'"}}',
    ],
)
def test_a_transaction_event_without_a_usable_payment_id_is_rejected(body):
    assert "paymentId" in rejected(body, headers(sign(body)))


@pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b'"text"', b"", b"null"])
def test_a_signed_body_that_is_not_a_json_object_is_rejected(body):
    assert "JSON" in rejected(body, headers(sign(body)))


def test_a_body_that_is_not_utf8_is_rejected():
    body = b'{"type":"\xff"}'

    assert "UTF-8" in rejected(body, headers(sign(body)))


def test_django_request_headers_work():
    meta = {
        "HTTP_WEBHOOK_ID": MSG_ID,
        "HTTP_WEBHOOK_TIMESTAMP": str(TIMESTAMP),
        "HTTP_WEBHOOK_SIGNATURE": SIGNATURE,
        "CONTENT_TYPE": "application/json",
    }

    event = verify_delivery(BODY, HttpHeaders(meta), [SECRET])

    assert event.payment_id == "example-payment-id"


def test_a_signed_body_nested_too_deep_for_the_parser_is_rejected():
    body = b"[" * 5000 + b"]" * 5000
    headers = {
        key.removeprefix("HTTP_").replace("_", "-").lower(): value
        for key, value in signed_headers(body).items()
    }

    with pytest.raises(V2WebhookRejected):
        verify_delivery(body, headers, [SECRET])
