import re
from datetime import timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.config import (
    SIZE_SETTINGS,
    ConfigError,
    Settings,
    load_settings,
    variables,
)
from connectors import registry
from connectors.telegram.settings import CHANNEL as TELEGRAM_CLIENT
from core.durations import format_duration
from core.sizes import parse_size

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKdiHm9T0"
CHAT = "-1001234567890"
CHAT_ID = -1001234567890


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    # A developer's shell may set LANGUAGE or LOG_LEVEL for other programs.
    for name in variables():
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def every_field() -> list:
    """Each variable with its field: the team's, then each channel's (by its prefix)."""
    fields = list(Settings.model_fields.items())
    for spec in registry.specs():
        fields += [(spec.prefix + name, f) for name, f in spec.settings.model_fields.items()]
    return fields


def configure(monkeypatch: pytest.MonkeyPatch, **values: str) -> Settings:
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TEAM_CHAT_ID", CHAT)
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return load_settings(env_file=None)


def problems_for(monkeypatch: pytest.MonkeyPatch, **values: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        configure(monkeypatch, **values)
    return caught.value.problems


def test_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = configure(monkeypatch)
    assert settings.BOT_TOKEN == TOKEN
    assert settings.TEAM_CHAT_ID == CHAT_ID
    assert settings.TELEGRAM_API_URL == "https://api.telegram.org"
    assert settings.DATABASE_URL == "sqlite://data/eadesk.sqlite3"
    assert settings.LANGUAGE == "ru"
    assert settings.TIMEZONE == "Europe/Moscow"
    assert settings.tz == ZoneInfo("Europe/Moscow")
    assert format_duration(settings.REOPEN_WINDOW_MESSENGER) == "48h"
    assert format_duration(settings.REOPEN_WINDOW_EMAIL) == "120h"
    assert settings.manager_ids == frozenset()
    assert settings.manager_usernames == frozenset()
    assert settings.channel(TELEGRAM_CLIENT).BOT_TOKENS == []
    assert settings.RELAY_BOT_TOKENS == []
    assert settings.GROUP_MESSAGES_PER_MINUTE == 20
    assert settings.HTTP_HOST == "127.0.0.1"
    assert settings.HTTP_PORT == 8080
    assert settings.LOG_LEVEL == "INFO"
    assert settings.sqlite_path == Path("data/eadesk.sqlite3")


def test_nothing_set_names_both_required_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None)
    assert caught.value.problems == [
        "BOT_TOKEN is not set: the bot token from @BotFather, "
        "like 123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKd",
        "TEAM_CHAT_ID is not set: the id of the team's forum supergroup, like -1001234567890",
    ]


def test_empty_value_counts_as_not_set(monkeypatch: pytest.MonkeyPatch) -> None:
    problems = problems_for(monkeypatch, BOT_TOKEN="", LANGUAGE="")
    assert problems == [
        "BOT_TOKEN is not set: the bot token from @BotFather, "
        "like 123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKd"
    ]


