"""The order page: status, lines, the virtual account, masking for strangers, the pay button."""

from __future__ import annotations

import json
import re
from datetime import datetime

import pytest
from django.test import Client
from django.utils import timezone

from shop import services
from shop.models import Order

BUYER_SECRETS = ["홍길동", "buyer@example.com", "010-1234-5678", "테헤란로", "06236"]


@pytest.fixture
def order(order_factory):
    return order_factory(quantity=2, name="에티오피아 원두", price=18000, stock=10)


@pytest.fixture
def owner(client, order):
    """The browser that placed the order (its session remembers the order)."""
    session = client.session
    session["shop_orders"] = [order.merchant_uid]
    session.save()
    return client


def pay_params(html: str) -> dict:
    match = re.search(r'<script id="pay-params" type="application/json">(.*?)</script>', html)
    assert match, "the pay button's parameters are missing"
    return json.loads(match.group(1))


def test_unknown_order_is_404(client, db):
    assert client.get("/orders/o20250101doesnotexist/").status_code == 404


def test_owner_sees_lines_total_status_and_buyer_details(owner, order):
    response = owner.get(order.get_absolute_url())

    html = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'id="order-status"[^>]*data-status="pending"[^>]*>결제 대기<', html)
    assert "에티오피아 원두" in html
    assert "18,000원" in html and "36,000원" in html
    assert "신용카드" in html
    for secret in BUYER_SECRETS:
        assert secret in html


def test_a_stranger_with_the_link_sees_the_order_with_buyer_details_masked(order):
    stranger = Client()

    response = stranger.get(order.get_absolute_url())

    html = response.content.decode()
    assert response.status_code == 200
    assert 'data-status="pending"' in html
    assert "36,000원" in html
    for secret in BUYER_SECRETS:
        assert secret not in html
    assert "홍*동" in html and "010-****-5678" in html and "bu***@example.com" in html
    assert 'data-masked="true"' in html


def test_a_stranger_gets_no_pay_button_since_it_carries_the_buyers_details(order):
    html = Client().get(order.get_absolute_url()).content.decode()

    assert 'id="pay-button"' not in html
    assert "주문하신 브라우저에서" in html


def test_staff_allowed_to_view_orders_see_the_full_details(client, order, django_user_model):
    from django.contrib.auth.models import Permission

    staff = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_order"))
    client.force_login(staff)

    html = client.get(order.get_absolute_url()).content.decode()

    for secret in BUYER_SECRETS:
        assert secret in html


def test_staff_without_the_order_view_permission_see_masked_details(
    client, order, django_user_model
):
    staff = django_user_model.objects.create_user("editor", password="pw", is_staff=True)
    client.force_login(staff)

    html = client.get(order.get_absolute_url()).content.decode()

    for secret in BUYER_SECRETS:
        assert secret not in html


def test_the_signed_in_owner_sees_the_full_details_from_another_browser(order, django_user_model):
    user = django_user_model.objects.create_user("buyer", password="pw")
    Order.objects.filter(pk=order.pk).update(user=user)
    other_browser = Client()
    other_browser.force_login(user)

    html = other_browser.get(order.get_absolute_url()).content.decode()

    assert "buyer@example.com" in html


def test_another_signed_in_user_sees_masked_details(order, django_user_model):
    someone = Client()
    someone.force_login(django_user_model.objects.create_user("someone", password="pw"))

    html = someone.get(order.get_absolute_url()).content.decode()

    assert "buyer@example.com" not in html


def test_a_payable_order_has_the_pay_button_with_server_built_parameters(owner, order, settings):
    html = owner.get(order.get_absolute_url()).content.decode()

    params = pay_params(html)
    assert params["merchant_uid"] == order.merchant_uid
    assert params["amount"] == 36000 and isinstance(params["amount"], int)
    assert params["pay_method"] == "card"
    assert params["buyer_tel"] == "010-1234-5678"
    assert 'id="pay-button"' in html and 'id="pay-message"' in html
    assert f'data-merchant-code="{settings.IAMPORT_MERCHANT_CODE}"' in html
    assert 'data-complete-url="/payments/complete/"' in html
    assert 'data-prepare-url="/payments/prepare/"' in html
    # Deferred, in this order: the Iamport SDK never blocks the page, and runs before pay.js.
    sdk = html.index(f'<script src="{settings.IAMPORT_SCRIPT_URL}" defer></script>')
    assert sdk < html.index('js/pay.js" defer></script>')
    assert html.index(settings.IAMPORT_SCRIPT_URL) < html.index("js/pay.js")
    assert "csrfmiddlewaretoken" in html


