"""The website chat's settings: every variable starts with WEBCHAT_. The channel is on when
WEBCHAT_ENABLED is true. The base URL visitors' browsers reach eadesk at is the general
PUBLIC_URL (the app hands it over)."""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from core.channels import ChannelSpec, Connector
from core.models import ChannelKind
from core.sizes import size_setting

_COLOR = re.compile(r"#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?")


class AskEmail(StrEnum):
    OFF = "off"
    OPTIONAL = "optional"
    REQUIRED = "required"


def origin_of(url: str) -> str:
    """`https://acme.com/path` -> `https://acme.com` (how browsers write Origin)."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return ""
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"


class WebchatSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="WEBCHAT_",
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=True,
        env_ignore_empty=True,
        extra="ignore",
    )

    ENABLED: bool = Field(False, description="true turns the website chat widget on")
    ALLOWED_ORIGINS: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="the sites that may embed the widget, comma separated, like "
        "https://acme.com,https://www.acme.com (empty: any, for trying it out)",
    )
    SECRET: str = Field(
        "",
        repr=False,
        description="turns on identity verification: the site signs its user's id with it "
        "(HMAC-SHA256 of id:ts); also signs visitors' tokens",
    )
    TITLE: str = Field("", description="the chat panel's title (default: Support)")
    COLOR: str = Field("#2b6cb0", description="the widget's colour, like #2b6cb0")
    ASK_EMAIL: AskEmail = Field(
        AskEmail.OFF,
        description="ask the visitor's e-mail before the first message: off, optional or required",
    )
    UPLOAD_LIMIT: int = Field(
        10 * 1024 * 1024, description="the largest file a visitor may send: 10MB, 512KB"
    )
    MESSAGE_LIMIT: int = Field(
        4000, description="the longest message a visitor may send, in characters"
    )
    SOCKETS_PER_IP: int = Field(
        20,
        ge=1,
        description="the most chat connections open at once from one address (more are "
        "refused; the widget then polls)",
    )

    @field_validator("ALLOWED_ORIGINS", mode="before")
    @classmethod
    def _origins(cls, value: Any) -> list[str]:
        items = value if isinstance(value, list) else str(value or "").split(",")
        origins = []
        for item in items:
            text = str(item).strip()
            if not text:
                continue
            origin = origin_of(text)
            if not origin or not origin.startswith(("http://", "https://")):
                raise ValueError(f"{text!r} is not a site's address: like https://acme.com")
            origins.append(origin)
        return origins

    @field_validator("COLOR", mode="before")
    @classmethod
    def _color(cls, value: Any) -> str:
        text = str(value).strip()
        if not _COLOR.fullmatch(text):
            raise ValueError("is not a colour: like #2b6cb0")
        return text

    @field_validator("UPLOAD_LIMIT", mode="before")
    @classmethod
    def _size(cls, value: Any) -> int:
        return size_setting(value, "10MB")

    @property
    def enabled(self) -> bool:
        return bool(self.ENABLED)


async def build(settings: WebchatSettings, host: Any) -> list[Connector]:
    if not settings.enabled:
        return []
    from connectors.webchat.channel import WebchatConnector

    return [WebchatConnector(settings, host)]


def not_served(name: str) -> tuple[str, str]:
    return f"Website chat ({name})", "not served: WEBCHAT_ENABLED is not true"


CHANNEL = ChannelSpec(
    kind=ChannelKind.WEBCHAT,
    settings=WebchatSettings,
    build=build,
    title="website chat",
    not_served=not_served,
)
