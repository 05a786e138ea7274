"""Quick-reply templates: managed by managers, sent with /t or inline mode, shown in the topic."""

from __future__ import annotations

import base64

from bot.i18n import t
from tests.e2e.teamwork import (
    client_got,
    desk_fixture,
    last_bot_message,
    new_topic,
    press,
    said,
)

desk = desk_fixture()


async def general(desk, text, who=None):
    return await desk.emu.send((who or desk.operator)["id"], chat_id=desk.chat_id, text=text)


async def test_manager_adds_operator_cannot_and_templates_lists_them(desk):
    # Olga administers the group (a manager); Pavel is a member.
    await general(desk, "/template add hello Hello, {client}! This is {operator}.")
    await desk.wait(lambda: said(desk, "general", "Template «hello» saved"))
    await general(desk, "/template add bye Bye!", who=desk.colleague)
    # Pavel speaks Russian; the group reads its own language.
    await desk.wait(lambda: said(desk, "general", t("error.managers_only", "en")))
    await general(desk, "/template del hello", who=desk.colleague)
    await general(desk, "/templates", who=desk.colleague)
    listing = await desk.wait(lambda: last_bot_message(desk, "general", "hello — "))
    assert "hello — Hello, {client}! This is {operator}." in listing["text"]
    assert "bye" not in listing["text"]

    await general(desk, "/template del nope")
    await desk.wait(lambda: said(desk, "general", "There is no template «nope»"))
    await general(desk, "/template")
    await desk.wait(lambda: said(desk, "general", "Form: /template add NAME"))
    await general(desk, "/template del hello")
    await desk.wait(lambda: said(desk, "general", "Template «hello» deleted"))


async def test_managers_setting_lets_a_member_manage(emulator):
    from tests.e2e.teamwork import teamwork_desk as make

    async for desk in make(emulator, MANAGERS="@pavel"):
        await general(desk, "/template add thanks Thank you!", who=desk.colleague)
        saved = t("template.added", "en", name="thanks")
        await desk.wait(lambda d=desk, s=saved: said(d, "general", s))


async def test_templates_in_the_private_chat(desk):
    await desk.emu.send(desk.operator["id"], to_bot=desk.bot_username, text="/template add hi Hi!")

    async def answered():
        return [m for m in await desk.operator_private() if "saved" in (m.get("text") or "")]

    await desk.wait(answered)
    await desk.emu.send(desk.operator["id"], to_bot=desk.bot_username, text="/templates")

    async def listed():
        return [m for m in await desk.operator_private() if "hi — Hi!" in (m.get("text") or "")]

    await desk.wait(listed)


async def test_t_with_one_match_reaches_the_client_and_shows_in_the_topic(desk):
    await general(desk, "/template add hello Hello, {client}! This is {operator}.")
    await desk.wait(lambda: said(desk, "general", "saved"))
    thread = await new_topic(desk)
    await desk.in_topic(thread, "/t hel")
    got = await desk.wait(lambda: client_got(desk, "Hello, Ann Lee! This is Olga."))
    assert got[-1]["text"] == "Hello, Ann Lee! This is Olga."
    await desk.wait(lambda: said(desk, thread, "Hello, Ann Lee! This is Olga."))


async def test_t_with_several_matches_gives_buttons(desk):
    await general(desk, "/template add price1 Our prices: A")
    await general(desk, "/template add price2 Our prices: B")
    await desk.wait(lambda: said(desk, "general", "«price2» saved"))
    thread = await new_topic(desk)
    await desk.in_topic(thread, "/t price")
    menu = await desk.wait(lambda: last_bot_message(desk, thread, "Several templates"))
    assert len(menu["reply_markup"]["inline_keyboard"]) == 2
    await press(desk, desk.colleague, menu, "price2")
    await desk.wait(lambda: client_got(desk, "Our prices: B"))
    assert not await client_got(desk, "Our prices: A")
    await desk.in_topic(thread, "/t zzz")
    await desk.wait(lambda: said(desk, thread, "No template matches «zzz»"))
    await desk.in_topic(thread, "/t")
    await desk.wait(lambda: said(desk, thread, "Form: /t NAME"))


async def test_a_template_from_a_replied_photo_sends_the_photo(desk):
    photo = {"file_name": "menu.jpg", "content_base64": base64.b64encode(b"jpeg").decode()}
    sent = await desk.emu.send(
        desk.operator["id"], chat_id=desk.chat_id, photo=photo, caption="Our menu"
    )
    await desk.emu.send(
        desk.operator["id"],
        chat_id=desk.chat_id,
        text="/template add menu",
        reply_to_message_id=sent["message_id"],
    )
    await desk.wait(lambda: said(desk, "general", "«menu» saved"))
    thread = await new_topic(desk)
    await desk.in_topic(thread, "/t menu")

    async def photo_at_client():
        return [m for m in await desk.client_chat() if m["from"]["is_bot"] and m["kind"] == "photo"]

    got = await desk.wait(photo_at_client)
    assert got[0]["caption"] == "Our menu"


async def test_inline_mode_lists_templates_and_the_chosen_one_reaches_the_client(desk):
    await general(desk, "/template add hello Hello, {client}! This is {operator}.")
    await general(desk, "/template add help How can I help?")
    await desk.wait(lambda: said(desk, "general", "«help» saved"))
    thread = await new_topic(desk)

    query_id = await desk.emu.inline(desk.colleague["id"], "hel", chat_type="supergroup")

    async def answered():
        answer = await desk.emu.inline_answer(query_id)
        return answer if answer["answered"] else None

    answer = await desk.wait(answered)
    titles = [r["title"] for r in answer["results"]]
    assert titles == ["hello", "help"]
    chosen = next(r for r in answer["results"] if r["title"] == "hello")
    posted = await desk.emu.choose(query_id, chosen["id"], chat_id=desk.chat_id, thread_id=thread)
    assert posted["via_bot"]
    got = await desk.wait(lambda: client_got(desk, "Hello, Ann Lee! This is Pavel."))
    assert got[-1]["text"] == "Hello, Ann Lee! This is Pavel."

    # Someone outside the team sees nothing.
    stranger = await desk.emu.inline(desk.client["id"], "hel")
    answer = await desk.wait(lambda: _answered(desk, stranger))
    assert answer["results"] == []


async def _answered(desk, query_id):
    answer = await desk.emu.inline_answer(query_id)
    return answer if answer["answered"] else None
