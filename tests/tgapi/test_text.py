"""Telegram's text rules: UTF-16 lengths and entities, splitting at breaks with formatting kept."""

from __future__ import annotations

from aiogram.types import MessageEntity, User

from core.content import Span, SpanKind
from tgapi.text import from_entities, split, to_entities, utf16_len, with_header

B = SpanKind.BOLD


def entity(type_: str, offset: int, length: int, **extra: object) -> MessageEntity:
    return MessageEntity(type=type_, offset=offset, length=length, **extra)


def test_utf16_counts_emoji_as_two() -> None:
    assert utf16_len("a😀") == 3


def test_entities_after_an_emoji_become_spans_in_code_points_and_back() -> None:
    text = "😀 bold, a link and /cmd"
    entities = [
        entity("bold", 3, 4),
        entity("text_link", 9, 6, url="https://x.io"),
        entity("bot_command", 20, 4),  # Telegram's own find: no formatting of the sender's
    ]
    spans = from_entities(text, entities)
    assert spans == (Span(B, 2, 6), Span(SpanKind.LINK, 8, 14, url="https://x.io"))
    assert text[2:6] == "bold" and text[8:14] == "a link"
    back = to_entities(text, spans)
    assert back is not None
    assert [(e.type, e.offset, e.length, e.url) for e in back] == [
        ("bold", 3, 4, None),
        ("text_link", 9, 6, "https://x.io"),
    ]


def test_each_kind_of_formatting_has_its_span() -> None:
    text = "abcdefghijklmnop"
    user = User(id=5, is_bot=False, first_name="Ann")
    spans = from_entities(
        text,
        [
            entity("italic", 0, 1),
            entity("underline", 1, 1),
            entity("strikethrough", 2, 1),
            entity("spoiler", 3, 1),
            entity("code", 4, 1),
            entity("pre", 5, 1, language="python"),
            entity("url", 6, 3),
            entity("text_mention", 9, 1, user=user),
            entity("mention", 10, 2),
            entity("blockquote", 12, 1),
            entity("expandable_blockquote", 13, 1),
            entity("hashtag", 14, 2),
        ],
    )
    assert [(s.kind.value, s.url, s.language) for s in spans] == [
        ("italic", None, None),
        ("underline", None, None),
        ("strike", None, None),
        ("spoiler", None, None),
        ("code", None, None),
        ("pre", None, "python"),
        ("link", "ghi", None),
        ("mention", "tg://user?id=5", None),
        ("mention", None, None),
        ("quote", None, None),
        ("quote", None, None),
    ]
    back = to_entities(text, spans) or []
    assert [e.type for e in back] == [
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "pre",
        "text_link",
        "text_link",  # a person by a link; an @mention alone Telegram finds by itself
        "blockquote",
        "blockquote",
    ]
    assert back[5].language == "python" and back[7].url == "tg://user?id=5"


def test_no_spans_no_entities() -> None:
    assert to_entities("hi", ()) is None
    assert from_entities("hi", None) == ()


def test_header_is_bold_above_the_text_and_moves_its_spans() -> None:
    text, spans = with_header("Ann 😀", "hello", (Span(SpanKind.ITALIC, 0, 5),))
    assert text == "Ann 😀\nhello"
    assert spans == (Span(B, 0, 5), Span(SpanKind.ITALIC, 6, 11))
    assert [(e.offset, e.length) for e in to_entities(text, spans) or []] == [(0, 6), (7, 5)]
    assert with_header("Ann", "") == ("Ann", (Span(B, 0, 3),))


def test_short_text_is_one_part() -> None:
    assert split("hi", [Span(B, 0, 2)]) == [("hi", (Span(B, 0, 2),))]


def test_cuts_prefer_paragraphs_then_lines_then_words() -> None:
    # The break stays at the end of its part: joined, the parts are the text.
    assert [p for p, _ in split("aaaa\n\nbb\ncc", [], limit=8)] == ["aaaa\n\n", "bb\ncc"]
    assert [p for p, _ in split("aaaa\nbb cc", [], limit=8)] == ["aaaa\n", "bb cc"]
    assert [p for p, _ in split("aaa bbb ccc", [], limit=8)] == ["aaa bbb ", "ccc"]
    assert [p for p, _ in split("abcdefghij", [], limit=4)] == ["abcd", "efgh", "ij"]


def test_a_break_early_in_the_part_is_not_where_it_is_cut() -> None:
    # A name on its own line above a long text: the first part is filled, not the name alone.
    text = "Ann\n" + "word " * 10
    parts = [p for p, _ in split(text, [], limit=20)]
    assert parts[0].startswith("Ann\nword word") and "".join(parts) == text


def test_blank_lines_survive_a_split() -> None:
    text = "\n\n".join(f"paragraph {i} " + "x" * 30 for i in range(20))
    parts = [p for p, _ in split(text, [], limit=200)]
    assert len(parts) > 3 and "".join(parts) == text
    assert all(len(p) <= 200 for p in parts)


def test_a_span_stops_before_the_break_at_a_cut() -> None:
    parts = split("aaaa\n\nbbbb", [Span(B, 0, 10)], limit=7)
    assert parts == [("aaaa\n\n", (Span(B, 0, 4),)), ("bbbb", (Span(B, 0, 4),))]


def test_a_cut_never_splits_an_emoji_and_spans_follow_their_text() -> None:
    text = "😀" * 5  # 10 UTF-16 units
    parts = split(text, [Span(SpanKind.ITALIC, 1, 4)], limit=4)
    assert [p for p, _ in parts] == ["😀😀", "😀😀", "😀"]
    assert [s for _, s in parts] == [
        (Span(SpanKind.ITALIC, 1, 2),),
        (Span(SpanKind.ITALIC, 0, 2),),
        (),
    ]
    # Each part's entities are its own, in its own UTF-16 units.
    assert [(e.offset, e.length) for e in to_entities(*parts[0]) or []] == [(2, 2)]


def test_blank_parts_are_dropped() -> None:
    assert [p for p, _ in split("aaaa\n\n\n\n   \n\nbbbb", [], limit=4)] == ["aaaa", "bbbb"]
