"""The sandbox's web page at `/`: the emulated Telegram as a support lead would see it.

`add_web_routes(app, emulator)` adds to the sandbox's HTTP server:

- `GET /` — the page (static/index.html; its script and styles under `/sandbox/static/`);
- `GET /sandbox/api/overview` — what the chat list shows: the team group with its topics,
  the operators' private chats with the bot, the clients;
- `GET /sandbox/api/chat?chat_id=&thread_id=` (a group, `thread_id` a topic or `general`) or
  `?user_id=` (that user's private chat with the bot) — the messages of one chat as the
  emulator's control API shows them, plus what a page needs: sender names, the quoted line
  of a replied message, a file's URL, reaction counts;
- `GET /sandbox/readme` — README.md as a plain page, so that the sandbox badge's link to
  "Preparing Telegram" works offline.

The page is live through the emulator's `GET /_emu/events` (Server-Sent Events); it writes
through the control API (`POST /_emu/messages`, `/_emu/callbacks`, `/_emu/users`) and reads
files through `GET /_emu/files/<file_unique_id>`.
"""

from __future__ import annotations

import html
import re
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from sandbox.emulator.server import Emulator
    from sandbox.emulator.state import Chat, Msg, State, User

STATIC = Path(__file__).with_name("static")
README = Path(__file__).resolve().parents[2] / "README.md"
GONE = ("left", "kicked")
PREVIEW = 120  # characters of a message shown in the chat list and in quotes
UNREAD_IDS = 200  # newest message ids per chat sent for the page's unread counts


def add_web_routes(app: web.Application, emulator: Emulator) -> None:
    """Serve the sandbox's page and its read-only views of the emulator's state on `app`."""
    page = SandboxPage(emulator)
    app.router.add_get("/", page.index)
    app.router.add_get("/sandbox/api/overview", page.overview)
    app.router.add_get("/sandbox/api/chat", page.chat)
    app.router.add_get("/sandbox/readme", page.readme)
    app.router.add_static("/sandbox/static/", STATIC)


def full_name(user: User | None) -> str:
    if user is None:
        return "?"
    return " ".join(part for part in (user.first_name, user.last_name) if part) or "?"


def preview(msg: Msg) -> str:
    text = msg.text if msg.text is not None else (msg.caption or "")
    return " ".join(text.split())[:PREVIEW]


