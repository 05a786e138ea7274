"""/list with filters, sorting and pages; /my in the operator's private chat."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
)

from bot.callbacks import ListPageData, SortCode
from bot.i18n import t
from bot.team.answers import quietly
from bot.team.context import Team
from bot.team.group_answers import queue_edit
from bot.team.lines import add_dialog_line
from bot.team.richtext import Rich
from core.assignment import find_operator
from core.dialogs import normalize_tag
from core.lifecycle import DialogStatus
from core.models import Channel, Operator, Tag
from core.queries import UNASSIGNED, DialogQuery, Sort, find_dialogs

PAGE = 10
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)

STATUS_WORDS = {
    "open": (DialogStatus.OPEN,), "открытые": (DialogStatus.OPEN,),
    "snoozed": (DialogStatus.SNOOZED,), "отложенные": (DialogStatus.SNOOZED,),
    "closed": (DialogStatus.CLOSED,), "закрытые": (DialogStatus.CLOSED,),
    "all": tuple(DialogStatus), "все": tuple(DialogStatus),
}  # fmt: skip
SORT_WORDS = {
    "waiting": Sort.WAITING, "wait": Sort.WAITING, "ожидание": Sort.WAITING,
    "activity": Sort.ACTIVITY, "recent": Sort.ACTIVITY, "активность": Sort.ACTIVITY,
    "age": Sort.AGE, "oldest": Sort.AGE, "возраст": Sort.AGE,
}  # fmt: skip
MINE = {"mine", "my", "мои"}
NOBODY = {"unassigned", "nobody", "свободные"}
STATUS_CODE = {DialogStatus.OPEN: "o", DialogStatus.SNOOZED: "s", DialogStatus.CLOSED: "c"}
SORT_CODE: dict[Sort, SortCode] = {Sort.WAITING: "w", Sort.ACTIVITY: "a", Sort.AGE: "g"}


class ListError(ValueError):
    """`args` = (locale key, values)."""


@dataclass
class Listing:
    query: DialogQuery
    tag_id: int | None = None


async def parse_list(words: list[str], operator: Operator) -> Listing:
    query = DialogQuery()
    listing = Listing(query)
    channels = await Channel.all()
    for word in words:
        low = word.lower()
        if low in STATUS_WORDS:
            query.statuses = STATUS_WORDS[low]
        elif low in SORT_WORDS:
            query.sort = SORT_WORDS[low]
        elif low in MINE:
            query.assignee_id = operator.id
        elif low in NOBODY:
            query.assignee_id = UNASSIGNED
        elif low.startswith("#"):
            tag = await Tag.get_or_none(name=normalize_tag(low))
            if tag is None:
                raise ListError("list.unknown_tag", {"tag": word})
            query.tags, listing.tag_id = (tag.name,), tag.id
        elif low.startswith("@") and not any(c.name.lower() == low for c in channels):
            who = await find_operator(low)
            if who is None:
                raise ListError("assign.unknown_user", {"user": word})
            query.assignee_id = who.id
        else:
            channel = next(
                (
                    c
                    for c in channels
                    if low in (c.name.lower(), c.name.lower().lstrip("@"), c.kind.value)
                ),
                None,
            )
            if channel is None:
                raise ListError("list.bad_word", {"word": word})
            query.channel_id = channel.id
    return listing


def encode(listing: Listing, page: int) -> str:
    q = listing.query
    return ListPageData(
        page=page,
        statuses="".join(STATUS_CODE[s] for s in q.statuses),
        assignee_id=q.assignee_id,
        tag_id=listing.tag_id,
        channel_id=q.channel_id,
        sort=SORT_CODE[q.sort],
    ).pack()


async def decode(data: ListPageData) -> Listing:
    by_code = {v: k for k, v in STATUS_CODE.items()}
    query = DialogQuery(
        statuses=tuple(dict.fromkeys(by_code[c] for c in data.statuses)),
        assignee_id=data.assignee_id,
        channel_id=data.channel_id,
        sort={v: k for k, v in SORT_CODE.items()}[data.sort],
    )
    listing = Listing(query)
    if data.tag_id is not None:
        tag = await Tag.get_or_none(id=data.tag_id)
        query.tags, listing.tag_id = ((tag.name,), tag.id) if tag else (("\x00",), None)
    return listing


async def render(
    team: Team, listing: Listing, page: int, lang: str
) -> tuple[Rich, InlineKeyboardMarkup | None]:
    total_pages = 1
    dialogs, total = await find_dialogs(listing.query, page * PAGE, PAGE)
    total_pages = max(1, -(-total // PAGE))
    statuses = ", ".join(t(f"list.status.{s.value}", lang) for s in listing.query.statuses)
    rich = Rich().add(
        t("list.title", lang, statuses=statuses, count=total, page=page + 1, pages=total_pages),
        bold=True,
    )
    now, tz = team.core.clock.now(), team.settings.tz
    for dialog in dialogs:
        await add_dialog_line(rich, dialog, chat_id=team.chat_id, now=now, tz=tz, lang=lang)
    if not dialogs:
        rich.line(t("list.empty", lang))
    buttons = []
    if page > 0:
        buttons.append(InlineKeyboardButton(text="◀", callback_data=encode(listing, page - 1)))
    if page + 1 < total_pages:
        buttons.append(InlineKeyboardButton(text="▶", callback_data=encode(listing, page + 1)))
    return rich, InlineKeyboardMarkup(inline_keyboard=[buttons]) if buttons else None


def add_listing(router: Router, team: Team, *, private: bool) -> None:
    """/list (and /my in private) with its page buttons, on a group or a private router."""

    async def answer(message: Message, listing: Listing, lang: str) -> None:
        rich, markup = await render(team, listing, 0, lang)
        await team.say(
            message, rich.text, entities=rich.message_entities(), reply_markup=markup,
            link_preview_options=NO_PREVIEW,
        )  # fmt: skip

    @router.message(Command("list"))
    async def list_(
        message: Message, command: CommandObject, operator: Operator, lang: str
    ) -> None:
        try:
            listing = await parse_list((command.args or "").split(), operator)
        except ListError as exc:
            key, values = exc.args
            await team.say(message, t(key, lang, **values) + "\n" + t("list.usage", lang))
            return
        await answer(message, listing, lang)

    if private:

        @router.message(Command("my"))
        async def my(message: Message, operator: Operator, lang: str) -> None:
            query = DialogQuery(
                statuses=(DialogStatus.OPEN, DialogStatus.SNOOZED), assignee_id=operator.id
            )
            await answer(message, Listing(query), lang)

    @router.callback_query(ListPageData.filter())
    async def page(query: CallbackQuery, callback_data: ListPageData, lang: str) -> None:
        listing = await decode(callback_data)
        await quietly(lambda: query.answer())  # at once; the page follows
        rich, markup = await render(team, listing, callback_data.page, lang)
        if not isinstance(query.message, Message):
            return
        page = query.message
        shown: dict[str, Any] = {
            "entities": rich.message_entities(),
            "reply_markup": markup,
            "link_preview_options": NO_PREVIEW,
        }
        if page.chat.id == team.chat_id:
            # In the group: as the group's budget allows, never waited for here.
            await queue_edit(team.core.ctx, page, rich.text, **shown)
            return
        await quietly(lambda: page.edit_text(rich.text, **shown))
