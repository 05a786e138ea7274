"""The automations file (AUTOMATIONS_FILE): parsed and checked, every mistake with its line.

YAML 1.2 (ruamel.yaml): `yes`/`no` are words, not booleans. The top level is a list; each
item is a rule (`name`, `when`, optional `if`, `then`) or a service-level override (`sla`,
optional `if`). See README "## Automations".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from core.assignment import AssignPolicy
from core.durations import parse_duration
from core.models import ChannelKind
from core.sla import KEEP, Keep

# Triggers that an event starts, and those a wait starts (with a duration).
EVENT_TRIGGERS = ("new_dialog", "new_episode", "client_message", "closed", "snooze_woke")
TIME_TRIGGERS = ("waiting_for_operator", "waiting_for_client")
CONDITIONS = (
    "channel",
    "channel_kind",
    "text_contains",
    "text_matches",
    "tags",
    "inside_business_hours",
    "outside_business_hours",
    "client_language",
    "first_contact",
)
SLA_CONDITIONS = ("channel", "channel_kind", "tags")
ACTIONS = ("assign", "tag", "send_template", "comment", "snooze", "close", "notify")
RULE_KEYS = ("name", "when", "if", "then")
SLA_KEYS = ("first_response", "next_response")


@dataclass(frozen=True)
class Trigger:
    kind: str
    after: timedelta | None = None  # the time triggers' wait


@dataclass(frozen=True)
class Conditions:
    """Every condition given must hold; an empty one holds always."""

    channels: tuple[str, ...] = ()
    channel_kinds: tuple[str, ...] = ()
    text_contains: tuple[str, ...] = ()
    text_matches: re.Pattern[str] | None = None
    tags: tuple[str, ...] = ()
    business_hours: bool | None = None  # True: inside; False: outside
    languages: tuple[str, ...] = ()
    first_contact: bool | None = None

    @property
    def needs_text(self) -> bool:
        return bool(self.text_contains) or self.text_matches is not None


@dataclass(frozen=True)
class Action:
    kind: str
    value: Any = None  # str for tag lists etc.; AssignPolicy; timedelta | None for snooze
    line: int = 0


@dataclass(frozen=True)
class Rule:
    name: str
    trigger: Trigger
    conditions: Conditions
    actions: tuple[Action, ...]
    line: int


@dataclass(frozen=True)
class SlaOverride:
    # None: that target off; KEEP: left out, the settings' target applies.
    first_response: timedelta | Keep | None
    next_response: timedelta | Keep | None
    conditions: Conditions
    line: int


@dataclass
class RuleSet:
    rules: list[Rule] = field(default_factory=list)
    slas: list[SlaOverride] = field(default_factory=list)

    def triggers(self) -> set[str]:
        return {rule.trigger.kind for rule in self.rules}

    def templates(self) -> list[tuple[str, int]]:
        """The templates the rules send, with their lines."""
        return [
            (str(a.value), a.line)
            for rule in self.rules
            for a in rule.actions
            if a.kind == "send_template"
        ]


class RulesError(ValueError):
    """A mistake in the file: `line` (1-based, 0: the file as a whole) and what is wrong."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.message = message


