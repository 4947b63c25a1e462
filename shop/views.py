"""Shopper-facing pages: catalogue, cart, checkout, the order page and the guest lookup.

Views parse input, call one service (or the session cart) and render. Every change is a POST
answered with a redirect (POST-redirect-GET); outcomes reach the buyer as Django messages.
"""

from __future__ import annotations

import logging
import math
import time

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from guard import ratelimit
from guard.ip import client_ip
from guard.rates import Rate
from shop import selectors, services
from shop.cart import Cart, CartContents, CartError, parse_quantity
from shop.forms import CheckoutForm, OrderLookupForm
from shop.models import Order

logger = logging.getLogger(__name__)

# merchant_uids of the orders placed from this session, newest first ("my orders").
MY_ORDERS_SESSION_KEY = "shop_orders"
MY_ORDERS_KEPT = 50


PRODUCTS_PER_PAGE = 24
ORDERS_PER_PAGE = 20


@require_GET
def product_list(request: HttpRequest) -> HttpResponse:
    # get_page: a missing, malformed or out-of-range ?page= shows the first or last page.
    page = Paginator(selectors.product_list(), PRODUCTS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "shop/product_list.html", {"page_obj": page})


@require_GET
def product_detail(request: HttpRequest, pk: int) -> HttpResponse:
    product = selectors.product_get(pk=pk)
    if product is None:
        raise Http404(_("판매하지 않는 상품입니다."))
    in_cart = Cart(request.session).quantity_of(product.pk)
    return render(
        request,
        "shop/product_detail.html",
        {"product": product, "in_cart": in_cart, "can_add": max(product.stock - in_cart, 0)},
    )


@require_GET
def cart(request: HttpRequest) -> HttpResponse:
    contents = _contents_with_notices(request)
    return render(request, "shop/cart.html", {"cart": contents})


@require_POST
def cart_add(request: HttpRequest, pk: int) -> HttpResponse:
    product = selectors.product_get(pk=pk)
    if product is None:
        messages.error(request, _("판매하지 않는 상품입니다."))
        return redirect("shop:product_list")
    try:
        quantity = parse_quantity(request.POST.get("quantity", "1"))
        Cart(request.session).add(product, quantity)
    except CartError as error:
        messages.error(request, str(error))
        return redirect(product)
    messages.success(
        request,
        ngettext(
            "'%(name)s' %(quantity)s개를 장바구니에 담았습니다.",
            "'%(name)s' %(quantity)s개를 장바구니에 담았습니다.",
            quantity,
        )
        % {"name": product.name, "quantity": quantity},
    )
    return HttpResponseRedirect(_next_or(request, reverse("shop:cart")))


@require_POST
def cart_update(request: HttpRequest, pk: int) -> HttpResponse:
    cart = Cart(request.session)
    if pk not in cart:
        messages.error(request, _("장바구니에 없는 상품입니다."))
        return redirect("shop:cart")
    product = selectors.product_get(pk=pk)
    if product is None:
        cart.remove(pk)
        messages.warning(request, _("더 이상 판매하지 않는 상품이라 장바구니에서 뺐습니다."))
        return redirect("shop:cart")
    try:
        cart.update(product, parse_quantity(request.POST.get("quantity")))
    except CartError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("'%(name)s'의 수량을 바꿨습니다.") % {"name": product.name})
    return redirect("shop:cart")


@require_POST
def cart_remove(request: HttpRequest, pk: int) -> HttpResponse:
    if Cart(request.session).remove(pk):
        messages.success(request, _("장바구니에서 뺐습니다."))
    else:
        messages.info(request, _("이미 장바구니에 없는 상품입니다."))
    return redirect("shop:cart")


