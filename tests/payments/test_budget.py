"""One time budget per request, shared by every Iamport call the request makes."""

from __future__ import annotations

import json

import pytest
import requests
import responses

from payments import client as client_module
from payments.client import IamportTimeout, get_client, time_budget
from tests.conftest import API, load_fixture

IMP = "imp_123456789012"


class FakeClock:
    """time.monotonic for the client: each Iamport answer takes `per_call` seconds."""

    def __init__(self, per_call: float) -> None:
        self.now = 1000.0
        self.per_call = per_call

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch):
    fake = FakeClock(per_call=6.0)
    monkeypatch.setattr(client_module.time, "monotonic", fake)
    return fake


def slow(clock: FakeClock, body: dict, status: int = 200):
    """An answer after `per_call` seconds, or a timeout once the call's read timeout is up."""

    def answer(request):
        read_timeout = request.req_kwargs["timeout"][1]
        if clock.per_call > read_timeout:
            clock.now += read_timeout
            raise requests.ReadTimeout("no answer in time")
        clock.now += clock.per_call
        return status, {}, json.dumps(body)

    return answer


def sent_timeouts(iamport) -> list[tuple[float, float]]:
    return [call.request.req_kwargs["timeout"] for call in iamport.rsps.calls]


def test_outside_a_budget_every_call_gets_the_configured_timeout(iamport, settings):
    settings.IAMPORT_TIMEOUT = (3.05, 10.0)
    iamport.payment("o1", imp_uid=IMP)

    get_client().find_by_imp_uid(IMP)

    assert sent_timeouts(iamport) == [(3.05, 10.0)] * 2


def test_calls_inside_a_budget_never_wait_past_it(iamport, settings, clock):
    settings.IAMPORT_TIMEOUT = (3.05, 10.0)
    iamport.rsps.remove(responses.POST, API + "users/getToken")
    iamport.rsps.add_callback(
        responses.POST, API + "users/getToken", callback=slow(clock, load_fixture("token"))
    )
    payment = load_fixture("payment_paid")
    iamport.rsps.add_callback(responses.GET, API + f"payments/{IMP}", callback=slow(clock, payment))

    with time_budget(15):
        get_client().find_by_imp_uid(IMP)  # token (6 s) + lookup (6 s): 3 s left
        with pytest.raises(IamportTimeout, match="did not answer"):
            get_client().find_by_imp_uid(IMP)  # may wait 3 s, not the 6 s it would take
        with pytest.raises(IamportTimeout, match="no time left"):
            get_client().find_by_imp_uid(IMP)

    assert sent_timeouts(iamport) == [(3.05, 10.0), (3.05, 9.0), (3.0, 3.0)]
    assert len(iamport.rsps.calls) == 3  # nothing was sent once the budget was spent


def test_a_nested_budget_keeps_the_tighter_deadline(iamport, settings, clock):
    settings.IAMPORT_TIMEOUT = (3.05, 10.0)
    iamport.payment("o1", imp_uid=IMP)

    with time_budget(2), time_budget(60):
        get_client().find_by_imp_uid(IMP)

    assert sent_timeouts(iamport) == [(2.0, 2.0)] * 2


@pytest.mark.django_db
def test_a_forged_payment_s_webhook_spends_at_most_the_request_budget(
    client, iamport, order_factory, settings, clock
):
    """Token + lookup + cancel each took a full timeout before: 27 s for one delivery."""
    settings.IAMPORT_TIMEOUT = (3.05, 10.0)
    settings.IAMPORT_REQUEST_BUDGET = 15
    clock.per_call = 7.0
    order = order_factory(price=12000)
    forged = {**load_fixture("payment_paid")["response"], "merchant_uid": order.merchant_uid}
    forged["amount"] = 100
    iamport.rsps.remove(responses.POST, API + "users/getToken")
    iamport.rsps.add_callback(
        responses.POST, API + "users/getToken", callback=slow(clock, load_fixture("token"))
    )
    iamport.rsps.add_callback(
        responses.GET,
        API + f"payments/{IMP}",
        callback=slow(clock, {"code": 0, "message": None, "response": forged}),
    )
    iamport.rsps.add_callback(
        responses.POST,
        API + "payments/cancel",
        callback=slow(clock, {"code": -1, "message": "지연", "response": None}, status=504),
    )
    started = clock.now

    reply = client.post(
        "/payments/webhook/", json.dumps({"imp_uid": IMP}), content_type="application/json"
    )

    assert [read for _, read in sent_timeouts(iamport)] == [10.0, 8.0, 1.0]
    assert clock.now - started == 15  # the cancel ran into the deadline, not past it
    assert reply.status_code == 504
