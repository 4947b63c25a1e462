"""Deadlines: virtual accounts that expire without a deposit, and orders nobody paid.

An expired account releases its order back to pending (payable again); a late deposit is then
honoured, or given back when the order was paid otherwise or closed. Pending orders nobody
paid are closed after SHOP_PENDING_ORDER_MAX_AGE_DAYS, once Iamport confirms it holds nothing.

Each test taking `api` runs twice, against Iamport (V1) and against PortOne V2 (tests/payments/
apis.py); the helpers take either that or the V1 fake `iamport`, for the two scenarios V2
cannot have.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
import requests
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from payments.models import Payment
from payments.services import SyncOutcome, payment_sync
from payments.services.cancels import MANUAL_REFUND_NOTE
from shop.models import Order, OutgoingMail
from tests.conftest import load_fixture
from tests.payments import apis

pytestmark = pytest.mark.django_db

VBANK = "imp_000000000001"
CARD = "imp_000000000002"
Status = Order.Status
api = apis.api  # the tests taking it run once per API


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("sync_payments", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def reload(obj):
    obj.refresh_from_db()
    return obj


def expired_mails(order: Order) -> list[OutgoingMail]:
    return list(OutgoingMail.objects.filter(order=order, key__startswith="order_deposit_expired:"))


def issue_account(fake, order_factory) -> tuple[Order, dict]:
    """A 12,000 won order with a virtual account issued through the sync (deadline ahead)."""
    order = order_factory(price=12000, pay_method="vbank")
    vbank = fake.payment(order.merchant_uid, imp_uid=VBANK, fixture="payment_vbank_ready")
    sync = fake.sync if isinstance(fake, apis.Api) else payment_sync
    assert sync(imp_uid=VBANK).outcome == SyncOutcome.AWAITING_DEPOSIT
    return reload(order), vbank


@pytest.fixture
def awaiting(api, order_factory):
    return issue_account(api, order_factory)


@pytest.fixture
def awaiting_v1(iamport, order_factory):
    return issue_account(iamport, order_factory)


def let_the_deadline_pass(fake, order: Order, vbank: dict, *, ago=timedelta(hours=1)) -> dict:
    """Time passes: the account's deadline is now behind us, at Iamport and in our records."""
    due = timezone.now() - ago
    Order.objects.filter(pk=order.pk, status=Status.AWAITING_DEPOSIT).update(deposit_due=due)
    Payment.objects.filter(imp_uid=vbank["imp_uid"]).update(vbank_date=due)
    return fake.replace_payment(vbank, vbank_date=int(due.timestamp()))


def deposit(fake, vbank: dict) -> dict:
    """The buyer deposits into the account (Iamport now reports it paid)."""
    return fake.replace_payment(vbank, status="paid", paid_at=int(timezone.now().timestamp()))


def card_payment(fake, order: Order) -> dict:
    return fake.payment(order.merchant_uid, imp_uid=CARD)


def webhook(imp_uid: str):
    """Iamport's (V1) notification."""
    return Client().post(
        "/payments/webhook/", json.dumps({"imp_uid": imp_uid}), content_type="application/json"
    )


def assert_released(order: Order) -> None:
    order = reload(order)
    assert order.status == Status.PENDING and order.is_payable
    assert "입금 기한" in order.status_message and "다시 결제" in order.status_message
    assert (order.deposit_bank, order.deposit_account, order.deposit_holder) == ("", "", "")
    assert order.deposit_due is None
    payment = Payment.objects.get(imp_uid=VBANK)
    assert payment.verdict == Payment.Verdict.FAILED  # no longer the order's accepted payment
    assert len(expired_mails(order)) == 1


# --- an expired virtual account, found by sync_payments ------------------------------------
def test_sync_payments_releases_an_order_whose_account_expired(api, awaiting):
    order, vbank = awaiting
    vbank = let_the_deadline_pass(api, order, vbank)
    api.find(order.merchant_uid, newest=vbank, paid=None)

    out, err = run()

    assert err == ""
    assert f"{order.merchant_uid}: awaiting_deposit -> pending" in out
    assert "1 virtual accounts expired" in out
    assert_released(order)
    assert not api.cancels()  # a late deposit may still come


