"""One dialog as one line of a list, the board or the card: a link to its topic and its state."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.i18n import t
from bot.storage import topic_link
from bot.team.links import topic_url
from bot.team.richtext import Rich
from core.models import Channel, Client, Dialog, Operator


async def dialog_title(dialog: Dialog) -> str:
    link = await topic_link(dialog.id)
    if link is not None:
        return link.title
    client = await Client.get(id=dialog.client_id)  # type: ignore[attr-defined]
    channel = await Channel.get(id=dialog.channel_id)  # type: ignore[attr-defined]
    return f"{client.name} · {channel.name}"


async def dialog_link(dialog: Dialog, chat_id: int) -> str | None:
    link = await topic_link(dialog.id)
    return topic_url(chat_id, link.thread_id) if link else None


async def assignee_name(dialog: Dialog) -> str | None:
    if not dialog.assignee_id:  # type: ignore[attr-defined]
        return None
    operator = await Operator.get_or_none(id=dialog.assignee_id)  # type: ignore[attr-defined]
    return operator.name if operator else None


def rough(value: timedelta) -> str:
    minutes = max(0, int(value.total_seconds() // 60))
    if minutes < 60:
        return f"{max(minutes, 1)}m"
    if minutes < 48 * 60:
        return f"{minutes // 60}h"
    return f"{minutes // (24 * 60)}d"


def local(moment: datetime, tz: ZoneInfo, now: datetime | None = None) -> str:
    """ "25.12 10:00"; with the year when it is not the year of `now`: "25.12.2027 10:00"."""
    shown = moment.astimezone(tz)
    if now is not None and shown.year != now.astimezone(tz).year:
        return shown.strftime("%d.%m.%Y %H:%M")
    return shown.strftime("%d.%m %H:%M")


async def add_dialog_line(
    rich: Rich,
    dialog: Dialog,
    *,
    chat_id: int,
    now: datetime,
    tz: ZoneInfo,
    lang: str,
    show_assignee: bool = True,
    show_waiting: bool = True,
) -> None:
    rich.line("• ")
    rich.add(await dialog_title(dialog), url=await dialog_link(dialog, chat_id))
    facts = []
    if show_waiting and dialog.waiting_since is not None and dialog.status.value == "open":
        facts.append(t("line.waiting", lang, wait=rough(now - dialog.waiting_since)))
    if dialog.status.value == "snoozed":
        until = dialog.snoozed_until
        facts.append(
            t("line.until", lang, when=local(until, tz, now)) if until else t("line.forever", lang)
        )
    if show_assignee:
        name = await assignee_name(dialog)
        facts.append(f"👤 {name}" if name else t("line.unassigned", lang))
    if facts:
        rich.add(" — " + " · ".join(facts))
