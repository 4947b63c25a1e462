"""Small assertions shared by the shop tests."""

from __future__ import annotations

from shop.cart import SESSION_KEY


def cart_in(client) -> dict[str, int]:
    """What the client's session cart holds: {product id (str): quantity}."""
    return dict(client.session.get(SESSION_KEY, {}))


def page_messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def has_message(response, text: str) -> bool:
    return any(text in message for message in page_messages(response))
