"""Bot API methods. Each takes (emulator, bot, validated params, uploaded files)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import mimetypes
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiogram import types as t

from . import entities as ents
from .core import ADMIN_STATUSES, ApiError, bad, dump, now
from .state import DEFAULT_UPDATES, TOPIC_COLORS, BotAccount, Chat, FileRecord, Msg, Topic, User

if TYPE_CHECKING:
    from .server import Emulator

Files = dict[str, tuple[str, bytes, str | None]]
Impl = Callable[["Emulator", BotAccount, dict[str, Any], Files], Awaitable[Any]]
IMPLS: dict[str, Impl] = {}

NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly "
    "the same as a current content and reply markup of the message"
)
QUERY_INVALID = "query is too old and response timeout expired or query ID is invalid"
MAX_TEXT = 4096
MAX_CAPTION = 1024


def method(*names: str) -> Callable[[Impl], Impl]:
    def deco(fn: Impl) -> Impl:
        for n in names:
            IMPLS[n.lower()] = fn
        return fn

    return deco


# --- shared helpers (also used by the control API) ---------------------------------


def new_message(chat: Chat, sender: User, **kw: Any) -> Msg:
    msg = Msg(chat_id=chat.id, message_id=chat.new_message_id(), sender=sender, date=now(), **kw)
    if chat.type == "private":
        msg.private_bot_id = chat.bot_id
    chat.messages[msg.message_id] = msg
    return msg


def parse_text(
    text: str | None,
    parse_mode: str | None,
    entities: list[dict[str, Any]] | None,
    *,
    caption: bool = False,
) -> tuple[str | None, list[dict[str, Any]] | None]:
    if text is None:
        if caption:
            return None, None
        raise bad("message text is empty")
    out_ents: list[dict[str, Any]] | None
    if entities:
        out_text, out_ents = text, entities
    else:
        try:
            out_text, parsed = ents.parse(text, parse_mode)
        except ents.ParseError as e:
            raise bad(f"can't parse entities: {e}") from e
        out_ents = parsed or None
    if caption:
        if ents.utf16_len(out_text) > MAX_CAPTION:
            raise bad("message caption is too long")
        return (out_text or None), out_ents
    if not out_text.strip():
        raise bad("message text is empty")
    if ents.utf16_len(out_text) > MAX_TEXT:
        raise bad("message is too long")
    return out_text, out_ents


def topic_or_fail(chat: Chat, thread_id: Any) -> Topic:
    if chat.type != "supergroup" or not chat.is_forum:
        raise bad("message thread not found")
    topic = chat.topics.get(int(thread_id))
    if topic is None or topic.deleted:
        raise bad("message thread not found")
    return topic


def check_thread(chat: Chat, thread_id: int | None, poster_is_admin: bool) -> int | None:
    if thread_id is None:
        return None
    topic = topic_or_fail(chat, thread_id)
    if topic.closed and not poster_is_admin:
        raise bad("TOPIC_CLOSED")
    return topic.thread_id


def limit(emu: Emulator, bot: BotAccount, chat: Chat, n: int = 1) -> None:
    wait = emu.limiter.check(bot.id, chat.id, chat.type != "private", n)
    if wait is not None:
        raise ApiError(429, f"Too Many Requests: retry after {wait}", {"retry_after": wait})


def record(emu: Emulator, bot: BotAccount, chat: Chat, n: int = 1) -> None:
    emu.limiter.record(bot.id, chat.id, chat.type != "private", n)


def bot_is_admin(emu: Emulator, chat: Chat, bot: BotAccount) -> bool:
    return chat.type == "private" or emu.core.bot_status(chat, bot.id) == "administrator"


def reply_target(chat: Chat, p: dict[str, Any]) -> int | None:
    rp = p.get("reply_parameters") or {}
    mid = rp.get("message_id") or p.get("reply_to_message_id")
    if mid is None:
        return None
    allow = rp.get("allow_sending_without_reply") or p.get("allow_sending_without_reply")
    target = chat.messages.get(int(mid))
    if target is None or target.deleted:
        if allow:
            return None
        raise bad("message to be replied not found")
    return target.message_id


async def prepare_send(
    emu: Emulator, bot: BotAccount, p: dict[str, Any], n: int = 1
) -> tuple[Chat, int | None, int | None]:
    chat = emu.chat_for_bot(bot, p.get("chat_id"), sending=True)
    reply_to = reply_target(chat, p)
    thread_id = p.get("message_thread_id")
    if thread_id is None and reply_to is not None:
        target = chat.messages[reply_to]
        if target.is_topic_message:
            thread_id = target.thread_id
    thread_id = check_thread(chat, thread_id, bot_is_admin(emu, chat, bot))
    limit(emu, bot, chat, n)
    return chat, thread_id, reply_to


def _guess_mime(name: str | None, kind: str, given: str | None) -> str | None:
    if kind in ("photo", "sticker", "video_note"):
        return None
    if given and given != "application/octet-stream":
        return given
    if name:
        guess = mimetypes.guess_type(name)[0]
        if guess:
            return guess
    return {
        "voice": "audio/ogg",
        "audio": "audio/mpeg",
        "video": "video/mp4",
        "animation": "video/mp4",
    }.get(kind, given or "application/octet-stream")


KIND_NAMES = {
    "photo": "Photo",
    "document": "Document",
    "voice": "Voice",
    "audio": "Audio",
    "video": "Video",
    "video_note": "VideoNote",
    "sticker": "Sticker",
    "animation": "Animation",
}


def resolve_file(emu: Emulator, bot: BotAccount, value: Any, files: Files, kind: str) -> FileRecord:
    if not isinstance(value, str) or not value:
        raise bad(f"there is no {kind} in the request")
    if value.startswith("attach://"):
        part = files.get(value[len("attach://") :])
        if part is None:
            raise bad("wrong file identifier/HTTP URL specified")
        fname, data, ctype = part
        if not data:
            raise bad("file must be non-empty")
        name = None if kind in ("photo", "sticker", "video_note") else fname
        return emu.state.add_file(data, kind, name, _guess_mime(fname, kind, ctype))
    if value.startswith(("http://", "https://")):
        raise bad("failed to get HTTP URL content")
    rec = emu.state.file_for_bot(bot.id, value)
    if rec is None:
        raise bad("wrong file identifier/HTTP URL specified")
    if rec.kind != kind and not {rec.kind, kind} <= {"document", "animation", "video"}:
        raise bad(
            f"can't use file of type {KIND_NAMES.get(rec.kind, rec.kind)} as "
            f"{KIND_NAMES.get(kind, kind)}"
        )
    return rec


def finish_send(emu: Emulator, bot: BotAccount, chat: Chat, msgs: list[Msg]) -> None:
    record(emu, bot, chat, len(msgs))
    for m in msgs:
        emu.core.deliver_message(m, cause_bot_id=bot.id)


def get_msg(chat: Chat, mid: Any, error: str) -> Msg:
    msg = chat.messages.get(int(mid)) if mid is not None else None
    if msg is None or msg.deleted:
        raise bad(error)
    return msg


# --- getMe, updates, webhook ----------------------------------------------------------


@method("getMe")
async def get_me(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    d = bot.user.to_api()
    d.update(can_join_groups=True, can_read_all_group_messages=False, supports_inline_queries=True)
    return dump(t.User, d)


@method("logOut", "close")
async def log_out(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    return True


def _set_allowed(bot: BotAccount, allowed: list[str] | None) -> None:
    if allowed is None:
        return
    bot.allowed_updates = frozenset(allowed) if allowed else DEFAULT_UPDATES


@method("getUpdates")
async def get_updates(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    if bot.webhook_url:
        raise ApiError(
            409,
            "Conflict: can't use getUpdates method while webhook is active; "
            "use deleteWebhook to delete the webhook first",
        )
    offset = int(p.get("offset", 0) or 0)
    lim = max(1, min(100, int(p.get("limit", 100) or 100)))
    timeout = max(0.0, min(50.0, float(p.get("timeout", 0) or 0)))
    _set_allowed(bot, p.get("allowed_updates"))
    if offset < 0:
        # counted from the end of the queue (as the Bot API server does): -1 is the last
        # update; everything before it is forgotten, newer ones arrive as usual
        offset = max(1, bot.next_update_id + offset)
    if offset > 0:
        bot.updates[:] = [u for u in bot.updates if u["update_id"] >= offset]
    bot.poll_generation += 1
    gen = bot.poll_generation
    bot.event.set()  # wake (and terminate) an older long poll
    await asyncio.sleep(0)
    deadline = time.monotonic() + timeout
    while True:
        if bot.poll_generation != gen:
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; make sure "
                "that only one bot instance is running",
            )
        pending = bot.updates
        if pending or time.monotonic() >= deadline:
            return pending[:lim]
        bot.event.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(deadline - time.monotonic()):
                await bot.event.wait()


@method("setWebhook")
async def set_webhook(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    url = p.get("url") or ""
    if url and not url.startswith(("http://", "https://")):
        raise bad("bad webhook: An HTTPS URL must be provided for webhook")
    secret = p.get("secret_token")
    if secret is not None and not all(c.isalnum() or c in "_-" for c in secret):
        raise bad("bad webhook: secret token contains unallowed characters")
    _set_allowed(bot, p.get("allowed_updates"))
    if p.get("drop_pending_updates"):
        bot.updates.clear()
    bot.webhook_url = url
    bot.webhook_secret = secret
    bot.webhook_last_error = None
    if url:
        bot.poll_generation += 1
        bot.event.set()
        emu.core.start_webhook(bot)
    else:
        emu.core.stop_webhook(bot)
    return True


@method("deleteWebhook")
async def delete_webhook(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    if p.get("drop_pending_updates"):
        bot.updates.clear()
    bot.webhook_url = ""
    bot.webhook_secret = None
    emu.core.stop_webhook(bot)
    return True


@method("getWebhookInfo")
async def get_webhook_info(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    d: dict[str, Any] = {
        "url": bot.webhook_url,
        "has_custom_certificate": False,
        "pending_update_count": len(bot.updates),
    }
    if bot.webhook_url:
        d["max_connections"] = 40
        if bot.allowed_updates != DEFAULT_UPDATES:
            d["allowed_updates"] = sorted(bot.allowed_updates)
    if bot.webhook_last_error:
        d["last_error_date"], d["last_error_message"] = bot.webhook_last_error
    return dump(t.WebhookInfo, d)


# --- sending ----------------------------------------------------------------------------


@method("sendMessage")
async def send_message(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    text, entities = parse_text(p.get("text"), p.get("parse_mode"), p.get("entities"))
    chat, thread_id, reply_to = await prepare_send(emu, bot, p)
    msg = new_message(
        chat,
        bot.user,
        kind="text",
        text=text,
        entities=entities,
        thread_id=thread_id,
        is_topic_message=thread_id is not None,
        reply_to=reply_to,
        reply_markup=p.get("reply_markup"),
    )
    finish_send(emu, bot, chat, [msg])
    return emu.core.render(msg, bot.id)


MEDIA_METHODS = {
    "sendphoto": "photo",
    "senddocument": "document",
    "sendvoice": "voice",
    "sendaudio": "audio",
    "sendvideo": "video",
    "sendvideonote": "video_note",
    "sendanimation": "animation",
    "sendsticker": "sticker",
}


def _media_sender(kind: str) -> Impl:
    async def send_media(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
        caption, caption_entities = parse_text(
            p.get("caption"), p.get("parse_mode"), p.get("caption_entities"), caption=True
        )
        chat, thread_id, reply_to = await prepare_send(emu, bot, p)
        rec = resolve_file(emu, bot, p.get(kind), files, kind)
        msg = new_message(
            chat,
            bot.user,
            kind=kind,
            file=rec,
            caption=caption,
            caption_entities=caption_entities,
            thread_id=thread_id,
            is_topic_message=thread_id is not None,
            reply_to=reply_to,
            reply_markup=p.get("reply_markup"),
        )
        finish_send(emu, bot, chat, [msg])
        return emu.core.render(msg, bot.id)

    return send_media


for _m, _k in MEDIA_METHODS.items():
    IMPLS[_m] = _media_sender(_k)


@method("sendLocation")
async def send_location(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    chat, thread_id, reply_to = await prepare_send(emu, bot, p)
    msg = new_message(
        chat,
        bot.user,
        kind="location",
        location={"latitude": p["latitude"], "longitude": p["longitude"]},
        thread_id=thread_id,
        is_topic_message=thread_id is not None,
        reply_to=reply_to,
        reply_markup=p.get("reply_markup"),
    )
    finish_send(emu, bot, chat, [msg])
    return emu.core.render(msg, bot.id)


@method("sendContact")
async def send_contact(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    chat, thread_id, reply_to = await prepare_send(emu, bot, p)
    contact = {k: p[k] for k in ("phone_number", "first_name", "last_name", "vcard") if k in p}
    msg = new_message(
        chat,
        bot.user,
        kind="contact",
        contact=contact,
        thread_id=thread_id,
        is_topic_message=thread_id is not None,
        reply_to=reply_to,
        reply_markup=p.get("reply_markup"),
    )
    finish_send(emu, bot, chat, [msg])
    return emu.core.render(msg, bot.id)


@method("sendMediaGroup")
async def send_media_group(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    media = p.get("media") or []
    if len(media) < 2:
        raise bad("too few messages to send as an album")
    if len(media) > 10:
        raise bad("too many messages to send as an album")
    types_ = {m.get("type") for m in media}
    for special in ("document", "audio"):
        if special in types_ and len(types_) > 1:
            raise bad(f"{special} can't be mixed with other media types")
    prepared = []
    for item in media:
        cap, cap_ents = parse_text(
            item.get("caption"), item.get("parse_mode"), item.get("caption_entities"), caption=True
        )
        prepared.append((item, cap, cap_ents))
    chat, thread_id, reply_to = await prepare_send(emu, bot, p, n=len(media))
    recs = [
        resolve_file(emu, bot, item.get("media"), files, item["type"]) for item, _, _ in prepared
    ]
    group_id = str(next(emu.state.media_group_counter))
    msgs = []
    for (item, cap, cap_ents), rec in zip(prepared, recs, strict=True):
        msgs.append(
            new_message(
                chat,
                bot.user,
                kind=item["type"],
                file=rec,
                caption=cap,
                caption_entities=cap_ents,
                thread_id=thread_id,
                is_topic_message=thread_id is not None,
                reply_to=reply_to,
                media_group_id=group_id,
            )
        )
    finish_send(emu, bot, chat, msgs)
    return [emu.core.render(m, bot.id) for m in msgs]


@method("sendChatAction")
async def send_chat_action(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    chat = emu.chat_for_bot(bot, p.get("chat_id"), sending=True)
    if p.get("message_thread_id") is not None:
        topic_or_fail(chat, p["message_thread_id"])
    return True


# --- copy & forward ----------------------------------------------------------------------


def _copy_of(
    emu: Emulator,
    bot: BotAccount,
    src: Msg,
    dest: Chat,
    thread_id: int | None,
    forward: bool,
    group_map: dict[str, str],
    p: dict[str, Any],
    single: bool,
) -> Msg:
    caption, caption_entities = src.caption, src.caption_entities
    if not forward and single and "caption" in p:
        caption, caption_entities = parse_text(
            p.get("caption"), p.get("parse_mode"), p.get("caption_entities"), caption=True
        )
    if not forward and p.get("remove_caption"):
        caption, caption_entities = None, None
    mgid = None
    if src.media_group_id:
        if src.media_group_id not in group_map:
            group_map[src.media_group_id] = str(next(emu.state.media_group_counter))
        mgid = group_map[src.media_group_id]
    origin = None
    if forward:
        origin = src.forward_origin or {
            "type": "user",
            "date": src.date,
            "sender_user": src.sender.to_api(),
        }
    return new_message(
        dest,
        bot.user,
        kind=src.kind,
        text=src.text,
        entities=src.entities,
        file=src.file,
        caption=caption,
        caption_entities=caption_entities,
        location=src.location,
        contact=src.contact,
        thread_id=thread_id,
        is_topic_message=thread_id is not None,
        reply_to=reply_target(dest, p) if single else None,
        reply_markup=p.get("reply_markup") if single and not forward else None,
        media_group_id=mgid,
        forward_origin=origin,
    )


async def _copy_forward(
    emu: Emulator, bot: BotAccount, p: dict[str, Any], forward: bool, many: bool
) -> Any:
    word = "forward" if forward else "copy"
    ids = p.get("message_ids") if many else [p.get("message_id")]
    if not ids:
        raise bad("message identifier is not specified")
    if len(ids) > 100:
        raise bad("too many messages to " + word)
    src_chat = emu.chat_for_bot(bot, p.get("from_chat_id"))
    found: list[Msg] = []
    for mid in ids or []:
        src = src_chat.messages.get(int(mid or 0))
        if src is None or src.deleted:
            if not many:
                raise bad(f"message to {word} not found")
            continue
        if src.service:
            if not many:
                raise bad(f"message can't be {'forwarded' if forward else 'copied'}")
            continue
        found.append(src)
    if not found:
        raise bad(f"message to {word} not found")
    chat, thread_id, _ = await prepare_send(emu, bot, p, n=len(found))
    group_map: dict[str, str] = {}
    msgs = [_copy_of(emu, bot, s, chat, thread_id, forward, group_map, p, not many) for s in found]
    finish_send(emu, bot, chat, msgs)
    if many:
        return [{"message_id": m.message_id} for m in msgs]
    if forward:
        return emu.core.render(msgs[0], bot.id)
    return {"message_id": msgs[0].message_id}


@method("copyMessage")
async def copy_message(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    return await _copy_forward(emu, bot, p, forward=False, many=False)


@method("copyMessages")
async def copy_messages(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    return await _copy_forward(emu, bot, p, forward=False, many=True)


@method("forwardMessage")
async def forward_message(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    return await _copy_forward(emu, bot, p, forward=True, many=False)


@method("forwardMessages")
async def forward_messages(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    return await _copy_forward(emu, bot, p, forward=True, many=True)


# --- editing ----------------------------------------------------------------------------------


def _edit_target(emu: Emulator, bot: BotAccount, p: dict[str, Any]) -> tuple[Chat, Msg]:
    if p.get("inline_message_id"):
        raise bad("MESSAGE_ID_INVALID")
    if p.get("chat_id") is None:
        raise bad("chat_id is empty")
    chat = emu.chat_for_bot(bot, p.get("chat_id"))
    msg = get_msg(chat, p.get("message_id"), "message to edit not found")
    if msg.sender.id != bot.id or msg.service:
        raise bad("message can't be edited")
    return chat, msg


def _apply_edit(emu: Emulator, bot: BotAccount, chat: Chat, msg: Msg) -> Any:
    msg.edit_date = now()
    record(emu, bot, chat)
    return emu.core.render(msg, bot.id)


@method("editMessageText")
async def edit_message_text(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    chat, msg = _edit_target(emu, bot, p)
    if msg.text is None:
        raise bad("there is no text in the message to edit")
    text, entities = parse_text(p.get("text"), p.get("parse_mode"), p.get("entities"))
    markup = p.get("reply_markup")
    if (
        text == msg.text
        and (entities or None) == (msg.entities or None)
        and (markup == msg.reply_markup)
    ):
        raise bad(NOT_MODIFIED)
    limit(emu, bot, chat)
    msg.text, msg.entities, msg.reply_markup = text, entities, markup
    return _apply_edit(emu, bot, chat, msg)


@method("editMessageCaption")
async def edit_message_caption(
    emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files
) -> Any:
    chat, msg = _edit_target(emu, bot, p)
    if msg.file is None:
        raise bad("there is no caption in the message to edit")
    caption, cents = parse_text(
        p.get("caption"), p.get("parse_mode"), p.get("caption_entities"), caption=True
    )
    markup = p.get("reply_markup")
    if (
        caption == msg.caption
        and (cents or None) == (msg.caption_entities or None)
        and (markup == msg.reply_markup)
    ):
        raise bad(NOT_MODIFIED)
    limit(emu, bot, chat)
    msg.caption, msg.caption_entities, msg.reply_markup = caption, cents, markup
    return _apply_edit(emu, bot, chat, msg)


@method("editMessageReplyMarkup")
async def edit_message_reply_markup(
    emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files
) -> Any:
    chat, msg = _edit_target(emu, bot, p)
    markup = p.get("reply_markup")
    if markup == msg.reply_markup:
        raise bad(NOT_MODIFIED)
    limit(emu, bot, chat)
    msg.reply_markup = markup
    return _apply_edit(emu, bot, chat, msg)


# --- deleting & pinning ---------------------------------------------------------------------


def _can_delete(emu: Emulator, bot: BotAccount, chat: Chat, msg: Msg) -> bool:
    if msg.service == "forum_topic_created":
        return False
    if chat.type == "private" or msg.sender.id == bot.id:
        return True
    return emu.core.bot_right(chat, bot.id, "can_delete_messages")


def _delete(chat: Chat, msg: Msg) -> None:
    msg.deleted = True
    msg.pinned = False


@method("deleteMessage")
async def delete_message(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    chat = emu.chat_for_bot(bot, p.get("chat_id"))
    msg = get_msg(chat, p.get("message_id"), "message to delete not found")
    if not _can_delete(emu, bot, chat, msg):
        raise bad("message can't be deleted")
    _delete(chat, msg)
    return True


@method("deleteMessages")
async def delete_messages(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    ids = p.get("message_ids") or []
    if not ids or len(ids) > 100:
        raise bad("message_ids is invalid")
    chat = emu.chat_for_bot(bot, p.get("chat_id"))
    deleted = 0
    for mid in ids:
        msg = chat.messages.get(int(mid))
        if msg is None or msg.deleted or not _can_delete(emu, bot, chat, msg):
            continue
        _delete(chat, msg)
        deleted += 1
    if not deleted:
        raise bad("message to delete not found")
    return True


def _check_pin_rights(emu: Emulator, bot: BotAccount, chat: Chat) -> None:
    if chat.type != "private" and not emu.core.bot_right(chat, bot.id, "can_pin_messages"):
        raise bad("not enough rights to manage pinned messages in the chat")


@method("pinChatMessage")
async def pin_chat_message(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    chat = emu.chat_for_bot(bot, p.get("chat_id"))
    _check_pin_rights(emu, bot, chat)
    msg = get_msg(chat, p.get("message_id"), "message to pin not found")
    if msg.service:
        raise bad("message can't be pinned")
    msg.pinned = True
    service = new_message(
        chat,
        bot.user,
        kind="service",
        service="pinned_message",
        service_data={"message_id": msg.message_id},
        thread_id=msg.thread_id,
        is_topic_message=msg.is_topic_message,
    )
    emu.core.deliver_message(service, cause_bot_id=bot.id)
    return True


@method("unpinChatMessage")
async def unpin_chat_message(
    emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files
) -> Any:
    chat = emu.chat_for_bot(bot, p.get("chat_id"))
    _check_pin_rights(emu, bot, chat)
    if p.get("message_id") is not None:
        msg = get_msg(chat, p["message_id"], "message to unpin not found")
        msg.pinned = False
        return True
    pinned = [m for m in chat.messages.values() if m.pinned and not m.deleted]
    if pinned:
        pinned[-1].pinned = False
    return True


@method("unpinAllChatMessages")
async def unpin_all(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    chat = emu.chat_for_bot(bot, p.get("chat_id"))
    _check_pin_rights(emu, bot, chat)
    for m in chat.messages.values():
        m.pinned = False
    return True


@method("unpinAllForumTopicMessages")
async def unpin_all_topic(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    chat = emu.chat_for_bot(bot, p.get("chat_id"))
    _check_pin_rights(emu, bot, chat)
    topic = topic_or_fail(chat, p.get("message_thread_id"))
    for m in chat.messages.values():
        if m.thread_id == topic.thread_id:
            m.pinned = False
    return True


# --- callbacks, inline, reactions -----------------------------------------------------------


@method("answerCallbackQuery")
async def answer_callback_query(
    emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files
) -> Any:
    cb = emu.state.callbacks.get(str(p.get("callback_query_id")))
    if cb is None or cb["answered"] or cb["bot_id"] != bot.id:
        raise bad(QUERY_INVALID)
    if len(p.get("text") or "") > 200:
        raise bad("MESSAGE_TOO_LONG")
    cb.update(
        answered=True,
        text=p.get("text"),
        show_alert=bool(p.get("show_alert")),
        url=p.get("url"),
        cache_time=p.get("cache_time"),
    )
    return True


@method("answerInlineQuery")
async def answer_inline_query(
    emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files
) -> Any:
    q = emu.state.inline.get(str(p.get("inline_query_id")))
    if q is None or q["answered"] or q["bot_id"] != bot.id:
        raise bad(QUERY_INVALID)
    results = p.get("results") or []
    if len(results) > 50:
        raise bad("RESULTS_TOO_MUCH")
    ids = [r.get("id") for r in results]
    if len(set(ids)) != len(ids):
        raise bad("RESULT_ID_DUPLICATE")
    q.update(
        answered=True,
        results=json.loads(json.dumps(results, default=str)),
        cache_time=p.get("cache_time"),
        is_personal=p.get("is_personal"),
        next_offset=p.get("next_offset"),
        button=p.get("button"),
    )
    return True


@method("setMessageReaction")
async def set_message_reaction(
    emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files
) -> Any:
    chat = emu.chat_for_bot(bot, p.get("chat_id"))
    msg = chat.messages.get(int(p.get("message_id") or 0))
    if msg is None or msg.deleted:
        raise bad("MESSAGE_ID_INVALID")
    reaction = p.get("reaction") or []
    others = [r for r in (msg.reactions or []) if r.get("by") != bot.id]
    msg.reactions = others + [{"by": bot.id, **r} for r in reaction]
    return True


# --- files ------------------------------------------------------------------------------------


@method("getFile")
async def get_file(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    rec = emu.state.file_for_bot(bot.id, str(p.get("file_id")))
    if rec is None:
        raise bad("wrong file identifier/HTTP URL specified")
    if len(rec.data) > 20 * 1024 * 1024:
        raise bad("file is too big")
    return dump(
        t.File,
        {
            "file_id": p["file_id"],
            "file_unique_id": rec.unique_id,
            "file_size": len(rec.data),
            "file_path": rec.file_path,
        },
    )


# --- chats --------------------------------------------------------------------------------------


@method("getChat")
async def get_chat(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    chat = emu.chat_for_bot(bot, p.get("chat_id"))
    d = emu.core.chat_api(chat)
    d.update(
        accent_color_id=0,
        max_reaction_count=11,
        accepted_gift_types={
            "unlimited_gifts": False,
            "limited_gifts": False,
            "unique_gifts": False,
            "premium_subscription": False,
            "gifts_from_channels": False,
        },
    )
    if chat.type != "private":
        d["permissions"] = {
            "can_send_messages": True,
            "can_manage_topics": False,
            "can_pin_messages": False,
        }
    return dump(t.ChatFullInfo, d)


@method("getChatMember")
async def get_chat_member(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    chat = emu.chat_for_bot(bot, p.get("chat_id"))
    uid = int(p.get("user_id") or 0)
    if emu.state.user_or_bot(uid) is None:
        raise bad("PARTICIPANT_ID_INVALID")
    return emu.core.chat_member(chat, uid)


@method("getChatAdministrators")
async def get_chat_administrators(
    emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files
) -> Any:
    chat = emu.chat_for_bot(bot, p.get("chat_id"))
    if chat.type == "private":
        raise bad("there are no administrators in the private chat")
    out = [
        emu.core.chat_member(chat, uid) for uid, s in chat.members.items() if s in ADMIN_STATUSES
    ]
    out += [
        emu.core.chat_member(chat, bid) for bid, (s, _) in chat.bots.items() if s == "administrator"
    ]
    return out


@method("getChatMemberCount")
async def get_chat_member_count(
    emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files
) -> Any:
    chat = emu.chat_for_bot(bot, p.get("chat_id"))
    if chat.type == "private":
        return 2
    live = ("member", "administrator", "creator", "restricted")
    return sum(1 for s in chat.members.values() if s in live) + sum(
        1 for s, _ in chat.bots.values() if s in live
    )


@method("leaveChat")
async def leave_chat(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    chat = emu.chat_for_bot(bot, p.get("chat_id"))
    if chat.type != "private":
        chat.bots[bot.id] = ("left", {})
    return True


def _commands_key(p: dict[str, Any]) -> str:
    return json.dumps(
        [p.get("scope") or {"type": "default"}, p.get("language_code") or ""],
        sort_keys=True,
        default=str,
    )


@method("setMyCommands")
async def set_my_commands(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    cmds = p.get("commands") or []
    if len(cmds) > 100:
        raise bad("too many commands")
    for c in cmds:
        if not 1 <= len(c.get("command", "")) <= 32:
            raise bad("BOT_COMMAND_INVALID")
    bot.commands[_commands_key(p)] = cmds
    return True


@method("getMyCommands")
async def get_my_commands(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    return bot.commands.get(_commands_key(p), [])


@method("deleteMyCommands")
async def delete_my_commands(
    emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files
) -> Any:
    bot.commands.pop(_commands_key(p), None)
    return True


@method(
    "setMyDescription",
    "setMyShortDescription",
    "setMyName",
    "setChatMenuButton",
    "setMyDefaultAdministratorRights",
)
async def set_misc(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    return True


# --- forum topics ------------------------------------------------------------------------------


def _forum(emu: Emulator, bot: BotAccount, p: dict[str, Any]) -> Chat:
    chat = emu.chat_for_bot(bot, p.get("chat_id"))
    if chat.type == "private" or not chat.is_forum:
        raise bad("the chat is not a forum")
    return chat


def _check_name(name: Any) -> str:
    if not isinstance(name, str) or not 1 <= len(name) <= 128 or not name.strip():
        raise bad("TOPIC_NAME_INVALID")
    return name


def _topic_service(
    emu: Emulator,
    bot: BotAccount,
    chat: Chat,
    topic: Topic,
    service: str,
    data: dict[str, Any],
    mid: int | None = None,
) -> Msg:
    if mid is None:
        msg = new_message(
            chat,
            bot.user,
            kind="service",
            service=service,
            service_data=data,
            thread_id=topic.thread_id,
            is_topic_message=True,
        )
    else:
        msg = Msg(
            chat_id=chat.id,
            message_id=mid,
            sender=bot.user,
            date=now(),
            kind="service",
            service=service,
            service_data=data,
            thread_id=topic.thread_id,
            is_topic_message=True,
        )
        chat.messages[mid] = msg
    record(emu, bot, chat)
    emu.core.deliver_message(msg, cause_bot_id=bot.id)
    return msg


def _manage_topic(emu: Emulator, bot: BotAccount, p: dict[str, Any]) -> tuple[Chat, Topic]:
    chat = _forum(emu, bot, p)
    topic = topic_or_fail(chat, p.get("message_thread_id"))
    if not emu.core.bot_right(chat, bot.id, "can_manage_topics") and (
        topic.creator_bot_id != bot.id or emu.core.bot_status(chat, bot.id) != "administrator"
    ):
        raise bad("not enough rights to manage topics in the chat")
    return chat, topic


@method("createForumTopic")
async def create_forum_topic(
    emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files
) -> Any:
    chat = _forum(emu, bot, p)
    if not emu.core.bot_right(chat, bot.id, "can_manage_topics"):
        raise bad("not enough rights to create a topic")
    name = _check_name(p.get("name"))
    color = int(p.get("icon_color") or TOPIC_COLORS[0])
    if color not in TOPIC_COLORS:
        raise bad("invalid icon color")
    limit(emu, bot, chat)
    mid = chat.new_message_id()
    topic = Topic(
        thread_id=mid,
        name=name,
        icon_color=color,
        icon_custom_emoji_id=p.get("icon_custom_emoji_id"),
        creator_bot_id=bot.id,
    )
    chat.topics[mid] = topic
    data: dict[str, Any] = {"name": name, "icon_color": color}
    if topic.icon_custom_emoji_id:
        data["icon_custom_emoji_id"] = topic.icon_custom_emoji_id
    _topic_service(emu, bot, chat, topic, "forum_topic_created", data, mid=mid)
    return dump(t.ForumTopic, {"message_thread_id": mid, **data})


@method("editForumTopic")
async def edit_forum_topic(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    chat, topic = _manage_topic(emu, bot, p)
    data: dict[str, Any] = {}
    if "name" in p:
        name = _check_name(p["name"])
        if name != topic.name:
            data["name"] = name
    if "icon_custom_emoji_id" in p:
        emoji = p["icon_custom_emoji_id"] or None
        if emoji != topic.icon_custom_emoji_id:
            data["icon_custom_emoji_id"] = emoji or ""
    if not data:
        raise bad("TOPIC_NOT_MODIFIED")
    limit(emu, bot, chat)
    if "name" in data:
        topic.name = data["name"]
    if "icon_custom_emoji_id" in data:
        topic.icon_custom_emoji_id = data["icon_custom_emoji_id"] or None
    _topic_service(emu, bot, chat, topic, "forum_topic_edited", data)
    return True


async def _close_reopen(emu: Emulator, bot: BotAccount, p: dict[str, Any], close: bool) -> Any:
    chat, topic = _manage_topic(emu, bot, p)
    if topic.closed == close:
        raise bad("TOPIC_NOT_MODIFIED")
    limit(emu, bot, chat)
    topic.closed = close
    _topic_service(
        emu, bot, chat, topic, "forum_topic_closed" if close else "forum_topic_reopened", {}
    )
    return True


@method("closeForumTopic")
async def close_forum_topic(emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files) -> Any:
    return await _close_reopen(emu, bot, p, True)


@method("reopenForumTopic")
async def reopen_forum_topic(
    emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files
) -> Any:
    return await _close_reopen(emu, bot, p, False)


@method("deleteForumTopic")
async def delete_forum_topic(
    emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files
) -> Any:
    chat = _forum(emu, bot, p)
    topic = topic_or_fail(chat, p.get("message_thread_id"))
    if not emu.core.bot_right(chat, bot.id, "can_delete_messages"):
        raise bad("not enough rights to delete the topic")
    topic.deleted = True
    for m in chat.messages.values():
        if m.thread_id == topic.thread_id:
            _delete(chat, m)
    return True


@method("getForumTopicIconStickers")
async def get_forum_topic_icon_stickers(
    emu: Emulator, bot: BotAccount, p: dict[str, Any], files: Files
) -> Any:
    out = []
    for i, emoji in enumerate(("📰", "💡", "⚡️", "🔥", "✅", "❗️")):
        rec_id = f"icon{i}"
        out.append(
            dump(
                t.Sticker,
                {
                    "file_id": f"CAACAgIAAxUAAWZ{rec_id}",
                    "file_unique_id": f"AgAD{rec_id}",
                    "type": "custom_emoji",
                    "width": 100,
                    "height": 100,
                    "is_animated": False,
                    "is_video": False,
                    "emoji": emoji,
                    "custom_emoji_id": str(5000000000000000000 + i),
                },
            )
        )
    return out
