"""`eadesk check`: ask Telegram whether the bots and the team group are set up, in plain words."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TypeVar

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ChatMemberStatus, ChatType
from aiogram.exceptions import (
    AiogramError,
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramMigrateToChat,
    TelegramNetworkError,
    TelegramUnauthorizedError,
)
from aiogram.types import ChatMemberAdministrator, User

from bot.channel_host import ChannelHost
from bot.config import Settings
from connectors import registry
from core.automations.engine import read_rules
from core.automations.rules import RulesError
from core.channels import ChannelSpec
from core.clock import SystemClock
from core.csat import ALL, enabled_kinds
from tgapi.files import TelegramFiles

T = TypeVar("T")

REQUEST_TIMEOUT = 15

# The administrator rights the team bot needs, as the switches are named in Telegram's apps.
REQUIRED_RIGHTS = (
    ("can_manage_topics", "manage topics", "Manage Topics"),
    ("can_delete_messages", "delete messages", "Delete Messages"),
    ("can_pin_messages", "pin messages", "Pin Messages"),
)
ALL_SWITCHES = ", ".join(switch for _, _, switch in REQUIRED_RIGHTS)

# A relay bot needs only to be an administrator to post client messages into topics. These
# rights let it do more; without one it still works, so their absence is a warning.
RELAY_RIGHTS = (
    (
        "can_manage_topics",
        "manage topics",
        "Manage Topics",
        "it posts only into topics the team bot created, and creates none itself",
    ),
    (
        "can_pin_messages",
        "pin messages",
        "Pin Messages",
        "the client cards it posts may stay unpinned",
    ),
)


@dataclass(frozen=True)
class Finding:
    ok: bool
    text: str
    # Works, but not all of it: told, yet no problem for the exit status (`ok` stays True).
    warning: bool = False


class _Unreachable(Exception):
    """Telegram did not answer at all; asking further would only repeat it."""


class _Broken(Exception):
    """This bot cannot be checked further; the finding saying why is already recorded."""


def _session(settings: Settings) -> AiohttpSession:
    api = TelegramAPIServer.from_base(settings.TELEGRAM_API_URL)
    return AiohttpSession(api=api, timeout=REQUEST_TIMEOUT)


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def _token_label(variable: str, number: int, token: str) -> str:
    # The part before the colon is the bot's public id; the rest is the secret.
    return f"{variable}: token {number} ({token.partition(':')[0]}:…)"


class _Checker:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.findings: list[Finding] = []

    def say(self, ok: bool, text: str) -> None:
        self.findings.append(Finding(ok, text))

    def warn(self, text: str) -> None:
        self.findings.append(Finding(True, text, warning=True))

    async def ask(self, call: Awaitable[T], about: str) -> T:
        """Await one Bot API call; turn the errors every call shares into findings."""
        try:
            return await call
        except TelegramNetworkError as error:
            raise _Unreachable(error.message.removeprefix("HTTP Client says - ")) from None
        except TelegramUnauthorizedError:
            self.say(
                False,
                f"{about} is wrong: Telegram does not know this token. Copy it "
                "again from @BotFather (/mybots → the bot → API Token)",
            )
            raise _Broken from None
        except (TelegramBadRequest, TelegramForbiddenError, TelegramMigrateToChat):
            raise
        except (TelegramAPIError, AiogramError) as error:
            self.say(
                False,
                f"Telegram at {self.settings.TELEGRAM_API_URL} answered "
                f"unexpectedly ({_first_line(error)}); check TELEGRAM_API_URL or try again "
                "in a minute",
            )
            raise _Broken from None

    async def team_bot(self) -> None:
        settings = self.settings
        async with Bot(settings.BOT_TOKEN, session=_session(settings)) as bot:
            me = await self.ask(bot.get_me(), "BOT_TOKEN")
            self.say(True, f"BOT_TOKEN works: the team bot is @{me.username}")
            if await self.team_group(bot, me):
                await self.team_bot_rights(bot, me)

    async def team_group(self, bot: Bot, me: User) -> bool:
        chat_id = self.settings.TEAM_CHAT_ID
        try:
            chat = await self.ask(bot.get_chat(chat_id), "BOT_TOKEN")
        except TelegramMigrateToChat as error:
            self.say(
                False,
                f"TEAM_CHAT_ID={chat_id} is the group's old id: it became a "
                f"supergroup, set TEAM_CHAT_ID={error.migrate_to_chat_id}",
            )
            return False
        except TelegramForbiddenError:
            self.say(
                False,
                f"@{me.username} was removed from the group TEAM_CHAT_ID={chat_id}: "
                f"add it again as an administrator with {ALL_SWITCHES}",
            )
            return False
        except TelegramBadRequest:
            self.say(
                False,
                f"@{me.username} cannot see the group TEAM_CHAT_ID={chat_id}: add "
                "the bot to the group and check the id (it looks like -1001234567890)",
            )
            return False
        title = chat.title or str(chat_id)
        if chat.type == ChatType.CHANNEL:
            self.say(
                False,
                f"TEAM_CHAT_ID={chat_id} is the channel «{title}», not a group: eadesk needs a "
                "group with Topics on; create one and put its id in TEAM_CHAT_ID",
            )
        elif chat.type != ChatType.SUPERGROUP:
            self.say(
                False,
                f"the group «{title}» has no topics: turn on Topics in the group "
                "settings (its id then changes: run the check again and follow it)",
            )
        elif not chat.is_forum:
            self.say(False, f"Topics are off in «{title}»: turn on Topics in the group settings")
        else:
            self.say(True, f"the team group «{title}» is reachable and has Topics on")
        return True

    async def team_bot_rights(self, bot: Bot, me: User) -> None:
        member = await self.ask(bot.get_chat_member(self.settings.TEAM_CHAT_ID, me.id), "BOT_TOKEN")
        if not isinstance(member, ChatMemberAdministrator):
            self.say(
                False,
                f"@{me.username} is not an administrator of the group: in the "
                f"group's settings → Administrators → Add Admin → @{me.username}, "
                f"with {ALL_SWITCHES} on",
            )
            return
        missing = [
            (what, switch)
            for right, what, switch in REQUIRED_RIGHTS
            if not getattr(member, right, False)
        ]
        for what, switch in missing:
            self.say(
                False,
                f"@{me.username} cannot {what}: in the group's settings → "
                f"Administrators → @{me.username}, turn on “{switch}”",
            )
        if not missing:
            self.say(True, f"@{me.username} is an administrator with {ALL_SWITCHES}")

    async def relay_bot(self, number: int, token: str, seen: dict[int, int]) -> None:
        """A relay: another bot than the team bot and the other relays, administrator of the
        team group (an error otherwise), with the rights it uses besides posting (warnings)."""
        label = _token_label("RELAY_BOT_TOKENS", number, token)
        async with Bot(token, session=_session(self.settings)) as bot:
            me = await self.ask(bot.get_me(), label)
            name = f"relay bot @{me.username}"
            # A bot's id is the part of its token before the colon.
            if str(me.id) == self.settings.BOT_TOKEN.partition(":")[0]:
                self.say(
                    False,
                    f"{label} is the team bot @{me.username} itself: a relay must be another "
                    "bot, with a budget of its own; create one with @BotFather (/newbot) and "
                    "put its token there",
                )
                return
            if me.id in seen:
                self.say(
                    False,
                    f"{label} is {name} again (as token {seen[me.id]}): one bot has one "
                    "budget; remove the repeat or put another bot's token there",
                )
                return
            seen[me.id] = number
            try:
                member = await self.ask(
                    bot.get_chat_member(self.settings.TEAM_CHAT_ID, me.id), label
                )
            except (TelegramBadRequest, TelegramForbiddenError, TelegramMigrateToChat):
                member = None
            if member is None or member.status in (ChatMemberStatus.LEFT, ChatMemberStatus.KICKED):
                self.say(
                    False,
                    f"{name} is not in the team group: in the group's settings → "
                    f"Administrators → Add Admin → @{me.username} (posting needs no particular "
                    "right; with Manage Topics and Pin Messages on it also creates topics and "
                    "pins client cards)",
                )
                return
            if not isinstance(member, ChatMemberAdministrator):
                self.say(
                    False,
                    f"{name} is not an administrator of the team group: make it "
                    "one (relays only post, so no particular right is needed)",
                )
                return
            self.say(True, f"{name} is an administrator of the team group")
            for right, what, switch, without in RELAY_RIGHTS:
                if not getattr(member, right, False):
                    self.warn(
                        f"{name} works, but cannot {what}: {without}; in the group's "
                        f"settings → Administrators → @{me.username}, turn on “{switch}”",
                    )

    async def channels(self) -> None:
        """Each configured channel's connectors, asked whether they are ready (the team bot
        as the client bot is the team bot's check above)."""
        settings = self.settings
        bots: dict[int, Bot] = {}
        host = ChannelHost(
            clock=SystemClock(),
            api_url=settings.TELEGRAM_API_URL,
            team_chat_id=settings.TEAM_CHAT_ID,
            bots=bots,
            files=TelegramFiles(bots),
            make_bot=lambda token: Bot(token, session=_session(settings)),
        )
        try:
            for spec in registry.CHANNELS:
                if spec not in settings.channels:
                    continue
                for connector in await spec.build(settings.channel(spec), host):
                    problems = await connector.check()
                    for problem in problems:
                        if all(problem != f.text for f in self.findings):
                            self.say(False, problem)
                    if not problems:
                        # "mailbox help@acme.com", but "Website chat", not "website chat
                        # Website chat", when the name says what it is already.
                        named = spec.title.lower() in connector.name.lower()
                        label = connector.name if named else f"{spec.title} {connector.name}"
                        self.say(True, f"{label} works")
        finally:
            await host.close()

    async def integrations(self) -> None:
        """Each configured integration (amoCRM) asked once with its token."""
        for spec in registry.INTEGRATIONS:
            source = (
                spec.build(self.settings.channel(spec)) if spec in self.settings.channels else None
            )
            if source is None:
                continue
            problems = await source.check()
            for problem in problems:
                self.say(False, problem)
            if not problems:
                self.say(True, f"{spec.title} works: it accepts the token")

    def automations(self) -> None:
        """AUTOMATIONS_FILE, read as the running desk reads it: the first mistake and its line.
        (Templates live in the database: /rules tells a rule that names a missing one.)"""
        path = self.settings.AUTOMATIONS_FILE.strip()
        if not path:
            return
        try:
            rules = read_rules(path)
        except RulesError as error:
            self.say(False, f"AUTOMATIONS_FILE {path}: {error}")
            return
        counted = [_count(len(rules.rules), "rule")]
        if rules.slas:
            counted.append(_count(len(rules.slas), "service level"))
        self.say(True, f"AUTOMATIONS_FILE {path}: {', '.join(counted)}")

    def survey(self) -> None:
        """The satisfaction survey asks e-mail clients with links: they must reach eadesk."""
        settings = self.settings
        kinds = enabled_kinds(settings.CSAT_ENABLED)
        by_mail = any(
            isinstance(spec, ChannelSpec) and spec.kind == "email" for spec in settings.channels
        )
        if by_mail and kinds & {ALL, "email"} and not settings.PUBLIC_URL:
            self.warn(
                "CSAT_ENABLED asks e-mail clients to rate with links to PUBLIC_URL, which is not "
                "set: the links would lead to http://HTTP_HOST:HTTP_PORT, which clients cannot "
                "reach; set PUBLIC_URL to the address eadesk is reached at, like "
                "https://help.acme.com"
            )

    async def run(self) -> list[Finding]:
        settings = self.settings
        steps: list[Callable[[], Awaitable[None]]] = [self.team_bot]
        relays: dict[int, int] = {}  # bot id → the number of its token in RELAY_BOT_TOKENS
        for number, token in enumerate(settings.RELAY_BOT_TOKENS, 1):
            steps.append(partial(self.relay_bot, number, token, relays))
        steps.append(self.channels)
        try:
            for step in steps:
                try:
                    await step()
                except _Broken:
                    pass
                except TelegramAPIError as error:
                    self.say(False, f"Telegram refused a check: {error.message}")
        except _Unreachable as error:
            self.say(
                False,
                f"Telegram cannot be reached at {settings.TELEGRAM_API_URL} ({error}): check "
                "this machine's internet connection, proxy or firewall, and TELEGRAM_API_URL",
            )
        # Not Telegram's: asked also when Telegram cannot be reached.
        await self.integrations()
        self.automations()
        self.survey()
        return self.findings


async def check_telegram(settings: Settings) -> list[Finding]:
    """What is right and what is missing, one finding per thing a person can fix."""
    return await _Checker(settings).run()
