"""Stored webhook deliveries processed again from the admin ("다시 처리"): the same sync a
fresh delivery gets, the outcome recorded on the delivery with what it said before kept
beneath, Iamport's failures reported as messages (never a 500), the stored body read by the
webhook's rules, only for staff who may change deliveries, at most 50 at a time and within the
request's time budget.
"""

from __future__ import annotations

import json

import pytest
import requests
from django.contrib.auth.models import Permission
from django.urls import reverse

from payments.admin.reprocess import REPROCESS_MOST
from payments.models import WebhookDelivery
from payments.services import webhooks as webhook_service
from shop.models import Order
from tests.conftest import API
from tests.payments.helpers import IMP_UID, messages_of

CHANGELIST = reverse("admin:payments_webhookdelivery_changelist")
Outcome = WebhookDelivery.Outcome


@pytest.fixture
def order(order_factory):
    return order_factory()


def stored(order: Order | None = None, **fields) -> WebhookDelivery:
    """A delivery as the webhook view stored it: Iamport's JSON body, headers, and by default
    the error it ended in when Iamport could not be reached."""
    body = {
        "imp_uid": IMP_UID,
        "merchant_uid": order.merchant_uid if order else "",
        "status": "paid",
    }
    values = {
        "remote_addr": "52.78.100.19",
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
        "imp_uid": IMP_UID,
        "merchant_uid": body["merchant_uid"],
        "status_hint": "paid",
        "outcome": Outcome.ERROR,
        "detail": "IamportUnavailable: connection refused",
        **fields,
    }
    return WebhookDelivery.objects.create(**values)


def reprocess(client, *deliveries: WebhookDelivery):
    return client.post(
        CHANGELIST,
        {
            "action": "reprocess_selected",
            "_selected_action": [str(d.pk) for d in deliveries],
            "index": "0",
        },
    )


def lookups(iamport) -> list:
    return [c for c in iamport.rsps.calls if c.request.url == API + f"payments/{IMP_UID}"]


# --- what it does -------------------------------------------------------------------------
def test_a_delivery_that_failed_is_processed_again_and_pays_the_order(admin_client, iamport, order):
    delivery = stored(order)
    iamport.payment(order.merchant_uid, imp_uid=IMP_UID)

    response = reprocess(admin_client, delivery)

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    delivery.refresh_from_db()
    assert delivery.outcome == Outcome.PROCESSED
    new, earlier = delivery.detail.split("\n\n", 1)
    assert new == "paid; order paid"
    assert earlier.startswith("[processed again ")
    assert "by admin; before: error]" in earlier
    assert earlier.endswith("IamportUnavailable: connection refused")
    [message] = messages_of(response)
    assert (
        f"웹훅 #{delivery.pk} ({IMP_UID}): 다시 처리했습니다 — 처리됨 (paid; order paid)" == message
    )


def test_processing_again_twice_keeps_both_earlier_outcomes(admin_client, iamport, order):
    delivery = stored(order)
    iamport.payment(order.merchant_uid, imp_uid=IMP_UID)

    reprocess(admin_client, delivery)
    reprocess(admin_client, delivery)

    delivery.refresh_from_db()
    assert delivery.detail.count("[processed again ") == 2
    assert "before: processed]" in delivery.detail
    assert "before: error]" in delivery.detail
    assert delivery.detail.endswith("IamportUnavailable: connection refused")
    assert Order.objects.get().status == Order.Status.PAID  # once: the sync is idempotent


def test_a_delivery_stored_before_it_was_read_is_read_from_its_body(admin_client, iamport, order):
    delivery = stored(
        order, imp_uid="", merchant_uid="", status_hint="", outcome=Outcome.RECEIVED, detail=""
    )
    iamport.payment(order.merchant_uid, imp_uid=IMP_UID)

    reprocess(admin_client, delivery)

    delivery.refresh_from_db()
    assert (delivery.outcome, delivery.imp_uid, delivery.merchant_uid) == (
        Outcome.PROCESSED,
        IMP_UID,
        order.merchant_uid,
    )
    assert delivery.detail.endswith("before: received]")


