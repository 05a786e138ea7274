"""/stats [today|week|month|FROM TO] in General (or a topic) and in private: the numbers as
text, the charts as pictures, and a CSV of one row per episode on request.

Managers (the group's administrators and MANAGERS) see the team; an operator sees their own
work (their first responses, replies and closes). In the group the text is queued like any
answer (the group's budget); the charts go to the asker's private chat when they have
started the bot — they cost no group message there — and otherwise into the group as one
media group (one group call). The CSV likewise.
"""

from __future__ import annotations

import asyncio
import csv
import io
import logging
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    BufferedInputFile,
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InputMediaPhoto,
    Message,
    User,
)

from bot.callbacks import StatsCsvData
from bot.i18n import t
from bot.team.answers import quietly
from bot.team.context import Team
from bot.team.csat import stats_lines as csat_lines
from bot.team.group_answers import queue_answer, thread_of
from bot.team.stats_charts import Chart, charts
from core.content import Attachment, AttachmentKind, Content
from core.durations import format_duration
from core.models import Channel, Operator
from core.reporting import (
    CSV_COLUMNS,
    Figures,
    Period,
    PeriodError,
    Report,
    Times,
    build_report,
    days_period,
    episode_rows,
    parse_period,
)

log = logging.getLogger(__name__)


# ---- the text ---------------------------------------------------------------------------------


def duration(seconds: float | None) -> str:
    return "—" if seconds is None else format_duration(timedelta(seconds=round(seconds)))


def period_words(period: Period) -> str:
    first, last = period.first_day, period.last_day
    if first == last:
        return first.strftime("%d.%m.%Y")
    if first.year == last.year:
        return f"{first.strftime('%d.%m')}–{last.strftime('%d.%m.%Y')}"
    return f"{first.strftime('%d.%m.%Y')}–{last.strftime('%d.%m.%Y')}"


def count_delta(now: int, before: int) -> str:
    if now == before:
        return " ="
    return f" ▲{now - before}" if now > before else f" ▼{before - now}"


def time_delta(now: float | None, before: float | None) -> str:
    if now is None or before is None:
        return ""
    difference = round(now) - round(before)
    if difference == 0:
        return " ="
    arrow = "▲" if difference > 0 else "▼"
    return f" {arrow}{format_duration(timedelta(seconds=abs(difference)))}"


def times_lines(key: str, now: Times, before: Times, lang: str) -> list[str]:
    if not now.count:
        return [t(key, lang, median="—", p90="—")]
    line = t(key, lang, median=duration(now.median()), p90=duration(now.p90()))
    line += time_delta(now.median(), before.median())
    business = t(
        "stats.business", lang, median=duration(now.median(True)), p90=duration(now.p90(True))
    )
    return [line, business]


def report_text(
    report: Report, operators: dict[int, str], channels: dict[int, str], lang: str
) -> str:
    totals, before = report.totals, report.before
    own = report.operator_id is not None
    lines = [
        t("stats.title_own" if own else "stats.title", lang, period=period_words(report.period)),
        t("stats.compared", lang, period=period_words(report.previous)),
        "",
    ]
    if not own:
        lines.append(t("stats.new", lang, value=totals.new) + count_delta(totals.new, before.new))
        lines.append(
            t("stats.reopened", lang, value=totals.reopened)
            + count_delta(totals.reopened, before.reopened)
        )
        lines.append(
            t("stats.continued", lang, value=totals.continued)
            + count_delta(totals.continued, before.continued)
        )
    lines.append(
        t("stats.closed", lang, value=totals.closed) + count_delta(totals.closed, before.closed)
    )
    lines += times_lines("stats.first_response", totals.first_response, before.first_response, lang)
    lines += times_lines("stats.resolution", totals.resolution, before.resolution, lang)
    lines += times_lines("stats.reply_time", totals.reply_time, before.reply_time, lang)
    lines += sla_lines(report, lang)
    if not own and report.by_operator:
        lines += ["", t("stats.by_operator", lang)]
        for operator_id, figures in sorted(
            report.by_operator.items(), key=lambda item: operators.get(item[0], "").lower()
        ):
            lines.append(
                t(
                    "stats.operator_line",
                    lang,
                    name=operators.get(operator_id, "?"),
                    closed=figures.closed,
                    median=duration(figures.first_response.median()),
                    count=figures.first_responses,
                )
            )
    groups: list[tuple[str, dict[str, Figures]]] = [
        ("stats.by_channel", {channels.get(k, f"#{k}"): v for k, v in report.by_channel.items()}),
        ("stats.by_tag", {f"#{k}": v for k, v in report.by_tag.items()}),
    ]
    for key, by_name in groups:
        if not by_name:
            continue
        lines += ["", t(key, lang)]
        for name, figures in sorted(by_name.items(), key=lambda item: item[0].lower()):
            lines.append(
                t(
                    "stats.group_line",
                    lang,
                    name=name,
                    new=figures.new,
                    closed=figures.closed,
                    median=duration(figures.first_response.median()),
                )
            )
    if not (totals.new or totals.continued or totals.closed or totals.reply_time.count):
        lines += ["", t("stats.empty", lang)]
    return "\n".join(lines)


