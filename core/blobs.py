"""The bytes of files, kept once each: a blob is named by the sha256 of its content.

A channel that needs a file's bytes (an e-mail attachment, the website chat) reads them
here; a file that only travels between Telegram bots never comes here at all. On disk a
blob is written to a temporary file in the store's folder while its size and digest are
counted, then renamed into place: a crash leaves no half blob, and the same bytes twice
are one file.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Protocol

from core.sizes import describe_size

DEFAULT_LIMIT = 50 * 1024 * 1024
CHUNK_SIZE = 256 * 1024
# A temporary file this old belongs to a write that died with its process.
ABANDONED_AFTER = 3600.0

_INCOMING = ".incoming-"
_BLOB_ID = re.compile(r"[0-9a-f]{64}")


class BlobTooLarge(Exception):
    """More bytes than the limit allows; nothing was stored."""

    def __init__(self, limit: int, size: int | None = None) -> None:
        self.limit = limit
        self.size = size
        shown = f" ({describe_size(size)})" if size is not None else ""
        super().__init__(f"the file{shown} is larger than the limit of {describe_size(limit)}")


class BlobMissing(LookupError):
    """No blob has this id (never stored, or removed)."""


@dataclass(frozen=True)
class BlobInfo:
    id: str
    size: int


class BlobStore(Protocol):
    # The largest blob `put` takes when not told otherwise, in bytes.
    limit: int

    async def put(
        self, data: bytes | AsyncIterable[bytes], *, limit: int | None = None
    ) -> BlobInfo: ...

    async def read(self, id: str) -> bytes: ...

    def stream(self, id: str) -> AsyncIterator[bytes]: ...

    async def exists(self, id: str) -> bool: ...


def blob_id(data: bytes) -> str:
    """The id `put` gives these bytes."""
    return hashlib.sha256(data).hexdigest()


def is_blob_id(value: str) -> bool:
    return bool(_BLOB_ID.fullmatch(value))


class DiskBlobStore:
    """Blobs as files under `root`, fanned out as ab/cd/abcd… so that no folder grows huge."""

    def __init__(self, root: str | Path = "data/blobs", limit: int = DEFAULT_LIMIT) -> None:
        self.root = Path(root)
        self.limit = limit

    def path(self, id: str) -> Path:
        if not is_blob_id(id):
            # Never a path built from something else (a "../" would leave the folder).
            raise BlobMissing(f"not a blob id: {id!r}")
        return self.root / id[:2] / id[2:4] / id

    async def put(
        self, data: bytes | AsyncIterable[bytes], *, limit: int | None = None
    ) -> BlobInfo:
        """Store `data` (bytes, or chunks as they arrive) and name it. BlobTooLarge once it
        passes `limit` (the store's own by default), with nothing left behind."""
        limit = self.limit if limit is None else limit
        if isinstance(data, bytes | bytearray | memoryview):
            data = bytes(data)
            if len(data) > limit:
                raise BlobTooLarge(limit, len(data))
            return await asyncio.to_thread(self._put_bytes, data)
        file, temp = await asyncio.to_thread(self._open_temp)
        digest, size, pending = hashlib.sha256(), 0, bytearray()
        try:
            async for chunk in data:
                size += len(chunk)
                if size > limit:
                    raise BlobTooLarge(limit)
                pending += chunk
                if len(pending) >= CHUNK_SIZE:
                    # Small network chunks are gathered: one trip to a thread per 256 KB.
                    await asyncio.to_thread(_write, file, digest, bytes(pending))
                    pending.clear()
            await asyncio.to_thread(_write, file, digest, bytes(pending))
            id = digest.hexdigest()
            await asyncio.to_thread(self._settle, file, temp, id)
        except BaseException:
            # A refusal, a broken source or a cancel: the half-written file goes.
            await asyncio.shield(asyncio.to_thread(_discard, file, temp))
            raise
        return BlobInfo(id, size)

    async def read(self, id: str) -> bytes:
        path = self.path(id)
        try:
            return await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise BlobMissing(id) from None

    async def stream(self, id: str, chunk_size: int = CHUNK_SIZE) -> AsyncIterator[bytes]:
        path = self.path(id)
        try:
            file = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError:
            raise BlobMissing(id) from None
        try:
            while chunk := await asyncio.to_thread(file.read, chunk_size):
                yield chunk
        finally:
            await asyncio.to_thread(file.close)

    async def exists(self, id: str) -> bool:
        try:
            path = self.path(id)
        except BlobMissing:
            return False
        return await asyncio.to_thread(path.is_file)

    async def size(self, id: str) -> int:
        path = self.path(id)
        try:
            return (await asyncio.to_thread(path.stat)).st_size
        except FileNotFoundError:
            raise BlobMissing(id) from None

    async def clean(self, now: float | None = None) -> int:
        """Remove what writes cut off by a crash left (their temporary files); how many."""
        return await asyncio.to_thread(self._clean, time.time() if now is None else now)

    # ---- in a worker thread ------------------------------------------------------------------

    def _open_temp(self) -> tuple[IO[bytes], Path]:
        self.root.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=_INCOMING, dir=self.root)
        return os.fdopen(fd, "wb"), Path(name)

    def _put_bytes(self, data: bytes) -> BlobInfo:
        id = blob_id(data)
        if self.path(id).is_file():
            return BlobInfo(id, len(data))
        file, temp = self._open_temp()
        try:
            file.write(data)
            self._settle(file, temp, id)
        except BaseException:
            _discard(file, temp)
            raise
        return BlobInfo(id, len(data))

    def _settle(self, file: IO[bytes], temp: Path, id: str) -> None:
        """The complete temporary file becomes the blob (or goes, when the blob exists)."""
        file.flush()
        os.fsync(file.fileno())
        file.close()
        target = self.path(id)
        if target.is_file():
            temp.unlink()
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temp, target)

    def _clean(self, now: float) -> int:
        removed = 0
        if not self.root.is_dir():
            return 0
        for temp in self.root.glob(_INCOMING + "*"):
            with contextlib.suppress(FileNotFoundError):
                if now - temp.stat().st_mtime > ABANDONED_AFTER:
                    temp.unlink()
                    removed += 1
        return removed


def _write(file: IO[bytes], digest: Any, chunk: bytes) -> None:
    digest.update(chunk)
    file.write(chunk)


def _discard(file: IO[bytes], temp: Path) -> None:
    with contextlib.suppress(OSError):
        file.close()
    with contextlib.suppress(FileNotFoundError):
        temp.unlink()
