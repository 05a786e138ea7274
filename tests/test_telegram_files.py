"""Files between our Telegram bots, through the emulator: a file goes up once per bot, its
bytes come down once and only when needed, and what is too large is refused with a reason."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path
from typing import Any

import pytest
from aiogram import Bot
from aiogram.types import Message as TgMessage

from core.blobs import DiskBlobStore
from core.content import Attachment, AttachmentKind
from tests.emulator.fixtures import EmulatorClient
from tgapi.files import FileTooLarge, TelegramFiles
from tgapi.parse import content_of

pytestmark = pytest.mark.usefixtures("db")

CLIENT_BOT, TEAM_BOT = "111:AAA", "222:BBB"
RIGHTS = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}
PHOTO = b"\xff\xd8\xff\xe0 the client's photo " + bytes(range(256)) * 8


class World:
    def __init__(self, emu: EmulatorClient, tmp_path: Path, limit: int | None = None) -> None:
        self.emu = emu
        self.client_bot = emu.make_bot(CLIENT_BOT)
        self.team_bot = emu.make_bot(TEAM_BOT)
        self.bots = {self.client_bot.id: self.client_bot, self.team_bot.id: self.team_bot}
        self.blobs = DiskBlobStore(tmp_path / "blobs", **({"limit": limit} if limit else {}))
        self.client: dict[str, Any] = {}
        self.group = 0

    async def setup(self) -> World:
        await self.emu.bot(CLIENT_BOT, username="acme_help_bot")
        await self.emu.bot(TEAM_BOT, username="acme_team_bot")
        self.client = await self.emu.user("Ivan")
        group = await self.emu.group(
            "Team", forum=True, bots=[{"token": TEAM_BOT, "status": "administrator",
                                       "rights": RIGHTS}],
        )  # fmt: skip
        self.group = group["chat_id"]
        return self

    def files(self) -> TelegramFiles:
        """What one process has: a new one forgets everything but the database and the disk."""
        return TelegramFiles(self.bots, self.blobs)

    async def client_sends(self, **content: Any) -> Attachment:
        """The client writes to the client bot; the attachment as the client bot got it."""
        await self.emu.send(self.client["id"], to_bot="acme_help_bot", **content)
        updates = await self.client_bot.get_updates(timeout=0)
        await self.client_bot.get_updates(offset=updates[-1].update_id + 1, timeout=0)
        message = updates[-1].message
        assert message is not None
        return content_of(message, self.client_bot.id).attachments[0]

    async def post_photo(self, files: TelegramFiles, att: Attachment) -> TgMessage:
        """The team bot posts the attachment into the group, as the front end does."""
        bot = self.team_bot
        sent = await bot.send_photo(self.group, await files.input_for(bot, att))
        await files.learned(bot, att, sent)
        return sent

    async def calls(self, method: str, token: str) -> list[dict[str, Any]]:
        return [c for c in await self.emu.calls(method) if c["token"] == token and c["ok"]]

    async def uploads(self, method: str, token: str) -> int:
        """Calls that carried bytes (a multipart file), not a file_id."""
        calls = await self.calls(method, token)
        return sum(
            1 for c in calls if any(str(v).startswith("<file ") for v in c["params"].values())
        )


async def bytes_seen(bot: Bot, file_id: str) -> bytes:
    file = await bot.get_file(file_id)
    data = await bot.download_file(file.file_path or "")
    assert data is not None
    return data.read()


def stored_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()]


async def test_a_clients_photo_goes_up_to_the_team_bot_once(
    emulator: EmulatorClient, tmp_path: Path
) -> None:
    world = await World(emulator, tmp_path).setup()
    photo = await world.client_sends(photo={"content_base64": base64.b64encode(PHOTO).decode()})
    assert photo.blob is None  # a Telegram file is not downloaded when it arrives

    first = await world.post_photo(world.files(), photo)
    # The group sees the client's photo, byte for byte.
    assert first.photo and await bytes_seen(world.team_bot, first.photo[-1].file_id) == PHOTO
    assert len(await world.calls("getFile", CLIENT_BOT)) == 1
    assert await world.uploads("sendPhoto", TEAM_BOT) == 1

    # Again, in a new process: the team bot's own id for it, no download, no upload.
    second = await world.post_photo(world.files(), photo)
    assert second.photo and second.photo[-1].file_unique_id == first.photo[-1].file_unique_id
    assert len(await world.calls("getFile", CLIENT_BOT)) == 1
    assert await world.uploads("sendPhoto", TEAM_BOT) == 1
    assert len(await world.calls("sendPhoto", TEAM_BOT)) == 2
    assert len(stored_files(tmp_path / "blobs")) == 1


async def test_two_sends_at_once_download_the_file_once(
    emulator: EmulatorClient, tmp_path: Path
) -> None:
    world = await World(emulator, tmp_path).setup()
    photo = await world.client_sends(photo={"content_base64": base64.b64encode(PHOTO).decode()})
    files = world.files()
    inputs = await asyncio.gather(*(files.input_for(world.team_bot, photo) for _ in range(3)))
    assert len(inputs) == 3
    assert len(await world.calls("getFile", CLIENT_BOT)) == 1


async def test_bytes_only_go_up_once_per_bot(emulator: EmulatorClient, tmp_path: Path) -> None:
    world = await World(emulator, tmp_path).setup()
    pdf = b"%PDF-1.4 an invoice from the e-mail channel"
    info = await world.blobs.put(pdf)
    invoice = Attachment(
        AttachmentKind.DOCUMENT, name="invoice.pdf", mime="application/pdf", blob=info.id
    )
    files = world.files()
    client_id = world.client["id"]
    await emulator.send(client_id, to_bot="acme_help_bot", text="/start")
    for _ in range(2):
        into_topic = await world.team_bot.send_document(
            world.group, await files.input_for(world.team_bot, invoice)
        )
        await files.learned(world.team_bot, invoice, into_topic)
        to_client = await world.client_bot.send_document(
            client_id, await files.input_for(world.client_bot, invoice)
        )
        await files.learned(world.client_bot, invoice, to_client)
    assert await world.uploads("sendDocument", TEAM_BOT) == 1
    assert await world.uploads("sendDocument", CLIENT_BOT) == 1
    assert await emulator.calls("getFile") == []
    # Both see the invoice, named and whole.
    seen = await emulator.private_messages(client_id, "acme_help_bot")
    assert [m["file_name"] for m in seen if m["kind"] == "document"] == ["invoice.pdf"] * 2
    assert to_client.document and into_topic.document
    assert await bytes_seen(world.client_bot, to_client.document.file_id) == pdf
    assert await bytes_seen(world.team_bot, into_topic.document.file_id) == pdf
    assert into_topic.document.file_name == "invoice.pdf"


async def test_a_telegram_photo_is_fetched_when_another_channel_needs_it(
    emulator: EmulatorClient, tmp_path: Path
) -> None:
    world = await World(emulator, tmp_path).setup()
    photo = await world.client_sends(photo={"content_base64": base64.b64encode(PHOTO).decode()})
    files = world.files()
    stored = await files.ensure_blob(photo)
    assert stored.blob is not None and stored.size == len(PHOTO)
    assert await world.blobs.read(stored.blob) == PHOTO
    assert stored.sources == photo.sources
    # Asked again (another process, the same attachment): no second download.
    assert (await world.files().ensure_blob(photo)).blob == stored.blob
    assert len(await world.calls("getFile", CLIENT_BOT)) == 1


async def test_a_file_over_the_limit_is_refused_with_the_reason(
    emulator: EmulatorClient, tmp_path: Path
) -> None:
    world = await World(emulator, tmp_path, limit=1024).setup()
    big = base64.b64encode(b"x" * 2048).decode()
    document = await world.client_sends(document={"file_name": "scan.pdf", "content_base64": big})
    with pytest.raises(FileTooLarge) as refused:
        await world.files().ensure_blob(document)
    assert refused.value.reason == (
        "the document (2 KB) is too large: eadesk's file size limit is 1 KB (FILE_SIZE_LIMIT)"
    )
    # Not known in advance: Telegram's answer to getFile tells, before any byte moves.
    with pytest.raises(FileTooLarge, match="file size limit is 1 KB"):
        await world.files().ensure_blob(Attachment(document.kind, sources=document.sources))
    assert stored_files(tmp_path / "blobs") == []


async def test_a_file_telegram_will_not_let_a_bot_download_is_refused(
    emulator: EmulatorClient, tmp_path: Path
) -> None:
    world = await World(emulator, tmp_path).setup()
    huge = base64.b64encode(b"v" * (21 * 1024 * 1024)).decode()
    video = await world.client_sends(document={"file_name": "film.mp4", "content_base64": huge})
    with pytest.raises(FileTooLarge) as refused:
        await world.files().input_for(world.team_bot, video)
    assert refused.value.reason == (
        "the document (21 MB) is too large: Telegram lets a bot download files of at most 20 MB"
    )
    assert await world.calls("getFile", CLIENT_BOT) == []
    # Without the size the message gave, Telegram's getFile refuses it: the same reason.
    with pytest.raises(FileTooLarge, match="Telegram lets a bot download files of at most 20 MB"):
        await world.files().ensure_blob(Attachment(video.kind, sources=video.sources))
    assert stored_files(tmp_path / "blobs") == []