def sla_lines(report: Report, lang: str) -> list[str]:
    """The share of responses that met each SLA target (core.sla), when there was one."""
    lines = []
    for kind, key in (("first_response", "sla.stats_first"), ("reply_time", "sla.stats_next")):
        met, count = report.sla.get(kind, (0, 0))
        if count:
            share = f"{round(100 * met / count)}%"
            lines.append(t(key, lang, share=share, met=met, count=count))
    return lines


async def names(report: Report) -> tuple[dict[int, str], dict[int, str]]:
    operator_ids = list(report.by_operator)
    rows = await Operator.filter(id__in=operator_ids).values_list("id", "name")
    operators = {int(str(row[0])): str(row[1]) for row in rows}
    found = await Channel.all().values_list("id", "name")
    channels = {int(str(row[0])): str(row[1]) for row in found}
    return operators, channels


async def period_text(
    period: Period, tz: ZoneInfo, lang: str, operator_id: int | None = None
) -> str:
    """The /stats text of `period` (the team's; with `operator_id`, that operator's own), as
    /stats shows it: for the digests (bot.team.digests)."""
    report = await build_report(period, tz, operator_id)
    operators, channels = await names(report)
    return await full_text(report, operators, channels, lang)


async def full_text(
    report: Report, operators: dict[int, str], channels: dict[int, str], lang: str
) -> str:
    """The report's text with the satisfaction survey's ratings of its period."""
    text = report_text(report, operators, channels, lang)
    ratings = await csat_lines(report.period, report.operator_id, lang)
    return text + (f"\n\n{ratings}" if ratings else "")


