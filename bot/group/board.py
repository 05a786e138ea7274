"""The dispatch board: one pinned message in General, edited in place, debounced.

It shows the open dialogs (unassigned first, then per operator) and the snoozed ones that
wake in the next hours, each a link to its topic. Nothing on it changes by the minute, so
an edit happens only when the picture really changed.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import LinkPreviewOptions

from bot.group.rows import GROUP
from bot.i18n import t
from bot.team.context import Team
from bot.team.lines import add_dialog_line
from bot.team.panels import Panel, digest_of, panel_at
from bot.team.richtext import Rich
from core.events import AssigneeChanged, ClientChanged, DialogCreated, StatusChanged
from core.lifecycle import DialogStatus
from core.models import Client, Dialog, Operator, OutboxItem, OutboxStatus
from core.outbox import Priority, enqueue
from tgapi.errors import is_not_modified

log = logging.getLogger(__name__)

BOARD_SHOW = "board.show"
BOARD_KEY = "board"
WAKING_WITHIN = timedelta(hours=24)
PER_SECTION = 10


class Board:
    def __init__(self, team: Team) -> None:
        self.team = team
        self.core = team.core
        self.lang = team.desk.gateway.lang

    def install(self) -> None:
        self.core.outbox.handle(BOARD_SHOW, self.show)
        self.core.outbox.uses(BOARD_SHOW, GROUP)
        # Durable: queued in the transaction of the change.
        # ClientChanged: a ban is counted on the board.
        for event_type in (DialogCreated, StatusChanged, AssigneeChanged, ClientChanged):
            self.core.bus.on_change(event_type, self.on_change)
        # "Waking in the next hours" moves with time: the ticker looks, the digest decides.
        self.core.ticker.every_tick("board", self.check)

    async def on_change(self, event: object) -> None:
        await self.refresh()

    async def refresh(self) -> None:
        await enqueue(
            self.core.ctx,
            BOARD_SHOW,
            {},
            priority=Priority.COSMETIC,
            merge_key=BOARD_KEY,
            delay=timedelta(seconds=self.team.timings.board),
        )

    async def check(self) -> None:
        panel = await panel_at(BOARD_KEY)
        if panel is None and not await Dialog.exists():
            return
        if await OutboxItem.exists(merge_key=BOARD_KEY, status=OutboxStatus.PENDING):
            return
        rich = await self.render()
        if panel is None or panel.digest != digest_of(rich.text, rich.spans):
            await self.refresh()

    async def section(
        self,
        rich: Rich,
        title: str,
        dialogs: list[Dialog],
        marks: dict[int, str] | None = None,
        **kw: object,
    ) -> None:
        rich.line()
        rich.line(title, bold=True)
        tz, now = self.team.settings.tz, self.core.clock.now()
        for dialog in dialogs[:PER_SECTION]:
            await add_dialog_line(
                rich, dialog, chat_id=self.team.chat_id, now=now, tz=tz, lang=self.lang,
                show_waiting=False, **kw,  # type: ignore[arg-type]
            )  # fmt: skip
            stage = (marks or {}).get(dialog.id)
            if stage is not None:  # close to an SLA breach, or breached (core.sla)
                rich.add(" " + t(f"sla.board_{stage}", self.lang))
        if len(dialogs) > PER_SECTION:
            rich.line(t("board.more", self.lang, count=len(dialogs) - PER_SECTION))

    async def render(self) -> Rich:
        lang, now = self.lang, self.core.clock.now()
        open_ = list(await Dialog.filter(status=DialogStatus.OPEN).order_by("created_at", "id"))
        waking = list(
            await Dialog.filter(
                status=DialogStatus.SNOOZED, snoozed_until__lte=now + WAKING_WITHIN
            ).order_by("snoozed_until", "id")
        )
        rich = Rich().add(t("board.title", lang), bold=True)
        rich.line(t("board.open", lang, count=len(open_)))
        marks = await self.core.sla.states(open_)
        unassigned = [d for d in open_ if d.assignee_id is None]  # type: ignore[attr-defined]
        if unassigned:
            title = t("board.unassigned", lang, count=len(unassigned))
            await self.section(rich, title, unassigned, marks, show_assignee=False)
        assignee_ids = sorted({d.assignee_id for d in open_ if d.assignee_id})  # type: ignore[attr-defined]
        operators = {o.id: o for o in await Operator.filter(id__in=assignee_ids)}
        for operator in sorted(operators.values(), key=lambda o: o.name):
            mine = [d for d in open_ if d.assignee_id == operator.id]  # type: ignore[attr-defined]
            title = t("board.operator", lang, name=operator.name, count=len(mine))
            await self.section(rich, title, mine, marks, show_assignee=False)
        if waking:
            await self.section(rich, t("board.waking", lang, count=len(waking)), waking)
        if not open_ and not waking:
            rich.line(t("board.empty", lang))
        banned = await Client.filter(banned=True).count()
        if banned:
            rich.line()
            rich.line(t("board.banned", lang, count=banned))
        return rich

    async def show(self, item: OutboxItem) -> None:
        rich = await self.render()
        digest = digest_of(rich.text, rich.spans)
        panel = await panel_at(BOARD_KEY)
        if panel is not None and panel.message_id and panel.digest == digest:
            return
        bot, chat_id = self.team.bot, self.team.chat_id
        preview = LinkPreviewOptions(is_disabled=True)
        if panel is not None and panel.message_id:
            message_id = int(panel.message_id)
            try:
                await self.team.desk.gateway.group_call(
                    lambda: bot.edit_message_text(
                        chat_id=chat_id,
                        message_id=message_id,
                        text=rich.text,
                        entities=rich.message_entities(),
                        link_preview_options=preview,
                    )
                )
            except TelegramBadRequest as exc:
                if not is_not_modified(exc):
                    log.warning("board %s cannot be edited (%s): posting anew", message_id, exc)
                    panel.message_id = None
            if panel.message_id:
                panel.digest, panel.updated_at = digest, self.core.clock.now()
                await panel.save(update_fields=["digest", "updated_at"])
                return
        sent = await self.team.desk.gateway.group_call(
            lambda: bot.send_message(
                chat_id, rich.text, entities=rich.message_entities(), link_preview_options=preview
            )
        )
        try:
            await bot.pin_chat_message(chat_id, sent.message_id, disable_notification=True)
        except TelegramBadRequest as exc:
            log.warning("board not pinned: %s", exc.message)
        if panel is None:
            panel = Panel(key=BOARD_KEY, chat_id=chat_id)
        panel.message_id, panel.digest, panel.updated_at = (
            sent.message_id,
            digest,
            self.core.clock.now(),
        )
        await panel.save()
