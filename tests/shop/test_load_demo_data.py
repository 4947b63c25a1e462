"""`manage.py load_demo_data`: a catalogue with images, safe to run twice."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from shop.models import Product


def run() -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("load_demo_data", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
def test_it_loads_a_catalogue_with_images_and_one_sold_out_product(settings):
    settings.DEBUG = True

    out, _ = run()

    products = list(Product.objects.all())
    assert 6 <= len(products) <= 8
    assert all(p.image and p.image.storage.exists(p.image.name) for p in products)
    assert all(p.image.name.endswith(".png") for p in products)
    assert all(isinstance(p.price, int) and 4500 <= p.price <= 89000 for p in products)
    assert all(p.price % 100 == 0 for p in products)
    assert [p.stock for p in products].count(0) == 1
    assert "상품 만듦" in out


@pytest.mark.django_db
def test_running_twice_duplicates_nothing(settings):
    settings.DEBUG = True
    run()
    before = {p.pk: (p.name, p.image.name) for p in Product.objects.all()}

    out, _ = run()

    assert {p.pk: (p.name, p.image.name) for p in Product.objects.all()} == before
    assert get_user_model().objects.filter(username="admin").count() == 1
    assert "이미 있음" in out


@pytest.mark.django_db
def test_stock_taken_by_orders_is_not_reset(settings):
    settings.DEBUG = True
    run()
    Product.objects.filter(stock__gt=0).update(stock=1)

    run()

    assert set(Product.objects.values_list("stock", flat=True)) <= {0, 1}


@pytest.mark.django_db
def test_the_admin_login_is_created_only_with_debug_on(settings):
    settings.DEBUG = True

    out, _ = run()

    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("admin")
    assert "admin / admin" in out


@pytest.mark.django_db
def test_without_debug_the_admin_login_is_refused_with_a_reason(settings):
    settings.DEBUG = False

    _, err = run()

    assert not get_user_model().objects.filter(username="admin").exists()
    assert "DJANGO_DEBUG" in err
    assert Product.objects.exists()