def csv_bytes(rows: list[list[str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    # With a BOM: spreadsheet programs then read the names in UTF-8.
    return buffer.getvalue().encode("utf-8-sig")


def day_number(day: date) -> int:
    return int(day.strftime("%Y%m%d"))


def number_day(value: int) -> date:
    return datetime.strptime(str(value), "%Y%m%d").date()


# ---- the command ------------------------------------------------------------------------------


class Stats:
    def __init__(self, team: Team) -> None:
        self.team = team

    @property
    def tz(self) -> ZoneInfo:
        tz: ZoneInfo = self.team.settings.tz
        return tz

    async def scope(self, operator: Operator, user: User | None) -> int | None:
        """None: the team's numbers (a manager); else the operator's own."""
        if user is not None and await self.team.is_manager(user):
            return None
        return operator.id

    def keyboard(self, period: Period, lang: str) -> InlineKeyboardMarkup:
        data = StatsCsvData(first=day_number(period.first_day), last=day_number(period.last_day))
        button = InlineKeyboardButton(text=t("stats.csv_button", lang), callback_data=data.pack())
        return InlineKeyboardMarkup(inline_keyboard=[[button]])

    async def command(self, message: Message, args: str, operator: Operator, lang: str) -> None:
        words = args.split()
        wants_csv = bool(words) and words[0].lower() == "csv"
        if wants_csv:
            words = words[1:]
        try:
            period = parse_period(words, self.team.core.clock.now(), self.tz)
        except PeriodError:
            text = t("stats.bad_period", lang) + "\n" + t("stats.usage", lang)
            await self.team.answer(message, text)
            return
        operator_id = await self.scope(operator, message.from_user)
        if wants_csv:
            await self.send_csv(message, period, operator, operator_id, lang)
            return
        report = await build_report(period, self.tz, operator_id)
        operators, channels = await names(report)
        text = await full_text(report, operators, channels, lang)
        pictures = await asyncio.to_thread(charts, report, operators, lang)
        in_group = message.chat.id == self.team.chat_id
        if in_group and pictures and operator.can_message:
            text += "\n\n" + t("stats.charts_private", lang)
        await self.team.answer(message, text, reply_markup=self.keyboard(period, lang))
        if not pictures:
            return
        if not in_group or operator.can_message:
            await self.send_private(operator.user_id, pictures)
        else:
            await self.post_in_group(message, pictures)

    async def send_private(self, user_id: int, pictures: list[Chart]) -> None:
        bot = self.team.bot
        media = [InputMediaPhoto(media=BufferedInputFile(c.png, c.name)) for c in pictures]
        if len(media) == 1:
            await quietly(lambda: bot.send_photo(user_id, media[0].media), "stats chart")
            return
        await quietly(lambda: bot.send_media_group(user_id, media), "stats charts")  # type: ignore[arg-type]

    async def post_in_group(
        self, message: Message, files: list[Chart], kind: AttachmentKind = AttachmentKind.PHOTO
    ) -> None:
        """The pictures (or a file) into the topic asked from, as one queued answer: an album
        is one group call. Kept in the blob store, from which the answer uploads them."""
        blobs = self.team.desk.gateway.files.blobs
        if blobs is None:
            log.warning("no blob store: the /stats files are not posted")
            return
        attachments = []
        for item in files:
            info = await blobs.put(item.png)
            mime = "image/png" if kind is AttachmentKind.PHOTO else "text/csv"
            attachments.append(
                Attachment(kind=kind, name=item.name, mime=mime, size=info.size, blob=info.id)
            )
        await queue_answer(
            self.team.core.ctx,
            message.chat.id,
            Content("", attachments=tuple(attachments)),
            thread_id=thread_of(message),
        )

    async def csv_file(self, period: Period, operator_id: int | None) -> tuple[str, bytes, int]:
        rows = await episode_rows(period, self.tz, operator_id)
        name = f"episodes-{period.first_day.isoformat()}-{period.last_day.isoformat()}.csv"
        return name, csv_bytes(rows), len(rows)

    async def send_csv(
        self,
        message: Message,
        period: Period,
        operator: Operator,
        operator_id: int | None,
        lang: str,
    ) -> None:
        name, data, count = await self.csv_file(period, operator_id)
        caption = t("stats.csv_caption", lang, period=period_words(period), count=count)
        in_group = message.chat.id == self.team.chat_id
        if in_group and not operator.can_message:
            await self.post_in_group(message, [Chart(name, data)], AttachmentKind.DOCUMENT)
            return
        document = BufferedInputFile(data, name)
        bot = self.team.bot
        await quietly(
            lambda: bot.send_document(operator.user_id, document, caption=caption), "stats csv"
        )
        if in_group:
            await self.team.answer(message, t("stats.csv_private", lang))

    async def csv_button(
        self, query: CallbackQuery, data: StatsCsvData, operator: Operator, lang: str
    ) -> None:
        await quietly(lambda: query.answer(), "button answer")
        try:
            first, last = number_day(data.first), number_day(data.last)
        except ValueError:
            return
        period = days_period(first, last, self.tz)
        operator_id = await self.scope(operator, query.from_user)
        if isinstance(query.message, Message):
            await self.send_csv(query.message, period, operator, operator_id, lang)


def stats_router(team: Team, stats: Stats, name: str) -> Router:
    """/stats and its CSV button; include under Teamwork.in_group or in_private."""
    router = Router(name=name)

    @router.message(Command("stats"))
    async def stats_(
        message: Message, command: CommandObject, operator: Operator, lang: str
    ) -> None:
        await stats.command(message, command.args or "", operator, lang)

    @router.callback_query(StatsCsvData.filter())
    async def csv_(
        query: CallbackQuery, callback_data: StatsCsvData, operator: Operator, lang: str
    ) -> None:
        await stats.csv_button(query, callback_data, operator, lang)

    return router