class SandboxPage:
    def __init__(self, emulator: Emulator) -> None:
        self.emu = emulator

    @property
    def st(self) -> State:
        return self.emu.state  # replaced on reset: always read it afresh

    # --- who is who ---------------------------------------------------------------------
    def team(self) -> Chat | None:
        """The team group: the first forum with a bot administrator (the sandbox has one)."""
        forums = [c for c in self.st.groups.values() if c.is_forum]
        for chat in forums:
            if any(status == "administrator" for status, _ in chat.bots.values()):
                return chat
        return forums[0] if forums else None

    def bot(self, team: Chat | None) -> Any:
        if team is not None:
            for bot_id, (status, _) in team.bots.items():
                found = self.st.bot_by_id(bot_id)
                if found is not None and status == "administrator":
                    return found
        bots = sorted(self.st.bots.values(), key=lambda b: b.registered_at)
        return bots[0] if bots else None

    # --- views --------------------------------------------------------------------------
    def summary(self, msgs: list[Msg]) -> dict[str, Any]:
        shown = sorted((m for m in msgs if not m.deleted), key=lambda m: m.message_id)
        talk = [m for m in shown if not m.service]
        last = talk[-1] if talk else None
        return {
            "last_id": shown[-1].message_id if shown else 0,
            "ids": [m.message_id for m in talk][-UNREAD_IDS:],
            "last": None
            if last is None
            else {
                "from_name": full_name(last.sender),
                "from_id": last.sender.id,
                "is_bot": last.sender.is_bot,
                "text": preview(last),
                "kind": last.kind,
                "date": last.date,
            },
        }

    def private_msgs(self, user_id: int, bot: Any) -> list[Msg]:
        chat = self.st.private.get((user_id, bot.id)) if bot is not None else None
        return list(chat.messages.values()) if chat is not None else []

    async def overview(self, request: web.Request) -> web.Response:
        team = self.team()
        bot = self.bot(team)
        members = team.members if team is not None else {}
        operators = [
            self.st.users[uid]
            for uid, status in members.items()
            if status not in GONE and uid in self.st.users
        ]
        clients = [u for uid, u in self.st.users.items() if uid not in members]
        body: dict[str, Any] = {
            "bot": None
            if bot is None
            else {"id": bot.id, "username": bot.user.username, "name": full_name(bot.user)},
            "team": None,
            "operators": [
                {"id": u.id, "name": full_name(u), **self.summary(self.private_msgs(u.id, bot))}
                for u in operators
            ],
            "clients": [
                {"id": u.id, "name": full_name(u), **self.summary(self.private_msgs(u.id, bot))}
                for u in clients
            ],
        }
        if team is not None:
            msgs = list(team.messages.values())
            topics = []
            for topic in team.topics.values():
                if topic.deleted:
                    continue
                inside = [m for m in msgs if m.is_topic_message and m.thread_id == topic.thread_id]
                topics.append({**topic.control(), **self.summary(inside)})
            topics.sort(key=lambda x: -int(x["last_id"]))
            general = [m for m in msgs if not m.is_topic_message]
            body["team"] = {
                "chat_id": team.id,
                "title": team.title,
                "admins": [u for u, s in team.members.items() if s in ("administrator", "creator")],
                "general": self.summary(general),
                "topics": topics,
            }
        return web.json_response(body)

    def message_view(self, chat: Chat, msg: Msg) -> dict[str, Any]:
        view: dict[str, Any] = self.emu.core.control_view(msg)
        view["from_name"] = full_name(msg.sender)
        view["file_url"] = f"/_emu/files/{msg.file.unique_id}" if msg.file else None
        counts = Counter(
            r.get("emoji") or r.get("custom_emoji_id") or "?" for r in (msg.reactions or [])
        )
        view["reaction_counts"] = [{"emoji": e, "count": n} for e, n in counts.items()]
        target = chat.messages.get(msg.reply_to) if msg.reply_to is not None else None
        view["reply"] = None
        if target is not None and not target.deleted and not target.service:
            view["reply"] = {
                "message_id": target.message_id,
                "from_name": full_name(target.sender),
                "text": preview(target) or target.kind,
            }
        if msg.service == "pinned_message":
            pinned = chat.messages.get(int((msg.service_data or {}).get("message_id") or 0))
            view["pinned_text"] = preview(pinned) if pinned is not None else ""
        return view

    async def chat(self, request: web.Request) -> web.Response:
        query = request.query
        chat: Chat | None
        try:
            if query.get("user_id"):
                bot = self.bot(self.team())
                key = (int(query["user_id"]), bot.id if bot is not None else 0)
                chat = self.st.private.get(key)
                msgs = list(chat.messages.values()) if chat is not None else []
            else:
                chat = self.st.groups.get(int(query.get("chat_id", "")))
                thread = query.get("thread_id") or "general"
                msgs = list(chat.messages.values()) if chat is not None else []
                if thread == "general":
                    msgs = [m for m in msgs if not m.is_topic_message]
                else:
                    msgs = [m for m in msgs if m.is_topic_message and m.thread_id == int(thread)]
        except ValueError:
            raise web.HTTPBadRequest(text="chat_id, thread_id, user_id: numbers") from None
        shown = sorted((m for m in msgs if not m.deleted), key=lambda m: m.message_id)
        views = [self.message_view(chat, m) for m in shown] if chat is not None else []
        return web.json_response(
            {
                "messages": views,
                "pinned": [v["message_id"] for v in views if v["pinned"]],
            }
        )

    # --- static -------------------------------------------------------------------------
    async def index(self, request: web.Request) -> web.FileResponse:
        return web.FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    async def readme(self, request: web.Request) -> web.Response:
        try:
            text = README.read_text(encoding="utf-8")
        except OSError:
            text = "# README\n\nSee README.md of eadesk, section *Preparing Telegram*."
        page = (
            '<!doctype html><html><head><meta charset="utf-8"><title>eadesk — README</title>'
            '<link rel="stylesheet" href="/sandbox/static/app.css"></head>'
            f'<body class="readme"><p><a href="/">← sandbox</a></p>{markdown(text)}</body></html>'
        )
        return web.Response(text=page, content_type="text/html")


# --- README as HTML: a small, safe subset of Markdown (everything is escaped first) ---------
INLINE = (
    (re.compile(r"`([^`]+)`"), r"<code>\1</code>"),
    (re.compile(r"\*\*([^*]+)\*\*"), r"<b>\1</b>"),
    (re.compile(r"(?<![*\w])\*([^*\s][^*]*)\*(?![*\w])"), r"<i>\1</i>"),
    (re.compile(r"\[([^\]]+)\]\(((?:https?://|#)[^)\s]*)\)"), r'<a href="\2">\1</a>'),
)


def slug(title: str) -> str:
    """GitHub's anchor for a heading: `## Preparing Telegram` → `preparing-telegram`."""
    plain = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return plain.replace(" ", "-")


def inline(text: str) -> str:
    out = html.escape(text)
    for pattern, repl in INLINE:
        out = pattern.sub(repl, out)
    return out


def markdown(text: str) -> str:
    parts: list[str] = []
    para: list[str] = []
    fence: list[str] | None = None

    def flush() -> None:
        if para:
            parts.append("<p>" + inline(" ".join(para)) + "</p>")
            para.clear()

    for line in text.splitlines():
        if fence is not None:
            if line.startswith("```"):
                parts.append("<pre>" + html.escape("\n".join(fence)) + "</pre>")
                fence = None
            else:
                fence.append(line)
            continue
        heading = re.match(r"(#{1,6})\s+(.*)", line)
        item = re.match(r"\s*([-*]|\d+\.)\s+(.*)", line)
        if line.startswith("```"):
            flush()
            fence = []
        elif heading:
            flush()
            level, title = len(heading.group(1)), heading.group(2)
            parts.append(f'<h{level} id="{slug(title)}">{inline(title)}</h{level}>')
        elif item:
            flush()
            marker = item.group(1) if item.group(1)[0].isdigit() else "•"
            para.append(f"{marker} {item.group(2)}")  # its indented lines continue it
        elif line.startswith("|"):
            flush()
            parts.append("<pre>" + html.escape(line) + "</pre>")
        elif not line.strip():
            flush()
        else:
            para.append(line.strip())
    flush()
    if fence is not None:
        parts.append("<pre>" + html.escape("\n".join(fence)) + "</pre>")
    return "\n".join(parts)
