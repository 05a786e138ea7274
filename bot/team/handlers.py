"""The team group: operators' messages and commands inside dialog topics and in General."""

from __future__ import annotations

from typing import Any

from aiogram import F, Router
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    CallbackQuery,
    Message,
    ReactionTypeEmoji,
)

from bot import snooze as snoozing
from bot.i18n import t
from bot.storage import ChatMessage, TopicLink
from bot.team.context import Team, operator_middleware
from bot.team.keyboards import snooze_keyboard
from connectors.telegram.inbound import message_to_inbound
from core.lifecycle import InvalidTransition
from core.models import Dialog, Operator
from core.models import Message as CoreMessage

COMMENT_MARK = "✍"
TOPIC_COMMANDS = ("close", "reopen", "snooze", "c", "note")
SERVICE = (
    F.forum_topic_created
    | F.forum_topic_edited
    | F.forum_topic_closed
    | F.forum_topic_reopened
    | F.pinned_message
    | F.new_chat_members
    | F.left_chat_member
    | F.general_forum_topic_hidden
    | F.general_forum_topic_unhidden
)


def team_router(team: Team) -> Router:
    router = Router(name="team")
    chat_id = team.settings.TEAM_CHAT_ID
    router.message.filter(F.chat.id == chat_id)
    router.edited_message.filter(F.chat.id == chat_id)
    router.callback_query.filter(F.message.chat.id == chat_id)
    core, desk = team.core, team.desk
    tz = team.settings.tz

    with_operator = operator_middleware(core.clock)
    # Inner middlewares: they run after the router's chat filter, so that a client writing
    # to the bot in private is never recorded as an operator.
    router.message.middleware(with_operator)
    router.edited_message.middleware(with_operator)
    router.callback_query.middleware(with_operator)

    async def dialog_of(message: Message) -> Dialog | None:
        if not message.is_topic_message or not message.message_thread_id:
            return None
        link = await TopicLink.get_or_none(chat_id=chat_id, thread_id=message.message_thread_id)
        return await Dialog.get(id=link.dialog_id) if link else None  # type: ignore[attr-defined]

    async def say(message: Message, text: str) -> None:
        # Command answers are short and count against the group's budget like any post.
        await desk.spend_waiting()
        await message.reply(text)

    @router.message(SERVICE)
    async def ignore_service(message: Message) -> None:
        """Topic and pin notices the bot causes never count as traffic."""

    @router.message(Command("help"))
    async def help_(message: Message, lang: str) -> None:
        key = "help.topic" if message.is_topic_message else "help.general"
        await say(message, t(key, lang))

    @router.message(Command(*TOPIC_COMMANDS), ~F.is_topic_message)
    async def topic_only(message: Message, lang: str) -> None:
        await say(message, t("error.topic_only", lang))

    @router.message(Command("close"))
    async def close(message: Message, operator: Operator, lang: str) -> None:
        dialog = await dialog_of(message)
        if dialog is None:
            await say(message, t("error.not_dialog", lang))
            return
        await do_close(message, dialog, operator, lang)

    async def do_close(message: Message, dialog: Dialog, operator: Operator, lang: str) -> None:
        try:
            await core.dialogs.close(dialog.id, operator)
        except InvalidTransition:
            await say(message, t("error.already_closed", lang))
            return
        await team.confirm(message, t("done.closed", lang, name=operator.name))

    @router.message(Command("reopen"))
    async def reopen(message: Message, operator: Operator, lang: str) -> None:
        dialog = await dialog_of(message)
        if dialog is None:
            await say(message, t("error.not_dialog", lang))
            return
        try:
            await core.dialogs.reopen(dialog.id, operator)
        except InvalidTransition:
            await say(message, t("error.already_open", lang))
            return
        await team.confirm(message, t("done.reopened", lang, name=operator.name))

    @router.message(Command("snooze"))
    async def snooze(
        message: Message, command: CommandObject, operator: Operator, lang: str
    ) -> None:
        dialog = await dialog_of(message)
        if dialog is None:
            await say(message, t("error.not_dialog", lang))
            return
        if not (command.args or "").strip():
            await desk.spend_waiting()
            await message.reply(
                t("snooze.choose", lang), reply_markup=snooze_keyboard(dialog.id, lang)
            )
            return
        now = core.clock.now()
        try:
            until = snoozing.parse_snooze(command.args or "", now, tz)
        except snoozing.SnoozeError:
            await say(message, t("error.snooze_form", lang))
            return
        problem = await do_snooze(dialog, until, operator)
        if problem:
            await say(message, t(problem, lang))
            return
        await team.confirm(message, snoozed_text(until, lang, operator), mark="😴")

    async def do_snooze(dialog: Dialog, until: Any, operator: Operator) -> str | None:
        moment = None if until is snoozing.FOREVER else until
        try:
            await core.dialogs.snooze(dialog.id, moment, operator)
        except InvalidTransition:
            return "error.snooze_closed"
        return None

    def snoozed_text(until: Any, lang: str, operator: Operator) -> str:
        when = snoozing.describe_until(until, core.clock.now(), tz, lang)
        return t("done.snoozed", lang, name=operator.name, when=when)

    @router.message(Command("note"))
    async def note(message: Message, command: CommandObject, operator: Operator, lang: str) -> None:
        dialog = await dialog_of(message)
        # Gone from the group at once, whatever follows.
        await team.bot.delete_message(chat_id, message.message_id)
        if dialog is None:
            return
        text = (command.args or "").strip()
        if not text:
            await say_private_or_topic(message, operator, t("error.note_empty", lang))
            return
        await core.conversation.note(dialog.id, operator, text)

    async def say_private_or_topic(message: Message, operator: Operator, text: str) -> None:
        try:
            await team.bot.send_message(operator.user_id, text)
        except Exception:
            await desk.spend_waiting()
            await team.bot.send_message(chat_id, text, message_thread_id=message.message_thread_id)

    @router.message(Command("c"))
    async def comment_command(
        message: Message, command: CommandObject, operator: Operator, lang: str
    ) -> None:
        await comment(message, (command.args or "").strip(), operator, lang)

    @router.message(F.text.startswith("//"))
    async def comment_slashes(message: Message, operator: Operator, lang: str) -> None:
        await comment(message, (message.text or "")[2:].strip(), operator, lang)

    async def comment(message: Message, text: str, operator: Operator, lang: str) -> None:
        dialog = await dialog_of(message)
        if dialog is None:
            return
        if not text:
            await say(message, t("error.comment_empty", lang))
            return
        await core.conversation.comment(
            dialog.id, operator, text, source_ref=f"team:{message.message_id}"
        )
        # A reaction marks the comment without spending the group's message budget.
        await team.bot.set_message_reaction(
            chat_id, message.message_id, [ReactionTypeEmoji(emoji=COMMENT_MARK)]
        )

    @router.message(F.text.startswith("/"))
    async def unknown_command(message: Message, lang: str) -> None:
        if message.is_topic_message and await dialog_of(message) is None:
            return
        await say(message, t("error.unknown_command", lang))

    @router.message(F.is_topic_message)
    async def reply(message: Message, operator: Operator) -> None:
        dialog = await dialog_of(message)
        if dialog is None:
            return
        content = message_to_inbound(message, channel_id=0, bot_id=team.bot.id)
        reply_to_id = None
        if message.reply_to_message and message.reply_to_message.message_id != (
            message.message_thread_id
        ):
            copy = await ChatMessage.filter(
                chat_id=chat_id, tg_message_id=message.reply_to_message.message_id
            ).first()
            reply_to_id = copy.message_id if copy else None  # type: ignore[attr-defined]
        await core.conversation.reply(
            dialog.id,
            operator,
            content.text,
            entities=content.entities,
            attachments=content.attachments,
            album_key=content.album_key,
            reply_to_id=reply_to_id,
            source_ref=f"team:{message.message_id}",
            meta={
                "team_chat_id": chat_id,
                "team_message_ids": [message.message_id],
                "team_bot_id": team.bot.id,
            },
        )

    @router.edited_message(F.is_topic_message)
    async def operator_edit(message: Message) -> None:
        dialog = await dialog_of(message)
        if dialog is None:
            return
        stored = await CoreMessage.get_or_none(
            dialog_id=dialog.id, external_id=f"team:{message.message_id}"
        )
        if stored is None or stored.kind.value != "out":
            return
        content = message_to_inbound(message, channel_id=0, bot_id=team.bot.id)
        await core.conversation.edit_reply(stored, content.text, content.entities)

    # ---- buttons ------------------------------------------------------------------------------

    @router.callback_query(F.data.startswith("dlg:"))
    async def dialog_button(query: CallbackQuery, operator: Operator, lang: str) -> None:
        _, action, raw_id = (query.data or "::").split(":", 2)
        dialog = await Dialog.get_or_none(id=int(raw_id)) if raw_id.isdigit() else None
        if dialog is None:
            await query.answer(t("error.not_dialog", lang), show_alert=True)
            return
        if action == "close":
            try:
                await core.dialogs.close(dialog.id, operator)
            except InvalidTransition:
                await query.answer(t("error.already_closed", lang))
                return
            await query.answer(t("done.closed", lang, name=operator.name))
            return
        if action == "snooze" and isinstance(query.message, Message):
            await desk.spend_waiting()
            await query.message.answer(
                t("snooze.choose", lang), reply_markup=snooze_keyboard(dialog.id, lang)
            )
            await query.answer()
            return
        await query.answer()

    @router.callback_query(F.data.startswith("snz:"))
    async def snooze_button(query: CallbackQuery, operator: Operator, lang: str) -> None:
        _, raw_id, key = (query.data or "::").split(":", 2)
        dialog = await Dialog.get_or_none(id=int(raw_id)) if raw_id.isdigit() else None
        if dialog is None:
            await query.answer(t("error.not_dialog", lang), show_alert=True)
            return
        if key == "custom":
            await query.answer(t("snooze.custom_hint", lang), show_alert=True)
            return
        presets = dict(snoozing.snooze_presets(core.clock.now(), tz))
        if key not in presets:
            await query.answer()
            return
        problem = await do_snooze(dialog, presets[key], operator)
        if problem:
            await query.answer(t(problem, lang), show_alert=True)
            return
        text = snoozed_text(presets[key], lang, operator)
        if isinstance(query.message, Message):
            # The keyboard message becomes the confirmation: an edit, not a new post.
            await desk.spend_waiting()
            await query.message.edit_text(text)
        await query.answer(text)

    return router
