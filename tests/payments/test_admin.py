"""The admin: read-only payment records, re-sync, and refunds through the intermediate form."""

from __future__ import annotations

import io

import pytest
import requests
import responses
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from payments.forms import RefundForm
from payments.models import Payment, Refund, WebhookDelivery
from payments.services import RefundAlreadyRequested, SyncOutcome, payment_sync
from shop.models import Order, Product
from shop.services import OrderError
from tests.conftest import API, load_fixture

IMP_UID = "imp_123456789012"
CANCEL = ("POST", "payments/cancel")


# --- helpers and fixtures -----------------------------------------------------------------
def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def refund_url(order: Order) -> str:
    return reverse("admin:shop_order_refund", args=[order.pk])


def change_url(order: Order) -> str:
    return reverse("admin:shop_order_change", args=[order.pk])


def form_of(client, order: Order) -> RefundForm:
    response = client.get(refund_url(order))
    assert response.status_code == 200
    return response.context["form"]


def refund_post(client, order: Order, *, key: str | None = None, **fields):
    """Submit the refund form as rendered, with `fields` typed in."""
    form = form_of(client, order)
    data = {"amount": form.initial["amount"], "reason": "고객 요청", **fields}
    data["request_key"] = key or form.initial["request_key"]
    return client.post(refund_url(order), data), data["request_key"]


@pytest.fixture
def paid(order_factory, iamport):
    """A 12,000 won card order, paid and accepted through the sync service."""
    order = order_factory()
    remote = iamport.payment(order.merchant_uid, imp_uid=IMP_UID)
    assert payment_sync(imp_uid=IMP_UID).outcome == SyncOutcome.PAID
    order.refresh_from_db()
    return order, remote


@pytest.fixture
def paid_vbank(order_factory, iamport):
    """A virtual-account order whose deposit has arrived."""
    order = order_factory(pay_method="vbank")
    remote = iamport.payment(
        order.merchant_uid,
        imp_uid=IMP_UID,
        fixture="payment_vbank_ready",
        status="paid",
        paid_at=1764300000,
    )
    assert payment_sync(imp_uid=IMP_UID).outcome == SyncOutcome.PAID
    order.refresh_from_db()
    return order, remote


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


def png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "teal").save(buffer, "PNG")
    return SimpleUploadedFile("beans.png", buffer.getvalue(), content_type="image/png")


# --- pages render -------------------------------------------------------------------------
def test_index_shows_the_shop_header(admin_client):
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    assert "아임포트 상점 관리" in response.content.decode()


def test_every_changelist_and_change_page_renders_with_data(admin_client, paid, iamport):
    order, remote = paid
    iamport.cancel_ok(remote, 2000)
    refund_post(admin_client, order, amount="2000")
    product = Product.objects.get()
    product.image = png()
    product.save()
    Product.objects.create(name="드립백 10개입", price=9000, stock=0, is_active=False)
    delivery = WebhookDelivery.objects.create(
        remote_addr="52.78.100.19",
        headers={"Content-Type": "application/json"},
        body=f'{{"imp_uid": "{IMP_UID}", "merchant_uid": "{order.merchant_uid}"}}',
        imp_uid=IMP_UID,
        merchant_uid=order.merchant_uid,
        status_hint="paid",
        outcome=WebhookDelivery.Outcome.PROCESSED,
    )
    payment, refund = Payment.objects.get(), Refund.objects.get()

    pages = {
        reverse("admin:shop_product_changelist"): ["12,000원", "<img", "9,000원"],
        reverse("admin:shop_product_change", args=[product.pk]): ["<img"],
        reverse("admin:shop_order_changelist"): [order.merchant_uid, "12,000원", "2,000원"],
        change_url(order): [IMP_UID, "부분 환불", "환불 내역", "고객 요청", "10,000원"],
        reverse("admin:payments_payment_changelist"): [IMP_UID, order.merchant_uid],
        reverse("admin:payments_payment_change", args=[payment.pk]): [
            "StdpayCARDINIpayTest",  # pretty-printed raw reply
            "&quot;card_name&quot;: &quot;BC카드&quot;",
            "2,000원",
        ],
        reverse("admin:payments_refund_changelist"): [IMP_UID, "2,000원"],
        reverse("admin:payments_refund_change", args=[refund.pk]): ["cncl_001", "12,000원"],
        reverse("admin:payments_webhookdelivery_changelist"): [IMP_UID, "52.78.100.19"],
        reverse("admin:payments_webhookdelivery_change", args=[delivery.pk]): [
            "&quot;merchant_uid&quot;",
            "Content-Type",
        ],
    }
    for url, expected in pages.items():
        response = admin_client.get(url)
        assert response.status_code == 200, url
        content = response.content.decode()
        for text in expected:
            assert text in content, (url, text)


