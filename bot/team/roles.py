"""Operators: the team group's current members we have seen (bot.team.membership says who
is a member now)."""

from __future__ import annotations

from aiogram.types import User

from core.clock import Clock
from core.models import Operator


async def remember_operator(user: User, clock: Clock, *, started: bool = False) -> Operator:
    """Create or refresh the operator behind a Telegram user of the team group."""
    operator = await Operator.get_or_none(user_id=user.id)
    fields = {
        "username": user.username,
        "name": user.full_name,
        "language": user.language_code,
        "active": True,
    }
    if operator is None:
        return await Operator.create(
            user_id=user.id,
            username=user.username,
            name=user.full_name,
            language=user.language_code,
            created_at=clock.now(),
            can_message=started,
        )
    changed = [k for k, v in fields.items() if getattr(operator, k) != v and v is not None]
    for key in changed:
        setattr(operator, key, fields[key])
    if started and not operator.can_message:
        operator.can_message = True
        changed.append("can_message")
    if changed:
        await operator.save(update_fields=changed)
    return operator
