"""The Close and Snooze buttons of a client's first post, made while the topic had no card:
off once the card carries them (those follow the status). Cosmetic: a row of its own, of
the post's poster's budget."""

from __future__ import annotations

from tortoise.expressions import Subquery
from tortoise.queryset import QuerySet

from bot.group.rows import POSTERS
from bot.storage import TopicLink
from bot.team.answers import quietly
from bot.team.context import Team
from bot.team.keyboards import with_originals
from bot.team.steps import done
from core import copies
from core.models import Dialog, MessageCopy, MessageKind, OutboxItem, fit_key
from core.models import Message as ClientMessage
from core.outbox import Priority, RetryLater, enqueue
from core.prepared import PreparedSelect
from tgapi.parse import bot_of

# The Close/Snooze buttons of a client's first post off, once the card carries them.
CARD_STRIP = "topic.strip_buttons"

# Taking the first post's buttons off is tried this often (seconds apart, more each time).
STRIP_ATTEMPTS = 3
STRIP_RETRY_SECONDS = 5.0


_CHAT = MessageCopy._meta.fields_map["chat"].max_length  # type: ignore[attr-defined]


def _first_shown(dialog_id: int, chat: str) -> QuerySet[MessageCopy]:
    """The team's copies of the dialog's first client message, in order."""
    first = (
        ClientMessage.filter(dialog_id=dialog_id, kind=MessageKind.IN)
        .order_by("id")
        .limit(1)
        .values("id")
    )
    return MessageCopy.filter(message_id=Subquery(first), side=copies.TEAM, chat=chat).order_by(
        "position"
    )


# Built once: read after every new card (see core/prepared.py).
_FIRST_SHOWN = PreparedSelect(MessageCopy, _first_shown, dialog_id=int, chat=str)


class FirstPostButtons:
    def __init__(self, team: Team) -> None:
        self.team = team
        self.core = team.core
        self.gateway = team.desk.gateway

    def install(self) -> None:
        self.core.outbox.handle(CARD_STRIP, self.strip, budget=POSTERS)

    async def after_card(
        self, dialog: Dialog, link: TopicLink, card_id: int, previous: int | None
    ) -> None:
        """A client's first post made while the topic had no card carries Close and Snooze;
        with a card in the topic those are the card's (and follow the status): off, once."""
        chat = fit_key(str(self.team.chat_id), _CHAT)
        shown = await _FIRST_SHOWN.all(dialog_id=dialog.id, chat=chat)
        post = int(shown[0].external_id) if shown else None
        # Ids grow: a post of this topic lies between its creation and the new card; with a
        # card before it (`previous`), it was posted without buttons.
        if post is None or not link.thread_id < post < card_id:
            return
        if previous is not None and previous < post:
            return
        key = f"first-post-buttons:{dialog.id}"
        if await done(key):
            return
        # Cosmetic: a row of its own that goes as the budget allows, never a wait here.
        payload = {"dialog_id": dialog.id, "message_id": post, "bot": bot_of(shown[0].via)}
        await enqueue(self.core.ctx, CARD_STRIP, payload, priority=Priority.COSMETIC, merge_key=key)

    async def strip(self, item: OutboxItem) -> None:
        key = f"first-post-buttons:{item.payload['dialog_id']}"
        if await done(key):
            return
        desk = self.gateway
        # Only its poster may edit the post: the call is of that bot's budget.
        poster = desk.poster_of(item.payload.get("bot"))
        desk.spend(poster)
        message_id = int(item.payload["message_id"])
        # 📧 for the originals the post shows stays: only the card's buttons go.
        shown = await self.team.desk.feed.shown_in(message_id)
        kept = with_originals(None, [m.id for m in shown if m.original], desk.lang)
        stripped = await quietly(
            lambda: poster.bot.edit_message_reply_markup(
                chat_id=self.team.chat_id, message_id=message_id, reply_markup=kept
            ),
            "first post's buttons",
        )
        if stripped is not None:
            await desk.first_time(key)
        elif item.attempts + 1 < STRIP_ATTEMPTS:
            # A fault: tried again a little later (and with the next new card after that).
            raise RetryLater(STRIP_RETRY_SECONDS, "the first post's buttons stayed")
