"""Quick-reply templates: /t in a topic sends one; /templates and /template manage them."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message

from bot.callbacks import TemplateData
from bot.i18n import t
from bot.storage import TopicLink, topic_link
from bot.team.answers import quietly, shorten
from bot.team.cleanup import delete_later
from bot.team.context import Team, group_router
from bot.team.group_answers import queue_answer
from bot.team.steps import done, mark, update_key
from core.content import Attachment
from core.models import Client, Dialog, Operator, Template
from core.models import Message as CoreMessage
from core.templates import TemplateError, TemplateService, render
from tgapi.parse import content_of
from tgapi.text import with_header

log = logging.getLogger(__name__)

MAX_CHOICES = 10
PREVIEW = 60


def preview(template: Template) -> str:
    text = " ".join(template.text.split())
    clip = text[:PREVIEW] + ("…" if len(text) > PREVIEW else "")
    media = " 📎" if template.attachments else ""
    return f"{template.name}{media} — {clip}" if clip else f"{template.name}{media}"


async def rendered(template: Template, dialog: Dialog | None, operator: Operator) -> str:
    client = await Client.get(id=dialog.client_id) if dialog else None  # type: ignore[attr-defined]
    # Without a dialog (inline mode knows none) {client} stays for the relay to fill in.
    return render(
        template.text, client=client.name if client else "{client}", operator=operator.name
    )


class Templates:
    def __init__(self, team: Team) -> None:
        self.team = team
        self.service = TemplateService(team.core.ctx)

    async def send(self, dialog: Dialog, template: Template, operator: Operator, ref: str) -> bool:
        """Deliver the template to the client like any reply, then show it in the topic.

        `ref` names what asked for it (the /t command, the keyboard it was chosen on): asked
        again — the update re-run, a second button of the same keyboard — nothing more is
        sent. False when it was sent before."""
        team = self.team
        text = await rendered(template, dialog, operator)
        sent_before = await CoreMessage.exists(dialog_id=dialog.id, external_id=ref)
        if not sent_before:
            # Stored (and queued for the client) first: a topic that refuses the copy below
            # must not cost the client the answer.
            await team.core.conversation.reply(
                dialog.id,
                operator,
                template.content.with_text(text),
                # Asked for by `ref`: its topic copy (below) carries a header the client must
                # not see, so it is no copy the client's could be made from.
                source_ref=ref,
            )
        link = await topic_link(dialog.id)
        if link is not None and not await done(f"{ref}:shown"):
            await self.show(link, template, operator, text)
            await mark(f"{ref}:shown", team.core.clock.now())
        return not sent_before

    async def show(
        self, link: TopicLink, template: Template, operator: Operator, text: str
    ) -> None:
        """The topic's copy, with who sent which template: queued, it goes as the group's
        budget allows (the client's copy is on its way already)."""
        team = self.team
        shown, spans = with_header(f"💬 {operator.name} · {template.name}", text)
        content = template.content.with_text(shown, spans)
        await queue_answer(team.core.ctx, team.chat_id, content, thread_id=link.thread_id)

    async def list_text(self, lang: str) -> str:
        templates = await self.service.all()
        if not templates:
            return t("template.none", lang)
        lines = [t("template.title", lang)] + [f"• {preview(x)}" for x in templates]
        return shorten("\n".join(lines))

    async def manage(self, message: Message, args: str, operator: Operator, lang: str) -> None:
        team = self.team
        action, rest = ([*args.strip().split(maxsplit=1), "", ""])[:2]
        action = action.lower()
        if action not in ("add", "del", "delete", "rm"):
            await team.answer(message, t("template.usage", lang))
            return
        assert message.from_user
        if not await team.is_manager(message.from_user):
            await team.answer(message, t("error.managers_only", lang))
            return
        name, text = ([*rest.strip().split(maxsplit=1), "", ""])[:2]
        if not name:
            await team.answer(message, t("template.usage", lang))
            return
        if action != "add":
            deleted = await self.service.delete(name)
            key = "template.deleted" if deleted else "template.unknown"
            await team.answer(message, t(key, lang, name=name.lower()))
            return
        attachments: tuple[Attachment, ...] = ()
        text = text.strip()
        replied = message.reply_to_message
        if replied is not None and replied.message_id != message.message_thread_id:
            content = content_of(replied, team.bot.id)
            attachments = content.attachments
            text = text or content.text
        try:
            template, created = await self.service.add(name, text, operator, attachments)
        except TemplateError as exc:
            await team.answer(message, t(exc.args[0], lang))
            return
        key = "template.added" if created else "template.replaced"
        await team.answer(message, t(key, lang, name=template.name))


def choices_keyboard(dialog_id: int, templates: list[Template]) -> InlineKeyboardMarkup:
    rows = [
        [
            InlineKeyboardButton(
                text=preview(x)[:60],
                callback_data=TemplateData(dialog_id=dialog_id, template_id=x.id).pack(),
            )
        ]
        for x in templates[:MAX_CHOICES]
    ]
    return InlineKeyboardMarkup(inline_keyboard=rows)


def templates_router(team: Team, templates: Templates) -> Router:
    router = group_router("team-templates", team)

    @router.message(Command("t"), flags={"dialog": True})
    async def quick_reply(
        message: Message,
        command: CommandObject,
        operator: Operator,
        lang: str,
        dialog: Dialog,
    ) -> None:
        query = (command.args or "").strip()
        if not query:
            await team.answer(message, t("template.t_usage", lang))
            return
        found = await templates.service.search(query)
        if not found:
            await team.answer(message, t("template.no_match", lang, query=query))
            return
        if len(found) == 1:
            await templates.send(dialog, found[0], operator, update_key(message, "template"))
            return
        await team.answer(
            message, t("template.several", lang), reply_markup=choices_keyboard(dialog.id, found)
        )

    @router.callback_query(TemplateData.filter())
    async def chosen(
        query: CallbackQuery,
        callback_data: TemplateData,
        dialog: Dialog | None,
        operator: Operator,
        lang: str,
    ) -> None:
        template = await Template.get_or_none(id=callback_data.template_id)
        if dialog is None:
            await quietly(lambda: query.answer(t("error.not_dialog", lang), show_alert=True))
            return
        if template is None:
            await quietly(lambda: query.answer(t("template.gone", lang), show_alert=True))
            return
        if not isinstance(query.message, Message):
            await quietly(lambda: query.answer())
            return
        # One template per choice keyboard, however often (or whichever) is pressed.
        await templates.send(dialog, template, operator, update_key(query.message, "template"))
        # Deleting the choice costs nothing from the group's budget; editing would.
        await delete_later(team.core.ctx, team.chat_id, query.message.message_id)
        await quietly(lambda: query.answer(t("template.sent", lang, name=template.name)))

    add_management(router, team, templates)
    return router


def add_management(router: Router, team: Team, templates: Templates) -> None:
    """/templates and /template: in the group and in the private chat alike."""

    @router.message(Command("templates"))
    async def list_templates(message: Message, lang: str) -> None:
        await team.answer(message, await templates.list_text(lang))

    @router.message(Command("template"))
    async def manage(
        message: Message, command: CommandObject, operator: Operator, lang: str
    ) -> None:
        await templates.manage(message, command.args or "", operator, lang)
