"""A V2 payment whose PG finishes its cancels later (the console's switch): the cancel is
answered REQUESTED and announced as Transaction.CancelPending, the payment keeps its money
until the console completes the cancel (SUCCEEDED, Transaction.Cancelled) or fails it (FAILED,
no webhook), and the shop's own parser reads every step."""

from __future__ import annotations

import pytest

from payments import portone_v2
from sandbox.models import SandboxCancellation, SandboxPayment, SandboxWebhookDelivery
from tests.sandbox.test_v2_rest import assert_complete, error_of
from tests.sandbox.test_v2_webhooks import events

pytestmark = pytest.mark.django_db

CONSOLE = "/sandbox/console/payments/"
KEY = "shop-refund-00000001"


def messages_of(reply) -> list[str]:
    return [str(message) for message in reply.context["messages"]]


def types_of(rsps) -> list[str]:
    return [event["type"] for event in events(rsps)]


@pytest.fixture
def later(client, approve_v2, v2_webhook_sink):
    """A paid V2 payment of 12,000원 whose PG cancels later; its txId."""
    tx_id = approve_v2()
    reply = client.post(f"{CONSOLE}{tx_id}/pg-cancels-later", {"later": "1"}, follow=True)
    assert SandboxPayment.objects.get(imp_uid=tx_id).pg_cancels_later
    assert any("나중에" in message for message in messages_of(reply))
    v2_webhook_sink.calls.reset()
    return tx_id


def finish(client, tx_id: str, cancellation_id: str, outcome: str, capture):
    with capture(execute=True):
        return client.post(
            f"{CONSOLE}{tx_id}/cancellations/{cancellation_id}/finish",
            {"outcome": outcome},
            follow=True,
        )


