"""List filters by pay method and by PG, each code offered once under the name people know.

The choices are the codes the database holds, not a fixed list: a PG or pay method Iamport
reports that this shop has not named yet still appears (under its code) and can be filtered.
A value that matches nothing (typed into the address bar) simply lists nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _

from payments.models import Payment
from payments.names import pay_method_name, pg_name


def _named(codes: Iterable[str], name: Callable[[str], str]) -> list[tuple[str, str]]:
    return [(code, name(code)) for code in codes if code]


def _codes(queryset: QuerySet[Payment], field: str) -> list[str]:
    return list(queryset.order_by(field).values_list(field, flat=True).distinct())


class CodeFilter(admin.SimpleListFilter):
    def has_output(self) -> bool:
        # Django skips a filter that offers no choice, and with it the value asked for: a
        # PG no payment has would then list everything instead of nothing.
        return super().has_output() or self.value() is not None


class PaymentPayMethodFilter(CodeFilter):
    """Payments by the pay method Iamport reports ("card", "vbank", ...)."""

    title = _("결제 수단")
    parameter_name = "pay_method"

    def lookups(self, request, model_admin):
        return _named(_codes(Payment.objects.all(), "pay_method"), pay_method_name)

    def queryset(self, request, queryset):
        value = self.value()
        return queryset if value is None else queryset.filter(pay_method=value)


class PaymentPgFilter(CodeFilter):
    """Payments by the PG Iamport reports (`pg_provider`)."""

    title = _("PG사")
    parameter_name = "pg"

    def lookups(self, request, model_admin):
        return _named(_codes(Payment.objects.all(), "pg_provider"), pg_name)

    def queryset(self, request, queryset):
        value = self.value()
        return queryset if value is None else queryset.filter(pg_provider=value)


ACCEPTED = Q(payments__verdict=Payment.Verdict.ACCEPTED)


class OrderPgFilter(CodeFilter):
    """Orders by the PG of the payment the order was settled with (its accepted payment).

    Not by the PG that `settings.SHOP_PAY_METHODS` routes the order's pay method to: most pay
    methods there name none ("pg": None, i.e. whatever IAMPORT_PG says today), and both are
    settings that change, so they would move past orders to another PG. The accepted
    payment's `pg_provider` is what Iamport reported for the money itself, and there is at
    most one such payment per order (a database constraint), so the filter never lists an
    order twice. An order that was never paid has no PG and is found by none of the choices.
    """

    title = _("PG사")
    parameter_name = "pg"

    def lookups(self, request, model_admin):
        accepted = Payment.objects.filter(verdict=Payment.Verdict.ACCEPTED)
        return _named(_codes(accepted, "pg_provider"), pg_name)

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(ACCEPTED, payments__pg_provider=value)