def test_values_are_read_and_normalised(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = configure(
        monkeypatch,
        TELEGRAM_API_URL="http://127.0.0.1:8081/",
        DATABASE_URL="postgres://eadesk:secret@db:5432/eadesk",
        LANGUAGE="EN",
        TIMEZONE="UTC",
        REOPEN_WINDOW_MESSENGER="1d12h",
        REOPEN_WINDOW_EMAIL="5d",
        GROUP_MESSAGES_PER_MINUTE="15",
        HTTP_HOST="0.0.0.0",
        HTTP_PORT="9000",
        LOG_LEVEL="debug",
    )
    assert settings.TELEGRAM_API_URL == "http://127.0.0.1:8081"
    assert settings.DATABASE_URL == "postgres://eadesk:secret@db:5432/eadesk"
    assert settings.sqlite_path is None
    assert settings.LANGUAGE == "en"
    assert settings.tz == ZoneInfo("UTC")
    assert format_duration(settings.REOPEN_WINDOW_MESSENGER) == "36h"
    assert format_duration(settings.REOPEN_WINDOW_EMAIL) == "120h"
    assert settings.GROUP_MESSAGES_PER_MINUTE == 15
    assert (settings.HTTP_HOST, settings.HTTP_PORT) == ("0.0.0.0", 9000)
    assert settings.LOG_LEVEL == "DEBUG"


@pytest.mark.parametrize(
    "url",
    ["sqlite://:memory:", "sqlite:///var/lib/eadesk.db", "postgresql://u:p@localhost/eadesk"],
)
def test_database_urls_accepted(monkeypatch: pytest.MonkeyPatch, url: str) -> None:
    assert configure(monkeypatch, DATABASE_URL=url).model_dump()["DATABASE_URL"] == url


def test_file_storage_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = configure(monkeypatch)
    assert (settings.BLOBS_DIR, settings.FILE_SIZE_LIMIT) == ("data/blobs", 50 * 1024 * 1024)
    settings = configure(monkeypatch, BLOBS_DIR=" /srv/eadesk/files ", FILE_SIZE_LIMIT="20 MB")
    assert (settings.BLOBS_DIR, settings.FILE_SIZE_LIMIT) == ("/srv/eadesk/files", 20 * 1024**2)
    assert problems_for(monkeypatch, FILE_SIZE_LIMIT="huge") == [
        "FILE_SIZE_LIMIT='huge' is not a size: use a number with KB, MB or GB, like 50MB"
    ]
    assert problems_for(monkeypatch, FILE_SIZE_LIMIT="0MB") == [
        "FILE_SIZE_LIMIT='0MB' is zero: use a positive number with KB, MB or GB, like 50MB"
    ]


def test_reopen_windows_per_channel_kind(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = configure(monkeypatch, REOPEN_WINDOW_MESSENGER="24h", REOPEN_WINDOW_EMAIL="3d")
    assert settings.reopen_windows() == {
        "messenger": timedelta(hours=24),
        "social": timedelta(hours=24),
        "webchat": timedelta(hours=24),
        "telephony": timedelta(hours=24),
        "email": timedelta(days=3),
    }


def test_managers_split_into_ids_and_usernames(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = configure(monkeypatch, MANAGERS=" 111, @Anna;222  boris_k ,")
    assert settings.manager_ids == {111, 222}
    assert settings.manager_usernames == {"anna", "boris_k"}
    assert settings.is_manager(111, None)
    assert settings.is_manager(5, "ANNA")
    assert settings.is_manager(5, "@boris_k")
    assert not settings.is_manager(5, "anna_2")
    assert not settings.is_manager(5, None)
    assert not settings.is_manager(None, "")


def test_token_lists_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = configure(
        monkeypatch,
        TELEGRAM_CLIENT_BOT_TOKENS="111:aaa, 222:bbb,,111:aaa",
        RELAY_BOT_TOKENS="333:ccc 444:ddd",
    )
    assert settings.channel(TELEGRAM_CLIENT).BOT_TOKENS == ["111:aaa", "222:bbb"]
    assert settings.RELAY_BOT_TOKENS == ["333:ccc", "444:ddd"]


def test_single_token_list_is_not_json(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = configure(monkeypatch, RELAY_BOT_TOKENS="333:ccc")
    assert settings.RELAY_BOT_TOKENS == ["333:ccc"]


@pytest.mark.parametrize(
    ("name", "value", "line"),
    [
        (
            "BOT_TOKEN",
            "not-a-token",
            "BOT_TOKEN does not look like a bot token: the bot token from @BotFather, "
            "like 123456789:AAHfiqksKZ8WmR2zSjiQ7_v4TMAKd",
        ),
        (
            "TEAM_CHAT_ID",
            "my group",
            "TEAM_CHAT_ID='my group' is not a whole number: "
            "the id of the team's forum supergroup, like -1001234567890",
        ),
        ("TEAM_CHAT_ID", "12345", "TEAM_CHAT_ID='12345' is not a group's id"),
        ("TEAM_CHAT_ID", "-4012345", "TEAM_CHAT_ID='-4012345' is the id of a basic group"),
        ("TELEGRAM_API_URL", "api.telegram.org", "TELEGRAM_API_URL='api.telegram.org' is not"),
        ("DATABASE_URL", "mysql://db/eadesk", "DATABASE_URL='mysql://db/eadesk' is not a"),
        ("DATABASE_URL", "postgres:///eadesk", "DATABASE_URL='postgres:///eadesk' has no host"),
        ("LANGUAGE", "fr", "LANGUAGE='fr' is not a language eadesk speaks: use ru or en"),
        ("TIMEZONE", "Moscow", "TIMEZONE='Moscow' is not a time zone"),
        (
            "REOPEN_WINDOW_EMAIL",
            "5 days",
            "REOPEN_WINDOW_EMAIL='5 days' is not a duration: "
            "use a number with s, m, h or d, like 48h",
        ),
        ("REOPEN_WINDOW_MESSENGER", "0h", "REOPEN_WINDOW_MESSENGER='0h' is zero"),
        ("MANAGERS", "@anna, bob!", "MANAGERS='@anna, bob!' has 'bob!', which is neither"),
        (
            "TELEGRAM_CLIENT_BOT_TOKENS",
            "111:aaa,oops",
            "TELEGRAM_CLIENT_BOT_TOKENS has an item that does not look like a bot token (number 2)",
        ),
        ("RELAY_BOT_TOKENS", "oops", "RELAY_BOT_TOKENS has an item that does not look like"),
        ("GROUP_MESSAGES_PER_MINUTE", "lots", "GROUP_MESSAGES_PER_MINUTE='lots' is not a whole"),
        ("GROUP_MESSAGES_PER_MINUTE", "0", "GROUP_MESSAGES_PER_MINUTE='0' is too low"),
        ("HTTP_HOST", "http://x", "HTTP_HOST='http://x' is not a host"),
        ("HTTP_PORT", "70000", "HTTP_PORT='70000' is not a TCP port"),
        ("LOG_LEVEL", "loud", "LOG_LEVEL='loud' is not a log level"),
    ],
)
def test_each_bad_value_is_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, line: str
) -> None:
    problems = problems_for(monkeypatch, **{name: value})
    assert len(problems) == 1
    assert problems[0].startswith(line)
    assert "\n" not in problems[0]
    assert "Value error" not in problems[0]


def test_all_problems_are_collected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TEAM_CHAT_ID", "x")
    monkeypatch.setenv("HTTP_PORT", "x")
    monkeypatch.setenv("REOPEN_WINDOW_EMAIL", "x")
    with pytest.raises(ConfigError) as caught:
        load_settings(env_file=None)
    named = [problem.split(" ")[0].split("=")[0] for problem in caught.value.problems]
    assert named == ["BOT_TOKEN", "TEAM_CHAT_ID", "REOPEN_WINDOW_EMAIL", "HTTP_PORT"]
    assert str(caught.value) == "\n".join(caught.value.problems)


def test_secrets_are_not_echoed(monkeypatch: pytest.MonkeyPatch) -> None:
    problems = problems_for(
        monkeypatch,
        BOT_TOKEN="123456 secret",
        RELAY_BOT_TOKENS="1:ok,secret-two",
        DATABASE_URL="mysql://user:hunter2@db/eadesk",
    )
    assert len(problems) == 3
    assert not any("secret" in problem or "hunter2" in problem for problem in problems)
    assert "DATABASE_URL='mysql://user:***@db/eadesk'" in problems[1]


def test_relay_must_be_another_bot(monkeypatch: pytest.MonkeyPatch) -> None:
    problems = problems_for(monkeypatch, RELAY_BOT_TOKENS=f"1:a,{TOKEN}")
    assert problems == [
        "RELAY_BOT_TOKENS repeats BOT_TOKEN: a relay must be another bot, "
        "created with @BotFather for this purpose"
    ]


def test_system_language_variable_does_not_block_start(monkeypatch: pytest.MonkeyPatch) -> None:
    # LANGUAGE is also gettext's variable; a desktop may have it set already.
    assert configure(monkeypatch, LANGUAGE="en_US:en").LANGUAGE == "en"
    assert configure(monkeypatch, LANGUAGE="ru_RU.UTF-8").LANGUAGE == "ru"
    assert configure(monkeypatch, LANGUAGE="de_DE:de").LANGUAGE == "ru"


def test_env_file_is_read_and_environment_wins(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"BOT_TOKEN={TOKEN}\nTEAM_CHAT_ID={CHAT}\nLANGUAGE=en\nHTTP_PORT=9001\n"
        "MANAGERS=1,2\nRELAY_BOT_TOKENS=5:e,6:f\nEMAIL_IMAP_HOST=imap.example.com\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("HTTP_PORT", "9002")
    settings = load_settings(str(env_file))
    assert settings.LANGUAGE == "en"
    assert settings.HTTP_PORT == 9002
    assert settings.manager_ids == {1, 2}
    assert settings.RELAY_BOT_TOKENS == ["5:e", "6:f"]


def test_missing_env_file_is_fine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("BOT_TOKEN", TOKEN)
    monkeypatch.setenv("TEAM_CHAT_ID", CHAT)
    assert load_settings(str(tmp_path / "absent.env")).TEAM_CHAT_ID == CHAT_ID


def test_the_token_stays_out_of_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = configure(monkeypatch, RELAY_BOT_TOKENS="777:relaysecret")
    assert TOKEN not in repr(settings)
    assert "relaysecret" not in repr(settings)


def test_env_example_documents_every_variable_with_its_default() -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    assigned = dict(re.findall(r"^([A-Z_]+)=(.*)$", text, flags=re.MULTILINE))
    assert list(assigned) == variables()
    for name, field in every_field():
        if field.is_required():
            assert assigned[name] == "", f"{name} must be left for the user to fill"
            continue
        default = field.get_default(call_default_factory=True)
        if isinstance(default, timedelta):
            assert assigned[name] == format_duration(default), name
        elif name in SIZE_SETTINGS:
            assert parse_size(assigned[name]) == default, name
        elif default in ([], "", None):
            assert assigned[name] == "", name
        else:
            assert assigned[name] == str(default), name


def test_env_example_loads_once_the_required_values_are_filled(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    text = (ROOT / ".env.example").read_text(encoding="utf-8")
    text = text.replace("BOT_TOKEN=\n", f"BOT_TOKEN={TOKEN}\n")
    text = text.replace("TEAM_CHAT_ID=\n", f"TEAM_CHAT_ID={CHAT}\n")
    (tmp_path / ".env").write_text(text, encoding="utf-8")
    settings = load_settings(str(tmp_path / ".env"))
    assert settings.TEAM_CHAT_ID == CHAT_ID


def test_readme_table_lists_every_variable() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| `([A-Z_]+)` \|", text, flags=re.MULTILINE)
    assert rows == variables()
