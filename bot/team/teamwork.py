"""Team work (assignment, tags, templates, the card, the board, lists) wired in one place."""

from __future__ import annotations

from typing import Any

from aiogram import Bot, F, Router
from aiogram.filters import Command

from bot.private import TeamMember
from bot.team.assign import AssigneeNotices, assign_router
from bot.team.board import Board
from bot.team.card import Card, card_router
from bot.team.context import Team, Timings, group_router, operator_middleware
from bot.team.desk import Desk
from bot.team.inline import inline_router, via_bot_router
from bot.team.listing import add_listing
from bot.team.tags import tags_router
from bot.team.templates import Templates, add_management, templates_router
from core.service import Core

PRIVATE_COMMANDS = ("my", "list", "templates", "template")


class Teamwork:
    def __init__(self, core: Core, desk: Desk, bot: Bot, settings: Any) -> None:
        self.team = Team(core, desk, bot, settings, Timings())
        self.templates = Templates(self.team)
        self.card = Card(self.team)
        self.board = Board(self.team)
        self.notices = AssigneeNotices(self.team)

    @property
    def timings(self) -> Timings:
        return self.team.timings

    def install(self) -> None:
        self.card.install()
        self.board.install()
        self.notices.install()

    def group_routers(self) -> list[Router]:
        """Include these before the team router: its catch-alls would take their messages."""
        team = self.team
        listing = group_router("team-listing", team)
        add_listing(listing, team, private=False)
        return [
            via_bot_router(team),
            assign_router(team),
            tags_router(team),
            templates_router(team, self.templates),
            card_router(team, self.card),
            listing,
            inline_router(team, self.templates),
        ]

    def private_router(self) -> Router:
        team = self.team
        router = Router(name="operator-private-teamwork")
        router.message.filter(
            F.chat.type == "private", Command(*PRIVATE_COMMANDS), TeamMember(team.chat_id)
        )
        router.callback_query.filter(F.message.chat.type == "private")
        middleware = operator_middleware(team.core.clock)
        router.message.middleware(middleware)
        router.callback_query.middleware(middleware)
        add_listing(router, team, private=True)
        add_management(router, team, self.templates)
        return router
