"""/merge with a topic link: which thread of our group a link names (bot/team/clients.py), and
the phone region the group's language implies."""

from __future__ import annotations

import pytest

from bot.team.clients import phone_region, topic_of_link
from bot.team.links import topic_url

CHAT = -1001234567890


@pytest.mark.parametrize(
    ("link", "thread"),
    [
        ("https://t.me/c/1234567890/45", 45),
        ("t.me/c/1234567890/45/", 45),
        ("https://t.me/c/1234567890/45/67", 45),  # a message in topic 45
        ("https://t.me/c/1234567890/67?thread=45", 45),
        (topic_url(CHAT, 45), 45),
        (topic_url(CHAT, 45, 67), 45),
        ("https://t.me/c/999/45", None),  # another group
        ("https://t.me/somebody", None),
        ("https://t.me/c/1234567890/x", None),
    ],
)
def test_a_topic_link_names_a_thread_of_our_group(link: str, thread: int | None) -> None:
    assert topic_of_link(link, CHAT) == thread


def test_a_phone_without_a_plus_is_russian_only_for_a_russian_team() -> None:
    assert phone_region("ru") == "RU"
    assert phone_region("en") is None
