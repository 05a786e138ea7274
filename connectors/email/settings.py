"""The e-mail channel's settings: every variable starts with EMAIL_. The channel is on when
EMAIL_IMAP_URL is set.

Server addresses are URLs: `imaps://USER:PASSWORD@HOST:993/INBOX` (TLS from the start),
`imap://USER:PASSWORD@HOST:143/INBOX` (STARTTLS, which must be offered unless the server is
this machine), `smtps://USER:PASSWORD@HOST:465`, `smtp://USER:PASSWORD@HOST:587` (STARTTLS
when offered) or `smtp://HOST:25` (no login). A user or password with `@`, `:`, `/` or a
space is written percent-encoded (`%40`, `%3A`, `%2F`, `%20`).
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from core.channels import ChannelSpec, Connector
from core.models import ChannelKind
from core.sizes import size_setting

IMAP_VARIABLE = "EMAIL_IMAP_URL"
DEFAULT_PORTS = {"imaps": 993, "imap": 143, "smtps": 465, "smtp": 587}
_ADDRESS = re.compile(r"[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+")


@dataclass(frozen=True)
class ServerUrl:
    """A mail server's address as a URL says it, the user and password decoded."""

    scheme: str
    host: str
    port: int
    user: str = ""
    password: str = ""
    folder: str = ""

    @property
    def tls(self) -> bool:
        """TLS from the first byte (imaps, smtps); otherwise STARTTLS."""
        return self.scheme.endswith("s")

    @property
    def loopback(self) -> bool:
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    @property
    def shown(self) -> str:
        """For people and logs: no password."""
        who = f"{self.user}@" if self.user else ""
        return f"{self.scheme}://{who}{self.host}:{self.port}"


def parse_server_url(value: str, schemes: tuple[str, ...], example: str) -> ServerUrl:
    text = value.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError(f"is not a URL eadesk can read: write it like {example}") from None
    scheme = parts.scheme.lower()
    if scheme not in schemes:
        raise ValueError(
            f"starts with {scheme + '://' if scheme else 'no scheme'}: use "
            f"{' or '.join(s + '://' for s in schemes)}, like {example}"
        )
    if not parts.hostname:
        raise ValueError(f"has no server name: write it like {example}")
    folder = unquote(parts.path.lstrip("/")) or ("INBOX" if scheme.startswith("imap") else "")
    return ServerUrl(
        scheme=scheme,
        host=parts.hostname,
        port=port or DEFAULT_PORTS[scheme],
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        folder=folder,
    )


IMAP_EXAMPLE = "imaps://support%40acme.com:APP-PASSWORD@imap.gmail.com:993/INBOX"
SMTP_EXAMPLE = "smtps://support%40acme.com:APP-PASSWORD@smtp.gmail.com:465"


class FromFormat(StrEnum):
    OPERATOR = "operator"  # "Olga via Acme support" <support@acme.com>
    TEAM = "team"  # "Acme support" <support@acme.com>


class EmailSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="EMAIL_",
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=True,
        env_ignore_empty=True,
        extra="ignore",  # the team's variables and other channels' share the file
    )

    IMAP_URL: str = Field(
        "",
        repr=False,
        description="the mailbox clients write to, read over IMAP: "
        "imaps://USER:PASSWORD@HOST:993/INBOX (or imap://…:143 with STARTTLS); "
        "the e-mail channel is on when this is set",
    )
    SMTP_URL: str = Field(
        "",
        repr=False,
        description="where replies are sent: smtps://USER:PASSWORD@HOST:465, "
        "smtp://USER:PASSWORD@HOST:587 (STARTTLS) or smtp://HOST:25 (no login)",
    )
    ADDRESS: str = Field(
        "", description="the support address clients write to and replies come from"
    )
    NAME: str = Field(
        "", description="the display name of replies (default: the team group's title)"
    )
    FROM_FORMAT: FromFormat = Field(
        FromFormat.OPERATOR,
        description='operator: replies come from "Operator via EMAIL_NAME"; '
        "team: from EMAIL_NAME alone",
    )
    POLL_SECONDS: int = Field(
        60,
        description="how often the mailbox is looked at when the server has no IDLE (or "
        "after the connection dropped)",
    )
    ATTACHMENT_LIMIT: int = Field(
        20 * 1024 * 1024,
        description="the largest attachment a reply carries (most providers refuse mails "
        "over 25MB): 20MB, 10MB",
    )

    @field_validator("IMAP_URL", mode="before")
    @classmethod
    def _imap_url(cls, value: Any) -> str:
        if value is None or not str(value).strip():
            return ""
        parse_server_url(str(value), ("imaps", "imap"), IMAP_EXAMPLE)
        return str(value).strip()

    @field_validator("SMTP_URL", mode="before")
    @classmethod
    def _smtp_url(cls, value: Any) -> str:
        if value is None or not str(value).strip():
            return ""
        parse_server_url(str(value), ("smtps", "smtp"), SMTP_EXAMPLE)
        return str(value).strip()

    @field_validator("ADDRESS", mode="before")
    @classmethod
    def _address(cls, value: Any) -> str:
        text = str(value).strip()
        if text and not _ADDRESS.fullmatch(text):
            raise ValueError("is not an e-mail address: like support@acme.com")
        return text

    @field_validator("POLL_SECONDS", mode="before")
    @classmethod
    def _poll(cls, value: Any) -> int:
        text = str(value).strip()
        if not text.isdigit() or not 5 <= int(text) <= 3600:
            raise ValueError("is not a number of seconds from 5 to 3600, like 60")
        return int(text)

    @field_validator("ATTACHMENT_LIMIT", mode="before")
    @classmethod
    def _size(cls, value: Any) -> int:
        return size_setting(value, "20MB")

    @model_validator(mode="after")
    def _complete(self) -> EmailSettings:
        if not self.IMAP_URL:
            return self
        missing = []
        if not self.SMTP_URL:
            missing.append(f"EMAIL_SMTP_URL (where replies are sent, like {SMTP_EXAMPLE})")
        if not self.ADDRESS:
            missing.append("EMAIL_ADDRESS (the support address, like support@acme.com)")
        if missing:
            raise ValueError(
                "EMAIL_IMAP_URL is set, so the e-mail channel is on, but it also needs "
                + " and ".join(missing)
            )
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.IMAP_URL)

    @property
    def imap(self) -> ServerUrl:
        return parse_server_url(self.IMAP_URL, ("imaps", "imap"), IMAP_EXAMPLE)

    @property
    def smtp(self) -> ServerUrl:
        return parse_server_url(self.SMTP_URL, ("smtps", "smtp"), SMTP_EXAMPLE)


async def build(settings: EmailSettings, host: Any) -> list[Connector]:
    if not settings.enabled:
        return []
    from connectors.email.channel import EmailConnector

    return [EmailConnector(settings, host)]


def not_served(name: str) -> tuple[str, str]:
    return f"E-mail ({name})", f"not served: {IMAP_VARIABLE} is not set to this mailbox"


CHANNEL = ChannelSpec(
    kind=ChannelKind.EMAIL,
    settings=EmailSettings,
    build=build,
    title="mailbox",
    not_served=not_served,
)
