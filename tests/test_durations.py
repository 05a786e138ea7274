from datetime import timedelta

import pytest

from core.durations import format_duration, parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("48h", timedelta(hours=48)),
        ("3d", timedelta(days=3)),
        ("2w", timedelta(weeks=2)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("0h30m", timedelta(minutes=30)),
        (" 1h 30m ", timedelta(hours=1, minutes=30)),
        ("48 h", timedelta(hours=48)),
        ("48H", timedelta(hours=48)),
        ("10min", timedelta(minutes=10)),
        ("30мин", timedelta(minutes=30)),
        ("30 мин", timedelta(minutes=30)),
        ("2ч", timedelta(hours=2)),
        ("3д", timedelta(days=3)),
        ("1Ч 15М", timedelta(hours=1, minutes=15)),
    ],
)
def test_parses(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "48", "h", "5 days", "1.5h", "1,5h", "48h!", "3dd", "1h1h", "1h30", "+5m", "soon"],
)
def test_rejects_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(ValueError, match="use a number with s, m, h or d, like 48h"):
        parse_duration(text)


@pytest.mark.parametrize(("text", "word"), [("0h", "zero"), ("0m0s", "zero"), ("-5m", "negative")])
def test_rejects_zero_and_negative(text: str, word: str) -> None:
    with pytest.raises(ValueError, match=f"^{word}: use a positive number"):
        parse_duration(text)


def test_rejects_absurdly_long() -> None:
    with pytest.raises(ValueError, match="too long"):
        parse_duration("99999999999999d")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(seconds=30), "30s"),
        (timedelta(seconds=90), "1m30s"),
        (timedelta(minutes=15), "15m"),
        (timedelta(hours=1, minutes=30), "1h30m"),
        (timedelta(hours=48), "48h"),
        (timedelta(hours=120), "120h"),
        (timedelta(days=3), "72h"),
        (timedelta(days=10), "10d"),
        (timedelta(weeks=2), "2w"),
        (timedelta(days=8, minutes=1), "192h1m"),
        (timedelta(0), "0s"),
        (timedelta(minutes=-5), "-5m"),
        (timedelta(seconds=1, microseconds=500), "1s"),
    ],
)
def test_formats_compactly(value: timedelta, text: str) -> None:
    assert format_duration(value) == text


@pytest.mark.parametrize(
    "value",
    [
        timedelta(seconds=1),
        timedelta(minutes=59, seconds=59),
        timedelta(hours=48),
        timedelta(days=6, hours=23),
        timedelta(days=9),
        timedelta(weeks=52),
        timedelta(days=400, seconds=7),
    ],
)
def test_format_reads_back(value: timedelta) -> None:
    assert parse_duration(format_duration(value)) == value
