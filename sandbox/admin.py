"""Sandbox records in the Django admin, read-only: they change only through the sandbox.

The sandbox app is always installed (its tables and migrations stay in step), so its admin is
registered here only while the sandbox is active (`settings.SANDBOX_ENABLED`): with real
Iamport credentials the admin shows no fake payments beside the real ones. Registration
happens once, when the admin is discovered at start-up; `register` takes the site so that a
test can ask what a site would hold under other settings.
"""

from django.conf import settings
from django.contrib import admin
from django.contrib.admin import AdminSite

from guard.admin import GuardedModelAdmin
from sandbox.models import (
    SandboxCancellation,
    SandboxPayment,
    SandboxPrepare,
    SandboxToken,
    SandboxWebhookDelivery,
)


class ReadOnlyAdmin(GuardedModelAdmin):
    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CancellationInline(admin.TabularInline):
    model = SandboxCancellation
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class SandboxPaymentAdmin(ReadOnlyAdmin):
    list_display = [
        "imp_uid",
        "merchant_uid",
        "api",
        "status",
        "pay_method",
        "amount",
        "cancel_amount",
        "started_at",
    ]
    list_filter = ["api", "status", "pay_method"]
    search_fields = ["imp_uid", "merchant_uid", "buyer_name", "buyer_email"]
    inlines = [CancellationInline]


class SandboxWebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "trigger", "url", "outcome", "http_status", "payment"]
    list_filter = ["outcome", "trigger"]
    list_select_related = ["payment"]


class SandboxPrepareAdmin(ReadOnlyAdmin):
    list_display = ["merchant_uid", "api", "amount", "currency", "created_at"]
    search_fields = ["merchant_uid"]


class SandboxTokenAdmin(ReadOnlyAdmin):
    list_display = ["access_token", "imp_key", "created_at", "expires_at"]


ADMINS = {
    SandboxPayment: SandboxPaymentAdmin,
    SandboxWebhookDelivery: SandboxWebhookDeliveryAdmin,
    SandboxPrepare: SandboxPrepareAdmin,
    SandboxToken: SandboxTokenAdmin,
}


def register(site: AdminSite) -> None:
    """Put the sandbox's records on `site`, if the sandbox is active."""
    if not settings.SANDBOX_ENABLED:
        return
    for model, model_admin in ADMINS.items():
        site.register(model, model_admin)


register(admin.site)