def test_webhook_delivery_with_unreadable_body_renders(admin_client, db):
    delivery = WebhookDelivery.objects.create(
        body="<html>not json</html>", outcome=WebhookDelivery.Outcome.REJECTED
    )
    response = admin_client.get(
        reverse("admin:payments_webhookdelivery_change", args=[delivery.pk])
    )
    assert response.status_code == 200
    assert "&lt;html&gt;not json&lt;/html&gt;" in response.content.decode()


def test_order_page_of_an_unpaid_order_has_no_refund_button(admin_client, order_factory):
    order = order_factory()
    response = admin_client.get(change_url(order))
    content = response.content.decode()
    assert response.status_code == 200
    assert "환불 내역이 없습니다." in content
    assert refund_url(order) not in content


# --- search -------------------------------------------------------------------------------
@pytest.fixture
def two_orders(paid, db):
    order, _ = paid
    other = Order.objects.create(
        amount=5000,
        pay_method="trans",
        buyer_name="김철수",
        buyer_email="kim@example.org",
        buyer_tel="010-9999-0000",
        buyer_addr="부산광역시 해운대구 1",
        buyer_postcode="48000",
    )
    return order, other


@pytest.mark.parametrize(
    "query",
    ["merchant_uid", IMP_UID, "홍길동", "buyer@example.com", "010-1234-5678"],
)
def test_orders_are_found_by_merchant_uid_imp_uid_and_buyer(admin_client, two_orders, query):
    order, _ = two_orders
    query = order.merchant_uid if query == "merchant_uid" else query
    response = admin_client.get(reverse("admin:shop_order_changelist"), {"q": query})
    assert list(response.context["cl"].result_list) == [order]


@pytest.mark.parametrize("query", ["merchant_uid", IMP_UID, "홍길동"])
def test_payments_are_found_by_imp_uid_merchant_uid_and_buyer(admin_client, two_orders, query):
    order, _ = two_orders
    query = order.merchant_uid if query == "merchant_uid" else query
    response = admin_client.get(reverse("admin:payments_payment_changelist"), {"q": query})
    assert [p.imp_uid for p in response.context["cl"].result_list] == [IMP_UID]
    response = admin_client.get(reverse("admin:payments_payment_changelist"), {"q": "김철수"})
    assert list(response.context["cl"].result_list) == []


def test_orders_filter_by_status_and_pay_method(admin_client, two_orders):
    order, other = two_orders
    url = reverse("admin:shop_order_changelist")
    assert list(admin_client.get(url, {"status": "paid"}).context["cl"].result_list) == [order]
    response = admin_client.get(url, {"pay_method": "trans"})
    assert list(response.context["cl"].result_list) == [other]
    assert "실시간 계좌이체" in response.content.decode()


# --- read-only records --------------------------------------------------------------------
def test_payment_and_refund_records_cannot_be_added_changed_or_deleted(admin_client, paid, iamport):
    order, remote = paid
    iamport.cancel_ok(remote, 1000)
    refund_post(admin_client, order, amount="1000")
    payment, refund = Payment.objects.get(), Refund.objects.get()
    delivery = WebhookDelivery.objects.create(imp_uid=IMP_UID)

    for model, obj in [("payment", payment), ("refund", refund), ("webhookdelivery", delivery)]:
        assert admin_client.get(reverse(f"admin:payments_{model}_add")).status_code == 403
        change = reverse(f"admin:payments_{model}_change", args=[obj.pk])
        assert admin_client.post(change, {"amount": "1"}).status_code == 403
        delete = reverse(f"admin:payments_{model}_delete", args=[obj.pk])
        assert admin_client.post(delete, {"post": "yes"}).status_code == 403
        page = admin_client.get(change).content.decode()
        assert 'name="_save"' not in page

    payment.refresh_from_db()
    assert (payment.amount, payment.cancel_amount) == (12000, 1000)
    assert Refund.objects.count() == 1


