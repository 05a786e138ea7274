"""amoCRM's settings: every variable starts with AMOCRM_. On when AMOCRM_BASE_URL is set.

Not a channel (clients do not write through it): an integration the app starts when it is
configured, whose deals the card shows (core/crm.py).
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.crm import CrmSource, CrmSpec
from core.durations import parse_duration

EXAMPLE = "https://acme.amocrm.ru"
SHORTEST_REFRESH = timedelta(seconds=30)


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class AmoCrmSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="AMOCRM_",
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=True,
        env_ignore_empty=True,
        extra="ignore",
    )

    BASE_URL: str = Field(
        "",
        description="your amoCRM account's address, https://SUBDOMAIN.amocrm.ru; the "
        "client card shows the client's deals when this and AMOCRM_TOKEN are set",
    )
    TOKEN: str = Field(
        "",
        repr=False,
        description="a long-lived token of an amoCRM private integration (amoCRM → "
        "Settings → Integrations → Create integration → Keys and scopes → Long-lived token)",
    )
    REFRESH: timedelta = Field(
        timedelta(minutes=5),
        description="how long a client's deals are shown before amoCRM is asked again "
        "(when their card is drawn, and for every dialog that is not closed): 5m, 10m",
    )

    @field_validator("BASE_URL", mode="before")
    @classmethod
    def _base_url(cls, value: Any) -> str:
        text = str(value or "").strip().rstrip("/")
        if not text:
            return ""
        try:
            parts = urlsplit(text)
        except ValueError:
            raise ValueError(f"is not a URL: write it like {EXAMPLE}") from None
        if not parts.hostname or parts.scheme not in ("https", "http"):
            raise ValueError(f"is not an account address: write it like {EXAMPLE}")
        # amoCRM answers over HTTPS only; plain HTTP is for a test server on this machine.
        if parts.scheme == "http" and not _loopback(parts.hostname):
            raise ValueError(f"must start with https://, like {EXAMPLE}")
        if parts.path.strip("/"):
            raise ValueError(f"is the account's address alone, without a path: like {EXAMPLE}")
        return text

    @field_validator("TOKEN", mode="before")
    @classmethod
    def _token(cls, value: Any) -> str:
        text = str(value or "").strip()
        if text.lower().startswith("bearer "):
            text = text[7:].strip()
        if any(c.isspace() for c in text):
            raise ValueError("has spaces in it: copy the long-lived token again, whole")
        return text

    @field_validator("REFRESH", mode="before")
    @classmethod
    def _refresh(cls, value: Any) -> timedelta:
        duration = value if isinstance(value, timedelta) else parse_duration(str(value))
        if duration < SHORTEST_REFRESH:
            raise ValueError("is too short: at least 30s (amoCRM allows 7 requests a second)")
        return duration

    @model_validator(mode="after")
    def _complete(self) -> AmoCrmSettings:
        if self.BASE_URL and not self.TOKEN:
            raise ValueError(
                "AMOCRM_BASE_URL is set, so deals are looked up in amoCRM, but AMOCRM_TOKEN "
                "is not: put a long-lived token of an amoCRM integration there"
            )
        if self.TOKEN and not self.BASE_URL:
            raise ValueError(
                f"AMOCRM_TOKEN is set but AMOCRM_BASE_URL is not: set it to your account's "
                f"address, like {EXAMPLE}"
            )
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.BASE_URL and self.TOKEN)


def build(settings: AmoCrmSettings) -> CrmSource | None:
    if not settings.enabled:
        return None
    from connectors.amocrm.source import AmoCrm

    return AmoCrm(settings)


INTEGRATION = CrmSpec(settings=AmoCrmSettings, build=build, title="amoCRM")