def test_a_form_encoded_body_is_read_as_the_webhook_reads_it(admin_client, iamport, order):
    delivery = stored(
        order,
        imp_uid="",
        headers={"User-Agent": "Iamport", "content-type": "application/x-www-form-urlencoded"},
        body=f"imp_uid={IMP_UID}&merchant_uid={order.merchant_uid}&status=paid",
    )
    iamport.payment(order.merchant_uid, imp_uid=IMP_UID)

    reprocess(admin_client, delivery)

    delivery.refresh_from_db()
    assert delivery.outcome == Outcome.PROCESSED


@pytest.mark.parametrize(
    ("headers", "body", "reason"),
    [
        ({"Content-Type": "application/json"}, "<html>not json</html>", "not JSON"),
        ({"Content-Type": "application/json"}, "[1, 2]", "not a JSON object"),
        ({"Content-Type": "application/json; charset=utf-8"}, "", "not JSON"),
        ({"Content-Type": "application/json"}, '{"imp_uid": "../../users"}', "not a valid id"),
        ({"Content-Type": "application/json"}, '{"imp_uid": ["x"]}', "not a valid id"),
        ({"Content-Type": "application/json"}, '{"merchant_uid": "x"}', "imp_uid is required"),
        ({}, "imp_uid=+", "imp_uid is required"),
        ("not a dict", "garbage", "imp_uid is required"),
        ({"Content-Type": "application/json"}, "[" * 100_000, "not JSON"),
    ],
)
def test_a_delivery_with_an_unreadable_body_stays_rejected(
    admin_client, iamport, order, headers, body, reason
):
    delivery = stored(order, imp_uid="", headers=headers, body=body, outcome=Outcome.REJECTED)

    response = reprocess(admin_client, delivery)

    assert response.status_code == 302
    delivery.refresh_from_db()
    assert delivery.outcome == Outcome.REJECTED
    assert reason in delivery.detail.splitlines()[0]
    assert lookups(iamport) == []
    [message] = messages_of(response)
    assert "거부" in message


# --- Iamport failing ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("reply", "kept"),
    [
        ({"body": requests.ConnectionError("down")}, "IamportUnavailable"),
        ({"status": 502, "body": "<html>Bad Gateway</html>"}, "HTTP 502"),
        ({"body": requests.ReadTimeout("slow")}, "IamportTimeout"),
    ],
)
def test_iamport_failing_again_is_a_message_and_stays_on_the_record(
    admin_client, iamport, order, reply, kept
):
    delivery = stored(order)
    iamport.rsps.get(API + f"payments/{IMP_UID}", **reply)

    response = reprocess(admin_client, delivery)

    assert response.status_code == 302
    [message] = messages_of(response)
    assert message.startswith(f"웹훅 #{delivery.pk} ({IMP_UID}): 다시 처리했습니다 — 오류")
    assert kept in message
    delivery.refresh_from_db()
    assert delivery.outcome == Outcome.ERROR
    assert kept in delivery.detail.splitlines()[0]
    assert delivery.detail.endswith("IamportUnavailable: connection refused")
    assert Order.objects.get().status == Order.Status.PENDING


def test_a_payment_iamport_does_not_know_is_ignored(admin_client, iamport, order):
    delivery = stored(order)
    iamport.not_found(IMP_UID)

    response = reprocess(admin_client, delivery)

    delivery.refresh_from_db()
    assert delivery.outcome == Outcome.IGNORED
    [message] = messages_of(response)
    assert "무시" in message


