"""core/clients.py on every configured database: contacts normalised by their kind (phones to
E.164, e-mail as the e-mail channel writes it, Telegram names and ids), a contact of another
client offered for a merge instead of a duplicate, and a merge that moves every row of one
client to the other in one go, keeps the gone one as a pointer, and shows each message once."""

from __future__ import annotations

import pytest

from core.clients import ClientService, ContactError, MergeError, normalise
from core.clock import FrozenClock
from core.events import ClientChanged
from core.history import client_family, entries, root_client, snapshot
from core.ingest import Sender
from core.models import Channel, Client, Contact, ContactKind, Dialog, Event, Operator, Task
from core.service import Core
from tests.core.helpers import Recorder, write


@pytest.mark.parametrize(
    ("kind", "value", "region", "stored"),
    [
        ("phone", "+7 (912) 345-67-89", None, "+79123456789"),
        ("phone", "8 912 345 67 89", "RU", "+79123456789"),
        ("phone", "+44 20 7946 0958", None, "+442079460958"),
        ("whatsapp", "+1 650-253-0000", None, "+16502530000"),
        ("email", " Ann.Lee@Example.COM ", None, "ann.lee@example.com"),
        ("mail", "ann@example.com", None, "ann@example.com"),
        ("telegram", "@Ann_Lee", None, "@ann_lee"),
        ("tg", "https://t.me/ann_lee", None, "@ann_lee"),
        ("telegram", "123456789", None, "123456789"),
        ("instagram", "@Ann.Lee", None, "ann.lee"),
        ("vk", "https://vk.com/id12345", None, "id12345"),
    ],
)
def test_contacts_are_normalised_by_their_kind(
    kind: str, value: str, region: str | None, stored: str
) -> None:
    assert normalise(kind, value, region).value == stored


@pytest.mark.parametrize(
    ("kind", "value", "region", "reason"),
    [
        ("fax", "123", None, "kind"),
        ("webchat", "abc", None, "kind"),
        ("phone", "8 912 345 67 89", None, "form"),  # no + and no region: which country?
        ("phone", "+7 123", None, "form"),
        ("phone", "call me", "RU", "form"),
        ("email", "ann@", None, "form"),
        ("email", "not an address", None, "form"),
        ("telegram", "@ab", None, "form"),
        ("telegram", "-100123", None, "form"),
        ("instagram", "ann lee", None, "form"),
        ("vk", "", None, "form"),
    ],
)
def test_a_contact_of_a_wrong_form_is_refused(
    kind: str, value: str, region: str | None, reason: str
) -> None:
    with pytest.raises(ContactError) as error:
        normalise(kind, value, region)
    assert error.value.reason == reason


async def two_clients(core: Core, telegram: Channel, email: Channel) -> tuple[Dialog, Dialog]:
    """Ann on Telegram and Ann by e-mail: two clients, a dialog each, two messages each."""
    ann = Sender(ContactKind.TELEGRAM, "42", "Ann", display="@ann_lee")
    mail = Sender(ContactKind.EMAIL, "ann@example.com", "Ann Lee", "ann@example.com")
    first = (await write(core, telegram, "tg-42", sender=ann, text="tg one")).dialog
    await write(core, telegram, "tg-42", sender=ann, text="tg two")
    second = (await write(core, email, "mail-1", sender=mail, text="mail one")).dialog
    await write(core, email, "mail-1", sender=mail, text="mail two")
    assert first.client_id != second.client_id  # type: ignore[attr-defined]
    return first, second


async def test_a_contact_of_another_client_is_offered_for_a_merge(
    core: Core, telegram: Channel, email: Channel, operator: Operator
) -> None:
    first, second = await two_clients(core, telegram, email)
    service = ClientService(core.ctx)
    keep = first.client_id  # type: ignore[attr-defined]
    result = await service.add_contact(keep, normalise("email", "ANN@example.com"), operator)
    assert not result.added and result.elsewhere is not None
    assert result.elsewhere.id == second.client_id  # type: ignore[attr-defined]
    assert await Contact.filter(kind=ContactKind.EMAIL).count() == 1
    # The Telegram @username is the display of the numeric id the channel stores.
    known = await service.add_contact(keep, normalise("telegram", "@ANN_Lee"), operator)
    assert not known.added and known.elsewhere is None
    added = await service.add_contact(keep, normalise("phone", "+7 912 345 67 89"), operator)
    assert added.added and added.contact.value == "+79123456789"
    assert await service.remove_contact(keep, normalise("phone", "+79123456789"), operator) == (
        "removed"
    )
    # The contact the client writes through stays; another client's is not this one's.
    tg = normalise("telegram", "42")
    assert await service.remove_contact(keep, tg, operator) == "in_use"
    assert await service.remove_contact(keep, normalise("email", "ann@example.com"), operator) == (
        "missing"
    )
    names = [e.name for e in await Event.all().order_by("id")]
    assert "client.contact_added" in names and "client.contact_removed" in names


