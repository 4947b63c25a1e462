"""Who may refund and re-sync in the admin: staff without payments.refund_payment get 403 and
no button or action, staff with it can refund, the permission alone opens no order the user
cannot see, and re-sync needs a POST and the order change permission.

The `paid` fixture is in tests/payments/conftest.py, the URL and form helpers in
tests/payments/helpers.py.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from payments.models import Payment
from shop.models import Order
from tests.payments.helpers import CANCEL, change_url, refund_post, refund_url


# --- staff with only some permissions -----------------------------------------------------
@pytest.fixture
def staff_client(client, django_user_model):
    """A logged-in staff user holding only the named permissions ("app.codename")."""

    def make(*perms: str):
        user = django_user_model.objects.create_user(username="staff", password="pw", is_staff=True)
        for perm in perms:
            app_label, codename = perm.split(".")
            user.user_permissions.add(
                Permission.objects.get(content_type__app_label=app_label, codename=codename)
            )
        client.force_login(user)
        return client

    return make


ORDER_VIEWER_PERMS = (
    "shop.view_order",
    "shop.change_order",
    "payments.view_payment",
    "payments.view_refund",
)


# --- refunds ------------------------------------------------------------------------------
def test_staff_without_the_refund_permission_gets_403_and_no_button(staff_client, paid, iamport):
    order, remote = paid
    iamport.cancel_ok(remote, 12000)
    client = staff_client(*ORDER_VIEWER_PERMS)

    page = client.get(change_url(order))
    assert page.status_code == 200
    assert refund_url(order) not in page.content.decode()
    assert client.get(refund_url(order)).status_code == 403
    post = client.post(
        refund_url(order), {"amount": "12000", "reason": "x", "request_key": "c" * 32}
    )
    assert post.status_code == 403
    changelist = client.get(reverse("admin:shop_order_changelist"))
    actions = dict(changelist.context["action_form"].fields["action"].choices)
    assert "refund_selected" not in actions
    assert iamport.calls(*CANCEL) == []
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_staff_with_the_refund_permission_can_refund(staff_client, paid, iamport):
    order, remote = paid
    iamport.cancel_ok(remote, 12000)
    client = staff_client(*ORDER_VIEWER_PERMS, "payments.refund_payment")

    assert refund_url(order) in client.get(change_url(order)).content.decode()
    payment = Payment.objects.get()
    payment_page = client.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    assert refund_url(order) in payment_page.content.decode()
    response, _ = refund_post(client, order)
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED


def test_refund_permission_alone_does_not_open_orders_the_user_cannot_see(staff_client, paid):
    order, _ = paid
    client = staff_client("payments.refund_payment")
    assert client.get(refund_url(order)).status_code == 403


# --- re-sync ------------------------------------------------------------------------------
def test_resync_needs_post_and_the_order_change_permission(staff_client, paid):
    order, _ = paid
    client = staff_client("shop.view_order", "payments.view_payment")
    payment = Payment.objects.get()
    for url in (
        reverse("admin:shop_order_resync", args=[order.pk]),
        reverse("admin:payments_payment_resync", args=[payment.pk]),
    ):
        assert client.get(url).status_code == 405
        assert client.post(url).status_code == 403
    assert "아임포트에서 다시 조회" not in client.get(change_url(order)).content.decode()
