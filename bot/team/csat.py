"""The satisfaction survey's front end (core.csat does the asking and the recording): the
service built from settings, the topic's line and the card on a rating, the /stats lines, and
the page the e-mail links open (GET /csat/{token}/{score}).

The page records on GET — a click in a mail program is a GET — and mail scanners that open
every link cannot pile up ratings: one per episode, a change within a day replaces it (the
client's own click comes after the scanner's), and the page's links are signed tokens nobody
can guess.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from html import escape
from typing import Any

from aiohttp import web

from bot.group.card import Card
from bot.group.rows import queue_notice
from bot.i18n import pick_language, t
from bot.team.context import Team
from core.channels import SCORES
from core.csat import Csat, enabled_kinds
from core.events import CsatRated
from core.reporting import Period, ratings
from core.service import Core

log = logging.getLogger(__name__)

STAR = "★"


def csat_service(core: Core, settings: Any, base_url: Callable[[], str]) -> Csat:
    """The survey as CSAT_ENABLED says, installed on the core's outbox. Its tokens are signed
    with a key drawn from BOT_TOKEN (a secret every install has)."""
    secret = hashlib.sha256(b"eadesk csat\0" + str(settings.BOT_TOKEN).encode()).digest()
    csat = Csat(
        core.ctx,
        core.connectors,
        kinds=enabled_kinds(settings.CSAT_ENABLED),
        secret=secret,
        base_url=base_url,
    )
    csat.install(core.outbox)
    if csat.enabled("email") and not settings.PUBLIC_URL:
        log.warning(
            "CSAT_ENABLED asks e-mail clients with links to PUBLIC_URL, which is not set: "
            "the links point at http://HTTP_HOST:HTTP_PORT, which clients may not reach"
        )
    return csat


def stars(score: int) -> str:
    return STAR * score + "☆" * (len(SCORES) - score)


class CsatFront:
    """A rating: one line in the topic (the team's language) and the card redrawn."""

    def __init__(self, team: Team, card: Card) -> None:
        self.team = team
        self.card = card

    def install(self) -> None:
        self.team.core.bus.on_change(CsatRated, self.on_rated)

    async def on_rated(self, event: CsatRated) -> None:
        if event.dialog_id is None:
            return
        if event.old is None:
            await queue_notice(self.team.core.ctx, event.dialog_id, "csat.rated", score=event.score)
        else:
            await queue_notice(
                self.team.core.ctx,
                event.dialog_id,
                "csat.changed",
                score=event.score,
                old=event.old,
            )
        await self.card.refresh(event.dialog_id)


async def stats_lines(period: Period, operator_id: int | None, lang: str) -> str:
    """The ratings of the period for /stats ("" when none): the average, how many, the share
    of 4 and 5; per operator for the team."""
    totals, by_operator = await ratings(period, operator_id)
    if not totals.count:
        return ""
    lines = [
        t(
            "csat.stats",
            lang,
            average=f"{totals.average:.1f}",
            count=totals.count,
            percent=round(100 * totals.good / totals.count),
        ),
    ]
    if operator_id is None and by_operator:
        from core.models import Operator

        names = dict(await Operator.filter(id__in=list(by_operator)).values_list("id", "name"))
        for who, figures in sorted(
            by_operator.items(), key=lambda item: str(names.get(item[0], "")).lower()
        ):
            lines.append(
                t(
                    "csat.stats_operator",
                    lang,
                    name=names.get(who, "?"),
                    average=f"{figures.average:.1f}",
                    count=figures.count,
                )
            )
    return "\n".join(lines)


# ---- the page of the e-mail links -------------------------------------------------------------

PAGE = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:3rem auto;padding:0 1rem;
text-align:center;color:#222}}.stars{{font-size:2.2rem;letter-spacing:.2rem}}
.stars a{{color:#f5a623;text-decoration:none}}p.note{{color:#666;font-size:.9rem}}</style>
</head><body><h1>{title}</h1><p>{text}</p>{body}</body></html>
"""


def page_handler(csat: Csat) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def page(request: web.Request) -> web.Response:
        token = request.match_info.get("token", "")
        raw = request.match_info.get("score", "")
        score = int(raw) if raw.isdigit() else 0
        rated = await csat.rate(token, score)
        lang = pick_language(rated.language or None)
        if not rated.known:
            html = PAGE.format(
                lang=lang,
                title=escape(t("csat.page_unknown_title", lang)),
                text=escape(t("csat.page_unknown", lang)),
                body="",
            )
            return web.Response(text=html, content_type="text/html", status=404)
        kept = rated.score or score
        if rated.status == "late":
            text = t("csat.page_late", lang, score=kept)
        else:
            text = t("csat.page_thanks", lang, score=kept)
        # The stars again: a click on another one changes the rating (within a day).
        links = "".join(
            f'<a href="{escape(str(n))}" title="{n}">{STAR if n <= kept else "☆"}</a>'
            for n in SCORES
        )
        body = (
            f'<p class="stars">{links}</p><p class="note">{escape(t("csat.page_change", lang))}</p>'
        )
        html = PAGE.format(
            lang=lang, title=escape(t("csat.page_title", lang)), text=escape(text), body=body
        )
        return web.Response(
            text=html, content_type="text/html", headers={"Cache-Control": "no-store"}
        )

    return page