def test_orders_cannot_be_added_and_money_fields_cannot_be_edited(admin_client, paid):
    order, _ = paid
    assert admin_client.get(reverse("admin:shop_order_add")).status_code == 403
    response = admin_client.post(
        change_url(order),
        {
            "buyer_name": "홍길순",
            "buyer_email": "buyer@example.com",
            "buyer_tel": "010-1234-5678",
            "buyer_addr": "서울특별시 강남구 테헤란로 2",
            "buyer_postcode": "06236",
            "amount": "1",
            "refunded_amount": "12000",
            "status": "refunded",
            "merchant_uid": "forged",
            "lines-TOTAL_FORMS": "1",
            "lines-INITIAL_FORMS": "1",
            "payments-TOTAL_FORMS": "1",
            "payments-INITIAL_FORMS": "1",
        },
    )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.buyer_name == "홍길순"  # contact details may be corrected
    assert (order.amount, order.refunded_amount, order.status) == (12000, 0, "paid")
    assert order.merchant_uid != "forged"
    delete = reverse("admin:shop_order_delete", args=[order.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403


# --- refunds ------------------------------------------------------------------------------
def test_refund_page_shows_the_order_and_what_is_left(admin_client, paid):
    order, _ = paid
    response = admin_client.get(refund_url(order))
    content = response.content.decode()
    assert response.status_code == 200
    assert order.merchant_uid in content
    assert "12,000원" in content
    assert "환불 계좌" not in content  # a card payment needs no refund account
    form = response.context["form"]
    assert form.initial["amount"] == 12000
    assert len(form.initial["request_key"]) == 32
    assert form.initial["request_key"] != form_of(admin_client, order).initial["request_key"]


def test_partial_then_full_refund_through_the_form(admin_client, paid, iamport):
    order, remote = paid
    after_first = iamport.cancel_ok(remote, 5000, reason="부분 환불")

    response, _ = refund_post(admin_client, order, amount="5,000", reason="부분 환불")

    assert response.status_code == 302
    assert response.url == change_url(order)
    [call] = iamport.calls(*CANCEL)
    assert iamport.body(call) == {
        "imp_uid": IMP_UID,
        "merchant_uid": order.merchant_uid,
        "amount": 5000,
        "checksum": 12000,
        "reason": "부분 환불",
    }
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 5000)
    refund = Refund.objects.get()
    assert (refund.amount, refund.checksum, refund.status) == (5000, 12000, "succeeded")
    assert refund.requested_by.username == "admin"
    assert refund.cancellation_id == "cncl_001"
    assert any("5,000원을 환불했습니다" in m and "부분 환불" in m for m in messages_of(response))

    iamport.cancel_ok(after_first, 7000, reason="나머지 환불")
    assert form_of(admin_client, order).initial["amount"] == 7000
    response, _ = refund_post(admin_client, order, reason="나머지 환불")

    assert response.status_code == 302
    second = iamport.calls(*CANCEL)[1]
    assert iamport.body(second) == {
        "imp_uid": IMP_UID,
        "merchant_uid": order.merchant_uid,
        "amount": 7000,
        "checksum": 7000,
        "reason": "나머지 환불",
    }
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.REFUNDED, 12000)
    assert Refund.objects.filter(status="succeeded").count() == 2
    assert Payment.objects.get().status == Payment.Status.CANCELLED
    assert any("환불 완료" in m for m in messages_of(response))


def test_over_refund_is_refused_without_calling_iamport(admin_client, paid, iamport):
    order, _ = paid
    response, _ = refund_post(admin_client, order, amount="12001")

    assert response.status_code == 200
    assert "환불 가능 잔액 12,000원보다 큽니다" in response.content.decode()
    assert iamport.calls(*CANCEL) == []
    assert not Refund.objects.exists()
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PAID, 0)


