"""The "done when" of the operator group, as a client and operators see it."""

from __future__ import annotations

from datetime import timedelta

from core.lifecycle import DialogStatus
from core.models import Episode


async def test_hello_creates_one_topic_and_the_reply_reaches_the_client(desk):
    await desk.client_says("Hello")
    topic = await desk.only_topic()
    assert "Ann Lee" in topic["name"] and "@acme_help_bot" in topic["name"]
    shown = await desk.wait(lambda: desk.topic_messages(topic["thread_id"]))
    texts = [m["text"] for m in shown if m.get("text")]
    assert any(t.endswith("Hello") and t.startswith("Ann Lee") for t in texts), texts

    await desk.in_topic(topic["thread_id"], "Hi Ann, how can we help?")

    async def client_got_reply():
        return [m for m in await desk.client_chat() if m["from"]["is_bot"]]

    replies = await desk.wait(client_got_reply)
    assert replies[-1]["text"] == "Hi Ann, how can we help?"

    await desk.client_says("Second question")
    await desk.wait(lambda: _has_text(desk.topic_messages(topic["thread_id"]), "Second question"))
    assert len(await desk.topics()) == 1


async def _has_text(messages_coro, needle):
    return any(needle in (m.get("text") or "") for m in await messages_coro)


async def test_comment_stays_in_the_topic(desk):
    await desk.client_says("Hello")
    topic = await desk.only_topic()
    await desk.in_topic(topic["thread_id"], "// check the invoice first")
    await desk.in_topic(topic["thread_id"], "/c second internal remark")
    await desk.in_topic(topic["thread_id"], "Visible answer")

    async def answered():
        return [m for m in await desk.client_chat() if m["from"]["is_bot"]]

    replies = await desk.wait(answered)
    await desk.settle()
    texts = [m["text"] for m in await desk.client_chat() if m["from"]["is_bot"]]
    assert texts == ["Visible answer"]
    shown = await desk.topic_messages(topic["thread_id"])
    comment = next(m for m in shown if m.get("text") == "// check the invoice first")
    assert comment.get("reactions"), "a comment is visibly marked"
    assert replies


async def test_note_leaves_the_group_and_reaches_its_author_only(desk):
    await desk.emu.send(desk.operator["id"], to_bot=desk.bot_username, text="/start")
    await desk.wait(lambda: _has_text(desk.operator_private(), "notes"))
    await desk.client_says("Hello")
    topic = await desk.only_topic()
    await desk.in_topic(topic["thread_id"], "/note call her back on Monday")

    notes = await desk.wait(lambda: _has_text(desk.operator_private(), "call her back"))
    assert notes
    shown = await desk.topic_messages(topic["thread_id"])
    assert not any("call her back" in (m.get("text") or "") for m in shown)
    colleague_view = await desk.operator_private(desk.colleague)
    assert not any("call her back" in (m.get("text") or "") for m in colleague_view)
    client_view = await desk.client_chat()
    assert not any("call her back" in (m.get("text") or "") for m in client_view)


async def test_note_before_start_is_kept_and_delivered_after_start(desk):
    await desk.client_says("Hello")
    topic = await desk.only_topic()
    await desk.in_topic(topic["thread_id"], "/note remember the discount", who=desk.colleague)
    await desk.wait(
        lambda: _has_text(desk.topic_messages(topic["thread_id"]), "Pavel")
    )  # the topic is told once
    await desk.emu.send(desk.colleague["id"], to_bot=desk.bot_username, text="/start")
    got = await desk.wait(
        lambda: _has_text(desk.operator_private(desk.colleague), "remember the discount")
    )
    assert got


async def test_close_then_client_within_window_same_episode_after_window_new(emulator):
    from tests.e2e.conftest import build_desk

    async for desk in build_desk(emulator, REOPEN_WINDOW_MESSENGER="3h"):
        await desk.client_says("Hello")
        topic = await desk.only_topic()
        thread = topic["thread_id"]
        await desk.in_topic(thread, "/close")

        async def closed_topic(desk=desk):
            return [t for t in await desk.topics() if t["closed"]]

        await desk.wait(closed_topic)
        assert await desk.status() is DialogStatus.CLOSED
        assert (await desk.topics())[0]["name"].startswith("✅")

        desk.clock.advance(timedelta(hours=1))
        await desk.client_says("One more thing")

        async def reopened(desk=desk):
            return [t for t in await desk.topics() if not t["closed"]]

        await desk.wait(reopened)
        assert await desk.status() is DialogStatus.OPEN
        assert [t["thread_id"] for t in await desk.topics()] == [thread]
        dialog = await desk.dialog()
        assert await Episode.filter(dialog_id=dialog.id).count() == 1

        await desk.in_topic(thread, "/close")
        await desk.wait(closed_topic)
        desk.clock.advance(timedelta(hours=3, seconds=1))
        await desk.client_says("Back again after a while")
        await desk.wait(reopened)
        assert [t["thread_id"] for t in await desk.topics()] == [thread]
        assert await Episode.filter(dialog_id=dialog.id).count() == 2


async def test_snooze_hides_and_wakes_on_time_or_on_client_message(desk):
    await desk.client_says("Hello")
    topic = await desk.only_topic()
    thread = topic["thread_id"]
    await desk.in_topic(thread, "/snooze 2h")

    async def title_starts(prefix):
        return [t for t in await desk.topics() if t["name"].startswith(prefix)]

    await desk.wait(lambda: title_starts("💤"))
    assert await desk.status() is DialogStatus.SNOOZED

    desk.clock.advance(timedelta(hours=2))
    assert await desk.app.core.wake_due_snoozes() == 1
    await desk.wait(lambda: _not_prefixed(desk))
    assert await desk.status() is DialogStatus.OPEN

    await desk.in_topic(thread, "/snooze forever")
    await desk.wait(lambda: title_starts("💤"))
    await desk.client_says("Are you there?")
    await desk.wait(lambda: _not_prefixed(desk))
    assert await desk.status() is DialogStatus.OPEN


async def _not_prefixed(desk):
    return [t for t in await desk.topics() if not t["name"].startswith(("💤", "✅"))]
