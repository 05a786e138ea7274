"""Editing a client: the name, the description, the contacts (each normalised as its kind writes
it, so that one person has one contact), and merging two clients who are one person.

A merge moves the rows (contacts, dialogs, tasks) of the client that goes to the client that
stays, in one transaction, and marks the gone one `merged_into` the remaining one: old
references (a button, a history's snapshot) still resolve through core.history.root_client,
and a history reads each message once (a message belongs to one dialog, and dialogs move).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core import eventlog
from core.context import CoreContext
from core.events import ClientChanged, CoreEvent
from core.history import root_client
from core.models import Client, Contact, ContactKind, Dialog, Message, Operator, Task

NAME_LIMIT = 255
DESCRIPTION_LIMIT = 2000
# What an operator may add by hand (a web chat's visitor key is the channel's own).
EDITABLE_KINDS = (
    ContactKind.PHONE,
    ContactKind.EMAIL,
    ContactKind.TELEGRAM,
    ContactKind.WHATSAPP,
    ContactKind.INSTAGRAM,
    ContactKind.VK,
)
KIND_WORDS: dict[str, ContactKind] = {
    **{kind.value: kind for kind in EDITABLE_KINDS},
    "tg": ContactKind.TELEGRAM,
    "mail": ContactKind.EMAIL,
    "e-mail": ContactKind.EMAIL,
    "wa": ContactKind.WHATSAPP,
    "ig": ContactKind.INSTAGRAM,
    "tel": ContactKind.PHONE,
}

TELEGRAM_USERNAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{3,31}")
TELEGRAM_ID = re.compile(r"[1-9][0-9]{0,15}")
INSTAGRAM_NAME = re.compile(r"[A-Za-z0-9._]{1,30}")
VK_NAME = re.compile(r"[A-Za-z0-9_.]{2,32}")
URL_PREFIXES = {
    ContactKind.TELEGRAM: ("https://t.me/", "http://t.me/", "t.me/"),
    ContactKind.INSTAGRAM: (
        "https://www.instagram.com/",
        "https://instagram.com/",
        "instagram.com/",
    ),
    ContactKind.VK: ("https://vk.com/", "http://vk.com/", "vk.com/", "https://m.vk.com/"),
}

ContactProblem = Literal["kind", "form"]
MergeProblem = Literal["same", "unknown"]


class ContactError(ValueError):
    """A contact that cannot be: an unknown kind ("kind"), or a value not of its kind's form
    ("form"; `kind` says which form was expected)."""

    def __init__(self, reason: ContactProblem, kind: ContactKind | None = None) -> None:
        super().__init__(reason)
        self.reason: ContactProblem = reason
        self.kind = kind


class MergeError(ValueError):
    """A merge that cannot be: the client with itself ("same"), or no such client ("unknown")."""

    def __init__(self, reason: MergeProblem) -> None:
        super().__init__(reason)
        self.reason: MergeProblem = reason


@dataclass(frozen=True)
class Normalised:
    kind: ContactKind
    value: str  # as the contact stores it (and its channel writes it)
    display: str = ""


def contact_kind(word: str) -> ContactKind:
    kind = KIND_WORDS.get(word.strip().lower())
    if kind is None:
        raise ContactError("kind")
    return kind


def _phone(value: str, region: str | None, kind: ContactKind) -> str:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise ContactError("form", kind) from None
    if not phonenumbers.is_valid_number(number):
        raise ContactError("form", kind)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _name(value: str, kind: ContactKind, pattern: re.Pattern[str]) -> str:
    for prefix in URL_PREFIXES.get(kind, ()):
        if value.lower().startswith(prefix):
            value = value[len(prefix) :].strip("/")
            break
    value = value.removeprefix("@")
    if not pattern.fullmatch(value):
        raise ContactError("form", kind)
    return value.lower()


def normalise(kind: ContactKind | str, value: str, region: str | None = None) -> Normalised:
    """A contact as it is stored: phones (and WhatsApp numbers) in E.164 — without a leading +
    they are read as numbers of `region` (None: a + is required); e-mail addresses checked by
    email-validator (no DNS) and lower-cased, as the e-mail channel writes them; a Telegram
    @username (kept as "@name") or numeric user id; Instagram and VK names (a profile link
    works too) lower-cased. ContactError when it is not of its kind's form."""
    if not isinstance(kind, ContactKind):
        kind = contact_kind(kind)
    if kind not in EDITABLE_KINDS:
        raise ContactError("kind")
    value = value.strip()
    if not value:
        raise ContactError("form", kind)
    if kind in (ContactKind.PHONE, ContactKind.WHATSAPP):
        return Normalised(kind, _phone(value, region, kind))
    if kind is ContactKind.EMAIL:
        try:
            checked = validate_email(value, check_deliverability=False)
        except EmailNotValidError:
            raise ContactError("form", kind) from None
        return Normalised(kind, checked.normalized.lower())
    if kind is ContactKind.TELEGRAM:
        if TELEGRAM_ID.fullmatch(value):
            return Normalised(kind, value)
        name = _name(value, kind, TELEGRAM_USERNAME)
        return Normalised(kind, f"@{name}", f"@{name}")
    pattern = INSTAGRAM_NAME if kind is ContactKind.INSTAGRAM else VK_NAME
    return Normalised(kind, _name(value, kind, pattern))


