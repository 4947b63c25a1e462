"""The sandbox in the admin: its records only while the sandbox is active, under a section of
their own that is named as the fake it is and never sits next to the real payments."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.contrib.admin import AdminSite
from django.urls import reverse

from sandbox import admin as sandbox_admin
from sandbox.models import SandboxPayment, SandboxPrepare, SandboxToken, SandboxWebhookDelivery

SANDBOX_MODELS = {SandboxPayment, SandboxPrepare, SandboxToken, SandboxWebhookDelivery}


def sandbox_models(site: AdminSite) -> set:
    return {model for model in site._registry if model._meta.app_label == "sandbox"}


def test_an_active_sandbox_puts_its_records_in_the_admin(settings):
    settings.SANDBOX_ENABLED = True
    site = AdminSite(name="active")

    sandbox_admin.register(site)

    assert sandbox_models(site) == SANDBOX_MODELS


def test_without_the_sandbox_the_admin_has_none_of_its_records(settings):
    settings.SANDBOX_ENABLED = False
    site = AdminSite(name="inactive")

    sandbox_admin.register(site)

    assert sandbox_models(site) == set()


def test_the_shop_admin_holds_the_sandbox_exactly_when_it_is_active(settings):
    # Registered once at start-up from the settings of the run (the test settings turn the
    # sandbox on).
    assert settings.SANDBOX_ENABLED
    assert sandbox_models(admin.site) == SANDBOX_MODELS


def test_the_sandbox_section_is_named_as_a_fake_for_development():
    name = str(apps.get_app_config("sandbox").verbose_name)

    assert "샌드박스" in name
    assert "가짜" in name and "개발용" in name
    assert name != str(apps.get_app_config("payments").verbose_name)


@pytest.mark.parametrize("language", ["ko", "en"])
def test_the_sandbox_section_is_not_next_to_the_real_payments(admin_client, language):
    response = admin_client.get(reverse("admin:index"), headers={"accept-language": language})

    sections = [app["app_label"] for app in response.context["app_list"]]
    assert "sandbox" in sections and "payments" in sections
    assert abs(sections.index("sandbox") - sections.index("payments")) > 1
    payments = next(app for app in response.context["app_list"] if app["app_label"] == "payments")
    assert not any(model["object_name"].startswith("Sandbox") for model in payments["models"])
