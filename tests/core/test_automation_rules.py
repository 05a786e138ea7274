"""The automations file: the issue's example as written, each mistake named with its line,
YAML 1.2, service levels, and a broken edit that keeps the last good rules in force."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from core.assignment import AssignPolicy
from core.automations.engine import RulesFile, read_rules
from core.automations.rules import RulesError, parse_rules
from core.sla import KEEP
from tests.automation_example import EXAMPLE


def test_the_issue_example_parses_as_written():
    rules = parse_rules(EXAMPLE).rules
    assert [r.name for r in rules] == [
        "out of hours",
        "billing to Pavel",
        "everyone else, fairly",
        "nudge",
    ]
    out, billing, rest, nudge = rules
    assert out.trigger.kind == "new_episode"
    assert out.conditions.business_hours is False
    assert [(a.kind, a.value) for a in out.actions] == [("send_template", "after_hours")]
    assert billing.conditions.text_matches is not None
    assert billing.conditions.text_matches.search("Где мой СЧЁТ?")
    assert [(a.kind, a.value) for a in billing.actions] == [
        ("tag", ("billing",)),
        ("assign", AssignPolicy(operator="@pavel")),
    ]
    assert rest.actions[0].value == AssignPolicy(
        strategy="round_robin", pool="on_duty", max_open=15
    )
    assert nudge.trigger.kind == "waiting_for_operator"
    assert nudge.trigger.after == timedelta(minutes=30)
    assert [a.kind for a in nudge.actions] == ["comment", "notify"]


def test_every_trigger_condition_and_action_is_understood():
    text = """\
- name: all of it
  when: {waiting_for_client: 2h}
  if:
    channel: [Website chat, 3]
    channel_kind: [email, webchat]
    text_contains: [refund, возврат]
    tags: ["#vip", gold]
    inside_business_hours: true
    client_language: ru
    first_contact: false
  then:
    - assign: {least_busy: all}
    - tag: [followup, late]
    - send_template: reminder
    - comment: still silent
    - snooze: 1d
    - snooze: forever
    - close: true
    - close: "We close this for now, write any time"
    - notify: managers
- name: woke
  when: snooze_woke
  then: [{comment: awake}]
- name: closed
  when: closed
  then: [{tag: done}]
- name: each message
  when: client_message
  then: [{tag: seen}]
