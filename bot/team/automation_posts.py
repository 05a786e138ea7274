"""What the automations did, where the team sees it: their messages and comments in the
dialog's topic (marked 🤖 with the rule's name), and the managers told privately."""

from __future__ import annotations

import logging

from aiogram.exceptions import TelegramForbiddenError

from bot.i18n import pick_language, t
from bot.storage import topic_link
from bot.team.context import Team
from bot.team.group_answers import queue_answer
from bot.team.links import topic_url
from core.automations import NOTIFY, SHOW
from core.models import Message, MessageKind, OutboxItem
from core.outbox import RetryLater
from tgapi.errors import call
from tgapi.text import with_header

log = logging.getLogger(__name__)


class AutomationPosts:
    def __init__(self, team: Team) -> None:
        self.team = team
        self.core = team.core

    def install(self) -> None:
        self.core.outbox.handle(SHOW, self.show)
        self.core.outbox.handle(NOTIFY, self.notify)

    async def show(self, item: OutboxItem) -> None:
        """An automatic message (or comment) into its topic, after the client's post (the
        row waits in the topic's lane): it may come before the topic is made."""
        p = item.payload
        message = await Message.get_or_none(id=p["message_id"])
        if message is None:
            return
        link = await topic_link(p["dialog_id"])
        if link is None:
            raise RetryLater(5, "the dialog's topic is not made yet")
        header = f"🤖 {p['rule']}" + (f" · {p['what']}" if p.get("what") else "")
        if message.kind is MessageKind.COMMENT:
            header += " · 💬"
        text, spans = with_header(header, message.text, message.content.spans)
        await queue_answer(
            self.core.ctx,
            self.team.chat_id,
            message.content.with_text(text, spans),
            thread_id=link.thread_id,
        )

    async def notify(self, item: OutboxItem) -> None:
        p = item.payload
        link = await topic_link(p["dialog_id"])
        title = link.title if link else f"#{p['dialog_id']}"
        url = topic_url(self.team.chat_id, link.thread_id) if link else ""
        for operator in await self.team.managers_in_private():
            lang = pick_language(operator.language)
            text = t("rules.notify", lang, rule=p["rule"], title=title, url=url).strip()
            try:
                await call(self.team.bot.send_message(operator.user_id, text))
            except TelegramForbiddenError:
                operator.can_message = False
                await operator.save(update_fields=["can_message"])
