"""The shop's URLs with one more: a bare Django JSON view, the cheapest request Django can
answer through the shop's whole middleware stack."""

from django.http import HttpRequest, JsonResponse
from django.urls import path

from config.urls import urlpatterns as shop_urlpatterns

BARE_PATH = "/bench/bare/"


def bare(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"ok": True})


urlpatterns = [path(BARE_PATH.strip("/") + "/", bare), *shop_urlpatterns]
