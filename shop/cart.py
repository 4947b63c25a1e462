"""The shopping cart, kept in the buyer's session.

The session holds only product id -> quantity. Names, prices and totals are always read from
the database when the cart is shown or ordered, so a price change reaches the buyer before
checkout and the browser never names a price. Amounts are whole won (`int`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from shop import selectors
from shop.models import Product

SESSION_KEY = "shop_cart"
# A product's id as the cart keeps it: decimal digits that fit the primary key.
STORED_ID = re.compile(r"[0-9]{1,18}")


class CartError(Exception):
    """A refused cart change; the message is fit to show the buyer."""


@dataclass(frozen=True)
class CartLine:
    product: Product
    quantity: int

    @property
    def unit_price(self) -> int:
        return self.product.price

    @property
    def line_total(self) -> int:
        return self.product.price * self.quantity


@dataclass(frozen=True)
class CartContents:
    """The cart as it stands in the database, with notes on what had to change."""

    lines: list[CartLine]
    # Products dropped or quantities lowered since the buyer last looked, for a message.
    notices: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(line.line_total for line in self.lines)

    @property
    def count(self) -> int:
        return sum(line.quantity for line in self.lines)

    @property
    def items(self) -> list[tuple[int, int]]:
        """(product id, quantity) pairs, as `order_create` takes them."""
        return [(line.product.pk, line.quantity) for line in self.lines]

    def __bool__(self) -> bool:
        return bool(self.lines)


def parse_quantity(raw: object) -> int:
    """A quantity typed by the buyer as a positive whole number, or CartError."""
    text = str(raw if raw is not None else "").strip()
    # Nine digits are far beyond any stock; longer input is refused before int() reads it.
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise CartError(_("수량은 1 이상의 정수로 입력해 주세요."))
    quantity = int(text)
    if quantity < 1:
        raise CartError(_("수량은 1 이상의 정수로 입력해 주세요."))
    return quantity


class Cart:
    """Product id -> quantity in `session[SESSION_KEY]`."""

    def __init__(self, session) -> None:
        self.session = session

    def _stored(self) -> dict[str, int]:
        stored = self.session.get(SESSION_KEY)
        return stored if isinstance(stored, dict) else {}

    def _save(self, stored: Mapping[str, int]) -> None:
        self.session[SESSION_KEY] = dict(stored)
        self.session.modified = True

    def quantity_of(self, product_id: int) -> int:
        value = self._stored().get(str(product_id), 0)
        return value if isinstance(value, int) and value > 0 else 0

    def __contains__(self, product_id: int) -> bool:
        return self.quantity_of(product_id) > 0

    @property
    def count(self) -> int:
        """Items in the cart, from the session alone (cheap enough for every page header)."""
        return sum(v for v in self._stored().values() if isinstance(v, int) and v > 0)

    def add(self, product: Product, quantity: int = 1) -> int:
        """Add `quantity` of a product; returns the quantity now in the cart."""
        _check_sellable(product)
        new_quantity = self.quantity_of(product.pk) + quantity
        if new_quantity > product.stock:
            raise CartError(_too_many(product, in_cart=self.quantity_of(product.pk)))
        self._set(product.pk, new_quantity)
        return new_quantity

    def update(self, product: Product, quantity: int) -> None:
        """Set a product's quantity (1..stock)."""
        if product.pk not in self:
            raise CartError(_("장바구니에 없는 상품입니다."))
        _check_sellable(product)
        if quantity > product.stock:
            raise CartError(_too_many(product, in_cart=0))
        self._set(product.pk, quantity)

    def remove(self, product_id: int) -> bool:
        """Take a product out; False when it was not in the cart."""
        stored = self._stored()
        if stored.pop(str(product_id), None) is None:
            return False
        self._save(stored)
        return True

    def clear(self) -> None:
        self.session.pop(SESSION_KEY, None)
        self.session.modified = True

    def _set(self, product_id: int, quantity: int) -> None:
        stored = self._stored()
        stored[str(product_id)] = quantity
        self._save(stored)

    def contents(self) -> CartContents:
        """Lines priced from the database, pruning what can no longer be bought.

        Deleted or withdrawn products and sold-out products leave the cart; a quantity above
        the remaining stock is lowered to it. Each change is reported in `notices`.
        """
        stored = self._stored()
        wanted: dict[int, int] = {}
        for key, quantity in stored.items():
            if STORED_ID.fullmatch(str(key)) and isinstance(quantity, int) and quantity > 0:
                wanted[int(key)] = quantity
        products = selectors.products_by_id(wanted)

        lines: list[CartLine] = []
        notices: list[str] = []
        kept: dict[str, int] = {}
        for product_id, quantity in wanted.items():
            product = products.get(product_id)
            notice = _notice(product, quantity)
            if notice:
                notices.append(notice)
            if product is None or not product.is_active or product.stock < 1:
                continue
            quantity = min(quantity, product.stock)
            kept[str(product_id)] = quantity
            lines.append(CartLine(product=product, quantity=quantity))

        if kept != stored:
            self._save(kept)
        return CartContents(lines=lines, notices=notices)


def _notice(product: Product | None, quantity: int) -> str | None:
    """What the buyer is told about a cart line that had to change, or None."""
    if product is None or not product.is_active:
        name = f"'{product.name}'" if product else _("상품 하나")
        return _("%(name)s은(는) 더 이상 판매하지 않아 장바구니에서 뺐습니다.") % {"name": name}
    if product.stock < 1:
        return _("'%(name)s'이(가) 품절되어 장바구니에서 뺐습니다.") % {"name": product.name}
    if quantity > product.stock:
        return ngettext(
            "'%(name)s'의 재고가 %(stock)s개뿐이라 수량을 줄였습니다.",
            "'%(name)s'의 재고가 %(stock)s개뿐이라 수량을 줄였습니다.",
            product.stock,
        ) % {"name": product.name, "stock": product.stock}
    return None


def _too_many(product: Product, *, in_cart: int) -> str:
    """Refusal of a quantity above the stock, naming what is already in the cart."""
    values = {"name": product.name, "stock": product.stock, "in_cart": in_cart}
    if in_cart:
        return (
            ngettext(
                "'%(name)s'은(는) %(stock)s개까지 주문할 수 있습니다 "
                "(장바구니에 %(in_cart)s개 있음).",
                "'%(name)s'은(는) %(stock)s개까지 주문할 수 있습니다 "
                "(장바구니에 %(in_cart)s개 있음).",
                product.stock,
            )
            % values
        )
    return (
        ngettext(
            "'%(name)s'은(는) %(stock)s개까지 주문할 수 있습니다.",
            "'%(name)s'은(는) %(stock)s개까지 주문할 수 있습니다.",
            product.stock,
        )
        % values
    )


def _check_sellable(product: Product) -> None:
    if not product.is_active:
        raise CartError(_("'%(name)s'은(는) 판매하지 않는 상품입니다.") % {"name": product.name})
    if not product.in_stock:
        raise CartError(_("'%(name)s'은(는) 품절되었습니다.") % {"name": product.name})
