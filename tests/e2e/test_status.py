"""/status in General: what the control room sees about links, queue and budget."""

from __future__ import annotations


async def test_status_in_general_shows_links_queue_and_budget(desk):
    await desk.client_says("Hello")
    await desk.only_topic()
    await desk.emu.send(desk.operator["id"], chat_id=desk.chat_id, text="/status")

    async def answer():
        general = await desk.emu.messages(desk.chat_id, thread_id="general")
        return [m for m in general if m["from"]["is_bot"] and "status" in (m.get("text") or "")]

    shown = (await desk.wait(answer))[-1]["text"]
    assert "Telegram (@acme_help_bot)" in shown
    assert "Outbox:" in shown and "client_reply" in shown
    assert "Group budget of @acme_help_bot:" in shown and "of 20" in shown