def test_a_second_run_releases_nothing_more_and_mails_once(api, awaiting):
    order, vbank = awaiting
    vbank = let_the_deadline_pass(api, order, vbank)
    api.find(order.merchant_uid, newest=vbank, paid=None)
    run()

    out, _ = run()

    assert "0 changed" in out
    assert_released(order)


def test_a_deposit_that_already_arrived_wins_over_the_deadline(api, awaiting):
    order, vbank = awaiting
    vbank = deposit(api, let_the_deadline_pass(api, order, vbank))
    api.find(order.merchant_uid, newest=vbank, paid=vbank)

    out, _ = run()

    assert f"{order.merchant_uid}: awaiting_deposit -> paid" in out
    assert reload(order).status == Status.PAID
    assert not expired_mails(order)


def test_an_account_that_expired_long_ago_is_found_beyond_the_days_looked_back(api, awaiting):
    order, vbank = awaiting
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(days=30))
    vbank = let_the_deadline_pass(api, order, vbank, ago=timedelta(days=27))
    api.find(order.merchant_uid, newest=vbank, paid=None)

    out, _ = run("--days", "7")

    assert "checked 1 open orders: 1 changed" in out
    assert reload(order).status == Status.PENDING
    # Never closed in the pass that told the buyer to pay again; the next one counts the order's
    # age from that deadline, 27 days ago, and closes it.
    again, _ = run("--days", "7")
    assert f"{order.merchant_uid}: pending -> cancelled" in again


# V1 only: two live attempts of one order (V2 shows one per paymentId).
def test_the_account_is_asked_for_when_a_newer_attempt_hides_it(iamport, awaiting_v1):
    order, vbank = awaiting_v1
    let_the_deadline_pass(iamport, order, vbank)
    failed = {**load_fixture("payment_failed")["response"], "merchant_uid": order.merchant_uid}
    failed["imp_uid"] = "imp_000000000009"
    iamport.find(order.merchant_uid, newest=failed, paid=None)
    iamport.payment(order.merchant_uid, imp_uid="imp_000000000009", fixture="payment_failed")

    out, _ = run()

    assert iamport.calls("GET", f"payments/{VBANK}")
    assert f"{order.merchant_uid}: awaiting_deposit -> pending" in out
    assert_released(order)


def test_nothing_is_released_while_iamport_cannot_be_asked(api, awaiting):
    order, vbank = awaiting
    let_the_deadline_pass(api, order, vbank)
    api.find(order.merchant_uid, paid=requests.ConnectionError("down"))

    out, err = run()

    assert "Iamport failed" in err and "1 failed" in out
    assert reload(order).status == Status.AWAITING_DEPOSIT
    assert not expired_mails(order)


def test_an_account_whose_deadline_iamport_extended_is_kept(api, awaiting):
    order, vbank = awaiting
    let_the_deadline_pass(api, order, vbank)
    extended = api.replace_payment(vbank)  # Iamport's deadline is still ahead
    api.find(order.merchant_uid, newest=extended, paid=None)

    out, _ = run()

    assert "0 changed" in out
    assert reload(order).status == Status.AWAITING_DEPOSIT
    assert api.lookups(VBANK) == 1 + api.lookups_per_reconcile  # issued, then this run's
    assert api.asked_for_order(order.merchant_uid)


# --- an expired virtual account, seen by the sync (webhook, callback) -----------------------
def test_syncing_an_expired_account_releases_its_order(api, awaiting):
    order, vbank = awaiting
    let_the_deadline_pass(api, order, vbank)

    result = api.sync(VBANK)

    assert result.outcome == SyncOutcome.NOT_PAID
    assert "입금 기한" in result.message
    assert_released(order)
    again = api.sync(VBANK)
    assert again.outcome == SyncOutcome.NOT_PAID
    assert_released(order)  # still one mail


def test_a_webhook_for_an_expired_account_releases_its_order(api, awaiting):
    order, vbank = awaiting
    let_the_deadline_pass(api, order, vbank)

    reply = api.webhook(VBANK)

    assert reply.status_code == 200
    assert_released(order)


