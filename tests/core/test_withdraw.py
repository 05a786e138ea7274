"""A reply withdrawn before it went out (it became a comment) answered nothing: the dialog
waits again as it did, and the episode's first response is the first reply still standing."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.clock import FrozenClock
from core.models import Channel, Dialog, Episode, Message, MessageKind, Operator, OutboxItem
from core.service import Core
from tests.core.helpers import write

pytestmark = pytest.mark.usefixtures("db")


async def state(dialog: Dialog) -> tuple[object, object]:
    """The dialog's waiting_since and its episode's first_response_at."""
    episode = await Episode.get(dialog_id=dialog.id)
    return (await Dialog.get(id=dialog.id)).waiting_since, episode.first_response_at


async def test_the_only_reply_withdrawn_leaves_the_dialog_waiting_unanswered(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator
) -> None:
    dialog = (await write(core, telegram)).dialog
    asked = clock.now()
    clock.advance(timedelta(minutes=4))
    reply = await core.conversation.reply(dialog.id, operator, "How can I help?")
    assert await state(dialog) == (None, clock.now())

    [withdrawn] = await core.conversation.withdraw([reply])

    assert withdrawn.id == reply.id
    assert (await Message.get(id=reply.id)).kind is MessageKind.COMMENT
    assert not await OutboxItem.exists()
    assert await state(dialog) == (asked, None)


async def test_a_later_reply_withdrawn_waits_from_the_question_after_the_earlier_one(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator
) -> None:
    dialog = (await write(core, telegram)).dialog
    clock.advance(timedelta(minutes=1))
    await core.conversation.reply(dialog.id, operator, "Hello!")
    answered = clock.now()
    clock.advance(timedelta(minutes=1))
    await write(core, telegram, text="One more question")
    asked = clock.now()
    clock.advance(timedelta(minutes=1))
    await write(core, telegram, text="And another")
    clock.advance(timedelta(minutes=1))
    reply = await core.conversation.reply(dialog.id, operator, "Let me see")

    await core.conversation.withdraw([reply])

    assert await state(dialog) == (asked, answered)


async def test_a_reply_after_the_withdrawn_one_still_answers(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator
) -> None:
    dialog = (await write(core, telegram)).dialog
    clock.advance(timedelta(minutes=1))
    first = await core.conversation.reply(dialog.id, operator, "Hello!")
    clock.advance(timedelta(minutes=1))
    await core.conversation.reply(dialog.id, operator, "How can I help?")

    await core.conversation.withdraw([first])

    assert await state(dialog) == (None, clock.now())
