"""The payments admin: Iamport's records, read-only, plus re-sync and refunds on orders.

Payments, refunds and webhook deliveries are financial records written only by
`payments.services`; here they can be looked at, never added, edited or deleted. Money moves
only through two doors, both calling a service and reporting through `message_user`:

- "아임포트에서 다시 조회" (re-sync): `payment_sync` for the order's payments, the same function
  the webhook and the browser callback call. Needs `shop.change_order`.
- "환불" (refund, full or partial): an intermediate form at
  `admin/shop/order/<pk>/refund/` that calls `payment_refund`. Needs `payments.refund_payment`.

A stored webhook delivery can be run again ("다시 처리", `reprocess.py`): the same processing
and `payment_sync` as a fresh delivery, the outcome added to the delivery's record. Needs
`payments.change_webhookdelivery`. Pay methods and PGs are shown by name (`payments.names`)
and filtered on (`filters.py`); times read "2026-12-02 15:04" everywhere (`config/formats/`).

The order page shows its payments and refunds, which `shop` cannot know about, so `Order` is
re-registered here with `PaymentOrderAdmin`, a subclass of shop's `OrderAdmin`.
"""

from payments.admin import orders, records  # noqa: F401  (registers the admin classes)
