"""The control API under /_emu/: act as users, read what chats show, faults, limits."""

from __future__ import annotations

import base64
import itertools
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiogram import types as t
from aiohttp import web

from . import entities as ents
from .core import ADMIN_STATUSES, ApiError, bad, dump, forbidden, now
from .methods import check_thread, new_message, parse_text
from .state import BotAccount, Chat, FileRecord, Msg, User

if TYPE_CHECKING:
    from .server import Emulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MEDIA_KINDS = ("photo", "document", "voice", "video", "audio", "sticker", "video_note", "animation")
DEFAULT_NAMES = {
    "photo": "photo.jpg",
    "document": "file.txt",
    "voice": "voice.ogg",
    "video": "video.mp4",
    "audio": "audio.mp3",
    "sticker": "sticker.webp",
    "video_note": "note.mp4",
    "animation": "anim.mp4",
}
_instances = itertools.count(1)


def _err(e: ApiError) -> web.Response:
    body: dict[str, Any] = {"ok": False, "error_code": e.code, "description": e.description}
    if e.parameters:
        body["parameters"] = e.parameters
    return web.json_response(body, status=e.code)


def _wrap(fn: Callable[[web.Request], Awaitable[Any]]) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        try:
            result = await fn(request)
        except ApiError as e:
            return _err(e)
        except (KeyError, ValueError, TypeError) as e:
            return _err(bad(f"control call: {type(e).__name__}: {e}"))
        except Exception as e:  # a bug in the emulator: say so as JSON
            return _err(ApiError(500, f"Internal Server Error: {type(e).__name__}: {e}"))
        if isinstance(result, web.StreamResponse):
            return result
        return web.json_response(result)

    return handler


async def _body(request: web.Request) -> dict[str, Any]:
    if not request.can_read_body:
        return {}
    try:
        data = await request.json()
    except json.JSONDecodeError as e:
        raise bad("control call: body is not JSON") from e
    if not isinstance(data, dict):
        raise bad("control call: body must be a JSON object")
    return data


def setup(app: web.Application, emu: Emulator) -> None:
    c = Control(emu)
    r = app.router
    r.add_post("/_emu/reset", _wrap(c.reset))
    r.add_post("/_emu/users", _wrap(c.users))
    r.add_post("/_emu/bots", _wrap(c.bots))
    r.add_post("/_emu/groups", _wrap(c.groups))
    r.add_post("/_emu/messages", _wrap(c.messages))
    r.add_post("/_emu/edits", _wrap(c.edits))
    r.add_post("/_emu/callbacks", _wrap(c.callbacks))
    r.add_get("/_emu/callbacks/{id}", _wrap(c.get_callback))
    r.add_post("/_emu/inline", _wrap(c.inline))
    r.add_post("/_emu/inline/choose", _wrap(c.choose))
    r.add_get("/_emu/inline/{id}", _wrap(c.get_inline))
    r.add_post("/_emu/members", _wrap(c.members))
    r.add_post("/_emu/blocks", _wrap(c.blocks))
    r.add_post("/_emu/reactions", _wrap(c.reactions))
    r.add_get("/_emu/chats/{chat_id}/messages", _wrap(c.chat_messages))
    r.add_get("/_emu/chats/{chat_id}/topics", _wrap(c.topics))
    r.add_get("/_emu/chats/{chat_id}/members", _wrap(c.chat_members))
    r.add_get("/_emu/users/{user_id}/chats/{bot}/messages", _wrap(c.private_messages))
    r.add_get("/_emu/calls", _wrap(c.calls))
    r.add_post("/_emu/faults", _wrap(c.faults))
    r.add_get("/_emu/faults", _wrap(c.get_faults))
    r.add_post("/_emu/limits", _wrap(c.limits))
    r.add_get("/_emu/limits", _wrap(c.get_limits))
    r.add_post("/_emu/clock", _wrap(c.clock))
    r.add_get("/_emu/bots/{bot}/updates", _wrap(c.pending_updates))
    r.add_get("/_emu/health", _wrap(c.health))
    r.add_get("/_emu/files/{unique_id}", _wrap(c.file_bytes))


