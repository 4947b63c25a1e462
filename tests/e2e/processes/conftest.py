"""Fixtures of the tests that start real server processes (tests/e2e/processes/servers.py).

Each server has a database of its own and is reached only over HTTP, so the e2e package's
live server and test-database fixtures are replaced here by ones that do nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.processes.servers import Standin, iamport_standin


@pytest.fixture(autouse=True)
def _shop_pays_through_the_sandbox() -> None:
    """Replaces tests/e2e/conftest.py's: no live server here, the shop is its own process."""


@pytest.fixture(autouse=True)
def _webhooks_settle() -> None:
    """Replaces tests/e2e/conftest.py's: no test database here to flush under a webhook."""


@pytest.fixture(scope="module")
def workdir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Databases, server logs (and crash markers, mail) of one module, kept after a failure."""
    return tmp_path_factory.mktemp(request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture(scope="module")
def standin(workdir: Path) -> Iterator[Standin]:
    """The Iamport stand-in (the sandbox in a process of its own), shared by a module."""
    with iamport_standin(workdir / "standin") as started:
        yield started
