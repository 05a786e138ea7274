"""The responsible operator: /assign, /take, /unassign, and what the assignee is told privately."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiogram import Router
from aiogram.exceptions import TelegramForbiddenError
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.callbacks import AssignData, AssignMenuData
from bot.i18n import pick_language, t
from bot.storage import topic_link
from bot.team.answers import quietly
from bot.team.context import Team, group_router
from bot.team.group_answers import queue_answer, queue_edit, thread_of
from bot.team.links import topic_url
from bot.team.roles import remember_operator
from core.assignment import find_operator
from core.content import Content
from core.events import AssigneeChanged, MessageCreated, StatusChanged
from core.models import Dialog, MessageKind, Operator, OutboxItem, OutboxStatus
from core.models import Message as CoreMessage
from core.outbox import GiveUp, Priority, enqueue
from tgapi.errors import call

PRIVATE_ASSIGNED = "private.assigned"
PRIVATE_ACTIVITY = "private.activity"
MAX_BUTTONS = 24


def operators_keyboard(
    dialog_id: int, operators: list[Operator], lang: str
) -> InlineKeyboardMarkup:
    buttons = [
        InlineKeyboardButton(
            text=op.name[:32],
            callback_data=AssignData(dialog_id=dialog_id, operator_id=op.id).pack(),
        )
        for op in operators[:MAX_BUTTONS]
    ]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append(
        [
            InlineKeyboardButton(
                text=t("assign.nobody", lang),
                callback_data=AssignData(dialog_id=dialog_id, operator_id=0).pack(),
            )
        ]
    )
    return InlineKeyboardMarkup(inline_keyboard=rows)


async def team_operators() -> list[Operator]:
    return list(await Operator.filter(active=True).order_by("name"))


async def not_assignable(team: Team, who: Operator) -> str | None:
    """Only a current member may be responsible: a locale key that says why not, or None."""
    member = await team.membership.is_member(who.user_id)
    if member is None:
        return "access.in_doubt"
    if member and not who.active:
        who.active = True  # back in the group
        await who.save(update_fields=["active"])
    return None if member else "assign.not_member"


def assigned_key(who: Operator, actor: Operator) -> str:
    return "assign.took" if who.id == actor.id else "assign.done"


def assign_router(team: Team) -> Router:
    router = group_router("team-assign", team)
    core = team.core

    async def assign(
        message: Message, dialog: Dialog, who: Operator | None, actor: Operator, lang: str
    ) -> None:
        if who is not None and who.id != actor.id:
            problem = await not_assignable(team, who)
            if problem:
                await team.say(message, t(problem, lang, name=who.name))
                return
        _, changed = await core.dialogs.assign(dialog.id, who, actor)
        if who is None:
            key = "assign.removed" if changed else "assign.already_nobody"
            await team.say(message, t(key, lang, name=actor.name))
            return
        key = "assign.already" if not changed else assigned_key(who, actor)
        await team.say(message, t(key, lang, name=who.name, actor=actor.name))

    @router.message(Command("assign"), flags={"dialog": True})
    async def assign_command(
        message: Message,
        command: CommandObject,
        operator: Operator,
        lang: str,
        dialog: Dialog,
    ) -> None:
        mention = (command.args or "").strip()
        if mention:
            who = await find_operator(mention.split()[0], departed_too=True)
            if who is None:
                await team.say(message, t("assign.unknown_user", lang, user=mention.split()[0]))
                return
            await assign(message, dialog, who, operator, lang)
            return
        replied = message.reply_to_message
        if replied is not None and replied.message_id != message.message_thread_id:
            user = replied.from_user
            if user is None or user.is_bot:
                await team.say(message, t("assign.reply_to_operator", lang))
                return
            member = await team.membership.is_member(user.id)
            if not member:
                key = "assign.not_member" if member is False else "access.in_doubt"
                await team.say(message, t(key, lang, name=user.full_name))
                return
            await assign(message, dialog, await remember_operator(user, core.clock), operator, lang)
            return
        await team.say(
            message,
            t("assign.choose", lang),
            reply_markup=operators_keyboard(dialog.id, await team_operators(), lang),
        )

    @router.message(Command("take"), flags={"dialog": True})
    async def take(message: Message, operator: Operator, lang: str, dialog: Dialog) -> None:
        await assign(message, dialog, operator, operator, lang)

    @router.message(Command("unassign"), flags={"dialog": True})
    async def unassign(message: Message, operator: Operator, lang: str, dialog: Dialog) -> None:
        await assign(message, dialog, None, operator, lang)

    @router.callback_query(AssignData.filter(), flags={"dialog": True})
    async def assign_button(
        query: CallbackQuery,
        callback_data: AssignData,
        dialog: Dialog,
        operator: Operator,
        lang: str,
    ) -> None:
        who = None
        if callback_data.operator_id:
            who = await Operator.get_or_none(id=callback_data.operator_id)
            # An old keyboard may offer someone who has left since.
            problem = (
                await not_assignable(team, who)
                if who is not None and who.active
                else "assign.not_member"
            )
            if problem:
                name = who.name if who else str(callback_data.operator_id)
                await query.answer(t(problem, lang, name=name), show_alert=True)
                return
        await core.dialogs.assign(dialog.id, who, operator)
        text = (
            t(assigned_key(who, operator), lang, name=who.name, actor=operator.name)
            if who
            else t("assign.removed", lang, name=operator.name)
        )
        await quietly(lambda: query.answer(text))
        if isinstance(query.message, Message):
            # The keyboard becomes the confirmation: an edit, not a new post.
            await queue_edit(core.ctx, query.message, text)

    @router.callback_query(AssignMenuData.filter())
    async def assign_menu(query: CallbackQuery, dialog: Dialog | None, lang: str) -> None:
        if dialog is None or not isinstance(query.message, Message):
            await query.answer(t("error.not_dialog", lang), show_alert=True)
            return
        # Answered at once; the keyboard goes into the topic as the budget allows.
        await quietly(lambda: query.answer())
        await queue_answer(
            core.ctx,
            query.message.chat.id,
            Content(t("assign.choose", lang)),
            thread_id=thread_of(query.message),
            reply_markup=operators_keyboard(dialog.id, await team_operators(), lang),
        )

    return router


class AssigneeNotices:
    """Private messages to the assignee: assigned to you; new client messages; woke up."""

    def __init__(self, team: Team) -> None:
        self.team = team
        self.core = team.core

    def install(self) -> None:
        self.core.outbox.handle(PRIVATE_ASSIGNED, self.send_assigned)
        self.core.outbox.handle(PRIVATE_ACTIVITY, self.send_activity)
        # Durable: the notices are queued in the transaction of the change.
        self.core.bus.on_change(AssigneeChanged, self.on_assigned)
        self.core.bus.on_change(MessageCreated, self.on_message)
        self.core.bus.on_change(StatusChanged, self.on_status)

    async def on_assigned(self, event: AssigneeChanged) -> None:
        # Taking a dialog yourself needs no notice.
        if event.new_assignee_id is None or event.new_assignee_id == event.actor_id:
            return
        await enqueue(
            self.core.ctx,
            PRIVATE_ASSIGNED,
            {
                "dialog_id": event.dialog_id,
                "operator_id": event.new_assignee_id,
                "actor_id": event.actor_id,
            },
            priority=Priority.PRIVATE,
        )

    async def on_message(self, event: MessageCreated) -> None:
        if event.kind == MessageKind.IN.value and event.dialog_id:
            await self.batch(
                event.dialog_id,
                woke=False,
                first_message_id=event.message_id,
                dialog=event.dialog,
            )

    async def on_status(self, event: StatusChanged) -> None:
        if event.dialog_id and event.data.get("action") == "wake":
            await self.batch(event.dialog_id, woke=True)

    async def batch(
        self,
        dialog_id: int,
        *,
        woke: bool,
        first_message_id: int | None = None,
        dialog: Dialog | None = None,
    ) -> None:
        """One notice per burst: the first event queues it with a delay, later ones join it.
        `dialog`: as the change left it (else read)."""
        dialog = dialog or await Dialog.get(id=dialog_id)
        assignee_id = dialog.assignee_id  # type: ignore[attr-defined]
        if assignee_id is None:
            return
        key = f"activity:{assignee_id}:{dialog_id}"
        pending = await OutboxItem.filter(merge_key=key, status=OutboxStatus.PENDING).first()
        if pending is not None:
            payload = dict(pending.payload)
            payload["woke"] = payload.get("woke") or woke
            payload["from_message_id"] = payload.get("from_message_id") or first_message_id
            if payload != pending.payload:
                pending.payload = payload
                await pending.save(update_fields=["payload"])
            return
        await enqueue(
            self.core.ctx,
            PRIVATE_ACTIVITY,
            {
                "dialog_id": dialog_id,
                "operator_id": assignee_id,
                # Client messages from this one on are counted when the notice goes out.
                "from_message_id": first_message_id,
                "woke": woke,
            },
            priority=Priority.PRIVATE,
            merge_key=key,
            delay=timedelta(seconds=self.team.timings.activity),
        )

    async def topic(self, dialog_id: int) -> tuple[str, str]:
        link = await topic_link(dialog_id)
        if link is None:
            return f"#{dialog_id}", ""
        return link.title, topic_url(self.team.chat_id, link.thread_id)

    async def send_private(self, operator: Operator, dialog_id: int, text: str) -> None:
        if not await self.team.membership.still_on_team(operator.user_id):
            return  # off the team: no notices (their dialogs are unassigned already)
        try:
            await call(self.team.bot.send_message(operator.user_id, text))
        except TelegramForbiddenError:
            operator.can_message = False
            await operator.save(update_fields=["can_message"])
            if await self.team.desk.gateway.first_time(f"start-bot-assign:{operator.id}"):
                await self.team.desk.notices.notice(
                    dialog_id, "assign.start_bot", name=operator.name
                )
            raise GiveUp("operator has not started the bot") from None

    async def send_assigned(self, item: OutboxItem) -> None:
        p = item.payload
        operator = await Operator.get(id=p["operator_id"])
        dialog = await Dialog.get(id=p["dialog_id"])
        if dialog.assignee_id != operator.id:  # type: ignore[attr-defined]
            return  # reassigned before the notice went out
        actor = await Operator.get_or_none(id=p.get("actor_id") or 0)
        title, url = await self.topic(dialog.id)
        lang = pick_language(operator.language)  # theirs, or LANGUAGE
        text = t("assign.private", lang, title=title, url=url, actor=actor.name if actor else "—")
        await self.send_private(operator, dialog.id, text)

    async def send_activity(self, item: OutboxItem) -> None:
        p: dict[str, Any] = item.payload
        operator = await Operator.get(id=p["operator_id"])
        dialog = await Dialog.get(id=p["dialog_id"])
        if dialog.assignee_id != operator.id:  # type: ignore[attr-defined]
            return
        first = p.get("from_message_id")
        count = (
            await CoreMessage.filter(
                dialog_id=dialog.id, kind=MessageKind.IN, id__gte=first
            ).count()
            if first
            else 0
        )
        title, url = await self.topic(dialog.id)
        lang = pick_language(operator.language)  # theirs, or LANGUAGE
        lines = []
        if p.get("woke"):
            lines.append(t("activity.woke", lang, title=title))
        if count:
            lines.append(t("activity.messages", lang, title=title, count=count))
        if not lines:
            return
        lines.append(url)
        await self.send_private(operator, dialog.id, "\n".join(filter(None, lines)))
