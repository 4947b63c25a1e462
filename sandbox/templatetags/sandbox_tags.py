"""Template filters for sandbox pages."""

import json

from django import template

register = template.Library()


@register.filter
def won(value) -> str:
    """12000 -> "12,000원"."""
    try:
        return f"{int(value):,}원"
    except (TypeError, ValueError):
        return ""


@register.filter
def get_item(mapping, key):
    """`mapping[key]`, or "" when absent."""
    return mapping.get(key, "") if hasattr(mapping, "get") else ""


@register.filter
def json_text(value) -> str:
    """A value as compact JSON (escaped by the template like any text)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


@register.filter
def readable_response(text: str) -> str:
    """A webhook answer for display: JSON re-encoded with its Korean unescaped, else as is."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except (TypeError, ValueError):
        return text
