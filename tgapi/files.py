"""Files between Telegram bots and the blob store: each file goes up once per bot, and its
bytes come down only when something needs them.

A `file_id` is valid only for the bot that got it. To send an attachment as a bot:
1. the bot's own id for it (it received the file, or sent it before): no bytes move;
2. else an earlier upload of the same blob by this bot (BlobSource): no bytes move;
3. else the blob's bytes, uploaded (then `learned` writes down the id the bot got);
4. else another of our bots has it: downloaded into the BlobStore once, then uploaded.
Telegram lets a bot download files of at most 20 MB; larger ones are refused with a reason.
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from aiogram import Bot
from aiogram.types import BufferedInputFile, InputFile
from aiogram.types import Message as TgMessage

from core import blob_sources
from core.blobs import BlobStore, BlobTooLarge
from core.channels import RejectedContent
from core.clock import Clock, SystemClock
from core.content import Attachment
from core.sizes import describe_size
from tgapi.errors import FileTooBig, delivery_errors
from tgapi.parse import FILE_KINDS, SOURCE, bot_of, source_key

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator

# What the Bot API lets a bot download (getFile); an upload may be up to 50 MB.
DOWNLOAD_LIMIT = 20 * 1024 * 1024
DOWNLOAD_TIMEOUT = 300
CHUNK_SIZE = 256 * 1024
# What a process keeps in memory of the BlobSource table, to spare repeated sends a query.
MEMORY = 10_000

# A name for a file that came without one (a photo, a voice note).
EXTENSIONS = {"photo": ".jpg", "video": ".mp4", "animation": ".mp4", "video_note": ".mp4",
              "voice": ".ogg", "audio": ".mp3", "sticker": ".webp"}  # fmt: skip


class FileTooLarge(RejectedContent):
    """A file larger than Telegram lets a bot download, or than eadesk's FILE_SIZE_LIMIT."""

    def __init__(self, reason: str, size: int | None, limit: int) -> None:
        super().__init__(reason)
        self.size = size
        self.limit = limit


def file_name(att: Attachment) -> str:
    if att.name:
        return att.name
    extension = EXTENSIONS.get(att.kind) or mimetypes.guess_extension(att.mime or "") or ""
    return f"{att.kind.value}{extension}"


def sent_file(att: Attachment, sent: TgMessage) -> dict[str, str] | None:
    """The Telegram ref of the file `sent` carries ({"file_id", "file_unique_id"}), looked
    for under the attachment's own kind first."""
    for field in (att.kind.value, *FILE_KINDS):
        media = getattr(sent, field, None)
        if isinstance(media, list):
            media = media[-1] if media else None  # a photo's sizes: the largest
        if media is not None and getattr(media, "file_id", None):
            return {"file_id": media.file_id, "file_unique_id": media.file_unique_id}
    return None


class BlobInputFile(InputFile):
    """A blob uploaded as it is read from the store, never whole in memory."""

    def __init__(self, blobs: BlobStore, blob: str, filename: str) -> None:
        super().__init__(filename=filename, chunk_size=CHUNK_SIZE)
        self.blobs = blobs
        self.blob = blob

    async def read(self, bot: Bot) -> AsyncGenerator[bytes, None]:
        async for chunk in self.blobs.stream(self.blob):
            yield chunk