async def test_a_merge_moves_everything_once_and_keeps_the_gone_client_as_a_pointer(
    core: Core, clock: FrozenClock, telegram: Channel, email: Channel, operator: Operator
) -> None:
    first, second = await two_clients(core, telegram, email)
    keep, gone = first.client_id, second.client_id  # type: ignore[attr-defined]
    await core.tasks.create(second.id, "send the invoice", author=operator, assignee=operator)
    await Client.filter(id=gone).update(description="VIP")
    changed = Recorder()
    core.bus.subscribe(ClientChanged, changed)
    service = ClientService(core.ctx)

    kept = await service.merge(keep, gone, operator, first)

    assert kept.id == keep and kept.description == "VIP"
    assert await Contact.filter(client_id=keep).count() == 2
    assert await Dialog.filter(client_id=keep).count() == 2
    assert await Task.filter(client_id=keep).count() == 1
    assert (await Client.get(id=gone)).merged_into_id == keep  # type: ignore[attr-defined]
    assert await root_client(gone) == keep
    assert await client_family(gone) == sorted([keep, gone])
    assert {e.client_id for e in changed.events} == {keep, gone}  # type: ignore[attr-defined]
    event = await Event.get(name="client.merged")
    assert event.data["merged_id"] == gone and event.data["dialogs"] == 1
    # Each message once, from either end.
    for client_id in (keep, gone):
        shown = await entries(client_id, operator.id, await snapshot(client_id, operator.id))
        texts = [e.message.text for e in shown if e.message is not None]
        assert sorted(texts) == ["mail one", "mail two", "tg one", "tg two"]
    # The merged client's next message lands in the remaining one's dialog.
    mail = Sender(ContactKind.EMAIL, "ann@example.com", "Ann Lee", "ann@example.com")
    later = await write(core, email, "mail-1", sender=mail, text="mail three")
    assert later.dialog.client_id == keep  # type: ignore[attr-defined]

    with pytest.raises(MergeError) as same:
        await service.merge(keep, gone, operator)  # gone is keep now
    assert same.value.reason == "same"
    with pytest.raises(MergeError) as unknown:
        await service.merge(keep, 99999, operator)
    assert unknown.value.reason == "unknown"
    assert await Event.filter(name="client.merged").count() == 1


async def test_a_chain_of_merges_ends_in_one_client(
    core: Core, telegram: Channel, email: Channel, operator: Operator
) -> None:
    first, second = await two_clients(core, telegram, email)
    third = (
        await write(core, telegram, "tg-7", sender=Sender(ContactKind.TELEGRAM, "7", "Bob"))
    ).dialog
    a, b, c = (d.client_id for d in (first, second, third))  # type: ignore[attr-defined]
    service = ClientService(core.ctx)
    await service.merge(b, c, operator)
    await service.merge(a, b, operator)
    assert await root_client(c) == a
    assert (await Client.get(id=c)).merged_into_id == a  # type: ignore[attr-defined]
    assert await Dialog.filter(client_id=a).count() == 3


async def test_rename_and_describe(core: Core, telegram: Channel, operator: Operator) -> None:
    dialog = (await write(core, telegram)).dialog
    service = ClientService(core.ctx)
    client_id = dialog.client_id  # type: ignore[attr-defined]
    client, changed = await service.rename(client_id, "  Anna   Smith ", operator, dialog)
    assert changed and client.name == "Anna Smith"
    assert not (await service.rename(client_id, "Anna Smith", operator))[1]
    with pytest.raises(ValueError):
        await service.rename(client_id, "   ", operator)
    assert (await service.describe(client_id, "Pays late", operator))[1]
    assert (await Client.get(id=client_id)).description == "Pays late"
    assert (await service.describe(client_id, "", operator))[1]
    assert (await Client.get(id=client_id)).description == ""
    assert await Event.filter(name="client.renamed").count() == 1
