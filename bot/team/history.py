"""📜 History: a client's merged history (every channel, every dialog, merged clients too) in
the asking operator's private chat — never in the group, where it would spend the group's
budget and show everyone the asker's notes.

A page is one message, newest last; *Show more* turns it to the older page (and *Newer* back),
each page a button per attachment that sends the attachment again. *Transcript* (and, for a
long history, /history itself) sends the whole history as one HTML file.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aiogram import F, Router
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import Command
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReactionTypeEmoji,
)

from bot.callbacks import HistoryData, HistoryFileData, TranscriptData
from bot.group.rows import queue_notice
from bot.i18n import pick_language, t
from bot.storage import topic_link
from bot.team.answers import quietly
from bot.team.content import send_content
from bot.team.context import Team, group_router
from bot.team.history_html import Part, transcript_html
from bot.team.lines import local
from bot.team.links import topic_url
from bot.team.richtext import Rich
from core.content import Attachment, Content
from core.history import SHOWN_KINDS, Entry, Page, Snapshot, count, entries, page, snapshot
from core.models import Channel, Client, Dialog, Operator
from core.models import Message as CoreMessage
from core.sizes import describe_size

log = logging.getLogger(__name__)

PAGE_SIZE = 8
# A history longer than this comes with its transcript file too.
TRANSCRIPT_AFTER = 30
# A transcript holds at most the latest this many (a file a phone still opens).
TRANSCRIPT_LIMIT = 5000
# How much of each message's text a page shows: less when the page would not fit.
CLIPS = (300, 120, 40)
# Attachment lines per message (an album of ten: four lines and "+6").
FILE_LINES = 4
MAX_FILE_BUTTONS = 16

ICONS = {"in": "⬅️", "out": "➡️", "comment": "✍", "note": "📝", "call": "📞"}


@dataclass(frozen=True)
class Where:
    """A dialog as a history names it: its channel, its topic's title and link."""

    channel: str
    title: str
    url: str | None


def clip(text: str, size: int) -> str:
    """`text` on one line, cut to `size` characters (… when cut)."""
    text = " ".join(text.split())
    return text[:size] + ("…" if len(text) > size else "")


async def places(dialog_ids: set[int], chat_id: int) -> dict[int, Where]:
    dialogs = await Dialog.filter(id__in=list(dialog_ids))
    channel_ids = [d.channel_id for d in dialogs]  # type: ignore[attr-defined]
    channels = {c.id: c.name for c in await Channel.filter(id__in=channel_ids)}
    found = {}
    for dialog in dialogs:
        channel = channels.get(dialog.channel_id, "")  # type: ignore[attr-defined]
        link = await topic_link(dialog.id)
        title = link.title if link else channel
        url = topic_url(chat_id, link.thread_id) if link else None
        found[dialog.id] = Where(channel, title, url)
    return found


async def author_of(entry: Entry, names: dict[int, str]) -> str:
    if entry.note is not None:
        operator_id = entry.note.author_id  # type: ignore[attr-defined]
    else:
        assert entry.message is not None
        if entry.message.sender_name:
            return entry.message.sender_name
        operator_id = entry.message.author_id  # type: ignore[attr-defined]
    if operator_id and operator_id not in names:
        operator = await Operator.get_or_none(id=operator_id)
        names[operator_id] = operator.name if operator else "—"
    return names.get(operator_id, "—") if operator_id else "—"


def attachments_of(entry: Entry) -> tuple[Attachment, ...]:
    return entry.message.content.attachments if entry.message is not None else ()


def body_of(entry: Entry) -> str:
    if entry.note is not None:
        return entry.note.text
    assert entry.message is not None
    return entry.message.text


def file_label(att: Attachment, lang: str) -> str:
    name = att.name or t(f"history.kind_{att.kind.value}", lang)
    return f"{name} ({describe_size(att.size)})" if att.size else name


