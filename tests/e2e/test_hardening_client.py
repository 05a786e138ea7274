"""Issue #10, client content: what a client sends reaches the topic whole, whatever its size,
its captions, its sender's name or what it replies to."""

from __future__ import annotations

from typing import Any

from core.content import Content
from core.ingest import Inbound, Sender
from core.models import Client, ContactKind, Message, OutboxItem
from core.service import Core
from tests.e2e.conftest import Desk, open_topic

NAME_HEADER = "Ann Lee\n"
EDITED = "(edited)"


def bot_posts(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the bot posted in a topic: no service lines, no pinned card."""
    return [
        m for m in messages if m["from"]["is_bot"] and m["kind"] != "service" and not m["pinned"]
    ]


def shown(message: dict[str, Any]) -> str:
    return message.get("text") or message.get("caption") or ""


async def posts_in(desk: Desk, thread: int, count: int) -> list[dict[str, Any]]:
    async def enough():
        posts = bot_posts(await desk.topic_messages(thread))
        return posts if len(posts) >= count else None

    return await desk.wait(enough)


async def client_sends(desk: Desk, who: dict | None = None, **body: Any) -> dict[str, Any]:
    return await desk.emu.send((who or desk.client)["id"], to_bot=desk.bot_username, **body)


async def client_edits(desk: Desk, message_id: int, **body: Any) -> None:
    await desk.emu.edit(desk.client["id"], message_id, to_bot=desk.bot_username, **body)


def paragraphs(count: int, size: int, tag: str = "p") -> str:
    """`count` paragraphs of about `size` characters, blank lines between them."""
    out = []
    for i in range(count):
        words = [f"{tag}{i}"]
        while sum(len(w) + 1 for w in words) < size:
            words.append(f"w{i}x{len(words)}")
        out.append(" ".join(words))
    return "\n\n".join(out)


# ---- 6: every caption of an album ----------------------------------------------------------


async def test_every_caption_of_an_album_reaches_the_topic(desk):
    thread = await open_topic(desk)
    captions = [f"photo number {i}" for i in range(10)]
    await client_sends(desk, media_group=[{"photo": {}, "caption": c} for c in captions])

    posts = await posts_in(desk, thread, 11)
    album = posts[1:]
    assert [m["kind"] for m in album] == ["photo"] * 10
    assert len({m["media_group_id"] for m in album}) == 1
    # The sender's name heads the first caption only; every caption is shown on its photo.
    assert [m.get("caption") for m in album] == [NAME_HEADER + captions[0], *captions[1:]]


async def test_an_album_whose_first_photo_has_no_caption_keeps_the_others(desk):
    thread = await open_topic(desk)
    await client_sends(
        desk, media_group=[{"photo": {}}, {"photo": {}, "caption": "the second"}, {"photo": {}}]
    )
    album = (await posts_in(desk, thread, 4))[1:]
    assert [m.get("caption") for m in album] == ["Ann Lee", "the second", None]


# ---- 7 and 19: long texts and their edits --------------------------------------------------


async def test_a_longest_text_fills_its_first_post_and_keeps_its_blank_lines(desk):
    thread = await open_topic(desk)
    text = paragraphs(12, 400)[:4096]
    await client_sends(desk, text=text)

    posts = (await posts_in(desk, thread, 3))[1:]
    assert len(posts) == 2, [shown(p)[:40] for p in posts]
    # Not a name-only post followed by the text: the first post is filled with the text.
    assert posts[0]["text"].startswith(NAME_HEADER + "p0 ")
    assert len(posts[0]["text"]) > 2000
    # Every character of the text is shown, the blank line at the cut included.
    assert "".join(p["text"] for p in posts) == NAME_HEADER + text
    assert all(len(p["text"]) <= 4096 for p in posts)


async def test_a_longest_text_of_one_paragraph_is_not_a_name_alone_above_it(desk):
    thread = await open_topic(desk)
    text = ("word " * 820)[:4096]
    await client_sends(desk, text=text)

    posts = (await posts_in(desk, thread, 3))[1:]
    assert len(posts) == 2
    assert posts[0]["text"].startswith(NAME_HEADER + "word word")
    assert len(posts[1]["text"]) < 100  # the first post took all it could
    assert "".join(p["text"] for p in posts) == NAME_HEADER + text


async def test_an_edit_of_a_long_text_changes_the_part_it_touches(desk):
    thread = await open_topic(desk)
    text = paragraphs(12, 400)[:4096]
    sent = await client_sends(desk, text=text)
    posts = (await posts_in(desk, thread, 3))[1:]

    edited = text.replace("p10 ", "NEW:")
    assert edited != text
    await client_edits(desk, sent["message_id"], text=edited)

    async def mirrored():
        now = bot_posts(await desk.topic_messages(thread))[1:]
        return now if "NEW:" in "".join(shown(p) for p in now) else None

    now = await desk.wait(mirrored)
    # The same two posts, edited in place: the change lives in the second one.
    assert [p["message_id"] for p in now] == [p["message_id"] for p in posts]
    assert "NEW:" in now[1]["text"] and now[1]["edited"]
    assert "".join(p["text"] for p in now) == f"{NAME_HEADER}{edited}\n{EDITED}"


async def test_an_edit_that_grows_past_the_limit_is_shown_in_parts(desk):
    thread = await open_topic(desk)
    sent = await client_sends(desk, text="A short question")
    first = (await posts_in(desk, thread, 2))[1]
    grown = paragraphs(11, 400, tag="g")[:4090]
    await client_edits(desk, sent["message_id"], text=grown)

    async def mirrored():
        now = bot_posts(await desk.topic_messages(thread))[1:]
        return now if EDITED in shown(now[-1]) else None

    now = await desk.wait(mirrored)
    # The post is edited into the first part; the rest follows as a reply to it.
    assert now[0]["message_id"] == first["message_id"]
    assert len(now) == 2
    assert now[1]["reply_to_message_id"] == first["message_id"]
    assert "".join(p["text"] for p in now) == f"{NAME_HEADER}{grown}\n{EDITED}"
    assert not await OutboxItem.filter(kind="topic.edit", status="failed").exists()


async def test_an_edit_that_shrinks_a_long_text_leaves_one_post(desk):
    thread = await open_topic(desk)
    text = paragraphs(12, 400)[:4096]
    sent = await client_sends(desk, text=text)
    posts = (await posts_in(desk, thread, 3))[1:]
    await client_edits(desk, sent["message_id"], text="Never mind, all is fine")

    async def mirrored():
        now = bot_posts(await desk.topic_messages(thread))[1:]
        return now if len(now) == 1 else None

    now = await desk.wait(mirrored)
    assert now[0]["message_id"] == posts[0]["message_id"]
    assert now[0]["text"] == f"{NAME_HEADER}Never mind, all is fine\n{EDITED}"


# ---- 8: names and keys longer than their columns --------------------------------------------


async def test_a_client_with_a_name_too_long_for_its_column_is_served(desk):
    long = await desk.emu.user("A" * 300, last_name="B" * 300, username="u" * 200)
    await client_sends(desk, who=long, text="Hello from a long name")
    topic = await desk.only_topic()
    assert topic["name"].startswith("A" * 100)
    thread = topic["thread_id"]
    posts = await posts_in(desk, thread, 1)
    assert posts[0]["text"].endswith("\nHello from a long name")
    assert posts[0]["text"].startswith("A" * 255)

    await client_sends(desk, who=long, text="And a second message")

    async def second():
        texts = [shown(p) for p in bot_posts(await desk.topic_messages(thread))]
        return any(t.endswith("And a second message") for t in texts)

    await desk.wait(second)
    client = await Client.get()
    assert client.name == "A" * 255


def long_inbound(channel_id: int, external_id: str, **extra: Any) -> Inbound:
    return Inbound(
        channel_id=channel_id,
        chat_key="c" * 300,
        external_id=external_id,
        sender=Sender(ContactKind.TELEGRAM, "v" * 300, "N" * 400, display="@" + "d" * 300),
        **extra,
    )


async def test_keys_too_long_for_their_columns_stay_distinct_and_idempotent(db, core: Core):
    from core.channels import ensure_channel
    from core.models import ChannelKind

    channel = await ensure_channel("t", ChannelKind.TELEGRAM, "x" * 300, core.clock.now())
    album = "a" * 200
    first = await core.ingest(
        long_inbound(channel.id, "1" * 300 + "A", content=Content("one"), album_key=album + "X")
    )
    again = await core.ingest(
        long_inbound(channel.id, "1" * 300 + "A", content=Content("one"), album_key=album + "X")
    )
    second = await core.ingest(
        long_inbound(
            channel.id,
            "1" * 300 + "B",
            content=Content("two"),
            album_key=album + "Y",
            reply_to_external_id="1" * 300 + "A",
        )
    )
    assert again.duplicate and again.message.id == first.message.id
    assert second.dialog.id == first.dialog.id and not second.duplicate
    stored = await Message.get(id=second.message.id)
    # Two albums whose ids share a long prefix are still two albums.
    assert stored.album_key != first.message.album_key
    assert stored.reply_to_id == first.message.id  # type: ignore[attr-defined]
    assert len(stored.sender_name) == 255
    edited = Content("two!")
    assert await core.ingest.edit(channel.id, "c" * 300, "1" * 300 + "B", edited) is not None


async def test_text_no_database_can_hold_is_stored_as_near_as_it_can(db, core: Core):
    from core.channels import ensure_channel
    from core.models import ChannelKind

    channel = await ensure_channel("t", ChannelKind.TELEGRAM, "Bot", core.clock.now())
    inbound = Inbound(
        channel_id=channel.id,
        chat_key="42",
        external_id="1",
        # PostgreSQL refuses NUL; no database takes half a surrogate pair.
        sender=Sender(ContactKind.TELEGRAM, "42", "Bad\ud800Name\x00"),
        content=Content("nul\x00here"),
    )
    result = await core.ingest(inbound)
    stored = await Message.get(id=result.message.id)
    assert stored.text == "nulhere"
    assert stored.sender_name == "Bad?Name"


# ---- 13: a client's reply to an operator's message ----------------------------------------


async def operator_reply_reaches_the_client(desk: Desk, thread: int, text: str) -> tuple[int, int]:
    """The operator writes in the topic; (its id in the topic, the client's copy's id)."""
    sent = await desk.in_topic(thread, text)

    async def delivered():
        got = [m for m in await desk.client_chat() if m["from"]["is_bot"] and m["text"] == text]
        return got[0] if got else None

    copy = await desk.wait(delivered)
    return int(sent["message_id"]), int(copy["message_id"])


async def test_a_client_reply_to_an_operator_message_replies_to_it_in_the_topic(desk):
    thread = await open_topic(desk)
    in_topic, at_client = await operator_reply_reaches_the_client(desk, thread, "Which order?")
    await client_sends(desk, text="Order 42", reply_to_message_id=at_client)

    async def posted():
        found = [p for p in bot_posts(await desk.topic_messages(thread)) if "Order 42" in shown(p)]
        return found[0] if found else None

    post = await desk.wait(posted)
    assert post["reply_to_message_id"] == in_topic


async def test_a_reply_is_not_merged_into_a_coalesced_post(desk):
    thread = await open_topic(desk)
    in_topic, at_client = await operator_reply_reaches_the_client(desk, thread, "Which order?")
    # The group's budget is spent: what the client writes now waits and is coalesced.
    for poster in desk.app.desk.gateway.posters:
        poster.budget.penalize(3600)
    await client_sends(desk, text="one moment")
    await client_sends(desk, text="Order 42", reply_to_message_id=at_client)
    await client_sends(desk, text="and a second thing")

    async def waiting():
        return await OutboxItem.filter(kind="topic.post", status="pending").count() == 3

    await desk.wait(waiting)
    for poster in desk.app.desk.gateway.posters:
        poster.budget.minute.blocked_until = 0.0
    await OutboxItem.filter(status="pending").update(not_before=desk.app.core.ctx.wall.now())

    async def posted():
        found = [p for p in bot_posts(await desk.topic_messages(thread)) if "Order 42" in shown(p)]
        return found[0] if found else None

    post = await desk.wait(posted)
    # A reply starts a post of its own, which replies to what the client replied to.
    assert post["reply_to_message_id"] == in_topic
    assert "one moment" not in shown(post)
    everything = "".join(shown(p) for p in bot_posts(await desk.topic_messages(thread)))
    assert all(everything.count(w) == 1 for w in ("one moment", "Order 42", "second thing"))