class TelegramFiles:
    def __init__(
        self, bots: dict[int, Bot], blobs: BlobStore | None = None, clock: Clock | None = None
    ) -> None:
        # Every bot whose files may be downloaded (the team bot, client bots): shared with
        # the app, so bots added later count too.
        self.bots = bots
        self.blobs = blobs
        self.clock = clock or SystemClock()
        # Downloads under way, by file: two sends of one photo wait for the same bytes.
        self._downloads: dict[str, asyncio.Task[Attachment]] = {}
        # Read from BlobSource before: a file's blob by its key; a blob's file_id per bot.
        self._blobs: dict[str, str] = {}
        self._file_ids: dict[tuple[str, str], str] = {}

    async def input_for(self, bot: Bot, att: Attachment) -> str | InputFile:
        """What to put in a send as `bot` for `att`: a file_id where one exists, else bytes."""
        if not att.is_file:
            raise RejectedContent(f"a {att.kind.value} is no file")
        own = att.source(source_key(bot.id))
        if own and own.get("file_id"):
            return str(own["file_id"])
        blob = await self.blob_of(att)
        if blob is not None:
            uploaded = await self._uploaded(blob, bot)
            if uploaded is not None:
                return uploaded
            if self.blobs is not None and await self.blobs.exists(blob):
                return BlobInputFile(self.blobs, blob, file_name(att))
        if self.blobs is None:
            # No store to keep the bytes in: they pass through memory, every time.
            return BufferedInputFile(await self._download_bytes(att), filename=file_name(att))
        stored = await self.ensure_blob(att)
        assert stored.blob is not None
        # The same bytes may have gone up to this bot before, from another message.
        uploaded = await self._uploaded(stored.blob, bot)
        return uploaded or BlobInputFile(self.blobs, stored.blob, file_name(att))

    async def learned(self, bot: Bot, att: Attachment, sent_message: TgMessage) -> None:
        """Write down the id `bot` got for `att` by sending it (`sent_message`), so that the
        same bytes never go up to this bot again."""
        source = source_key(bot.id)
        if att.source(source) or not att.is_file:
            return
        ref = sent_file(att, sent_message)
        blob = await self.blob_of(att)
        if ref is None or blob is None or self._file_ids.get((blob, source)) == ref["file_id"]:
            return
        await blob_sources.remember(blob, source, ref, _file_key(ref), self.clock.now())
        _keep(self._file_ids, (blob, source), ref["file_id"])

    async def ensure_blob(self, att: Attachment) -> Attachment:
        """`att` with its bytes in the BlobStore (downloaded from one of our bots if need be),
        for a channel that needs the bytes. FileTooLarge past Telegram's download limit or the
        store's; RejectedContent when no bot of ours has the file."""
        if not att.is_file:
            return att
        if self.blobs is None:
            raise RejectedContent(f"the {att.kind.value} cannot be fetched: no blob storage")
        blob = await self.blob_of(att)
        if blob is not None and await self.blobs.exists(blob):
            return att if att.blob == blob else replace(att, blob=blob)
        keys = _keys(att)
        if not keys:
            # A file Telegram gave no unique id: nothing to tell two downloads of it apart.
            return await self._download(att, self.blobs)
        name = keys[0]
        # A download may have ended while the database was asked: it is in memory by now.
        fetched = next((self._blobs[key] for key in keys if key in self._blobs), None)
        if fetched is not None and fetched != blob and await self.blobs.exists(fetched):
            return replace(att, blob=fetched)
        task = self._downloads.get(name)
        if task is None:
            task = asyncio.create_task(self._download(att, self.blobs))
            self._downloads[name] = task
            task.add_done_callback(lambda done: self._download_ended(name, done))
        # A waiter that gives up (a cancelled send) leaves the download to the others.
        stored = await asyncio.shield(task)
        return replace(att, blob=stored.blob, size=stored.size)

    async def blob_of(self, att: Attachment) -> str | None:
        """The attachment's blob, or the blob an earlier download of the same file gave."""
        if att.blob:
            return att.blob
        keys = _keys(att)
        for key in keys:
            if key in self._blobs:
                return self._blobs[key]
        blob = await blob_sources.blob_for(keys)
        if blob is not None:
            for key in keys:
                _keep(self._blobs, key, blob)
        return blob

    async def _uploaded(self, blob: str, bot: Bot) -> str | None:
        """The file_id an earlier upload of `blob` gave `bot`."""
        source = source_key(bot.id)
        if (blob, source) not in self._file_ids:
            ref = await blob_sources.ref_of(blob, source)
            if not ref or not ref.get("file_id"):
                return None
            _keep(self._file_ids, (blob, source), str(ref["file_id"]))
        return self._file_ids[(blob, source)]

    # ---- downloads ---------------------------------------------------------------------------

    def _download_ended(self, name: str, task: asyncio.Task[Attachment]) -> None:
        self._downloads.pop(name, None)
        if not task.cancelled():
            task.exception()  # read here too: every waiter may have given up

    def _owner(self, att: Attachment) -> tuple[Bot, str]:
        """One of our bots that has the file, with its file_id for it."""
        for source, ref in att.sources.items():
            bot_id = bot_of(source)
            bot = self.bots.get(bot_id) if bot_id is not None else None
            if bot is not None and ref.get("file_id"):
                return bot, str(ref["file_id"])
        if att.blob:
            raise RejectedContent(f"the {att.kind.value}'s bytes are gone from the blob storage")
        raise RejectedContent(f"the {att.kind.value} belongs to no bot this process runs")

    def _check_size(self, att: Attachment, size: int | None, limit: int) -> None:
        if size is not None and size > DOWNLOAD_LIMIT:
            raise _too_large(att, size, DOWNLOAD_LIMIT, by_telegram=True)
        if size is not None and size > limit:
            raise _too_large(att, size, limit)

    async def _file_path(self, att: Attachment, limit: int) -> tuple[Bot, str, int | None]:
        bot, file_id = self._owner(att)
        self._check_size(att, att.size, limit)
        try:
            with delivery_errors():
                info = await bot.get_file(file_id)
        except FileTooBig as exc:
            raise _too_large(att, att.size, DOWNLOAD_LIMIT, by_telegram=True) from exc
        self._check_size(att, info.file_size, limit)
        if not info.file_path:
            raise RejectedContent(f"Telegram gave no path to download the {att.kind.value}")
        return bot, info.file_path, info.file_size

    async def _download(self, att: Attachment, blobs: BlobStore) -> Attachment:
        bot, path, _ = await self._file_path(att, blobs.limit)
        try:
            with delivery_errors():
                info = await blobs.put(_chunks(bot, path))
        except BlobTooLarge as exc:
            raise _too_large(att, None, exc.limit) from exc
        now = self.clock.now()
        # Each of our bots' ids for the file now names this blob: never downloaded again.
        for source, ref in att.sources.items():
            if bot_of(source) is not None and ref.get("file_id"):
                await blob_sources.remember(info.id, source, dict(ref), _file_key(ref), now)
        for key in _keys(att):
            _keep(self._blobs, key, info.id)
        return replace(att, blob=info.id, size=info.size)

    async def _download_bytes(self, att: Attachment) -> bytes:
        bot, path, _ = await self._file_path(att, DOWNLOAD_LIMIT)
        with delivery_errors():
            return b"".join([chunk async for chunk in _chunks(bot, path)])


