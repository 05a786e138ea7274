"""The card's reads built once (core.prepared.PreparedValues) answer as the ORM's own queries."""

from __future__ import annotations

from core.clock import FrozenClock
from core.models import Channel, Client, Dialog, Tag
from core.queries import count_other_dialogs, tag_names


async def test_tag_names_and_other_dialogs_as_the_orm_reads_them(
    telegram: Channel, clock: FrozenClock
) -> None:
    now = clock.now()
    ann = await Client.create(name="Ann", created_at=now)
    bob = await Client.create(name="Bob", created_at=now)
    first, second, third = [
        await Dialog.create(
            client=ann, channel=telegram, chat_key=str(n), created_at=now, last_message_at=now
        )
        for n in range(3)
    ]
    alone = await Dialog.create(
        client=bob, channel=telegram, chat_key="b", created_at=now, last_message_at=now
    )
    vip, late, billing = [await Tag.create(name=name) for name in ("vip", "late", "billing")]
    await first.tags.add(vip, late)
    await second.tags.add(billing)

    for _ in range(2):  # built on the first call, only run on the second
        assert await tag_names(first.id) == ["late", "vip"]
        assert await tag_names(second.id) == ["billing"]
        assert await tag_names(alone.id) == []
        assert await count_other_dialogs(ann.id, first.id) == 2
        assert await count_other_dialogs(ann.id, third.id) == 2
        assert await count_other_dialogs(bob.id, alone.id) == 0
        assert await count_other_dialogs(bob.id, first.id) == 1