@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest) -> HttpResponse:
    cart = Cart(request.session)
    contents = _contents_with_notices(request)

    if request.method == "GET":
        if not contents:
            messages.info(request, _("장바구니가 비어 있습니다. 상품을 먼저 담아 주세요."))
            return redirect("shop:cart")
        form = CheckoutForm(initial=_initial_buyer(request))
        return _render_checkout(request, form, contents)

    # From here on the page is re-rendered with the buyer's input on every refusal, so that
    # nothing they typed is lost.
    form = CheckoutForm(request.POST)
    if not form.is_valid():
        return _render_checkout(request, form, contents, status=400)
    if contents.notices:
        # The cart changed since the buyer last saw it (sold out, withdrawn, less stock): they
        # must see what they are about to order before an order is created.
        form.add_error(None, _("장바구니가 바뀌었습니다. 내용을 확인하고 다시 주문해 주세요."))
        return _render_checkout(request, form, contents, status=409)
    try:
        order = services.order_create(
            items=contents.items,
            buyer=form.buyer(),
            pay_method=form.cleaned_data["pay_method"],
            user=request.user,
            language=translation.get_language() or settings.LANGUAGE_CODE,
            # A price changed after the page showed its total: the buyer sees the new one first.
            expected_total=_total_seen(request),
        )
    except services.OrderError as error:
        form.add_error(None, str(error))
        return _render_checkout(request, form, _contents_with_notices(request), status=409)

    cart.clear()
    _remember_order(request, order)
    messages.success(request, _("주문이 접수되었습니다. 아래에서 결제를 진행해 주세요."))
    return redirect(order)


@require_GET
def order_detail(request: HttpRequest, merchant_uid: str) -> HttpResponse:
    order = selectors.order_get(merchant_uid=merchant_uid)
    if order is None:
        raise Http404(_("주문을 찾을 수 없습니다."))
    is_owner = _may_see_everything(request, order)
    awaiting_deposit = order.status == Order.Status.AWAITING_DEPOSIT
    lines = list(order.lines.all())
    # Sold out since the order was placed: no payment is offered that would only be given back.
    sold_out = selectors.order_short_of_stock(lines) if order.is_payable else []
    return render(
        request,
        "shop/order_detail.html",
        {
            "order": order,
            "lines": lines,
            "sold_out": sold_out,
            "buyer": selectors.order_buyer_details(order, full=is_owner),
            "is_owner": is_owner,
            "pay_method_label": selectors.pay_method_label(order.pay_method),
            # The pay button carries the buyer's details (IMP.request_pay needs them), so only
            # a viewer allowed to see them gets it.
            "show_pay_button": order.is_payable and is_owner and not sold_out,
            # Another way to pay, or cancelling: the buyer's own, while nothing was paid.
            "pay_methods": [
                (code, selectors.pay_method_label(code)) for code in settings.SHOP_PAY_METHODS
            ]
            if order.is_payable and _is_buyer(request, order)
            else None,
            # Only the buyer's own browser watches for the deposit (the poll answers no one
            # else), and only while one is awaited.
            "status_poll": selectors.order_status_stamp(order)
            if awaiting_deposit and is_owner
            else None,
        },
    )


@require_POST
def order_pay_method(request: HttpRequest, merchant_uid: str) -> HttpResponse:
    """The buyer picks another way to pay their pending order."""
    order = _buyers_order(request, merchant_uid)
    try:
        services.order_change_pay_method(order=order, pay_method=request.POST.get("pay_method", ""))
    except services.OrderError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("결제 수단을 바꿨습니다. 아래에서 결제를 진행해 주세요."))
    return redirect(order)


@require_POST
def order_cancel(request: HttpRequest, merchant_uid: str) -> HttpResponse:
    """The buyer cancels their pending order (nothing was paid)."""
    order = _buyers_order(request, merchant_uid)
    try:
        services.order_cancel_by_buyer(order=order)
    except services.OrderError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, _("주문을 취소했습니다."))
    return redirect(order)


def _buyers_order(request: HttpRequest, merchant_uid: str) -> Order:
    """The order, for the browser that placed it (or looked it up) or its signed-in owner;
    for anyone else, staff included, the same 404 as for an order that does not exist."""
    order = selectors.order_status_get(merchant_uid=merchant_uid)
    if order is None or not _is_buyer(request, order):
        raise Http404(_("주문을 찾을 수 없습니다."))
    return order


