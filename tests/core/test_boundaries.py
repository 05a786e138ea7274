"""core/ is the domain: it knows nothing of Telegram, HTTP or any channel (STYLE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import core

CORE_DIR = Path(core.__file__).parent
FORBIDDEN = {"aiogram", "aiohttp", "connectors", "bot"}


def imported_modules(tree: ast.AST) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(str(node.args[0].value))
    return found


CORE_FILES = sorted(CORE_DIR.rglob("*.py"))


def test_there_are_core_files_to_check() -> None:
    names = {p.name for p in CORE_FILES}
    assert {"models.py", "dialogs.py", "ingest.py", "outbox.py"} <= names


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: str(p.relative_to(CORE_DIR)))
def test_core_imports_no_front_end_or_channel(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    bad = {m for m in imported_modules(tree) if m.split(".")[0] in FORBIDDEN}
    assert not bad, f"{path.relative_to(CORE_DIR.parent)} imports {sorted(bad)}"


def test_the_checker_sees_imports() -> None:
    # A checker that cannot fail proves nothing.
    tree = ast.parse(
        "import aiohttp.web\nfrom aiogram import Bot\nfrom . import models\n"
        "importlib.import_module('connectors.email')\n"
    )
    assert imported_modules(tree) == {"aiohttp.web", "aiogram", "connectors.email"}
