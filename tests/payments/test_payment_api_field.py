"""Every payment remembers which PortOne API it belongs to; Iamport's are V1."""

from __future__ import annotations

import importlib

from payments.models import Payment


def test_a_payment_recorded_through_iamport_is_v1(paid):
    order, _ = paid

    payment = Payment.objects.get(order=order)

    assert payment.api == Payment.Api.V1 == "v1"


def test_payments_recorded_before_the_field_existed_become_v1():
    migration = importlib.import_module("payments.migrations.0003_payment_api").Migration
    (operation,) = migration.operations

    assert operation.name == "api"
    assert operation.field.default == "v1"
    assert operation.preserve_default


def test_v2_is_the_only_other_choice():
    assert [value for value, _ in Payment.Api.choices] == ["v1", "v2"]