def _keep(memory: dict[Any, str], key: Any, value: str) -> None:
    if len(memory) >= MEMORY:
        memory.clear()  # crude, and enough: the table has it all
    memory[key] = value


def _file_key(ref: dict[str, str]) -> str | None:
    """Telegram's name of a file, the same for every bot (file_unique_id), as a BlobSource key."""
    unique = ref.get("file_unique_id")
    return f"{SOURCE}{unique}" if unique else None


def _keys(att: Attachment) -> list[str]:
    keys = (_file_key(ref) for source, ref in att.sources.items() if bot_of(source) is not None)
    return [key for key in keys if key]


def _too_large(
    att: Attachment, size: int | None, limit: int, by_telegram: bool = False
) -> FileTooLarge:
    shown = f" ({describe_size(size)})" if size is not None else ""
    if by_telegram:
        why = f"Telegram lets a bot download files of at most {describe_size(limit)}"
    else:
        why = f"eadesk's file size limit is {describe_size(limit)} (FILE_SIZE_LIMIT)"
    return FileTooLarge(f"the {att.kind.value}{shown} is too large: {why}", size, limit)


async def _chunks(bot: Bot, path: str) -> AsyncIterator[bytes]:
    """A file's bytes as they arrive from Telegram."""
    api = bot.session.api
    if api.is_local:
        # A local Bot API server gives a path on this machine.
        data = await bot.download_file(path)
        if data is not None:
            yield data.read()
        return
    stream = bot.session.stream_content(
        url=api.file_url(bot.token, path),
        timeout=DOWNLOAD_TIMEOUT,
        chunk_size=CHUNK_SIZE,
        raise_for_status=True,
    )
    async for chunk in stream:
        yield chunk