def test_a_cancel_is_requested_and_the_payment_keeps_its_money(
    portone, later, v2_webhook_sink, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        reply = portone.cancel(amount=5000, currentCancellableAmount=12000, key=KEY)

    assert reply.status_code == 200
    cancellation = reply.json()["cancellation"]
    assert cancellation["status"] == "REQUESTED"
    assert cancellation["totalAmount"] == 5000 and cancellation["requestedAt"]
    assert "cancelledAt" not in cancellation and "receiptUrl" not in cancellation
    assert portone_v2.Cancellation.from_api(cancellation).status == "REQUESTED"
    body = portone.payment()
    remote = assert_complete(body, "PAID")
    assert body["amount"]["cancelled"] == 0 and body["amount"]["paid"] == 12000
    assert [c["status"] for c in body["cancellations"]] == ["REQUESTED"]
    assert remote.cancel_pending == 5000 and remote.cancel_amount == 0
    assert remote.cancel_history == ()
    [event] = events(v2_webhook_sink)
    assert event["type"] == "Transaction.CancelPending"
    assert event["data"]["cancellationId"] == cancellation["id"]


def test_completing_it_gives_the_money_back_and_says_so(
    client, portone, later, v2_webhook_sink, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        requested = portone.cancel(currentCancellableAmount=12000).json()["cancellation"]

    reply = finish(client, later, requested["id"], "succeeded", django_capture_on_commit_callbacks)

    body = portone.payment()
    remote = assert_complete(body, "CANCELLED")
    [cancellation] = body["cancellations"]
    assert cancellation["status"] == "SUCCEEDED" and cancellation["id"] == requested["id"]
    assert cancellation["requestedAt"] == requested["requestedAt"]
    assert cancellation["cancelledAt"] == body["cancelledAt"]
    assert cancellation["receiptUrl"] and cancellation["pgCancellationId"]
    assert remote.cancel_pending == 0 and remote.cancel_amount == 12000
    assert [h.cancellation_id for h in remote.cancel_history] == [requested["id"]]
    assert [(e["type"], e["data"]["cancellationId"]) for e in events(v2_webhook_sink)] == [
        ("Transaction.CancelPending", requested["id"]),
        ("Transaction.Cancelled", requested["id"]),
    ]
    assert any("취소를 마쳤습니다" in message for message in messages_of(reply))


def test_a_partial_cancel_completed_is_partial_cancelled(
    client, portone, later, v2_webhook_sink, django_capture_on_commit_callbacks
):
    requested = portone.cancel(amount=2000).json()["cancellation"]

    finish(client, later, requested["id"], "succeeded", django_capture_on_commit_callbacks)

    body = portone.payment()
    assert_complete(body, "PARTIAL_CANCELLED")
    assert body["amount"]["cancelled"] == 2000
    assert events(v2_webhook_sink)[-1]["type"] == "Transaction.PartialCancelled"


def test_failing_it_leaves_the_money_and_sends_nothing(
    client, portone, later, v2_webhook_sink, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        requested = portone.cancel(amount=5000).json()["cancellation"]

    reply = finish(client, later, requested["id"], "failed", django_capture_on_commit_callbacks)

    body = portone.payment()
    remote = assert_complete(body, "PAID")
    assert [c["status"] for c in body["cancellations"]] == ["FAILED"]
    assert "cancelledAt" not in body["cancellations"][0]
    assert remote.cancel_pending == 0 and remote.cancel_amount == 0
    assert remote.cancel_history == ()
    assert types_of(v2_webhook_sink) == ["Transaction.CancelPending"]
    assert any("웹훅으로 알리지" in message for message in messages_of(reply))
    # The money is there to cancel again.
    assert portone.cancel(amount=12000, currentCancellableAmount=12000).status_code == 200


def test_what_is_being_cancelled_cannot_be_cancelled_again(portone, later):
    portone.cancel(amount=5000)

    too_much = portone.cancel(amount=8000, currentCancellableAmount=12000)
    everything = portone.cancel()
    stale = portone.cancel(amount=1000, currentCancellableAmount=7000)
    rest = portone.cancel(amount=7000, currentCancellableAmount=12000)

    status, error = error_of(too_much)
    assert (status, error) == (409, "CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT")
    assert "5,000" in too_much.json()["message"] and "7,000" in too_much.json()["message"]
    assert everything.status_code == 200  # "all that is left": the 7,000 not yet asked for
    assert everything.json()["cancellation"]["totalAmount"] == 7000
    # The balance to name is what has not been cancelled, the pending cancels included.
    assert error_of(stale)[1] == "CANCELLABLE_AMOUNT_CONSISTENCY_BROKEN"
    assert error_of(rest)[1] == "CANCEL_AMOUNT_EXCEEDS_CANCELLABLE_AMOUNT"
    assert list(SandboxCancellation.objects.values_list("amount", "status")) == [
        (5000, "REQUESTED"),
        (7000, "REQUESTED"),
    ]


def test_a_repeated_key_answers_the_cancel_as_it_is_now(
    client, portone, later, django_capture_on_commit_callbacks
):
    first = portone.cancel(amount=3000, key=KEY).json()["cancellation"]
    again = portone.cancel(amount=3000, key=KEY).json()["cancellation"]
    finish(client, later, first["id"], "succeeded", django_capture_on_commit_callbacks)
    after = portone.cancel(amount=3000, key=KEY).json()["cancellation"]

    assert again == first
    assert after["id"] == first["id"] and after["status"] == "SUCCEEDED"
    assert SandboxCancellation.objects.count() == 1


def test_switching_back_makes_new_cancels_immediate(client, portone, later):
    portone.cancel(amount=1000)

    client.post(f"{CONSOLE}{later}/pg-cancels-later", {"later": "0"})
    reply = portone.cancel(amount=2000)

    assert reply.json()["cancellation"]["status"] == "SUCCEEDED"
    assert [c["status"] for c in portone.payment()["cancellations"]] == ["REQUESTED", "SUCCEEDED"]


def test_console_cancel_is_requested_too_and_the_page_offers_to_finish_it(
    client, later, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        reply = client.post(
            f"{CONSOLE}{later}/cancel", {"amount": "4000", "reason": "반품"}, follow=True
        )

    cancellation = SandboxCancellation.objects.get()
    assert cancellation.status == "REQUESTED" and cancellation.source == "console"
    assert any("REQUESTED" in message for message in messages_of(reply))
    page = reply.content.decode()
    assert 'id="console-cancel-pending">4,000원' in page
    assert 'id="console-remaining">8,000원' in page
    assert f'data-cancellation-id="{cancellation.cancellation_id}" data-status="REQUESTED"' in page
    assert "PG 취소 완료" in page and "PG 취소 실패" in page
    sent = SandboxWebhookDelivery.objects.get(trigger="cancelled")
    assert sent.body["type"] == "Transaction.CancelPending"


def test_finishing_twice_is_refused(client, portone, later, django_capture_on_commit_callbacks):
    requested = portone.cancel(amount=1000).json()["cancellation"]
    finish(client, later, requested["id"], "failed", django_capture_on_commit_callbacks)

    reply = finish(client, later, requested["id"], "succeeded", django_capture_on_commit_callbacks)

    assert any("처리 중인 취소가 아닙니다" in message for message in messages_of(reply))
    assert SandboxCancellation.objects.get().status == "FAILED"
    assert SandboxPayment.objects.get(imp_uid=later).cancel_amount == 0


@pytest.mark.parametrize("outcome", ["", "SUCCEEDED", "done", " succeeded"])
def test_an_unknown_outcome_changes_nothing(
    client, portone, later, outcome, django_capture_on_commit_callbacks
):
    requested = portone.cancel(amount=1000).json()["cancellation"]

    reply = finish(client, later, requested["id"], outcome, django_capture_on_commit_callbacks)

    assert reply.status_code == 200
    assert any("outcome" in message for message in messages_of(reply))
    assert SandboxCancellation.objects.get().status == "REQUESTED"


def test_finishing_a_cancellation_of_another_payment_or_none_is_404(
    client, portone, later, approve_v2
):
    requested = portone.cancel(amount=1000).json()["cancellation"]
    other = approve_v2(paymentId="order_v2_0002")

    elsewhere = client.post(
        f"{CONSOLE}{other}/cancellations/{requested['id']}/finish", {"outcome": "succeeded"}
    )
    unknown = client.post(
        f"{CONSOLE}{later}/cancellations/sbcancel_nothing/finish", {"outcome": "succeeded"}
    )
    no_payment = client.post(
        f"{CONSOLE}nothing/cancellations/{requested['id']}/finish", {"outcome": "succeeded"}
    )

    assert [elsewhere.status_code, unknown.status_code, no_payment.status_code] == [404] * 3
    assert SandboxCancellation.objects.get().status == "REQUESTED"


def test_the_switch_is_for_v2_payments_and_takes_0_or_1(client, paid_payment, later):
    v1 = paid_payment()

    refused = client.post(f"{CONSOLE}{v1}/pg-cancels-later", {"later": "1"}, follow=True)
    odd = client.post(f"{CONSOLE}{later}/pg-cancels-later", {"later": "yes"}, follow=True)
    missing = client.post(f"{CONSOLE}nothing/pg-cancels-later", {"later": "1"})

    assert any("V2 결제에만" in message for message in messages_of(refused))
    assert not SandboxPayment.objects.get(imp_uid=v1).pg_cancels_later
    assert any("0 또는 1" in message for message in messages_of(odd))
    assert SandboxPayment.objects.get(imp_uid=later).pg_cancels_later
    assert missing.status_code == 404


def test_resend_names_the_succeeded_cancel_not_a_pending_one(
    client, portone, later, v2_webhook_sink, django_capture_on_commit_callbacks
):
    done = portone.cancel(amount=1000).json()["cancellation"]
    finish(client, later, done["id"], "succeeded", django_capture_on_commit_callbacks)
    portone.cancel(amount=2000)
    v2_webhook_sink.calls.reset()

    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"{CONSOLE}{later}/resend-webhook")

    [event] = events(v2_webhook_sink)
    assert event["type"] == "Transaction.PartialCancelled"
    assert event["data"]["cancellationId"] == done["id"]
