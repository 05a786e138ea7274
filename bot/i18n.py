"""UI text in Russian and English, chosen from the person's Telegram language."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

LOCALES_DIR = Path(__file__).parent / "locales"
SUPPORTED = ("ru", "en")
_default_language = "ru"


def set_default_language(language: str) -> None:
    global _default_language
    _default_language = language if language in SUPPORTED else "ru"


@cache
def catalog(language: str) -> dict[str, str]:
    """All of bot/locales/<language>/*.json: one file per feature, merged."""
    merged: dict[str, str] = {}
    for path in sorted((LOCALES_DIR / language).glob("*.json")):
        merged.update(json.loads(path.read_text(encoding="utf-8")))
    return merged


def pick_language(language_code: str | None) -> str:
    """The user's own language when we speak it, LANGUAGE otherwise."""
    code = (language_code or "").split("-")[0].lower()
    return code if code in SUPPORTED else _default_language


def t(key: str, language: str | None = None, **values: Any) -> str:
    lang = language if language in SUPPORTED else _default_language
    text = catalog(lang).get(key) or catalog("en").get(key) or key
    return text.format(**values) if values else text
