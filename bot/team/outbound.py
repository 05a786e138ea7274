"""/new in General: a dialog the team starts.

`/new email client@example.com Subject | text`: a new e-mail thread, its topic and card;
`/new tg @username text` or `/new tg USER_ID text`: a Telegram client who has written to the
bot before (Telegram lets a bot write only to someone who started it)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from email_validator import EmailNotValidError, validate_email

from bot.i18n import t
from bot.storage import topic_link
from bot.team.context import Team, group_router
from bot.team.group_answers import queue_answer
from bot.team.steps import done, mark, update_key
from core.content import Content
from core.events import MessageCreated
from core.models import Channel, ChannelKind, Client, ContactKind, Operator, OutboxItem
from core.outbound import Banned, OutboundService, known_private_dialog, new_thread_key
from core.outbox import Priority, RetryLater, enqueue

SHOW_FIRST = "outbound.show"
EMAIL_WORDS = ("email", "e-mail", "mail", "почта")
TELEGRAM_WORDS = ("tg", "telegram", "телеграм")


def parse_email(rest: str) -> tuple[str, str, str] | None:
    """`ADDRESS Subject | text` as (address, subject, text); None when a part is missing."""
    address, _, tail = rest.strip().partition(" ")
    subject, bar, text = tail.partition("|")
    if not address or not bar or not subject.strip() or not text.strip():
        return None
    return address.strip(), subject.strip(), text.strip()


def parse_telegram(rest: str) -> tuple[str, str] | None:
    """`@username text` or `USER_ID text`; None when a part is missing."""
    who, _, text = rest.strip().partition(" ")
    if not who or not text.strip():
        return None
    return who, text.strip()


def outbound_router(team: Team) -> Router:
    router = group_router("team-outbound", team)
    core = team.core
    service = OutboundService(core.ctx, core.dialogs)

    async def show_first(item: OutboxItem) -> None:
        """The operator's first words, in the topic once it exists (its card makes it)."""
        link = await topic_link(item.payload["dialog_id"])
        if link is None:
            raise RetryLater(0.3, "the topic is still to come", waiting=True)
        await queue_answer(
            core.ctx, team.chat_id, Content.plain(item.payload["text"]), thread_id=link.thread_id
        )

    core.outbox.handle(SHOW_FIRST, show_first)

    async def on_message(event: MessageCreated) -> None:
        """Queued in the transaction that stored the message: never lost."""
        if not event.data.get("outbound") or event.message is None:
            return
        text = t(
            "outbound.shown", lang_of_group, name=event.message.sender_name, text=event.message.text
        )
        await enqueue(
            core.ctx,
            SHOW_FIRST,
            {"dialog_id": event.dialog_id, "text": text},
            priority=Priority.ANSWER,
        )

    lang_of_group = team.desk.gateway.lang
    core.bus.on_change(MessageCreated, on_message)

    async def channel_of(kind: ChannelKind) -> list[Channel]:
        ids = core.connectors.channel_ids()
        return list(await Channel.filter(id__in=ids, kind=kind).order_by("id"))

    @router.message(Command("new"))
    async def new(message: Message, command: CommandObject, operator: Operator, lang: str) -> None:
        if message.is_topic_message:
            await team.answer(message, t("outbound.general_only", lang))
            return
        kind, _, rest = (command.args or "").strip().partition(" ")
        kind = kind.lower()
        if kind in EMAIL_WORDS:
            parsed = parse_email(rest)
            if parsed is None:
                await team.answer(message, t("outbound.usage_email", lang))
                return
            address, subject, text = parsed
            try:
                address = validate_email(address, check_deliverability=False).normalized.lower()
            except EmailNotValidError:
                await team.answer(message, t("outbound.bad_email", lang, address=address))
                return
            channels = await channel_of(ChannelKind.EMAIL)
            if not channels:
                await team.answer(message, t("outbound.no_email", lang))
                return
            target = dict(
                channel_id=channels[0].id,
                chat_key=new_thread_key(),
                kind=ContactKind.EMAIL,
                value=address,
                name=address,
                subject=subject,
            )
            who = address
        elif kind in TELEGRAM_WORDS:
            parsed_tg = parse_telegram(rest)
            if parsed_tg is None:
                await team.answer(message, t("outbound.usage_tg", lang))
                return
            whom, text = parsed_tg
            channels = await channel_of(ChannelKind.TELEGRAM)
            dialog = await known_private_dialog([c.id for c in channels], whom)
            if dialog is None:
                await team.answer(message, t("outbound.unknown_tg", lang, who=whom))
                return
            client = await Client.get(id=dialog.client_id)  # type: ignore[attr-defined]
            target = dict(
                channel_id=dialog.channel_id,  # type: ignore[attr-defined]
                chat_key=dialog.chat_key,
                kind=ContactKind.TELEGRAM,
                value=dialog.chat_key,
                name=client.name,
                subject=dialog.subject,
            )
            who = f"{client.name} ({whom})"
        else:
            await team.answer(message, t("outbound.usage", lang))
            return
        step = update_key(message, "new")
        if await done(step):
            return  # the same update again (its answer failed): it was sent then
        try:
            started = await service.start(content=Content.plain(text), author=operator, **target)  # type: ignore[arg-type]
        except Banned:
            await team.answer(message, t("outbound.banned", lang, who=who))
            return
        await mark(step, core.clock.now())
        key = "outbound.started" if started.created else "outbound.continued"
        await team.answer(message, t(key, lang, who=who))

    return router
