"""Filters on Telegram updates that the front end and the Telegram connectors share."""

from __future__ import annotations

from aiogram import F

# Something a person said, of any kind. Service messages (a pin, "write access allowed", a
# member joining, ...) are not.
CONTENT = F.text | F.caption | F.photo | F.document | F.voice | F.audio | F.video | F.video_note
CONTENT |= F.sticker | F.animation | F.location | F.contact | F.venue | F.poll | F.dice | F.game
CONTENT |= F.story | F.invoice | F.giveaway | F.paid_media | F.checklist
