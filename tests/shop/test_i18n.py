"""Every shop page is written for translation: Korean is the source (and the default), the
language switch in the header chooses another, and a catalogue for it changes what the pages,
their messages, the pay button's script texts, amounts and pay-method labels say."""

from __future__ import annotations

import array
import ast
import re
import struct
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client, override_settings
from django.urls import reverse

from shop.templatetags.shop_tags import won

ROOT = Path(__file__).resolve().parents[2]
HANGUL = re.compile(r"[\uac00-\ud7a3]")

# What a buyer sees on the shop's pages: every Korean word in them must be marked.
TEMPLATES = [
    "templates/base.html",
    "templates/404.html",
    "templates/500.html",
    "templates/payments/_pay_button.html",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "templates" / "shop").glob("*.html")),
]
PYTHON = [
    "shop/views.py",
    "shop/forms.py",
    "shop/cart.py",
    "shop/selectors.py",
    "payments/views.py",
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "shop" / "templatetags").glob("*.py")),
    *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "payments" / "templatetags").glob("*.py")),
]
SCRIPTS = ["static/js/pay.js", "static/js/order.js"]
GETTEXT = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy", "pgettext", "npgettext"}


# --- everything is marked -----------------------------------------------------------------
def unmarked_template_text(source: str) -> list[str]:
    for pattern in (
        r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}",
        r"{#.*?#}",
        r"{%\s*blocktranslate\b.*?{%\s*endblocktranslate\s*%}",
        r"{%\s*translate\b.*?%}",
        r'_\("[^"]*"\)',
    ):
        source = re.sub(pattern, "", source, flags=re.S)
    return [line.strip() for line in source.splitlines() if HANGUL.search(line)]


@pytest.mark.parametrize("path", TEMPLATES)
def test_every_korean_text_in_the_shop_templates_is_marked_for_translation(path):
    assert unmarked_template_text((ROOT / path).read_text(encoding="utf-8")) == []


def unmarked_python_strings(source: str) -> list[str]:
    tree = ast.parse(source)
    marked: set[int] = set()
    docstrings: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in GETTEXT:
                marked.update(id(arg) for arg in node.args)
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            docstrings.add(id(body[0].value))
    return [
        f"line {node.lineno}: {ast.unparse(node)}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant | ast.JoinedStr)
        and id(node) not in marked | docstrings
        and HANGUL.search(ast.unparse(node))
        # A constant inside an f-string is reported with the f-string itself.
        and not (isinstance(node, ast.Constant) and _inside_fstring(tree, node))
    ]


def _inside_fstring(tree: ast.AST, constant: ast.Constant) -> bool:
    return any(
        isinstance(node, ast.JoinedStr) and constant in node.values for node in ast.walk(tree)
    )


