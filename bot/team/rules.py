"""/rules in General and in private: the automation rules in force, in plain words, and the
file's mistake (with its line) when the last edit broke it."""

from __future__ import annotations

from datetime import timedelta

from aiogram import Router
from aiogram.filters import Command
from aiogram.types import Message

from bot.i18n import t
from bot.team.context import Team
from core.automations.rules import Action, Conditions, Rule, RuleSet, SlaOverride
from core.durations import format_duration
from core.models import Template
from core.sla import KEEP, Keep
from core.templates import normalize_name


def _words(values: tuple[str, ...], lang: str) -> str:
    return t("rules.or", lang).join(values)


def conditions_text(c: Conditions, lang: str) -> list[str]:
    parts = []
    if c.channels:
        parts.append(t("rules.cond.channel", lang, value=_words(c.channels, lang)))
    if c.channel_kinds:
        parts.append(t("rules.cond.channel_kind", lang, value=_words(c.channel_kinds, lang)))
    if c.text_contains:
        quoted = tuple(f"“{w}”" for w in c.text_contains)
        parts.append(t("rules.cond.text_contains", lang, value=_words(quoted, lang)))
    if c.text_matches is not None:
        parts.append(t("rules.cond.text_matches", lang, value=c.text_matches.pattern))
    if c.tags:
        tags = tuple(f"#{x}" for x in c.tags)
        parts.append(t("rules.cond.tags", lang, value=_words(tags, lang)))
    if c.business_hours is not None:
        key = "inside_business_hours" if c.business_hours else "outside_business_hours"
        parts.append(t(f"rules.cond.{key}", lang))
    if c.languages:
        parts.append(t("rules.cond.client_language", lang, value=_words(c.languages, lang)))
    if c.first_contact is not None:
        key = "first_contact" if c.first_contact else "not_first_contact"
        parts.append(t(f"rules.cond.{key}", lang))
    return parts


def action_text(action: Action, lang: str) -> str:
    kind, value = action.kind, action.value
    if kind == "assign":
        if value.operator:
            return t("rules.do.assign_named", lang, value=value.operator)
        cap = t("rules.cap", lang, max_open=value.max_open) if value.max_open else ""
        pool = t(f"rules.pool.{value.pool}", lang)
        return t(f"rules.do.{value.strategy}", lang, pool=pool, cap=cap)
    if kind == "tag":
        return t("rules.do.tag", lang, value=" ".join(f"#{x}" for x in value))
    if kind == "snooze":
        if value is None:
            return t("rules.do.snooze_forever", lang)
        return t("rules.do.snooze", lang, value=format_duration(value))
    if kind == "close":
        return t("rules.do.close_with", lang, value=value) if value else t("rules.do.close", lang)
    if kind == "notify":
        return t("rules.do.notify", lang)
    return t(f"rules.do.{kind}", lang, value=value)


def rule_text(number: int, rule: Rule, lang: str) -> str:
    after = format_duration(rule.trigger.after) if rule.trigger.after else ""
    when = t(f"rules.when.{rule.trigger.kind}", lang, after=after)
    conditions = conditions_text(rule.conditions, lang)
    shown = t("rules.if", lang, conditions=t("rules.and", lang).join(conditions))
    return t(
        "rules.item",
        lang,
        number=number,
        name=rule.name,
        when=when,
        conditions=shown if conditions else "",
        actions="; ".join(action_text(a, lang) for a in rule.actions),
    )


def target(value: timedelta | Keep | None, lang: str) -> str:
    if value is KEEP:
        return t("rules.as_set", lang)
    return format_duration(value) if isinstance(value, timedelta) else t("rules.off", lang)


def sla_text(sla: SlaOverride, lang: str) -> str:
    conditions = conditions_text(sla.conditions, lang)
    return t(
        "rules.sla_item",
        lang,
        conditions=t("rules.and", lang).join(conditions) or t("rules.sla_any", lang),
        first=target(sla.first_response, lang),
        next=target(sla.next_response, lang),
    )


async def missing_templates(rules: RuleSet) -> list[tuple[str, int]]:
    names = {x.name for x in await Template.all()}
    return [(name, line) for name, line in rules.templates() if normalize_name(name) not in names]


async def rules_text(team: Team, lang: str) -> str:
    automations = team.core.automations
    if not automations.file.path:
        return t("rules.none", lang)
    state = automations.current()
    rules = state.rules
    lines: list[str] = []
    if rules.rules:
        lines.append(t("rules.title", lang, count=len(rules.rules)))
        lines.extend(rule_text(i, rule, lang) for i, rule in enumerate(rules.rules, 1))
    elif not state.error:
        lines.append(t("rules.empty", lang))
    if rules.slas:
        lines.append(t("rules.sla_title", lang))
        lines.extend(sla_text(sla, lang) for sla in rules.slas)
    for name, line in await missing_templates(rules):
        lines.append(t("rules.missing_template", lang, name=name, line=line))
    if state.error is not None:
        key = "rules.error" if rules.rules or rules.slas else "rules.error_none"
        lines.append(t(key, lang, error=str(state.error)))
    return "\n\n".join(lines)


def rules_router(team: Team, name: str) -> Router:
    """/rules; include under Teamwork.in_group or in_private (members only)."""
    router = Router(name=name)

    @router.message(Command("rules"))
    async def rules_(message: Message, lang: str) -> None:
        await team.answer(message, await rules_text(team, lang))

    return router
