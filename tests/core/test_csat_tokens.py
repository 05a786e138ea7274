"""The survey's tokens (core.csat): signed, so a survey id alone, a neighbour's id with
another's MAC, or a token made with another key names nothing; CSAT_ENABLED's forms."""

from __future__ import annotations

import pytest

from bot.config import Settings
from core.csat import ALL, enabled_kinds, sign, verify

KEY = b"k" * 32


def test_a_token_names_its_survey_and_nothing_else():
    token = sign(KEY, 41)
    assert verify(KEY, token) == 41
    mac = token.partition(".")[2]
    assert verify(KEY, f"42.{mac}") is None
    assert verify(KEY, "41") is None
    assert verify(KEY, f"41.{mac[:-1]}") is None
    assert verify(b"other" * 8, token) is None
    assert verify(KEY, "x.y") is None


def settings(value: str) -> Settings:
    return Settings(_env_file=None, BOT_TOKEN="1:abc", TEAM_CHAT_ID=-100123, CSAT_ENABLED=value)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("value", "stored", "kinds"),
    [
        ("", "", frozenset()),
        ("false", "", frozenset()),
        ("true", "true", frozenset({ALL})),
        ("Telegram, email", "telegram,email", frozenset({"telegram", "email"})),
        ("webchat;webchat", "webchat", frozenset({"webchat"})),
    ],
)
def test_csat_enabled_forms(value: str, stored: str, kinds: frozenset[str]):
    kept = settings(value).CSAT_ENABLED
    assert kept == stored
    assert enabled_kinds(stored) == kinds


def test_a_wrong_kind_is_named_with_the_right_forms():
    with pytest.raises(Exception, match=r"names no channel kind telgram: use true"):
        settings("telgram,email")