def test_without_pre_registration_the_prepare_url_is_empty(owner, order, settings):
    settings.IAMPORT_PREPARE = False

    html = owner.get(order.get_absolute_url()).content.decode()

    assert 'data-prepare-url=""' in html


def test_a_paid_order_has_no_pay_button(owner, order):
    services.order_mark_paid(order=order)

    html = owner.get(order.get_absolute_url()).content.decode()

    assert 'data-status="paid"' in html and "결제 완료" in html
    assert 'id="pay-button"' not in html


@pytest.mark.parametrize("stock", [0, 1])  # the order wants 2
def test_a_pending_order_short_of_stock_says_so_and_offers_no_payment(owner, order, stock):
    product = order.lines.get().product
    product.stock = stock
    product.save()

    html = owner.get(order.get_absolute_url()).content.decode()

    assert 'id="sold-out"' in html and "에티오피아 원두" in html
    assert 'id="pay-button"' not in html

    product.stock = 2  # restocked
    product.save()
    html = owner.get(order.get_absolute_url()).content.decode()
    assert 'id="sold-out"' not in html and 'id="pay-button"' in html


def test_awaiting_deposit_shows_the_virtual_account_prominently(owner, order):
    due = timezone.make_aware(datetime(2030, 5, 3, 23, 59))
    services.order_mark_awaiting_deposit(
        order=order, bank="국민은행", account="123-456-789012", holder="아임포트상점", due=due
    )

    html = owner.get(order.get_absolute_url()).content.decode()

    assert 'data-status="awaiting_deposit"' in html
    box = html[html.index('id="deposit-account"') :]
    for part in ("국민은행", "아임포트상점", "2030년 5월 3일 23:59", "36,000원"):
        assert part in box
    # The number as the bank grouped it, its digits kept whole for copying.
    assert 'data-account="123456789012"' in box
    assert re.findall(r'<span class="account-group">(\d+)</span>', box) == ["123", "456", "789012"]
    assert 'id="pay-button"' not in html


def test_the_virtual_account_is_not_shown_for_other_statuses(owner, order):
    html = owner.get(order.get_absolute_url()).content.decode()

    assert 'id="deposit-account"' not in html


def test_the_reason_the_last_payment_failed_is_shown(owner, order):
    services.order_note_payment_problem(order=order, message="카드 한도가 초과되었습니다.")

    html = owner.get(order.get_absolute_url()).content.decode()

    assert "카드 한도가 초과되었습니다." in html
    assert 'id="pay-button"' in html


def test_refunds_are_shown(owner, order):
    services.order_mark_paid(order=order)
    services.order_record_refund(order=order, refunded_total=18000)

    html = owner.get(order.get_absolute_url()).content.decode()

    assert 'data-status="partially_refunded"' in html
    assert "18,000원" in html


def test_the_page_leads_with_the_short_order_number_and_keeps_the_merchant_uid_small(owner, order):
    html = owner.get(order.get_absolute_url()).content.decode()

    assert re.search(rf'<h1 class="order-number" id="order-number">{order.number}</h1>', html)
    assert f'<span id="merchant-uid" class="mono">{order.merchant_uid}</span>' in html
    assert f"<title>주문 {order.number} |" in html


def test_the_order_list_names_orders_by_their_short_number(owner, order):
    html = owner.get("/orders/").content.decode()

    assert f'<span class="order-list-number mono">{order.number}</span>' in html
    assert order.merchant_uid not in html.replace(order.get_absolute_url(), "")
