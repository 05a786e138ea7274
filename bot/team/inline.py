"""Inline mode: `@bot query` lists templates by name; the chosen one is relayed as a reply."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import (
    InlineQuery,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
)

from bot.team.context import Team, group_router
from bot.team.roles import remember_operator
from bot.team.templates import Templates, preview, rendered
from core import copies
from core.models import Client, Dialog, Operator
from tgapi.parse import content_of, origin_of

RESULTS = 20


def inline_router(team: Team, templates: Templates) -> Router:
    router = Router(name="team-inline")

    @router.inline_query()
    async def search(query: InlineQuery) -> None:
        user = query.from_user
        if user.is_bot or not await team.membership.is_member(user.id):
            # Templates are the team's: nobody else sees them (nor anyone we cannot check).
            await query.answer([], cache_time=0, is_personal=True)
            return
        operator = await remember_operator(user, team.core.clock)
        found = await templates.service.search(query.query, RESULTS)
        results = [
            InlineQueryResultArticle(
                id=str(template.id),
                title=template.name,
                description=preview(template)[:200],
                input_message_content=InputTextMessageContent(
                    message_text=(await rendered(template, None, operator)) or template.name
                ),
            )
            for template in found
        ]
        await query.answer(results, cache_time=0, is_personal=True)  # type: ignore[arg-type]

    return router


def via_bot_router(team: Team) -> Router:
    """A template chosen inline appears "via @bot" in a topic: relayed with {client} filled."""
    router = group_router("team-via-bot", team)

    @router.message(F.via_bot.id == team.bot.id, F.is_topic_message)
    async def relay(message: Message, operator: Operator, dialog: Dialog | None) -> None:
        if dialog is None:
            return
        client = await Client.get(id=dialog.client_id)  # type: ignore[attr-defined]
        content = content_of(message, team.bot.id)
        text = content.text.replace("{client}", client.name)
        filled = text != content.text
        # The topic shows "{client}" unfilled: the client's copy is rebuilt, not copied.
        shows = {copies.DIFFERS: True} if filled else {}
        await team.core.conversation.reply(
            dialog.id,
            operator,
            content.with_text(text) if filled else content,
            origin=origin_of(message, team.bot.id, via_inline=True, **shows),
        )

    return router
