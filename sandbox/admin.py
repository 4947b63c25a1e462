"""Sandbox records in the Django admin, read-only: they change only through the sandbox."""

from django.contrib import admin

from sandbox.models import (
    SandboxCancellation,
    SandboxPayment,
    SandboxPrepare,
    SandboxToken,
    SandboxWebhookDelivery,
)


class ReadOnlyAdmin(admin.ModelAdmin):
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


@admin.register(SandboxPayment)
class SandboxPaymentAdmin(ReadOnlyAdmin):
    list_display = [
        "imp_uid",
        "merchant_uid",
        "status",
        "pay_method",
        "amount",
        "cancel_amount",
        "started_at",
    ]
    list_filter = ["status", "pay_method"]
    search_fields = ["imp_uid", "merchant_uid", "buyer_name", "buyer_email"]
    inlines = [CancellationInline]


@admin.register(SandboxWebhookDelivery)
class SandboxWebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "trigger", "url", "outcome", "http_status", "payment"]
    list_filter = ["outcome", "trigger"]
    list_select_related = ["payment"]


@admin.register(SandboxPrepare)
class SandboxPrepareAdmin(ReadOnlyAdmin):
    list_display = ["merchant_uid", "amount", "currency", "created_at"]
    search_fields = ["merchant_uid"]


@admin.register(SandboxToken)
class SandboxTokenAdmin(ReadOnlyAdmin):
    list_display = ["access_token", "imp_key", "created_at", "expires_at"]