class Control:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    @property
    def st(self) -> Any:
        return self.emu.state

    # --- lookups ---------------------------------------------------------------------
    def user(self, uid: Any) -> User:
        user = self.st.users.get(int(uid)) if uid is not None else None
        if user is None:
            raise bad("user not found")
        assert isinstance(user, User)
        return user

    def bot(self, ref: Any) -> BotAccount:
        bot = self.st.bot_by_ref(ref)
        if bot is None:
            raise bad("bot not found")
        assert isinstance(bot, BotAccount)
        return bot

    def group(self, chat_id: Any) -> Chat:
        chat = self.st.groups.get(int(chat_id)) if chat_id is not None else None
        if chat is None:
            raise bad("chat not found")
        assert isinstance(chat, Chat)
        return chat

    def target_chat(self, body: dict[str, Any], user: User) -> Chat:
        if body.get("to_bot") is not None:
            bot = self.bot(body["to_bot"])
            return self.emu.private_chat(user.id, bot)
        return self.group(body.get("chat_id"))

    # --- setup ------------------------------------------------------------------------------
    async def reset(self, request: web.Request) -> Any:
        self.emu.reset()
        return {"ok": True}

    async def users(self, request: web.Request) -> Any:
        b = await _body(request)
        uid = int(b["id"]) if b.get("id") is not None else next(self.st.user_ids)
        while b.get("id") is None and (uid in self.st.users or self.st.bot_by_id(uid)):
            uid = next(self.st.user_ids)
        user = User(
            id=uid,
            first_name=b.get("first_name") or "User",
            last_name=b.get("last_name"),
            username=b.get("username"),
            language_code=b.get("language_code"),
        )
        self.st.users[uid] = user
        return user.to_api()

    async def bots(self, request: web.Request) -> Any:
        b = await _body(request)
        bot = self.emu.register_bot(str(b["token"]), b.get("username"), b.get("first_name"))
        return bot.user.to_api()

    async def groups(self, request: web.Request) -> Any:
        b = await _body(request)
        cid = (
            int(b["chat_id"])
            if b.get("chat_id") is not None
            else int(f"-100{1000000000 + next(self.st.group_ids)}")
        )
        chat = Chat(
            id=cid,
            type="supergroup",
            title=b.get("title") or "Group",
            is_forum=bool(b.get("forum", False)),
            chat_instance=str(next(_instances) * 7919 + 1000000),
        )
        if chat.is_forum:
            chat.next_message_id = 2  # message 1 opened the General topic (thread 1)
        for m in b.get("members") or []:
            uid = int(m["user_id"])
            self.user(uid)
            chat.members[uid] = m.get("status", "member")
        for bb in b.get("bots") or []:
            bot = self.emu.register_bot(str(bb["token"]), bb.get("username"))
            rights = {k: bool(v) for k, v in (bb.get("rights") or {}).items()}
            chat.bots[bot.id] = (bb.get("status", "administrator"), rights)
        self.st.groups[cid] = chat
        return self.group_view(chat)

    def group_view(self, chat: Chat) -> dict[str, Any]:
        return {
            "chat_id": chat.id,
            "id": chat.id,
            "title": chat.title,
            "type": chat.type,
            "forum": chat.is_forum,
            "members": [{"user_id": u, "status": s} for u, s in chat.members.items()],
            "bots": [{"id": b, "status": s, "rights": r} for b, (s, r) in chat.bots.items()],
        }

    # --- acting as users --------------------------------------------------------------------------
    def _media(self, kind: str, spec: Any) -> FileRecord:
        spec = spec if isinstance(spec, dict) else {}
        raw = spec.get("content_base64")
        data = base64.b64decode(raw) if raw else f"emulated {kind} {time.time()}".encode()
        name = spec.get("file_name") or DEFAULT_NAMES.get(kind)
        if kind in ("photo", "sticker", "video_note"):
            name = spec.get("file_name")
        mime = spec.get("mime_type")
        if mime is None and kind not in ("photo", "sticker", "video_note"):
            from .methods import _guess_mime

            mime = _guess_mime(name, kind, None)
        rec: FileRecord = self.st.add_file(data, kind, name, mime)
        return rec

    def _content(self, item: dict[str, Any]) -> dict[str, Any]:
        kw: dict[str, Any] = {}
        kind = item.get("type") if item.get("type") in MEDIA_KINDS else None
        for k in MEDIA_KINDS:
            if k in item:
                kind = k
        if kind is not None:
            spec = item.get(kind) if kind in item else item
            kw.update(kind=kind, file=self._media(kind, spec))
            if item.get("caption") is not None:
                cap, cents = parse_text(
                    item["caption"],
                    item.get("parse_mode"),
                    item.get("caption_entities"),
                    caption=True,
                )
                kw.update(caption=cap, caption_entities=cents)
        elif item.get("location"):
            loc = item["location"]
            kw.update(
                kind="location",
                location={"latitude": float(loc["latitude"]), "longitude": float(loc["longitude"])},
            )
        elif item.get("contact"):
            con = dict(item["contact"])
            kw.update(kind="contact", contact=con)
        elif item.get("text") is not None:
            text, te = parse_text(item["text"], item.get("parse_mode"), item.get("entities"))
            if te is None and item.get("text", "").startswith("/"):
                cmd = item["text"].split()[0]
                te = [{"type": "bot_command", "offset": 0, "length": ents.utf16_len(cmd)}]
            kw.update(kind="text", text=text, entities=te)
        else:
            raise bad("message text is empty")
        return kw

    def _post_in(
        self, chat: Chat, user: User, body: dict[str, Any]
    ) -> tuple[int | None, int | None]:
        reply_to = body.get("reply_to_message_id")
        thread_id = body.get("thread_id")
        if chat.type == "private":
            return None, reply_to
        status = chat.members.get(user.id)
        if status in ("left", "kicked"):
            raise forbidden("user is not a member of the chat")
        if status is None:
            chat.members[user.id] = "member"
            status = "member"
        if thread_id in (1, "1", "general", None):
            thread_id = None
        if reply_to is not None:
            target = chat.messages.get(int(reply_to))
            if target is None or target.deleted:
                raise bad("message to be replied not found")
            if thread_id is None and target.is_topic_message:
                thread_id = target.thread_id
        thread_id = check_thread(
            chat, int(thread_id) if thread_id is not None else None, status in ADMIN_STATUSES
        )
        return thread_id, int(reply_to) if reply_to is not None else None

    async def messages(self, request: web.Request) -> Any:
        b = await _body(request)
        user = self.user(b.get("from"))
        chat = self.target_chat(b, user)
        thread_id, reply_to = self._post_in(chat, user, b)
        items = b.get("media_group")
        contents = [self._content(i) for i in items] if items else [self._content(b)]
        if items is not None and not 2 <= len(items) <= 10:
            raise bad("media group must have 2-10 items")
        if chat.type == "private":
            chat.started = True
            self.st.blocked.discard((user.id, chat.bot_id))
        group_id = str(next(self.st.media_group_counter)) if items else None
        msgs: list[Msg] = []
        for kw in contents:
            msgs.append(
                new_message(
                    chat,
                    user,
                    thread_id=thread_id,
                    is_topic_message=thread_id is not None,
                    reply_to=reply_to,
                    media_group_id=group_id,
                    via_bot=None,
                    **kw,
                )
            )
        for m in msgs:
            self.emu.core.deliver_message(m)
        out: dict[str, Any] = {
            "chat_id": chat.id,
            "message_id": msgs[0].message_id,
            "thread_id": thread_id,
        }
        if items:
            out["message_ids"] = [m.message_id for m in msgs]
            out["media_group_id"] = group_id
        return out

    async def edits(self, request: web.Request) -> Any:
        b = await _body(request)
        user = self.user(b.get("from"))
        chat = self.target_chat(b, user)
        msg = chat.messages.get(int(b["message_id"]))
        if msg is None or msg.deleted:
            raise bad("message to edit not found")
        if msg.sender.id != user.id:
            raise bad("message can't be edited")
        if "text" in b:
            if msg.text is None:
                raise bad("there is no text in the message to edit")
            text, te = parse_text(b["text"], b.get("parse_mode"), b.get("entities"))
            if text == msg.text and te == msg.entities:
                raise bad("message is not modified")
            msg.text, msg.entities = text, te
        elif "caption" in b:
            if msg.file is None:
                raise bad("there is no caption in the message to edit")
            cap, ce = parse_text(
                b["caption"], b.get("parse_mode"), b.get("caption_entities"), caption=True
            )
            msg.caption, msg.caption_entities = cap, ce
        else:
            raise bad("message text is empty")
        msg.edit_date = now()
        self.emu.core.deliver_message(msg, kind="edited_message")
        return self.emu.core.control_view(msg)

    async def callbacks(self, request: web.Request) -> Any:
        b = await _body(request)
        user = self.user(b.get("from"))
        chat = self.target_chat(b, user)
        msg = chat.messages.get(int(b["message_id"]))
        if msg is None or msg.deleted:
            raise bad("message not found")
        bot = self.st.bot_by_id(msg.sender.id) if msg.sender.is_bot else None
        if bot is None:
            raise bad("the message was not sent by a bot")
        data = b.get("data")
        rows = (msg.reply_markup or {}).get("inline_keyboard") or []
        buttons = [btn.get("callback_data") for row in rows for btn in row]
        if data not in buttons:
            raise bad("BUTTON_DATA_INVALID: the message has no button with this callback_data")
        qid = str(4_000_000_000_000_000_000 + next(self.st.query_counter))
        instance = chat.chat_instance or str(abs(hash((chat.id, bot.id))))
        payload = dump(
            t.CallbackQuery,
            {
                "id": qid,
                "from": user.to_api(),
                "chat_instance": instance,
                "data": data,
                "message": self.emu.core.render(msg, bot.id),
            },
        )
        self.st.callbacks[qid] = {
            "callback_query_id": qid,
            "bot_id": bot.id,
            "chat_id": chat.id,
            "message_id": msg.message_id,
            "from": user.id,
            "data": data,
            "answered": False,
            "text": None,
            "show_alert": False,
            "url": None,
            "cache_time": None,
        }
        self.emu.core.enqueue(bot, "callback_query", payload)
        return {"callback_query_id": qid}

    async def get_callback(self, request: web.Request) -> Any:
        cb = self.st.callbacks.get(request.match_info["id"])
        if cb is None:
            raise ApiError(404, "Not Found: callback query")
        return {k: v for k, v in cb.items() if k != "bot_id"}

    async def inline(self, request: web.Request) -> Any:
        b = await _body(request)
        user = self.user(b.get("from"))
        if b.get("bot") is not None:
            bot = self.bot(b["bot"])
        else:
            if not self.st.bots:
                raise bad("no bot registered")
            bot = min(self.st.bots.values(), key=lambda x: x.registered_at)
        qid = str(5_000_000_000_000_000_000 + next(self.st.query_counter))
        d: dict[str, Any] = {
            "id": qid,
            "from": user.to_api(),
            "query": b.get("query", ""),
            "offset": b.get("offset", ""),
        }
        if b.get("chat_type"):
            d["chat_type"] = b["chat_type"]
        self.st.inline[qid] = {
            "inline_query_id": qid,
            "bot_id": bot.id,
            "bot": bot.user.username,
            "from": user.id,
            "query": d["query"],
            "answered": False,
            "results": [],
            "cache_time": None,
            "is_personal": None,
            "next_offset": None,
            "button": None,
        }
        self.emu.core.enqueue(bot, "inline_query", dump(t.InlineQuery, d))
        return {"inline_query_id": qid}

    async def get_inline(self, request: web.Request) -> Any:
        q = self.st.inline.get(request.match_info["id"])
        if q is None:
            raise ApiError(404, "Not Found: inline query")
        return {k: v for k, v in q.items() if k != "bot_id"}

    async def choose(self, request: web.Request) -> Any:
        b = await _body(request)
        q = self.st.inline.get(str(b.get("inline_query_id")))
        if q is None:
            raise bad("inline query not found")
        result = next(
            (r for r in q["results"] if str(r.get("id")) == str(b.get("result_id"))), None
        )
        if result is None:
            raise bad("result not found")
        bot = self.st.bot_by_id(q["bot_id"])
        user = self.user(q["from"])
        chat = self.target_chat(b, user)
        thread_id, reply_to = self._post_in(chat, user, b)
        kw = self._result_content(bot, result)
        if chat.type == "private":
            chat.started = True
        msg = new_message(
            chat,
            user,
            thread_id=thread_id,
            is_topic_message=thread_id is not None,
            reply_to=reply_to,
            via_bot=bot.user,
            reply_markup=result.get("reply_markup"),
            **kw,
        )
        self.emu.core.deliver_message(msg)
        chosen = {"result_id": str(result["id"]), "from": user.to_api(), "query": q["query"]}
        self.emu.core.enqueue(bot, "chosen_inline_result", dump(t.ChosenInlineResult, chosen))
        return self.emu.core.control_view(msg)

    def _result_content(self, bot: Any, r: dict[str, Any]) -> dict[str, Any]:
        imc = r.get("input_message_content")
        if imc:
            if "message_text" in imc:
                text, te = parse_text(
                    imc["message_text"], imc.get("parse_mode"), imc.get("entities")
                )
                return {"kind": "text", "text": text, "entities": te}
            if "latitude" in imc:
                return {
                    "kind": "location",
                    "location": {"latitude": imc["latitude"], "longitude": imc["longitude"]},
                }
            if "phone_number" in imc:
                return {
                    "kind": "contact",
                    "contact": {
                        "phone_number": imc["phone_number"],
                        "first_name": imc.get("first_name", ""),
                    },
                }
        rtype = r.get("type", "article")
        kind = {
            "photo": "photo",
            "document": "document",
            "voice": "voice",
            "audio": "audio",
            "video": "video",
            "sticker": "sticker",
            "gif": "animation",
            "mpeg4_gif": "animation",
        }.get(rtype)
        if kind is None:
            raise bad("result has no message content")
        fid = r.get(f"{rtype}_file_id")
        rec = self.st.file_for_bot(bot.id, fid) if fid else None
        if rec is None:
            if fid:
                raise bad("wrong file identifier/HTTP URL specified")
            rec = self.st.add_file(
                f"emulated {kind} from url".encode(),
                kind,
                r.get("title") if kind == "document" else None,
                r.get("mime_type"),
            )
        out: dict[str, Any] = {"kind": kind, "file": rec}
        if r.get("caption"):
            cap, ce = parse_text(
                r["caption"], r.get("parse_mode"), r.get("caption_entities"), caption=True
            )
            out.update(caption=cap, caption_entities=ce)
        return out

    async def members(self, request: web.Request) -> Any:
        b = await _body(request)
        chat = self.group(b.get("chat_id"))
        uid = int(b["user_id"])
        status = str(b.get("status", "member"))
        subject = self.st.user_or_bot(uid)
        if subject is None:
            raise bad("user not found")
        old = self.emu.core.chat_member(chat, uid)
        if subject.is_bot:
            prev_rights = chat.bots.get(uid, ("left", {}))[1]
            rights = {k: bool(v) for k, v in (b.get("rights") or prev_rights).items()}
            chat.bots[uid] = (status, rights)
        else:
            chat.members[uid] = status
        new = self.emu.core.chat_member(chat, uid)
        actor = self.st.user_or_bot(int(b["by"])) if b.get("by") else subject
        upd = dump(
            t.ChatMemberUpdated,
            {
                "chat": chat.api(),
                "from": (actor or subject).to_api(),
                "date": now(),
                "old_chat_member": old,
                "new_chat_member": new,
            },
        )
        live = ("member", "administrator", "creator", "restricted")
        if subject.is_bot:
            bot = self.st.bot_by_id(uid)
            if bot is not None:
                self.emu.core.enqueue(bot, "my_chat_member", upd)
        for bot in self.emu.core.bots_of(chat):
            if bot.id != uid and self.emu.core.bot_status(chat, bot.id) == "administrator":
                self.emu.core.enqueue(bot, "chat_member", upd)
        was, now_in = old["status"] in live, status in live
        service = None
        if not was and now_in:
            service = ("new_chat_members", {"users": [subject.to_api()]})
        elif was and not now_in:
            service = ("left_chat_member", {"user": subject.to_api()})
        if service is not None:
            msg = new_message(
                chat,
                (actor or subject) if isinstance(actor, User) else subject,
                kind="service",
                service=service[0],
                service_data=service[1],
            )
            self.emu.core.deliver_message(msg)
        return upd

    async def blocks(self, request: web.Request) -> Any:
        b = await _body(request)
        user = self.user(b.get("from"))
        bot = self.bot(b.get("bot"))
        key = (user.id, bot.id)
        unblock = bool(b.get("unblock"))
        was = key in self.st.blocked
        if unblock:
            self.st.blocked.discard(key)
        else:
            self.st.blocked.add(key)
        if was != (not unblock):
            pc = self.emu.private_chat(user.id, bot)
            member = {"status": "member", "user": user.to_api()}
            kicked = {"status": "kicked", "user": user.to_api(), "until_date": 0}
            old, new = (member, kicked) if not unblock else (kicked, member)
            upd = dump(
                t.ChatMemberUpdated,
                {
                    "chat": pc.api(user),
                    "from": user.to_api(),
                    "date": now(),
                    "old_chat_member": old,
                    "new_chat_member": new,
                },
            )
            self.emu.core.enqueue(bot, "my_chat_member", upd)
        return {"ok": True, "user_id": user.id, "bot_id": bot.id, "blocked": not unblock}

    async def reactions(self, request: web.Request) -> Any:
        b = await _body(request)
        user = self.user(b.get("from"))
        chat = self.target_chat(b, user)
        msg = chat.messages.get(int(b["message_id"]))
        if msg is None or msg.deleted:
            raise bad("MESSAGE_ID_INVALID")
        new = [
            {"type": "emoji", "emoji": e} if isinstance(e, str) else e
            for e in b.get("reaction") or []
        ]
        mine = [r for r in (msg.reactions or []) if r.get("by") == user.id]
        old = [{k: v for k, v in r.items() if k != "by"} for r in mine]
        msg.reactions = [r for r in (msg.reactions or []) if r.get("by") != user.id] + [
            {"by": user.id, **r} for r in new
        ]
        upd = dump(
            t.MessageReactionUpdated,
            {
                "chat": self.emu.core.chat_api(chat),
                "message_id": msg.message_id,
                "user": user.to_api(),
                "date": now(),
                "old_reaction": old,
                "new_reaction": new,
            },
        )
        for bot in self.emu.core.bots_of(chat):
            if chat.type == "private" or self.emu.core.bot_status(chat, bot.id) == "administrator":
                self.emu.core.enqueue(bot, "message_reaction", upd)
        return upd

    # --- reading --------------------------------------------------------------------------------
    def _view(self, chat: Chat, thread: str | None) -> list[dict[str, Any]]:
        msgs = [m for m in chat.messages.values() if not m.deleted]
        if thread is not None and thread != "":
            if thread in ("1", "general"):
                msgs = [m for m in msgs if not m.is_topic_message]
            else:
                tid = int(thread)
                msgs = [m for m in msgs if m.is_topic_message and m.thread_id == tid]
        msgs.sort(key=lambda m: m.message_id)
        return [self.emu.core.control_view(m) for m in msgs]

    async def chat_messages(self, request: web.Request) -> Any:
        chat = self.group(request.match_info["chat_id"])
        return self._view(chat, request.query.get("thread_id"))

    async def private_messages(self, request: web.Request) -> Any:
        user = self.user(request.match_info["user_id"])
        bot = self.bot(request.match_info["bot"])
        chat = self.st.private.get((user.id, bot.id))
        return self._view(chat, None) if chat else []

    async def topics(self, request: web.Request) -> Any:
        chat = self.group(request.match_info["chat_id"])
        return [tp.control() for tp in sorted(chat.topics.values(), key=lambda x: x.thread_id)]

    async def chat_members(self, request: web.Request) -> Any:
        chat = self.group(request.match_info["chat_id"])
        return self.group_view(chat)

    async def calls(self, request: web.Request) -> Any:
        method = request.query.get("method")
        since = float(request.query.get("since") or 0)
        return [
            c
            for c in self.emu.calls
            if c["t"] >= since and (not method or c["method"].lower() == method.lower())
        ]

    async def faults(self, request: web.Request) -> Any:
        b = await _body(request)
        fault: dict[str, Any] = {
            "method": b.get("method"),
            "chat_id": b.get("chat_id"),
            "error_code": int(b.get("error_code", 400)),
            "description": b.get("description") or "Bad Request: injected fault",
            "retry_after": b.get("retry_after"),
            "times": int(b.get("times", 1)),
        }
        # Extensions: a late answer (the client may time out first), a dropped connection, a body
        # that is not Telegram's JSON.
        if b.get("delay"):
            fault["delay"] = float(b["delay"])
        if b.get("drop"):
            fault["drop"] = True
        if b.get("raw_body") is not None:
            fault["raw_body"] = str(b["raw_body"])
        if fault["times"] > 0:
            self.emu.faults.append(fault)
        return fault

    async def get_faults(self, request: web.Request) -> Any:
        return self.emu.faults

    async def limits(self, request: web.Request) -> Any:
        return self.emu.limiter.configure(await _body(request))

    async def get_limits(self, request: web.Request) -> Any:
        return self.emu.limiter.describe()

    async def clock(self, request: web.Request) -> Any:
        b = await _body(request)
        self.emu.limiter.advance(float(b.get("advance", 0)))
        return {"offset": self.emu.limiter.offset}

    async def pending_updates(self, request: web.Request) -> Any:
        bot = self.bot(request.match_info["bot"])
        return bot.updates

    async def health(self, request: web.Request) -> Any:
        return {"ok": True}

    async def file_bytes(self, request: web.Request) -> Any:
        """The bytes of any file a chat shows (a page showing photos), by file_unique_id."""
        rec = self.st.files.get(request.match_info["unique_id"])
        if rec is None:
            raise ApiError(404, "Not Found: file")
        headers = {"Cache-Control": "no-cache"}  # ids repeat after a reset
        if rec.file_name:
            headers["Content-Disposition"] = f"inline; filename*=UTF-8''{quote(rec.file_name)}"
        mime = rec.mime_type or ("image/jpeg" if rec.kind == "photo" else None)
        return web.Response(
            body=rec.data, content_type=mime or "application/octet-stream", headers=headers
        )