"""
    rule = parse_rules(text).rules[0]
    c = rule.conditions
    assert rule.trigger.after == timedelta(hours=2)
    assert c.channels == ("website chat", "3")
    assert c.channel_kinds == ("email", "webchat")
    assert c.text_contains == ("refund", "возврат")
    assert c.tags == ("vip", "gold")
    assert c.business_hours is True
    assert c.languages == ("ru",)
    assert c.first_contact is False
    values = [(a.kind, a.value) for a in rule.actions]
    assert values == [
        ("assign", AssignPolicy(strategy="least_busy", pool="all")),
        ("tag", ("followup", "late")),
        ("send_template", "reminder"),
        ("comment", "still silent"),
        ("snooze", timedelta(days=1)),
        ("snooze", None),
        ("close", ""),
        ("close", "We close this for now, write any time"),
        ("notify", "managers"),
    ]


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (
            "- name: a\n  when: new_dialogue\n  then: [{tag: x}]",
            2,
            "unknown trigger 'new_dialogue'",
        ),
        ("- name: a\n  when: waiting_for_operator\n  then: [{tag: x}]", 2, "needs a duration"),
        (
            "- name: a\n  when: {waiting_for_operator: 30x}\n  then: [{tag: x}]",
            2,
            "'30x' is not a duration",
        ),
        (
            "- name: a\n  when: new_dialog\n  if:\n    text_matches: '(oops'\n  then: [{tag: x}]",
            4,
            "not a valid regular expression",
        ),
        (
            "- name: a\n  when: new_dialog\n  if: {colour: red}\n  then: [{tag: x}]",
            3,
            "unknown condition 'colour'",
        ),
        (
            "- name: a\n  when: new_dialog\n  then:\n    - tag: x\n    - frobnicate: 1",
            5,
            "unknown action 'frobnicate'",
        ),
        (
            "- name: a\n  when: new_dialog\n  if: {channel_kind: fax}\n  then: [{tag: x}]",
            3,
            "unknown channel kind 'fax'",
        ),
        (
            "- name: a\n  when: new_dialog\n  then: [{assign: {round_robin: everyone}}]",
            3,
            "round_robin must be on_duty or all",
        ),
        (
            "- name: a\n  when: new_dialog\n  then: [{assign: {round_robin: all, max_open: 0}}]",
            3,
            "max_open must be a whole number above 0",
        ),
        ("- name: a\n  when: new_dialog\n  then: [{snooze: soon}]", 3, "'soon' is not"),
        ("- name: a\n  when: new_dialog\n  then: [{notify: everyone}]", 3, "managers only"),
        ("- name: a\n  when: new_dialog\n  then: []", 3, "needs 'then'"),
        ("- when: new_dialog\n  then: [{tag: x}]", 1, "needs a name"),
        ("- name: a\n  then: [{tag: x}]", 1, "needs 'when'"),
        ("- name: a\n  when: new_dialog\n  than: [{tag: x}]", 3, "unknown key 'than'"),
        (
            "- name: a\n  when: closed\n  then: [{tag: x}]\n- name: a\n  when: closed\n"
            "  then: [{tag: y}]",
            4,
            "two rules are named 'a' (the other on line 1)",
        ),
        ("name: a\nwhen: closed\n", 1, "must be a list of rules"),
        ("- name: a\n  when: [closed\n", 3, "not valid YAML"),
        ("- sla: {first_response: 1h}\n  if: {text_contains: x}", 2, "unknown condition"),
        ("- sla: {first_reply: 1h}", 1, "unknown target 'first_reply'"),
    ],
)
def test_each_mistake_names_its_line_in_plain_words(text, line, words):
    with pytest.raises(RulesError) as caught:
        parse_rules(text)
    assert caught.value.line == line, str(caught.value)
    assert words in str(caught.value)
    assert str(caught.value).startswith(f"line {line}: ")


def test_yaml_1_2_yes_is_a_word_not_true():
    text = "- name: a\n  when: new_dialog\n  if: {outside_business_hours: yes}\n  then: [{tag: x}]"
    with pytest.raises(RulesError) as caught:
        parse_rules(text)
    assert caught.value.line == 3
    assert "must be true or false" in str(caught.value)


def test_service_levels_with_and_without_conditions():
    text = """\
- sla: {first_response: 1h, next_response: 4h}
  if: {channel_kind: email}
- sla: {first_response: 10m}
  if: {tags: [vip]}
- sla: {first_response: off, next_response: 2h}
"""
    slas = parse_rules(text).slas
    assert [(s.first_response, s.next_response) for s in slas] == [
        (timedelta(hours=1), timedelta(hours=4)),
        (timedelta(minutes=10), KEEP),  # left out: the setting's target stays
        (None, timedelta(hours=2)),  # off
    ]
    assert slas[0].conditions.channel_kinds == ("email",)
    assert slas[1].conditions.tags == ("vip",)


def test_an_empty_file_has_no_rules():
    assert parse_rules("").rules == []
    assert parse_rules("# nothing yet\n").rules == []


def test_a_missing_file_is_named():
    with pytest.raises(RulesError) as caught:
        read_rules("/nonexistent/rules.yaml")
    assert "no such file" in str(caught.value)


def test_a_broken_edit_keeps_the_last_good_rules(tmp_path: Path):
    path = tmp_path / "rules.yaml"
    path.write_text(EXAMPLE, encoding="utf-8")
    rules = RulesFile(str(path))
    assert len(rules.current().rules.rules) == 4
    assert rules.current().error is None

    path.write_text(EXAMPLE + "- name: broken\n  when: whenever\n  then: [{tag: x}]\n")
    state = rules.current()
    assert len(state.rules.rules) == 4  # the last good ones stay in force
    assert state.error is not None and state.error.line == 16

    path.write_text("- name: only\n  when: closed\n  then: [{tag: done}]\n")
    stat = path.stat()
    # A same-size edit within the same clock tick would look unchanged: bump the time.
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    state = rules.current()
    assert [r.name for r in state.rules.rules] == ["only"]
    assert state.error is None
