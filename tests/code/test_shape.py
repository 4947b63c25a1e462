"""The shape of the code a maintainer holds in their head: no function over 60 lines in the
shop and payments apps (complexity is held to 10 by ruff's C901, see pyproject.toml)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LONGEST = 60


def functions(folder: str):
    for path in sorted((ROOT / folder).rglob("*.py")):
        if "migrations" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                yield path.relative_to(ROOT), node


@pytest.mark.parametrize("folder", ["payments", "shop"])
def test_no_function_is_longer_than_60_lines(folder):
    too_long = [
        f"{path}:{node.lineno} {node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for path, node in functions(folder)
        if node.end_lineno - node.lineno + 1 > LONGEST
    ]

    assert not too_long, "\n".join(too_long)
