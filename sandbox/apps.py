from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SandboxConfig(AppConfig):
    name = "sandbox"
    # Its own section of the admin, named so that nobody takes it for the real payments; it
    # starts with "테스트" so that the admin's alphabetical list puts it last, away from
    # "결제 (아임포트)".
    verbose_name = _("테스트 샌드박스 (가짜 아임포트, 개발용)")
