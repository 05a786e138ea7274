"""What goes over the wire: an API answer other than 200, and the plain values the widget
sends (a page, an id, a file name, an e-mail address) read safely."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

from aiohttp import web
from email_validator import EmailNotValidError, validate_email

from core.models import fit_key

_CLIENT_ID = re.compile(r"[A-Za-z0-9_.:-]{1,100}")


class Problem(Exception):
    """An API answer other than 200: its status and JSON body."""

    def __init__(self, status: int, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.status = status
        self.body = {"error": error, **extra}


def iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def clean(value: Any, limit: int = 1000) -> str:
    return str(value or "").strip()[:limit] if isinstance(value, str | int | float) else ""


def page_of(raw: Any) -> dict[str, str]:
    """The page a visitor writes from, as the widget tells it (each value plain text)."""
    if not isinstance(raw, dict):
        return {}
    page = {name: clean(raw.get(name)) for name in ("url", "title", "referrer", "lang", "tz")}
    return {name: value for name, value in page.items() if value}


def first_name(name: str) -> str:
    return name.strip().split(" ")[0] if name.strip() else ""


def span_json(raw: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in raw.items() if k in ("kind", "start", "end", "url", "language")}


def contact_key(key: str) -> str:
    return fit_key(key, 255)


def client_id_of(value: Any) -> str:
    if isinstance(value, str) and _CLIENT_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


def as_int(value: Any, default: int = 0) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def file_name(name: str) -> str:
    cleaned = re.sub(r'[\x00-\x1f"\\/]+', "_", name).strip() or "file"
    return cleaned[-120:]


def valid_email(value: str) -> str:
    """The address normalized, or "" when it is none."""
    if not value:
        return ""
    try:
        return str(validate_email(value, check_deliverability=False).normalized)
    except EmailNotValidError:
        return ""


async def read_json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        raise Problem(400, "json") from None
    if not isinstance(body, dict):
        raise Problem(400, "json")
    return body
