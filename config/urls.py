"""URL wiring. The sandbox is mounted only while it is enabled (never in production)."""

from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/sales/", include("payments.admin.sales")),  # the sales overview, in the admin
    path("admin/", admin.site.urls),
    path("payments/", include("payments.urls")),
    # The header's language switch posts to i18n/setlang/ (Django's set_language view).
    path("i18n/", include("django.conf.urls.i18n")),
    path("", include("shop.urls")),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.insert(0, path("sandbox/", include("sandbox.urls")))

if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