def test_an_account_already_expired_when_first_seen_is_not_offered(api, order_factory):
    order = order_factory(price=12000, pay_method="vbank")
    past = int((timezone.now() - timedelta(minutes=5)).timestamp())
    api.payment(order.merchant_uid, fixture="payment_vbank_ready", vbank_date=past)

    result = api.sync("imp_123456789012")

    assert result.outcome == SyncOutcome.NOT_PAID
    order = reload(order)
    assert order.status == Status.PENDING and order.deposit_account == ""
    assert not OutgoingMail.objects.filter(key__startswith="order_vbank_issued:").exists()


# --- a deposit after the release ------------------------------------------------------------
def test_a_late_deposit_still_pays_the_released_order(api, awaiting):
    order, vbank = awaiting
    vbank = let_the_deadline_pass(api, order, vbank)
    api.sync(VBANK)
    deposit(api, vbank)

    reply = api.webhook(VBANK)

    assert reply.status_code == 200
    order = reload(order)
    assert order.status == Status.PAID and order.lines.get().product.stock == 9
    assert Payment.objects.get(imp_uid=VBANK).verdict == Payment.Verdict.ACCEPTED


def test_a_released_order_can_be_paid_by_card(api, awaiting):
    order, vbank = awaiting
    let_the_deadline_pass(api, order, vbank)
    api.sync(VBANK)
    card_payment(api, order)

    assert api.sync(CARD, merchant_uid=order.merchant_uid).outcome == SyncOutcome.PAID
    assert reload(order).status == Status.PAID
    assert not api.cancels()  # the expired account held nothing


# V1 only: two live attempts of one order (V2 shows one per paymentId).
def test_a_late_deposit_for_an_order_paid_by_card_is_flagged_for_refund(iamport, awaiting_v1):
    order, vbank = awaiting_v1
    vbank = let_the_deadline_pass(iamport, order, vbank)
    payment_sync(imp_uid=VBANK)
    card_payment(iamport, order)
    payment_sync(imp_uid=CARD)
    deposit(iamport, vbank)

    reply = webhook(VBANK)

    assert reply.status_code == 200
    late = Payment.objects.get(imp_uid=VBANK)
    assert late.verdict == Payment.Verdict.DUPLICATE and MANUAL_REFUND_NOTE in late.verdict_reason
    # A deposit is given back only to an account the buyer names: no automatic cancel.
    assert not iamport.calls("POST", "payments/cancel")
    order = reload(order)
    assert order.status == Status.PAID and order.lines.get().product.stock == 9


def test_a_late_deposit_for_a_closed_order_is_flagged_for_refund(api, awaiting):
    order, vbank = awaiting
    vbank = let_the_deadline_pass(api, order, vbank)
    api.sync(VBANK)
    Order.objects.filter(pk=order.pk).update(status=Status.CANCELLED)
    deposit(api, vbank)

    api.webhook(VBANK)

    late = Payment.objects.get(imp_uid=VBANK)
    assert late.verdict == Payment.Verdict.DUPLICATE and MANUAL_REFUND_NOTE in late.verdict_reason
    assert reload(order).status == Status.CANCELLED


# --- pending orders nobody paid -------------------------------------------------------------
def make_old(order: Order, days: float) -> Order:
    Order.objects.filter(pk=order.pk).update(created_at=timezone.now() - timedelta(days=days))
    return reload(order)


def test_a_pending_order_nobody_paid_is_closed_after_the_max_age(api, order_factory):
    order = make_old(order_factory(), 8)
    api.find(order.merchant_uid)  # Iamport has no payment for it

    out, err = run()

    assert err == ""
    assert f"{order.merchant_uid}: pending -> cancelled" in out
    assert "1 pending orders closed unpaid" in out
    order = reload(order)
    assert order.status == Status.CANCELLED
    assert order.status_message == "7일 동안 결제되지 않아 주문을 닫았습니다."
    assert api.asked_for_order(order.merchant_uid)


def test_a_younger_pending_order_stays_open(api, order_factory):
    order = make_old(order_factory(), 6)
    api.find(order.merchant_uid)

    out, _ = run()

    assert "0 changed" in out
    assert reload(order).status == Status.PENDING


def test_the_max_age_is_a_setting(api, order_factory, settings):
    settings.SHOP_PENDING_ORDER_MAX_AGE_DAYS = 2
    order = make_old(order_factory(), 3)
    api.find(order.merchant_uid)

    run()

    assert reload(order).status_message == "2일 동안 결제되지 않아 주문을 닫았습니다."


