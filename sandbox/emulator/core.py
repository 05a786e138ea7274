"""Shared machinery: errors, rendering Bot API objects, visibility and update delivery."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

import aiohttp
from aiogram import types as t
from pydantic import BaseModel

from .state import BotAccount, Chat, FileRecord, Msg, User

if TYPE_CHECKING:
    from .server import Emulator


class ApiError(Exception):
    def __init__(
        self, code: int, description: str, parameters: dict[str, Any] | None = None
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.parameters = parameters


def bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


def forbidden(description: str) -> ApiError:
    return ApiError(403, f"Forbidden: {description}")


def dump(cls: type[BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """Validate ``data`` as aiogram's ``cls`` and return its Bot API JSON form."""
    obj = cls.model_validate(data)
    out: dict[str, Any] = obj.model_dump(mode="json", exclude_none=True, by_alias=True)
    return out


def now() -> int:
    return int(time.time())


ADMIN_STATUSES = ("administrator", "creator")


class Core:
    """Rendering and delivery helpers bound to one emulator."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    @property
    def st(self) -> Any:
        return self.emu.state

    # --- rendering --------------------------------------------------------
    def media_obj(self, rec: FileRecord, bot_id: int, kind: str) -> Any:
        base: dict[str, Any] = {
            "file_id": self.st.file_id_for(bot_id, rec),
            "file_unique_id": rec.unique_id,
            "file_size": len(rec.data),
        }
        if kind == "photo":
            return [{**base, "width": rec.width, "height": rec.height}]
        if kind == "sticker":
            return {
                **base,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
            }
        if kind == "video_note":
            return {**base, "length": 240, "duration": rec.duration}
        if rec.mime_type:
            base["mime_type"] = rec.mime_type
        if kind in ("document", "audio", "video", "animation") and rec.file_name:
            base["file_name"] = rec.file_name
        if kind in ("voice", "audio"):
            base["duration"] = rec.duration
        if kind in ("video", "animation"):
            base.update(width=rec.width, height=rec.height, duration=rec.duration)
        return base

    def chat_api(self, chat: Chat) -> dict[str, Any]:
        if chat.type == "private":
            user = self.st.users.get(chat.user_id)
            return chat.api(user)
        return chat.api()

    def message_dict(self, msg: Msg, bot_id: int, depth: int = 0) -> dict[str, Any]:
        chat = self.emu.chat_of(msg)
        d: dict[str, Any] = {
            "message_id": msg.message_id,
            "date": msg.date,
            "chat": self.chat_api(chat),
            "from": msg.sender.to_api(),
        }
        if msg.thread_id is not None and msg.is_topic_message:
            d["message_thread_id"] = msg.thread_id
            d["is_topic_message"] = True
        if msg.text is not None:
            d["text"] = msg.text
            if msg.entities:
                d["entities"] = msg.entities
        if msg.file is not None:
            d[msg.kind] = self.media_obj(msg.file, bot_id, msg.kind)
        if msg.caption:
            d["caption"] = msg.caption
            if msg.caption_entities:
                d["caption_entities"] = msg.caption_entities
        if msg.location:
            d["location"] = msg.location
        if msg.contact:
            d["contact"] = msg.contact
        if msg.service:
            data = dict(msg.service_data or {})
            if msg.service == "pinned_message":
                target = chat.messages.get(data.get("message_id", 0))
                if target is None or depth > 0:
                    d["pinned_message"] = {
                        "chat": self.chat_api(chat),
                        "message_id": data.get("message_id", 0),
                        "date": 0,
                    }
                else:
                    d["pinned_message"] = self.message_dict(target, bot_id, depth + 1)
            elif msg.service == "new_chat_members":
                d["new_chat_members"] = data["users"]
            elif msg.service == "left_chat_member":
                d["left_chat_member"] = data["user"]
            else:
                d[msg.service] = data
        if msg.reply_to is not None and depth == 0:
            target = chat.messages.get(msg.reply_to)
            if target is not None and not target.deleted:
                d["reply_to_message"] = self.message_dict(target, bot_id, depth + 1)
        if msg.reply_markup:
            d["reply_markup"] = msg.reply_markup
        if msg.edit_date:
            d["edit_date"] = msg.edit_date
        if msg.via_bot:
            d["via_bot"] = msg.via_bot.to_api()
        if msg.media_group_id:
            d["media_group_id"] = msg.media_group_id
        if msg.forward_origin:
            d["forward_origin"] = msg.forward_origin
        return d

    def render(self, msg: Msg, bot_id: int) -> dict[str, Any]:
        return dump(t.Message, self.message_dict(msg, bot_id))

    def control_view(self, msg: Msg) -> dict[str, Any]:
        ents = msg.entities if msg.text is not None else msg.caption_entities
        return {
            "chat_id": msg.chat_id,
            "message_id": msg.message_id,
            "from": msg.sender.short(),
            "date": msg.date,
            "thread_id": msg.thread_id,
            "is_topic_message": msg.is_topic_message,
            "kind": "service" if msg.service else msg.kind,
            "service": msg.service,
            "service_data": msg.service_data,
            "text": msg.text,
            "caption": msg.caption,
            "entities": ents or [],
            "reply_to_message_id": msg.reply_to,
            "reply_markup": msg.reply_markup,
            "edited": msg.edit_date is not None,
            "edit_date": msg.edit_date,
            "pinned": msg.pinned,
            "via_bot": msg.via_bot.short() if msg.via_bot else None,
            "media_group_id": msg.media_group_id,
            "file_name": msg.file.file_name if msg.file else None,
            "mime_type": msg.file.mime_type if msg.file else None,
            "file_unique_id": msg.file.unique_id if msg.file else None,
            "file_size": len(msg.file.data) if msg.file else None,
            "location": msg.location,
            "contact": msg.contact,
            "forward_origin": msg.forward_origin,
            "reactions": msg.reactions,
        }

    # --- membership -----------------------------------------------------
    def bot_status(self, chat: Chat, bot_id: int) -> str:
        if chat.type == "private":
            return "member"
        return chat.bots.get(bot_id, ("left", {}))[0]

    def bot_right(self, chat: Chat, bot_id: int, right: str) -> bool:
        status, rights = chat.bots.get(bot_id, ("left", {}))
        return status == "administrator" and bool(rights.get(right, False))

    def chat_member(self, chat: Chat, uid: int) -> dict[str, Any]:
        user = self.st.user_or_bot(uid)
        if user is None:
            raise ApiError(400, "Bad Request: user not found")
        u = user.to_api()
        if chat.type == "private":
            return dump(t.ChatMemberMember, {"status": "member", "user": u})
        if user.is_bot:
            status, rights = chat.bots.get(uid, ("left", {}))
        else:
            status = chat.members.get(uid, "left")
            rights = {
                "can_manage_topics": True,
                "can_delete_messages": True,
                "can_pin_messages": True,
            }
        if status == "creator":
            return dump(t.ChatMemberOwner, {"status": "creator", "user": u, "is_anonymous": False})
        if status == "administrator":
            return dump(
                t.ChatMemberAdministrator,
                {
                    "status": "administrator",
                    "user": u,
                    "can_be_edited": False,
                    "is_anonymous": False,
                    "can_manage_chat": True,
                    "can_delete_messages": bool(rights.get("can_delete_messages")),
                    "can_manage_video_chats": False,
                    "can_restrict_members": bool(rights.get("can_restrict_members")),
                    "can_promote_members": False,
                    "can_change_info": bool(rights.get("can_change_info")),
                    "can_invite_users": True,
                    "can_post_stories": False,
                    "can_edit_stories": False,
                    "can_delete_stories": False,
                    "can_send_welcome_messages": False,
                    "can_pin_messages": bool(rights.get("can_pin_messages")),
                    "can_manage_topics": bool(rights.get("can_manage_topics")),
                },
            )
        if status == "member":
            return dump(t.ChatMemberMember, {"status": "member", "user": u})
        if status == "kicked":
            return dump(t.ChatMemberBanned, {"status": "kicked", "user": u, "until_date": 0})
        if status == "restricted":
            perms = {k: False for k in t.ChatMemberRestricted.model_fields if k.startswith("can_")}
            return dump(
                t.ChatMemberRestricted,
                {"status": "restricted", "user": u, "is_member": True, "until_date": 0, **perms},
            )
        return dump(t.ChatMemberLeft, {"status": "left", "user": u})

    # --- visibility & delivery --------------------------------------------
    def sees(self, bot: BotAccount, chat: Chat, msg: Msg, cause_bot_id: int | None) -> bool:
        if chat.type == "private":
            return chat.bot_id == bot.id and not msg.sender.is_bot
        status = self.bot_status(chat, bot.id)
        if status not in ("administrator", "member"):
            return False
        if msg.service:
            return status == "administrator" or msg.service in (
                "new_chat_members",
                "left_chat_member",
            )
        if msg.sender.is_bot:
            return False  # bots never see other bots' (or their own) messages
        if status == "administrator":
            return True
        # privacy mode for non-admin bots: commands and replies to the bot
        if msg.text and msg.text.startswith("/"):
            return True
        if msg.reply_to is not None:
            target = chat.messages.get(msg.reply_to)
            return target is not None and target.sender.id == bot.id
        return False

    def bots_of(self, chat: Chat) -> list[BotAccount]:
        if chat.type == "private":
            b = self.st.bot_by_id(chat.bot_id)
            return [b] if b else []
        return [b for bid in chat.bots if (b := self.st.bot_by_id(bid)) is not None]

    def deliver_message(
        self, msg: Msg, kind: str = "message", cause_bot_id: int | None = None
    ) -> None:
        chat = self.emu.chat_of(msg)
        for bot in self.bots_of(chat):
            if self.sees(bot, chat, msg, cause_bot_id):
                self.enqueue(bot, kind, self.render(msg, bot.id))

    def enqueue(self, bot: BotAccount, kind: str, payload: dict[str, Any]) -> None:
        if kind not in bot.allowed_updates:
            return
        upd = {"update_id": bot.next_update_id, kind: payload}
        bot.next_update_id += 1
        bot.updates.append(upd)
        bot.event.set()

    # --- webhook ------------------------------------------------------------
    def start_webhook(self, bot: BotAccount) -> None:
        self.stop_webhook(bot)
        bot.webhook_task = asyncio.create_task(self._webhook_loop(bot))

    def stop_webhook(self, bot: BotAccount) -> None:
        if bot.webhook_task is not None:
            bot.webhook_task.cancel()
            bot.webhook_task = None

    async def _webhook_loop(self, bot: BotAccount) -> None:
        delay = 0.05
        timeout = aiohttp.ClientTimeout(total=10)
        async with aiohttp.ClientSession(timeout=timeout) as session:
            while bot.webhook_url:
                if not bot.updates:
                    bot.event.clear()
                    await bot.event.wait()
                    continue
                upd = bot.updates[0]
                headers = {}
                if bot.webhook_secret:
                    headers["X-Telegram-Bot-Api-Secret-Token"] = bot.webhook_secret
                ok = False
                try:
                    async with session.post(bot.webhook_url, json=upd, headers=headers) as r:
                        ok = 200 <= r.status < 300
                        if not ok:
                            bot.webhook_last_error = (
                                now(),
                                f"Wrong response from the webhook: {r.status} {r.reason}",
                            )
                except (TimeoutError, aiohttp.ClientError, OSError) as e:
                    bot.webhook_last_error = (now(), f"Connection error: {e}")
                if ok:
                    with contextlib.suppress(ValueError):
                        bot.updates.remove(upd)
                    delay = 0.05
                else:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)


def user_short(user: User | None) -> dict[str, Any] | None:
    return user.short() if user else None
