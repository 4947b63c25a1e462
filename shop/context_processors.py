"""What every page needs: the shop's name, the cart badge and the sandbox banner switch."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest

from shop.cart import Cart


def shop(request: HttpRequest) -> dict[str, object]:
    session = getattr(request, "session", None)
    return {
        "shop_name": settings.SHOP_NAME,
        "cart_count": Cart(session).count if session is not None else 0,
        "sandbox_enabled": settings.SANDBOX_ENABLED,
    }