def test_old_pending_orders_are_found_beyond_the_days_looked_back(api, order_factory):
    order = make_old(order_factory(), 40)
    api.find(order.merchant_uid)

    out, _ = run("--days", "7")

    assert "checked 1 open orders: 1 changed" in out
    assert reload(order).status == Status.CANCELLED


def test_an_old_order_iamport_has_a_payment_for_is_synced_not_closed(api, order_factory):
    order = make_old(order_factory(price=12000), 8)
    paid = {**load_fixture("payment_paid")["response"], "merchant_uid": order.merchant_uid}
    api.find(order.merchant_uid, paid=paid)
    api.payment(order.merchant_uid)

    out, _ = run()

    assert f"{order.merchant_uid}: pending -> paid" in out
    assert reload(order).status == Status.PAID


def test_an_old_order_is_not_closed_while_iamport_cannot_be_asked(api, order_factory):
    order = make_old(order_factory(), 8)
    api.find(order.merchant_uid, paid=requests.ConnectionError("down"))

    out, _ = run()

    assert "1 failed" in out
    assert reload(order).status == Status.PENDING


def test_a_payment_for_an_order_closed_unpaid_is_refunded(api, order_factory):
    order = make_old(order_factory(price=12000), 8)
    api.find(order.merchant_uid)
    run()
    late = card_payment(api, order)
    api.cancel_ok(late, 12000)

    result = api.sync(CARD)

    assert result.outcome == SyncOutcome.DUPLICATE
    [cancel] = api.cancels()
    assert (cancel.imp_uid, cancel.amount) == (CARD, 12000)
    order = reload(order)
    assert order.status == Status.CANCELLED and order.lines.get().product.stock == 10


def test_a_released_order_gets_the_full_age_from_its_deadline(api, awaiting):
    """Created long ago, released just now: the buyer was just told to pay again."""
    order, vbank = awaiting
    make_old(order, 20)
    vbank = let_the_deadline_pass(api, order, vbank)
    api.find(order.merchant_uid, newest=vbank, paid=None)

    first, _ = run()
    second, _ = run()

    assert "1 virtual accounts expired, 0 pending orders closed" in first
    assert "0 changed" in second
    assert reload(order).status == Status.PENDING
    # Its age counts from the account's deadline: past the max age after it, it is closed.
    vbank = let_the_deadline_pass(api, order, vbank, ago=timedelta(days=8))
    api.find(order.merchant_uid, newest=vbank, paid=None)
    third, _ = run()
    assert f"{order.merchant_uid}: pending -> cancelled" in third


def test_the_merchant_uid_option_applies_the_deadlines_to_that_order(api, order_factory):
    order = make_old(order_factory(), 8)
    other = make_old(order_factory(), 8)
    api.find(order.merchant_uid)

    out, _ = run("--merchant-uid", order.merchant_uid)

    assert "checked 1 open orders: 1 changed" in out
    assert (reload(order).status, reload(other).status) == (Status.CANCELLED, Status.PENDING)


# --- the setting ----------------------------------------------------------------------------
ROOT = Path(__file__).resolve().parents[2]


def settings_value(value: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "SHOP_"))}
    env.update(
        DJANGO_DEBUG="1", DJANGO_ENV_FILE="/dev/null", DJANGO_SETTINGS_MODULE="config.settings"
    )
    if value is not None:
        env["SHOP_PENDING_ORDER_MAX_AGE_DAYS"] = value
    code = "from django.conf import settings as s; print(s.SHOP_PENDING_ORDER_MAX_AGE_DAYS)"
    return subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(ROOT)!r}); {code}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(("value", "days"), [(None, "7"), ("14", "14"), ("", "7")])
def test_the_max_age_comes_from_the_environment(value, days):
    result = settings_value(value)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == days


@pytest.mark.parametrize("value", ["0", "-3", "a week"])
def test_a_max_age_that_would_close_orders_being_paid_stops_start_up(value):
    result = settings_value(value)

    assert result.returncode != 0
    assert "SHOP_PENDING_ORDER_MAX_AGE_DAYS" in result.stderr
