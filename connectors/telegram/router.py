"""Clients in their private chat with a client bot: what they send becomes core messages."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiogram import F, Router
from aiogram.filters.callback_data import CallbackData
from aiogram.types import CallbackQuery, Message

from connectors.telegram.inbound import message_to_inbound
from core.ingest import Inbound
from tgapi.filters import CONTENT


class RatingButton(CallbackData, prefix="csat"):
    """A satisfaction survey's button: the survey's token (core.csat signs it) and a score."""

    token: str
    score: int


# core.channels.Sink.ingest and .edited: a new message, and a message as it is after an edit.
IngestFn = Callable[[Inbound], Awaitable[object]]
EditFn = Callable[[Inbound], Awaitable[object]]

# "/start", "/start payload", "/start@some_bot": the chat opening, not a question.
START = r"^/start(@\w+)?(\s|$)"


def client_router(
    *,
    channel_id: int,
    bot_id: int,
    ingest: IngestFn,
    on_edit: EditFn,
    greeting: Callable[[str | None], str],
    on_rating: Callable[[CallbackQuery], Awaitable[None]] | None = None,
) -> Router:
    router = Router(name=f"telegram-client-{bot_id}")
    router.message.filter(F.chat.type == "private")
    router.edited_message.filter(F.chat.type == "private")

    @router.message(F.text.regexp(START))
    async def start(message: Message) -> None:
        # No dialog: a topic appears with the client's first real message.
        language = message.from_user.language_code if message.from_user else None
        await message.answer(greeting(language), parse_mode=None)

    @router.message(CONTENT)
    async def incoming(message: Message) -> None:
        # Texts that look like commands are content too: a client has no commands but /start.
        await ingest(message_to_inbound(message, channel_id, bot_id))

    if on_rating is not None:
        # Every press with the survey's prefix: one that does not parse is answered too.
        survey = F.data.startswith(f"{RatingButton.__prefix__}:")

        @router.callback_query(F.message.chat.type == "private", survey)
        async def rating(query: CallbackQuery) -> None:
            # A press of a satisfaction survey's button (core.csat).
            await on_rating(query)

    @router.edited_message()
    async def edited(message: Message) -> None:
        await on_edit(message_to_inbound(message, channel_id, bot_id))

    return router
