"""Team work (assignment, tags, templates, the card, the board, lists) wired in one place,
and who reaches it: current members of the team group, nobody else."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command, MagicData
from aiogram.types import CallbackQuery, Message, User

from bot.group.board import Board
from bot.group.card import Card
from bot.group.desk import Desk
from bot.i18n import pick_language, t
from bot.team.answers import quietly
from bot.team.assign import AssigneeNotices, assign_router
from bot.team.automation_posts import AutomationPosts
from bot.team.ban import ban_router
from bot.team.card_buttons import card_router
from bot.team.clients import clients_router
from bot.team.context import Team, Timings, group_router, operator_middleware
from bot.team.csat import CsatFront
from bot.team.digests import DigestSender
from bot.team.duty import duty_router
from bot.team.history import History, history_group_router, history_private_router
from bot.team.inline import inline_router, via_bot_router
from bot.team.listing import add_listing
from bot.team.membership import FormerMember, Membership, OnTeam
from bot.team.middlewares import dialog_middleware
from bot.team.original import original_router
from bot.team.outbound import outbound_router
from bot.team.rules import rules_router
from bot.team.sla import SlaNotices
from bot.team.stats import Stats, stats_router
from bot.team.tags import tags_router
from bot.team.tasks import Tasks, tasks_group_router, tasks_private_router
from bot.team.templates import Templates, add_management, templates_router
from core.service import Core

# What only the team may ask in private (/start and /help are anyone's first words).
TEAM_COMMANDS = (
    "my",
    "list",
    "templates",
    "template",
    "notes",
    "tasks",
    "task",
    "stats",
    "duty",
    "rules",
)


class Teamwork:
    def __init__(self, core: Core, desk: Desk, bot: Bot, settings: Any) -> None:
        self.membership = Membership(core, bot, int(settings.TEAM_CHAT_ID))
        self.team = Team(core, desk, bot, settings, Timings(), self.membership)
        self.templates = Templates(self.team)
        self.card = Card(self.team)
        self.board = Board(self.team)
        self.notices = AssigneeNotices(self.team)
        self.history = History(self.team)
        self.tasks = Tasks(self.team)
        self.stats = Stats(self.team)
        self.automation_posts = AutomationPosts(self.team)
        self.sla = SlaNotices(self.team)
        self.digests = DigestSender(self.team)

    @property
    def timings(self) -> Timings:
        return self.team.timings

    def install(self) -> None:
        self.card.install()
        self.board.install()
        self.notices.install()
        self.tasks.install()
        self.automation_posts.install()
        CsatFront(self.team, self.card).install()
        self.sla.install()
        self.digests.install()

    def group_routers(self) -> list[Router]:
        """Include these before the team router: its catch-alls would take their messages."""
        team = self.team
        listing = group_router("team-listing", team)
        add_listing(listing, team, private=False)
        return [
            via_bot_router(team),
            assign_router(team),
            tags_router(team),
            ban_router(team),
            outbound_router(team),
            templates_router(team, self.templates),
            card_router(team, self.card.view),
            original_router(team),
            history_group_router(team, self.history),
            tasks_group_router(team, self.tasks),
            clients_router(team, self.card.view),
            stats_router(team, self.stats, "stats-group"),
            rules_router(team, "rules-group"),
            duty_router(team, "duty-group"),
            listing,
        ]

    def private_router(self) -> Router:
        """/my, /list, /templates, /template, /tasks and the history's buttons in a member's
        private chat."""
        router = Router(name="operator-private-teamwork")
        add_listing(router, self.team, private=True)
        add_management(router, self.team, self.templates)
        router.include_routers(
            history_private_router(self.team, self.history),
            tasks_private_router(self.team, self.tasks),
            stats_router(self.team, self.stats, "stats-private"),
            rules_router(self.team, "rules-private"),
            duty_router(self.team, "duty-private"),
        )
        return router

    def inline_router(self) -> Router:
        return inline_router(self.team, self.templates)

    # ---- who gets in ----------------------------------------------------------------------

    def in_group(self, *routers: Router) -> Router:
        """The team group: current members reach `routers` in order, with `operator` and `lang`
        (the group's language: everyone there reads it). Anyone else reaches none of them."""
        chat_id = self.team.chat_id
        gate = Router(name="team-group")
        on_team = OnTeam(self.membership)
        gate.message.filter(F.chat.id == chat_id, on_team)
        gate.edited_message.filter(F.chat.id == chat_id, on_team)
        gate.callback_query.filter(F.message.chat.id == chat_id, on_team)
        return self.gated(gate, routers, group_lang=self.team.desk.gateway.lang, in_group=True)

    def in_private(self, *routers: Router) -> Router:
        """A member's private chat with the team bot: their own space, never a client's."""
        gate = Router(name="team-private")
        on_team = OnTeam(self.membership)
        gate.message.filter(F.chat.type == "private", on_team)
        gate.edited_message.filter(F.chat.type == "private", on_team)
        gate.callback_query.filter(F.message.chat.type == "private", on_team)
        return self.gated(gate, routers)

    def gated(
        self,
        gate: Router,
        routers: tuple[Router, ...],
        group_lang: str | None = None,
        in_group: bool = False,
    ) -> Router:
        """In doubt: "try again later"; otherwise the members' routers, with `operator` (and
        in the group `dialog`, the dialog of the topic or of the button)."""

        @gate.message(MagicData(F.in_doubt))
        async def doubt(message: Message, event_from_user: User) -> None:
            lang = pick_language(event_from_user.language_code)
            await message.answer(t("access.in_doubt", lang))

        @gate.callback_query(MagicData(F.in_doubt))
        async def doubt_button(query: CallbackQuery) -> None:
            lang = pick_language(query.from_user.language_code)
            await query.answer(t("access.in_doubt", lang), show_alert=True)

        @gate.edited_message(MagicData(F.in_doubt))
        async def doubt_edit() -> None:
            """Nothing to do with an edit we cannot place."""

        members = Router(name=f"{gate.name}-members")
        # Inner: around the handlers of every router below, once one matched.
        middleware = operator_middleware(self.team.core.clock, group_lang)
        dialogs = dialog_middleware(self.team.chat_id, self.team.no_dialog_here)
        for observer in (members.message, members.edited_message, members.callback_query):
            observer.middleware(middleware)
            if in_group:
                observer.middleware(dialogs)
        rest = Router(name=f"{gate.name}-rest")

        @rest.callback_query()
        async def stale_button(query: CallbackQuery, lang: str) -> None:
            # A member's button nobody handles: an old keyboard, or data that does not unpack
            # into its bot.callbacks class. A short answer; nothing changes.
            await quietly(lambda: query.answer(t("error.stale_button", lang)), "button answer")

        members.include_routers(*routers, rest)
        gate.include_router(members)
        return gate

    def former_members(self) -> Router:
        """Someone who has left the team asking for the team's things: a plain no, never a
        client's message in a topic (the team bot may be a client bot too)."""
        router = Router(name="team-former-members")
        router.message.filter(F.chat.type == "private", Command(*TEAM_COMMANDS), FormerMember())

        @router.message()
        async def refuse(message: Message, event_from_user: User) -> None:
            lang = pick_language(event_from_user.language_code)
            await message.answer(t("access.team_only", lang))

        return router

    def outsiders(self) -> Router:
        """Include last: what no other router took comes from someone off the team. In
        private that is a stranger only when the team bot serves no clients (the client
        router, included before, takes everything a client says)."""
        router = Router(name="team-outsiders")

        @router.callback_query()
        async def button(query: CallbackQuery) -> None:
            lang = pick_language(query.from_user.language_code)
            await query.answer(t("access.team_only", lang), show_alert=True)

        @router.message(F.chat.type == "private", F.text)
        async def private(message: Message, event_from_user: User) -> None:
            lang = pick_language(event_from_user.language_code)
            await message.answer(t("access.team_only", lang))

        return router
