"""Links and titles for topics."""

from __future__ import annotations

from core.lifecycle import DialogStatus

STATUS_PREFIX = {
    DialogStatus.OPEN.value: "",
    DialogStatus.SNOOZED.value: "💤 ",
    DialogStatus.CLOSED.value: "✅ ",
}
UNREACHABLE_PREFIX = "⛔ "
TITLE_LIMIT = 128


def topic_url(chat_id: int, thread_id: int, message_id: int | None = None) -> str:
    internal = str(chat_id).removeprefix("-100").lstrip("-")
    return f"https://t.me/c/{internal}/{message_id or thread_id}" + (
        f"?thread={thread_id}" if message_id else ""
    )


def topic_title(client_name: str, channel_name: str, status: str, unreachable: bool = False) -> str:
    # ⛔ first: a client who cannot be written to is what an operator must see before writing.
    prefix = (UNREACHABLE_PREFIX if unreachable else "") + STATUS_PREFIX.get(status, "")
    base = f"{client_name.strip() or '—'} · {channel_name}"
    return (prefix + base)[:TITLE_LIMIT]