class History:
    def __init__(self, team: Team) -> None:
        self.team = team
        self.core = team.core

    def now(self) -> datetime:
        return self.core.clock.now()

    async def client_name(self, client_id: int) -> str:
        client = await Client.get_or_none(id=client_id)
        return client.name if client else "—"

    # ---- a page -------------------------------------------------------------------------------

    async def render(
        self, client_id: int, operator: Operator, upto: Snapshot, number: int, lang: str
    ) -> tuple[Rich, InlineKeyboardMarkup]:
        shown = await page(client_id, operator.id, upto, number, PAGE_SIZE)
        if number > shown.last:  # an old button beyond the oldest page: the oldest
            number = shown.last
            shown = await page(client_id, operator.id, upto, number, PAGE_SIZE)
        # Texts are cut shorter until the page fits one message (emoji weigh double there).
        for cut in CLIPS:
            rich, files = await self.page_text(client_id, shown, cut, lang)
            if rich.fits(0):
                break
        rows = [files[i : i + 2] for i in range(0, len(files), 2)]
        paging = []
        same = {"client_id": client_id, "upto": upto.message_id, "note_upto": upto.note_id}
        if shown.has_older:
            older = HistoryData(page=number + 1, **same).pack()
            paging.append(InlineKeyboardButton(text=t("history.more", lang), callback_data=older))
        if number > 0:
            newer = HistoryData(page=number - 1, **same).pack()
            paging.append(InlineKeyboardButton(text=t("history.newer", lang), callback_data=newer))
        if paging:
            rows.append(paging)
        if shown.total:
            file = TranscriptData(**same).pack()
            rows.append(
                [InlineKeyboardButton(text=t("history.transcript", lang), callback_data=file)]
            )
        return rich, InlineKeyboardMarkup(inline_keyboard=rows)

    async def page_text(
        self, client_id: int, shown: Page, cut: int, lang: str
    ) -> tuple[Rich, list[InlineKeyboardButton]]:
        name = await self.client_name(client_id)
        rich = Rich().add(t("history.title", lang, name=name), bold=True)
        first = shown.total - shown.number * shown.size - len(shown.entries) + 1
        if shown.total:
            last = first + len(shown.entries) - 1
            rich.add(" " + t("history.range", lang, start=first, end=last, total=shown.total))
        else:
            rich.line(t("history.empty", lang))
        where = await places({e.dialog_id for e in shown.entries}, self.team.chat_id)
        names: dict[int, str] = {}
        files: list[InlineKeyboardButton] = []
        attached = 0
        current = None
        now, tz = self.now(), self.team.settings.tz
        for entry in shown.entries:
            place = where.get(entry.dialog_id, Where("", "", None))
            if entry.dialog_id != current:
                current = entry.dialog_id
                rich.line("")
                rich.line("💬 ").add(
                    clip(place.title or place.channel, 100), bold=place.url is None, url=place.url
                )
            author = clip(await author_of(entry, names), 60)
            kind = t(f"history.who_{entry.kind}", lang)
            icon = ICONS.get(entry.kind, "")
            rich.line(f"{local(entry.at, tz, now)} · {clip(place.channel, 60)} · {icon} ")
            rich.add(author, bold=True).add(f" ({kind})")
            text = clip(body_of(entry), cut)
            if text:
                rich.line(text)
            atts = attachments_of(entry)
            for index, att in enumerate(atts):
                attached += 1
                if index < FILE_LINES:
                    rich.line(f"📎{attached} {clip(file_label(att, lang), 80)}")
                elif index == FILE_LINES:
                    rich.line(t("history.more_files", lang, count=len(atts) - FILE_LINES))
                if entry.message is not None and len(files) < MAX_FILE_BUTTONS:
                    pressed = HistoryFileData(message_id=entry.message.id, index=index)
                    label = f"📎{attached} {att.name or t(f'history.kind_{att.kind.value}', lang)}"
                    files.append(
                        InlineKeyboardButton(text=label[:40], callback_data=pressed.pack())
                    )
        return rich, files

    # ---- to the asker's private chat ----------------------------------------------------------

    async def send(self, operator: Operator, client_id: int, lang: str) -> bool:
        """The newest page (and, for a long history, the transcript) to the operator's private
        chat; False when the bot may not write to them (they never started it)."""
        upto = await snapshot(client_id, operator.id)
        rich, keyboard = await self.render(client_id, operator, upto, 0, lang)
        try:
            await self.team.bot.send_message(
                operator.user_id,
                rich.text,
                entities=rich.message_entities(),
                parse_mode=None,
                reply_markup=keyboard,
                link_preview_options=LinkPreviewOptions(is_disabled=True),
            )
        except (TelegramForbiddenError, TelegramBadRequest) as exc:
            if isinstance(exc, TelegramBadRequest) and "chat not found" not in str(exc).lower():
                # Not about the private chat: nothing the operator could do; logged.
                log.warning("history not sent to %s: %s", operator.user_id, exc)
                return True
            log.info("history not sent to %s: %s", operator.user_id, exc)
            if operator.can_message:
                operator.can_message = False
                await operator.save(update_fields=["can_message"])
            return False
        if await count(client_id, operator.id, upto) > TRANSCRIPT_AFTER:
            await quietly(
                lambda: self.send_transcript(operator, client_id, upto, lang), "transcript"
            )
        return True

    async def send_transcript(
        self, operator: Operator, client_id: int, upto: Snapshot, lang: str
    ) -> None:
        everything = await entries(client_id, operator.id, upto)
        total = len(everything)
        everything = everything[-TRANSCRIPT_LIMIT:]
        where = await places({e.dialog_id for e in everything}, self.team.chat_id)
        names: dict[int, str] = {}
        parts = []
        for entry in everything:
            place = where.get(entry.dialog_id, Where("", "", None))
            parts.append(
                Part(
                    key=entry.key,
                    kind=entry.kind,
                    author=await author_of(entry, names),
                    who=t(f"history.who_{entry.kind}", lang),
                    at=local(entry.at, self.team.settings.tz),
                    channel=place.channel,
                    dialog_id=entry.dialog_id,
                    dialog_title=place.title or place.channel,
                    dialog_url=place.url,
                    text=body_of(entry),
                    attachments=attachments_of(entry),
                )
            )
        name = await self.client_name(client_id)
        html_text = await transcript_html(
            parts,
            title=t("history.transcript_title", lang, name=name),
            lang=lang,
            image=self.image_bytes,
            labels={
                "generated": t(
                    "history.generated", lang, when=local(self.now(), self.team.settings.tz)
                ),
                "count": t("history.count", lang, count=len(parts))
                if len(parts) == total
                else t("history.count_latest", lang, count=len(parts), total=total),
            },
        )
        stamp = self.now().astimezone(self.team.settings.tz).strftime("%Y%m%d-%H%M")
        document = BufferedInputFile(
            html_text.encode("utf-8"), filename=f"history-{client_id}-{stamp}.html"
        )
        await self.team.bot.send_document(
            operator.user_id,
            document,
            caption=t("history.transcript_caption", lang, name=name, count=len(parts)),
        )

    async def image_bytes(self, att: Attachment, limit: int) -> bytes | None:
        """An image's bytes for the transcript when it is at most `limit` bytes, else None."""
        if att.size is not None and att.size > limit:
            return None
        files = self.team.desk.gateway.files
        blobs = getattr(files, "blobs", None)
        if blobs is None:
            return None
        try:
            stored = await self.core.fetchers.ensure(att)
            if stored.blob is None:
                return None
            data: bytes = await blobs.read(stored.blob)
        except Exception as exc:  # a file gone, too large, Telegram away: listed by name
            log.info("image left out of a transcript: %s", exc)
            return None
        return data if len(data) <= limit else None

    async def send_file(self, query: CallbackQuery, message_id: int, index: int, lang: str) -> None:
        message = await CoreMessage.get_or_none(id=message_id)
        atts = message.content.attachments if message is not None else ()
        if message is None or message.kind not in SHOWN_KINDS or index >= len(atts):
            await quietly(lambda: query.answer(t("history.file_missing", lang), show_alert=True))
            return
        tz = self.team.settings.tz
        caption = t(
            "history.file_caption",
            lang,
            name=message.sender_name or "—",
            when=local(message.created_at, tz, self.now()),
        )
        try:
            await send_content(
                self.team.bot,
                query.from_user.id,
                content=Content(caption, attachments=(atts[index],)),
                files=self.team.desk.gateway.files,
            )
        except Exception as exc:
            log.info("history file %s/%s not sent: %s", message_id, index, exc)
            await quietly(lambda: query.answer(t("history.file_missing", lang), show_alert=True))
            return
        await quietly(lambda: query.answer())

    # ---- the card's 📜 and the topic's /history -----------------------------------------------

    async def asked(self, operator: Operator, dialog: Dialog) -> bool:
        lang = pick_language(operator.language)
        return await self.send(operator, dialog.client_id, lang)  # type: ignore[attr-defined]

    async def tell_start(self, dialog: Dialog, operator: Operator) -> None:
        """Once per operator, in the topic: start the bot to get histories."""
        if await self.team.desk.gateway.first_time(f"start-bot-history:{operator.id}"):
            await queue_notice(self.core.ctx, dialog.id, "history.start_bot", name=operator.name)


