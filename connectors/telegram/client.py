"""The Telegram client channel: clients who write to a client bot in a private chat.

Its connector (core.channels' protocol) takes their messages in through its router (on the
team bot's dispatcher when the client bot is the team bot, else on a poller of its own) and
delivers operator replies into their chat. A reply of several steps (a long text's parts,
media and then the text) reports each step as it goes (`Outgoing.step_done`): a retry after a
crash or a 429 in the middle sends only what the client has not seen, the same way.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from aiogram import Bot, Dispatcher
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramNetworkError,
    TelegramNotFound,
    TelegramUnauthorizedError,
)
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, ReplyParameters
from aiogram.types import Message as TgMessage

from connectors.telegram.router import RatingButton, client_router
from core.channels import (
    SCORES,
    Capabilities,
    Formatting,
    Outgoing,
    Rated,
    RatingAsk,
    Ratings,
    RejectedContent,
    Sent,
    Sink,
    TemporaryFailure,
    WebhookHandler,
)
from core.content import AttachmentKind, Content, SpanKind
from core.models import ChannelKind
from tgapi.errors import MessageGone, ReplyGone, delivery_errors, is_not_modified, translate
from tgapi.failures import errors_router
from tgapi.files import TelegramFiles
from tgapi.limits import ChatPace
from tgapi.parse import SOURCE, source_key
from tgapi.polling import DurablePoller
from tgapi.render import CAPTIONLESS, Outbound, Send, Step
from tgapi.text import CAPTION_LIMIT, split, to_entities, utf16_len

if TYPE_CHECKING:
    from connectors.telegram.channel import TelegramHost

log = logging.getLogger(__name__)

# A bot may upload files up to 50 MB (and download only up to 20 MB).
UPLOAD_LIMIT = 50 * 1024 * 1024

CAPABILITIES = Capabilities(
    edits=True,
    replies=True,
    formatting=Formatting.SPANS,
    span_kinds=frozenset(SpanKind),
    attachment_kinds=frozenset(AttachmentKind),
    # None: the core cuts nothing. A text longer than Telegram's TEXT_LIMIT (in UTF-16
    # units) or a caption's is cut here, into messages whose ids an edit keeps track of.
    text_limit=None,
    file_size_limit=UPLOAD_LIMIT,
    # Every file of ours is known to some bot of ours: sent by its id, or downloaded and
    # uploaded by tgapi.files on the way (never by the core).
    file_sources=(SOURCE,),
    participants=False,
    subject=False,
    # A bot may write only to someone who started it: eadesk never writes first.
    can_start=False,
)

# Its words when the host lends none (a test builds the connector by hand).
CSAT_WORDS = {
    "csat.ask": "How would you rate our help? Tap a star: 1 is poor, 5 is excellent.",
    "csat.thanks": "Thank you! You rated our help {score}/5.",
    "csat.late": "Thank you! Your rating {score}/5 is already recorded.",
}

# Sent.data: where the reply's text is on the client's side, for an edit:
# {"text": {"ids": [...], "caption": bool}}.
TEXT = "text"


class Link:
    """The poller's link health, told through the sink."""

    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def ok(self, name: str) -> None:
        await self.sink.healthy(name)

    async def failed(self, name: str, error: str) -> None:
        await self.sink.unhealthy(name, error)