@pytest.mark.parametrize(
    ("amount", "error"),
    [
        ("1000.5", "원 단위의 정수"),
        ("천원", "원 단위의 정수"),
        ("", "필수 항목입니다"),
        ("0", "1원 이상"),
        ("-500", "1원 이상"),
    ],
)
def test_bad_amounts_are_form_errors(admin_client, paid, iamport, amount, error):
    order, _ = paid
    response, _ = refund_post(admin_client, order, amount=amount)

    assert response.status_code == 200
    assert error in response.content.decode()
    assert iamport.calls(*CANCEL) == []
    assert not Refund.objects.exists()


def test_a_reason_is_required(admin_client, paid, iamport):
    order, _ = paid
    response, _ = refund_post(admin_client, order, reason="   ")
    assert response.status_code == 200
    assert "환불 사유를 입력해 주세요." in response.content.decode()
    assert iamport.calls(*CANCEL) == []


def test_a_tampered_request_key_is_refused(admin_client, paid, iamport):
    order, _ = paid
    response, _ = refund_post(admin_client, order, key="not-a-key")
    assert response.status_code == 200
    assert "잘못된 요청입니다" in response.content.decode()
    assert iamport.calls(*CANCEL) == []


def test_iamport_rejection_is_shown_and_changes_nothing(admin_client, paid, iamport):
    order, _ = paid
    iamport.cancel_refused("취소가능 금액을 초과했습니다.")

    response, used_key = refund_post(admin_client, order, amount="3000", reason="불량")

    assert response.status_code == 200
    assert any("취소가능 금액을 초과했습니다." in m for m in messages_of(response))
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PAID, 0)
    assert Payment.objects.get().cancel_amount == 0
    assert not Refund.objects.filter(status="succeeded").exists()
    # The form comes back as typed, with a fresh key: the refused one has been spent.
    form = response.context["form"]
    assert (form.initial["amount"], form.initial["reason"]) == (3000, "불량")
    assert form.initial["request_key"] != used_key


def test_refund_made_elsewhere_meanwhile_is_refused_and_figures_refreshed(
    admin_client, paid, iamport
):
    """Someone refunded 3,000 won in Iamport's console after the form was opened: Iamport
    refuses the stale checksum, the figures are re-read and the form offers what is left."""
    order, remote = paid
    form = form_of(admin_client, order)
    iamport.replace_payment(remote, cancel_amount=3000)
    iamport.cancel_refused("요청하신 checksum이 취소가능금액과 일치하지 않습니다.")

    response = admin_client.post(
        refund_url(order),
        {"amount": "12000", "reason": "전액 환불", "request_key": form.initial["request_key"]},
    )

    assert response.status_code == 200
    assert any("checksum" in m for m in messages_of(response))
    assert iamport.body(iamport.calls(*CANCEL)[0])["checksum"] == 12000
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 3000)
    assert response.context["form"].initial["amount"] == 9000
    assert "9,000원" in response.content.decode()


def test_refund_after_a_full_cancel_in_the_console_ends_on_the_order_page(
    admin_client, paid, iamport
):
    order, remote = paid
    form = form_of(admin_client, order)
    iamport.replace_payment(remote, cancel_amount=12000, status="cancelled")
    iamport.cancel_refused("이미 전액취소된 주문입니다.")

    response = admin_client.post(
        refund_url(order),
        {"amount": "5000", "reason": "환불", "request_key": form.initial["request_key"]},
    )

    assert response.status_code == 302
    assert response.url == change_url(order)
    shown = messages_of(response)
    assert any("이미 전액취소된 주문입니다." in m for m in shown)
    assert any("'환불 완료' 상태의 주문은 환불할 수 없습니다." in m for m in shown)
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED


def test_double_submit_refunds_once(admin_client, paid, iamport):
    order, remote = paid
    iamport.cancel_ok(remote, 5000)

    first, key = refund_post(admin_client, order, amount="5000")
    second = admin_client.post(
        refund_url(order), {"amount": "5000", "reason": "고객 요청", "request_key": key}
    )

    assert first.status_code == second.status_code == 302
    assert len(iamport.calls(*CANCEL)) == 1
    assert any("이미 처리된 환불 요청입니다" in m for m in messages_of(second))
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 5000)
    assert Refund.objects.count() == 1