def test_an_unexpected_failure_is_recorded_and_the_others_still_run(
    admin_client, iamport, order, monkeypatch
):
    broken, fine = stored(order), stored(order)
    iamport.payment(order.merchant_uid, imp_uid=IMP_UID)
    real_sync = webhook_service.payment_sync
    calls = []

    def sync_breaking_once(**kwargs):
        calls.append(kwargs)
        if len(calls) == 1:
            raise RuntimeError("disk full" + "!" * 20_000)  # a traceback longer than the record
        return real_sync(**kwargs)

    monkeypatch.setattr("payments.services.webhooks.payment_sync", sync_breaking_once)

    response = reprocess(admin_client, broken, fine)

    assert response.status_code == 302
    broken.refresh_from_db()
    fine.refresh_from_db()
    assert broken.outcome == Outcome.ERROR
    assert "RuntimeError: disk full" in broken.detail
    assert "[processed again " in broken.detail  # what came before is not pushed out
    assert "IamportUnavailable: connection refused" in broken.detail
    assert fine.outcome == Outcome.PROCESSED
    first, second = messages_of(response)
    assert "처리하지 못했습니다" in first
    assert "처리됨" in second


# --- limits -------------------------------------------------------------------------------
def test_more_than_the_limit_at_once_is_refused_untouched(admin_client, iamport, order):
    deliveries = [stored(order) for _ in range(REPROCESS_MOST + 1)]

    response = reprocess(admin_client, *deliveries)

    assert response.status_code == 302
    [message] = messages_of(response)
    assert f"한 번에 {REPROCESS_MOST}건까지" in message
    assert lookups(iamport) == []
    assert set(WebhookDelivery.objects.values_list("outcome", flat=True)) == {Outcome.ERROR}


def test_nothing_is_started_without_time_left_in_the_request(
    admin_client, iamport, order, settings
):
    settings.IAMPORT_REQUEST_BUDGET = 0.5
    delivery = stored(order)

    response = reprocess(admin_client, delivery)

    [message] = messages_of(response)
    assert "시간이 모자라 1건은 다시 처리하지 않았습니다" in message
    delivery.refresh_from_db()
    assert delivery.outcome == Outcome.ERROR
    assert "[processed again" not in delivery.detail
    assert lookups(iamport) == []


# --- who may ------------------------------------------------------------------------------
@pytest.fixture
def staff(client, django_user_model):
    def make(*codenames: str):
        user = django_user_model.objects.create_user(username="ops", password="pw", is_staff=True)
        for codename in codenames:
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label="payments", codename=codename)
            )
        client.force_login(user)
        return client

    return make


def test_staff_who_may_only_view_deliveries_cannot_process_them_again(staff, iamport, order):
    client = staff("view_webhookdelivery")
    delivery = stored(order)

    page = client.get(CHANGELIST)
    assert page.status_code == 200
    assert page.context["action_form"] is None  # no action offered at all
    reprocess(client, delivery)

    delivery.refresh_from_db()
    assert delivery.outcome == Outcome.ERROR
    assert lookups(iamport) == []


def test_staff_who_may_change_deliveries_can_process_them_again(staff, iamport, order):
    client = staff("change_webhookdelivery")
    delivery = stored(order)
    iamport.payment(order.merchant_uid, imp_uid=IMP_UID)

    reprocess(client, delivery)

    delivery.refresh_from_db()
    assert delivery.outcome == Outcome.PROCESSED
    assert "by ops; before: error]" in delivery.detail
    # Still a read-only record: no change form for it.
    change = reverse("admin:payments_webhookdelivery_change", args=[delivery.pk])
    assert 'name="_save"' not in client.get(change).content.decode()


@pytest.mark.parametrize("selected", ["javascript:alert(1)", "1" * 1000, "-1"])
def test_an_action_posted_with_ids_that_are_not_ids_is_400(admin_client, selected):
    response = admin_client.post(
        CHANGELIST, {"action": "reprocess_selected", "_selected_action": [selected], "index": "0"}
    )

    assert response.status_code == 400


def test_the_action_is_offered_under_its_name(admin_client, db):
    page = admin_client.get(CHANGELIST)

    assert dict(page.context["action_form"].fields["action"].choices)["reprocess_selected"] == (
        "다시 처리"
    )
