"""The house's boundaries, read from the imports (ARCHITECTURE.md, STYLE.md):

- core/ is the domain: it imports no aiogram, aiohttp, front end, connector or tgapi;
- tgapi/ is Telegram's mechanics shared by the front end and the Telegram connectors: it
  imports neither of them;
- a connector (connectors/<name>/) imports nothing of the front end and no other connector;
  only connectors/registry.py, the list of channels, imports them all;
- the front end (bot/) reaches connectors only through connectors/registry.py.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def imports(tree: ast.AST) -> set[str]:
    """Every module a file imports (`from a import b` counts as a.b too: b may be a module),
    also through importlib.import_module("...") with a literal name."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            found.add(str(node.args[0].value))
    return found


def files(package: str) -> list[Path]:
    return sorted(
        p for p in (ROOT / package).rglob("*.py") if "migrations" not in p.relative_to(ROOT).parts
    )


def imports_of(path: Path) -> set[str]:
    return imports(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)))


def top(module: str) -> str:
    return module.split(".")[0]


def ids(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_every_package_has_files_to_check() -> None:
    assert {p.name for p in files("core")} >= {"models.py", "ingest.py", "channels.py"}
    assert {p.name for p in files("bot")} >= {"app.py", "cli.py"}
    assert {p.name for p in files("connectors")} >= {"registry.py", "client.py"}
    assert files("tgapi")


@pytest.mark.parametrize("path", files("core"), ids=ids)
def test_core_knows_no_telegram_http_front_end_or_channel(path: Path) -> None:
    forbidden = {"aiogram", "aiohttp", "bot", "connectors", "tgapi"}
    bad = sorted(m for m in imports_of(path) if top(m) in forbidden)
    assert not bad, f"{ids(path)} imports {bad}"


@pytest.mark.parametrize("path", files("tgapi"), ids=ids)
def test_tgapi_knows_no_front_end_or_connector(path: Path) -> None:
    bad = sorted(m for m in imports_of(path) if top(m) in {"bot", "connectors"})
    assert not bad, f"{ids(path)} imports {bad}"


def mine(module: str, own: str | None) -> bool:
    return own is not None and (module == own or module.startswith(own + "."))


CONNECTOR_FILES = [p for p in files("connectors") if p.name != "registry.py"]


@pytest.mark.parametrize("path", CONNECTOR_FILES, ids=ids)
def test_a_connector_knows_no_front_end_and_no_other_connector(path: Path) -> None:
    parts = path.relative_to(ROOT / "connectors").parts
    own = f"connectors.{parts[0]}" if len(parts) > 1 else None
    bad = []
    for module in imports_of(path):
        if top(module) == "bot" or (
            top(module) == "connectors" and module != "connectors" and not mine(module, own)
        ):
            bad.append(module)
    assert not bad, f"{ids(path)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", files("bot"), ids=ids)
def test_the_front_end_reaches_connectors_only_through_the_registry(path: Path) -> None:
    allowed = {"connectors", "connectors.registry"}
    bad = sorted(
        m
        for m in imports_of(path)
        if top(m) == "connectors" and m not in allowed and not m.startswith("connectors.registry.")
    )
    assert not bad, f"{ids(path)} imports {bad}"


def test_the_checker_sees_imports() -> None:
    # A checker that cannot fail proves nothing.
    tree = ast.parse(
        "import aiohttp.web\nfrom aiogram import Bot\nfrom . import models\n"
        "from connectors.telegram import client\n"
        "importlib.import_module('connectors.email')\n"
    )
    assert imports(tree) == {
        "aiohttp.web",
        "aiogram",
        "aiogram.Bot",
        "connectors.telegram",
        "connectors.telegram.client",
        "connectors.email",
    }