def test_double_submit_of_a_full_refund_is_named_a_duplicate(admin_client, paid, iamport):
    order, remote = paid
    iamport.cancel_ok(remote, 12000)

    _, key = refund_post(admin_client, order)
    second = admin_client.post(
        refund_url(order), {"amount": "12000", "reason": "고객 요청", "request_key": key}
    )

    assert len(iamport.calls(*CANCEL)) == 1
    assert any("이미 처리된 환불 요청입니다" in m for m in messages_of(second))
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED


def test_simultaneous_submits_that_race_past_the_check_are_reported(
    admin_client, paid, monkeypatch
):
    order, _ = paid

    def already(**kwargs):
        raise RefundAlreadyRequested("이미 처리된 환불 요청입니다 (중복 제출).")

    monkeypatch.setattr("payments.admin.orders.payment_refund", already)
    response, _ = refund_post(admin_client, order)
    assert response.status_code == 302
    assert any("이미 처리된 환불 요청입니다" in m for m in messages_of(response))


@pytest.mark.parametrize("status", ["pending", "awaiting_deposit", "cancelled", "failed"])
def test_non_refundable_order_is_refused(admin_client, order_factory, iamport, status):
    order = order_factory()
    Order.objects.filter(pk=order.pk).update(status=status)

    for response in (
        admin_client.get(refund_url(order)),
        admin_client.post(
            refund_url(order),
            {"amount": "1000", "reason": "x", "request_key": "a" * 32},
        ),
    ):
        assert response.status_code == 302
        assert response.url == change_url(order)
        assert any("상태의 주문은 환불할 수 없습니다" in m for m in messages_of(response))
    assert iamport.calls(*CANCEL) == []


def test_fully_refunded_order_is_refused(admin_client, paid, iamport):
    order, remote = paid
    iamport.cancel_ok(remote, 12000)
    refund_post(admin_client, order)

    response = admin_client.get(refund_url(order))
    assert response.status_code == 302
    assert any("'환불 완료' 상태의 주문은" in m for m in messages_of(response))
    assert refund_url(order) not in admin_client.get(change_url(order)).content.decode()


def test_paid_order_without_an_accepted_payment_is_refused(admin_client, paid, iamport):
    order, _ = paid
    Payment.objects.update(verdict=Payment.Verdict.PENDING)
    response = admin_client.get(refund_url(order))
    assert response.status_code == 302
    assert "이 주문에는 환불할 결제가 없습니다." in messages_of(response)


def test_unknown_order_redirects_to_the_admin(admin_client, db):
    response = admin_client.get(reverse("admin:shop_order_refund", args=[999]))
    assert response.status_code == 302
    assert response.url == reverse("admin:index")


def test_virtual_account_refund_asks_for_the_refund_account(admin_client, paid_vbank, iamport):
    order, remote = paid_vbank
    iamport.cancel_ok(remote, 12000)

    page = admin_client.get(refund_url(order)).content.decode()
    assert "환불 계좌 (가상계좌 결제)" in page
    assert 'name="refund_bank"' in page

    missing, _ = refund_post(admin_client, order)
    assert missing.status_code == 200
    assert set(missing.context["form"].errors) == {
        "refund_holder",
        "refund_bank",
        "refund_account",
        "refund_tel",
    }
    assert iamport.calls(*CANCEL) == []

    response, _ = refund_post(
        admin_client,
        order,
        refund_holder="홍길동",
        refund_bank="088",
        refund_account="110-123-456789",
        refund_tel="010-1234-5678",
    )

    assert response.status_code == 302
    [call] = iamport.calls(*CANCEL)
    body = iamport.body(call)
    assert body["refund_holder"] == "홍길동"
    assert body["refund_bank"] == "088"
    assert body["refund_account"] == "110123456789"
    assert body["refund_tel"] == "010-1234-5678"
    assert (body["amount"], body["checksum"]) == (12000, 12000)
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED


