"""Pay methods and PGs by their names across the admin (payment, refund and order lists and
pages, the refund form), and the list filters by pay method and by PG on payments and orders,
odd filter values included.

The `paid` and `two_orders` fixtures are in tests/payments/conftest.py.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from payments.models import Payment
from payments.services import SyncOutcome, payment_sync
from tests.payments.helpers import IMP_UID, change_url, refund_post, refund_url

PAYMENTS = "/admin/payments/payment/"
ORDERS = "/admin/shop/order/"
KAKAO_IMP_UID = "imp_999999999999"


@pytest.fixture
def card_and_kakaopay(paid, order_factory, iamport):
    """A card order paid through KG Inicis and a Kakao Pay order paid through Kakao Pay."""
    card_order, _ = paid
    kakao_order = order_factory(pay_method="kakaopay")
    iamport.payment(
        kakao_order.merchant_uid, imp_uid=KAKAO_IMP_UID, pay_method="point", pg_provider="kakaopay"
    )
    assert payment_sync(imp_uid=KAKAO_IMP_UID).outcome == SyncOutcome.PAID
    return card_order, kakao_order


def listed(response) -> list:
    assert response.status_code == 200
    return list(response.context["cl"].result_list)


def readonly_value(content: str, field: str) -> str:
    """The text of a read-only field on a change page."""
    start = content.index(f"field-{field}")
    start = content.index('<div class="readonly">', start) + len('<div class="readonly">')
    return content[start : content.index("</div>", start)]


# --- names --------------------------------------------------------------------------------
def test_the_payment_list_and_page_name_the_pay_method_and_the_pg(admin_client, paid):
    payment = Payment.objects.get()

    rows = admin_client.get(PAYMENTS).content.decode()
    page = admin_client.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    page = page.content.decode()

    assert '<td class="field-pay_method_display">신용카드</td>' in rows
    assert '<td class="field-pg_display">KG이니시스</td>' in rows
    assert readonly_value(page, "pay_method_display") == "신용카드"
    assert readonly_value(page, "pg_display") == "KG이니시스"


def test_the_order_page_names_the_pg_of_its_payment(admin_client, paid):
    order, _ = paid

    content = admin_client.get(change_url(order)).content.decode()

    assert readonly_value(content, "pg_display") == "KG이니시스"  # beside the pay method
    inline = content[content.index('<td class="field-pg_display">') :]
    assert inline[: inline.index("</td>")].split() == [
        "<td",
        'class="field-pg_display">',
        "<p>KG이니시스</p>",
    ]


def test_an_unpaid_order_page_has_no_pg(admin_client, order_factory):
    order = order_factory()

    content = admin_client.get(change_url(order)).content.decode()

    assert readonly_value(content, "pg_display") == "-"


def test_the_refund_list_and_page_name_the_pay_method_and_the_pg(admin_client, paid, iamport):
    order, remote = paid
    iamport.cancel_ok(remote, 1000)
    refund_post(admin_client, order, amount="1000")
    refund = order.payments.get().refunds.get()

    for url in (
        reverse("admin:payments_refund_changelist"),
        reverse("admin:payments_refund_change", args=[refund.pk]),
    ):
        assert "신용카드 · KG이니시스" in admin_client.get(url).content.decode(), url


def test_the_refund_form_names_the_pg(admin_client, paid):
    order, _ = paid

    content = admin_client.get(refund_url(order)).content.decode()

    assert "KG이니시스" in content
    assert "신용카드" in content


def test_a_pg_this_shop_has_not_named_is_shown_by_its_code(admin_client, paid):
    Payment.objects.update(pg_provider="newpg_v9", pay_method="crypto")

    content = admin_client.get(PAYMENTS).content.decode()

    assert "newpg_v9" in content
    assert "crypto" in content


# --- filters on payments ------------------------------------------------------------------
def test_payments_filter_by_pg_and_pay_method(admin_client, card_and_kakaopay):
    card = Payment.objects.get(imp_uid=IMP_UID)
    kakao = Payment.objects.get(imp_uid=KAKAO_IMP_UID)

    assert listed(admin_client.get(PAYMENTS, {"pg": "kakaopay"})) == [kakao]
    assert listed(admin_client.get(PAYMENTS, {"pg": "html5_inicis"})) == [card]
    assert listed(admin_client.get(PAYMENTS, {"pay_method": "point"})) == [kakao]
    assert listed(admin_client.get(PAYMENTS, {"pay_method": "card"})) == [card]


def test_payment_filters_offer_the_names_of_what_is_there(admin_client, card_and_kakaopay):
    response = admin_client.get(PAYMENTS)
    choices = {
        spec.title: [choice["display"] for choice in spec.choices(response.context["cl"])]
        for spec in response.context["cl"].filter_specs
    }

    assert choices["PG사"][1:] == ["KG이니시스", "카카오페이"]
    assert set(choices["결제 수단"][1:]) == {"신용카드", "간편결제 포인트"}


# --- filters on orders --------------------------------------------------------------------
def test_orders_filter_by_the_pg_of_their_accepted_payment(admin_client, card_and_kakaopay):
    card_order, kakao_order = card_and_kakaopay

    assert listed(admin_client.get(ORDERS, {"pg": "kakaopay"})) == [kakao_order]
    assert listed(admin_client.get(ORDERS, {"pg": "html5_inicis"})) == [card_order]


def test_a_refused_payment_does_not_give_its_order_a_pg(admin_client, order_factory, iamport):
    order = order_factory()
    remote = iamport.payment(order.merchant_uid, imp_uid=IMP_UID, amount=100, pg_provider="kcp")
    iamport.cancel_ok(remote, 100)
    assert payment_sync(imp_uid=IMP_UID).outcome == SyncOutcome.FORGED

    assert listed(admin_client.get(ORDERS, {"pg": "kcp"})) == []
    response = admin_client.get(ORDERS)
    assert "NHN KCP" not in response.content.decode()  # not offered as a choice either


def test_orders_filter_by_pay_method_and_pg_together(admin_client, card_and_kakaopay, two_orders):
    _, kakao_order = card_and_kakaopay
    _, trans_order = two_orders

    assert listed(admin_client.get(ORDERS, {"pay_method": "trans"})) == [trans_order]
    assert listed(admin_client.get(ORDERS, {"pay_method": "kakaopay", "pg": "kakaopay"})) == [
        kakao_order
    ]
    assert listed(admin_client.get(ORDERS, {"pay_method": "trans", "pg": "kakaopay"})) == []


@pytest.mark.parametrize(
    "value",
    ["nosuchpg", "x" * 5000, "' OR 1=1 --", "카카오페이", "%", "kakaopay\n", " "],
)
@pytest.mark.parametrize("url", [PAYMENTS, ORDERS])
@pytest.mark.parametrize("parameter", ["pg", "pay_method"])
def test_an_odd_filter_value_lists_nothing_and_never_fails(
    admin_client, card_and_kakaopay, url, parameter, value
):
    assert listed(admin_client.get(url, {parameter: value})) == []


@pytest.mark.parametrize("url", [PAYMENTS, ORDERS])
def test_a_pg_no_payment_has_lists_nothing(admin_client, two_orders, url):
    assert listed(admin_client.get(url, {"pg": "kcp"})) == []
    assert listed(admin_client.get(url, {"pg": ""})) == []


def test_a_filter_given_twice_uses_the_last_value(admin_client, card_and_kakaopay):
    _, kakao_order = card_and_kakaopay

    response = admin_client.get(f"{ORDERS}?pg=html5_inicis&pg=kakaopay")

    assert listed(response) == [kakao_order]