class TelegramClientConnector:
    kind = ChannelKind.TELEGRAM
    capabilities = CAPABILITIES

    def __init__(
        self,
        bot: Bot,
        *,
        bots: dict[int, Bot],
        team_chat_id: int,
        files: TelegramFiles | None = None,
        host: TelegramHost | None = None,
        dispatcher: Dispatcher | None = None,
        label: str = "",
        api_url: str = "",
    ) -> None:
        self.bot = bot
        self.bots = bots
        self.files = files or TelegramFiles(bots)
        self.team_chat_id = team_chat_id
        self.pace = ChatPace()
        self.key = source_key(bot.id)
        # "@username" once Telegram said it (at start, or in `check`).
        self.name = f"bot {bot.id}"
        # Where the token comes from, for `check`: "TELEGRAM_CLIENT_BOT_TOKENS: token 1 (…)".
        self.label = label or f"the bot {bot.id}"
        self.api_url = api_url
        self.host = host
        # The team bot's dispatcher when this bot is the team bot (its poller is the app's);
        # None: a dispatcher and a poller of its own, made at start.
        self.shared_dispatcher = dispatcher
        self.poller: DurablePoller | None = None
        self.sink: Sink | None = None
        # The core's door for a client's rating (core.channels.Surveys), lent by the app.
        self.ratings: Ratings | None = None

    @property
    def link(self) -> str:
        """The name of this bot's link in /status and /healthz."""
        return f"Telegram ({self.name})"

    # --- lifecycle -------------------------------------------------------------------------

    async def start(self, sink: Sink) -> None:
        self.sink = sink
        if self.files.blobs is None and sink.blobs is not None:
            self.files.blobs = sink.blobs
        me = await self.bot.me()
        self.name = f"@{me.username}"
        host = self.host
        router = client_router(
            channel_id=sink.channel_id,
            bot_id=self.bot.id,
            ingest=sink.ingest,
            on_edit=sink.edited,
            greeting=host.greeting if host else (lambda language: "👋"),
            on_rating=self.rated,
        )
        if self.shared_dispatcher is not None:
            self.shared_dispatcher.include_router(router)
            return
        dispatcher = Dispatcher(disable_fsm=True)  # no conversation states (see bot/app.py)
        # A failed update is logged once and retried only when that can help, as the team's.
        dispatcher.include_routers(router, errors_router())
        if host is None:
            return  # nobody to poll for (a test drives the connector by hand)
        self.poller = DurablePoller(
            self.bot, dispatcher, host.clock, host.poll_timeout, health=Link(sink), name=self.link
        )
        self.poller.start()

    async def stop(self) -> None:
        if self.poller is not None:
            await self.poller.stop()
            self.poller = None

    def webhooks(self) -> list[tuple[str, str, WebhookHandler]]:
        return []  # long polling

    async def check(self) -> list[str]:
        """Does Telegram know this bot's token?"""
        where = self.api_url or "Telegram"
        try:
            me = await self.bot.get_me()
        except (TelegramUnauthorizedError, TelegramNotFound):
            return [
                f"{self.label} is wrong: Telegram does not know this token. Copy it again "
                "from @BotFather (/mybots → the bot → API Token)"
            ]
        except (TelegramNetworkError, TimeoutError) as exc:
            why = str(getattr(exc, "message", "") or exc).removeprefix("HTTP Client says - ")
            return [
                f"Telegram cannot be reached at {where} ({why}): check this machine's "
                "internet connection, proxy or firewall, and TELEGRAM_API_URL"
            ]
        except TelegramAPIError as exc:
            return [
                f"Telegram at {where} answered unexpectedly about {self.label} "
                f"({exc.message}); try again in a minute"
            ]
        self.name = f"@{me.username}"
        return []

    # --- send ------------------------------------------------------------------------------

    async def send(self, out: Outgoing) -> Sent:
        chat_id = int(out.chat_key)
        reply = self._reply_parameters(out.reply_to)
        steps: list[Step] = []
        if out.state.get("path") != "rebuild":
            steps = self._copy_plan(out)
        if steps:
            try:
                return await self._run(out, steps, reply, "copy", chat_id)
            except MessageGone:
                if out.done:
                    raise
                # The operator's message is gone from the topic: rebuild it from its content.
        content = out.content
        steps = Outbound(self.bot, self.files, chat_id).plan(
            content.text, content.spans, content.attachments
        )
        if not steps:
            raise RejectedContent("nothing to send: no text and no attachments")
        return await self._run(out, steps, reply, "rebuild", chat_id)

    def _reply_parameters(self, reply_to: list[str]) -> ReplyParameters | None:
        target = next((i for i in reply_to if i.lstrip("-").isdigit()), None)
        if target is None:
            return None
        return ReplyParameters(message_id=int(target), allow_sending_without_reply=True)

    def _copy_plan(self, out: Outgoing) -> list[Step]:
        """The same bot copies the operator's message from the topic: every kind and format
        exactly."""
        copy = next((c for c in out.copies if c.source == self.key and c.ids), None)
        if copy is None:
            return []
        chat_id = int(out.chat_key)
        ids = [int(i) for i in copy.ids]
        source = int(copy.chat) if copy.chat else self.team_chat_id
        attachments = out.content.attachments
        first = attachments[0].kind if attachments else None
        holds = "text" if first is None else None if first in CAPTIONLESS else "caption"
        if len(ids) == 1:

            async def copy_one(reply: ReplyParameters | None) -> list[Any]:
                return [
                    await self.bot.copy_message(chat_id, source, ids[0], reply_parameters=reply)
                ]

            return [Step(copy_one, holds_text=holds)]
        if out.reply_to:
            # copyMessages cannot reply: rebuild the album, which reuses our own file_ids.
            return []

        async def copy_many(reply: ReplyParameters | None) -> list[Any]:
            return list(await self.bot.copy_messages(chat_id, source, ids))

        return [Step(copy_many, holds_text=holds, size=len(ids))]

    async def _run(
        self,
        out: Outgoing,
        steps: list[Step],
        reply: ReplyParameters | None,
        path: str,
        chat_id: int,
    ) -> Sent:
        for index in range(len(out.done), len(steps)):
            wait = self.pace.take(chat_id, steps[index].size)
            if wait > 0:
                # The steps done so far are kept: the rest goes when the chat's pace allows.
                raise TemporaryFailure("the chat's pace", retry_after=wait)
            sent = await self._attempt(steps[index].send, reply if index == 0 else None)
            await out.step_done([str(m.message_id) for m in sent], path=path)
        text_ids = [out.done[i][0] for i, step in enumerate(steps) if step.holds_text]
        caption = any(step.holds_text == "caption" for step in steps)
        return Sent(out.done_ids, data={TEXT: {"ids": text_ids, "caption": caption}})

    async def _attempt(self, send: Send, reply: ReplyParameters | None) -> list[TgMessage]:
        with delivery_errors():
            try:
                return await send(reply)
            except TelegramBadRequest as exc:
                if reply is None or not isinstance(translate(exc), ReplyGone):
                    raise
                return await send(None)

    # --- satisfaction survey (core.channels.Surveys) -------------------------------------

    def take_ratings(self, ratings: Ratings) -> None:
        self.ratings = ratings

    def _words(self, key: str, language: str | None, **values: Any) -> str:
        text = getattr(self.host, "text", None)
        if text is not None:
            return str(text(key, language, **values))
        return CSAT_WORDS[key].format(**values)

    async def ask_rating(self, ask: RatingAsk) -> Sent:
        """A message with five buttons, 1 ★ … 5 ★, in the client's language."""
        buttons = [
            InlineKeyboardButton(
                text=f"{n} ★", callback_data=RatingButton(token=ask.token, score=n).pack()
            )
            for n in SCORES
        ]
        chat_id = int(ask.chat_key)
        wait = self.pace.take(chat_id, 1)
        if wait > 0:
            raise TemporaryFailure("the chat's pace", retry_after=wait)
        with delivery_errors():
            sent = await self.bot.send_message(
                chat_id,
                self._words("csat.ask", ask.language or None),
                reply_markup=InlineKeyboardMarkup(inline_keyboard=[buttons]),
                parse_mode=None,
            )
        return Sent([str(sent.message_id)])

    async def rated(self, query: CallbackQuery) -> None:
        """A press of a survey's button: recorded, and the question becomes a thank-you (no
        buttons: one rating an episode; a second press before the edit lands changes it)."""
        try:
            button: RatingButton | None = RatingButton.unpack(query.data or "")
        except (TypeError, ValueError):  # not one of ours (a score that is no number)
            button = None
        result = Rated("unknown")
        if self.ratings is not None and button is not None:
            result = await self.ratings.rate(button.token, button.score)
        if not result.known:
            await query.answer()
            return
        language = result.language or (query.from_user.language_code if query.from_user else None)
        key = "csat.late" if result.status == "late" else "csat.thanks"
        text = self._words(key, language, score=result.score)
        await query.answer(text)
        if isinstance(query.message, TgMessage):
            with contextlib.suppress(TelegramBadRequest):
                await query.message.edit_text(text, reply_markup=None, parse_mode=None)

    # --- edit ------------------------------------------------------------------------------

    async def edit(self, out: Outgoing, copies: list[str], data: dict[str, Any]) -> Sent | None:
        """Mirror an operator's edit: the caption, or the text parts (added or removed as the
        new text needs)."""
        where = data.get(TEXT) or {}
        if not where.get("ids"):
            return None
        chat_id = int(out.chat_key)
        content = out.content
        if where.get("caption"):
            if utf16_len(content.text) > CAPTION_LIMIT:
                raise RejectedContent("message caption is too long")
            await self._edit_caption(chat_id, int(where["ids"][0]), content)
            return None
        return await self._edit_parts(chat_id, content, [int(i) for i in where["ids"]], copies)

    async def _edit_caption(self, chat_id: int, message_id: int, content: Content) -> None:
        with delivery_errors():
            try:
                await self.bot.edit_message_caption(
                    chat_id=chat_id,
                    message_id=message_id,
                    caption=content.text or None,
                    caption_entities=to_entities(content.text, content.spans),
                    parse_mode=None,
                )
            except TelegramBadRequest as exc:
                if not is_not_modified(exc):
                    raise

    async def _edit_parts(
        self, chat_id: int, content: Content, old: list[int], copies: list[str]
    ) -> Sent | None:
        """The text's parts edited in place; a part added or removed as the new text needs.
        A Sent only when the parts changed."""
        parts = split(content.text, content.spans)
        if not parts:
            raise RejectedContent("message text is empty")
        new: list[int] = []
        with delivery_errors():
            for index, (text, spans) in enumerate(parts):
                if index < len(old):
                    try:
                        await self.bot.edit_message_text(
                            text,
                            chat_id=chat_id,
                            message_id=old[index],
                            entities=to_entities(text, spans),
                            parse_mode=None,
                        )
                    except TelegramBadRequest as exc:
                        if not is_not_modified(exc):
                            raise
                    new.append(old[index])
                else:
                    sent = await self.bot.send_message(
                        chat_id, text, entities=to_entities(text, spans), parse_mode=None
                    )
                    new.append(sent.message_id)
            for surplus in old[len(parts) :]:
                await self.bot.delete_message(chat_id, surplus)
        if new == old:
            return None
        removed = {str(i) for i in old[len(parts) :]}
        ids = [i for i in copies if i not in removed]
        ids += [str(i) for i in new if str(i) not in ids]
        return Sent(ids, data={TEXT: {"ids": new, "caption": False}})
