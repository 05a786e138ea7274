"""The dialog state machine: an explicit table of (status, action) -> status."""

from __future__ import annotations

from enum import StrEnum


class DialogStatus(StrEnum):
    OPEN = "open"
    SNOOZED = "snoozed"
    CLOSED = "closed"


class Action(StrEnum):
    CLOSE = "close"
    REOPEN = "reopen"
    SNOOZE = "snooze"
    WAKE = "wake"
    CLIENT_WROTE = "client_wrote"


TRANSITIONS: dict[tuple[DialogStatus, Action], DialogStatus] = {
    (DialogStatus.OPEN, Action.CLOSE): DialogStatus.CLOSED,
    (DialogStatus.SNOOZED, Action.CLOSE): DialogStatus.CLOSED,
    (DialogStatus.CLOSED, Action.REOPEN): DialogStatus.OPEN,
    (DialogStatus.SNOOZED, Action.REOPEN): DialogStatus.OPEN,
    (DialogStatus.OPEN, Action.SNOOZE): DialogStatus.SNOOZED,
    # Re-snoozing moves the wake-up moment.
    (DialogStatus.SNOOZED, Action.SNOOZE): DialogStatus.SNOOZED,
    (DialogStatus.SNOOZED, Action.WAKE): DialogStatus.OPEN,
    (DialogStatus.OPEN, Action.CLIENT_WROTE): DialogStatus.OPEN,
    (DialogStatus.SNOOZED, Action.CLIENT_WROTE): DialogStatus.OPEN,
    (DialogStatus.CLOSED, Action.CLIENT_WROTE): DialogStatus.OPEN,
}


class InvalidTransition(Exception):
    def __init__(self, status: DialogStatus, action: Action) -> None:
        super().__init__(f"cannot {action.value} a dialog that is {status.value}")
        self.status = status
        self.action = action


def next_status(status: DialogStatus, action: Action) -> DialogStatus:
    try:
        return TRANSITIONS[(status, action)]
    except KeyError:
        raise InvalidTransition(status, action) from None


def allowed_actions(status: DialogStatus) -> set[Action]:
    return {action for (state, action) in TRANSITIONS if state is status}
