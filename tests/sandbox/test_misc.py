"""Smaller behaviours: body parsing, admin, query parameters, string forms."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.test import RequestFactory

from sandbox import services, webhooks
from sandbox.http import BadRequestBody, read_params
from sandbox.models import (
    SandboxCancellation,
    SandboxPayment,
    SandboxPrepare,
    SandboxToken,
    SandboxWebhookDelivery,
)
from sandbox.templatetags import sandbox_tags
from tests.sandbox.conftest import API, sdk_start, window_action

pytestmark = pytest.mark.django_db


def test_read_params_handles_empty_and_non_object_json():
    factory = RequestFactory()
    empty = factory.generic("POST", "/", b"", CONTENT_TYPE="application/json")
    listed = factory.post("/", b"[1, 2]", content_type="application/json")
    form_put = factory.put(
        "/", b"merchant_uid=o&amount=1000", content_type="application/x-www-form-urlencoded"
    )

    assert read_params(empty) == {}
    with pytest.raises(BadRequestBody):
        read_params(listed)
    assert read_params(form_put) == {"merchant_uid": "o", "amount": "1000"}


def test_prepare_put_accepts_form_encoded_body(api):
    api.post("payments/prepare", {"merchant_uid": "order_0001", "amount": 1000})

    reply = api.client.put(
        API + "payments/prepare",
        "merchant_uid=order_0001&amount=2000",
        content_type="application/x-www-form-urlencoded",
        HTTP_AUTHORIZATION=api.token,
    )

    assert reply.json()["response"]["amount"] == 2000


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("payments/findAll/order_0001", {"page": "first"}),
        ("payments/findAll/order_0001", {"limit": "0"}),
        ("payments/find/order_0001", {"sorting": "cheapest"}),
    ],
)
def test_bad_query_parameters_answer_400(api, start_payment, path, query):
    start_payment()

    assert api.get(path, **query).status_code == 400


def test_find_all_page_past_the_end_is_empty(api, start_payment):
    start_payment()

    page = api.get("payments/findAll/order_0001", page=5).json()["response"]

    assert page["total"] == 1 and page["list"] == []


def test_prepare_refuses_a_long_merchant_uid(api):
    reply = api.post("payments/prepare", {"merchant_uid": "x" * 41, "amount": 1000})

    assert reply.status_code == 400


def test_sdk_start_refuses_malformed_json_and_get(client):
    malformed = client.post(API + "sdk/start", "{", content_type="application/json")

    assert malformed.status_code == 400
    assert malformed.json()["response"]["error_msg"]
    assert client.get(API + "sdk/start").status_code == 405


def test_window_action_refuses_malformed_json(client, start_payment):
    imp_uid = start_payment()

    reply = client.post(f"{API}window/{imp_uid}/approve", "{", content_type="application/json")

    assert reply.status_code == 400
    assert SandboxPayment.objects.get(imp_uid=imp_uid).status == "ready"


def test_transfer_approval_records_the_bank(client, start_payment):
    imp_uid = start_payment(pay_method="trans")

    rsp = window_action(client, imp_uid, "approve").json()["response"]["rsp"]

    assert rsp["bank_name"] == "KB국민은행"
    assert rsp["apply_num"] is None


def test_easy_pay_approval_has_no_card_or_bank(client, start_payment):
    imp_uid = start_payment(pg="kakaopay", pay_method="kakaopay")

    rsp = window_action(client, imp_uid, "approve").json()["response"]["rsp"]

    assert rsp["status"] == "paid"
    assert rsp["pg_provider"] == "kakaopay"
    assert rsp["card_name"] is None and rsp["bank_name"] is None


def test_new_imp_uid_skips_one_already_taken(monkeypatch, start_payment):
    taken = start_payment()
    digits = iter([taken.removeprefix("imps_"), "123456789012"])
    monkeypatch.setattr(services, "_digits", lambda count: next(digits))

    assert services._new_imp_uid() == "imps_123456789012"


def test_template_filters_tolerate_odd_values():
    assert sandbox_tags.won(None) == ""
    assert sandbox_tags.won("12000") == "12,000원"
    assert sandbox_tags.readable_response("<html>oops</html>") == "<html>oops</html>"
    assert sandbox_tags.readable_response('{"a": "\\uac00"}') == '{"a": "가"}'
    assert sandbox_tags.get_item(None, "x") == ""


def test_custom_data_that_is_not_json_comes_back_as_given(client, start_payment):
    imp_uid = start_payment(custom_data="plain text")

    rsp = window_action(client, imp_uid, "approve").json()["response"]["rsp"]

    assert rsp["custom_data"] == "plain text"


def test_unknown_decline_code_falls_back_to_the_default(client, start_payment):
    imp_uid = start_payment()

    rsp = window_action(client, imp_uid, "decline", {"error_code": "X"}).json()["response"]

    assert rsp["rsp"]["error_code"] == "F1002"


def test_thread_delivery_survives_a_crash(monkeypatch, caplog):
    closed = []
    monkeypatch.setattr(webhooks.connection, "close", lambda: closed.append(True))

    webhooks._deliver_in_thread(delivery_id=0)  # no such delivery

    assert closed == [True]
    assert "crashed" in caplog.text


def test_admin_is_read_only(rf, admin_user, paid_payment):
    paid_payment()
    request = rf.get("/")
    request.user = admin_user
    for model in (SandboxPayment, SandboxPrepare, SandboxToken, SandboxWebhookDelivery):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(request)
        assert not model_admin.has_change_permission(request)
    inline = admin.site._registry[SandboxPayment].get_inline_instances(request)[0]
    assert not inline.has_add_permission(request, None)
    assert not inline.has_change_permission(request, None)


def test_string_forms(client, api, paid_payment):
    imp_uid = paid_payment()
    api.post("payments/prepare", {"merchant_uid": "order_x", "amount": 1000})
    api.post("payments/cancel", {"imp_uid": imp_uid, "amount": 1000})

    assert imp_uid in str(SandboxPayment.objects.get())
    assert "1,000원" in str(SandboxPrepare.objects.get())
    assert "1,000원" in str(SandboxCancellation.objects.get())
    assert "…" in str(SandboxToken.objects.get())
    assert "paid" in str(SandboxWebhookDelivery.objects.get())


def test_sdk_start_without_merchant_code_setting_accepts_any(client, settings):
    settings.IAMPORT_MERCHANT_CODE = ""

    assert sdk_start(client, merchant_code="imp12345678").status_code == 200


def test_rest_and_sdk_endpoints_need_no_csrf_token(db):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)

    token = strict.post(
        API + "users/getToken",
        {"imp_key": "imp_apikey", "imp_secret": "test_api_secret"},
        content_type="application/json",
    )
    started = sdk_start(strict)
    imp_uid = started.json()["response"]["imp_uid"]

    assert token.status_code == 200
    assert started.status_code == 200
    assert window_action(strict, imp_uid, "approve").status_code == 200
