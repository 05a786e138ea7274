"""Episodes (§2): a client who writes within the reopen window continues the episode; after
it, a re-opening starts a new one. 48 h for messengers, 120 h for e-mail, configurable."""

from __future__ import annotations

from datetime import timedelta

import pytest

from core.channels import ensure_channel
from core.clock import FrozenClock
from core.events import EpisodeStarted
from core.lifecycle import DialogStatus
from core.models import Channel, ChannelKind, Dialog, Episode, Message, Operator, WindowKind
from core.service import Core
from tests.core.helpers import Recorder, events_of, write

pytestmark = pytest.mark.usefixtures("db")

SECOND = timedelta(seconds=1)
H48, H120 = timedelta(hours=48), timedelta(hours=120)


async def closed_dialog(core: Core, channel: Channel, operator: Operator) -> Dialog:
    first = await write(core, channel)
    await core.dialogs.close(first.dialog.id, operator, "answered")
    return first.dialog


async def episode_numbers(dialog: Dialog) -> list[int]:
    return [e.number for e in await Episode.filter(dialog_id=dialog.id).order_by("number")]


async def test_first_message_starts_episode_one(
    core: Core, telegram: Channel, published: Recorder
) -> None:
    result = await write(core, telegram)
    assert result.created and result.new_episode and not result.reopened
    assert result.dialog.status is DialogStatus.OPEN
    assert await episode_numbers(result.dialog) == [1]
    [started] = published.of(EpisodeStarted)
    assert not started.reopening
    message = await Message.get(id=result.message.id)
    episode = await Episode.get(dialog_id=result.dialog.id)
    assert message.episode_id == episode.id  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("after", "new_episode"),
    [
        (timedelta(minutes=5), False),
        (H48 - SECOND, False),
        (H48, False),
        (H48 + SECOND, True),
        (timedelta(days=30), True),
    ],
    ids=["5m", "48h-1s", "exactly-48h", "48h+1s", "30d"],
)
async def test_messenger_window_is_48_hours(
    core: Core,
    clock: FrozenClock,
    telegram: Channel,
    operator: Operator,
    published: Recorder,
    after: timedelta,
    new_episode: bool,
) -> None:
    dialog = await closed_dialog(core, telegram, operator)
    published.clear()
    clock.advance(after)

    result = await write(core, telegram)

    assert result.reopened and not result.created
    assert result.new_episode is new_episode
    assert result.dialog.status is DialogStatus.OPEN
    assert await episode_numbers(dialog) == ([1, 2] if new_episode else [1])
    started = published.of(EpisodeStarted)
    assert [e.reopening for e in started] == ([True] if new_episode else [])
    # The client's message belongs to the episode that is running now, which is open.
    current = await Episode.filter(dialog_id=dialog.id).order_by("-number").first()
    assert current is not None and current.closed_at is None
    message = await Message.get(id=result.message.id)
    assert message.episode_id == current.id  # type: ignore[attr-defined]
    if new_episode:
        assert current.started_at == clock.now()
        first = await Episode.get(dialog_id=dialog.id, number=1)
        assert first.closed_at == clock.now() - after


@pytest.mark.parametrize(
    ("after", "new_episode"),
    [(H48 + SECOND, False), (H120, False), (H120 + SECOND, True)],
    ids=["48h+1s", "exactly-120h", "120h+1s"],
)
async def test_email_window_is_120_hours(
    core: Core,
    clock: FrozenClock,
    email: Channel,
    operator: Operator,
    after: timedelta,
    new_episode: bool,
) -> None:
    assert email.kind is ChannelKind.EMAIL and email.window_kind is WindowKind.EMAIL
    dialog = await closed_dialog(core, email, operator)
    clock.advance(after)
    result = await write(core, email)
    assert result.new_episode is new_episode
    assert await episode_numbers(dialog) == ([1, 2] if new_episode else [1])


@pytest.mark.parametrize(
    "kind",
    [k for k in ChannelKind if k is not ChannelKind.EMAIL],
)
async def test_every_other_channel_kind_uses_48_hours(
    core: Core, clock: FrozenClock, operator: Operator, kind: ChannelKind
) -> None:
    channel = await ensure_channel(f"{kind.value}:main", kind, kind.value, clock.now())
    dialog = await closed_dialog(core, channel, operator)
    clock.advance(H48)
    assert not (await write(core, channel)).new_episode
    await core.dialogs.close(dialog.id, operator)
    clock.advance(H48 + SECOND)
    assert (await write(core, channel)).new_episode


async def test_configured_windows_replace_the_defaults(
    core: Core, clock: FrozenClock, telegram: Channel, email: Channel, operator: Operator
) -> None:
    core.ctx.windows[WindowKind.MESSENGER] = timedelta(hours=1)
    core.ctx.windows[WindowKind.EMAIL] = timedelta(hours=2)

    chat = await closed_dialog(core, telegram, operator)
    mail = await closed_dialog(core, email, operator)
    clock.advance(timedelta(hours=1))
    assert not (await write(core, telegram)).new_episode
    assert not (await write(core, email)).new_episode

    await core.dialogs.close(chat.id, operator)
    await core.dialogs.close(mail.id, operator)
    clock.advance(timedelta(hours=1) + SECOND)
    assert (await write(core, telegram)).new_episode
    assert not (await write(core, email)).new_episode
    await core.dialogs.close(mail.id, operator)
    clock.advance(timedelta(hours=2) + SECOND)
    assert (await write(core, email)).new_episode


@pytest.mark.parametrize(
    ("after", "new_episode"),
    [(H48, False), (H48 + SECOND, True)],
    ids=["exactly-48h", "48h+1s"],
)
async def test_operator_reopen_follows_the_same_window(
    core: Core,
    clock: FrozenClock,
    telegram: Channel,
    operator: Operator,
    published: Recorder,
    after: timedelta,
    new_episode: bool,
) -> None:
    dialog = await closed_dialog(core, telegram, operator)
    published.clear()
    clock.advance(after)

    reopened = await core.dialogs.reopen(dialog.id, operator, "client called")

    assert reopened.status is DialogStatus.OPEN
    assert await episode_numbers(dialog) == ([1, 2] if new_episode else [1])
    started = published.of(EpisodeStarted)
    assert [e.reopening for e in started] == ([True] if new_episode else [])
    names = [e.name for e in await events_of(dialog)]
    assert names.count("episode.started") == (1 if new_episode else 0)


async def test_episodes_are_numbered_in_order_across_reopenings(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator
) -> None:
    dialog = await closed_dialog(core, telegram, operator)
    for _ in range(2):
        clock.advance(timedelta(days=3))
        await write(core, telegram)
        await core.dialogs.close(dialog.id, operator)
    # Within the window: the third episode goes on.
    clock.advance(timedelta(hours=1))
    await write(core, telegram)
    assert await episode_numbers(dialog) == [1, 2, 3]
    in_messages = (
        await Message.filter(dialog_id=dialog.id).order_by("id").prefetch_related("episode")
    )
    assert [m.episode.number for m in in_messages if m.episode] == [1, 2, 3, 3]


async def test_snoozed_dialog_never_starts_a_new_episode(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator
) -> None:
    # The window counts from a close; a snooze is not a close, however long.
    first = await write(core, telegram)
    await core.dialogs.snooze(first.dialog.id, None, operator)
    clock.advance(timedelta(days=60))
    result = await write(core, telegram)
    assert result.woke and not result.reopened and not result.new_episode
    assert await episode_numbers(first.dialog) == [1]
