"""Who a visitor is: server-signed tokens, and the site's signed users (setUser).

A token names one visitor (`anon:<random>` or, for a user the site vouched for,
`user:<id>`) and what they told us (name, e-mail), signed with HMAC-SHA256: nobody can
make one up or change it. It lasts TOKEN_DAYS from when it was last given out (each session
gives a fresh one). A token that does not verify is no error: the browser just becomes a new
anonymous visitor, never someone else.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass, replace
from typing import Any

TOKEN_DAYS = 365
# A setUser signature is good for this long after its `ts` (a captured one cannot be replayed).
USER_TS_WINDOW = 600


@dataclass(frozen=True)
class Visitor:
    key: str  # the dialog's chat key and the contact's value: "anon:…", "user:…"
    name: str = ""
    email: str = ""
    # The site vouched for this user (a valid setUser hash): their e-mail is theirs.
    verified: bool = False

    def with_email(self, email: str) -> Visitor:
        return replace(self, email=email)


class IdentityRefused(Exception):
    """A setUser whose hash is missing or wrong, or whose ts is too old."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Tokens:
    def __init__(self, key: bytes) -> None:
        self.key = key

    def _sign(self, body: str) -> str:
        return hmac.new(self.key, f"webchat-token:{body}".encode(), hashlib.sha256).hexdigest()

    def issue(self, visitor: Visitor, now: float | None = None) -> str:
        payload = {
            "v": visitor.key,
            "n": visitor.name,
            "e": visitor.email,
            "x": int(visitor.verified),
            "t": int(time.time() if now is None else now),
        }
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{self._sign(body)}"

    def read(self, token: str | None, now: float | None = None) -> Visitor | None:
        """The visitor a token names; None when it is missing, forged or expired."""
        if not token or not isinstance(token, str) or token.count(".") != 1:
            return None
        body, signature = token.split(".")
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            payload: dict[str, Any] = json.loads(_unb64(body))
            issued = int(payload["t"])
            key = str(payload["v"])
        except (ValueError, KeyError, TypeError):
            return None
        if (time.time() if now is None else now) - issued > TOKEN_DAYS * 86400:
            return None
        if not key.startswith(("anon:", "user:")):
            return None
        return Visitor(
            key=key,
            name=str(payload.get("n") or ""),
            email=str(payload.get("e") or ""),
            verified=bool(payload.get("x")),
        )

    def sign(self, text: str) -> str:
        """A short signature of `text` (a file's link)."""
        return hmac.new(self.key, f"webchat-file:{text}".encode(), hashlib.sha256).hexdigest()[:32]


def new_visitor() -> Visitor:
    return Visitor(key=f"anon:{secrets.token_urlsafe(16)}")


def user_hash(secret: str, user_id: str, ts: str | int) -> str:
    """What the site's server computes: hex HMAC-SHA256(secret, f"{id}:{ts}")."""
    return hmac.new(secret.encode(), f"{user_id}:{ts}".encode(), hashlib.sha256).hexdigest()


def verify_user(secret: str, user: dict[str, Any], now: float | None = None) -> Visitor:
    """The visitor a setUser names, when its hash is right and its ts recent; else
    IdentityRefused."""
    if not isinstance(user, dict):
        raise IdentityRefused("not an object")
    user_id = str(user.get("id") or "").strip()
    ts = str(user.get("ts") or "").strip()
    given = str(user.get("hash") or "").strip().lower()
    if not user_id or not ts or not given:
        raise IdentityRefused("id, ts and hash are required")
    if not hmac.compare_digest(given, user_hash(secret, user_id, ts)):
        raise IdentityRefused("wrong hash")
    try:
        stamp = float(ts)
    except ValueError:
        raise IdentityRefused("ts is not a number") from None
    if stamp > 10_000_000_000:  # milliseconds (Date.now())
        stamp /= 1000
    current = time.time() if now is None else now
    if abs(current - stamp) > USER_TS_WINDOW:
        raise IdentityRefused("ts is older than 10 minutes")
    return Visitor(
        key=f"user:{user_id}"[:200],
        name=str(user.get("name") or "")[:255],
        email=str(user.get("email") or "").strip()[:255],
        verified=True,
    )
