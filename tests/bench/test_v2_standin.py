"""The benchmark's PortOne V2 side speaks what the shop reads: its stand-in answers a payment
the shop's own V2 parser accepts, and its webhook passes the shop's own signature check."""

from __future__ import annotations

import http.client
import json
from urllib.parse import urlsplit

import pytest

from bench import v2
from bench.load import failure
from bench.standin import V2_API_SECRET, V2_LOOKUP, V2_PREFIX, V2_STORE_ID, IamportStandin
from payments import portone_v2
from payments.client import PaymentStatus
from payments.v2_webhooks import V2WebhookRejected, verify_delivery


@pytest.fixture
def standin():
    server = IamportStandin(delay_seconds=0)
    server.start()
    server.register("imp_bench_1", "o20261207bench", 18000)
    yield server
    server.stop()


def get(standin: IamportStandin, path: str, authorization: str) -> tuple[int, dict]:
    parts = urlsplit(standin.url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=5)
    try:
        connection.request("GET", path, headers={"Authorization": authorization})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_the_stand_in_answers_a_paid_v2_payment_the_shop_parses(standin):
    status, body = get(standin, f"{V2_PREFIX}payments/o20261207bench", f"PortOne {V2_API_SECRET}")

    payment = portone_v2.payment_from_api(body)

    assert status == 200
    assert (payment.merchant_uid, payment.imp_uid) == ("o20261207bench", "imp_bench_1")
    assert (payment.status, payment.amount, payment.cancel_amount) == (PaymentStatus.PAID, 18000, 0)
    assert payment.channel == "LIVE"
    assert body["storeId"] == V2_STORE_ID
    assert standin.counts() == {V2_LOOKUP: 1}


@pytest.mark.parametrize(
    ("path", "authorization", "expected"),
    [
        (f"{V2_PREFIX}payments/o20261207unknown", f"PortOne {V2_API_SECRET}", 404),
        (f"{V2_PREFIX}payments/o20261207bench", "PortOne wrong-secret", 401),
    ],
)
def test_the_stand_in_answers_v2_errors_in_v2_shape(standin, path, authorization, expected):
    status, body = get(standin, path, authorization)

    assert status == expected
    assert set(body) == {"type", "message"}


def test_the_paid_webhook_passes_the_shops_signature_check_and_names_the_payment():
    body, headers = v2.paid_webhook("imp_bench_1", "o20261207bench")

    event = verify_delivery(body, headers, [v2.WEBHOOK_SECRET])

    assert (event.type, event.payment_id, event.transaction_id) == (
        "Transaction.Paid",
        "o20261207bench",
        "imp_bench_1",
    )
    assert headers["Content-Type"] == "application/json"
    with pytest.raises(V2WebhookRejected):
        verify_delivery(body.replace(b"bench", b"other"), headers, [v2.WEBHOOK_SECRET])


def test_only_a_processed_paid_answer_counts_as_a_verification():
    paid = json.dumps({"result": "processed", "detail": "paid; order paid"}).encode()
    ignored = json.dumps({"result": "ignored", "detail": "PortOne does not know it"}).encode()

    assert failure("webhook", 200, paid) is None
    assert failure("webhook", 200, ignored) == "HTTP 200 but ignored: PortOne does not know it"
    assert failure("webhook", 503, b"{}") == "HTTP 503"
