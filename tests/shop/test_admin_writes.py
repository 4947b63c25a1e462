"""Admin saves racing other writers: a save writes what the admin changed, not what was read.

While an admin page is open (and even while its POST is being handled), Iamport's webhook may
mark an order paid, and every paid order takes stock. The forms are submitted as a browser
would, from the page as it was rendered, and the rows are changed behind the admin's back.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest
from django.contrib import admin, messages
from django.contrib.messages import get_messages
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from shop.models import Order, Product
from shop.services import IllegalTransition, order_mark_paid

PAID_AT = datetime(2025, 11, 27, 9, 30, tzinfo=UTC)


# --- helpers and fixtures -----------------------------------------------------------------
class _FormFields(HTMLParser):
    """What a browser would submit from the <form id=form_id> of a page (no files, no buttons)."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.fields: list[tuple[str, str]] = []
        self.textarea: str | None = None
        self.text: list[str] = []
        self.select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {key: value or "" for key, value in attrs}
        if tag == "form":
            self.inside = attr.get("id") == self.form_id
        name = attr.get("name", "")
        if not self.inside or (not name and tag != "option"):
            return
        kind = attr.get("type", "text")
        if tag == "input" and kind not in {"submit", "button", "reset", "image", "file"}:
            if kind not in {"checkbox", "radio"} or "checked" in attr:
                self.fields.append((name, attr.get("value", "on")))
        elif tag == "textarea":
            self.textarea, self.text = name, []
        elif tag == "select":
            self.select = name
        elif tag == "option" and self.select and "selected" in attr:
            self.fields.append((self.select, attr.get("value", "")))

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "textarea" and self.textarea:
            # A browser drops the newline that follows <textarea>.
            text = "".join(self.text)
            self.fields.append((self.textarea, text.removeprefix("\r\n").removeprefix("\n")))
            self.textarea = None
        elif tag == "select":
            self.select = None


def form_data(response, form_id: str) -> dict[str, str]:
    """The form's fields as rendered, hidden ones (management forms, "initial-…") included."""
    assert response.status_code == 200
    parser = _FormFields(form_id)
    parser.feed(response.content.decode())
    data = dict(parser.fields)
    assert data, f"no form #{form_id} on the page"
    assert len(data) == len(parser.fields), "a field is named twice"
    return data


def order_url(order: Order) -> str:
    return reverse("admin:shop_order_change", args=[order.pk])


def product_url(product: Product) -> str:
    return reverse("admin:shop_product_change", args=[product.pk])


def warnings_of(response) -> list[str]:
    return [
        str(message)
        for message in get_messages(response.wsgi_request)
        if message.level == messages.WARNING
    ]


def stale_stock_warning(product: Product, now: int) -> str:
    return (
        f"{product.name}: 재고가 그 사이 {now}개로 바뀌어 재고는 바꾸지 않았습니다. "
        "다시 확인해 주세요."
    )


def png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "teal").save(buffer, "PNG")
    return SimpleUploadedFile("beans.png", buffer.getvalue(), content_type="image/png")


@pytest.fixture
def sell(order_factory):
    """Sell `quantity` of a product the way the shop does: an order, paid (stock is taken)."""

    def sell(product: Product, quantity: int) -> Order:
        return order_mark_paid(order=order_factory(product=product, quantity=quantity))

    return sell


@pytest.fixture
def paid_while_saving(monkeypatch):
    """The webhook marks the order paid after the admin's POST has read the order, before it
    saves: the admin's copy of the row is then stale, whatever page it came from."""

    def arrange(order: Order) -> None:
        model_admin = admin.site.get_model_admin(Order)
        read = model_admin.get_object

        def get_object_then_webhook(request, object_id, from_field=None):
            obj = read(request, object_id, from_field)
            if request.method == "POST":
                order_mark_paid(order=order, paid_at=PAID_AT)
            return obj

        monkeypatch.setattr(model_admin, "get_object", get_object_then_webhook)

    return arrange


# --- orders -------------------------------------------------------------------------------
def test_buyer_correction_keeps_the_payment_recorded_meanwhile(
    admin_client, order_factory, paid_while_saving
):
    order = order_factory(quantity=1, stock=10)
    data = form_data(admin_client.get(order_url(order)), "order_form")
    assert data["buyer_name"] == "홍길동"
    paid_while_saving(order)

    data["buyer_name"] = "홍길순"
    response = admin_client.post(order_url(order), {**data, "_save": "저장"})

    assert response.status_code == 302
    order.refresh_from_db()
    assert order.buyer_name == "홍길순"
    assert (order.status, order.stock_taken, order.paid_at) == ("paid", True, PAID_AT)
    product = order.lines.get().product
    product.refresh_from_db()
    assert product.stock == 9
    # A later sync of the same payment must not take stock a second time.
    with pytest.raises(IllegalTransition):
        order_mark_paid(order=order)
    product.refresh_from_db()
    assert product.stock == 9


