"""`--seed demo`: a short, realistic morning played through the emulator's control API, as
clients and operators would play it: a few clients write, one dialog is assigned and tagged,
one snoozed, one closed, two wait for an answer. Each step waits until eadesk has done its
part (what the people see in the emulator, or the dialog in the database), never a fixed
pause."""

from __future__ import annotations

import base64
import logging
import struct
import zlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from core.lifecycle import DialogStatus
from core.models import Dialog, OutboxItem, OutboxStatus
from sandbox.emulator.client import EmulatorClient
from sandbox.world import World

log = logging.getLogger("sandbox.demo")

STEP_TIMEOUT = 60.0  # seconds eadesk gets for one step before the demo gives up

LINES: dict[str, dict[str, str]] = {
    "en": {
        "maria": "Hello! My order #1042 still hasn't arrived, it's been a week. Can you check?",
        "david": "Hi, can I change the delivery address for tomorrow's order?",
        "sofia": "Do you have the blue raincoat in size M?",
        "james": "Good morning! How do I get an invoice for my company?",
        "emma": "The box arrived damaged, see the photo",
        "tag": "/tag delivery",
        "comment": "// the warehouse says it leaves at 2 pm",
        "boris_to_maria": "Hello Maria! I checked with the warehouse: your parcel leaves today, "
        "you'll get the tracking number by e-mail.",
        "anna_to_david": "Of course! Send me the new address and I'll change it.",
        "david_again": "221b Baker Street. I'll be home after 6.",
        "anna_to_david_2": "Done. I'll check with the courier and come back to you by noon.",
        "snooze": "/snooze 2h",
        "boris_to_james": "Good morning! Send us your company's details and we'll e-mail "
        "the invoice today.",
        "james_again": "Got it, thank you!",
    },
    "ru": {
        "maria": "Здравствуйте! Мой заказ №1042 так и не пришёл, прошла неделя. Проверите?",
        "david": "Добрый день, можно поменять адрес доставки для завтрашнего заказа?",
        "sofia": "Есть ли синий дождевик размера M?",
        "james": "Доброе утро! Как получить счёт на компанию?",
        "emma": "Коробка пришла помятой, вот фото",
        "tag": "/tag доставка",
        "comment": "// склад говорит, что отправит в 14:00",
        "boris_to_maria": "Здравствуйте, Мария! Уточнил на складе: посылка уходит сегодня, "
        "трек-номер придёт на почту.",
        "anna_to_david": "Конечно! Пришлите новый адрес, я поменяю.",
        "david_again": "Бейкер-стрит, 221б. Буду дома после шести.",
        "anna_to_david_2": "Готово. Уточню у курьера и вернусь к вам до обеда.",
        "snooze": "/snooze 2h",
        "boris_to_james": "Доброе утро! Пришлите реквизиты компании, и мы сегодня же "
        "отправим счёт на почту.",
        "james_again": "Понял, спасибо!",
    },
}


