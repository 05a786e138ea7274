"""Automatic assignment: which operator a rule's `assign` action gives a dialog to.

`choose(ctx, policy, dialog_id)` picks one and RECORDS the pick (`Operator.auto_assigned_at`
= now) so that round robin stays fair across restarts; the caller then assigns the dialog
(core.dialogs) and logs when nobody fits (None: the dialog stays unassigned).

- Only active operators (on the team: a departed one is never chosen, even when named).
- A named operator (`operator="@pavel"`, a username, or a name) means them, on duty or not
  (a rule naming someone means that person); still skipped when at `max_open`.
- `strategy="round_robin"`: of the pool, the one auto-assigned least recently (never
  first, then the oldest `auto_assigned_at`, then the lowest id) — fair whatever the order
  in which people go on and off duty, and durable: the column survives a restart.
- `strategy="least_busy"`: of the pool, the one with the fewest open dialogs; ties go to the
  one auto-assigned least recently.
- `pool="on_duty"` (the default): operators on duty (`Operator.on_duty`, true unless they
  said `/duty off`); `pool="all"`: every active operator.
- `max_open`: an operator with this many open dialogs (status open, not snoozed or closed;
  the dialog being assigned is not counted) is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass

from tortoise.functions import Count

from core.context import CoreContext
from core.lifecycle import DialogStatus
from core.models import Dialog, Operator

STRATEGIES = ("round_robin", "least_busy")
POOLS = ("on_duty", "all")


@dataclass(frozen=True)
class AssignPolicy:
    operator: str | None = None  # "@pavel" or a name: that operator
    strategy: str | None = None  # "round_robin" | "least_busy"
    pool: str = "on_duty"  # "on_duty" | "all"
    max_open: int | None = None  # an operator with this many open dialogs is skipped


async def find_operator(
    mention: str, *, departed_too: bool = False, by_name: bool = False
) -> Operator | None:
    """An operator by "@username", username or user id — with `by_name`, also by their name
    when it is not written with "@" (case-insensitive). Only those on the team, unless
    `departed_too`; a username may have changed hands: the one on the team, then the newest."""
    text = mention.strip()
    bare = text.lstrip("@")
    if not bare:
        return None
    wanted = [Operator.filter(username__iexact=bare)]
    if bare.isdigit():
        wanted.insert(0, Operator.filter(user_id=int(bare)))
    if by_name and not text.startswith("@"):
        wanted.append(Operator.filter(name__iexact=text))
    for query in wanted:
        if not departed_too:
            query = query.filter(active=True)
        found = await query.order_by("-active", "-id").first()
        if found is not None:
            return found
    return None


async def open_counts(operator_ids: list[int], except_dialog: int | None = None) -> dict[int, int]:
    """How many open dialogs each of these operators has."""
    if not operator_ids:
        return {}
    query = Dialog.filter(status=DialogStatus.OPEN, assignee_id__in=operator_ids)
    if except_dialog is not None:
        query = query.exclude(id=except_dialog)
    rows = (
        await query.annotate(n=Count("id")).group_by("assignee_id").values_list("assignee_id", "n")
    )
    return {int(str(who)): int(str(n)) for who, n in rows}


def _fairness(operator: Operator) -> tuple[int, float, int]:
    """Least recently auto-assigned first (never before any), then the lowest id."""
    at = operator.auto_assigned_at
    return (0, 0.0, operator.id) if at is None else (1, at.timestamp(), operator.id)


async def choose(ctx: CoreContext, policy: AssignPolicy, dialog_id: int) -> Operator | None:
    """The operator the policy gives the dialog to, or None when nobody fits. Records the
    pick (`auto_assigned_at`) — call it only when the assignment will be made."""
    if policy.operator:
        named = await find_operator(policy.operator, by_name=True)
        candidates = [named] if named is not None else []
    else:
        query = Operator.filter(active=True)
        if policy.pool != "all":
            query = query.filter(on_duty=True)
        candidates = list(await query)
    if not candidates:
        return None
    counts: dict[int, int] = {}
    if policy.max_open is not None or policy.strategy == "least_busy":
        counts = await open_counts([o.id for o in candidates], except_dialog=dialog_id)
    if policy.max_open is not None:
        candidates = [o for o in candidates if counts.get(o.id, 0) < policy.max_open]
    if not candidates:
        return None
    if policy.strategy == "least_busy":
        chosen = min(candidates, key=lambda o: (counts.get(o.id, 0), _fairness(o)))
    else:
        chosen = min(candidates, key=_fairness)
    now = ctx.clock.now()
    await Operator.filter(id=chosen.id).update(auto_assigned_at=now)
    chosen.auto_assigned_at = now
    return chosen
