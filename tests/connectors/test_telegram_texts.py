"""Telegram's text rules: UTF-16 lengths, splitting at breaks with formatting kept."""

from __future__ import annotations

from connectors.telegram.texts import split_text, to_entities, utf16_len


def test_utf16_counts_emoji_as_two() -> None:
    assert utf16_len("a😀") == 3


def test_short_text_is_one_part() -> None:
    assert split_text("hi", [{"type": "bold", "offset": 0, "length": 2}]) == [
        ("hi", [{"type": "bold", "offset": 0, "length": 2}])
    ]


def test_cuts_prefer_paragraphs_then_lines_then_words() -> None:
    # The break stays at the end of its part: joined, the parts are the text.
    assert [p for p, _ in split_text("aaaa\n\nbb\ncc", [], limit=8)] == ["aaaa\n\n", "bb\ncc"]
    assert [p for p, _ in split_text("aaaa\nbb cc", [], limit=8)] == ["aaaa\n", "bb cc"]
    assert [p for p, _ in split_text("aaa bbb ccc", [], limit=8)] == ["aaa bbb ", "ccc"]
    assert [p for p, _ in split_text("abcdefghij", [], limit=4)] == ["abcd", "efgh", "ij"]


def test_a_break_early_in_the_part_is_not_where_it_is_cut() -> None:
    # A name on its own line above a long text: the first part is filled, not the name alone.
    text = "Ann\n" + "word " * 10
    parts = [p for p, _ in split_text(text, [], limit=20)]
    assert parts[0].startswith("Ann\nword word") and "".join(parts) == text


def test_blank_lines_survive_a_split() -> None:
    text = "\n\n".join(f"paragraph {i} " + "x" * 30 for i in range(20))
    parts = [p for p, _ in split_text(text, [], limit=200)]
    assert len(parts) > 3 and "".join(parts) == text
    assert all(len(p) <= 200 for p in parts)


def test_a_span_stops_before_the_break_at_a_cut() -> None:
    parts = split_text("aaaa\n\nbbbb", [{"type": "bold", "offset": 0, "length": 10}], limit=7)
    assert parts == [
        ("aaaa\n\n", [{"type": "bold", "offset": 0, "length": 4}]),
        ("bbbb", [{"type": "bold", "offset": 0, "length": 4}]),
    ]


def test_a_cut_never_splits_an_emoji_and_spans_follow_their_text() -> None:
    text = "😀" * 5  # 10 UTF-16 units
    parts = split_text(text, [{"type": "italic", "offset": 2, "length": 6}], limit=4)
    assert [p for p, _ in parts] == ["😀😀", "😀😀", "😀"]
    assert [e for _, e in parts] == [
        [{"type": "italic", "offset": 2, "length": 2}],
        [{"type": "italic", "offset": 0, "length": 4}],
        [],
    ]


def test_blank_parts_are_dropped() -> None:
    assert [p for p, _ in split_text("aaaa\n\n\n\n   \n\nbbbb", [], limit=4)] == ["aaaa", "bbbb"]


def test_unknown_or_empty_spans_are_not_sent() -> None:
    entities = to_entities(
        [
            {"type": "bold", "offset": 0, "length": 1},
            {"type": "sparkle", "offset": 0, "length": 1},
            {"type": "italic", "offset": 0, "length": 0},
        ]
    )
    assert entities is not None and [e.type for e in entities] == ["bold"]
    assert to_entities([]) is None
