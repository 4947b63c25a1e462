"""Display helpers for the shop's templates: `{% load shop_tags %}`."""

from __future__ import annotations

from django import template

from shop import selectors

register = template.Library()


@register.filter
def won(value) -> str:
    """12000 -> "12,000원". Amounts are whole won; anything that is not a number shows as ""."""
    if value is None or value == "" or isinstance(value, bool | float):
        return ""
    try:
        amount = int(value)
    except (TypeError, ValueError):
        return ""
    return f"{amount:,}원"


@register.filter
def pay_method_label(code: str) -> str:
    """ "card" -> "신용카드", from settings.SHOP_PAY_METHODS."""
    return selectors.pay_method_label(code)
