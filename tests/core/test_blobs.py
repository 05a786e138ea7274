"""The disk blob store: content-addressed, streamed, limited, never half a blob."""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from core.blobs import BlobMissing, BlobTooLarge, DiskBlobStore
from core.sizes import describe_size, format_size, parse_size


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        await asyncio.sleep(0)
        yield part


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


async def test_a_blob_is_named_by_its_sha256_and_read_back(tmp_path: Path) -> None:
    store = DiskBlobStore(tmp_path / "blobs")
    info = await store.put(b"invoice 42")
    assert info.id == hashlib.sha256(b"invoice 42").hexdigest()
    assert info.size == 10
    assert await store.read(info.id) == b"invoice 42"
    assert await store.exists(info.id)
    # Fanned out: ab/cd/abcd…
    assert store.path(info.id) == tmp_path / "blobs" / info.id[:2] / info.id[2:4] / info.id
    assert files_under(tmp_path / "blobs") == [store.path(info.id)]


async def test_a_stream_is_stored_as_the_same_blob_as_its_bytes(tmp_path: Path) -> None:
    store = DiskBlobStore(tmp_path)
    data = os.urandom(700_000)
    streamed = await store.put(chunks(data[:1000], data[1000:300_000], data[300_000:]))
    assert streamed.id == hashlib.sha256(data).hexdigest()
    assert streamed.size == len(data)
    assert b"".join([c async for c in store.stream(streamed.id)]) == data
    assert await store.size(streamed.id) == len(data)


async def test_the_same_bytes_twice_are_one_file(tmp_path: Path) -> None:
    store = DiskBlobStore(tmp_path)
    first = await store.put(b"same")
    second = await store.put(chunks(b"sa", b"me"))
    third = await store.put(b"same")
    assert first == second == third
    assert files_under(tmp_path) == [store.path(first.id)]


async def test_past_the_limit_nothing_is_stored(tmp_path: Path) -> None:
    store = DiskBlobStore(tmp_path, limit=10)
    with pytest.raises(BlobTooLarge, match="larger than the limit of 10 bytes"):
        await store.put(chunks(b"12345", b"67890", b"x"))
    with pytest.raises(BlobTooLarge):
        await store.put(b"12345678901")
    # A smaller limit for one call (a channel that takes less).
    with pytest.raises(BlobTooLarge):
        await store.put(b"123456", limit=5)
    assert files_under(tmp_path) == []
    assert (await store.put(chunks(b"12345", b"67890"))).size == 10


async def test_a_source_that_breaks_midway_leaves_no_half_blob(tmp_path: Path) -> None:
    store = DiskBlobStore(tmp_path)

    async def broken() -> AsyncIterator[bytes]:
        yield b"x" * 300_000
        raise ConnectionResetError("the download was cut off")

    with pytest.raises(ConnectionResetError):
        await store.put(broken())
    assert files_under(tmp_path) == []


async def test_a_cancelled_write_leaves_no_half_blob(tmp_path: Path) -> None:
    store = DiskBlobStore(tmp_path)
    started = asyncio.Event()

    async def endless() -> AsyncIterator[bytes]:
        while True:
            yield b"y" * 300_000
            started.set()
            await asyncio.sleep(0.01)

    task = asyncio.create_task(store.put(endless()))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert files_under(tmp_path) == []


async def test_leftovers_of_a_crash_are_cleaned(tmp_path: Path) -> None:
    store = DiskBlobStore(tmp_path)
    kept = await store.put(b"kept")
    # What a process killed in the middle of a write leaves: a temporary file, no blob.
    (tmp_path / ".incoming-crashed").write_bytes(b"half")
    assert await store.clean(now=os_time(tmp_path / ".incoming-crashed") + 10) == 0
    assert await store.clean(now=os_time(tmp_path / ".incoming-crashed") + 7200) == 1
    assert files_under(tmp_path) == [store.path(kept.id)]


def os_time(path: Path) -> float:
    return path.stat().st_mtime


async def test_unknown_and_malformed_ids(tmp_path: Path) -> None:
    store = DiskBlobStore(tmp_path)
    absent = "0" * 64
    assert not await store.exists(absent)
    assert not await store.exists("../../etc/passwd")
    with pytest.raises(BlobMissing):
        await store.read(absent)
    with pytest.raises(BlobMissing):
        await store.read("../secret")
    with pytest.raises(BlobMissing):
        [c async for c in store.stream(absent)]


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("50MB", 50 * 1024**2),
        ("50 mb", 50 * 1024**2),
        ("512KB", 512 * 1024),
        ("1.5GB", 3 * 1024**3 // 2),
        ("20 МБ", 20 * 1024**2),
        ("1048576", 1048576),
        ("100B", 100),
    ],
)
def test_sizes_as_people_write_them(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize(("text", "error"), [("", "empty"), ("lots", "not a size"),
    ("5 parsecs", "not a size"), ("0MB", "zero"), ("-1MB", "negative")])  # fmt: skip
def test_sizes_that_are_not(text: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        parse_size(text)


def test_a_size_is_shown_in_the_form_it_is_read() -> None:
    for size in (50 * 1024**2, 512 * 1024, 2 * 1024**3, 1500):
        assert parse_size(format_size(size)) == size
    assert format_size(50 * 1024**2) == "50MB"


def test_a_size_for_people() -> None:
    assert describe_size(50 * 1024**2) == "50 MB"
    assert describe_size(25 * 1024**2 + 300 * 1024) == "25.3 MB"
    assert describe_size(512 * 1024) == "512 KB"
    assert describe_size(100) == "100 bytes"
