"""Per-channel settings: each channel reads the variables with its own prefix; a variable with a
channel's prefix that no channel knows is named (with the closest known name), never ignored
in silence: by `check`, and in the log of `run`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot import cli
from bot.config import ConfigError, Settings, load_settings, unknown_variables, variables
from connectors import registry
from connectors.telegram.settings import CHANNEL as TELEGRAM_CLIENT
from core.channels import ChannelSpec
from core.models import ChannelKind
from tests.test_cli import run_eadesk

TOKEN = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"
CHAT = "-1001234567890"


class EmailSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EMAIL_", env_file=".env", extra="ignore")

    IMAP_URL: str = ""
    SMTP_URL: str = ""


async def no_connectors(settings: Any, host: Any) -> list:
    return []


EMAIL = ChannelSpec(kind=ChannelKind.EMAIL, settings=EmailSettings, build=no_connectors, title="")


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in [*variables(), "TELEGRAM_CLIENT_BOT_TOKEN", "EMAIL_IMAP_URL", "EMAIL_IMAP_URLL"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TEAM_CHAT_ID", CHAT)


def test_a_channel_reads_its_variables_from_the_environment_and_env_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / ".env").write_text("TELEGRAM_CLIENT_BOT_TOKENS=111:aaa, 222:bbb\n")
    assert load_settings().channel(TELEGRAM_CLIENT).BOT_TOKENS == ["111:aaa", "222:bbb"]
    monkeypatch.setenv("TELEGRAM_CLIENT_BOT_TOKENS", "333:ccc")  # the environment wins
    assert load_settings().channel(TELEGRAM_CLIENT).BOT_TOKENS == ["333:ccc"]
    # The team's settings know nothing of it.
    assert "TELEGRAM_CLIENT_BOT_TOKENS" not in Settings.model_fields


def test_a_bad_channel_value_is_named_by_its_full_variable_and_kept_secret(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TELEGRAM_CLIENT_BOT_TOKENS", "111:aaa,oops-secret")
    monkeypatch.setenv("LANGUAGE", "de")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert caught.value.problems == [
        "LANGUAGE='de' is not a language eadesk speaks: use ru or en",
        "TELEGRAM_CLIENT_BOT_TOKENS has an item that does not look like a bot token (number "
        "2): list tokens from @BotFather separated by commas, like 123456:ABC…,654321:DEF…",
    ]
    assert "oops-secret" not in "\n".join(caught.value.problems)


def test_a_misspelt_channel_variable_is_named_with_the_closest_known_name(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("TELEGRAM_CLIENT_BOT_TOKEN", "111:aaa")
    (tmp_path / ".env").write_text("TELEGRAM_CLIENT_TOKENZ=1\nTELEGRAM_API_URL=http://x\n")
    assert unknown_variables() == [
        ("TELEGRAM_CLIENT_BOT_TOKEN", "TELEGRAM_CLIENT_BOT_TOKENS"),
        ("TELEGRAM_CLIENT_TOKENZ", "TELEGRAM_CLIENT_BOT_TOKENS"),
    ]
    # Loading still works: the misspelt variable is simply not read.
    assert load_settings().channel(TELEGRAM_CLIENT).BOT_TOKENS == []


def test_any_channel_prefix_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry, "CHANNELS", (*registry.CHANNELS, EMAIL))
    monkeypatch.setenv("EMAIL_IMAP_URLL", "imaps://mail.acme.com")
    monkeypatch.setenv("EMAIL_SMTP_URL", "smtps://mail.acme.com")
    assert unknown_variables() == [("EMAIL_IMAP_URLL", "EMAIL_IMAP_URL")]
    assert load_settings().channel(EMAIL).SMTP_URL == "smtps://mail.acme.com"


def test_check_names_a_misspelt_channel_variable(tmp_path: Path) -> None:
    env = {
        "BOT_TOKEN": "100:team",
        "TEAM_CHAT_ID": CHAT,
        "TELEGRAM_API_URL": "http://127.0.0.1:9",  # the discard port: nothing listens
        "TELEGRAM_CLIENT_BOT_TOKEN": "300:client",
    }
    result = run_eadesk("check", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert (
        "✗ TELEGRAM_CLIENT_BOT_TOKEN is set but eadesk knows no such variable, so it is "
        "ignored; did you mean TELEGRAM_CLIENT_BOT_TOKENS?"
    ) in result.stdout


def test_run_warns_about_a_misspelt_channel_variable(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import bot.app

    async def started(settings: Settings) -> int:
        return 0  # as if it ran and stopped

    monkeypatch.setattr(bot.app, "run_app", started)
    monkeypatch.setattr(cli, "configure_logging", lambda level: None)
    monkeypatch.setenv("TELEGRAM_CLIENT_BOT_TOKEN", "111:aaa")
    with caplog.at_level(logging.WARNING):
        assert cli.run_command() == cli.EXIT_OK
    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "TELEGRAM_CLIENT_BOT_TOKEN is set but eadesk knows no such variable, so it is "
        "ignored; did you mean TELEGRAM_CLIENT_BOT_TOKENS?"
    ]


def test_help_lists_the_channel_variables() -> None:
    text = cli.environment_help()
    assert "TELEGRAM_CLIENT_BOT_TOKENS (optional)" in text
