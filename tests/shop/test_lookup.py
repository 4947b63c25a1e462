"""Guest order lookup: the order number and the checkout email or phone open the order in
another browser; a wrong guess says nothing about whether the order exists, and guessing is
rate-limited per client and per order number."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from shop import services
from shop.views import MY_ORDERS_SESSION_KEY
from tests.config.test_settings import FULL, load_settings

LOOKUP = reverse("shop:order_lookup")
NO_MATCH = "주문번호와 이메일 또는 휴대폰 번호가 일치하는 주문이 없습니다"
TOO_MANY = "조회 시도가 너무 많습니다"
# Inside a 600-second window of guard.ratelimit: 480 seconds of it left.
NOW = 1_800_000_000 + 120


@pytest.fixture(autouse=True)
def clock(monkeypatch):
    """A fixed time for the rate limiter and the Retry-After it is reported with, so that no
    test straddles the end of a counting window."""
    fake = SimpleNamespace(now=float(NOW))
    stand_in = SimpleNamespace(time=lambda: fake.now)
    monkeypatch.setattr("guard.ratelimit.time", stand_in)
    monkeypatch.setattr("shop.views.time", stand_in)
    return fake


@pytest.fixture
def order(order_factory):
    return order_factory(quantity=2, name="에티오피아 원두", price=18000, stock=10)


def lookup(client: Client, number: str, contact: str, **extra):
    return client.post(LOOKUP, {"number": number, "contact": contact}, **extra)


def errors_of(response) -> str:
    """The refusal the page shows, as text."""
    match = re.search(r'id="lookup-errors"[^>]*>(.*?)</div>', response.content.decode(), re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(1))).strip() if match else ""


def spaced_lowercase(number: str) -> str:
    """ "20261202-7K3QX9" as a person might type it: "20261202 7k3qx9"."""
    return number.replace("-", " ").lower()


# --- finding the order --------------------------------------------------------------------
def test_the_short_number_and_the_email_open_the_order_in_this_browser(order):
    browser = Client()

    response = lookup(browser, spaced_lowercase(order.number), "  Buyer@Example.COM ")

    assert response.status_code == 302
    assert response.url == order.get_absolute_url()
    assert browser.session[MY_ORDERS_SESSION_KEY] == [order.merchant_uid]
    page = browser.get(response.url).content.decode()
    assert "buyer@example.com" in page and "010-1234-5678" in page
    assert 'data-masked="false"' in page
    assert "주문을 찾았습니다" in page


def test_a_paid_order_found_is_not_offered_for_payment(order):
    services.order_mark_paid(order=order)
    browser = Client()

    page = browser.get(lookup(browser, order.number, "buyer@example.com").url).content.decode()

    assert "주문을 찾았습니다. 이 브라우저에서 주문을 확인할 수 있습니다." in page
    assert "결제할 수 있습니다" not in page


def test_the_merchant_uid_and_the_phone_in_another_format_open_the_order(order):
    browser = Client()

    response = lookup(browser, order.merchant_uid, "+82 10 1234 5678")

    assert response.status_code == 302
    assert response.url == order.get_absolute_url()
    assert order.merchant_uid in browser.session[MY_ORDERS_SESSION_KEY]


@pytest.mark.parametrize("phone", ["01012345678", "010.1234.5678", "(010) 1234-5678"])
def test_any_way_of_writing_the_phone_number_matches(order, phone):
    assert lookup(Client(), order.number, phone).status_code == 302


def test_a_second_browser_sees_the_full_order_and_its_pay_button_after_the_lookup(order):
    other_device = Client()
    before = other_device.get(order.get_absolute_url()).content.decode()
    assert 'id="pay-button"' not in before and "buyer@example.com" not in before

    lookup(other_device, order.number, "buyer@example.com")

    after = other_device.get(order.get_absolute_url()).content.decode()
    assert 'id="pay-button"' in after
    assert '<script id="pay-params" type="application/json">' in after
    assert "buyer@example.com" in after
    assert order.number in other_device.get(reverse("shop:order_list")).content.decode()


def test_orders_found_before_are_kept_beside_the_new_one(order, order_factory):
    browser = Client()
    other = order_factory()

    lookup(browser, order.number, "buyer@example.com")
    lookup(browser, other.number, "buyer@example.com")

    assert browser.session[MY_ORDERS_SESSION_KEY] == [other.merchant_uid, order.merchant_uid]


def test_a_lookup_gives_the_browser_a_new_session_key(order):
    browser = Client()
    browser.get(LOOKUP)
    session = browser.session
    session["planted"] = True
    session.save()
    planted_key = session.session_key

    lookup(browser, order.number, "buyer@example.com")

    assert browser.session.session_key != planted_key


# --- a wrong guess ------------------------------------------------------------------------
def test_unknown_number_wrong_email_and_wrong_phone_look_the_same(order):
    answers = {
        "unknown number": lookup(Client(), "20991231-2345AB", "buyer@example.com"),
        "wrong email": lookup(Client(), order.number, "someone@example.com"),
        "wrong phone": lookup(Client(), order.number, "010-9999-5678"),
        "unknown merchant_uid": lookup(
            Client(), "o20991231ffffffffffffffffffffffff", "010-1234-5678"
        ),
    }

    shapes = {
        (r.status_code, errors_of(r), "field-error" in r.content.decode()) for r in answers.values()
    }
    assert len(shapes) == 1, shapes
    status, message, field_errors = shapes.pop()
    assert status == 400 and NO_MATCH in message and not field_errors
    for response in answers.values():
        assert order.merchant_uid not in response.content.decode()
        assert MY_ORDERS_SESSION_KEY not in response.wsgi_request.session


def test_an_unknown_number_costs_the_same_queries_as_a_wrong_contact(order):
    def queries(number: str, contact: str) -> list[str]:
        with CaptureQueriesContext(connection) as captured:
            lookup(Client(), number, contact)
        return [re.sub(r"'[^']*'|\b\d+\b", "?", q["sql"]) for q in captured.captured_queries]

    unknown = queries("20991231-2345AB", "buyer@example.com")
    wrong = queries(order.number, "someone@example.com")

    assert unknown == wrong


def test_the_email_of_one_order_does_not_open_another(order, order_factory):
    from shop.models import Order

    other = order_factory()
    Order.objects.filter(pk=other.pk).update(
        buyer_email="other@example.com", buyer_tel="02-123-4567"
    )

    assert lookup(Client(), other.number, "buyer@example.com").status_code == 400
    assert lookup(Client(), other.number, "010-1234-5678").status_code == 400
    assert lookup(Client(), other.number, "02 123 4567").status_code == 302


def test_an_order_without_an_email_is_not_opened_by_an_empty_looking_contact(order):
    from shop.models import Order

    Order.objects.filter(pk=order.pk).update(buyer_email="", buyer_tel="")

    for contact in ("  ", "-", "@"):
        assert lookup(Client(), order.number, contact).status_code == 400


# --- rate limits --------------------------------------------------------------------------
def test_too_many_attempts_from_one_client_are_refused_with_429(order, settings):
    settings.SHOP_LOOKUP_RATE_PER_CLIENT = "3/600"
    settings.SHOP_LOOKUP_RATE_PER_ORDER = "100/600"
    browser = Client()
    for tail in ("2345AB", "2345AC", "2345AD"):
        assert lookup(browser, f"20991231-{tail}", "buyer@example.com").status_code == 400

    refused = lookup(browser, order.number, "buyer@example.com")  # even the right details

    assert refused.status_code == 429
    assert refused["Retry-After"] == "480"
    assert TOO_MANY in errors_of(refused) and "8분" in errors_of(refused)
    assert MY_ORDERS_SESSION_KEY not in browser.session
    # Another client is not affected.
    assert (
        lookup(Client(REMOTE_ADDR="198.51.100.7"), order.number, "buyer@example.com").status_code
        == 302
    )


def test_too_many_attempts_on_one_order_number_are_refused_from_any_client(order, settings):
    settings.SHOP_LOOKUP_RATE_PER_CLIENT = "100/600"
    settings.SHOP_LOOKUP_RATE_PER_ORDER = "2/600"
    assert (
        lookup(Client(REMOTE_ADDR="198.51.100.1"), order.number, "010-0000-0001").status_code == 400
    )
    # The merchant_uid names the same order and shares its budget.
    assert (
        lookup(Client(REMOTE_ADDR="198.51.100.2"), order.merchant_uid, "010-0000-0002").status_code
        == 400
    )

    refused = lookup(
        Client(REMOTE_ADDR="198.51.100.3"), spaced_lowercase(order.number), "010-1234-5678"
    )

    assert refused.status_code == 429
    assert refused["Retry-After"] == "480"
    assert TOO_MANY in errors_of(refused)


def test_an_unknown_number_is_limited_just_like_a_real_one(order, settings):
    settings.SHOP_LOOKUP_RATE_PER_CLIENT = "100/600"
    settings.SHOP_LOOKUP_RATE_PER_ORDER = "2/600"

    def third_attempt(number: str):
        for address in ("198.51.100.1", "198.51.100.2"):
            lookup(Client(REMOTE_ADDR=address), number, "010-0000-0000")
        return lookup(Client(REMOTE_ADDR="198.51.100.3"), number, "010-0000-0000")

    real, unknown = third_attempt(order.number), third_attempt("20991231-2345AB")

    assert (real.status_code, errors_of(real), real["Retry-After"]) == (
        unknown.status_code,
        errors_of(unknown),
        unknown["Retry-After"],
    )


def test_successful_lookups_count_too(order, settings):
    settings.SHOP_LOOKUP_RATE_PER_ORDER = "2/600"
    for _ in range(2):
        assert lookup(Client(), order.number, "buyer@example.com").status_code == 302

    assert lookup(Client(), order.number, "buyer@example.com").status_code == 429


def test_lookups_are_accepted_again_in_the_next_window(order, settings, clock):
    settings.SHOP_LOOKUP_RATE_PER_CLIENT = "1/600"
    browser = Client()
    lookup(browser, order.number, "wrong@example.com")
    assert lookup(browser, order.number, "buyer@example.com").status_code == 429

    clock.now += 480

    assert lookup(browser, order.number, "buyer@example.com").status_code == 302


@pytest.mark.parametrize("name", ["SHOP_LOOKUP_RATE_PER_CLIENT", "SHOP_LOOKUP_RATE_PER_ORDER"])
def test_a_malformed_lookup_rate_stops_start_up(name):
    result = load_settings(**{**FULL, name: "often"})

    assert result.returncode != 0
    assert f"{name} must look like 60/60" in result.stderr


# --- odd input ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "data",
    [
        {},
        {"number": "20261202-7K3QX9"},
        {"contact": "buyer@example.com"},
        {"number": "", "contact": ""},
        {"number": "x" * 10_000, "contact": "buyer@example.com"},
        {"number": "20261202-7K3QX9", "contact": "y" * 10_000},
        {"number": "주문번호", "contact": "buyer@example.com"},
        {"number": "../../etc/passwd", "contact": "buyer@example.com"},
        {"number": "o2026' OR '1'='1", "contact": "' OR 1=1 --"},
        {"number": ["20261202-7K3QX9", "o1"], "contact": ["a@b.c", "010"]},
        {"number": "\u200b20261202-7K3QX9", "contact": "010-1234-5678"},
    ],
)
def test_odd_input_is_a_400_with_the_form_never_a_500(db, data):
    response = Client().post(LOOKUP, data)

    assert response.status_code == 400
    assert 'id="lookup-form"' in response.content.decode()


@pytest.mark.parametrize(
    "data",
    [
        {"number": "20261202-7K3QX9\x00", "contact": "buyer@example.com"},
        {"number": "20261202-7K3QX9", "contact": "buyer\x00@example.com"},
    ],
)
def test_nul_bytes_are_refused_with_400(db, data):
    assert Client().post(LOOKUP, data).status_code == 400


def test_a_json_body_is_an_empty_form(db):
    response = Client().post(LOOKUP, '{"number": "x"}', content_type="application/json")

    assert response.status_code == 400


def test_get_shows_the_form_and_looks_nothing_up(order):
    browser = Client()

    response = browser.get(LOOKUP, {"number": order.number, "contact": "buyer@example.com"})

    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="lookup-form"' in html and f'value="{order.number}"' in html
    assert "buyer@example.com" not in html
    assert MY_ORDERS_SESSION_KEY not in browser.session


@pytest.mark.parametrize(
    "query", ["?number=" + "z" * 10_000, "?number=%ED%95%9C", "?number=<b>x</b>"]
)
def test_get_with_odd_parameters_shows_the_form(db, query):
    response = Client().get(LOOKUP + query)

    assert response.status_code == 200
    assert "<b>x</b>" not in response.content.decode()


def test_other_methods_are_refused(db):
    assert Client().put(LOOKUP).status_code == 405


def test_the_form_needs_its_csrf_token(order):
    strict = Client(enforce_csrf_checks=True)

    refused = lookup(strict, order.number, "buyer@example.com")
    token = re.search(
        r'name="csrfmiddlewaretoken" value="([^"]+)"', strict.get(LOOKUP).content.decode()
    ).group(1)
    accepted = strict.post(
        LOOKUP,
        {"number": order.number, "contact": "buyer@example.com", "csrfmiddlewaretoken": token},
    )

    assert refused.status_code == 403
    assert accepted.status_code == 302


# --- where it is offered ------------------------------------------------------------------
def test_the_header_and_the_404_page_link_to_the_lookup(db):
    home = Client().get("/").content.decode()
    missing = Client().get("/orders/o20991231doesnotexist/")

    assert f'id="order-lookup-link" href="{LOOKUP}"' in home
    assert missing.status_code == 404
    assert f'href="{LOOKUP}"' in missing.content.decode()


def test_a_stranger_on_the_order_page_is_offered_the_lookup_with_the_number(order):
    html = Client().get(order.get_absolute_url()).content.decode()

    assert f'href="{LOOKUP}?number={order.number}"' in html
