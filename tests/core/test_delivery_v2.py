"""Operator replies reach the dialog's connector as `Outgoing` content (connector protocol v2):
with the reply target's ids on the channel, the subject and participants where the channel
has them, the progress of an earlier attempt, and what the send returned for a later edit."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from core.channels import (
    Capabilities,
    Formatting,
    Outgoing,
    Participant,
    Sent,
    Sink,
    TemporaryFailure,
)
from core.content import Content, Span, SpanKind
from core.models import Channel, ChannelKind, Message, Operator, OutboxItem, OutboxStatus
from core.service import Core
from tests.core.helpers import inbound, write
from tests.core.test_outbox import make_due

pytestmark = pytest.mark.usefixtures("db")


class Steps:
    """A channel that sends a reply in two steps (like a long text in two parts); it can fail
    after the first, and remembers everything it was handed."""

    kind = ChannelKind.EMAIL
    name = "steps"

    def __init__(self, channel: Channel, capabilities: Capabilities) -> None:
        self.key = channel.key
        self.capabilities = capabilities
        self.handed: list[Outgoing] = []
        self.edits: list[tuple[Outgoing, list[str], dict[str, Any]]] = []
        self.fail_after_first = False
        self.counter = 0

    async def start(self, sink: Sink) -> None:
        pass

    async def stop(self) -> None:
        pass

    def webhooks(self) -> list:
        return []

    async def check(self) -> list[str]:
        return []

    async def send(self, out: Outgoing) -> Sent:
        self.handed.append(replace(out, done=[list(s) for s in out.done], state=dict(out.state)))
        for step in range(len(out.done), 2):
            if step == 1 and self.fail_after_first:
                self.fail_after_first = False
                raise TemporaryFailure("connection reset")
            self.counter += 1
            await out.step_done([f"x{self.counter}"], way="direct")
        return Sent(out.done_ids, data={"text_in": out.done_ids[0]})

    async def edit(self, out: Outgoing, copies: list[str], data: dict[str, Any]) -> Sent | None:
        self.edits.append((out, copies, data))
        return Sent([*copies, "x-added"])


def install(core: Core, channel: Channel, **capabilities: Any) -> Steps:
    connector = Steps(channel, Capabilities(**capabilities))
    core.connectors.register(channel.id, connector)
    return connector


async def test_the_reply_target_is_named_by_its_ids_on_the_channel(
    core: Core, email: Channel, operator: Operator
) -> None:
    connector = install(core, email, replies=True)
    asked = (await write(core, email, "thread-1", external_id="<q1@client.com>")).message
    first = await core.conversation.reply(asked.dialog_id, operator, "A", reply_to_id=asked.id)  # type: ignore[attr-defined]
    await core.outbox.drain()
    second = await core.conversation.reply(first.dialog_id, operator, "B", reply_to_id=first.id)  # type: ignore[attr-defined]
    await core.outbox.drain()

    one, two = connector.handed
    assert (one.message_id, one.content, one.reply_to) == (
        first.id,
        Content("A"),
        ["<q1@client.com>"],
    )
    # An earlier reply of ours: the ids its copy got, in the order they were given.
    assert (two.message_id, two.reply_to) == (second.id, ["x1", "x2"])
    assert one.author_name == "Olga" and one.chat_key == "thread-1"


async def test_subject_and_participants_go_where_the_channel_has_them(
    core: Core, email: Channel, operator: Operator
) -> None:
    connector = install(core, email, participants=True, subject=True)
    message = replace(
        inbound(email, "thread-1", text="Order 15"),
        subject="Order 15 is late",
        participants=[Participant("boris@client.com", "Boris", role="cc")],
    )
    dialog = (await core.ingest(message)).dialog
    await core.conversation.reply(dialog.id, operator, "On its way")
    await core.outbox.drain()

    [out] = connector.handed
    assert out.subject == "Order 15 is late"
    assert [(p.value, p.role) for p in out.participants] == [
        ("42", "from"),
        ("boris@client.com", "cc"),
    ]
    assert out.participants[1].name == "Boris"


async def test_a_retry_sends_only_what_the_first_attempt_did_not(
    core: Core, email: Channel, operator: Operator
) -> None:
    connector = install(core, email)
    connector.fail_after_first = True
    dialog = (await write(core, email, "thread-1")).dialog
    message = await core.conversation.reply(dialog.id, operator, "two parts")
    await core.outbox.drain()

    row = await OutboxItem.get(kind="channel.send")
    assert row.status is OutboxStatus.PENDING  # to be tried again
    # The finished step is written down with the row, before the failure.
    assert row.payload["progress"] == {"done": [["x1"]], "state": {"way": "direct"}}
    await make_due()
    await core.outbox.drain()

    first, retry = connector.handed
    assert first.done == [] and retry.done == [["x1"]] and retry.state == {"way": "direct"}
    assert connector.counter == 2  # the first step did not go twice
    stored = await Message.get(id=message.id)
    assert stored.delivered_at is not None
    assert (await OutboxItem.get(id=row.id)).result == {"external_ids": ["x1", "x2"]}


async def test_an_edit_gets_the_copies_and_what_the_send_said(
    core: Core, email: Channel, operator: Operator
) -> None:
    # (A channel that shows formatting: a plain-text one gets the edit without it.)
    connector = install(core, email, edits=True, formatting=Formatting.SPANS)
    dialog = (await write(core, email, "thread-1")).dialog
    message = await core.conversation.reply(dialog.id, operator, "frist")
    await core.outbox.drain()
    bold = Content("first", (Span(SpanKind.BOLD, 0, 5),))
    await core.conversation.edit_reply(await Message.get(id=message.id), bold)
    await core.outbox.drain()

    [(out, copies, data)] = connector.edits
    assert out.content == bold and copies == ["x1", "x2"] and data == {"text_in": "x1"}
    # A part the edit added is found by a client's reply to it, like the others.
    asked = replace(inbound(email, "thread-1"), reply_to_external_id="x-added")
    assert (await core.ingest(asked)).message.reply_to_id == message.id  # type: ignore[attr-defined]


async def test_a_channel_without_edits_is_not_asked_to_edit(
    core: Core, email: Channel, operator: Operator
) -> None:
    connector = install(core, email, edits=False)
    dialog = (await write(core, email, "thread-1")).dialog
    message = await core.conversation.reply(dialog.id, operator, "frist")
    await core.outbox.drain()
    await core.conversation.edit_reply(await Message.get(id=message.id), "first")
    await core.outbox.drain()

    assert connector.edits == []
    row = await OutboxItem.get(kind="channel.edit")
    assert row.status is OutboxStatus.SENT and row.result == {"unsupported": True}
