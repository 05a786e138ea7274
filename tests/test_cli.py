import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bot.checks import Finding, check_telegram
from bot.cli import main
from bot.config import Settings

TEAM_TOKEN = "100:team"
RELAY_TOKEN = "200:relay"
CLIENT_TOKEN = "300:client"
CHAT_ID = -1001234567890


def run_eadesk(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`python -m bot …` as a new user would start it: no .env, nothing but PATH and HOME."""
    environment = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(cwd)}
    environment.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_check_without_configuration_names_the_required_variables(tmp_path: Path) -> None:
    result = run_eadesk("check", cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode == 2
    assert "eadesk is not configured yet" in output
    assert "BOT_TOKEN is not set" in output
    assert "TEAM_CHAT_ID is not set" in output
    assert "Traceback" not in output


def test_run_without_configuration_says_what_is_missing(tmp_path: Path) -> None:
    # Neither set starts the sandbox (tests/sandbox); one of the two is a setup half done.
    result = run_eadesk("run", cwd=tmp_path, env={"TEAM_CHAT_ID": str(CHAT_ID)})
    assert result.returncode == 2
    assert "BOT_TOKEN is not set" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_reads_dotenv_in_the_current_directory(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"BOT_TOKEN={TEAM_TOKEN}\nTEAM_CHAT_ID=-4001\n")
    result = run_eadesk("check", cwd=tmp_path)
    assert result.returncode == 2
    assert "BOT_TOKEN" not in result.stderr
    assert "TEAM_CHAT_ID='-4001' is the id of a basic group" in result.stderr


def test_check_says_when_telegram_cannot_be_reached(tmp_path: Path) -> None:
    env = {
        "BOT_TOKEN": TEAM_TOKEN,
        "TEAM_CHAT_ID": str(CHAT_ID),
        "TELEGRAM_API_URL": "http://127.0.0.1:9",  # the discard port: nothing listens
    }
    result = run_eadesk("check", cwd=tmp_path, env=env)
    assert result.returncode == 1
    assert "Telegram cannot be reached at http://127.0.0.1:9" in result.stdout


def test_help_lists_commands_and_every_variable(tmp_path: Path) -> None:
    result = run_eadesk("--help", cwd=tmp_path)
    assert result.returncode == 0
    assert "helpdesk" in result.stdout
    assert "run" in result.stdout
    assert "check" in result.stdout
    for name in Settings.model_fields:
        assert name in result.stdout
    assert "REOPEN_WINDOW_EMAIL = 120h" in result.stdout
    assert "FILE_SIZE_LIMIT = 50MB" in result.stdout
    assert "TELEGRAM_API_URL = https://api.telegram.org" in result.stdout
    assert "BOT_TOKEN (required)" in result.stdout


def test_no_command_prints_help_and_fails(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: eadesk" in capsys.readouterr().err


# A minimal stand-in for the Bot API, enough for `check`; the full emulator lives in
# sandbox/emulator and exercises the same code in its own tests.


class FakeTelegram:
    def __init__(self) -> None:
        self.bots = {
            TEAM_TOKEN: {"id": 100, "is_bot": True, "first_name": "Team", "username": "team_bot"},
            RELAY_TOKEN: {"id": 200, "is_bot": True, "first_name": "R", "username": "relay_bot"},
            CLIENT_TOKEN: {"id": 300, "is_bot": True, "first_name": "C", "username": "acme_bot"},
        }
        self.chat: dict[str, Any] | None = {
            "id": CHAT_ID,
            "type": "supergroup",
            "title": "Acme support",
            "is_forum": True,
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }
        self.rights = {
            "can_manage_topics": True,
            "can_delete_messages": True,
            "can_pin_messages": True,
        }
        self.admins = {100, 200}

    def member(self, user_id: int) -> dict[str, Any]:
        user = next(bot for bot in self.bots.values() if bot["id"] == user_id)
        if user_id not in self.admins:
            return {"status": "member", "user": user}
        flags = (
            "can_be_edited is_anonymous can_manage_chat can_manage_video_chats "
            "can_restrict_members can_promote_members can_change_info can_invite_users "
            "can_post_stories can_edit_stories can_delete_stories can_send_welcome_messages"
        )
        member = {"status": "administrator", "user": user, **dict.fromkeys(flags.split(), False)}
        return member | self.rights

    async def handle(self, request: web.Request) -> web.Response:
        token, method = request.match_info["token"], request.match_info["method"]
        if token not in self.bots:
            return self.error(401, "Unauthorized")
        if method == "getMe":
            return self.ok(self.bots[token])
        if self.chat is None:
            return self.error(400, "Bad Request: chat not found")
        if method == "getChat":
            return self.ok(self.chat)
        if method == "getChatMember":
            form = await request.post()
            return self.ok(self.member(int(str(form["user_id"]))))
        return self.error(404, "Not Found")

    @staticmethod
    def ok(result: Any) -> web.Response:
        return web.json_response({"ok": True, "result": result})

    @staticmethod
    def error(code: int, description: str) -> web.Response:
        body = {"ok": False, "error_code": code, "description": description}
        return web.json_response(body, status=code)


@pytest.fixture
async def telegram() -> AsyncIterator[tuple[FakeTelegram, str]]:
    fake = FakeTelegram()
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", fake.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield fake, str(server.make_url("")).rstrip("/")
    finally:
        await server.close()


def settings_for(url: str, **values: Any) -> Settings:
    values = {"BOT_TOKEN": TEAM_TOKEN, "TEAM_CHAT_ID": CHAT_ID, **values}
    return Settings(_env_file=None, TELEGRAM_API_URL=url, **values)


def failures(findings: list[Finding]) -> list[str]:
    return [finding.text for finding in findings if not finding.ok]


async def test_check_passes_when_everything_is_ready(telegram: tuple[FakeTelegram, str]) -> None:
    _, url = telegram
    findings = await check_telegram(
        settings_for(url, RELAY_BOT_TOKENS=[RELAY_TOKEN], TELEGRAM_CLIENT_BOT_TOKENS=[CLIENT_TOKEN])
    )
    assert failures(findings) == []
    assert [finding.text for finding in findings] == [
        "BOT_TOKEN works: the team bot is @team_bot",
        "the team group «Acme support» is reachable and has Topics on",
        "@team_bot is an administrator with Manage Topics, Delete Messages, Pin Messages",
        "relay bot @relay_bot is an administrator of the team group",
        "client bot @acme_bot works",
    ]


async def test_check_names_a_wrong_token(telegram: tuple[FakeTelegram, str]) -> None:
    _, url = telegram
    findings = await check_telegram(settings_for(url, BOT_TOKEN="999:wrong"))
    assert failures(findings) == [
        "BOT_TOKEN is wrong: Telegram does not know this token. Copy it again from "
        "@BotFather (/mybots → the bot → API Token)"
    ]


async def test_check_says_to_add_the_bot_to_the_group(telegram: tuple[FakeTelegram, str]) -> None:
    fake, url = telegram
    fake.chat = None
    (problem,) = failures(await check_telegram(settings_for(url)))
    assert problem.startswith(f"@team_bot cannot see the group TEAM_CHAT_ID={CHAT_ID}: add the bot")


async def test_check_says_to_turn_on_topics(telegram: tuple[FakeTelegram, str]) -> None:
    fake, url = telegram
    assert fake.chat is not None
    fake.chat["is_forum"] = False
    assert failures(await check_telegram(settings_for(url))) == [
        "Topics are off in «Acme support»: turn on Topics in the group settings"
    ]


async def test_check_names_each_missing_right(telegram: tuple[FakeTelegram, str]) -> None:
    fake, url = telegram
    fake.rights = {
        "can_manage_topics": False,
        "can_delete_messages": True,
        "can_pin_messages": False,
    }
    assert failures(await check_telegram(settings_for(url))) == [
        "@team_bot cannot manage topics: in the group's settings → Administrators → "
        "@team_bot, turn on “Manage Topics”",
        "@team_bot cannot pin messages: in the group's settings → Administrators → "
        "@team_bot, turn on “Pin Messages”",
    ]


async def test_check_says_the_bot_is_not_an_administrator(
    telegram: tuple[FakeTelegram, str],
) -> None:
    fake, url = telegram
    fake.admins = {200}
    (problem,) = failures(await check_telegram(settings_for(url)))
    assert problem.startswith("@team_bot is not an administrator of the group")


async def test_check_relays_and_client_bots(telegram: tuple[FakeTelegram, str]) -> None:
    fake, url = telegram
    fake.admins = {100}
    findings = await check_telegram(
        settings_for(url, RELAY_BOT_TOKENS=[RELAY_TOKEN], TELEGRAM_CLIENT_BOT_TOKENS=["301:gone"])
    )
    assert failures(findings) == [
        "relay bot @relay_bot is not an administrator of the team group: make it one "
        "(relays only post, so no particular right is needed)",
        "TELEGRAM_CLIENT_BOT_TOKENS: token 1 (301:…) is wrong: Telegram does not know this "
        "token. Copy it again from @BotFather (/mybots → the bot → API Token)",
    ]


async def test_check_exit_status_follows_the_findings(
    telegram: tuple[FakeTelegram, str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # main() runs its own event loop, so it goes to a thread here.
    import asyncio

    fake, url = telegram
    monkeypatch.chdir(tmp_path)
    for name in Settings.model_fields:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BOT_TOKEN", TEAM_TOKEN)
    monkeypatch.setenv("TEAM_CHAT_ID", str(CHAT_ID))
    monkeypatch.setenv("TELEGRAM_API_URL", url)
    assert await asyncio.to_thread(main, ["check"]) == 0
    assert "✓ the team group «Acme support» is reachable" in capsys.readouterr().out
    fake.rights["can_delete_messages"] = False
    assert await asyncio.to_thread(main, ["check"]) == 1
    output = capsys.readouterr().out
    assert "✗ @team_bot cannot delete messages" in output
    assert "1 thing(s) to fix" in output
