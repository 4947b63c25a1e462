"""The shop's admin: the catalogue is edited here, orders are only looked at.

An order's money fields and status change only through `shop.services` (checkout, the
payment sync, refunds), never by hand: an edited amount or status would no longer match what
Iamport holds. The payments app extends the order page with its payments, refunds and the
refund form (`payments/admin/orders.py` re-registers `Order` with a subclass of
`OrderAdmin`), so that this module never needs to know Iamport exists.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.html import escape, format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from guard.admin import GuardedModelAdmin
from shop.mail import MailContent, mail_content
from shop.models import Order, OrderLine, OutgoingMail, Product
from shop.selectors import pay_method_label
from shop.templatetags.shop_tags import won as won_text

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

logger = logging.getLogger(__name__)

admin.site.site_header = _("아임포트 상점 관리")
admin.site.site_title = _("아임포트 상점 관리")
admin.site.index_title = _("상점 관리")

# Badge colours, also used by the payments admin for its own statuses.
GREY, AMBER, GREEN, BLUE, PURPLE, RED = (
    "#6c757d",
    "#a66a00",
    "#2e7d32",
    "#1565c0",
    "#6a1b9a",
    "#c62828",
)

ORDER_STATUS_COLOURS: dict[str, str] = {
    Order.Status.PENDING: GREY,
    Order.Status.AWAITING_DEPOSIT: AMBER,
    Order.Status.PAID: GREEN,
    Order.Status.PARTIALLY_REFUNDED: BLUE,
    Order.Status.REFUNDED: PURPLE,
    Order.Status.CANCELLED: GREY,
    Order.Status.FAILED: RED,
}


def won(amount: int) -> str:
    """12000 -> "12,000원" (the storefront's formatting), kept on one line in narrow columns."""
    return format_html('<span style="white-space:nowrap">{}</span>', won_text(amount))


def local_datetime(value) -> str:
    """A datetime in the shop's time zone, in the admin's one format ("2026-12-02 15:04",
    config/formats/), on one line; "-" when empty."""
    if not value:
        return "-"
    text = formats.date_format(timezone.localtime(value), "DATETIME_FORMAT")
    return format_html('<span style="white-space:nowrap">{}</span>', text)


def datetime_filter(title: StrOrPromise) -> type[admin.DateFieldListFilter]:
    """The date filter under a Korean title (for fields that have no verbose name)."""

    class TitledDateFilter(admin.DateFieldListFilter):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.title = title

    return TitledDateFilter


def badge(label: str, colour: str = GREY) -> str:
    """A coloured label, so that a status reads at a glance in a long list."""
    return format_html(
        '<span style="display:inline-block;padding:1px 8px;border-radius:10px;'
        'background:{};color:#fff;font-size:11px;font-weight:600;white-space:nowrap">{}</span>',
        colour,
        label,
    )


class PayMethodFilter(admin.SimpleListFilter):
    """Pay methods by their Korean names, as offered at checkout."""

    title = _("결제 수단")
    parameter_name = "pay_method"

    def lookups(self, request, model_admin):
        return [(code, method["label"]) for code, method in settings.SHOP_PAY_METHODS.items()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(pay_method=self.value())
        return queryset


@admin.register(Product)
class ProductAdmin(GuardedModelAdmin):
    list_display = ["name", "price_display", "stock", "is_active", "thumbnail", "updated_display"]
    list_display_links = ["name"]
    list_editable = ["stock", "is_active"]
    list_filter = ["is_active", ("created_at", datetime_filter(_("등록일시")))]
    search_fields = ["name", "description"]
    readonly_fields = ["thumbnail_large", "created_display", "updated_display"]
    fieldsets = [
        (None, {"fields": ["name", "description", "price", "stock", "is_active"]}),
        (_("이미지"), {"fields": ["image", "thumbnail_large"]}),
        (_("기록"), {"fields": ["created_display", "updated_display"]}),
    ]

    # Stock moves while a product page is open: every paid order takes some
    # (`shop.services._take_stock`). A full save() would write back the number the page showed
    # and sell stock that is gone. So a change writes only the fields the admin changed, and
    # stock only if it still holds the number the admin changed it from.
    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if db_field.name == "stock" and formfield is not None:
            # The page (change form and changelist alike) carries the stock it showed, in a
            # hidden "initial-…" input: on POST the form's own initial is re-read from the
            # database, so only the page can tell what the admin saw. `changed_data` then
            # holds "stock" only when the admin typed another number than the one shown.
            formfield.show_hidden_initial = True
        return formfield

    def save_model(self, request: HttpRequest, obj: Product, form, change: bool) -> None:
        if not change:
            super().save_model(request, obj, form, change)
            return
        # "image" is among these when a file was uploaded or cleared: update_fields lets its
        # pre_save run, which stores the file.
        fields = [name for name in form.changed_data if name != "stock"]
        stock_written = "stock" in form.changed_data and self._save_stock(request, obj, form)
        if fields or stock_written:
            obj.save(update_fields=[*fields, "updated_at"])

    def _save_stock(self, request: HttpRequest, obj: Product, form) -> bool:
        """Write the stock typed in if the row still holds the number shown; else say so."""
        shown = _stock_shown(form)
        if shown is not None and Product.objects.filter(pk=obj.pk, stock=shown).update(
            stock=obj.stock
        ):
            return True
        obj.refresh_from_db(fields=["stock"])
        self.message_user(
            request,
            gettext(
                "%(product)s: 재고가 그 사이 %(stock)s개로 바뀌어 재고는 바꾸지 않았습니다. "
                "다시 확인해 주세요."
            )
            % {"product": obj, "stock": obj.stock},
            messages.WARNING,
        )
        return False

    @admin.display(description=_("등록일시"), ordering="created_at")
    def created_display(self, product: Product) -> str:
        return local_datetime(product.created_at)

    @admin.display(description=_("수정일시"), ordering="updated_at")
    def updated_display(self, product: Product) -> str:
        return local_datetime(product.updated_at)

    @admin.display(description=_("가격"), ordering="price")
    def price_display(self, product: Product) -> str:
        return won(product.price)

    @admin.display(description=_("이미지"))
    def thumbnail(self, product: Product) -> str:
        return _image(product, height=40)

    @admin.display(description=_("미리보기"))
    def thumbnail_large(self, product: Product) -> str:
        return _image(product, height=160)


def _stock_shown(form) -> int | None:
    """The stock the page showed (its hidden initial input); None when it is missing or not a
    number, which matches no row, so that an unknown starting point never overwrites stock."""
    field = form.fields["stock"]
    name = form.add_initial_prefix("stock")
    try:
        return field.to_python(
            field.hidden_widget().value_from_datadict(form.data, form.files, name)
        )
    except ValidationError:
        return None


def _image(product: Product, *, height: int) -> str:
    if not product.image:
        return "-"
    return format_html(
        '<img src="{}" alt="{}" style="height:{}px;border-radius:4px">',
        product.image.url,
        product.name,
        height,
    )


class ReadOnlyTabularInline(admin.TabularInline):
    """An inline of records that are looked at, never added, edited or deleted here."""

    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class OrderLineInline(ReadOnlyTabularInline):
    """What was ordered, as snapshotted at checkout."""

    model = OrderLine
    show_change_link = False
    fields = readonly_fields = (
        "product_link",
        "product_name",
        "unit_price_display",
        "quantity",
        "line_total_display",
    )

    @admin.display(description=_("상품"))
    def product_link(self, line: OrderLine) -> str:
        url = reverse("admin:shop_product_change", args=[line.product_id])
        return format_html('<a href="{}">#{}</a>', url, line.product_id)

    @admin.display(description=_("단가"))
    def unit_price_display(self, line: OrderLine) -> str:
        return won(line.unit_price)

    @admin.display(description=_("합계"))
    def line_total_display(self, line: OrderLine) -> str:
        return won(line.line_total)


# What the order page may change: the buyer's contact details, nothing else.
BUYER_FIELDS = frozenset(
    {"buyer_name", "buyer_email", "buyer_tel", "buyer_addr", "buyer_addr_detail", "buyer_postcode"}
)


@admin.register(Order)
class OrderAdmin(GuardedModelAdmin):
    """Orders come from checkout; here only the buyer's contact details may be corrected."""

    # Narrow enough for a 1,280 px screen with both of the admin's sidebars open: the short
    # order number rather than the 33-character merchant_uid (still searched, and on the order
    # page), what was refunded under the amount rather than in a column of its own, and the
    # cells that must not wrap (number, money, badge, time) kept on one line.
    list_display = [
        "number_display",
        "buyer_name",
        "amounts_display",
        "status_badge",
        "pay_method_display",
        "created_display",
    ]
    list_display_links = ["number_display"]
    list_filter = ["status", PayMethodFilter, "created_at"]
    date_hierarchy = "created_at"
    search_fields = ["number", "merchant_uid", "buyer_name", "buyer_email", "buyer_tel"]
    inlines = [OrderLineInline]
    readonly_fields = [
        "number",
        "merchant_uid",
        "status_badge",
        "status_message",
        "amount_display",
        "refunded_display",
        "refundable_display",
        "pay_method_display",
        "deposit_bank",
        "deposit_account",
        "deposit_holder",
        "deposit_due",
        "stock_taken",
        "user_display",
        "created_at",
        "paid_at",
        "updated_display",
    ]
    fieldsets = [
        (
            _("주문"),
            {
                "fields": [
                    "number",
                    "merchant_uid",
                    "status_badge",
                    "status_message",
                    "pay_method_display",
                    "created_at",
                    "paid_at",
                    "updated_display",
                ]
            },
        ),
        (_("금액"), {"fields": ["amount_display", "refunded_display", "refundable_display"]}),
        (
            _("주문자"),
            {
                "fields": [
                    "buyer_name",
                    "buyer_email",
                    "buyer_tel",
                    "buyer_addr",
                    "buyer_addr_detail",
                    "buyer_postcode",
                    "user_display",
                ]
            },
        ),
        (
            _("가상계좌 (무통장입금)"),
            {
                "fields": ["deposit_bank", "deposit_account", "deposit_holder", "deposit_due"],
                "classes": ["collapse"],
            },
        ),
        (_("재고"), {"fields": ["stock_taken"]}),
    ]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Order]:
        return super().get_queryset(request).prefetch_related("lines")

    def save_model(self, request: HttpRequest, obj: Order, form, change: bool) -> None:
        # Iamport's webhook may mark the order paid (status, paid_at, stock_taken) after this
        # request read it and before it saves. A full save() would write back the stale
        # "pending, no stock taken", and a later sync would take stock a second time. So only
        # the buyer details the admin changed are written; nothing at all if none changed.
        if not change:  # orders are not added here; kept whole should a subclass allow it
            super().save_model(request, obj, form, change)
            return
        fields = [name for name in form.changed_data if name in BUYER_FIELDS]
        if fields:
            obj.save(update_fields=[*fields, "updated_at"])

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # orders are created by checkout, priced from the database

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # an order is a financial record, kept with its payments

    @admin.display(description=_("주문번호"), ordering="number")
    def number_display(self, order: Order) -> str:
        return format_html('<span style="white-space:nowrap">{}</span>', order.number)

    @admin.display(description=_("주문일시"), ordering="created_at")
    def created_display(self, order: Order) -> str:
        return local_datetime(order.created_at)

    @admin.display(description=_("결제 금액 / 환불"), ordering="amount")
    def amounts_display(self, order: Order) -> str:
        if not order.refunded_amount:
            return won(order.amount)
        return format_html(
            '{}<br><span class="quiet" style="font-size:0.6875rem;white-space:nowrap">{}</span>',
            won(order.amount),
            gettext("환불 %(amount)s") % {"amount": won_text(order.refunded_amount)},
        )

    @admin.display(description=_("결제 금액"), ordering="amount")
    def amount_display(self, order: Order) -> str:
        return won(order.amount)

    @admin.display(description=_("환불 금액"), ordering="refunded_amount")
    def refunded_display(self, order: Order) -> str:
        return won(order.refunded_amount)

    @admin.display(description=_("환불 가능 금액"))
    def refundable_display(self, order: Order) -> str:
        return won(order.refundable_amount)

    @admin.display(description=_("상태"), ordering="status")
    def status_badge(self, order: Order) -> str:
        return badge(order.get_status_display(), ORDER_STATUS_COLOURS.get(order.status, GREY))

    @admin.display(description=_("결제 수단"), ordering="pay_method")
    def pay_method_display(self, order: Order) -> str:
        return pay_method_label(order.pay_method)

    @admin.display(description=_("회원 계정"))
    def user_display(self, order: Order) -> str:
        return str(order.user) if order.user_id else gettext("비회원 주문")

    @admin.display(description=_("갱신일시"), ordering="updated_at")
    def updated_display(self, order: Order) -> str:
        return local_datetime(order.updated_at)


MAIL_STATUS_COLOURS: dict[str, str] = {
    OutgoingMail.Status.PENDING: AMBER,
    OutgoingMail.Status.SENT: GREEN,
    OutgoingMail.Status.FAILED: RED,
}


@admin.register(OutgoingMail)
class OutgoingMailAdmin(GuardedModelAdmin):
    """The outbox: what was (or will be) mailed to buyers, read-only; a failed mail can be put
    back in the queue."""

    list_display = ["created_display", "key", "to", "status_badge", "attempts", "sent_display"]
    list_filter = ["status"]
    search_fields = ["key", "to", "order__merchant_uid", "order__number"]
    list_select_related = ["order"]
    readonly_fields = [
        "key",
        "order",
        "to",
        "kind",
        "subject_shown",
        "body_shown",
        "html_preview",
        "status",
        "attempts",
        "last_error",
        "next_attempt_at",
        "created_at",
        "sent_at",
    ]
    actions = ["send_again"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def _content(self, mail: OutgoingMail) -> MailContent | None:
        """As sent, or as it will be sent (rendered from its facts); None when it cannot be
        rendered (its last error says why)."""
        try:
            return mail_content(mail)
        except Exception:  # a mail that cannot be rendered is still shown, with its facts
            logger.exception("mail %s cannot be rendered", mail.key)
            return None

    @admin.display(description=_("제목"))
    def subject_shown(self, mail: OutgoingMail) -> str:
        content = self._content(mail)
        return content.subject if content else "-"

    @admin.display(description=_("본문"))
    def body_shown(self, mail: OutgoingMail) -> str:
        content = self._content(mail)
        return (
            format_html('<pre style="white-space:pre-wrap;margin:0">{}</pre>', content.body)
            if content
            else "-"
        )

    @admin.display(description=_("HTML 본문"))
    def html_preview(self, mail: OutgoingMail) -> str:
        """The HTML part as the buyer sees it, in a sandboxed frame (no script, no form, not
        this origin): a mail's HTML is never part of the admin's own page."""
        content = self._content(mail)
        if content is None or not content.html_body:
            return "-"
        return format_html(
            '<iframe sandbox="" srcdoc="{}" title="{}" '
            'style="width:100%;max-width:640px;height:520px;border:1px solid #ccc;'
            'background:#fff"></iframe>',
            # Escaped whatever it is: rendered HTML comes marked safe for a page of its own.
            escape(content.html_body),
            content.subject,
        )

    @admin.display(description=_("작성일시"), ordering="created_at")
    def created_display(self, mail: OutgoingMail) -> str:
        return local_datetime(mail.created_at)

    @admin.display(description=_("발송일시"), ordering="sent_at")
    def sent_display(self, mail: OutgoingMail) -> str:
        return local_datetime(mail.sent_at)

    @admin.display(description=_("상태"), ordering="status")
    def status_badge(self, mail: OutgoingMail) -> str:
        return badge(mail.get_status_display(), MAIL_STATUS_COLOURS[mail.status])

    @admin.action(description=_("선택한 메일을 다시 발송 대기열에 넣기"), permissions=["change"])
    def send_again(self, request: HttpRequest, queryset: QuerySet[OutgoingMail]) -> None:
        count = queryset.exclude(status=OutgoingMail.Status.SENT).update(
            status=OutgoingMail.Status.PENDING, next_attempt_at=timezone.now(), attempts=0
        )
        self.message_user(
            request,
            gettext("%(count)s통을 다음 발송 때 다시 보냅니다 (이미 발송된 메일은 제외).")
            % {"count": count},
            messages.INFO,
        )
