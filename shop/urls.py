"""Shopper-facing URLs. The names are used by other apps and templates: keep them stable."""

from django.urls import path, register_converter

from shop import views
from shop.ids import MerchantUidConverter

register_converter(MerchantUidConverter, "merchant_uid")

app_name = "shop"

urlpatterns = [
    path("", views.product_list, name="product_list"),
    path("products/<int:pk>/", views.product_detail, name="product_detail"),
    path("cart/", views.cart, name="cart"),
    path("cart/add/<int:pk>/", views.cart_add, name="cart_add"),
    path("cart/update/<int:pk>/", views.cart_update, name="cart_update"),
    path("cart/remove/<int:pk>/", views.cart_remove, name="cart_remove"),
    path("checkout/", views.checkout, name="checkout"),
    path("orders/", views.order_list, name="order_list"),
    # Before the order page: "lookup" would also read as a merchant_uid.
    path("orders/lookup/", views.order_lookup, name="order_lookup"),
    path("orders/<merchant_uid:merchant_uid>/", views.order_detail, name="order_detail"),
    path("orders/<merchant_uid:merchant_uid>/status/", views.order_status, name="order_status"),
    path(
        "orders/<merchant_uid:merchant_uid>/pay-method/",
        views.order_pay_method,
        name="order_pay_method",
    ),
    path("orders/<merchant_uid:merchant_uid>/cancel/", views.order_cancel, name="order_cancel"),
]
