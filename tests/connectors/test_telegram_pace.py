"""A private chat's pace: a burst of three, then about one a second."""

from __future__ import annotations

from tgapi.limits import BURST, WINDOW_SECONDS, ChatPace


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_goes_at_once_then_the_chat_waits():
    clock = Clock()
    pace = ChatPace(clock)
    assert [pace.take(1) for _ in range(BURST)] == [0.0] * BURST
    assert pace.take(1) == WINDOW_SECONDS
    # Other chats are not held up.
    assert pace.take(2) == 0.0
    clock.now += WINDOW_SECONDS
    assert pace.take(1) == 0.0


def test_a_refused_take_counts_nothing():
    clock = Clock()
    pace = ChatPace(clock)
    for _ in range(BURST):
        pace.take(1)
    clock.now += 1.0
    assert pace.take(1) == WINDOW_SECONDS - 1.0
    assert pace.take(1) == WINDOW_SECONDS - 1.0


def test_an_album_counts_each_item_and_a_big_one_goes_alone():
    clock = Clock()
    pace = ChatPace(clock)
    assert pace.take(1, 2) == 0.0
    assert pace.take(1, 2) > 0
    clock.now += WINDOW_SECONDS
    assert pace.take(1, 10) == 0.0
    assert pace.take(1) > 0