def tiny_png(
    width: int = 48, height: int = 32, rgb: tuple[int, int, int] = (176, 132, 84)
) -> bytes:
    """A small one-colour PNG (the photo of a cardboard box, roughly)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


class Morning:
    def __init__(self, emu: EmulatorClient, world: World) -> None:
        self.emu = emu
        self.world = world
        self.lines = LINES.get(world.language, LINES["en"])
        self.chat = world.team_chat_id
        self.bot = world.bot_username
        self.anna = world.operator("lead")
        self.boris = world.operator("operator")
        self.clients = world.clients

    async def until(self, what: str, predicate: Callable[[], Awaitable[Any]]) -> Any:
        try:
            return await self.emu.wait_for(predicate, timeout=STEP_TIMEOUT, interval=0.1)
        except TimeoutError:
            raise TimeoutError(f"demo: eadesk did not {what} in {STEP_TIMEOUT:.0f} s") from None

    # ---- what people see ----------------------------------------------------------------
    async def bot_said_privately(self, user: dict[str, Any], needle: str = "") -> bool:
        messages = await self.emu.private_messages(user["id"], self.bot)
        return any(
            m["from"]["is_bot"] and needle in (m.get("text") or m.get("caption") or "")
            for m in messages
        )

    async def topic_of(self, client: dict[str, Any]) -> int | None:
        for topic in await self.emu.topics(self.chat):
            if not topic.get("deleted") and client["name"] in topic["name"]:
                return int(topic["thread_id"])
        return None

    async def topic_shows(self, client: dict[str, Any], needle: str) -> int | None:
        thread = await self.topic_of(client)
        if thread is None:
            return None
        for m in await self.emu.messages(self.chat, thread_id=thread):
            if m["from"]["is_bot"] and needle in (m.get("text") or m.get("caption") or ""):
                return thread
        return None

    async def dialog(self, client: dict[str, Any]) -> Dialog | None:
        return await Dialog.filter(chat_key=str(client["id"])).order_by("-id").first()

    # ---- what people do -----------------------------------------------------------------
    async def start_private(self, operator: dict[str, Any]) -> None:
        await self.emu.send(operator["id"], to_bot=self.bot, text="/start")
        await self.until("greet an operator", lambda: self.bot_said_privately(operator))

    async def client_writes(self, client: dict[str, Any], text: str, **body: Any) -> int:
        content = {"text": text} if not body else {**body, "caption": text}
        await self.emu.send(client["id"], to_bot=self.bot, **content)
        thread: int = await self.until(
            "post a client's message in its topic", lambda: self.topic_shows(client, text[:30])
        )
        return thread

    async def operator_says(self, who: dict[str, Any], thread: int, text: str) -> None:
        await self.emu.send(who["id"], chat_id=self.chat, thread_id=thread, text=text)

    async def answer(
        self, who: dict[str, Any], client: dict[str, Any], thread: int, text: str
    ) -> None:
        await self.operator_says(who, thread, text)
        await self.until(
            "deliver an answer to the client",
            lambda: self.bot_said_privately(client, text[:30]),
        )

    async def dialog_is(self, client: dict[str, Any], check: Callable[[Dialog], Any]) -> bool:
        dialog = await self.dialog(client)
        return dialog is not None and bool(await check(dialog))

    async def play(self) -> None:
        lines, (maria, david, sofia, james, emma) = self.lines, self.clients[:5]
        await self.start_private(self.anna)
        await self.start_private(self.boris)

        t_maria = await self.client_writes(maria, lines["maria"])
        t_david = await self.client_writes(david, lines["david"])
        await self.client_writes(sofia, lines["sofia"])
        t_james = await self.client_writes(james, lines["james"])
        photo = {"file_name": "box.png", "mime_type": "image/png"}
        photo["content_base64"] = base64.b64encode(tiny_png()).decode()
        await self.client_writes(emma, lines["emma"], photo=photo)

        # Anna, the lead, gives Maria's dialog to Boris and tags it; Boris answers.
        await self.operator_says(self.anna, t_maria, f"/assign @{self.boris['username']}")

        async def assigned(d: Dialog) -> bool:
            return d.assignee_id is not None  # type: ignore[attr-defined]

        await self.until("assign a dialog", lambda: self.dialog_is(maria, assigned))
        await self.operator_says(self.anna, t_maria, lines["tag"])

        async def tagged(d: Dialog) -> bool:
            return bool(await d.tags.all())

        await self.until("tag a dialog", lambda: self.dialog_is(maria, tagged))
        await self.operator_says(self.boris, t_maria, lines["comment"])
        await self.answer(self.boris, maria, t_maria, lines["boris_to_maria"])

        # David's address: Anna answers, David writes back, Anna snoozes it for two hours.
        await self.answer(self.anna, david, t_david, lines["anna_to_david"])
        await self.client_writes(david, lines["david_again"])
        await self.answer(self.anna, david, t_david, lines["anna_to_david_2"])
        await self.operator_says(self.anna, t_david, lines["snooze"])

        async def snoozed(d: Dialog) -> bool:
            return d.status == DialogStatus.SNOOZED

        await self.until("snooze a dialog", lambda: self.dialog_is(david, snoozed))

        # James's invoice: Boris answers, James thanks, Boris closes it.
        await self.answer(self.boris, james, t_james, lines["boris_to_james"])
        await self.client_writes(james, lines["james_again"])
        await self.operator_says(self.boris, t_james, "/close")

        async def closed(d: Dialog) -> bool:
            return d.status == DialogStatus.CLOSED

        await self.until("close a dialog", lambda: self.dialog_is(james, closed))

        async def quiet() -> bool:
            sending = OutboxItem.filter(status=OutboxStatus.SENDING)
            due = OutboxItem.filter(status=OutboxStatus.PENDING, not_before__lte=datetime.now(UTC))
            return not await sending.exists() and not await due.exists()

        # The topic list as the team sees it: James's closed with its ✅, David's 💤.
        async def marked() -> bool:
            topics = {t["thread_id"]: t for t in await self.emu.topics(self.chat)}
            james_closed = topics[t_james]["closed"] and topics[t_james]["name"].startswith("✅")
            return bool(james_closed and topics[t_david]["name"].startswith("💤"))

        await self.until("mark the topics", marked)

        await self.until("send everything it had to", quiet)


async def play_morning(emu: EmulatorClient, world: World) -> None:
    """Sofia's question and Emma's photo are left waiting for an answer."""
    await Morning(emu, world).play()
