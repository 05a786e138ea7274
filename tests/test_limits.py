"""tgapi.limits: the one sliding window behind the bot's limit, a group's budget and a
private chat's pace, on a clock the test moves."""

from __future__ import annotations

from tgapi.limits import BotRateLimit, ChatPace, GroupBudget, SlidingWindow


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_take_counts_what_fits_and_says_how_long_the_rest_waits() -> None:
    clock = Clock()
    window = SlidingWindow(2, 10.0, clock)
    assert [window.take(), window.take()] == [0.0, 0.0]
    clock.now += 4
    assert window.take() == 6.0 and window.room() == 0  # a refused take counts nothing
    clock.now += 6
    assert window.room() == 2 and window.take(2) == 0.0


def test_a_block_holds_the_window_however_much_room_it_has() -> None:
    clock = Clock()
    window = SlidingWindow(5, 1.0, clock)
    window.block(7)
    assert window.room() == 0 and window.take() == 7.0
    clock.now += 7
    assert window.take() == 0.0


def test_a_restart_continues_the_window_it_came_into() -> None:
    clock = Clock()
    window = SlidingWindow(3, 60.0, clock)
    window.restore([10.0, 50.0, 70.0])  # the call 70 s ago no longer counts
    assert window.used() == 2 and window.take() == 0.0
    assert window.take() == 10.0  # the one 50 s ago frees its slot in 10 s


def test_a_reserved_call_counts_from_when_it_landed() -> None:
    """Telegram counts a call when it arrives: one let through first but delayed on its way
    must not leave room for a later one inside the server's minute."""
    clock = Clock()
    window = SlidingWindow(2, 60.0, clock)
    assert [window.reserve(), window.reserve()] == [0.0, 0.0]
    assert window.room() == 0 and window.reserve() == 60.0  # not landed: from the reservation
    clock.now += 0.5
    window.landed()  # the first is over half a second later
    clock.now += 59.75  # a minute after the reservations, not after the landing
    assert window.used() == 1 and window.reserve() == 0.0  # the other was never made
    assert window.reserve() == 0.25  # the landed one frees a minute after it landed
    clock.now += 0.25
    assert window.reserve() == 0.0


def test_a_call_that_landed_unreserved_is_counted() -> None:
    clock = Clock()
    window = SlidingWindow(1, 60.0, clock)
    window.landed()
    assert window.room() == 0 and window.reserve() == 60.0


def test_a_group_budget_counts_its_minute_from_the_landing() -> None:
    clock = Clock()
    budget = GroupBudget(1, per_second=10, monotonic=clock)
    assert budget.take() == 0
    clock.now += 2.0  # the call was two seconds on its way (the bot's own limit, a slow network)
    budget.landed()
    clock.now += 59.0
    assert budget.take() == 1.0


def test_the_three_limits_are_that_one_window() -> None:
    budget = GroupBudget(20)
    assert isinstance(budget.minute, SlidingWindow) and budget.minute.span == 60.0
    assert isinstance(budget.second, SlidingWindow) and budget.second.limit == 3
    assert isinstance(BotRateLimit().window, SlidingWindow)
    pace = ChatPace()
    pace.take(1)
    assert all(isinstance(w, SlidingWindow) for w in pace._chats.values())


def test_a_budget_lifted_after_it_was_built_lets_everything_through() -> None:
    """The bench lifts eadesk's own caps by setting them on the running budgets."""
    clock = Clock()
    budget = GroupBudget(20, monotonic=clock)
    budget.per_minute = budget.per_second = 1_000_000
    assert all(budget.take() == 0 for _ in range(500))
    assert budget.room() > 0 and not budget.busy()
