"""Where a blob already is on a channel: a file goes up to each place once.

A channel that gave a file an id of its own (a Telegram bot's `file_id`; each bot has its
own) is written down per blob and source ("telegram:<bot id>"); the next send of the same
bytes there names that id instead of uploading again. `key` is the channel's name of the
file that every source shares (Telegram's `file_unique_id`), so a file downloaded once is
known by its blob when it comes again.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tortoise.exceptions import IntegrityError

from core.models import BlobSource


async def ref_of(blob: str, source: str) -> dict[str, Any] | None:
    row = await BlobSource.get_or_none(blob=blob, source=source)
    return dict(row.ref) if row else None


async def blob_for(keys: list[str]) -> str | None:
    """The blob of a file the channel names by one of `keys`, if it was ever stored."""
    if not keys:
        return None
    row = await BlobSource.filter(key__in=keys).order_by("id").first()
    return row.blob if row else None


async def remember(
    blob: str, source: str, ref: dict[str, Any], key: str | None, now: datetime
) -> None:
    """`blob` is `ref` on `source` (the latest upload wins: both ids work, one is enough)."""
    row = await BlobSource.get_or_none(blob=blob, source=source)
    if row is None:
        try:
            await BlobSource.create(blob=blob, source=source, ref=ref, key=key, created_at=now)
            return
        except IntegrityError:
            # Another send of the same file got there first.
            row = await BlobSource.get(blob=blob, source=source)
    if row.ref != ref or row.key != key:
        row.ref, row.key = ref, key
        await row.save(update_fields=["ref", "key"])
