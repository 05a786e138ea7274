"""A dialog's participants: the sender and everyone an inbound message names (e-mail To/Cc, a
client group's members), each a contact of a client; unknown people become new clients."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from tortoise import Tortoise
from tortoise.backends.base import executor
from tortoise.migrations.api import migrate

from bot.storage import EXTRA_APPS
from core.channels import Participant
from core.clock import FrozenClock
from core.db import close_database, open_database, tortoise_config
from core.ingest import Sender
from core.models import Channel, Client, Contact, ContactKind, Dialog
from core.models import Participant as DialogParticipant
from core.service import Core
from tests.core.helpers import inbound, write

pytestmark = pytest.mark.usefixtures("db")

ANNA = Sender(ContactKind.EMAIL, "anna@client.com", "Anna")


async def people(dialog: Dialog) -> list[tuple[str, str, str]]:
    """(address, client's name, role) of each participant, in the order they joined."""
    rows = await DialogParticipant.filter(dialog_id=dialog.id).order_by("id")
    out = []
    for row in rows:
        contact = await Contact.get(id=row.contact_id)  # type: ignore[attr-defined]
        client = await Client.get(id=contact.client_id)  # type: ignore[attr-defined]
        out.append((contact.value, client.name, row.role))
    return out


async def test_the_sender_and_the_named_people_join_the_dialog(core: Core, email: Channel) -> None:
    message = inbound(email, "thread-1", sender=ANNA, text="Our order")
    message = replace(
        message,
        participants=[
            Participant("boris@client.com", "Boris", role="to"),
            Participant("carla@client.com", "", role="cc", kind=ContactKind.EMAIL),
        ],
    )
    dialog = (await core.ingest(message)).dialog

    assert await people(dialog) == [
        ("anna@client.com", "Anna", "from"),
        ("boris@client.com", "Boris", "to"),
        ("carla@client.com", "carla@client.com", "cc"),
    ]
    # Each unknown person is a client of their own; the dialog stays Anna's.
    assert await Client.all().count() == 3
    anna = await Contact.get(value="anna@client.com")
    assert dialog.client_id == anna.client_id  # type: ignore[attr-defined]


async def test_someone_seen_before_is_the_same_contact_and_joins_once(
    core: Core, email: Channel
) -> None:
    boris = Sender(ContactKind.EMAIL, "boris@client.com", "Boris")
    first = await write(core, email, "thread-1", sender=ANNA)
    named = replace(
        inbound(email, "thread-1", sender=boris),
        participants=[Participant("anna@client.com", "Anna", role="cc")],
    )
    await core.ingest(named)
    await write(core, email, "thread-1", sender=boris)

    # Anna keeps the role she joined with; Boris, a new sender, joins as "from".
    assert await people(first.dialog) == [
        ("anna@client.com", "Anna", "from"),
        ("boris@client.com", "Boris", "from"),
    ]
    assert await Contact.all().count() == 2


async def test_each_dialog_has_its_own_participants(core: Core, telegram: Channel) -> None:
    ivan = Sender(ContactKind.TELEGRAM, "7", "Ivan")
    one = (await write(core, telegram, "chat-1")).dialog
    two = (await write(core, telegram, "chat-2", sender=ivan)).dialog
    await write(core, telegram, "chat-1")  # the dialog's own client again: nothing new
    assert [p[0] for p in await people(one)] == ["42"]
    assert [p[0] for p in await people(two)] == ["7"]


@pytest.fixture
def fresh_cache() -> None:
    executor.EXECUTOR_CACHE.clear()


async def test_dialogs_from_before_the_migration_get_their_senders(
    tmp_path: Path, clock: FrozenClock, fresh_cache: None
) -> None:
    # The `db` fixture's database is not used here: an old one is migrated instead.
    await close_database()
    url = f"sqlite://{tmp_path}/old.sqlite3"
    await migrate(config=tortoise_config(url, EXTRA_APPS), target="core.0005_outbox_lanes")
    connection = Tortoise.get_connection("default")
    now = "'2026-01-05 09:00:00+00:00'"
    for sql in (
        f"INSERT INTO channel (key, kind, name, settings, created_at) VALUES ('telegram:1',"
        f" 'telegram', '@bot', '{{}}', {now})",
        f"INSERT INTO client (name, description, banned, created_at) VALUES ('Anna', '', 0, {now})",
        f"INSERT INTO contact (client_id, kind, value, display, created_at) VALUES (1,"
        f" 'telegram', '42', '', {now})",
        f"INSERT INTO dialog (client_id, channel_id, chat_key, subject, status, unreachable,"
        f" created_at, last_message_at) VALUES (1, 1, '42', '', 'open', 0, {now}, {now})",
    ):
        await connection.execute_query(sql)
    for number in (1, 2):
        await connection.execute_query(
            "INSERT INTO message (dialog_id, kind, sender_contact_id, sender_name, text, spans,"
            f" attachments, external_id, meta, created_at) VALUES (1, 'in', 1, 'Anna', 'hi',"
            f" '[]', '[]', '{number}', '{{}}', {now})"
        )
    await Tortoise.close_connections()

    await open_database(url, EXTRA_APPS)
    dialog = await Dialog.get(id=1)
    assert await people(dialog) == [("42", "Anna", "from")]
