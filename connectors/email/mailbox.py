"""The mailbox over IMAP (aioimaplib): new mail as it arrives, none lost, none twice.

A session logs in, selects the folder and takes every mail that is new: unseen, or with a UID
after the last one taken under the same UIDVALIDITY (a person may have read it in webmail
before eadesk came to it). Each is handed to `deliver` (which stores it, raw, before it
returns) and only then marked \\Seen: a crash in between leaves it unseen, taken again at
the next start, and the store knows it by its (UIDVALIDITY, UID). Then the session waits in
IDLE for the server's word that something came; a server without IDLE is asked again every
`poll_seconds`. A dropped connection is opened again with a growing pause, and told through
`on_state` meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aioimaplib

from connectors.email.settings import ServerUrl

log = logging.getLogger(__name__)

TIMEOUT = 30.0
# IDLE is renewed this often: servers end an IDLE after 30 minutes, NATs forget sooner.
IDLE_SECONDS = 300.0
RECONNECT_MAX = 60.0

_FETCH = re.compile(rb"^\d+ FETCH \(")
_UID = re.compile(rb"UID (\d+)")
_SIZE = re.compile(rb"RFC822\.SIZE (\d+)")
_UIDVALIDITY = re.compile(rb"UIDVALIDITY (\d+)")


class MailboxError(Exception):
    """The mailbox cannot be used; the message says why in plain words."""


@dataclass(frozen=True)
class Fetched:
    uidvalidity: int
    uid: int
    raw: bytes
    size: int
    # False: the mail was larger than the limit, `raw` holds its header alone.
    complete: bool = True


Deliver = Callable[[Fetched], Awaitable[None]]
OnState = Callable[[bool, str], Awaitable[None]]
LastUid = Callable[[int], Awaitable[int | None]]


def plain_words(exc: BaseException, url: ServerUrl) -> str:
    """Why a connection failed, for a person."""
    where = f"{url.host}:{url.port}"
    # A library's own error around the system's (aiosmtplib's SMTPConnectError): the inner.
    inner = exc.__cause__ or exc.__context__
    if (
        isinstance(inner, OSError | ssl.SSLError)
        and inner is not exc
        and not isinstance(exc, MailboxError | TimeoutError)
    ):
        return plain_words(inner, url)
    if isinstance(exc, MailboxError):
        return str(exc)
    if isinstance(exc, socket.gaierror):
        return f"the server name {url.host} is not known (check the host in the URL)"
    if isinstance(exc, ConnectionRefusedError):
        return f"nothing answers at {where} (connection refused: check the host and port)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS with {where} failed ({exc.reason or exc}): check the port and the scheme"
    if isinstance(exc, TimeoutError | asyncio.TimeoutError | aioimaplib.CommandTimeout):
        return f"{where} did not answer in time"
    if isinstance(exc, OSError):
        return f"cannot reach {where} ({exc.strerror or exc})"
    return f"{where}: {type(exc).__name__}: {exc}"


class ImapSession:
    """One logged-in connection with the folder selected."""

    def __init__(self, url: ServerUrl) -> None:
        self.url = url
        self.lost = asyncio.Event()
        self.client: aioimaplib.IMAP4 | None = None
        self.capabilities: set[str] = set()
        self.uidvalidity = 0

    @property
    def imap(self) -> aioimaplib.IMAP4:
        assert self.client is not None
        return self.client

    async def open(self) -> None:
        url = self.url

        def lost(exc: Exception | None) -> None:
            self.lost.set()

        if url.tls:
            self.client = aioimaplib.IMAP4_SSL(url.host, url.port, timeout=TIMEOUT)
            self.client.protocol.conn_lost_cb = lost
        else:
            self.client = aioimaplib.IMAP4(url.host, url.port, timeout=TIMEOUT, conn_lost_cb=lost)
        await self.imap.wait_hello_from_server()
        self.capabilities = set(self.imap.protocol.capabilities)
        if not url.tls:
            if "STARTTLS" in self.capabilities:
                await self._starttls()
            elif not url.loopback:
                raise MailboxError(
                    f"{url.host}:{url.port} offers no STARTTLS, and eadesk sends a password "
                    "in plain text only to this machine: use imaps:// (port 993)"
                )
        response = await self.imap.login(aioimaplib.quoted(url.user), url.password)
        if response.result != "OK":
            said = _said(response.lines)
            raise MailboxError(
                f"{url.host} refused the login of {url.user!r} ({said}): check the user and "
                "the password (Gmail, Yandex and Mail.ru need an app password)"
            )
        for line in response.lines:
            text = line.decode(errors="replace") if isinstance(line, bytes | bytearray) else ""
            if text.startswith("CAPABILITY ") or "[CAPABILITY " in text:
                words = text.split("CAPABILITY ", 1)[1].rstrip("]").split()
                self.capabilities = {w.rstrip("]") for w in words}
        response = await self.imap.select(_mailbox_name(url.folder))
        if response.result != "OK":
            raise MailboxError(
                f"the folder {url.folder!r} cannot be opened on {url.host} "
                f"({_said(response.lines)}): check the folder at the end of the URL"
            )
        for line in response.lines:
            found = _UIDVALIDITY.search(bytes(line))
            if found:
                self.uidvalidity = int(found.group(1))

    async def _starttls(self) -> None:
        protocol = self.imap.protocol
        # aioimaplib knows the command but does not switch the connection: done here.
        command = aioimaplib.Command("STARTTLS", protocol.new_tag(), loop=protocol.loop)
        async with asyncio.timeout(TIMEOUT):
            response = await protocol.execute(command)
        if response.result != "OK":
            raise MailboxError(f"{self.url.host} refused STARTTLS ({_said(response.lines)})")
        loop = asyncio.get_running_loop()
        context = ssl.create_default_context()
        transport = await loop.start_tls(
            protocol.transport, protocol, context, server_hostname=self.url.host
        )
        protocol.transport = transport
        async with asyncio.timeout(TIMEOUT):
            await protocol.capability()
        self.capabilities = set(protocol.capabilities)

    @property
    def idle(self) -> bool:
        return "IDLE" in self.capabilities

    async def new_uids(self, after: int | None) -> list[int]:
        """Unseen mail, and mail after UID `after` (seen or not), in UID order."""
        found: set[int] = set()
        response = await self.imap.uid_search("UNSEEN", charset=None)
        found.update(_numbers(response.lines))
        if after is not None:
            response = await self.imap.uid_search(f"UID {after + 1}:*", charset=None)
            found.update(uid for uid in _numbers(response.lines) if uid > after)
        return sorted(found)

    async def sizes(self, uids: list[int]) -> dict[int, int]:
        if not uids:
            return {}
        response = await self.imap.uid("fetch", _set(uids), "(UID RFC822.SIZE)")
        sizes = {}
        for line in response.lines:
            if isinstance(line, bytes) and _FETCH.match(line):
                uid, size = _UID.search(line), _SIZE.search(line)
                if uid and size:
                    sizes[int(uid.group(1))] = int(size.group(1))
        return sizes

    async def fetch(self, uid: int, part: str = "BODY.PEEK[]") -> bytes | None:
        """The mail's bytes (not marking it seen); None when it is gone."""
        response = await self.imap.uid("fetch", str(uid), f"(UID {part})")
        if response.result != "OK":
            raise MailboxError(f"fetching mail {uid} failed ({_said(response.lines)})")
        pending = False
        for line in response.lines:
            if isinstance(line, bytes) and _FETCH.match(line):
                found = _UID.search(line)
                pending = bool(found and int(found.group(1)) == uid)
            elif isinstance(line, bytearray) and pending:
                return bytes(line)
        return None

    async def seen(self, uid: int) -> None:
        response = await self.imap.uid("store", str(uid), "+FLAGS.SILENT (\\Seen)")
        if response.result != "OK":
            raise MailboxError(f"marking mail {uid} read failed ({_said(response.lines)})")

    async def wait(self, seconds: float, stopping: asyncio.Event) -> None:
        """Until the server says something came (IDLE), `seconds` passed, the connection
        dropped or the mailbox stops."""
        if not self.idle:
            await _first(self.lost.wait(), stopping.wait(), timeout=seconds)
            if self.lost.is_set():
                raise ConnectionError("the connection dropped")
            await self.imap.noop()
            return
        idle = await self._idle_start(seconds + 60)
        try:
            await _first(
                self.imap.wait_server_push(timeout=seconds + 30),
                self.lost.wait(),
                stopping.wait(),
                timeout=seconds,
            )
        finally:
            if not self.lost.is_set() and self.imap.has_pending_idle():
                self.imap.idle_done()
                # A server that said BYE closes the connection instead of ending IDLE.
                with contextlib.suppress(Exception):
                    await _first(idle, self.lost.wait(), timeout=TIMEOUT)
        if self.lost.is_set():
            raise ConnectionError("the connection dropped")

    async def _idle_start(self, seconds: float) -> Any:
        """IDLE begun (the server's continuation came); a connection that dropped before or
        meanwhile is told at once, not after the client's whole timeout."""
        if self.lost.is_set():
            raise ConnectionError("the connection dropped")
        start = asyncio.ensure_future(self.imap.idle_start(timeout=seconds))
        lost = asyncio.ensure_future(self.lost.wait())
        try:
            await asyncio.wait({start, lost}, timeout=TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
        if not start.done():
            start.cancel()
            with contextlib.suppress(BaseException):
                await start
            if self.lost.is_set():
                raise ConnectionError("the connection dropped")
            raise TimeoutError("the server did not begin IDLE")
        return start.result()

    async def close(self) -> None:
        if self.client is None:
            return
        with contextlib.suppress(Exception):
            if not self.lost.is_set():
                await asyncio.wait_for(self.imap.logout(), 5)
        transport = getattr(self.imap.protocol, "transport", None)
        if transport is not None:
            transport.close()
        self.client = None


class Mailbox:
    """The folder watched for as long as it runs (`run`, until `stop`)."""

    def __init__(
        self,
        url: ServerUrl,
        deliver: Deliver,
        *,
        last_uid: LastUid,
        on_state: OnState,
        poll_seconds: float = 60.0,
        idle_seconds: float = IDLE_SECONDS,
        max_size: int | None = None,
    ) -> None:
        self.url = url
        self.deliver = deliver
        self.last_uid = last_uid
        self.on_state = on_state
        self.poll_seconds = poll_seconds
        self.idle_seconds = idle_seconds
        self.max_size = max_size
        self.stopping = asyncio.Event()
        self.session: ImapSession | None = None
        # How many times a session was opened (tests: the mailbox came back after a drop).
        self.sessions = 0
        self.idle: bool | None = None

    async def run(self) -> None:
        pause = 1.0
        while not self.stopping.is_set():
            session = ImapSession(self.url)
            self.session = session
            try:
                await session.open()
                self.sessions += 1
                self.idle = session.idle
                pause = 1.0
                await self.on_state(True, "")
                while not self.stopping.is_set():
                    # Until a look finds nothing: what came during a round was announced in
                    # that round's answers, and IDLE announces only what comes after it.
                    while await self.take_new(session) and not self.stopping.is_set():
                        pass
                    seconds = self.idle_seconds if session.idle else self.poll_seconds
                    await session.wait(seconds, self.stopping)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if self.stopping.is_set():
                    break
                why = plain_words(exc, self.url)
                log.warning("e-mail (IMAP %s): %s; again in %d s", self.url.shown, why, pause)
                with contextlib.suppress(Exception):
                    await self.on_state(False, why)
                await _first(self.stopping.wait(), timeout=pause)
                pause = min(pause * 2, RECONNECT_MAX, max(self.poll_seconds, 1.0))
            finally:
                await session.close()

    async def take_new(self, session: ImapSession) -> int:
        """Every new mail handed over, then marked seen; how many."""
        uids = await session.new_uids(await self.last_uid(session.uidvalidity))
        sizes = await session.sizes(uids)
        taken = 0
        for uid in uids:
            if self.stopping.is_set():
                break
            size = sizes.get(uid, 0)
            complete = self.max_size is None or size <= self.max_size
            raw = await session.fetch(uid, "BODY.PEEK[]" if complete else "BODY.PEEK[HEADER]")
            if raw is None:
                continue  # expunged meanwhile
            await self.deliver(Fetched(session.uidvalidity, uid, raw, size or len(raw), complete))
            await session.seen(uid)
            taken += 1
        return taken

    async def stop(self) -> None:
        self.stopping.set()


async def check(url: ServerUrl) -> list[str]:
    """For `check`: log in, open the folder, ask for IDLE; what fails, in plain words."""
    session = ImapSession(url)
    try:
        await session.open()
    except Exception as exc:
        return [f"the mailbox cannot be read over IMAP at {url.shown}: {plain_words(exc, url)}"]
    finally:
        await session.close()
    if not session.idle:
        return [
            f"the IMAP server {url.host} has no IDLE: new mail is seen only when eadesk looks "
            "(every EMAIL_POLL_SECONDS), not at once"
        ]
    return []


async def _first(*waits: Awaitable[Any], timeout: float) -> None:  # noqa: ASYNC109
    """Until the first of `waits` is done, or `timeout` seconds; the others are cancelled."""
    tasks = [asyncio.ensure_future(w) for w in waits]
    try:
        done, _ = await asyncio.wait(tasks, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                exc = task.exception()
                if not isinstance(exc, TimeoutError | asyncio.TimeoutError):
                    raise exc  # type: ignore[misc]
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task


def _numbers(lines: list[Any]) -> list[int]:
    found: list[int] = []
    for line in lines:
        text = bytes(line).decode(errors="replace")
        if text.startswith("SEARCH"):
            text = text[len("SEARCH") :]
        parts = text.split()
        if parts and all(p.isdigit() for p in parts):
            found.extend(int(p) for p in parts)
    return found


def _set(uids: list[int]) -> str:
    return ",".join(str(uid) for uid in uids)


def _said(lines: list[Any]) -> str:
    texts = [bytes(line).decode(errors="replace") for line in lines if line]
    return texts[-1] if texts else "no reason given"


def _mailbox_name(folder: str) -> str:
    if re.fullmatch(r"[A-Za-z0-9_.\-/]+", folder):
        return folder
    return aioimaplib.quoted(folder)
