"""Who each browser is, and what we know of them between their messages: their token, the
page they are on, when a tab of theirs was last open, the e-mail they left."""

from __future__ import annotations

import time
from typing import Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from connectors.webchat.identity import Tokens, Visitor
from connectors.webchat.wire import Problem, contact_key
from core.clock import Clock
from core.models import Client, Contact, ContactKind


class Visitors:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.tokens: Tokens | None = None
        # The page each visitor is on, as their last session or message told it.
        self.pages: dict[str, dict[str, str]] = {}
        # When each visitor was last connected (monotonic seconds), for the e-mail of replies.
        self.seen: dict[str, float] = {}
        self.started = time.monotonic()

    def token_keeper(self) -> Tokens:
        if self.tokens is None:
            raise RuntimeError("the website chat is not started")
        return self.tokens

    def read(self, token: Any) -> Visitor:
        """The visitor a request's token names; 401 when it names nobody."""
        visitor = self.token_keeper().read(token if isinstance(token, str) else None)
        if visitor is None:
            raise Problem(401, "token")
        return visitor

    def saw(self, key: str) -> None:
        self.seen[key] = time.monotonic()

    def away_for(self, key: str) -> float:
        """Seconds since a tab of the visitor was last open (or since eadesk started)."""
        return time.monotonic() - max(self.seen.get(key, 0.0), self.started)

    async def known_email(self, key: str) -> str:
        """The e-mail the visitor left (kept on their contact), "" when none."""
        contact = await Contact.get_or_none(kind=ContactKind.WEBCHAT, value=contact_key(key))
        return contact.display if contact is not None and "@" in contact.display else ""

    async def keep_email(self, visitor: Visitor, address: str) -> None:
        """Kept at once on the visitor's contact (made now when they have not written yet), so
        that a restart before their first message forgets nothing."""
        value = contact_key(visitor.key)
        contact = await Contact.get_or_none(kind=ContactKind.WEBCHAT, value=value)
        if contact is not None:
            if contact.display != address:
                contact.display = address
                await contact.save(update_fields=["display"])
            return
        now = self.clock.now()
        # A user the site vouched for joins their client of that address, as their first
        # message would have.
        known = None
        if visitor.verified:
            known = await Contact.get_or_none(kind=ContactKind.EMAIL, value=address.lower())
        try:
            async with in_transaction():
                if known is not None:
                    client_id = known.client_id  # type: ignore[attr-defined]
                else:
                    client_id = (
                        await Client.create(name=visitor.name or address, created_at=now)
                    ).id
                await Contact.create(
                    client_id=client_id,
                    kind=ContactKind.WEBCHAT,
                    value=value,
                    display=address,
                    created_at=now,
                )
        except IntegrityError:  # made meanwhile (their first message, another tab)
            await Contact.filter(kind=ContactKind.WEBCHAT, value=value).update(display=address)
