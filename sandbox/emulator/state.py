"""In-memory state of the emulated Telegram: users, bots, chats, topics, messages, files."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

TOPIC_COLORS = (7322096, 16766590, 13338331, 9367192, 16749490, 16478047)
DEFAULT_UPDATES = frozenset(
    {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "business_connection",
        "business_message",
        "edited_business_message",
        "deleted_business_messages",
        "inline_query",
        "chosen_inline_result",
        "callback_query",
        "shipping_query",
        "pre_checkout_query",
        "purchased_paid_media",
        "poll",
        "poll_answer",
        "my_chat_member",
        "chat_join_request",
        "chat_boost",
        "removed_chat_boost",
    }
)


@dataclass
class User:
    id: int
    first_name: str
    is_bot: bool = False
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None

    def to_api(self) -> dict[str, Any]:
        d: dict[str, Any] = {"id": self.id, "is_bot": self.is_bot, "first_name": self.first_name}
        if self.last_name:
            d["last_name"] = self.last_name
        if self.username:
            d["username"] = self.username
        if self.language_code and not self.is_bot:
            d["language_code"] = self.language_code
        return d

    def short(self) -> dict[str, Any]:
        return {"id": self.id, "is_bot": self.is_bot, "username": self.username}


@dataclass
class BotAccount:
    token: str
    user: User
    updates: list[dict[str, Any]] = field(default_factory=list)
    next_update_id: int = 1
    allowed_updates: frozenset[str] = DEFAULT_UPDATES
    webhook_url: str = ""
    webhook_secret: str | None = None
    webhook_task: asyncio.Task[None] | None = None
    webhook_last_error: tuple[int, str] | None = None
    commands: dict[str, Any] = field(default_factory=dict)
    event: asyncio.Event = field(default_factory=asyncio.Event)
    poll_generation: int = 0
    registered_at: float = field(default_factory=time.time)

    @property
    def id(self) -> int:
        return self.user.id


@dataclass
class FileRecord:
    unique_id: str
    data: bytes
    kind: str
    file_name: str | None = None
    mime_type: str | None = None
    file_path: str | None = None
    width: int = 320
    height: int = 240
    duration: int = 1


@dataclass
class Topic:
    thread_id: int
    name: str
    icon_color: int
    icon_custom_emoji_id: str | None = None
    closed: bool = False
    deleted: bool = False
    creator_bot_id: int | None = None

    def control(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "name": self.name,
            "icon_color": self.icon_color,
            "icon_custom_emoji_id": self.icon_custom_emoji_id,
            "closed": self.closed,
            "deleted": self.deleted,
        }


@dataclass
class Msg:
    chat_id: int
    message_id: int
    sender: User
    date: int
    kind: str = "text"
    thread_id: int | None = None
    text: str | None = None
    entities: list[dict[str, Any]] | None = None
    caption: str | None = None
    caption_entities: list[dict[str, Any]] | None = None
    file: FileRecord | None = None
    location: dict[str, Any] | None = None
    contact: dict[str, Any] | None = None
    service: str | None = None
    service_data: dict[str, Any] | None = None
    reply_to: int | None = None
    reply_markup: dict[str, Any] | None = None
    edit_date: int | None = None
    pinned: bool = False
    deleted: bool = False
    via_bot: User | None = None
    media_group_id: str | None = None
    forward_origin: dict[str, Any] | None = None
    is_topic_message: bool = False
    private_bot_id: int | None = None  # the bot of a private chat
    reactions: list[dict[str, Any]] | None = None


@dataclass
class Chat:
    id: int
    type: str  # "private" | "supergroup"
    title: str | None = None
    is_forum: bool = False
    # private chats: the user and the bot
    user_id: int | None = None
    bot_id: int | None = None
    started: bool = False
    # groups
    members: dict[int, str] = field(default_factory=dict)  # user id -> status
    bots: dict[int, tuple[str, dict[str, bool]]] = field(default_factory=dict)
    topics: dict[int, Topic] = field(default_factory=dict)
    messages: dict[int, Msg] = field(default_factory=dict)
    next_message_id: int = 1
    chat_instance: str = ""

    def new_message_id(self) -> int:
        mid = self.next_message_id
        self.next_message_id += 1
        return mid

    def api(self, user: User | None = None) -> dict[str, Any]:
        if self.type == "private" and user is not None:
            d = {"id": user.id, "type": "private", "first_name": user.first_name}
            if user.last_name:
                d["last_name"] = user.last_name
            if user.username:
                d["username"] = user.username
            return d
        d2: dict[str, Any] = {"id": self.id, "type": self.type, "title": self.title}
        if self.is_forum:
            d2["is_forum"] = True
        return d2


class State:
    def __init__(self) -> None:
        self.users: dict[int, User] = {}
        self.bots: dict[str, BotAccount] = {}
        self.groups: dict[int, Chat] = {}
        self.private: dict[tuple[int, int], Chat] = {}
        self.blocked: set[tuple[int, int]] = set()  # (user id, bot id)
        self.files: dict[str, FileRecord] = {}  # unique id -> record
        self.file_ids: dict[str, tuple[int, str]] = {}  # file_id -> (bot id, unique id)
        self.file_paths: dict[str, str] = {}  # file_path -> unique id
        self.callbacks: dict[str, dict[str, Any]] = {}
        self.inline: dict[str, dict[str, Any]] = {}
        self.user_ids = itertools.count(100001)
        self.group_ids = itertools.count(1)
        self.file_counter = itertools.count(1)
        self.query_counter = itertools.count(1)
        self.media_group_counter = itertools.count(13_000_000_000_000_001)

    # --- users & bots -------------------------------------------------
    def bot_by_id(self, bot_id: int) -> BotAccount | None:
        for b in self.bots.values():
            if b.id == bot_id:
                return b
        return None

    def bot_by_ref(self, ref: Any) -> BotAccount | None:
        if ref is None:
            return None
        if isinstance(ref, int) or (isinstance(ref, str) and ref.lstrip("-").isdigit()):
            return self.bot_by_id(int(ref))
        s = str(ref)
        if s in self.bots:
            return self.bots[s]
        name = s.lstrip("@").lower()
        for b in self.bots.values():
            if (b.user.username or "").lower() == name:
                return b
        return None

    def user_or_bot(self, uid: int) -> User | None:
        if uid in self.users:
            return self.users[uid]
        b = self.bot_by_id(uid)
        return b.user if b else None

    # --- files ----------------------------------------------------------
    def add_file(
        self,
        data: bytes,
        kind: str,
        file_name: str | None = None,
        mime_type: str | None = None,
    ) -> FileRecord:
        n = next(self.file_counter)
        unique = "AQAD" + hashlib.sha1(f"{n}:{len(data)}".encode()).hexdigest()[:12]
        folder = {
            "photo": "photos",
            "voice": "voice",
            "video": "videos",
            "audio": "music",
            "sticker": "stickers",
            "video_note": "video_notes",
            "animation": "animations",
        }.get(kind, "documents")
        ext = {
            "photo": ".jpg",
            "voice": ".oga",
            "video": ".mp4",
            "audio": ".mp3",
            "sticker": ".webp",
            "video_note": ".mp4",
            "animation": ".mp4",
        }.get(kind, "")
        if kind == "document" and file_name and "." in file_name:
            ext = "." + file_name.rsplit(".", 1)[1]
        rec = FileRecord(unique, data, kind, file_name, mime_type)
        rec.file_path = f"{folder}/file_{n}{ext}"
        self.files[unique] = rec
        self.file_paths[rec.file_path] = unique
        return rec

    def file_id_for(self, bot_id: int, rec: FileRecord) -> str:
        prefix = {
            "photo": "AgAC",
            "document": "BQAC",
            "voice": "AwAC",
            "video": "BAAC",
            "audio": "CQAC",
            "sticker": "CAAC",
        }.get(rec.kind, "BQAC")
        digest = hashlib.sha1(f"{bot_id}:{rec.unique_id}".encode()).hexdigest()[:20]
        fid = f"{prefix}{digest}{rec.unique_id[4:]}"
        self.file_ids[fid] = (bot_id, rec.unique_id)
        return fid

    def file_for_bot(self, bot_id: int, file_id: str) -> FileRecord | None:
        ref = self.file_ids.get(file_id)
        if ref is None or ref[0] != bot_id:
            return None
        return self.files.get(ref[1])