def _line(node: Any, key: Any = None, index: int | None = None) -> int:
    """The 1-based line of a mapping's key, a list's item, or the node itself."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return 0
    try:
        if key is not None:
            return int(lc.key(key)[0]) + 1
        if index is not None:
            return int(lc.item(index)[0]) + 1
        return int(lc.line) + 1
    except (KeyError, IndexError, TypeError, AttributeError):
        return int(getattr(lc, "line", -1)) + 1


def _one_of(options: tuple[str, ...]) -> str:
    return ", ".join(options)


def _strings(value: Any, line: int, what: str) -> tuple[str, ...]:
    """A word, a number or a list of them."""
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, bool) or not isinstance(item, str | int) or str(item).strip() == "":
            raise RulesError(line, f"{what} must be a word or a list of words")
        out.append(str(item).strip())
    if not out:
        raise RulesError(line, f"{what} must name at least one")
    return tuple(out)


def _flag(value: Any, line: int, what: str) -> bool:
    if not isinstance(value, bool):
        raise RulesError(line, f"{what} must be true or false (not {value!r})")
    return value


def _duration(value: Any, line: int, what: str) -> timedelta:
    try:
        return parse_duration(str(value))
    except ValueError as exc:
        raise RulesError(line, f"{what}: '{value}' is {exc}") from None


def parse_trigger(node: Any, line: int) -> Trigger:
    if isinstance(node, str):
        if node in EVENT_TRIGGERS:
            return Trigger(node)
        if node in TIME_TRIGGERS:
            raise RulesError(line, f"'{node}' needs a duration: when: {{{node}: 30m}}")
        raise RulesError(
            line,
            f"unknown trigger '{node}': use one of {_one_of(EVENT_TRIGGERS + TIME_TRIGGERS)}",
        )
    if isinstance(node, dict) and len(node) == 1:
        kind, value = next(iter(node.items()))
        if kind in TIME_TRIGGERS:
            return Trigger(str(kind), _duration(value, line, str(kind)))
        raise RulesError(
            line, f"unknown trigger '{kind}': use one of {_one_of(EVENT_TRIGGERS + TIME_TRIGGERS)}"
        )
    raise RulesError(
        line, "'when' must be a trigger, like new_dialog or {waiting_for_operator: 30m}"
    )


def parse_conditions(node: Any, line: int, allowed: tuple[str, ...] = CONDITIONS) -> Conditions:
    if node is None:
        return Conditions()
    if not isinstance(node, dict):
        raise RulesError(line, "'if' must be a mapping, like {tags: [vip]}")
    values: dict[str, Any] = {}
    for key, value in node.items():
        at = _line(node, key) or line
        if key not in allowed:
            hint = "" if allowed is CONDITIONS else " (service levels)"
            raise RulesError(at, f"unknown condition '{key}'{hint}: use one of {_one_of(allowed)}")
        if key == "channel":
            values["channels"] = tuple(s.lower() for s in _strings(value, at, key))
        elif key == "channel_kind":
            kinds = tuple(s.lower() for s in _strings(value, at, key))
            known = tuple(k.value for k in ChannelKind)
            for kind in kinds:
                if kind not in known:
                    raise RulesError(
                        at, f"unknown channel kind '{kind}': use one of {_one_of(known)}"
                    )
            values["channel_kinds"] = kinds
        elif key == "text_contains":
            values["text_contains"] = tuple(s.lower() for s in _strings(value, at, key))
        elif key == "text_matches":
            if not isinstance(value, str) or not value:
                raise RulesError(at, "text_matches must be a regular expression in quotes")
            try:
                values["text_matches"] = re.compile(value)
            except re.error as exc:
                raise RulesError(
                    at, f"text_matches is not a valid regular expression: {exc}"
                ) from None
        elif key == "tags":
            values["tags"] = tuple(s.lstrip("#").lower() for s in _strings(value, at, key))
        elif key in ("inside_business_hours", "outside_business_hours"):
            flag = _flag(value, at, key)
            inside = flag if key == "inside_business_hours" else not flag
            if values.get("business_hours") not in (None, inside):
                raise RulesError(at, "inside and outside business hours at once never hold")
            values["business_hours"] = inside
        elif key == "client_language":
            values["languages"] = tuple(s.lower() for s in _strings(value, at, key))
        elif key == "first_contact":
            values["first_contact"] = _flag(value, at, key)
    return Conditions(**values)


def parse_assign(value: Any, line: int) -> AssignPolicy:
    if isinstance(value, str) and value.strip():
        return AssignPolicy(operator=value.strip())
    if isinstance(value, dict):
        strategies = [k for k in value if k in ("round_robin", "least_busy")]
        unknown = [k for k in value if k not in ("round_robin", "least_busy", "max_open")]
        if unknown:
            raise RulesError(
                _line(value, unknown[0]) or line,
                f"unknown assign option '{unknown[0]}': use round_robin or least_busy,"
                " and max_open",
            )
        if len(strategies) != 1:
            raise RulesError(
                line, "assign needs one of round_robin or least_busy, like {round_robin: on_duty}"
            )
        strategy = strategies[0]
        pool = value[strategy]
        if pool not in ("on_duty", "all"):
            raise RulesError(
                _line(value, strategy) or line, f"{strategy} must be on_duty or all (not {pool!r})"
            )
        cap = value.get("max_open")
        if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap < 1):
            raise RulesError(
                _line(value, "max_open") or line, "max_open must be a whole number above 0"
            )
        return AssignPolicy(strategy=strategy, pool=str(pool), max_open=cap)
    raise RulesError(
        line, 'assign must be an operator ("@pavel") or {round_robin: on_duty, max_open: 15}'
    )


def parse_action(node: Any, line: int) -> Action:
    if not isinstance(node, dict) or len(node) != 1:
        raise RulesError(line, "each action is one key and its value, like {tag: billing}")
    kind, value = next(iter(node.items()))
    if kind not in ACTIONS:
        raise RulesError(line, f"unknown action '{kind}': use one of {_one_of(ACTIONS)}")
    if kind == "assign":
        return Action("assign", parse_assign(value, line), line)
    if kind == "tag":
        return Action(
            "tag", tuple(s.lstrip("#").lower() for s in _strings(value, line, kind)), line
        )
    if kind in ("send_template", "comment"):
        if not isinstance(value, str) or not value.strip():
            what = "a template's name" if kind == "send_template" else "the comment's text"
            raise RulesError(line, f"{kind} needs {what}")
        return Action(kind, value.strip() if kind == "send_template" else value, line)
    if kind == "snooze":
        if value == "forever":
            return Action("snooze", None, line)
        return Action("snooze", _duration(value, line, "snooze"), line)
    if kind == "close":
        if value is True:
            return Action("close", "", line)
        if isinstance(value, str) and value.strip():
            return Action("close", value, line)
        raise RulesError(line, 'close is `close: true`, or `close: "a message to the client"`')
    # notify
    if value != "managers":
        raise RulesError(line, "notify can tell the managers only: notify: managers")
    return Action("notify", "managers", line)


def parse_rule(node: Any, line: int) -> Rule:
    for key in node:
        if key not in RULE_KEYS:
            raise RulesError(
                _line(node, key) or line, f"unknown key '{key}' in a rule: use {_one_of(RULE_KEYS)}"
            )
    name = node.get("name")
    if not isinstance(name, str | int) or isinstance(name, bool) or not str(name).strip():
        raise RulesError(line, "a rule needs a name: name: out of hours")
    if "when" not in node:
        raise RulesError(line, f"rule '{name}' needs 'when' (its trigger)")
    trigger = parse_trigger(node["when"], _line(node, "when") or line)
    conditions = parse_conditions(node.get("if"), _line(node, "if") or line)
    then = node.get("then")
    then_line = _line(node, "then") or line
    if isinstance(then, dict):
        then = [then]
    if not isinstance(then, list) or not then:
        raise RulesError(then_line, f"rule '{name}' needs 'then': a list of actions")
    actions = tuple(
        parse_action(item, _line(then, index=i) or then_line) for i, item in enumerate(then)
    )
    return Rule(str(name).strip(), trigger, conditions, actions, line)


def parse_sla(node: Any, line: int) -> SlaOverride:
    for key in node:
        if key not in ("sla", "if"):
            raise RulesError(
                _line(node, key) or line, f"unknown key '{key}' in a service level: use sla, if"
            )
    sla = node["sla"]
    at = _line(node, "sla") or line
    if not isinstance(sla, dict) or not sla:
        raise RulesError(at, "sla is a mapping, like {first_response: 1h, next_response: 4h}")
    targets: dict[str, timedelta | None] = {}
    for key, value in sla.items():
        key_line = _line(sla, key) or at
        if key not in SLA_KEYS:
            raise RulesError(key_line, f"unknown target '{key}': use {_one_of(SLA_KEYS)}")
        targets[key] = None if value in (None, "off") else _duration(value, key_line, key)
    conditions = parse_conditions(node.get("if"), _line(node, "if") or line, SLA_CONDITIONS)
    return SlaOverride(
        targets.get("first_response", KEEP), targets.get("next_response", KEEP), conditions, line
    )


def parse_rules(text: str) -> RuleSet:
    """The rules of the file's text; RulesError names the first mistake and its line."""
    try:
        data = YAML(typ="rt", pure=True).load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 0
        raise RulesError(line, f"not valid YAML: {exc.problem or exc.context}") from None
    except YAMLError as exc:
        raise RulesError(0, f"not valid YAML: {exc}") from None
    found = RuleSet()
    if data is None:
        return found
    if not isinstance(data, list):
        raise RulesError(
            _line(data) or 1, "the file must be a list of rules, each item starting with '- '"
        )
    names: dict[str, int] = {}
    for index, item in enumerate(data):
        line = _line(data, index=index)
        if not isinstance(item, dict):
            raise RulesError(line, "each item must be a rule (name, when, if, then) or an sla")
        if "sla" in item:
            found.slas.append(parse_sla(item, line))
            continue
        rule = parse_rule(item, line)
        if rule.name in names:
            raise RulesError(
                line, f"two rules are named '{rule.name}' (the other on line {names[rule.name]})"
            )
        names[rule.name] = line
        found.rules.append(rule)
    return found
