"""Every kind of channel eadesk has, and its connectors built from settings.

Adding a channel is one folder under connectors/ and one line in CHANNELS. The front end
(bot/) reaches connectors only through here.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ValidationError

from connectors.amocrm.settings import INTEGRATION as AMOCRM
from connectors.email.settings import CHANNEL as EMAIL
from connectors.telegram.settings import CHANNEL as TELEGRAM
from connectors.webchat.settings import CHANNEL as WEBCHAT
from core.channels import ChannelSpec, Connector
from core.crm import CrmSource, CrmSpec

CHANNELS: tuple[ChannelSpec, ...] = (
    TELEGRAM,  # clients' private chats with client bots (TELEGRAM_CLIENT_…)
    EMAIL,  # a mailbox: IMAP in, SMTP out (EMAIL_…)
    WEBCHAT,  # the website chat widget (WEBCHAT_…)
)

# Not channels: outside systems the app reads when they are configured.
INTEGRATIONS: tuple[CrmSpec, ...] = (
    AMOCRM,  # the client's deals on the card (AMOCRM_…)
)

# Everything with settings of its own, each with its env prefix.
Spec = ChannelSpec | CrmSpec


def specs() -> tuple[Spec, ...]:
    """The channels, then the integrations (read when asked: tests add a channel)."""
    return (*CHANNELS, *INTEGRATIONS)


__all__ = [
    "CHANNELS",
    "INTEGRATIONS",
    "ChannelSettingsError",
    "build_connectors",
    "build_crm",
    "load_settings",
    "specs",
    "unknown_variables",
    "variables",
]


class ChannelSettingsError(ValueError):
    """Channel settings that cannot be used: `errors` as pydantic gives them, each `loc`
    the variable's full name (TELEGRAM_CLIENT_BOT_TOKENS), `secret` set for a token."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(str(e.get("msg")) for e in errors))
        self.errors = errors


def spec_of(variable: str, channels: Iterable[Spec] | None = None) -> Spec | None:
    """The channel (or integration) whose prefix `variable` has (the longest:
    TELEGRAM_BUSINESS_ before TELEGRAM_)."""
    channels = specs() if channels is None else channels
    found = [spec for spec in channels if spec.prefix and variable.startswith(spec.prefix)]
    return max(found, key=lambda spec: len(spec.prefix)) if found else None


def split_values(
    values: dict[str, Any], channels: Iterable[Spec] | None = None
) -> dict[Spec, dict[str, Any]]:
    """Take the values of channel variables out of `values`, per channel, by field name."""
    channels = specs() if channels is None else channels
    taken: dict[Spec, dict[str, Any]] = {}
    for name in list(values):
        spec = spec_of(name, channels)
        if spec is not None and name.removeprefix(spec.prefix) in spec.settings.model_fields:
            taken.setdefault(spec, {})[name.removeprefix(spec.prefix)] = values.pop(name)
    return taken


def load_settings(
    env_file: str | None = ".env",
    values: Mapping[Spec, dict[str, Any]] | None = None,
    channels: Iterable[Spec] | None = None,
) -> dict[Spec, Any]:
    """Each channel's (and integration's) settings from the environment and `env_file`
    (`values` win: given in code, by field name). ChannelSettingsError names every unusable
    variable."""
    channels = specs() if channels is None else channels
    loaded: dict[Spec, Any] = {}
    errors: list[dict[str, Any]] = []
    for spec in channels:
        given = dict((values or {}).get(spec, {}))
        try:
            loaded[spec] = spec.settings(_env_file=env_file, **given)
        except ValidationError as error:
            for item in error.errors():
                entry: dict[str, Any] = dict(item)
                field = str(item["loc"][0]) if item["loc"] else ""
                info = spec.settings.model_fields.get(field)
                entry["loc"] = (spec.prefix + field,) if field else ()
                entry["secret"] = bool(info is not None and not info.repr)
                errors.append(entry)
    if errors:
        raise ChannelSettingsError(errors)
    return loaded


async def build_connectors(settings: Mapping[Spec, Any], host: Any) -> list[Connector]:
    """The connectors configured in `settings` (as load_settings gives them, in order)."""
    connectors: list[Connector] = []
    for spec, values in settings.items():
        if isinstance(spec, ChannelSpec):
            connectors.extend(await spec.build(values, host))
    return connectors


def build_crm(settings: Mapping[Spec, Any]) -> CrmSource | None:
    """The outside CRM configured in `settings` (the first, when several ever are)."""
    for spec, values in settings.items():
        if isinstance(spec, CrmSpec) and (source := spec.build(values)) is not None:
            return source
    return None


def variables(channels: Iterable[Spec] | None = None) -> list[str]:
    channels = specs() if channels is None else channels
    return [name for spec in channels for name in spec.variables()]


def unknown_variables(
    names: Iterable[str], known: Iterable[str], channels: Iterable[Spec] | None = None
) -> list[tuple[str, str | None]]:
    """The names among `names` that carry a channel's prefix but are no variable of it (a
    typo, a variable of another version), each with the closest known name (or None).
    `known` are the other variables eadesk reads (the team's)."""
    channels = list(specs() if channels is None else channels)
    everything = [*known, *variables(channels)]
    unknown = []
    for name in sorted(set(names)):
        spec = spec_of(name, channels)
        if spec is None or name in everything:
            continue
        close = difflib.get_close_matches(name, everything, n=1, cutoff=0.6)
        unknown.append((name, close[0] if close else None))
    return unknown
