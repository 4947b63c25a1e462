"""The refund form's summary of the order (its short number and merchant_uid, the whole
address, pay method and PG), and the payments admin written for translation: no Korean text
in its templates or code that does not go through Django's translation machinery.

The `paid` fixture is in tests/payments/conftest.py.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from shop.models import Order
from tests.payments.helpers import refund_url

ROOT = Path(__file__).resolve().parents[2]
HANGUL = re.compile(r"[\uac00-\ud7a3]")


def summary(content: str) -> dict[str, str]:
    """The refund form's summary table, heading -> text."""
    table = content[content.index('<table class="refund-summary">') :]
    table = table[: table.index("</table>")]
    rows = re.findall(r'<th scope="row">(.*?)</th><td[^>]*>(.*?)</td>', table, re.S)
    return {head: re.sub(r"<[^>]+>", "", cell).strip() for head, cell in rows}


def test_the_refund_form_sums_up_the_order_with_its_whole_address(admin_client, paid):
    order, _ = paid
    Order.objects.filter(pk=order.pk).update(buyer_addr_detail="101동 1203호")

    rows = summary(admin_client.get(refund_url(order)).content.decode())

    assert rows["주문번호"] == f"{order.number} ({order.merchant_uid})"
    assert rows["주소"] == "(06236) 서울특별시 강남구 테헤란로 1 101동 1203호"
    assert rows["결제 수단"] == "신용카드"
    assert rows["PG사"] == "KG이니시스"
    assert rows["환불 가능 금액"] == "12,000원"


def test_the_refund_form_is_titled_by_the_short_number(admin_client, paid):
    order, _ = paid

    response = admin_client.get(refund_url(order))

    assert response.context["title"] == f"주문 {order.number} 환불"


# --- written for translation --------------------------------------------------------------
TEMPLATES = [
    "templates/admin/payments/refund_form.html",
    "templates/admin/payments/_object_tools.html",
    "templates/admin/payments/order_change_list.html",
    "templates/admin/payments/order_change_form.html",
    "templates/admin/payments/payment/change_form.html",
]
TRANSLATED = re.compile(
    r'{%\s*translate\s+"[^"]*"\s*%}'
    r"|{%\s*blocktranslate\b.*?%}.*?{%\s*endblocktranslate\s*%}"
    r"|{%\s*comment\s*%}.*?{%\s*endcomment\s*%}",
    re.S,
)


@pytest.mark.parametrize("name", TEMPLATES)
def test_every_korean_text_in_the_admin_templates_is_translated(name):
    source = (ROOT / name).read_text(encoding="utf-8")

    left = TRANSLATED.sub("", source)

    assert not HANGUL.search(left), (
        HANGUL.search(left) and left[HANGUL.search(left).start() - 60 :][:120]
    )


MODULES = [
    "payments/admin/common.py",
    "payments/admin/filters.py",
    "payments/admin/orders.py",
    "payments/admin/records.py",
    "payments/admin/reprocess.py",
    "shop/admin.py",
]
TRANSLATORS = {"_", "gettext", "gettext_lazy", "ngettext", "ngettext_lazy"}


def untranslated(tree: ast.AST) -> list[str]:
    """Korean string constants that are neither docstrings nor arguments of a translator."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in TRANSLATORS:
            skip.update(id(arg) for arg in ast.walk(node))
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            skip.add(id(body[0].value))  # a docstring
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and HANGUL.search(node.value)
        and id(node) not in skip
    ]


@pytest.mark.parametrize("name", MODULES)
def test_every_korean_text_in_the_admin_code_is_translated(name):
    tree = ast.parse((ROOT / name).read_text(encoding="utf-8"))

    assert untranslated(tree) == []