@pytest.mark.parametrize("path", PYTHON)
def test_every_korean_string_the_buyer_sees_from_python_is_marked(path):
    assert unmarked_python_strings((ROOT / path).read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("path", SCRIPTS)
def test_scripts_carry_no_text_of_their_own(path):
    source = (ROOT / path).read_text(encoding="utf-8")
    code = re.sub(r"/\*.*?\*/|//[^\n]*", "", source, flags=re.S)

    assert not HANGUL.search(code)


def test_the_pay_button_gives_its_script_every_message_it_reads(client, order_factory):
    order = order_factory()
    session = client.session
    session["shop_orders"] = [order.merchant_uid]
    session.save()
    script = (ROOT / "static/js/pay.js").read_text(encoding="utf-8")
    names = re.search(r"MESSAGE_NAMES = \[(.*?)\]", script, re.S).group(1)

    html = client.get(order.get_absolute_url()).content.decode()

    for name in re.findall(r'"(\w+)"', names):
        attribute = "data-msg-" + re.sub(r"([A-Z])", r"-\1", name).lower()
        assert re.search(rf'{attribute}="[^"]+"', html), attribute
    assert 'data-msg-busy="결제 진행 중…"' in html


# --- the language switch ------------------------------------------------------------------
def language_form(html: str) -> str:
    start = html.index('<form id="language-switch"')
    return html[start : html.index("</form>", start)]


def test_the_header_offers_each_language_posting_to_set_language(client, db):
    html = client.get(reverse("shop:cart") + "?x=1").content.decode()

    form = language_form(html)
    assert f'action="{reverse("set_language")}" method="post"' in form
    assert 'name="csrfmiddlewaretoken"' in form
    assert '<input type="hidden" name="next" value="/cart/?x=1">' in form
    for code, _name in django_settings.LANGUAGES:
        assert f'type="submit" name="language" value="{code}"' in form
    assert re.search(r'value="ko"[^>]*is-current[^>]*aria-current="true">한국어<', form)
    assert re.search(r'value="en"(?![^>]*aria-current)[^>]*>English<', form)
    assert '<html lang="ko">' in html


def test_choosing_english_comes_back_to_the_same_page_in_english(client, db):
    response = client.post(reverse("set_language"), {"language": "en", "next": "/cart/"})

    assert response.status_code == 302 and response.url == "/cart/"
    html = client.get("/cart/").content.decode()
    assert '<html lang="en">' in html
    assert re.search(
        r'value="en"[^>]*is-current[^>]*aria-current="true">English<', language_form(html)
    )


def test_korean_stays_the_default(client, db):
    html = client.get("/", HTTP_ACCEPT_LANGUAGE="ko-KR,ko;q=0.9").content.decode()

    assert '<html lang="ko">' in html and "오늘의 상품" in html


# --- a catalogue changes what the pages say ------------------------------------------------
ENGLISH = {
    "%(amount)s원": "₩%(amount)s",
    "%(amount)s 결제하기": "Pay %(amount)s",
    "주문 조회": "Find an order",
    "신용카드": "Credit card",
    "결제 대기": "Awaiting payment",
    "결제 진행 중…": "Paying…",
    "오늘의 상품": "Today's picks",
    "주문번호와 이메일 또는 휴대폰 번호가 일치하는 주문이 없습니다. 다시 확인해 주세요.": (
        "No order matches that number and email or phone number."
    ),
    "주문을 찾을 수 없습니다.": "Order not found.",
    "datetime format\x04Y년 n월 j일 H:i": "M j, Y H:i",
    ("'%(name)s' %(quantity)s개를 장바구니에 담았습니다.", 0): "Added %(quantity)s × %(name)s.",
}


def write_mo(path: Path, messages: dict) -> None:
    """A GNU .mo catalogue from {msgid: msgstr} ({(msgid, 0): msgstr} for a plural)."""
    entries = {
        b"": b"Content-Type: text/plain; charset=UTF-8\n"
        b"Plural-Forms: nplurals=2; plural=(n != 1);\n"
    }
    for key, value in messages.items():
        if isinstance(key, tuple):
            entries[(key[0] + "\0" + key[0]).encode()] = (value + "\0" + value).encode()
        else:
            entries[key.encode()] = value.encode()
    keys = sorted(entries)
    ids = strs = b""
    offsets = []
    for key in keys:
        offsets.append((len(ids), len(key), len(strs), len(entries[key])))
        ids += key + b"\0"
        strs += entries[key] + b"\0"
    key_start = 7 * 4 + 16 * len(keys)
    value_start = key_start + len(ids)
    table = [n for o1, l1, _o2, _l2 in offsets for n in (l1, o1 + key_start)]
    table += [n for _o1, _l1, o2, l2 in offsets for n in (l2, o2 + value_start)]
    header = struct.pack("Iiiiiii", 0x950412DE, 0, len(keys), 28, 28 + 8 * len(keys), 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(header + array.array("i", table).tobytes() + ids + strs)


@pytest.fixture
def english(tmp_path):
    write_mo(tmp_path / "en" / "LC_MESSAGES" / "django.mo", ENGLISH)
    with override_settings(LOCALE_PATHS=[tmp_path]):
        browser = Client(HTTP_ACCEPT_LANGUAGE="en")
        browser.cookies[django_settings.LANGUAGE_COOKIE_NAME] = "en"
        yield browser


def test_amounts_labels_and_texts_follow_the_catalogue(english, product_factory):
    product_factory(price=12000)

    html = english.get("/").content.decode()

    assert "₩12,000" in html and "12,000원" not in html
    assert "Today's picks" in html and "Find an order" in html


def test_the_order_page_and_the_pay_button_speak_the_buyers_language(english, order_factory):
    order = order_factory(price=12000)
    session = english.session
    session["shop_orders"] = [order.merchant_uid]
    session.save()

    html = english.get(order.get_absolute_url()).content.decode()

    assert "Pay ₩12,000" in html
    assert 'data-msg-busy="Paying…"' in html
    assert "Credit card" in html
    assert re.search(r'id="order-status"[^>]*data-status="pending"[^>]*>Awaiting payment<', html)


def test_messages_and_refusals_follow_the_catalogue(english, order_factory, product_factory):
    product = product_factory(name="머그")
    added = english.post(
        reverse("shop:cart_add", args=[product.pk]), {"quantity": "2"}, follow=True
    )
    refused = english.post(
        reverse("shop:order_lookup"), {"number": "20991231-2345AB", "contact": "a@b.kr"}
    )
    not_found = english.post(
        reverse("payments:complete"),
        {"imp_uid": "imp_123456789012", "merchant_uid": "o20991231ffffffffffffffffffffffff"},
        content_type="application/json",
    )

    assert "Added 2 × 머그." in added.content.decode()
    assert "No order matches that number" in refused.content.decode()
    assert not_found.json()["message"] == "Order not found."


def test_dates_use_the_catalogues_format(english, order_factory):
    from datetime import datetime

    from django.utils import timezone

    from shop import services

    order = order_factory(pay_method="vbank")
    services.order_mark_awaiting_deposit(
        order=order,
        bank="국민은행",
        account="123456789012",
        holder="상점",
        due=timezone.make_aware(datetime(2030, 5, 3, 23, 59)),
    )

    html = english.get(order.get_absolute_url()).content.decode()

    assert "May 3, 2030 23:59" in html


def test_won_goes_through_the_catalogue_and_stays_korean_by_default():
    assert won(12000) == "12,000원"
