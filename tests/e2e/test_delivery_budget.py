"""Under the group's budget: coalesced client messages, and relay bots with their own budget."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from core.clock import FrozenClock
from core.models import Dialog, Message, OutboxItem
from tests.e2e.conftest import TEAM_TOKEN, serialize_outbox_rounds, settings_for

RELAY_TOKEN = "700777:relay-bot-token"
RIGHTS = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 5000.0

    def __call__(self) -> float:
        return self.now

    async def next_minute(self, app: Any) -> None:
        """A minute passes for the budgets; work that waited for them is due now."""
        self.now += 61
        await OutboxItem.filter(status="pending").update(not_before=app.core.ctx.wall.now())


@asynccontextmanager
async def running(
    emulator: Any, relays: list[str], per_minute: int, relay_rights: dict | None = None
) -> AsyncIterator[Any]:
    from bot.app import App

    await emulator.bot(TEAM_TOKEN, username="acme_help_bot")
    for token in relays:
        await emulator.bot(token)
    group = await emulator.group(
        title="Acme support",
        forum=True,
        bots=[
            {"token": TEAM_TOKEN, "status": "administrator", "rights": RIGHTS},
            *(
                {"token": t, "status": "administrator", "rights": relay_rights or RIGHTS}
                for t in relays
            ),
        ],
    )
    settings = settings_for(
        emulator,
        group["chat_id"],
        GROUP_MESSAGES_PER_MINUTE=per_minute,
        RELAY_BOT_TOKENS=",".join(relays),
    )
    app = App(settings, clock=FrozenClock(), tick=3600, poll_timeout=1)
    serialize_outbox_rounds(app.core.outbox)
    # The budgets run on a clock the test moves, so a minute passes at once.
    clock = FakeMonotonic()
    for poster in app.desk.gateway.posters:
        for window in (poster.budget.minute, poster.budget.second):
            window.clock = clock
        poster.budget.per_second = 100
    await app.start()
    try:
        yield app, group["chat_id"], clock
    finally:
        await app.stop()


async def client_posts(emulator: Any, chat_id: int) -> list[dict[str, Any]]:
    """Topic posts that show client messages (the card and notices are not counted)."""
    return [
        m
        for m in await emulator.messages(chat_id)
        if m["from"]["is_bot"] and m.get("thread_id") and "hello" in (m.get("text") or "")
    ]


async def test_texts_waiting_for_the_budget_go_out_as_one_post_in_order(emulator):
    client = await emulator.user("Ann", last_name="Lee")
    async with running(emulator, [], per_minute=3) as (app, chat_id, clock):
        await emulator.send(client["id"], to_bot="acme_help_bot", text="hello first")

        async def posts(n):
            await app.core.outbox.drain()
            found = await client_posts(emulator, chat_id)
            return found if len(found) >= n else None

        await emulator.wait_for(lambda: posts(1), timeout=8)
        for word in ("second", "third", "fourth"):
            await emulator.send(client["id"], to_bot="acme_help_bot", text=f"hello {word}")
        # The topic, its card and the first post spent this minute's budget.
        for _ in range(10):
            await app.core.outbox.drain()
            await asyncio.sleep(0.1)
        assert len(await client_posts(emulator, chat_id)) == 1
        await clock.next_minute(app)
        shown = await emulator.wait_for(lambda: posts(2), timeout=8)
        assert len(shown) == 2
        combined = shown[1]["text"]
        assert combined.startswith("Ann Lee\n")
        assert combined.index("second") < combined.index("third") < combined.index("fourth")
        posts_of_texts = [
            c
            for c in await emulator.calls("sendMessage")
            if c["ok"] and "hello" in str(c["params"].get("text"))
        ]
        assert len(posts_of_texts) == 2


async def test_a_relay_bot_posts_when_the_main_bot_spent_its_budget(emulator):
    client = await emulator.user("Ann", last_name="Lee")
    other = await emulator.user("Bob")
    async with running(emulator, [RELAY_TOKEN], per_minute=2) as (app, chat_id, clock):
        await emulator.send(client["id"], to_bot="acme_help_bot", text="hello from Ann")
        await emulator.send(other["id"], to_bot="acme_help_bot", text="hello from Bob")

        async def two_posts():
            await app.core.outbox.drain()
            found = await client_posts(emulator, chat_id)
            if len(found) < 2:
                await clock.next_minute(app)
                return None
            return found

        posts = await emulator.wait_for(two_posts, timeout=10, interval=0.2)
        # The relay took part of the work: client messages, and topics (it may manage them).
        assert 700777 in {p["from"]["id"] for p in posts}, posts
        assert len({p["thread_id"] for p in posts}) == 2
        calls = await emulator.calls()
        assert not [c for c in calls if c.get("error_code") == 429]
        creators = {c["token"] for c in calls if c["method"] == "createForumTopic" and c["ok"]}
        assert RELAY_TOKEN in creators, creators


async def test_a_relay_without_manage_topics_only_posts(emulator):
    client = await emulator.user("Ann", last_name="Lee")
    other = await emulator.user("Bob")
    only_posting = {"can_manage_topics": False, "can_delete_messages": False,
                    "can_pin_messages": False}  # fmt: skip
    async with running(emulator, [RELAY_TOKEN], 2, only_posting) as (app, chat_id, clock):
        await emulator.send(client["id"], to_bot="acme_help_bot", text="hello from Ann")
        await emulator.send(other["id"], to_bot="acme_help_bot", text="hello from Bob")

        async def two_posts():
            await app.core.outbox.drain()
            found = await client_posts(emulator, chat_id)
            if len(found) < 2:
                await clock.next_minute(app)
                return None
            return found

        posts = await emulator.wait_for(two_posts, timeout=10, interval=0.2)
        assert len({p["thread_id"] for p in posts}) == 2
        calls = await emulator.calls("createForumTopic")
        assert {c["token"] for c in calls if c["ok"]} == {TEAM_TOKEN}
        # It was tried once, refused, and not asked again.
        assert len([c for c in calls if c["token"] == RELAY_TOKEN]) <= 1


def card_of(messages: list[dict[str, Any]], thread: int) -> dict[str, Any] | None:
    return next((m for m in messages if m.get("thread_id") == thread and m["pinned"]), None)


async def test_a_busy_group_gets_the_clients_first_words_on_the_card(emulator):
    ann = await emulator.user("Ann", last_name="Lee")
    bob = await emulator.user("Bob")
    async with running(emulator, [], per_minute=4) as (app, chat_id, clock):
        await emulator.send(ann["id"], to_bot="acme_help_bot", text="hello first")

        async def ann_posted():
            await app.core.outbox.drain()
            return await client_posts(emulator, chat_id)

        # A quiet group: the card, then the client's first message in a post of its own.
        (ann_post,) = await emulator.wait_for(ann_posted, timeout=8)
        assert ann_post["text"] == "Ann Lee\nhello first" and not ann_post["pinned"]
        for text in ("Bob here, the parcel is lost", "tracking 123"):
            await emulator.send(bob["id"], to_bot="acme_help_bot", text=text)

        async def both_stored():
            await app.core.outbox.drain()
            return await Message.filter(sender_name="Bob").count() == 2

        await emulator.wait_for(both_stored, timeout=8)

        async def bob_topic():
            await app.core.outbox.drain()
            return [t for t in await emulator.topics(chat_id) if t["name"].startswith("Bob")]

        # The group is busy: Bob's topic is made at once (the team sees he waits), and the
        # last call of the minute was that; his card waits for the next one.
        (topic,) = await emulator.wait_for(bob_topic, timeout=8)
        in_topic = await emulator.messages(chat_id, thread_id=topic["thread_id"])
        assert not [m for m in in_topic if m["from"]["is_bot"] and m["kind"] != "service"]
        await clock.next_minute(app)

        async def bob_card():
            await app.core.outbox.drain()
            topics = [t for t in await emulator.topics(chat_id) if t["name"].startswith("Bob")]
            if not topics:
                return None
            return card_of(await emulator.messages(chat_id), topics[0]["thread_id"])

        card = await emulator.wait_for(bob_card, timeout=8)
        # The group was busy: the card's one post carries Bob's words, in order.
        text = card["text"]
        assert "👤 Bob" in text
        assert "tracking 123" in text and "the parcel is lost" in text, text
        assert text.index("the parcel is lost") < text.index("tracking 123")
        thread = card["thread_id"]
        for _ in range(5):
            await app.core.outbox.drain()
        in_topic = [m for m in await emulator.messages(chat_id, thread_id=thread)]
        bot_posts = [m for m in in_topic if m["from"]["is_bot"] and m["kind"] != "service"]
        assert [m["message_id"] for m in bot_posts] == [card["message_id"]]

        # An operator's reply to the card reaches Bob as a reply to what he wrote.
        operator = await emulator.user("Olga", username="olga")
        await emulator.send(
            operator["id"], chat_id=chat_id, thread_id=thread, text="We are on it",
            reply_to_message_id=card["message_id"],
        )  # fmt: skip
        await clock.next_minute(app)

        async def answered():
            await app.core.outbox.drain()
            chat = await emulator.private_messages(bob["id"], "acme_help_bot")
            return [m for m in chat if m["from"]["is_bot"] and m.get("text") == "We are on it"]

        (answer,) = await emulator.wait_for(answered, timeout=8)
        assert answer.get("reply_to_message_id"), answer


async def test_a_busy_group_makes_new_topics_first_and_their_cards_carry_all_they_wrote(emulator):
    """The last calls of a busy minute make the topics of the clients who came meanwhile, not
    cards for some of them: a card posted while its client still writes needs one more post,
    a card posted in the next minute carries all they wrote. Three clients: six calls, not
    seven."""
    ann, bob = await emulator.user("Ann"), await emulator.user("Bob")
    newcomers = [await emulator.user(name) for name in ("Carl", "Dan", "Eve")]
    async with running(emulator, [], per_minute=8) as (app, chat_id, clock):

        async def stored(count):
            await app.core.outbox.drain()
            return await Message.filter(kind="in").count() >= count

        await emulator.send(ann["id"], to_bot="acme_help_bot", text="hello from Ann")
        await emulator.wait_for(lambda: stored(1), timeout=8)
        await emulator.send(bob["id"], to_bot="acme_help_bot", text="hello from Bob")
        await emulator.wait_for(lambda: stored(2), timeout=8)
        # Ann's topic, card and post, Bob's topic and card: five of eight calls, a busy group.
        for user in newcomers:
            await emulator.send(
                user["id"], to_bot="acme_help_bot", text=f"first of {user['first_name']}"
            )
        await emulator.wait_for(lambda: stored(5), timeout=8)

        async def their_topics():
            await app.core.outbox.drain()
            names = {
                t["name"].split(" ")[0]: t["thread_id"] for t in await emulator.topics(chat_id)
            }
            return names if {"Carl", "Dan", "Eve"} <= set(names) else None

        threads = await emulator.wait_for(their_topics, timeout=8)
        for name in ("Carl", "Dan", "Eve"):
            in_topic = await emulator.messages(chat_id, thread_id=threads[name])
            assert not [m for m in in_topic if m["from"]["is_bot"] and m["kind"] != "service"]
        for user in newcomers:
            await emulator.send(
                user["id"], to_bot="acme_help_bot", text=f"then {user['first_name']}"
            )
        await emulator.wait_for(lambda: stored(8), timeout=8)
        await clock.next_minute(app)

        async def cards():
            await app.core.outbox.drain()
            shown = [card_of(await emulator.messages(chat_id), threads[n]) for n in threads]
            return shown if all(shown) and len(shown) == 5 else None

        await emulator.wait_for(cards, timeout=8)
        for name in ("Carl", "Dan", "Eve"):
            in_topic = await emulator.messages(chat_id, thread_id=threads[name])
            (card,) = [m for m in in_topic if m["from"]["is_bot"] and m["kind"] != "service"]
            assert card["pinned"] and f"first of {name}" in card["text"], card
            assert card["text"].index(f"first of {name}") < card["text"].index(f"then {name}")
        calls = [c for c in await emulator.calls() if c["ok"]]
        made = [c for c in calls if c["method"] == "createForumTopic"]
        posted = [c for c in calls if c["method"] == "sendMessage"]
        theirs = {threads[n] for n in ("Carl", "Dan", "Eve")}
        assert len([c for c in made if c["params"]["name"].split(" ")[0] in threads]) == 5
        assert len([c for c in posted if c["params"].get("message_thread_id") in theirs]) == 3


async def test_a_card_posted_by_a_relay_is_edited_by_that_relay(emulator):
    ann = await emulator.user("Ann", last_name="Lee")
    async with running(emulator, [RELAY_TOKEN], per_minute=2) as (app, chat_id, clock):
        # The team bot's budget is spent: the relay creates the topic and posts the card.
        app.desk.gateway.budget.take()
        app.desk.gateway.budget.take()
        await emulator.send(ann["id"], to_bot="acme_help_bot", text="hello from Ann")

        async def card():
            await app.core.outbox.drain()
            topics = await emulator.topics(chat_id)
            return topics and card_of(await emulator.messages(chat_id), topics[0]["thread_id"])

        shown = await emulator.wait_for(card, timeout=8)
        assert shown["from"]["id"] == 700777
        assert "hello from Ann" in shown["text"]
        # The team bot pinned it (a relay needs no pin right).
        pins = [c for c in await emulator.calls("pinChatMessage") if c["ok"]]
        assert {c["token"] for c in pins} == {TEAM_TOKEN}

        (dialog,) = await Dialog.all()
        dialog_id = dialog.id
        await app.core.dialogs.close(dialog_id, None)
        await clock.next_minute(app)

        async def redrawn():
            await app.core.outbox.drain()
            await OutboxItem.filter(status="pending").update(not_before=app.core.ctx.wall.now())
            edits = [c for c in await emulator.calls("editMessageText") if c["ok"]]
            return edits

        edits = await emulator.wait_for(redrawn, timeout=10, interval=0.2)
        assert {c["token"] for c in edits} == {RELAY_TOKEN}
        # The redraw keeps the client's words.
        assert "hello from Ann" in edits[-1]["params"]["text"]


async def test_in_a_busy_group_a_close_is_confirmed_with_a_reaction(emulator):
    ann = await emulator.user("Ann", last_name="Lee")
    operator = await emulator.user("Olga", username="olga", language_code="en")
    async with running(emulator, [], per_minute=2) as (app, chat_id, clock):
        await emulator.send(ann["id"], to_bot="acme_help_bot", text="hello there")

        async def card():
            await app.core.outbox.drain()
            topics = await emulator.topics(chat_id)
            return topics and card_of(await emulator.messages(chat_id), topics[0]["thread_id"])

        thread = (await emulator.wait_for(card, timeout=8))["thread_id"]
        # The topic and the card spent this minute's budget.
        command = await emulator.send(
            operator["id"], chat_id=chat_id, thread_id=thread, text="/close"
        )

        async def reacted():
            await app.core.outbox.drain()
            mine = [
                m for m in await emulator.messages(chat_id, thread_id=thread)
                if m["message_id"] == command["message_id"]
            ]  # fmt: skip
            return mine and mine[0].get("reactions")

        reactions = await emulator.wait_for(reacted, timeout=8)
        assert [r["emoji"] for r in reactions] == ["👌"]
        said = [m for m in await emulator.messages(chat_id, thread_id=thread)
                if m["from"]["is_bot"] and "Closed" in (m.get("text") or "")]  # fmt: skip
        assert said == []

        async def closed():
            await clock.next_minute(app)
            await app.core.outbox.drain()
            (topic,) = await emulator.topics(chat_id)
            return topic["closed"] and topic["name"].startswith("✅")

        # The title and the closed topic follow when the budget allows.
        assert await emulator.wait_for(closed, timeout=8, interval=0.2)
