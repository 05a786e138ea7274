"""📜 History (#15): the client's merged history in the asking operator's private chat, paged
back with *Show more* to the very first message; attachments sent again on a press; each
dialog's part linked to its topic; the HTML transcript holds every message once, escaped, with
the asker's notes and nobody else's; an operator who never started the bot is told once."""

from __future__ import annotations

import base64
from html.parser import HTMLParser
from typing import Any

from core.models import Client
from tests.e2e.conftest import Desk
from tests.e2e.teamwork import (
    buttons,
    card_of,
    desk_fixture,
    new_topic,
    pressed,
    said,
    start_private,
)

desk = desk_fixture()

# The smallest PNG there is: one transparent pixel.
PIXEL = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


async def private_bot(desk: Desk, who: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    return [m for m in await desk.operator_private(who) if m["from"]["is_bot"]]


async def history_page(desk: Desk, who: dict[str, Any] | None = None) -> dict[str, Any] | None:
    pages = [m for m in await private_bot(desk, who) if "📜" in (m.get("text") or "")]
    return pages[-1] if pages else None


async def shown_again(desk: Desk, page: dict[str, Any], needle: str) -> dict[str, Any] | None:
    """The page message once an edit made it show `needle`."""
    for message in await desk.operator_private():
        if message["message_id"] == page["message_id"] and needle in (message.get("text") or ""):
            return message
    return None


async def client_writes(desk: Desk, texts: list[str], thread: int | None = None) -> None:
    for text in texts:
        await desk.client_says(text)
    if thread is not None:
        await desk.wait(lambda: said(desk, thread, texts[-1]), timeout=30)


async def documents(desk: Desk) -> list[dict[str, Any]]:
    return [m for m in await private_bot(desk) if m.get("kind") == "document"]


class Transcript(HTMLParser):
    """What a person sees in the transcript: each message's text by its key, the images, the
    avatars' shapes, the page's meta."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: dict[str, str] = {}
        self.order: list[str] = []
        self.classes: dict[str, str] = {}
        self.images: list[str] = []
        self.metas: list[dict[str, str | None]] = []
        self.links: list[str] = []
        self.current: str | None = None
        self.avatars: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "section" and found.get("data-key"):
            self.current = str(found["data-key"])
            assert self.current not in self.messages, f"{self.current} twice"
            self.messages[self.current] = ""
            self.order.append(self.current)
            self.classes[self.current] = found.get("class") or ""
        elif tag == "img":
            self.images.append(found.get("src") or "")
        elif tag == "meta":
            self.metas.append(found)
        elif tag == "a":
            self.links.append(found.get("href") or "")
        elif tag == "div" and "av" in (found.get("class") or "").split() and self.current:
            self.avatars[self.current] = found.get("class") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "section":
            self.current = None

    def handle_data(self, data: str) -> None:
        if self.current is not None:
            self.messages[self.current] += data


def parse(html_text: str) -> Transcript:
    parser = Transcript()
    parser.feed(html_text)
    parser.close()
    return parser


async def transcript_of(desk: Desk, document: dict[str, Any]) -> Transcript:
    data = desk.emu.server.state.files[document["file_unique_id"]].data
    return parse(data.decode("utf-8"))


# ---- paging --------------------------------------------------------------------------------------


async def test_history_pages_back_to_the_first_message_in_private(desk: Desk) -> None:
    thread = await new_topic(desk, "first words")
    await start_private(desk, desk.operator)
    texts = [f"question {n:02}" for n in range(1, 20)]
    await client_writes(desk, texts, thread)
    await desk.in_topic(thread, "we are on it")

    await desk.in_topic(thread, "/history")
    page = await desk.wait(lambda: history_page(desk))
    # Newest last: the operator's reply ends the first page, the first words are far back.
    assert page["text"].rstrip().endswith("we are on it")
    assert "question 19" in page["text"] and "first words" not in page["text"]
    assert "messages 14–21 of 21" in page["text"]
    assert "Ann Lee (client)" in page["text"] and "Olga (operator)" in page["text"]
    assert "@acme_help_bot" in page["text"]  # the channel
    # Nothing of it went into the group.
    assert not await said(desk, thread, "📜")

    seen = [page["text"]]
    while any("Show more" in label for label in buttons(page)):
        before = page["text"]
        await pressed(desk, desk.operator, page, "Show more")

        async def turned(previous: str = before, shown_id: int = page["message_id"]) -> Any:
            for message in await desk.operator_private():
                if message["message_id"] == shown_id and message["text"] != previous:
                    return message
            return None

        page = await desk.wait(turned)
        seen.append(page["text"])
        assert len(seen) < 10
    assert "messages 1–5 of 21" in page["text"]
    assert "first words" in page["text"]
    # Every message was on some page, once.
    everything = "\n".join(seen)
    for text in ["first words", *texts, "we are on it"]:
        assert everything.count(text) == 1, text
    # And back again.
    await pressed(desk, desk.operator, page, "Newer")
    await desk.wait(lambda: shown_again(desk, page, "question 05"))


async def test_a_file_in_the_history_is_sent_again_on_a_press(desk: Desk) -> None:
    thread = await new_topic(desk)
    await start_private(desk, desk.operator)
    bill = base64.b64encode(b"%PDF-1.4 bill").decode()
    await desk.client_says(
        document={"content_base64": bill, "file_name": "bill.pdf"}, caption="the bill"
    )
    await desk.wait(lambda: said(desk, thread, "the bill"))
    await desk.in_topic(thread, "/history")
    page = await desk.wait(lambda: history_page(desk))
    assert "📎1 bill.pdf" in page["text"]
    before = len(await documents(desk))
    answer = await pressed(desk, desk.operator, page, "📎1")
    assert not answer.get("show_alert")
    sent = await desk.wait(lambda: _more(documents(desk), before))
    assert sent[-1]["file_name"] == "bill.pdf"
    assert desk.emu.server.state.files[sent[-1]["file_unique_id"]].data == b"%PDF-1.4 bill"


async def _more(found: Any, count: int) -> Any:
    items = await found
    return items if len(items) > count else None


async def test_the_card_button_sends_the_history_to_the_pressers_private_chat(desk: Desk) -> None:
    thread = await new_topic(desk, "hello from the card")
    card = await desk.wait(lambda: card_of(desk, thread))
    # Never started the bot: a short alert, nothing in the group.
    answer = await pressed(desk, desk.operator, card, "History")
    assert answer["show_alert"] and "press Start" in answer["text"], answer
    await start_private(desk, desk.operator)
    answer = await pressed(desk, desk.operator, card, "History")
    assert "private chat" in answer["text"] and not answer["show_alert"], answer
    page = await desk.wait(lambda: history_page(desk))
    assert "hello from the card" in page["text"]
    await desk.settle()
    assert not await said(desk, thread, "📜 History:")


async def test_an_operator_who_never_started_the_bot_is_told_once_in_the_topic(desk: Desk) -> None:
    thread = await new_topic(desk)
    for _ in range(2):
        await desk.in_topic(thread, "/history")
    told = await desk.wait(lambda: _lines(desk, thread, "to get the client's history"))
    await desk.settle()
    assert len(await _lines(desk, thread, "to get the client's history")) == 1, told


async def _lines(desk: Desk, thread: int, needle: str) -> list[dict[str, Any]]:
    return [
        m
        for m in await desk.topic_messages(thread)
        if m["from"]["is_bot"] and needle in (m.get("text") or "")
    ]


async def test_history_outside_a_dialog_says_where_it_works(desk: Desk) -> None:
    await desk.emu.send(desk.operator["id"], chat_id=desk.chat_id, text="/history")
    await desk.wait(lambda: said(desk, "general", "topic"))


# ---- the transcript ------------------------------------------------------------------------------


async def test_the_transcript_holds_every_message_once_and_only_the_askers_notes(
    desk: Desk,
) -> None:
    thread = await new_topic(desk, "Hi there")
    await start_private(desk, desk.operator)
    await desk.client_says("<b>not bold</b> & <script>alert(1)</script>")
    await desk.wait(lambda: said(desk, thread, "<script>"))
    await desk.client_says(
        photo={"content_base64": base64.b64encode(PIXEL).decode()}, caption="a pic"
    )
    await desk.wait(lambda: said(desk, thread, "a pic"))
    await desk.in_topic(thread, "Thanks, checking")
    await desk.in_topic(thread, "// the warehouse is asked")
    await desk.in_topic(thread, "/note olga's own secret")
    await desk.in_topic(thread, "/note pavel's own secret", who=desk.colleague)
    await desk.wait(lambda: _notes_stored(2))

    await desk.in_topic(thread, "/history")
    page = await desk.wait(lambda: history_page(desk))
    assert "olga's own secret" in page["text"] and "pavel" not in page["text"]
    await pressed(desk, desk.operator, page, "Transcript")
    [document] = await desk.wait(lambda: documents(desk))
    assert document["file_name"].endswith(".html")
    shown = await transcript_of(desk, document)

    texts = list(shown.messages.values())
    assert len(texts) == 6, texts  # 3 from the client, a reply, a comment, Olga's note
    joined = "\n".join(texts)
    for needle in (
        "Hi there",
        "<b>not bold</b> & <script>alert(1)</script>",  # as written, never markup
        "a pic",
        "Thanks, checking",
        "the warehouse is asked",
        "olga's own secret",
    ):
        assert joined.count(needle) == 1, needle
    assert "pavel's own secret" not in joined
    # The image is inline; the page is made for a phone; the dialog links to its topic.
    pixel = base64.b64encode(PIXEL).decode()
    assert [src.partition(",")[2] for src in shown.images] == [pixel], shown.images
    assert shown.images[0].startswith("data:image/")
    assert any(m.get("name") == "viewport" for m in shown.metas)
    assert any(f"/{thread}" in link for link in shown.links)
    # The client round, the team square; messages alternately shaded.
    keys = shown.order
    client_key = next(k for k in keys if "Hi there" in shown.messages[k])
    reply_key = next(k for k in keys if "Thanks, checking" in shown.messages[k])
    assert "round" in shown.avatars[client_key] and "square" in shown.avatars[reply_key]
    shades = ["odd" in shown.classes[k].split() for k in keys]
    assert shades == [bool(i % 2) for i in range(len(keys))]


async def _notes_stored(count: int) -> bool:
    from core.models import Note

    return await Note.all().count() >= count


async def test_a_long_history_comes_with_its_transcript(desk: Desk) -> None:
    thread = await new_topic(desk, "message 00")
    await start_private(desk, desk.operator)
    await client_writes(desk, [f"message {n:02}" for n in range(1, 32)], thread)
    await desk.in_topic(thread, "/history")
    await desk.wait(lambda: history_page(desk))
    [document] = await desk.wait(lambda: documents(desk))
    shown = await transcript_of(desk, document)
    texts = list(shown.messages.values())
    for n in range(32):
        assert sum(f"message {n:02}" in text for text in texts) == 1, n


# ---- several dialogs -----------------------------------------------------------------------------


async def test_the_history_merges_the_clients_dialogs_each_part_linked_to_its_topic(
    desk: Desk,
) -> None:
    thread = await new_topic(desk, "from Ann")
    bob = await desk.emu.user("Bob", language_code="en")
    await desk.client_says("from Bob", who=bob)

    async def both_topics() -> list[dict[str, Any]] | None:
        topics = await desk.topics()
        return topics if len(topics) == 2 else None

    topics = await desk.wait(both_topics)
    bob_thread = next(t["thread_id"] for t in topics if t["thread_id"] != thread)
    await desk.wait(lambda: said(desk, bob_thread, "from Bob"))
    # Bob turned out to be Ann on another account: merged into her (as /merge will do).
    ann_client = await Client.get(name="Ann Lee")
    merged = await Client.filter(name="Bob").update(merged_into_id=ann_client.id)
    assert merged == 1, [c.name for c in await Client.all()]

    await start_private(desk, desk.operator)
    await desk.in_topic(thread, "/history")
    page = await desk.wait(lambda: history_page(desk))
    assert "from Ann" in page["text"] and "from Bob" in page["text"]
    assert page["text"].index("from Ann") < page["text"].index("from Bob")
    links = [e["url"] for e in page.get("entities") or [] if e.get("type") == "text_link"]
    assert any(link.endswith(f"/{thread}") for link in links), links
    assert any(link.endswith(f"/{bob_thread}") for link in links), links


async def test_a_page_of_long_messages_still_fits_one_message(desk: Desk) -> None:
    thread = await new_topic(desk, "start")
    await start_private(desk, desk.operator)
    # Emoji weigh two of Telegram's units each: eight of these would not fit uncut.
    await client_writes(desk, [f"{n} " + "😀" * 1000 for n in range(8)], thread)
    await desk.in_topic(thread, "/history")
    page = await desk.wait(lambda: history_page(desk))
    assert "messages 2–9 of 9" in page["text"]
    assert "7 😀" in page["text"] and "…" in page["text"]


async def test_the_history_speaks_the_askers_language(desk: Desk) -> None:
    thread = await new_topic(desk, "Добрый день")
    await start_private(desk, desk.colleague)  # Pavel reads Russian
    await desk.in_topic(thread, "/history", who=desk.colleague)
    page = await desk.wait(lambda: history_page(desk, desk.colleague))
    assert page["text"].startswith("📜 История: Ann Lee")
    assert "Ann Lee (клиент)" in page["text"]
    assert "📄 Стенограмма (HTML)" in buttons(page)