def history_group_router(team: Team, history: History) -> Router:
    router = group_router("team-history", team)

    @router.message(Command("history"), flags={"dialog": True})
    async def history_command(
        message: Message, operator: Operator, lang: str, dialog: Dialog
    ) -> None:
        if await history.asked(operator, dialog):
            # A reaction costs the group nothing; the history itself is in private.
            await quietly(
                lambda: team.bot.set_message_reaction(
                    message.chat.id, message.message_id, [ReactionTypeEmoji(emoji="👌")]
                ),
                "reaction",
            )
            return
        await history.tell_start(dialog, operator)

    return router


def history_private_router(team: Team, history: History) -> Router:
    """The history's buttons in an operator's private chat."""
    router = Router(name="operator-private-history")

    @router.callback_query(HistoryData.filter(), F.message.as_("shown"))
    async def turn_page(
        query: CallbackQuery, callback_data: HistoryData, operator: Operator, lang: str, shown: Any
    ) -> None:
        upto = Snapshot(callback_data.upto, callback_data.note_upto)
        rich, keyboard = await history.render(
            callback_data.client_id, operator, upto, callback_data.page, lang
        )
        await quietly(lambda: query.answer())
        if isinstance(shown, Message):
            await quietly(
                lambda: shown.edit_text(
                    rich.text,
                    entities=rich.message_entities(),
                    parse_mode=None,
                    reply_markup=keyboard,
                    link_preview_options=LinkPreviewOptions(is_disabled=True),
                ),
                "history page",
            )

    @router.callback_query(TranscriptData.filter())
    async def transcript(
        query: CallbackQuery, callback_data: TranscriptData, operator: Operator, lang: str
    ) -> None:
        await quietly(lambda: query.answer(t("history.transcript_coming", lang)))
        upto = Snapshot(callback_data.upto, callback_data.note_upto)
        await quietly(
            lambda: history.send_transcript(operator, callback_data.client_id, upto, lang),
            "transcript",
        )

    @router.callback_query(HistoryFileData.filter())
    async def file(query: CallbackQuery, callback_data: HistoryFileData, lang: str) -> None:
        await history.send_file(query, callback_data.message_id, callback_data.index, lang)

    return router
