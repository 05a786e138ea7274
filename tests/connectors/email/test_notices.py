"""What could not be read of a mail, as codes with values (never English words in the
client's text): the team reads each in its group's language."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from bot.group.notices import inbound_line
from connectors.email.parse import MailNotice, parse_mail
from core.blobs import DiskBlobStore


@pytest.fixture
def blobs(tmp_path: Path) -> DiskBlobStore:
    return DiskBlobStore(tmp_path / "blobs")


def mail(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode()


async def test_a_guessed_charset_is_a_notice_with_what_it_was_read_as(
    blobs: DiskBlobStore,
) -> None:
    raw = (
        b"From: client@example.ru\r\nTo: support@example.com\r\nSubject: test\r\n"
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + "Не приходит счёт за декабрь.".encode("cp1251")
    )
    parsed = await parse_mail(raw, blobs)
    assert parsed.content.text == "Не приходит счёт за декабрь."  # no words of ours in it
    assert parsed.notices == [MailNotice("no_charset", "", {"read_as": "windows-1251"})]
    assert parsed.problems == ["the text (no charset) was read as windows-1251"]


async def test_attachments_over_the_count_and_the_size_are_notices(blobs: DiskBlobStore) -> None:
    big = base64.encodebytes(b"x" * 3000).decode()
    parts = "".join(
        f'--b\nContent-Type: text/csv\nContent-Disposition: attachment; filename="row{i}.csv"\n'
        f"\nrow,{i}\n"
        for i in range(5)
    )
    raw = mail(
        "From: client@example.ru\nTo: support@example.com\nSubject: many\nMIME-Version: 1.0\n"
        'Content-Type: multipart/mixed; boundary="b"\n\n'
        "--b\nContent-Type: text/plain\n\nSee the files.\n"
        '--b\nContent-Type: application/pdf\nContent-Disposition: attachment; filename="big.pdf"\n'
        f"Content-Transfer-Encoding: base64\n\n{big}"
        f"{parts}--b--\n"
    )
    parsed = await parse_mail(raw, blobs, max_attachments=3, file_size_limit=2048)
    assert parsed.content.text == "See the files."
    assert [a.name for a in parsed.content.attachments] == ["row0.csv", "row1.csv"]
    assert [(n.code, n.params) for n in parsed.notices] == [
        ("too_many_attachments", {"kept": 3, "total": 6}),
        ("attachment_too_large", {"name": "big.pdf", "size": 3000, "limit": 2048}),
    ]


async def test_one_kind_of_damage_is_told_once(blobs: DiskBlobStore) -> None:
    raw = b"\x00\xff garbage \r\n\r\n\x00 not a mail at all"
    parsed = await parse_mail(raw, blobs)
    codes = [n.code for n in parsed.notices]
    assert len(codes) == len(set(codes)), parsed.notices


def test_a_notice_reads_in_the_groups_language() -> None:
    values = {"name": "scan.pdf", "size": 3 * 1024 * 1024, "limit": 1024 * 1024}
    assert inbound_line("attachment_too_large", values, "en") == (
        "⚠️ scan.pdf (3 MB) was not taken: files over 1 MB are not kept."
    )
    assert inbound_line("attachment_too_large", values, "ru") == (
        "⚠️ scan.pdf (3 МБ) не принят: файлы больше 1 МБ не сохраняются."
    )
    # A key (or values) the locales do not know still reads as a line of ours.
    assert inbound_line("something_new", {}, "ru") == "⚠️ Часть сообщения не удалось показать."
    assert inbound_line("attachment_too_large", {}, "en") == (
        "⚠️ Part of this message could not be shown."
    )