def test_saving_an_unchanged_order_writes_nothing(admin_client, order_factory, paid_while_saving):
    order = order_factory()
    data = form_data(admin_client.get(order_url(order)), "order_form")
    paid_while_saving(order)

    response = admin_client.post(order_url(order), {**data, "_save": "저장"})

    assert response.status_code == 302
    after_webhook = Order.objects.get(pk=order.pk)
    assert (after_webhook.status, after_webhook.stock_taken) == ("paid", True)
    assert after_webhook.paid_at == PAID_AT
    assert after_webhook.buyer_name == "홍길동"


# --- products: the change form ------------------------------------------------------------
def test_description_edit_keeps_the_stock_sold_meanwhile(admin_client, product_factory, sell):
    product = product_factory(stock=10)
    data = form_data(admin_client.get(product_url(product)), "product_form")
    assert data["stock"] == "10"
    sell(product, 3)  # while the page is open

    data["description"] = "산미가 적은 블렌드"
    response = admin_client.post(product_url(product), {**data, "_save": "저장"})

    assert response.status_code == 302
    assert warnings_of(response) == []
    product.refresh_from_db()
    assert product.description == "산미가 적은 블렌드"
    assert product.stock == 7


def test_stock_change_applies_when_made_from_the_current_number(
    admin_client, product_factory, sell
):
    """A restock typed over the number on the page is written, also once the admin has
    re-checked the page after a refused save, as the warning asks."""
    product = product_factory(stock=10)
    stale = form_data(admin_client.get(product_url(product)), "product_form")
    sell(product, 3)
    admin_client.post(product_url(product), {**stale, "stock": "20", "_save": "저장"})

    fresh = form_data(admin_client.get(product_url(product)), "product_form")
    assert fresh["stock"] == "7"
    response = admin_client.post(product_url(product), {**fresh, "stock": "17", "_save": "저장"})

    assert response.status_code == 302
    assert warnings_of(response) == []
    product.refresh_from_db()
    assert product.stock == 17


def test_stock_change_from_a_stale_number_is_refused(admin_client, product_factory, sell):
    product = product_factory(stock=10)
    data = form_data(admin_client.get(product_url(product)), "product_form")
    sell(product, 3)

    data.update(stock="20", price="13000")  # +10 in the admin's mind, and a new price
    response = admin_client.post(product_url(product), {**data, "_save": "저장"})

    assert response.status_code == 302
    assert warnings_of(response) == [stale_stock_warning(product, 7)]
    product.refresh_from_db()
    assert product.stock == 7
    assert product.price == 13000  # the rest of the change is saved


def test_image_upload_is_saved_and_keeps_the_stock_sold_meanwhile(
    admin_client, product_factory, sell
):
    product = product_factory(stock=10)
    data = form_data(admin_client.get(product_url(product)), "product_form")
    sell(product, 3)

    response = admin_client.post(product_url(product), {**data, "image": png(), "_save": "저장"})

    assert response.status_code == 302
    product.refresh_from_db()
    assert product.image.name.startswith("products/beans")
    assert default_storage.exists(product.image.name)
    assert product.stock == 7


def test_adding_a_product_saves_it_whole(admin_client, db):
    """Guard for the add path (not part of the race): a new product is saved normally."""
    add_url = reverse("admin:shop_product_add")
    data = form_data(admin_client.get(add_url), "product_form")
    data.update(name="드립백 10개입", description="간편하게", price="9000", stock="30")

    response = admin_client.post(add_url, {**data, "image": png(), "_save": "저장"})

    assert response.status_code == 302
    product = Product.objects.get()
    assert (product.name, product.description, product.price, product.stock) == (
        "드립백 10개입",
        "간편하게",
        9000,
        30,
    )
    assert product.is_active
    assert default_storage.exists(product.image.name)


# --- products: list_editable on the changelist --------------------------------------------
def row_prefix(data: dict[str, str], product: Product) -> str:
    """The changelist formset prefix ("form-N") of the product's row."""
    (prefix,) = (
        name.removesuffix("-id")
        for name, value in data.items()
        if name.startswith("form-") and name.endswith("-id") and value == str(product.pk)
    )
    return prefix


def test_changelist_edits_do_not_write_back_stale_stock(admin_client, product_factory, sell):
    restocked = product_factory(name="가 원두", stock=10)
    withdrawn = product_factory(name="나 원두", stock=10)
    fresh = product_factory(name="다 원두", stock=5)
    changelist = reverse("admin:shop_product_changelist")
    data = form_data(admin_client.get(changelist), "changelist-form")
    sell(restocked, 3)
    sell(withdrawn, 3)

    data[f"{row_prefix(data, restocked)}-stock"] = "20"  # from the stale 10: refused
    del data[f"{row_prefix(data, withdrawn)}-is_active"]  # its stale stock is left alone
    data[f"{row_prefix(data, fresh)}-stock"] = "8"  # from the number shown: applied
    response = admin_client.post(changelist, {**data, "_save": "저장"})

    assert response.status_code == 302
    assert warnings_of(response) == [stale_stock_warning(restocked, 7)]
    restocked.refresh_from_db()
    withdrawn.refresh_from_db()
    fresh.refresh_from_db()
    assert restocked.stock == 7
    assert (withdrawn.stock, withdrawn.is_active) == (7, False)
    assert fresh.stock == 8
