"""Writing the event log. Called inside the transaction that made the change."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from core.models import ActorKind, Dialog, Episode, Event, Operator


async def record(
    name: str,
    *,
    at: datetime,
    dialog: Dialog | None = None,
    episode: Episode | None = None,
    actor: Operator | None = None,
    actor_kind: ActorKind | None = None,
    reason: str = "",
    **data: Any,
) -> Event:
    if actor_kind is None:
        actor_kind = ActorKind.OPERATOR if actor else ActorKind.SYSTEM
    return await Event.create(
        name=name,
        dialog=dialog,
        episode=episode,
        actor=actor,
        actor_kind=actor_kind,
        reason=reason[:255],
        data=data,
        at=at,
    )
