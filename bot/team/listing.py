"""/list with filters, sorting and pages; /my in the operator's private chat."""

from __future__ import annotations

from dataclasses import dataclass

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
)

from bot.i18n import t
from bot.team.assign import find_operator
from bot.team.button_data import row_id
from bot.team.context import Team
from bot.team.lines import add_dialog_line
from bot.team.richtext import Rich
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
SORT_CODE = {Sort.WAITING: "w", Sort.ACTIVITY: "a", Sort.AGE: "g"}


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
    statuses = "".join(STATUS_CODE[s] for s in q.statuses)
    who = "-" if q.assignee_id is None else str(q.assignee_id)
    return ":".join(
        ["lst", str(page), statuses, who, str(listing.tag_id or "-"), str(q.channel_id or "-"),
         SORT_CODE[q.sort]]
    )  # fmt: skip


async def decode(data: str) -> tuple[Listing, int]:
    _, page, statuses, who, tag_id, channel_id, sort = data.split(":")
    if not (page.isascii() and page.isdigit()) or any(
        x not in ("-", "0") and row_id(x) is None for x in (who, tag_id, channel_id)
    ):
        raise ValueError(f"not a list page: {data!r}")
    by_code = {v: k for k, v in STATUS_CODE.items()}
    query = DialogQuery(
        statuses=tuple(by_code[c] for c in statuses),
        assignee_id=None if who == "-" else int(who),
        channel_id=None if channel_id == "-" else int(channel_id),
        sort={v: k for k, v in SORT_CODE.items()}[sort],
    )
    listing = Listing(query)
    if tag_id != "-":
        tag = await Tag.get_or_none(id=int(tag_id))
        query.tags, listing.tag_id = ((tag.name,), tag.id) if tag else (("\x00",), None)
    return listing, int(page)


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

    @router.callback_query(F.data.startswith("lst:"))
    async def page(query: CallbackQuery, lang: str) -> None:
        try:
            listing, number = await decode(query.data or "")
        except (ValueError, KeyError):
            await query.answer()
            return
        rich, markup = await render(team, listing, number, lang)
        if isinstance(query.message, Message):
            if query.message.chat.id == team.chat_id:
                await team.spend()
            await query.message.edit_text(
                rich.text, entities=rich.message_entities(), reply_markup=markup,
                link_preview_options=NO_PREVIEW,
            )  # fmt: skip
        await query.answer()