def test_refund_account_number_must_be_digits(admin_client, paid_vbank, iamport):
    order, _ = paid_vbank
    response, _ = refund_post(
        admin_client,
        order,
        refund_holder="홍길동",
        refund_bank="088",
        refund_account="계좌번호",
        refund_tel="010-1234-5678",
    )
    assert response.status_code == 200
    assert "6~20자리 숫자" in response.content.decode()
    assert iamport.calls(*CANCEL) == []


@pytest.mark.parametrize("typed", [" 3,000원 ", "3000", 3000])
def test_form_reads_won_with_separators(typed):
    form = RefundForm(
        {"amount": typed, "reason": "x", "request_key": "b" * 32},
        refundable=5000,
        needs_refund_account=False,
    )
    assert form.is_valid(), form.errors
    assert form.cleaned_data["amount"] == 3000
    assert form.refund_account_details() is None


# --- permissions --------------------------------------------------------------------------
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


def test_refund_action_opens_the_form_for_one_order(admin_client, two_orders):
    order, other = two_orders
    url = reverse("admin:shop_order_changelist")

    one = admin_client.post(url, {"action": "refund_selected", "_selected_action": [order.pk]})
    assert one.status_code == 302
    assert one.url == refund_url(order)

    both = admin_client.post(
        url, {"action": "refund_selected", "_selected_action": [order.pk, other.pk]}
    )
    assert both.status_code == 302
    assert "환불할 주문을 하나만 선택해 주세요." in messages_of(both)


# --- re-sync ------------------------------------------------------------------------------
def test_resync_button_reflects_a_refund_made_in_iamports_console(admin_client, paid, iamport):
    order, remote = paid
    iamport.replace_payment(remote, cancel_amount=3000)

    response = admin_client.post(reverse("admin:shop_order_resync", args=[order.pk]))

    assert response.status_code == 302
    assert response.url == change_url(order)
    [message] = messages_of(response)
    assert IMP_UID in message
    assert "부분 환불" in message
    order.refresh_from_db()
    assert (order.status, order.refunded_amount) == (Order.Status.PARTIALLY_REFUNDED, 3000)
    assert "아임포트에서 다시 조회" in admin_client.get(change_url(order)).content.decode()


@pytest.mark.parametrize(
    ("reply", "shown"),
    [
        ({"body": requests.ConnectionError("down")}, "아임포트에서 조회하지 못했습니다"),
        (
            {"status": 404, "json": {"code": 1, "message": "존재하지 않는 결제정보입니다."}},
            "존재하지 않는 결제정보입니다.",
        ),
        ({"status": 502, "body": "<html>Bad Gateway</html>"}, "HTTP 502"),
    ],
)
def test_resync_reports_iamport_errors(admin_client, paid, iamport, reply, shown):
    order, _ = paid
    iamport.rsps.replace(responses.GET, API + f"payments/{IMP_UID}", **reply)

    response = admin_client.post(reverse("admin:shop_order_resync", args=[order.pk]))

    assert response.status_code == 302
    [message] = list(get_messages(response.wsgi_request))
    assert message.level_tag == "error"
    assert shown in str(message)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_resync_action_on_orders(admin_client, paid, order_factory, iamport):
    order, _ = paid
    unpaid = order_factory()
    iamport.find(unpaid.merchant_uid)
    response = admin_client.post(
        reverse("admin:shop_order_changelist"),
        {"action": "resync_selected", "_selected_action": [order.pk, unpaid.pk]},
    )
    assert response.status_code == 302
    shown = messages_of(response)
    assert any(IMP_UID in m and "결제 완료" in m for m in shown)
    assert f"{unpaid.merchant_uid}: 아임포트에 이 주문의 결제가 없습니다." in shown
    assert len(iamport.calls("GET", f"payments/{IMP_UID}")) == 2  # checkout + re-sync


