"""One place fits an operator's message to what the client's channel can carry (core.adapt):
formatting, attachment kinds, file bytes and sizes, the text limit; what is left out is said
with the delivery (ContentLeftOut, in its transaction) and the rest still goes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from core.adapt import BlobFetchers, LeftOut, Omission, fit, formatting, parts
from core.channels import (
    Capabilities,
    Formatting,
    Outgoing,
    RejectedContent,
    Sent,
    Sink,
    TemporaryFailure,
)
from core.content import Attachment, AttachmentKind, Content, Span, SpanKind
from core.events import ContentLeftOut
from core.models import Channel, ChannelKind, Message, Operator, OutboxItem, OutboxStatus
from core.service import Core
from tests.core.helpers import Recorder, write
from tests.core.test_outbox import make_due

PLAIN = Capabilities(
    formatting=Formatting.NONE,
    attachment_kinds=frozenset({AttachmentKind.PHOTO, AttachmentKind.DOCUMENT}),
    text_limit=10,
)
PHOTO = Attachment(
    AttachmentKind.PHOTO, size=5, sources={"telegram:7": {"file_id": "F", "file_unique_id": "U"}}
)


def test_formatting_a_channel_cannot_show_goes_and_links_keep_their_address() -> None:
    text = "Read the docs, then mail us"
    spans = (
        Span(SpanKind.BOLD, 0, 4),
        Span(SpanKind.LINK, 9, 13, url="https://acme.io/docs"),
        Span(SpanKind.ITALIC, 20, 27),
    )
    assert formatting(text, spans, PLAIN) == (
        "Read the docs (https://acme.io/docs), then mail us",
        (),
    )
    # A channel with some span kinds keeps those, moved past the inserted address.
    some = Capabilities(formatting=Formatting.SPANS, span_kinds=frozenset({SpanKind.ITALIC}))
    shown, kept = formatting(text, spans, some)
    assert shown == "Read the docs (https://acme.io/docs), then mail us"
    assert [shown[s.start : s.end] for s in kept] == ["mail us"]
    # An address the text shows already, or a Telegram-only one, is not added.
    seen = formatting("see https://x.io", (Span(SpanKind.LINK, 4, 16, url="https://x.io"),), PLAIN)
    assert seen == ("see https://x.io", ())
    who = formatting("ask Olga", (Span(SpanKind.LINK, 4, 8, url="tg://user?id=5"),), PLAIN)
    assert who == ("ask Olga", ())
    # Every kind shown: the same content.
    every = Capabilities(formatting=Formatting.SPANS)
    assert formatting(text, spans, every) == (text, spans)


async def test_formatting_the_words_do_not_keep_is_left_out_once_by_kind() -> None:
    text = "Read the docs, then mail @olga"
    spans = (
        Span(SpanKind.QUOTE, 0, 30),
        Span(SpanKind.BOLD, 0, 4),
        Span(SpanKind.LINK, 9, 13, url="https://acme.io/docs"),
        Span(SpanKind.BOLD, 20, 24),
        Span(SpanKind.MENTION, 25, 30),
    )
    fitted = await fit(Content(text, spans), PLAIN)
    assert fitted.left_out == [LeftOut(Omission.FORMATTING, kind="bold,quote")]
    # What the channel shows, and a link or a mention (their words stay), is no loss.
    some = Capabilities(
        formatting=Formatting.SPANS, span_kinds=frozenset({SpanKind.BOLD, SpanKind.QUOTE})
    )
    assert (await fit(Content(text, spans), some)).left_out == []
    assert (await fit(Content(text, spans[2:3] + spans[4:]), PLAIN)).left_out == []


def test_a_text_over_the_limit_is_cut_with_the_attachments_first() -> None:
    content = Content("one two three four", attachments=(PHOTO,))
    pieces = parts(content, PLAIN)
    assert [p.text for p in pieces] == ["one two", "three four"]
    assert pieces[0].attachments == (PHOTO,) and pieces[1].attachments == ()
    assert parts(Content(""), PLAIN) == []
    # No limit kept by the core (Telegram cuts its own): one part, however long.
    assert parts(Content("x" * 5000), Capabilities()) == [Content("x" * 5000)]


async def test_kinds_it_does_not_take_are_left_out_and_files_get_their_bytes() -> None:
    fetched: list[Attachment] = []

    async def fetch(att: Attachment) -> Attachment:
        fetched.append(att)
        return replace(att, blob="b" * 64, size=5)

    fetchers = BlobFetchers()
    fetchers.register("telegram:", fetch)
    sticker = Attachment(AttachmentKind.STICKER, sources={"telegram:7": {"file_id": "S"}})
    fitted = await fit(Content("hi", attachments=(PHOTO, sticker)), PLAIN, fetchers)

    [piece] = fitted.parts
    assert [a.blob for a in piece.attachments] == ["b" * 64]
    assert fitted.left_out == [LeftOut(Omission.KIND, kind="sticker")]
    assert fitted.changed and fetched == [PHOTO]
    # A channel that sends Telegram files by their ids needs no bytes: nothing is fetched.
    telegram = replace(PLAIN, file_sources=("telegram:",))
    assert (await fit(Content("hi", attachments=(PHOTO,)), telegram, fetchers)).parts[
        0
    ].attachments == (PHOTO,)
    assert len(fetched) == 1


async def test_a_file_over_the_limit_or_out_of_reach_is_left_out() -> None:
    async def too_big(att: Attachment) -> Attachment:
        error = RejectedContent("the photo is too large")
        error.size, error.limit = 30, 20  # type: ignore[attr-defined]
        raise error

    fetchers = BlobFetchers()
    fetchers.register("telegram:", too_big)
    fitted = await fit(Content("hi", attachments=(PHOTO,)), PLAIN, fetchers)
    assert fitted.left_out == [LeftOut(Omission.TOO_LARGE, "photo", "", 30, 20)]
    assert [p.text for p in fitted.parts] == ["hi"]

    # Its bytes at hand but over the channel's own limit.
    small = replace(PLAIN, file_size_limit=4)
    doc = Attachment(AttachmentKind.DOCUMENT, name="a.pdf", size=9, blob="c" * 64)
    fitted = await fit(Content(attachments=(doc,)), small)
    assert fitted.parts == []
    assert fitted.left_out == [LeftOut(Omission.TOO_LARGE, "document", "a.pdf", 9, 4)]

    # Nobody can fetch it.
    lost = await fit(Content("x", attachments=(PHOTO,)), PLAIN, BlobFetchers())
    assert [left.what for left in lost.left_out] == [Omission.UNAVAILABLE]

    # A fetch that fails for now is tried again later (the outbox's retry).
    async def offline(att: Attachment) -> Attachment:
        raise TemporaryFailure("Telegram is unreachable")

    fetchers.register("telegram:", offline)
    with pytest.raises(TemporaryFailure):
        await fit(Content("x", attachments=(PHOTO,)), PLAIN, fetchers)


# ---- through the core's delivery ------------------------------------------------------------


class Narrow:
    """A plain-text channel of 10 characters a message, photos only; records each send."""

    kind = ChannelKind.WEBCHAT
    name = "narrow"

    def __init__(self, channel: Channel) -> None:
        self.key = channel.key
        self.capabilities = replace(PLAIN, replies=True)
        self.handed: list[Outgoing] = []

    async def start(self, sink: Sink) -> None:
        pass

    async def stop(self) -> None:
        pass

    def webhooks(self) -> list[Any]:
        return []

    async def check(self) -> list[str]:
        return []

    async def send(self, out: Outgoing) -> Sent:
        self.handed.append(replace(out))
        return Sent([f"n{len(self.handed)}"])

    async def edit(self, out: Outgoing, copies: list[str], data: dict[str, Any]) -> Sent | None:
        raise AssertionError("a channel without edits is never asked to edit")


@pytest.fixture
async def narrow(core: Core, db: str, email: Channel) -> Narrow:
    connector = Narrow(email)
    core.connectors.register(email.id, connector)
    return connector


pytestmark = pytest.mark.usefixtures("db")


async def test_the_parts_go_in_order_and_a_retry_sends_only_the_rest(
    core: Core, email: Channel, operator: Operator, narrow: Narrow
) -> None:
    asked = (await write(core, email, "thread-1", external_id="q1")).message
    dialog_id = asked.dialog_id  # type: ignore[attr-defined]
    await core.conversation.reply(
        dialog_id, operator, "one two three four five", reply_to_id=asked.id
    )
    await core.outbox.drain()
    assert [o.content.text for o in narrow.handed] == ["one two", "three", "four five"]
    assert [o.reply_to for o in narrow.handed] == [["q1"], [], []]

    narrow.handed.clear()
    message = await core.conversation.reply(dialog_id, operator, "six seven eight nine")
    original_send = narrow.send
    calls = 0

    async def second_fails(out: Outgoing) -> Sent:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise TemporaryFailure("connection reset")
        return await original_send(out)

    narrow.send = second_fails  # type: ignore[method-assign]
    await core.outbox.drain()
    row = await OutboxItem.filter(kind="channel.send").order_by("-id").first()
    assert row is not None and row.status is OutboxStatus.PENDING
    await make_due()
    await core.outbox.drain()
    assert [o.content.text for o in narrow.handed] == ["six seven", "eight nine"]
    stored = await Message.get(id=message.id)
    assert stored.delivered_at is not None


async def test_what_is_left_out_is_said_with_the_delivery(
    core: Core, email: Channel, operator: Operator, narrow: Narrow, published: Recorder
) -> None:
    dialog = (await write(core, email, "thread-1")).dialog
    sticker = Attachment(AttachmentKind.STICKER, blob="d" * 64)
    await core.conversation.reply(dialog.id, operator, Content(attachments=(sticker,)))
    await core.conversation.reply(dialog.id, operator, "hello")
    await core.outbox.drain()

    [left] = published.of(ContentLeftOut)
    assert left.left_out == ({"what": "kind", "kind": "sticker"},) and not left.delivered
    assert [o.content.text for o in narrow.handed] == ["hello"]
    row = await OutboxItem.filter(kind="channel.send").order_by("id").first()
    assert row is not None and row.status is OutboxStatus.SENT


async def test_an_edit_the_channel_cannot_make_is_said(
    core: Core, email: Channel, operator: Operator, narrow: Narrow, published: Recorder
) -> None:
    dialog = (await write(core, email, "thread-1")).dialog
    message = await core.conversation.reply(dialog.id, operator, "frist")
    await core.outbox.drain()
    await core.conversation.edit_reply(await Message.get(id=message.id), "first")
    await core.outbox.drain()

    [left] = published.of(ContentLeftOut)
    assert left.message_id == message.id and left.left_out == ({"what": "edit"},)
