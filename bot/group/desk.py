"""The team group's side of every dialog, wired to the outbox and the event bus in one place:
the gateway into the group (bots, budgets, the topic), the topics' looks, the feed of client
messages and their edits, notices in the topic, and notes delivered to operators in private.

Every call into the group goes through the outbox and the group's budget.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from aiogram import Bot

from bot.group.edits import Edits
from bot.group.feed import Feed
from bot.group.gateway import Gateway, Poster
from bot.group.left_out import LeftOutNotices
from bot.group.notices import Notices
from bot.group.rows import (
    GROUP,
    POSTERS,
    PRIVATE_NOTE,
    TOPIC_EDIT,
    TOPIC_MARK,
    TOPIC_NOTICE,
    TOPIC_POST,
    TOPIC_STATUS,
)
from bot.group.topics import Topics
from bot.private.notes import Notes
from bot.team.group_answers import GROUP_ANSWER, GroupAnswers
from core.events import (
    ContentLeftOut,
    DeliveryFailed,
    MessageCreated,
    MessageEdited,
    NoteCreated,
    StatusChanged,
)
from core.service import Core
from tgapi.files import TelegramFiles
from tgapi.limits import GroupBudget


class Desk:
    def __init__(
        self,
        core: Core,
        bot: Bot,
        team_chat_id: int,
        bots: dict[int, Bot],
        budget: GroupBudget,
        language: str,
        tz: ZoneInfo | None = None,
        relays: list[Poster] | None = None,
        files: TelegramFiles | None = None,
    ) -> None:
        self.core = core
        self.gateway = Gateway(core, bot, team_chat_id, bots, budget, language, relays, files)
        self.notices = Notices(self.gateway)
        self.topics = Topics(self.gateway)
        self.feed = Feed(self.gateway, self.notices, tz)
        self.edits = Edits(self.gateway)
        self.notes = Notes(self.gateway, self.notices)

    def install(self) -> None:
        gateway, worker = self.gateway, self.core.outbox
        worker.handle(TOPIC_POST, self.feed.post_client_message)
        worker.handle(TOPIC_EDIT, self.edits.mirror_client_edit)
        worker.handle(TOPIC_STATUS, self.topics.show_status)
        worker.handle(TOPIC_NOTICE, self.notices.post_notice)
        worker.handle(PRIVATE_NOTE, self.notes.deliver_note)
        worker.handle(TOPIC_MARK, self.notices.mark_undelivered)
        # Every call into the group waits for a budget; the worker leaves such rows alone
        # (no reads, no writes) while their budget is spent. The team bot's own calls wait
        # for its budget; posts (and the edits of posts) for the best of all posters'. The
        # team bot is a poster too: its calls count against both.
        worker.budget(GROUP, gateway.budget.wait_time, gateway.budget.room, within=POSTERS)
        worker.budget(POSTERS, gateway.posters_wait, gateway.posters_room)
        for kind in (TOPIC_STATUS, TOPIC_NOTICE):
            worker.uses(kind, GROUP)
        for kind in (TOPIC_POST, TOPIC_EDIT):
            worker.uses(kind, POSTERS)
        # Answers to people in the group: handlers queue them and never wait for the budget.
        worker.handle(GROUP_ANSWER, GroupAnswers(gateway).post, budget=GROUP)
        # Durable: queued in the transaction of the change, so none can be lost.
        bus = self.core.bus
        bus.on_change(MessageCreated, self.feed.on_message)
        bus.on_change(MessageEdited, self.edits.on_edit)
        bus.on_change(StatusChanged, self.topics.on_status)
        bus.on_change(DeliveryFailed, self.notices.on_delivery_failed)
        bus.on_change(NoteCreated, self.notes.on_note)
        # What a client's channel could not carry of a reply: a line in the topic.
        bus.on_change(ContentLeftOut, LeftOutNotices(self.notices).on_left_out)