def test_resync_action_and_button_on_payments(admin_client, paid, iamport):
    payment = Payment.objects.get()
    response = admin_client.post(
        reverse("admin:payments_payment_changelist"),
        {"action": "resync_selected", "_selected_action": [payment.pk]},
    )
    assert response.status_code == 302
    assert any("아임포트에서 다시 조회했습니다" in m for m in messages_of(response))

    iamport.rsps.replace(responses.GET, API + f"payments/{IMP_UID}", status=401, body="")
    button = reverse("admin:payments_payment_resync", args=[payment.pk])
    response = admin_client.post(button)
    assert response.status_code == 302
    assert response.url == reverse("admin:payments_payment_change", args=[payment.pk])
    assert any("조회하지 못했습니다" in m for m in messages_of(response))


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


def test_resync_of_an_unknown_record_redirects(admin_client, db):
    for name in ("shop_order_resync", "payments_payment_resync"):
        response = admin_client.post(reverse(f"admin:{name}", args=[999]))
        assert response.status_code == 302
        assert response.url == reverse("admin:index")


def test_resync_of_a_payment_iamport_now_files_under_another_order(admin_client, paid, iamport):
    order, remote = paid
    iamport.replace_payment(remote, merchant_uid="someone_elses_order")

    response = admin_client.post(reverse("admin:shop_order_resync", args=[order.pk]))

    [message] = list(get_messages(response.wsgi_request))
    assert message.level_tag == "warning"
    assert "이 상점의 주문이 아닙니다." in str(message)


def test_resync_reports_an_order_the_services_refuse_to_move(admin_client, paid, monkeypatch):
    order, _ = paid

    def refuse(**kwargs):
        raise OrderError("환불 합계는 줄어들 수 없습니다.")

    monkeypatch.setattr("payments.admin.common.payment_sync", refuse)
    response = admin_client.post(reverse("admin:shop_order_resync", args=[order.pk]))

    assert response.status_code == 302
    [message] = list(get_messages(response.wsgi_request))
    assert message.level_tag == "error"
    assert "주문에 반영하지 못했습니다 — 환불 합계는 줄어들 수 없습니다." in str(message)


def test_only_web_links_to_receipts_are_shown(admin_client, paid):
    Payment.objects.update(receipt_url="javascript:alert(1)")
    payment = Payment.objects.get()
    page = admin_client.get(reverse("admin:payments_payment_change", args=[payment.pk]))
    assert "javascript:alert(1)" not in page.content.decode()


def test_automatic_cancel_of_a_forged_payment_is_listed_as_such(
    admin_client, order_factory, iamport
):
    order = order_factory()
    remote = iamport.payment(order.merchant_uid, imp_uid=IMP_UID, amount=100)
    iamport.cancel_ok(remote, 100)
    assert payment_sync(imp_uid=IMP_UID).outcome == SyncOutcome.FORGED

    refunds = admin_client.get(reverse("admin:payments_refund_changelist")).content.decode()
    assert "자동 (결제 검증)" in refunds
    payments = admin_client.get(reverse("admin:payments_payment_changelist")).content.decode()
    assert "위변조 의심" in payments
    assert refund_url(order) not in admin_client.get(change_url(order)).content.decode()


def test_resync_of_an_order_we_never_heard_about_finds_its_payment(
    admin_client, order_factory, iamport
):
    order = order_factory(price=12000)
    found = load_fixture("payment_paid")
    found["response"].update(imp_uid="imp_000000000009", merchant_uid=order.merchant_uid)
    iamport.find(order.merchant_uid, paid=found["response"])
    iamport.payment(order.merchant_uid, imp_uid="imp_000000000009")

    response = admin_client.post(reverse("admin:shop_order_resync", args=[order.pk]))

    assert response.status_code == 302
    assert any("imp_000000000009" in m and "결제 완료" in m for m in messages_of(response))
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert len(iamport.calls("GET", "payments/imp_000000000009")) == 1


def test_resync_of_an_order_reports_iamport_failures(admin_client, order_factory, iamport):
    order = order_factory()
    iamport.find(order.merchant_uid, paid=requests.ConnectionError("down"))

    response = admin_client.post(reverse("admin:shop_order_resync", args=[order.pk]))

    assert response.status_code == 302
    assert any("아임포트에서 조회하지 못했습니다" in m for m in messages_of(response))
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING
