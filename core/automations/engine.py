"""The automations in force: the rules file, read again when it changes; the events and the
waits that start rules; what their actions do.

Durable. An event that some rule in force waits for writes an outbox row in the change's own
transaction (a durable subscriber); the row's handler, after the commit, checks the rules'
conditions and acts. Without rules for an event nothing is written (and without a file,
nothing is read: the client's message costs no statement). A time rule's firing is a row of
its own (`AutomationFiring`, unique per rule, dialog and wait) written with its outbox row:
a restart never fires it twice.

Loops. Nothing an automation does starts a rule: while actions run, a context variable is
set, and the subscribers write nothing then (its close fires no `closed`, its messages no
trigger at all). An automatic client message (an e-mail auto-reply, a bounce) is never
answered: no template and no closing message then (the other actions still run).

Order. The rules run in the file's order. An event runs every rule whose trigger it is
(a new episode runs both the `new_episode` and the `new_dialog` rules) in one pass; once a
rule of the pass assigned the dialog, a later rule's `assign` leaves it alone; a round robin
or least busy assign never takes a dialog from the person it is assigned to.
"""

from __future__ import annotations

import contextvars
import logging
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from core.assignment import choose
from core.automations.rules import Action, Conditions, Rule, RulesError, RuleSet, parse_rules
from core.context import CoreContext
from core.events import EpisodeStarted, MessageCreated, StatusChanged
from core.lifecycle import DialogStatus
from core.models import (
    AutomationFiring,
    Channel,
    Client,
    Dialog,
    Episode,
    Message,
    MessageKind,
    Operator,
    OutboxItem,
)
from core.outbox import Priority, enqueue
from core.sla import Override
from core.templates import TemplateService, render

if TYPE_CHECKING:
    from core.conversation import ConversationService
    from core.dialogs import DialogService
    from core.outbox import OutboxWorker
    from core.ticker import Ticker

log = logging.getLogger(__name__)

RUN = "automation.run"
# For the front end: an automatic message to show in the topic; the managers to tell.
SHOW = "automation.show"
NOTIFY = "automation.notify"

# The events and the triggers each starts.
EPISODE, CLIENT_MESSAGE, CLOSED, WOKE, TIMER = (
    "episode",
    "client_message",
    "closed",
    "woke",
    "timer",
)
STARTS = {
    EPISODE: ("new_episode", "new_dialog"),
    CLIENT_MESSAGE: ("client_message",),
    CLOSED: ("closed",),
    WOKE: ("snooze_woke",),
}

# The author of what automations write (never on the team: no list offers it).
ROBOT_USER_ID = 0
ROBOT_NAME = "Automation"

_acting: contextvars.ContextVar[str | None] = contextvars.ContextVar("automation", default=None)


def acting() -> str | None:
    """The rule whose actions run now (None: no automation is acting)."""
    return _acting.get()


@dataclass
class Loaded:
    """The rules in force, and the file's latest mistake (kept rules stay in force)."""

    rules: RuleSet = field(default_factory=RuleSet)
    error: RulesError | None = None
    stamp: tuple[int, int] | None = None
    loaded: bool = False


def read_rules(path: str) -> RuleSet:
    """The rules of the file at `path`; RulesError says what is wrong and on which line."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise RulesError(0, f"cannot read {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RulesError(0, f"cannot read {path}: {exc}") from None
    return parse_rules(text)


class RulesFile:
    """AUTOMATIONS_FILE, read again whenever its modification time or size changes."""

    def __init__(self, path: str = "") -> None:
        self.path = path.strip()
        self.state = Loaded()

    def current(self) -> Loaded:
        if not self.path:
            return self.state
        try:
            st = os.stat(self.path)
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        if self.state.loaded and stamp == self.state.stamp:
            return self.state
        self.state.stamp, self.state.loaded = stamp, True
        if stamp is None:
            self.state.error = RulesError(0, f"cannot read {self.path}: no such file")
            log.error("automations: %s", self.state.error)
            return self.state
        try:
            rules = read_rules(self.path)
        except RulesError as exc:
            self.state.error = exc
        else:
            self.state.rules, self.state.error = rules, None
            log.info("automations: %d rules in force from %s", len(rules.rules), self.path)
            return self.state
        log.error("automations: %s (the rules before it stay in force)", self.state.error)
        return self.state


@dataclass
class Facts:
    """What the conditions look at, read once per run."""

    dialog: Dialog
    channel: Channel
    at: datetime
    message: Message | None
    tags: set[str] | None = None
    first_contact: bool | None = None


@dataclass
class Pass:
    """One event's run of the rules."""

    ref: str
    assigned: bool = False


class Automations:
    def __init__(
        self,
        ctx: CoreContext,
        dialogs: DialogService,
        conversation: ConversationService,
        outbox: OutboxWorker,
        ticker: Ticker,
    ) -> None:
        self.ctx = ctx
        self.dialogs = dialogs
        self.conversation = conversation
        self.file = RulesFile()
        self.templates = TemplateService(ctx)
        outbox.handle(RUN, self.run)
        bus = ctx.bus
        bus.on_change(EpisodeStarted, self.on_episode)
        bus.on_change(MessageCreated, self.on_message)
        bus.on_change(StatusChanged, self.on_status)
        ticker.every_tick("automations", self.sweep)

    def load(self, path: str) -> None:
        """Take the rules from `path` ("" = none): read now, and again when it changes."""
        self.file = RulesFile(path)
        self.file.current()

    # ---- what is in force -------------------------------------------------------------------

    def current(self) -> Loaded:
        return self.file.current()

    @property
    def rules(self) -> RuleSet:
        return self.file.current().rules

    def _wanted(self, event: str) -> bool:
        if not self.file.path or acting() is not None:
            return False
        triggers = self.rules.triggers()
        return any(t in triggers for t in STARTS[event])

    @property
    def sets_service_levels(self) -> bool:
        """The file in force has `sla:` items (without them `sla_override` is always None)."""
        return bool(self.file.path) and bool(self.rules.slas)

    async def sla_override(self, dialog_id: int) -> Override | None:
        """The service-level targets the file sets for the dialog (first response, next
        response; None in either: that target is off; KEEP: left out, the settings' target):
        its first `sla` item whose conditions hold. None: no item holds — the settings'
        targets apply."""
        slas = self.rules.slas if self.file.path else []
        if not slas:
            return None
        dialog = await Dialog.get_or_none(id=dialog_id)
        if dialog is None:
            return None
        facts = Facts(
            dialog,
            await Channel.get(id=dialog.channel_id),  # type: ignore[attr-defined]
            self.ctx.clock.now(),
            None,
        )
        for sla in slas:
            if await self.holds(sla.conditions, facts):
                return sla.first_response, sla.next_response
        return None

    # ---- events (durable subscribers: in the change's transaction) --------------------------

    async def _queue(self, payload: dict[str, Any]) -> None:
        await enqueue(
            self.ctx,
            RUN,
            payload,
            priority=Priority.TOPIC_MESSAGE,
            lane=f"automation:{payload['dialog_id']}",
        )

    async def on_episode(self, event: EpisodeStarted) -> None:
        if event.dialog_id and self._wanted(EPISODE):
            at = (event.at or self.ctx.clock.now()).isoformat()
            await self._queue(
                {
                    "event": EPISODE,
                    "dialog_id": event.dialog_id,
                    "episode_id": event.episode_id,
                    "at": at,
                }
            )

    async def on_message(self, event: MessageCreated) -> None:
        if event.kind != MessageKind.IN.value or not event.dialog_id:
            return
        if self._wanted(CLIENT_MESSAGE):
            at = (event.at or self.ctx.clock.now()).isoformat()
            await self._queue(
                {
                    "event": CLIENT_MESSAGE,
                    "dialog_id": event.dialog_id,
                    "message_id": event.message_id,
                    "at": at,
                }
            )

    async def on_status(self, event: StatusChanged) -> None:
        if not event.dialog_id:
            return
        if event.new == DialogStatus.CLOSED.value and event.old != event.new:
            kind = CLOSED
        elif event.data.get("action") == "wake":
            kind = WOKE
        else:
            return
        if self._wanted(kind):
            at = (event.at or self.ctx.clock.now()).isoformat()
            await self._queue({"event": kind, "dialog_id": event.dialog_id, "at": at})

    # ---- waits (the ticker) -------------------------------------------------------------------

    async def sweep(self) -> int:
        """Fire each time rule once per wait that has lasted its time (also for waits that
        ran out while the process was down)."""
        if not self.file.path:
            return 0
        timed = [r for r in self.rules.rules if r.trigger.after is not None]
        if not timed:
            return 0
        now = self.ctx.clock.now()
        fired = 0
        for rule in timed:
            assert rule.trigger.after is not None
            since = now - rule.trigger.after
            open_ = Dialog.filter(status=DialogStatus.OPEN)
            if rule.trigger.kind == "waiting_for_operator":
                rows = await open_.filter(waiting_since__lte=since).values_list(
                    "id", "waiting_since"
                )
            else:
                rows = await open_.filter(
                    waiting_since__isnull=True, last_message_at__lte=since
                ).values_list("id", "last_message_at")
            if not rows:
                continue
            waits = {int(str(d)): wait_key(w) for d, w in rows}
            done = set(
                await AutomationFiring.filter(
                    rule=rule.name, dialog_id__in=list(waits)
                ).values_list("dialog_id", "wait")
            )
            for dialog_id, wait in waits.items():
                if (dialog_id, wait) in done:
                    continue
                try:
                    async with in_transaction():
                        await AutomationFiring.create(
                            rule=rule.name, dialog_id=dialog_id, wait=wait, at=now
                        )
                        await self._queue(
                            {
                                "event": TIMER,
                                "dialog_id": dialog_id,
                                "rule": rule.name,
                                "trigger": rule.trigger.kind,
                                "wait": wait,
                                "at": now.isoformat(),
                            }
                        )
                except IntegrityError:
                    continue  # fired already (another sweep got there first)
                fired += 1
        return fired

    # ---- the run (the outbox row's handler) ---------------------------------------------------

    async def run(self, item: OutboxItem) -> None:
        p = item.payload
        dialog = await Dialog.get_or_none(id=p["dialog_id"])
        if dialog is None:
            return
        event = p["event"]
        rules = self.rules.rules if self.file.path else []
        message: Message | None
        if event == TIMER:
            rules = [r for r in rules if r.name == p["rule"] and r.trigger.kind == p["trigger"]]
            if not rules or not await still_waiting(dialog, p["trigger"], p["wait"]):
                return
            message = await last_client_message(dialog.id)
        else:
            starts = STARTS[event]
            rules = [r for r in rules if r.trigger.kind in starts]
            if not rules:
                return
            if event == EPISODE:
                message = await episode_opening(p["episode_id"])
                if message is None or message.kind is not MessageKind.IN:
                    return  # an operator reopened it: no client started this episode
            elif event == CLIENT_MESSAGE:
                message = await Message.get_or_none(id=p["message_id"])
            else:
                message = await last_client_message(dialog.id)
        at = datetime.fromisoformat(p["at"]) if p.get("at") else self.ctx.clock.now()
        channel = await Channel.get(id=dialog.channel_id)  # type: ignore[attr-defined]
        facts = Facts(dialog, channel, at, message)
        run = Pass(ref=f"auto:{item.id}")
        for index, rule in enumerate(rules):
            if not await self.holds(rule.conditions, facts):
                continue
            await self.act(rule, facts, run, index)

    async def holds(self, c: Conditions, facts: Facts) -> bool:
        channel = facts.channel
        if c.channels and not {str(channel.id), channel.name.lower(), channel.key.lower()} & set(
            c.channels
        ):
            return False
        if c.channel_kinds and channel.kind.value not in c.channel_kinds:
            return False
        if c.needs_text:
            message = facts.message
            text = f"{message.subject}\n{message.text}" if message else ""
            if c.text_contains and not any(w in text.lower() for w in c.text_contains):
                return False
            if c.text_matches is not None and not c.text_matches.search(text):
                return False
        if c.tags:
            if facts.tags is None:
                facts.tags = {t.name for t in await facts.dialog.tags.all()}
            if not facts.tags & set(c.tags):
                return False
        hours = c.business_hours
        if hours is not None and self.ctx.business_hours.is_open(facts.at) != hours:
            return False
        if c.languages:
            language = dict(facts.dialog.context or []).get("language", "").lower()
            if not any(language == x or language.startswith(x + "-") for x in c.languages):
                return False
        if c.first_contact is not None:
            if facts.first_contact is None:
                facts.first_contact = await first_contact(facts.dialog)
            if facts.first_contact != c.first_contact:
                return False
        return True

    async def act(self, rule: Rule, facts: Facts, run: Pass, index: int) -> None:
        token = _acting.set(rule.name)
        try:
            for number, action in enumerate(rule.actions):
                ref = f"{run.ref}:{index}:{number}"
                try:
                    await self.do(action, rule, facts, run, ref)
                except Exception:
                    log.exception(
                        "automation '%s': %s on dialog %s failed",
                        rule.name,
                        action.kind,
                        facts.dialog.id,
                    )
        finally:
            _acting.reset(token)

    async def do(self, action: Action, rule: Rule, facts: Facts, run: Pass, ref: str) -> None:
        dialog_id = facts.dialog.id
        robot_answer = facts.message is not None and facts.message.automatic
        kind = action.kind
        if kind == "assign":
            policy = action.value
            if run.assigned:
                return  # an earlier rule of this event assigned it
            if policy.operator is None:
                current = await Dialog.get(id=dialog_id)
                if current.assignee_id is not None:  # type: ignore[attr-defined]
                    return  # distributing never takes a dialog from its person
            who = await choose(self.ctx, policy, dialog_id)
            if who is None:
                log.info("automation '%s': nobody to assign dialog %s to", rule.name, dialog_id)
                return
            await self.dialogs.assign(dialog_id, who, None)
            run.assigned = True
        elif kind == "tag":
            await self.dialogs.tag(dialog_id, action.value, None)
            if facts.tags is not None:
                facts.tags |= set(action.value)
        elif kind == "send_template":
            if robot_answer:
                return
            template = await self.templates.get(action.value)
            if template is None:
                log.warning("automation '%s': no template '%s'", rule.name, action.value)
                return
            text = await self.rendered(template.text, facts.dialog)
            await self.reply(rule, dialog_id, template.content.with_text(text), ref, template.name)
        elif kind == "comment":
            if await Message.exists(dialog_id=dialog_id, external_id=ref):
                return
            message = await self.conversation.comment(
                dialog_id, await robot(self.ctx), action.value, source_ref=ref
            )
            await self.show(rule, dialog_id, message, "")
        elif kind == "snooze":
            current = await Dialog.get(id=dialog_id)
            if current.status is not DialogStatus.OPEN:
                return
            until = self.ctx.clock.now() + action.value if action.value else None
            await self.dialogs.snooze(dialog_id, until, None, f"automation: {rule.name}")
        elif kind == "close":
            current = await Dialog.get(id=dialog_id)
            if current.status is DialogStatus.CLOSED:
                return
            if action.value and not robot_answer:
                await self.reply(rule, dialog_id, action.value, ref, "")
            await self.dialogs.close(dialog_id, None, f"automation: {rule.name}")
        elif kind == "notify":
            await enqueue(
                self.ctx,
                NOTIFY,
                {"dialog_id": dialog_id, "rule": rule.name, "trigger": rule.trigger.kind},
                priority=Priority.PRIVATE,
            )

    async def rendered(self, text: str, dialog: Dialog) -> str:
        client = await Client.get_or_none(id=dialog.client_id)  # type: ignore[attr-defined]
        assignee_id = (await Dialog.get(id=dialog.id)).assignee_id  # type: ignore[attr-defined]
        assignee = await Operator.get_or_none(id=assignee_id) if assignee_id else None
        return render(
            text, client=client.name if client else "", operator=assignee.name if assignee else ""
        )

    async def reply(self, rule: Rule, dialog_id: int, content: Any, ref: str, what: str) -> None:
        """An automatic message to the client (once per ref), shown in the topic."""
        if await Message.exists(dialog_id=dialog_id, external_id=ref):
            return  # sent before a restart cut the run short
        message = await self.conversation.reply(
            dialog_id, await robot(self.ctx), content, source_ref=ref, automatic=True
        )
        await self.show(rule, dialog_id, message, what)

    async def show(self, rule: Rule, dialog_id: int, message: Message, what: str) -> None:
        await enqueue(
            self.ctx,
            SHOW,
            {"dialog_id": dialog_id, "message_id": message.id, "rule": rule.name, "what": what},
            priority=Priority.TOPIC_MESSAGE,
            lane=f"topic:{dialog_id}",
        )


def wait_key(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


async def still_waiting(dialog: Dialog, trigger: str, wait: str) -> bool:
    """The wait the firing was for goes on (nobody answered since the sweep saw it)."""
    if dialog.status is not DialogStatus.OPEN:
        return False
    if trigger == "waiting_for_operator":
        return dialog.waiting_since is not None and wait_key(dialog.waiting_since) == wait
    return dialog.waiting_since is None and wait_key(dialog.last_message_at) == wait


async def last_client_message(dialog_id: int) -> Message | None:
    return await Message.filter(dialog_id=dialog_id, kind=MessageKind.IN).order_by("-id").first()


async def episode_opening(episode_id: int) -> Message | None:
    """The first message of the episode (the client's, when they started it)."""
    return await Message.filter(episode_id=episode_id).order_by("id").first()


async def first_contact(dialog: Dialog) -> bool:
    """The client's first dialog ever, in its first episode."""
    earlier = await Dialog.exists(
        client_id=dialog.client_id,  # type: ignore[attr-defined]
        id__lt=dialog.id,
    )
    if earlier:
        return False
    return not await Episode.exists(dialog_id=dialog.id, number__gt=1)


async def robot(ctx: CoreContext) -> Operator:
    """The author of automatic messages: an operator no list shows (never active)."""
    found = await Operator.get_or_none(user_id=ROBOT_USER_ID)
    if found is not None:
        return found
    try:
        return await Operator.create(
            user_id=ROBOT_USER_ID, name=ROBOT_NAME, active=False, created_at=ctx.clock.now()
        )
    except IntegrityError:
        return await Operator.get(user_id=ROBOT_USER_ID)