@require_GET
@never_cache
def order_status(request: HttpRequest, merchant_uid: str) -> JsonResponse:
    """The order's status for the page that waits for a deposit: read from the database only
    (the webhook brings the news), one query, and only for a browser that may see the order.
    Anyone else gets the same 404 as for an order that does not exist."""
    order = selectors.order_status_get(merchant_uid=merchant_uid)
    if order is None or not _may_see_everything(request, order):
        return JsonResponse({"message": _("주문을 찾을 수 없습니다.")}, status=404)
    return JsonResponse(selectors.order_status_stamp(order))


@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    orders = selectors.order_list_for_buyer(merchant_uids=_my_orders(request), user=request.user)
    page = Paginator(orders, ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "shop/order_list.html", {"page_obj": page})


# --- guest order lookup -------------------------------------------------------------------
def _no_match_message() -> str:
    # One message for an unknown number, a wrong email and a wrong phone number alike.
    return _("주문번호와 이메일 또는 휴대폰 번호가 일치하는 주문이 없습니다. 다시 확인해 주세요.")


@require_http_methods(["GET", "POST"])
def order_lookup(request: HttpRequest) -> HttpResponse:
    """A buyer without the browser they ordered from names the order and their email or phone;
    a match opens the order in this browser as if it had been placed here (pay, see details).

    Every refusal of a well-formed guess is the same 400 with the same message, after the same
    work, whether the number is unknown or the contact is wrong. Attempts are counted per
    client and per order number, and successes count too: a conditional count would take
    longer on a match than on a miss, and nobody needs many lookups of one order in a row.
    """
    if request.method == "GET":
        # ?number= fills in the number (a link from a mail); nothing is looked up by GET.
        form = OrderLookupForm(initial={"number": request.GET.get("number", "")[:60]})
        return _render_lookup(request, form)
    address = client_ip(request) or "-"
    per_client = _lookup_rate("SHOP_LOOKUP_RATE_PER_CLIENT")
    # Counted before the form is read or anything is looked up: a flood costs one statement.
    if not ratelimit.allow(f"lookup-client:{address}", per_client):
        logger.warning("order lookup from %s: too many attempts from the client", address)
        return _lookup_too_often(request, per_client)
    form = OrderLookupForm(request.POST)
    if not form.is_valid():
        return _render_lookup(request, form, status=400)
    reference = form.cleaned_data["number"]
    order = selectors.order_find_by_reference(reference)
    per_order = _lookup_rate("SHOP_LOOKUP_RATE_PER_ORDER")
    # Keyed on the order's own number when it exists, so that its number and its merchant_uid
    # share one budget; an unknown reference is counted just the same under its own name.
    if not ratelimit.allow(f"lookup-order:{order.number if order else reference}", per_order):
        logger.warning("order lookup of %s from %s: too many attempts", reference, address)
        return _lookup_too_often(request, per_order)
    matched = selectors.order_contact_matches(order, form.cleaned_data["contact"])
    if order is None or not matched:
        logger.info("order lookup of %s from %s: no match", reference, address)
        form.add_error(None, _no_match_message())
        return _render_lookup(request, form, status=400)
    logger.info("order lookup of %s from %s: found", reference, address)
    _remember_order(request, order)
    if order.is_payable:
        found = _("주문을 찾았습니다. 이 브라우저에서 주문을 확인하고 결제할 수 있습니다.")
    else:
        found = _("주문을 찾았습니다. 이 브라우저에서 주문을 확인할 수 있습니다.")
    messages.success(request, found)
    return redirect(order)


def _lookup_rate(setting: str) -> Rate:
    # Read per request, like the webhook's rate, so that the settings (and tests) can change it.
    return Rate.parse(getattr(settings, setting), setting=setting)


