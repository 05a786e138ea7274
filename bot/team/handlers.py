"""The team group: operators' messages and commands inside dialog topics and in General.

A handler may run twice for one update (the poller retries an update that raised): every
change is recorded as a step of its update (bot/team/steps.py) and answers never raise
(Team.answer, bot/team/answers.py), so the change happens once.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import F, Router
from aiogram.exceptions import AiogramError, TelegramBadRequest, TelegramForbiddenError
from aiogram.filters import Command, CommandObject
from aiogram.types import (
    CallbackQuery,
    Message,
    ReactionTypeEmoji,
)

from bot import snooze as snoozing
from bot.callbacks import DialogData, SnoozeData
from bot.i18n import pick_language, t
from bot.team.answers import quietly
from bot.team.cleanup import TEAM_DELETE, delete_later, deleter
from bot.team.context import Team
from bot.team.group_answers import queue_answer, queue_edit, thread_of
from bot.team.keyboards import snooze_keyboard
from bot.team.steps import done, mark, press_key, update_key
from core import copies
from core.content import Content
from core.lifecycle import DialogStatus, InvalidTransition
from core.models import Dialog, MessageKind, Operator
from core.models import Message as CoreMessage
from tgapi.parse import content_of, origin_of

log = logging.getLogger(__name__)

COMMENT_MARK = "✍"
# In General these get "works inside a dialog's topic"; /note is deleted there instead.
TOPIC_COMMANDS = ("close", "reopen", "snooze", "c")
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
# "/c text" or "/c@our_bot text"; "/close" is not a comment.
COMMENT_COMMAND = re.compile(r"/c(?:@(\w+))?(?=\s|$)", re.IGNORECASE)
# The bot a command is addressed to: "/close@other_bot".
ADDRESSED = re.compile(r"/\w+@(\w+)")


def comment_of(text: str, username: str) -> str | None:
    """The comment a text or caption is (`// text`, `/c text`), or None for anything else."""
    if text.startswith("//"):
        return text[2:].strip()
    match = COMMENT_COMMAND.match(text)
    if match and (not match.group(1) or match.group(1).lower() == username.lower()):
        return text[match.end() :].strip()
    return None


def team_router(team: Team) -> Router:
    # Included under Teamwork.in_group: the team group's current members only, with
    # `operator` and `lang` injected there.
    router = Router(name="team")
    chat_id = team.chat_id
    core, desk = team.core, team.desk.gateway
    tz = team.settings.tz
    # Deletes the group must not keep (a /note) are outbox rows: retried until they work.
    core.outbox.handle(TEAM_DELETE, deleter(team.bot))

    async def username() -> str:
        return (await team.bot.me()).username or ""

    async def is_comment(message: Message) -> bool | dict[str, Any]:
        text = comment_of(message.text or message.caption or "", await username())
        return False if text is None else {"comment_text": text}

    async def confirm(message: Message, text: str, mark_: str = "👌") -> None:
        await quietly(lambda: team.confirm(message, text, mark=mark_))

    async def react(message: Message, emoji: str) -> None:
        # A reaction marks a message without spending the group's message budget.
        await quietly(
            lambda: team.bot.set_message_reaction(
                chat_id, message.message_id, [ReactionTypeEmoji(emoji=emoji)]
            ),
            "reaction",
        )

    async def once(key: str) -> bool:
        """True the first time `key`'s step is run; it is recorded by `mark` after it."""
        return not await done(key)

    @router.message(SERVICE)
    async def ignore_service(message: Message) -> None:
        """Topic and pin notices the bot causes never count as traffic."""

    @router.message(Command("help"))
    async def help_(message: Message, lang: str) -> None:
        key = "help.topic" if message.is_topic_message else "help.general"
        await team.answer(message, t(key, lang))

    @router.message(Command("note"))
    async def note(
        message: Message,
        command: CommandObject,
        operator: Operator,
        lang: str,
        dialog: Dialog | None,
    ) -> None:
        # Gone from the group wherever it was written, whatever follows: a failed delete is
        # retried, and the note is kept either way.
        await delete_later(core.ctx, chat_id, message.message_id)
        key = update_key(message, "note")
        if not await once(key):
            return
        text = (command.args or "").strip()
        own = pick_language(message.from_user.language_code if message.from_user else None)
        if dialog is None:
            await tell_author(
                message,
                operator,
                t("note.topic_only", own, text=text) if text else t("note.topic_only_empty", own),
                t("note.topic_only_public", desk.lang, name=operator.name),
            )
        elif not text:
            await tell_author(
                message,
                operator,
                t("error.note_empty", own),
                t("note.empty_public", desk.lang, name=operator.name),
            )
        else:
            await core.conversation.note(dialog.id, operator, text)
        await mark(key, core.clock.now())

    async def tell_author(message: Message, operator: Operator, private: str, public: str) -> None:
        """In the author's private chat; where the command was when they never started the
        bot (then without the note's text: the group must not read it)."""
        try:
            await team.bot.send_message(operator.user_id, private)
            return
        except (TelegramForbiddenError, TelegramBadRequest):
            pass  # no private chat with them
        except (AiogramError, TimeoutError) as exc:
            log.warning("private answer to %s dropped: %s", operator.user_id, exc)
            return
        await queue_answer(core.ctx, chat_id, Content(public), thread_id=thread_of(message))

    @router.message(Command(*TOPIC_COMMANDS), ~F.is_topic_message)
    async def topic_only(message: Message, lang: str) -> None:
        await team.answer(message, t("error.topic_only", lang))

    async def change_status(
        message: Message,
        dialog: Dialog,
        operator: Operator,
        lang: str,
        step: str,
        change: Callable[[int, Operator], Awaitable[Any]],
        already: str,
        confirmed: str,
    ) -> None:
        """A status command: the change is run once per update (`step`), then confirmed;
        a dialog already in that status gets `already`."""
        key = update_key(message, step)
        if await once(key):
            try:
                await change(dialog.id, operator)
            except InvalidTransition:
                await team.answer(message, t(already, lang))
                return
            await mark(key, core.clock.now())
        await confirm(message, t(confirmed, lang, name=operator.name))

    @router.message(Command("close"), flags={"dialog": True})
    async def close(message: Message, dialog: Dialog, operator: Operator, lang: str) -> None:
        closing = core.dialogs.close
        await change_status(
            message, dialog, operator, lang, "close", closing, "error.already_closed", "done.closed"
        )

    @router.message(Command("reopen"), flags={"dialog": True})
    async def reopen(message: Message, dialog: Dialog, operator: Operator, lang: str) -> None:
        reopening = core.dialogs.reopen
        already, reopened = "error.already_open", "done.reopened"
        await change_status(message, dialog, operator, lang, "reopen", reopening, already, reopened)

    @router.message(Command("snooze"), flags={"dialog": True})
    async def snooze(
        message: Message,
        command: CommandObject,
        operator: Operator,
        lang: str,
        dialog: Dialog,
    ) -> None:
        if not (command.args or "").strip():
            if dialog.status is DialogStatus.CLOSED:
                await team.answer(message, t("error.snooze_closed", lang))
                return
            await team.answer(
                message, t("snooze.choose", lang), reply_markup=snooze_keyboard(dialog.id, lang)
            )
            return
        now = core.clock.now()
        try:
            until = snoozing.parse_snooze(command.args or "", now, tz)
        except snoozing.SnoozeError:
            await team.answer(message, t("error.snooze_form", lang))
            return
        until, capped = snoozing.cap_snooze(until, now)
        key = update_key(message, "snooze")
        if await once(key):
            problem = await do_snooze(dialog, until, operator)
            if problem:
                await team.answer(message, t(problem, lang))
                return
            await mark(key, core.clock.now())
        text = snoozed_text(until, lang, operator)
        if capped:
            text += "\n" + t("snooze.capped", lang)
            # The cap must be read: a line, never only a reaction.
            await team.answer(message, text)
            return
        await confirm(message, text, "😴")

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

    # ---- comments: `// text` or `/c text`, as a text or as a caption ----------------------

    @router.message(is_comment)
    async def comment(
        message: Message, comment_text: str, operator: Operator, lang: str, dialog: Dialog | None
    ) -> None:
        if dialog is None:
            return
        content = content_of(message, team.bot.id)
        if not comment_text and not content.attachments:
            await team.answer(message, t("error.comment_empty", lang))
            return
        album_key = message.media_group_id
        await core.conversation.comment(
            dialog.id,
            operator,
            Content(comment_text, attachments=content.attachments),
            origin=origin_of(message, team.bot.id),
            album_key=album_key,
        )
        if album_key:
            # Its other parts are comments too: those stored as replies are called back.
            await core.conversation.withdraw_album(dialog.id, album_key)
        await react(message, COMMENT_MARK)

    @router.message(F.text.startswith("/"))
    async def unknown_command(message: Message, lang: str, dialog: Dialog | None) -> None:
        if message.is_topic_message and dialog is None:
            return
        addressed = ADDRESSED.match(message.text or "")
        if addressed and addressed.group(1).lower() != (await username()).lower():
            return  # another bot's command: not ours to answer
        await team.answer(message, t("error.unknown_command", lang))

    @router.message(F.is_topic_message)
    async def reply(message: Message, operator: Operator, dialog: Dialog | None) -> None:
        if dialog is None:
            return
        content = content_of(message, team.bot.id)
        album_key = message.media_group_id
        if album_key and await core.conversation.album_is_comment(dialog.id, album_key):
            # A part of an album another part of which is a comment: a comment, too.
            await core.conversation.comment(
                dialog.id,
                operator,
                content,
                origin=origin_of(message, team.bot.id),
                album_key=album_key,
            )
            return
        reply_to_id = None
        if message.reply_to_message and message.reply_to_message.message_id != (
            message.message_thread_id
        ):
            # The message that post shows: a client's, or an earlier one of the team's.
            target = await copies.find(
                copies.TEAM, chat_id, message.reply_to_message.message_id, dialog_id=dialog.id
            )
            reply_to_id = target.id if target else None
        await core.conversation.reply(
            dialog.id,
            operator,
            content,
            album_key=album_key,
            reply_to_id=reply_to_id,
            origin=origin_of(message, team.bot.id),
        )

    @router.edited_message(F.is_topic_message)
    async def operator_edit(message: Message, dialog: Dialog | None) -> None:
        if dialog is None:
            return
        stored = await copies.find(copies.TEAM, chat_id, message.message_id, dialog_id=dialog.id)
        if stored is None or stored.kind is not MessageKind.OUT:
            return
        turned = comment_of(message.text or message.caption or "", await username())
        if turned is not None:
            await reply_became_comment(message, stored, turned)
            return
        await core.conversation.edit_reply(stored, content_of(message, team.bot.id))

    async def reply_became_comment(message: Message, stored: CoreMessage, text: str) -> None:
        """An edit into `// …` never reaches the client. A reply not sent yet is called back
        and becomes the comment; one the client has stays as it was, and the operator is
        told so."""
        if stored.album_key:
            withdrawn = await core.conversation.withdraw_album(
                stored.dialog_id,  # type: ignore[attr-defined]
                stored.album_key,
            )
        else:
            withdrawn = await core.conversation.withdraw([stored])
        if any(m.id == stored.id for m in withdrawn):
            stored.text, stored.spans = text, []
            await stored.save(update_fields=["text", "spans"])
            await react(message, COMMENT_MARK)
            return
        key = update_key(message, f"kept:{message.edit_date}")
        if await once(key):
            await team.answer(message, t("comment.edit_kept", desk.lang))
            await mark(key, core.clock.now())

    # ---- buttons ------------------------------------------------------------------------------

    async def answer_press(query: CallbackQuery, text: str | None = None, **kwargs: Any) -> None:
        await quietly(lambda: query.answer(text, **kwargs), "button answer")

    @router.callback_query(DialogData.filter())
    async def dialog_button(
        query: CallbackQuery,
        callback_data: DialogData,
        dialog: Dialog | None,
        operator: Operator,
        lang: str,
    ) -> None:
        action = callback_data.action
        if dialog is None:
            await answer_press(query, t("error.not_dialog", lang), show_alert=True)
            return
        if action == "close":
            key = press_key(query, "close")
            if await once(key):
                try:
                    await core.dialogs.close(dialog.id, operator)
                except InvalidTransition:
                    await answer_press(query, t("error.already_closed", lang))
                    return
                await mark(key, core.clock.now())
            await answer_press(query, t("done.closed", lang, name=operator.name))
            return
        if action == "snooze" and dialog.status is DialogStatus.CLOSED:
            # A stale button: no keyboard for a dialog that cannot be snoozed.
            await answer_press(query, t("error.dialog_closed", lang))
            return
        if action == "snooze" and isinstance(query.message, Message):
            # Answered at once; the keyboard goes into the topic as the budget allows.
            await answer_press(query)
            key, pressed = press_key(query, "keyboard"), query.message
            if await once(key):
                await queue_answer(
                    core.ctx,
                    chat_id,
                    Content(t("snooze.choose", lang)),
                    thread_id=thread_of(pressed),
                    reply_markup=snooze_keyboard(dialog.id, lang),
                )
                await mark(key, core.clock.now())
            return
        await answer_press(query)

    @router.callback_query(SnoozeData.filter())
    async def snooze_button(
        query: CallbackQuery,
        callback_data: SnoozeData,
        dialog: Dialog | None,
        operator: Operator,
        lang: str,
    ) -> None:
        choice = callback_data.choice
        if dialog is None:
            await answer_press(query, t("error.not_dialog", lang), show_alert=True)
            return
        if dialog.status is DialogStatus.CLOSED:
            await answer_press(query, t("error.dialog_closed", lang))
            return
        if choice == "custom":
            await answer_press(query, t("snooze.custom_hint", lang), show_alert=True)
            return
        presets = dict(snoozing.snooze_presets(core.clock.now(), tz))
        if choice not in presets:
            await answer_press(query)
            return
        key = press_key(query, "snooze")
        if await once(key):
            problem = await do_snooze(dialog, presets[choice], operator)
            if problem:
                await answer_press(query, t(problem, lang), show_alert=True)
                return
            await mark(key, core.clock.now())
        text = snoozed_text(presets[choice], lang, operator)
        await answer_press(query, text)
        if isinstance(query.message, Message):
            # The keyboard message becomes the confirmation: an edit, not a new post.
            await queue_edit(core.ctx, query.message, text)

    return router
