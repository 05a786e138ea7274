"""eadesk's settings: the environment and `.env`, checked so that every problem reads as one line.

The variable names are the contract of PRODUCT.md §7; `.env.example` and README.md document
the same list, and tests keep the three in step.
"""

import os
import re
from datetime import time, timedelta
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from dotenv import dotenv_values
from pydantic import Field, PrivateAttr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from connectors import registry
from core.business_hours import BusinessHours, BusinessHoursError, parse_business_hours
from core.digests import parse_digest_time
from core.durations import HINT as DURATION_HINT
from core.durations import parse_duration
from core.models import ChannelKind
from core.sizes import size_setting

# What each required variable should hold, for "X is not set: …".
EXPECTED = {
    "BOT_TOKEN": "the bot token from @BotFather, like 123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKd",
    "TEAM_CHAT_ID": "the id of the team's forum supergroup, like -1001234567890",
}

# Values never echoed back in a problem line (channels mark theirs: see describe_problem).
SECRETS = frozenset({"BOT_TOKEN", "RELAY_BOT_TOKENS"})

MESSENGER_KINDS = ("messenger", "social", "webchat", "telephony")

# Settings counted in bytes, written and shown as sizes (50MB).
SIZE_SETTINGS = frozenset({"FILE_SIZE_LIMIT", "EMAIL_ATTACHMENT_LIMIT", "WEBCHAT_UPLOAD_LIMIT"})

