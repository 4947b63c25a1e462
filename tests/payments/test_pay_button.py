"""`{% pay_button order %}`: the request_pay parameters come from the stored order; and
`{% payment_receipt order %}`, the receipt the buyer is shown."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory

from payments.templatetags.payments import pay_button, payment_receipt, request_pay_params

pytestmark = pytest.mark.django_db


def absolute(path: str) -> str:
    return "https://shop.example.com" + path


def test_card_params_use_the_default_pg_and_the_stored_amount(order_factory, settings):
    settings.IAMPORT_PG = "html5_inicis"
    order = order_factory(price=4500, quantity=2)

    params = request_pay_params(order, absolute=absolute)

    assert params["pg"] == "html5_inicis" and params["pay_method"] == "card"
    assert params["amount"] == 9000 and isinstance(params["amount"], int)
    assert params["merchant_uid"] == order.merchant_uid
    assert params["m_redirect_url"] == "https://shop.example.com/payments/complete/"
    assert params["notice_url"] == "https://shop.example.com/payments/webhook/"
    assert "vbank_due" not in params


def test_a_pay_method_can_be_routed_to_its_own_pg_by_settings(order_factory):
    params = request_pay_params(order_factory(pay_method="kakaopay"), absolute=absolute)

    assert (params["pg"], params["pay_method"]) == ("kakaopay", "card")


def test_virtual_account_params_carry_a_deadline(order_factory, settings):
    settings.SHOP_VBANK_DUE_DAYS = 3

    params = request_pay_params(order_factory(pay_method="vbank"), absolute=absolute)

    assert params["pay_method"] == "vbank"
    assert len(params["vbank_due"]) == 12 and params["vbank_due"].endswith("2359")


def test_the_tag_offers_prepare_only_when_enabled(order_factory, settings):
    order = order_factory()
    request = RequestFactory().get("/")

    settings.IAMPORT_PREPARE = True
    assert pay_button({"request": request}, order)["prepare_url"] == "/payments/prepare/"
    settings.IAMPORT_PREPARE = False
    context = pay_button({"request": request}, order)
    assert context["prepare_url"] is None
    assert context["merchant_code"] == settings.IAMPORT_MERCHANT_CODE
    assert context["script_url"] == settings.IAMPORT_SCRIPT_URL


def test_a_configured_public_address_is_used_for_iamports_urls(order_factory, settings):
    settings.SHOP_BASE_URL = "https://shop.example.com"
    request = RequestFactory().get("/", HTTP_HOST="10.0.0.5:8000")

    params = pay_button({"request": request}, order_factory())["pay_params"]

    assert params["notice_url"] == "https://shop.example.com/payments/webhook/"
    assert params["m_redirect_url"] == "https://shop.example.com/payments/complete/"


def test_without_a_public_address_the_requests_host_is_used(order_factory, settings):
    settings.SHOP_BASE_URL = ""
    request = RequestFactory().get("/", HTTP_HOST="localhost")

    params = pay_button({"request": request}, order_factory())["pay_params"]

    assert params["notice_url"] == "http://localhost/payments/webhook/"


# --- the receipt ----------------------------------------------------------------------------
@pytest.fixture
def paid_by_card(iamport, order_factory):
    from payments.services import payment_sync

    order = order_factory()
    iamport.payment(order.merchant_uid)
    payment_sync(imp_uid="imp_123456789012")
    order.refresh_from_db()
    return order


def test_the_buyer_is_shown_the_receipt_of_the_payment_that_paid(client, paid_by_card):
    order = paid_by_card
    session = client.session
    session["shop_orders"] = [order.merchant_uid]
    session.save()
    receipt = order.payments.get().receipt_url

    mine = client.get(order.get_absolute_url()).content.decode()
    strangers = Client().get(order.get_absolute_url()).content.decode()

    assert receipt.startswith("https://") and f'href="{receipt}"' in mine
    assert 'id="receipt-link"' not in strangers  # it names the buyer's card


@pytest.mark.parametrize("url", ["", "javascript:alert(1)"])
def test_no_receipt_link_without_an_http_address(paid_by_card, url):
    paid_by_card.payments.update(receipt_url=url)

    assert payment_receipt(paid_by_card) == ""


def test_an_unpaid_order_has_no_receipt(order_factory):
    assert payment_receipt(order_factory()) == ""
