"""What a pressed button carries, read defensively. Telegram only delivers data that one of
the message's buttons carries, but an old keyboard of an earlier version may carry anything.

(Hand-split strings for now; aiogram CallbackData classes are the shape to move to.)
"""

from __future__ import annotations

from core.models import Dialog

# The database's id columns are 32-bit: a larger number is no row, not an error.
MAX_ID = 2**31 - 1


def fields(data: str | None, count: int) -> list[str]:
    """`data` split at ":" into exactly `count` fields: missing ones are ""."""
    found = (data or "").split(":", count - 1)
    return found + [""] * (count - len(found))


def row_id(raw: str) -> int | None:
    """A row id from a button; None for anything else (negative, huge, not a number)."""
    if not (raw.isascii() and raw.isdigit()):
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ID else None


async def dialog_from(raw: str) -> Dialog | None:
    number = row_id(raw)
    return await Dialog.get_or_none(id=number) if number else None
