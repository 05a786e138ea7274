"""Every text the bot writes exists in Russian and English."""

from __future__ import annotations

import re
from pathlib import Path

from bot.i18n import catalog

ROOT = Path(__file__).resolve().parents[1]


def test_russian_and_english_have_the_same_keys():
    assert set(catalog("ru")) == set(catalog("en"))


def test_every_key_used_in_code_exists():
    used: set[str] = set()
    for path in (ROOT / "bot").rglob("*.py"):
        used |= set(re.findall(r"""\bt\(\s*["']([a-z_]+\.[a-z0-9_.]+)["']""", path.read_text()))
    missing = sorted(k for k in used if k not in catalog("en"))
    assert not missing, missing


def test_placeholders_match():
    en, ru = catalog("en"), catalog("ru")
    for key in en:
        assert set(re.findall(r"{(\w+)}", en[key])) == set(re.findall(r"{(\w+)}", ru[key])), key
