"""Display helpers for the shop's templates: `{% load shop_tags %}`."""

from __future__ import annotations

import re

from django import template
from django.utils.translation import gettext

from shop import selectors

register = template.Library()

# Separators a bank or PG may write inside an account number ("123-456-789012").
_ACCOUNT_SEPARATORS = re.compile(r"[\s-]+")
_ACCOUNT_GROUP = 4


@register.filter
def won(value) -> str:
    """12000 -> "12,000원" (in English, whatever the catalogue says, e.g. "₩12,000").

    Amounts are whole won; anything that is not a number shows as "".
    """
    if value is None or value == "" or isinstance(value, bool | float):
        return ""
    try:
        amount = int(value)
    except (TypeError, ValueError):
        return ""
    # Translators: an amount of Korean won; %(amount)s is the number with thousands separators.
    return gettext("%(amount)s원") % {"amount": f"{amount:,}"}


@register.filter
def pay_method_label(code: str) -> str:
    """ "card" -> "신용카드", from settings.SHOP_PAY_METHODS."""
    return selectors.pay_method_label(code)


@register.filter
def account_groups(account: object) -> list[str]:
    """A virtual account number in groups that are easy to read aloud and type into a bank app.

    The bank's own grouping when it wrote one ("123-456-789012" -> 123 / 456 / 789012),
    otherwise groups of four digits ("123456789012" -> 1234 / 5678 / 9012). Anything else is
    shown as it is.
    """
    text = str(account or "").strip()
    parts = [part for part in _ACCOUNT_SEPARATORS.split(text) if part]
    if len(parts) > 1:
        return parts
    if text.isascii() and text.isdigit():
        return [text[i : i + _ACCOUNT_GROUP] for i in range(0, len(text), _ACCOUNT_GROUP)]
    return [text] if text else []


@register.filter
def account_digits(account: object) -> str:
    """What to copy: the account's digits without separators, which every bank app accepts;
    an account that is not digits and separators is copied as it is."""
    text = str(account or "").strip()
    compact = _ACCOUNT_SEPARATORS.sub("", text)
    return compact if compact.isascii() and compact.isdigit() else text
