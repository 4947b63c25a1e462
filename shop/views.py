"""Shopper-facing pages: catalogue, cart, checkout and the order page.

Views parse input, call one service (or the session cart) and render. Every change is a POST
answered with a redirect (POST-redirect-GET); outcomes reach the buyer as Django messages.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from shop import selectors, services
from shop.cart import Cart, CartContents, CartError, parse_quantity
from shop.forms import CheckoutForm
from shop.models import Order

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
        raise Http404("판매하지 않는 상품입니다.")
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
        messages.error(request, "판매하지 않는 상품입니다.")
        return redirect("shop:product_list")
    try:
        quantity = parse_quantity(request.POST.get("quantity", "1"))
        Cart(request.session).add(product, quantity)
    except CartError as error:
        messages.error(request, str(error))
        return redirect(product)
    messages.success(request, f"'{product.name}' {quantity}개를 장바구니에 담았습니다.")
    return HttpResponseRedirect(_next_or(request, reverse("shop:cart")))


@require_POST
def cart_update(request: HttpRequest, pk: int) -> HttpResponse:
    cart = Cart(request.session)
    if pk not in cart:
        messages.error(request, "장바구니에 없는 상품입니다.")
        return redirect("shop:cart")
    product = selectors.product_get(pk=pk)
    if product is None:
        cart.remove(pk)
        messages.warning(request, "더 이상 판매하지 않는 상품이라 장바구니에서 뺐습니다.")
        return redirect("shop:cart")
    try:
        cart.update(product, parse_quantity(request.POST.get("quantity")))
    except CartError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"'{product.name}'의 수량을 바꿨습니다.")
    return redirect("shop:cart")


@require_POST
def cart_remove(request: HttpRequest, pk: int) -> HttpResponse:
    if Cart(request.session).remove(pk):
        messages.success(request, "장바구니에서 뺐습니다.")
    else:
        messages.info(request, "이미 장바구니에 없는 상품입니다.")
    return redirect("shop:cart")


@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest) -> HttpResponse:
    cart = Cart(request.session)
    contents = _contents_with_notices(request)

    if request.method == "GET":
        if not contents:
            messages.info(request, "장바구니가 비어 있습니다. 상품을 먼저 담아 주세요.")
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
        form.add_error(None, "장바구니가 바뀌었습니다. 내용을 확인하고 다시 주문해 주세요.")
        return _render_checkout(request, form, contents, status=409)
    try:
        order = services.order_create(
            items=contents.items,
            buyer=form.buyer(),
            pay_method=form.cleaned_data["pay_method"],
            user=request.user,
            language=translation.get_language() or settings.LANGUAGE_CODE,
        )
    except services.OrderError as error:
        form.add_error(None, str(error))
        return _render_checkout(request, form, _contents_with_notices(request), status=409)

    cart.clear()
    _remember_order(request, order)
    messages.success(request, "주문이 접수되었습니다. 아래에서 결제를 진행해 주세요.")
    return redirect(order)


@require_GET
def order_detail(request: HttpRequest, merchant_uid: str) -> HttpResponse:
    order = selectors.order_get(merchant_uid=merchant_uid)
    if order is None:
        raise Http404("주문을 찾을 수 없습니다.")
    is_owner = _may_see_everything(request, order)
    return render(
        request,
        "shop/order_detail.html",
        {
            "order": order,
            "lines": list(order.lines.all()),
            "buyer": selectors.order_buyer_details(order, full=is_owner),
            "is_owner": is_owner,
            "pay_method_label": selectors.pay_method_label(order.pay_method),
            # The pay button carries the buyer's details (IMP.request_pay needs them), so only
            # a viewer allowed to see them gets it.
            "show_pay_button": order.is_payable and is_owner,
        },
    )


@require_GET
def order_list(request: HttpRequest) -> HttpResponse:
    orders = selectors.order_list_for_buyer(
        merchant_uids=request.session.get(MY_ORDERS_SESSION_KEY, []), user=request.user
    )
    page = Paginator(orders, ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "shop/order_list.html", {"page_obj": page})


def _contents_with_notices(request: HttpRequest) -> CartContents:
    contents = Cart(request.session).contents()
    for notice in contents.notices:
        messages.warning(request, notice)
    return contents


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
    mine = [
        uid for uid in request.session.get(MY_ORDERS_SESSION_KEY, []) if uid != order.merchant_uid
    ]
    request.session[MY_ORDERS_SESSION_KEY] = [order.merchant_uid, *mine][:MY_ORDERS_KEPT]
    # A new session key from here on: a key someone planted in this browser before checkout
    # (session fixation) must not open the buyer's order.
    request.session.cycle_key()


def _may_see_everything(request: HttpRequest, order: Order) -> bool:
    """The session that placed the order, its signed-in owner, or staff allowed to view orders
    see the buyer's data."""
    user = request.user
    if user.is_authenticated and (
        user.has_perm("shop.view_order") or (order.user_id and order.user_id == user.pk)
    ):
        return True
    return order.merchant_uid in request.session.get(MY_ORDERS_SESSION_KEY, [])


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
