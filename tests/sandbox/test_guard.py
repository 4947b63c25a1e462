"""The sandbox serves nothing unless SANDBOX_ENABLED, even where its URLs are mounted."""

from __future__ import annotations

import pytest
from django.urls import URLPattern, reverse

from sandbox import urls as sandbox_urls

pytestmark = pytest.mark.django_db

SAMPLE_KWARGS = {
    "imp_uid": "imps_000000000000",
    "merchant_uid": "order_0001",
    "name": "sandbox.css",
}


def sandbox_paths() -> list[str]:
    paths = []
    for pattern in sandbox_urls.urlpatterns:
        assert isinstance(pattern, URLPattern)
        kwargs = {key: SAMPLE_KWARGS.get(key, "paid") for key in pattern.pattern.converters}
        paths.append(reverse(f"sandbox:{pattern.name}", kwargs=kwargs))
    return paths


@pytest.mark.parametrize("path", sandbox_paths())
@pytest.mark.parametrize("method", ["get", "post"])
def test_every_sandbox_url_is_404_when_disabled(client, settings, path, method):
    settings.SANDBOX_ENABLED = False

    reply = getattr(client, method)(path)

    assert reply.status_code == 404


def test_enabled_sandbox_serves_the_script(client, settings):
    settings.SANDBOX_ENABLED = True

    assert client.get("/sandbox/iamport/v1/iamport.js").status_code == 200


def test_sandbox_never_imports_the_shop():
    import ast
    from pathlib import Path

    root = Path(sandbox_urls.__file__).parent
    for source in root.rglob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name.split(".")[0] not in {"shop", "payments"}, f"{source}: {name}"