_TOKEN = re.compile(r"\d+:\S+")
_USER_ID = re.compile(r"\d+")
_USERNAME = re.compile(r"@?([A-Za-z][A-Za-z0-9_]{2,31})")
_LIST_SEPARATORS = re.compile(r"[\s,;]+")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(Exception):
    """Settings that cannot be used; `problems` holds one readable line per variable."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


def _split(value: str) -> list[str]:
    return [item for item in _LIST_SEPARATORS.split(value.strip()) if item]


def _integer(value: Any, expected: str) -> int:
    text = str(value).strip()
    if not re.fullmatch(r"[-+]?\d+", text):
        raise ValueError(f"is not a whole number: {expected}")
    return int(text)


def _tokens(value: Any) -> list[str]:
    items = _split(value) if isinstance(value, str) else [str(item).strip() for item in value]
    for position, token in enumerate(items, start=1):
        if not _TOKEN.fullmatch(token):
            raise ValueError(
                f"has an item that does not look like a bot token (number {position}): "
                "list tokens from @BotFather separated by commas, like 123456:ABC…,654321:DEF…"
            )
    return list(dict.fromkeys(items))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=True,
        env_ignore_empty=True,  # `BOT_TOKEN=` in .env means "not set", not "empty token"
        extra="ignore",  # channel settings (EMAIL_…, WHATSAPP_…) belong to their connectors
    )

    # Each channel's (and integration's: amoCRM) settings (connectors/registry.py).
    _channels: dict[registry.Spec, Any] = PrivateAttr(default_factory=dict)

    def __init__(self, **values: Any) -> None:
        """The team's settings, and every channel's: a channel variable given here in code
        (TELEGRAM_CLIENT_BOT_TOKENS=[…]) goes to its channel. A problem in both is told in
        one ConfigError."""
        env_file = values.get("_env_file", type(self).model_config.get("env_file"))
        given = registry.split_values(values)
        channel_errors: list[dict[str, Any]] = []
        channels: dict[registry.Spec, Any] = {}
        try:
            channels = registry.load_settings(env_file, given)
        except registry.ChannelSettingsError as error:
            channel_errors = error.errors
        try:
            super().__init__(**values)
        except ValidationError as error:
            if not channel_errors:
                raise
            problems = [*error.errors(), *channel_errors]
            raise ConfigError([describe_problem(item) for item in problems]) from None
        if channel_errors:
            raise ConfigError([describe_problem(item) for item in channel_errors])
        self._channels = channels

    @property
    def channels(self) -> dict[registry.Spec, Any]:
        return self._channels

    def channel(self, spec: registry.Spec) -> Any:
        return self._channels[spec]

    BOT_TOKEN: str = Field(
        repr=False,
        description="the team bot's token from @BotFather; also the client bot "
        "when TELEGRAM_CLIENT_BOT_TOKENS is empty",
    )
    TEAM_CHAT_ID: int = Field(description="the id of the team's forum supergroup, -100…")
    TELEGRAM_API_URL: str = Field(
        "https://api.telegram.org",
        description="Bot API base URL; tests point it at the emulator",
    )
    DATABASE_URL: str = Field(
        "sqlite://data/eadesk.sqlite3",
        description="sqlite://PATH (embedded) or postgres://USER:PASSWORD@HOST:PORT/DB",
    )
    BLOBS_DIR: str = Field(
        "data/blobs",
        description="the folder where the bytes of files are kept when a channel needs them "
        "(files only passed between Telegram bots never land here)",
    )
    FILE_SIZE_LIMIT: int = Field(
        50 * 1024 * 1024,
        description="the largest file eadesk takes in or passes on: 50MB, 512KB, 1GB",
    )
    LANGUAGE: str = Field(
        "ru",
        description="ru or en: the team group's language (what everyone there sees), and the "
        "UI language in private for users whose Telegram speaks neither",
    )
    TIMEZONE: str = Field(
        "Europe/Moscow", description="time zone in which times are shown and parsed"
    )
    BUSINESS_HOURS: str = Field(
        "",
        description="when the team works, in TIMEZONE, for business-time figures in /stats: "
        "like mon-fri 09:00-18:00; sat 10:00-14:00 (empty: always)",
    )
    AUTOMATIONS_FILE: str = Field(
        "",
        description="a YAML file of automation rules (README: Automations); re-read when it "
        "changes, no restart needed (empty: no rules)",
    )
    SLA_FIRST_RESPONSE: timedelta | None = Field(
        None,
        description="the target for an episode's first response, like 15m or 1h, in business "
        "hours (empty: none)",
    )
    SLA_NEXT_RESPONSE: timedelta | None = Field(
        None,
        description="the target for every next response to a waiting client, like 1h (empty: none)",
    )
    CSAT_ENABLED: str = Field(
        "",
        description="ask clients to rate the help 1-5 after a close: true (every channel), or "
        "the channel kinds, comma separated, like telegram,webchat (empty: never)",
    )
    DIGEST_TIME: str = Field(
        "09:00",
        description="when managers get yesterday's numbers in private, in TIMEZONE (Mondays "
        "also the last week's); off: no digests",
    )
    REOPEN_WINDOW_MESSENGER: timedelta = Field(
        timedelta(hours=48),
        description="a client writing within this after a close continues the same "
        "episode (Telegram; later also the other messengers, social networks, web chat and "
        "telephony)",
    )
    REOPEN_WINDOW_EMAIL: timedelta = Field(
        timedelta(hours=120),
        description="the same for e-mail: a mail answering a closed dialog's thread",
    )
    MANAGERS: str = Field(
        "",
        description="extra managers besides the group's administrators: user ids or "
        "@usernames, comma separated",
    )
    RELAY_BOT_TOKENS: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        repr=False,
        description="extra bots that create topics and post client messages and cards into "
        "the team group, each with its own budget; comma separated tokens; each must be an "
        "administrator there (with Manage Topics to create topics)",
    )
    GROUP_MESSAGES_PER_MINUTE: int = Field(
        20, description="messages per minute one bot may send into the team group"
    )
    HTTP_HOST: str = Field("127.0.0.1", description="address of the health endpoint (GET /healthz)")
    HTTP_PORT: int = Field(
        8080, description="port of the health endpoint (GET /healthz); 0 picks a free port"
    )
    PUBLIC_URL: str = Field(
        "",
        description="the base URL browsers and webhooks reach eadesk at, like "
        "https://help.acme.com (default: http://HTTP_HOST:HTTP_PORT)",
    )
    LOG_LEVEL: str = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")

    @field_validator("BOT_TOKEN", mode="before")
    @classmethod
    def _bot_token(cls, value: Any) -> str:
        token = str(value).strip()
        if not _TOKEN.fullmatch(token):
            raise ValueError(f"does not look like a bot token: {EXPECTED['BOT_TOKEN']}")
        return token

    @field_validator("TEAM_CHAT_ID", mode="before")
    @classmethod
    def _team_chat_id(cls, value: Any) -> int:
        chat_id = _integer(value, EXPECTED["TEAM_CHAT_ID"])
        if chat_id >= 0:
            raise ValueError(
                "is not a group's id: group ids are negative; "
                "a forum supergroup's id looks like -1001234567890"
            )
        if not str(chat_id).startswith("-100"):
            raise ValueError(
                "is the id of a basic group, not a supergroup: turn on Topics in the "
                "group settings, which makes it a supergroup with a new id starting with -100"
            )
        return chat_id

    @field_validator("TELEGRAM_API_URL", mode="before")
    @classmethod
    def _api_url(cls, value: Any) -> str:
        url = str(value).strip().rstrip("/")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("is not an http(s) URL: like https://api.telegram.org")
        return url

    @field_validator("DATABASE_URL", mode="before")
    @classmethod
    def _database_url(cls, value: Any) -> str:
        url = str(value).strip()
        scheme, _, rest = url.partition("://")
        expected = (
            "use sqlite://data/eadesk.sqlite3, sqlite://:memory: "
            "or postgres://USER:PASSWORD@HOST:5432/DATABASE"
        )
        if scheme not in ("sqlite", "postgres", "postgresql") or not rest:
            raise ValueError(f"is not a database URL eadesk knows: {expected}")
        if scheme != "sqlite" and not urlsplit(url).hostname:
            raise ValueError(f"has no host: {expected}")
        return url

    @field_validator("LANGUAGE", mode="before")
    @classmethod
    def _language(cls, value: Any) -> str:
        text = str(value).strip().lower()
        if text in ("ru", "en"):
            return text
        # LANGUAGE is also the system's gettext variable ("en_US:en"); read a language from
        # it, and do not refuse to start on a machine whose desktop speaks something else.
        if re.search(r"[_:.@]", text) or text in ("c", "posix"):
            for entry in text.split(":"):
                code = re.split(r"[_.@]", entry)[0]
                if code in ("ru", "en"):
                    return code
            return "ru"
        raise ValueError("is not a language eadesk speaks: use ru or en")

    @field_validator("TIMEZONE", mode="before")
    @classmethod
    def _timezone(cls, value: Any) -> str:
        name = str(value).strip()
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            if not available_timezones():
                raise ValueError(
                    "cannot be checked: this machine has no time zone database "
                    "(install the tzdata package)"
                ) from None
            raise ValueError("is not a time zone: use a name like Europe/Moscow or UTC") from None
        return name

    @field_validator("BUSINESS_HOURS", mode="before")
    @classmethod
    def _business_hours(cls, value: Any) -> str:
        text = str(value or "").strip()
        try:
            parse_business_hours(text)
        except BusinessHoursError as error:
            raise ValueError(str(error)) from None
        return text

    @field_validator("DIGEST_TIME", mode="before")
    @classmethod
    def _digest_time(cls, value: Any) -> str:
        moment = parse_digest_time(str(value))  # ValueError: says the form
        return "off" if moment is None else moment.strftime("%H:%M")

    @field_validator("CSAT_ENABLED", mode="before")
    @classmethod
    def _csat_enabled(cls, value: Any) -> str:
        text = str(value or "").strip().lower()
        if text in ("", "false", "no", "off", "0"):
            return ""
        if text in ("true", "yes", "on", "1", "all"):
            return "true"
        kinds = [k for k in _LIST_SEPARATORS.split(text) if k]
        known = [k.value for k in ChannelKind]
        wrong = [k for k in kinds if k not in known]
        if wrong:
            raise ValueError(
                f"names no channel kind {', '.join(wrong)}: use true (every channel), or "
                "kinds comma separated like telegram,email,webchat (empty: never)"
            )
        return ",".join(dict.fromkeys(kinds))

    @field_validator("SLA_FIRST_RESPONSE", "SLA_NEXT_RESPONSE", mode="before")
    @classmethod
    def _optional_duration(cls, value: Any) -> timedelta | None:
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return cls._duration(value)

    @field_validator("REOPEN_WINDOW_MESSENGER", "REOPEN_WINDOW_EMAIL", mode="before")
    @classmethod
    def _duration(cls, value: Any) -> timedelta:
        if isinstance(value, timedelta):
            if value <= timedelta(0):
                raise ValueError(f"is not positive: {DURATION_HINT}")
            return value
        try:
            return parse_duration(str(value))
        except ValueError as error:
            raise ValueError(f"is {error}") from None

    @field_validator("BLOBS_DIR", mode="before")
    @classmethod
    def _blobs_dir(cls, value: Any) -> str:
        folder = str(value).strip()
        if not folder or "\x00" in folder:
            raise ValueError("is not a folder: a path like data/blobs")
        return folder

    @field_validator("FILE_SIZE_LIMIT", mode="before")
    @classmethod
    def _size(cls, value: Any) -> int:
        return size_setting(value, "50MB")

    @field_validator("MANAGERS", mode="before")
    @classmethod
    def _managers(cls, value: Any) -> str:
        text = str(value)
        for item in _split(text):
            if not (_USER_ID.fullmatch(item) or _USERNAME.fullmatch(item)):
                raise ValueError(
                    f"has {item!r}, which is neither a user id nor a @username: "
                    "list them separated by commas, like 123456789, @anna"
                )
        return text.strip()

    @field_validator("RELAY_BOT_TOKENS", mode="before")
    @classmethod
    def _token_list(cls, value: Any) -> list[str]:
        return _tokens(value)

    @field_validator("GROUP_MESSAGES_PER_MINUTE", mode="before")
    @classmethod
    def _group_rate(cls, value: Any) -> int:
        rate = _integer(value, "like 20")
        if rate < 1:
            raise ValueError("is too low: at least 1 message per minute, like 20")
        return rate

    @field_validator("HTTP_HOST", mode="before")
    @classmethod
    def _http_host(cls, value: Any) -> str:
        host = str(value).strip()
        if not host or re.search(r"[\s/]", host):
            raise ValueError("is not a host: an address to listen on, like 127.0.0.1 or 0.0.0.0")
        return host

    @field_validator("HTTP_PORT", mode="before")
    @classmethod
    def _http_port(cls, value: Any) -> int:
        port = _integer(value, "a TCP port, like 8080")
        if not 0 <= port <= 65535:
            raise ValueError("is not a TCP port: use 0 to 65535 (0 = any free port), like 8080")
        return port

    @field_validator("PUBLIC_URL", mode="before")
    @classmethod
    def _public_url(cls, value: Any) -> str:
        url = str(value or "").strip().rstrip("/")
        if url and not re.fullmatch(r"https?://[^\s/]+(/\S*)?", url):
            raise ValueError("is not a web address: like https://help.acme.com")
        return url

    @field_validator("LOG_LEVEL", mode="before")
    @classmethod
    def _log_level(cls, value: Any) -> str:
        level = str(value).strip().upper()
        level = "WARNING" if level == "WARN" else level
        if level not in _LOG_LEVELS:
            raise ValueError("is not a log level: use DEBUG, INFO, WARNING or ERROR")
        return level

    @model_validator(mode="after")
    def _relays_are_other_bots(self) -> "Settings":
        if self.BOT_TOKEN in self.RELAY_BOT_TOKENS:
            raise ValueError(
                "RELAY_BOT_TOKENS repeats BOT_TOKEN: a relay must be another bot, "
                "created with @BotFather for this purpose"
            )
        return self

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.TIMEZONE)

    @property
    def business_hours(self) -> BusinessHours:
        return parse_business_hours(self.BUSINESS_HOURS, self.tz)

    @property
    def digest_time(self) -> time | None:
        """DIGEST_TIME as a time of day in TIMEZONE; None: off."""
        return parse_digest_time(self.DIGEST_TIME)

    @cached_property
    def manager_ids(self) -> frozenset[int]:
        return frozenset(int(item) for item in _split(self.MANAGERS) if _USER_ID.fullmatch(item))

    @cached_property
    def manager_usernames(self) -> frozenset[str]:
        """Lower-case, without the @."""
        names = set()
        for item in _split(self.MANAGERS):
            match = _USERNAME.fullmatch(item)
            if match and not _USER_ID.fullmatch(item):
                names.add(match.group(1).lower())
        return frozenset(names)

    def is_manager(self, user_id: int | None, username: str | None = None) -> bool:
        """Listed in MANAGERS (the group's administrators are managers too, asked elsewhere)."""
        if user_id is not None and user_id in self.manager_ids:
            return True
        return username is not None and username.lstrip("@").lower() in self.manager_usernames

    def reopen_windows(self) -> dict[str, timedelta]:
        """Reopen window per channel kind (PRODUCT.md §2)."""
        windows = dict.fromkeys(MESSENGER_KINDS, self.REOPEN_WINDOW_MESSENGER)
        windows["email"] = self.REOPEN_WINDOW_EMAIL
        return windows

    @property
    def sqlite_path(self) -> Path | None:
        """The SQLite file when DATABASE_URL names one (its folder may need creating)."""
        scheme, _, path = self.DATABASE_URL.partition("://")
        if scheme != "sqlite" or path.startswith(":memory:"):
            return None
        return Path(path.split("?", 1)[0])


def describe_problem(error: Any) -> str:
    """One line for one pydantic error: the variable, what is wrong, the expected form."""
    name = str(error["loc"][0]) if error["loc"] else ""
    if error["type"] == "missing":
        return f"{name} is not set: {EXPECTED.get(name, 'it is required')}"
    cause = error.get("ctx", {}).get("error")
    detail = str(cause) if isinstance(cause, ValueError) else error["msg"]
    if not name:
        return detail
    if name in SECRETS or error.get("secret"):
        return f"{name} {detail}"
    raw = error.get("input")
    shown = _redact_url(str(raw)) if name == "DATABASE_URL" else str(raw)
    return f"{name}={shown!r} {detail}"


def _redact_url(url: str) -> str:
    return re.sub(r"(://[^/:@]*:)[^/@]*@", r"\1***@", url)


def load_settings(env_file: str | None = ".env") -> Settings:
    """Settings from the environment and `env_file` (None: the environment only)."""
    try:
        return Settings(_env_file=env_file)
    except ValidationError as error:
        raise ConfigError([describe_problem(item) for item in error.errors()]) from None


# Neither set (in the environment or .env): `run` starts the sandbox (see sandbox/).
TELEGRAM_REQUIRED = ("BOT_TOKEN", "TEAM_CHAT_ID")


def telegram_variables_set(env_file: str | None = ".env") -> list[str]:
    """Which of BOT_TOKEN and TEAM_CHAT_ID are set, in the environment or `env_file`
    (an empty value counts as not set, as Settings reads it)."""
    found = {name for name in TELEGRAM_REQUIRED if os.environ.get(name)}
    if env_file is not None and Path(env_file).is_file():
        values = dotenv_values(env_file)
        found |= {name for name in TELEGRAM_REQUIRED if values.get(name)}
    return [name for name in TELEGRAM_REQUIRED if name in found]


def wants_sandbox(env_file: str | None = ".env") -> bool:
    """No Telegram configured at all: `run` shows the sandbox instead of failing. Only one
    of the two set is a half-configured production, which fails with its clear message."""
    return not telegram_variables_set(env_file)


def variables() -> list[str]:
    """Every variable eadesk reads: the team's, then each channel's."""
    return [*Settings.model_fields, *registry.variables()]


def unknown_variables(env_file: str | None = ".env") -> list[tuple[str, str | None]]:
    """Variables set (in the environment or `env_file`) with a channel's prefix that no
    channel reads: a typo would otherwise be ignored in silence. Each with the closest
    name eadesk knows (None: nothing close)."""
    names = set(os.environ)
    if env_file is not None and Path(env_file).is_file():
        names |= {name for name in dotenv_values(env_file) if name}
    return registry.unknown_variables(names, Settings.model_fields)


def unknown_variable_line(name: str, closest: str | None) -> str:
    hint = f"; did you mean {closest}?" if closest else ""
    return f"{name} is set but eadesk knows no such variable, so it is ignored{hint}"