def _render_lookup(
    request: HttpRequest, form: OrderLookupForm, *, status: int = 200, refusal: str = ""
) -> HttpResponse:
    context = {"form": form, "refusal": refusal}
    return render(request, "shop/order_lookup.html", context, status=status)


def _lookup_too_often(request: HttpRequest, rate: Rate) -> HttpResponse:
    """429 with the time left in the counting window; the same for any order number."""
    retry_after = _seconds_left_in_window(rate)
    minutes = max(math.ceil(retry_after / 60), 1)
    message = ngettext(
        "조회 시도가 너무 많습니다. %(minutes)s분 뒤에 다시 시도해 주세요.",
        "조회 시도가 너무 많습니다. %(minutes)s분 뒤에 다시 시도해 주세요.",
        minutes,
    ) % {"minutes": minutes}
    # Nothing was checked: the form only shows again what was typed, with the refusal.
    typed = {name: request.POST.get(name, "")[:254] for name in ("number", "contact")}
    response = _render_lookup(request, OrderLookupForm(initial=typed), status=429, refusal=message)
    response["Retry-After"] = str(retry_after)
    return response


def _seconds_left_in_window(rate: Rate) -> int:
    """Seconds until guard.ratelimit's fixed window for `rate` starts over."""
    now = time.time()
    window_end = (int(now) // rate.seconds + 1) * rate.seconds
    return max(math.ceil(window_end - now), 1)


def _contents_with_notices(request: HttpRequest) -> CartContents:
    contents = Cart(request.session).contents()
    for notice in contents.notices:
        messages.warning(request, notice)
    return contents


def _total_seen(request: HttpRequest) -> int | None:
    """The total the checkout page showed when it was submitted (None if it sent none)."""
    seen = request.POST.get("total_seen", "")
    return int(seen) if seen.isascii() and seen.isdigit() and len(seen) <= 18 else None


def _render_checkout(
    request: HttpRequest, form: CheckoutForm, contents: CartContents, *, status: int = 200
) -> HttpResponse:
    return render(request, "shop/checkout.html", {"form": form, "cart": contents}, status=status)


def _initial_buyer(request: HttpRequest) -> dict[str, str]:
    user = request.user
    if not user.is_authenticated:
        return {}
    return {"buyer_name": user.get_full_name(), "buyer_email": user.email}


def _remember_order(request: HttpRequest, order: Order) -> None:
    mine = [uid for uid in _my_orders(request) if uid != order.merchant_uid]
    request.session[MY_ORDERS_SESSION_KEY] = [order.merchant_uid, *mine][:MY_ORDERS_KEPT]
    # A new session key from here on: a key someone planted in this browser before checkout
    # (session fixation) must not open the buyer's order.
    request.session.cycle_key()


def _may_see_everything(request: HttpRequest, order: Order) -> bool:
    """The session that placed the order, its signed-in owner, or staff allowed to view orders
    see the buyer's data."""
    user = request.user
    if user.is_authenticated and user.has_perm("shop.view_order"):
        return True
    return _is_buyer(request, order)


def _is_buyer(request: HttpRequest, order: Order) -> bool:
    """The session that placed the order (or looked it up), or its signed-in owner."""
    user = request.user
    if user.is_authenticated and order.user_id and order.user_id == user.pk:
        return True
    return order.merchant_uid in _my_orders(request)


def _my_orders(request: HttpRequest) -> list[str]:
    """The merchant_uids of the orders placed (or looked up) in this session, newest first;
    anything else the session holds under that name is ignored."""
    kept = request.session.get(MY_ORDERS_SESSION_KEY)
    return [uid for uid in kept if isinstance(uid, str)] if isinstance(kept, list) else []


def _next_or(request: HttpRequest, default: str) -> str:
    """A path on this site to go back to, or `default` for anything else (other sites, bare
    words, scheme tricks)."""
    target = request.POST.get("next", "")
    if (
        target.startswith("/")
        and not target.startswith(("//", "/\\"))
        and url_has_allowed_host_and_scheme(
            target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return target
    return default
