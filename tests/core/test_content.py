"""The channel-neutral content model: spans in code points, cut and carried with the text."""

from __future__ import annotations

from core.content import (
    Attachment,
    AttachmentKind,
    Content,
    Span,
    SpanKind,
    Utf16,
    clip,
    shift,
    split,
    utf16_len,
)


def test_a_short_text_is_one_part_with_its_spans() -> None:
    spans = (Span(SpanKind.BOLD, 0, 5),)
    assert split("Hello world\n\n", spans, 100) == [("Hello world\n\n", spans)]


def test_split_cuts_at_a_paragraph_and_keeps_each_parts_spans() -> None:
    text = "first part here\n\nsecond part here"
    # Bold across the break; a link inside the second part.
    spans = (Span(SpanKind.BOLD, 6, 24), Span(SpanKind.LINK, 24, 28, url="https://x.io"))
    parts = split(text, spans, 20)
    assert [p for p, _ in parts] == ["first part here\n\n", "second part here"]
    first, second = (s for _, s in parts)
    # The bold stops where the first part's visible text stops (the break is not bold).
    assert first == (Span(SpanKind.BOLD, 6, 15),)
    assert second == (Span(SpanKind.BOLD, 0, 7), Span(SpanKind.LINK, 7, 11, url="https://x.io"))
    assert parts[1][0][7:11] == "part"
    assert "".join(p for p, _ in parts) == text


def test_split_by_another_measure_counts_in_its_units() -> None:
    # Ten emoji are ten code points but twenty UTF-16 units.
    text = "😀" * 10
    assert len(split(text, (), 10)) == 1
    parts = split(text, (Span(SpanKind.ITALIC, 3, 7),), 10, measure=utf16_len)
    assert [p for p, _ in parts] == ["😀" * 5, "😀" * 5]
    assert [s for _, s in parts] == [(Span(SpanKind.ITALIC, 3, 5),), (Span(SpanKind.ITALIC, 0, 2),)]


def test_a_word_longer_than_the_limit_is_cut_anywhere() -> None:
    parts = split("abcdefghij", (Span(SpanKind.CODE, 0, 10),), 4)
    assert [p for p, _ in parts] == ["abcd", "efgh", "ij"]
    assert [s for _, s in parts] == [
        (Span(SpanKind.CODE, 0, 4),),
        (Span(SpanKind.CODE, 0, 4),),
        (Span(SpanKind.CODE, 0, 2),),
    ]


def test_clip_and_shift() -> None:
    spans = (Span(SpanKind.BOLD, 0, 4), Span(SpanKind.ITALIC, 6, 9), Span(SpanKind.CODE, 12, 14))
    assert clip(spans, 2, 8) == (Span(SpanKind.BOLD, 0, 2), Span(SpanKind.ITALIC, 4, 6))
    assert clip(spans, 4, 6) == ()
    assert shift(spans[:1], 3) == (Span(SpanKind.BOLD, 3, 7),)


def test_content_survives_json() -> None:
    content = Content(
        text="see 🙂 the file",
        spans=(
            Span(SpanKind.PRE, 0, 3, language="python"),
            Span(SpanKind.LINK, 4, 5, url="https://x.io"),
        ),
        attachments=(
            Attachment(
                AttachmentKind.DOCUMENT,
                name="a.pdf",
                mime="application/pdf",
                size=10,
                blob="ab" * 32,
                sources={"telegram:7": {"file_id": "F", "file_unique_id": "U"}},
            ),
            Attachment(AttachmentKind.LOCATION, data={"latitude": 1.5, "longitude": 2.5}),
        ),
    )
    assert Content.from_json(content.to_json()) == content
    assert content.attachments[0].source("telegram:7") == {"file_id": "F", "file_unique_id": "U"}
    assert not content.attachments[1].is_file


def test_what_is_no_span_or_attachment_of_ours_is_left_out_when_read() -> None:
    raw = {
        "text": "hi",
        "spans": [{"kind": "blink", "start": 0, "end": 1}, {"kind": "bold", "start": 1, "end": 1}],
        "attachments": [{"kind": "hologram"}, {"kind": "photo", "size": "big"}],
    }
    assert Content.from_json(raw) == Content("hi", (), (Attachment(AttachmentKind.PHOTO),))


def test_utf16_offsets_both_ways() -> None:
    text = "a😀b"
    index = Utf16(text)
    assert index.length == utf16_len(text) == 4
    assert [index.units(i) for i in range(4)] == [0, 1, 3, 4]
    assert index.span_range(1, 2) == (1, 2)  # the emoji
    assert index.span_range(3, 1) == (2, 3)  # "b"
    # A range that starts or ends inside the emoji takes it whole.
    assert index.span_range(2, 2) == (1, 3)
    assert index.span_range(0, 2) == (0, 2)