async def find_contact(contact: Normalised) -> Contact | None:
    """The stored contact this is. A Telegram @username is also found as the display name of
    the numeric id the Telegram channel stores (a client who wrote with that username)."""
    found = await Contact.get_or_none(kind=contact.kind, value=contact.value)
    if found is None and contact.kind is ContactKind.TELEGRAM and contact.display:
        found = (
            await Contact.filter(kind=contact.kind, display__iexact=contact.display)
            .order_by("id")
            .first()
        )
    return found


@dataclass(frozen=True)
class ContactAdded:
    """What `add_contact` did: `added` a new contact; or it is the client's already; or it is
    `elsewhere`'s, another client (a merge is offered instead: nothing changed)."""

    contact: Contact
    added: bool = False
    elsewhere: Client | None = None


class ClientService:
    def __init__(self, ctx: CoreContext) -> None:
        self.ctx = ctx

    async def _changed(self, events: list[CoreEvent]) -> list[CoreEvent]:
        return await self.ctx.bus.changed(events)

    async def _first_dialog(self, client_id: int) -> Dialog | None:
        return await Dialog.filter(client_id=client_id).order_by("-last_message_at").first()

    async def rename(
        self, client_id: int, name: str, actor: Operator, dialog: Dialog | None = None
    ) -> tuple[Client, bool]:
        """ValueError for an empty name; whether it changed."""
        name = " ".join(name.split())[:NAME_LIMIT]
        if not name:
            raise ValueError("empty name")
        return await self._set(client_id, "name", name, actor, dialog)

    async def describe(
        self, client_id: int, text: str, actor: Operator, dialog: Dialog | None = None
    ) -> tuple[Client, bool]:
        """The description ("" clears it); whether it changed."""
        return await self._set(
            client_id, "description", text.strip()[:DESCRIPTION_LIMIT], actor, dialog
        )

    async def _set(
        self, client_id: int, field: str, value: str, actor: Operator, dialog: Dialog | None
    ) -> tuple[Client, bool]:
        now = self.ctx.clock.now()
        async with in_transaction():
            client = await Client.select_for_update().get(id=await root_client(client_id))
            before = getattr(client, field)
            if before == value:
                return client, False
            setattr(client, field, value)
            await client.save(update_fields=[field])
            await eventlog.record(
                f"client.{'renamed' if field == 'name' else 'described'}",
                at=now,
                dialog=dialog,
                actor=actor,
                client_id=client.id,
                before=before[:200],
                after=value[:200],
            )
            # A new name shows in the titles of the client's topics too.
            changed = ClientChanged(
                client_id=client.id, actor_id=actor.id, at=now, data={"titles": field == "name"}
            )
            events = await self._changed([changed])
        await self.ctx.bus.publish_all(events)
        return client, True

    async def add_contact(
        self,
        client_id: int,
        contact: Normalised,
        actor: Operator,
        dialog: Dialog | None = None,
    ) -> ContactAdded:
        try:
            return await self._add_contact(client_id, contact, actor, dialog)
        except IntegrityError:
            # The same contact came in at the same moment (its client wrote): it is found now.
            return await self._add_contact(client_id, contact, actor, dialog)

    async def _add_contact(
        self, client_id: int, contact: Normalised, actor: Operator, dialog: Dialog | None
    ) -> ContactAdded:
        now = self.ctx.clock.now()
        client_id = await root_client(client_id)
        async with in_transaction():
            found = await find_contact(contact)
            if found is not None:
                owner = await root_client(found.client_id)  # type: ignore[attr-defined]
                if owner == client_id:
                    return ContactAdded(found)
                return ContactAdded(found, elsewhere=await Client.get(id=owner))
            row = await Contact.create(
                client_id=client_id,
                kind=contact.kind,
                value=contact.value,
                display=contact.display,
                created_at=now,
            )
            await eventlog.record(
                "client.contact_added",
                at=now,
                dialog=dialog,
                actor=actor,
                client_id=client_id,
                kind=contact.kind.value,
                value=contact.value,
            )
            events = await self._changed(
                [ClientChanged(client_id=client_id, actor_id=actor.id, at=now)]
            )
        await self.ctx.bus.publish_all(events)
        return ContactAdded(row, added=True)

    async def remove_contact(
        self,
        client_id: int,
        contact: Normalised,
        actor: Operator,
        dialog: Dialog | None = None,
    ) -> Literal["removed", "missing", "in_use"]:
        """ "missing": not this client's; "in_use": messages came from it (it is how the client
        writes on a channel: taking it away would make their next message a stranger's)."""
        now = self.ctx.clock.now()
        client_id = await root_client(client_id)
        async with in_transaction():
            found = await find_contact(contact)
            if found is None or await root_client(found.client_id) != client_id:  # type: ignore[attr-defined]
                return "missing"
            if await Message.filter(sender_contact_id=found.id).exists():
                return "in_use"
            await found.delete()
            await eventlog.record(
                "client.contact_removed",
                at=now,
                dialog=dialog,
                actor=actor,
                client_id=client_id,
                kind=found.kind.value,
                value=found.value,
            )
            events = await self._changed(
                [ClientChanged(client_id=client_id, actor_id=actor.id, at=now)]
            )
        await self.ctx.bus.publish_all(events)
        return "removed"

    async def merge(
        self, keep_id: int, gone_id: int, actor: Operator, dialog: Dialog | None = None
    ) -> Client:
        """`gone_id` becomes part of `keep_id` (each as merged so far: their roots): its
        contacts, dialogs and tasks move, the clients merged into it before follow, and it is
        kept, marked merged into the remaining one. The remaining client, as it is now.
        MergeError: the same client, or one that does not exist."""
        now = self.ctx.clock.now()
        async with in_transaction():
            if not await Client.exists(id=keep_id) or not await Client.exists(id=gone_id):
                raise MergeError("unknown")
            keep_id, gone_id = await root_client(keep_id), await root_client(gone_id)
            if keep_id == gone_id:
                raise MergeError("same")
            # Locked in id order: two merges of the same pair the other way round wait.
            locked = {
                c.id: c
                for c in await Client.filter(id__in=sorted((keep_id, gone_id)))
                .select_for_update()
                .order_by("id")
            }
            keep, gone = locked[keep_id], locked[gone_id]
            contacts = await Contact.filter(client_id=gone_id).update(client_id=keep_id)
            dialogs = await Dialog.filter(client_id=gone_id).update(client_id=keep_id)
            tasks = await Task.filter(client_id=gone_id).update(client_id=keep_id)
            await Client.filter(merged_into_id=gone_id).update(merged_into_id=keep_id)
            gone.merged_into_id = keep_id
            await gone.save(update_fields=["merged_into_id"])
            if gone.description and gone.description not in keep.description:
                keep.description = "\n".join(
                    part for part in (keep.description, gone.description) if part
                )[:DESCRIPTION_LIMIT]
                await keep.save(update_fields=["description"])
            await eventlog.record(
                "client.merged",
                at=now,
                dialog=dialog,
                actor=actor,
                client_id=keep_id,
                merged_id=gone_id,
                merged_name=gone.name,
                contacts=contacts,
                dialogs=dialogs,
                tasks=tasks,
            )
            events = await self._changed(
                [
                    # The dialogs that moved are titled with the remaining one's name now.
                    ClientChanged(
                        client_id=keep_id, actor_id=actor.id, at=now, data={"titles": True}
                    ),
                    ClientChanged(client_id=gone_id, actor_id=actor.id, at=now),
                ]
            )
        await self.ctx.bus.publish_all(events)
        return keep
