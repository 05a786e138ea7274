"""The state machine's table, on its own: every (status, action) pair is allowed or refused."""

from __future__ import annotations

import pytest

from core.lifecycle import (
    Action,
    DialogStatus,
    InvalidTransition,
    allowed_actions,
    next_status,
)

OPEN, SNOOZED, CLOSED = DialogStatus.OPEN, DialogStatus.SNOOZED, DialogStatus.CLOSED

EXPECTED = {
    (OPEN, Action.CLOSE): CLOSED,
    (OPEN, Action.SNOOZE): SNOOZED,
    (OPEN, Action.CLIENT_WROTE): OPEN,
    (SNOOZED, Action.CLOSE): CLOSED,
    (SNOOZED, Action.REOPEN): OPEN,
    (SNOOZED, Action.SNOOZE): SNOOZED,
    (SNOOZED, Action.WAKE): OPEN,
    (SNOOZED, Action.CLIENT_WROTE): OPEN,
    (CLOSED, Action.REOPEN): OPEN,
    (CLOSED, Action.CLIENT_WROTE): OPEN,
}


@pytest.mark.parametrize("status", list(DialogStatus))
@pytest.mark.parametrize("action", list(Action))
def test_every_pair_is_either_a_transition_or_refused(status: DialogStatus, action: Action) -> None:
    expected = EXPECTED.get((status, action))
    if expected is None:
        with pytest.raises(InvalidTransition) as caught:
            next_status(status, action)
        assert caught.value.status is status
        assert caught.value.action is action
        assert action.value in str(caught.value) and status.value in str(caught.value)
    else:
        assert next_status(status, action) is expected


def test_allowed_actions_follow_the_table() -> None:
    assert allowed_actions(OPEN) == {Action.CLOSE, Action.SNOOZE, Action.CLIENT_WROTE}
    assert allowed_actions(CLOSED) == {Action.REOPEN, Action.CLIENT_WROTE}
    assert allowed_actions(SNOOZED) == {
        Action.CLOSE,
        Action.REOPEN,
        Action.SNOOZE,
        Action.WAKE,
        Action.CLIENT_WROTE,
    }


def test_a_client_message_always_leaves_the_dialog_open() -> None:
    for status in DialogStatus:
        assert next_status(status, Action.CLIENT_WROTE) is OPEN
