"""Client satisfaction (CSAT): after a close the client is asked once to rate the help 1..5.

When. A close (StatusChanged to closed, by an operator or an automation) of a dialog whose
channel kind is enabled (CSAT_ENABLED) makes the episode's survey row and queues the ask, in
the close's own transaction (a durable subscriber). Not asked — the row says why, and a later
close of the same episode may ask when the reason is gone:
- the team never answered in the episode ("unanswered": a spam closed unread);
- the episode's last client message was automatic (an auto-reply or a bounce: asking would
  answer a robot, an e-mail loop);
- the client is banned, or cannot be reached;
- the dialog opened again before the ask went out ("reopened": checked when it goes);
- the channel cannot ask (its connector has no `Surveys`).
Never twice an episode: one row per episode; once asked, never again.

How. The connector shows the question (core.channels.Surveys.ask_rating): buttons, links or
stars, each carrying the survey's signed token (`sign`: HMAC, never a guessable id). A rating
comes back through `Csat.rate`: the first is recorded; a change within CHANGE_WINDOW of the
first replaces it (e-mail scanners that open every link cannot pile up ratings: one per
episode, and the client's own later click wins); after that it stays. Each rating is a
reporting row (ReportKind.CSAT, value 1..5), changed in place, and a CsatRated event (the
topic's line and the card).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from tortoise.transactions import in_transaction

from core import reporting
from core.channels import (
    SCORES,
    ConnectorRegistry,
    DeliveryError,
    Rated,
    RatingAsk,
    Surveys,
    UnknownChannel,
)
from core.context import CoreContext
from core.delivery import participants_of
from core.dialogs import current_episode
from core.events import CsatRated, StatusChanged
from core.lifecycle import DialogStatus
from core.models import (
    Channel,
    Client,
    CsatSurvey,
    Dialog,
    Episode,
    Message,
    MessageKind,
    OutboxItem,
    ReportEvent,
    ReportKind,
    SurveyStatus,
)
from core.outbox import GiveUp, OutboxWorker, Priority, RetryLater, enqueue
from core.prepared import PreparedValues

log = logging.getLogger(__name__)

ASK = "csat.ask"
# A rating may be changed this long after the first one.
CHANGE_WINDOW = timedelta(days=1)
# Every channel kind ("true").
ALL = "*"
_CYRILLIC = re.compile(r"[а-яё]", re.I)
_LATIN = re.compile(r"[a-z]", re.I)


def enabled_kinds(setting: str) -> frozenset[str]:
    """CSAT_ENABLED as checked by the settings ("", "true", or kinds comma separated)."""
    text = setting.strip().lower()
    if not text:
        return frozenset()
    if text == "true":
        return frozenset({ALL})
    return frozenset(k.strip() for k in text.split(",") if k.strip())


# ---- the token --------------------------------------------------------------------------------


def _mac(secret: bytes, survey_id: int) -> str:
    digest = hmac.new(secret, f"csat:{survey_id}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:12]).decode().rstrip("=")


def sign(secret: bytes, survey_id: int) -> str:
    """The survey's token: its id and a MAC of it ("12.AbC…", 16 characters of MAC)."""
    return f"{survey_id}.{_mac(secret, survey_id)}"


def verify(secret: bytes, token: str) -> int | None:
    """The survey id a token names, or None when it is not one we made."""
    number, _, mac = token.partition(".")
    if not number.isdigit() or len(number) > 12:
        return None
    survey_id = int(number)
    return survey_id if hmac.compare_digest(mac, _mac(secret, survey_id)) else None


def guess_language(dialog: Dialog, texts: Iterable[str]) -> str:
    """The client's language: what their channel told (a browser's), else the script of what
    they wrote (Cyrillic: ru; Latin: en); "" when unknown."""
    for pair in dialog.context or []:
        if isinstance(pair, list) and len(pair) == 2 and pair[0] == "language" and pair[1]:
            code = str(pair[1]).split("-")[0].lower()
            if code in ("ru", "en"):
                return code
    for text in texts:
        if _CYRILLIC.search(text):
            return "ru"
        if _LATIN.search(text):
            return "en"
    return ""


# ---- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClientRatings:
    latest: int
    average: float
    count: int


# Built once: read for every card (see core/prepared.py).
_RATED = PreparedValues(
    CsatSurvey,
    lambda client_id: (
        CsatSurvey.filter(client_id=client_id, status=SurveyStatus.RATED)
        .order_by("rated_at", "id")
        .values_list("score", flat=True)
    ),
    client_id=int,
)


async def client_ratings(client_id: int) -> ClientRatings | None:
    """The client's ratings (every dialog of theirs): the latest, the average, how many."""
    values = [
        int(score) for (score,) in await _RATED.rows(client_id=client_id) if score is not None
    ]
    if not values:
        return None
    return ClientRatings(values[-1], sum(values) / len(values), len(values))


async def open_survey(dialog_id: int) -> CsatSurvey | None:
    """The dialog's latest survey that was asked (rated or not): what a widget shows again."""
    return (
        await CsatSurvey.filter(
            dialog_id=dialog_id, status__in=[SurveyStatus.ASKED, SurveyStatus.RATED]
        )
        .order_by("-id")
        .first()
    )


# ---- the service ------------------------------------------------------------------------------


class Csat:
    """Asks after closes and records ratings (core.channels.Ratings)."""

    def __init__(
        self,
        ctx: CoreContext,
        registry: ConnectorRegistry,
        *,
        kinds: frozenset[str],
        secret: bytes,
        base_url: Callable[[], str],
    ) -> None:
        self.ctx = ctx
        self.registry = registry
        self.kinds = kinds
        self.secret = secret
        self.base_url = base_url

    def install(self, worker: OutboxWorker) -> None:
        worker.handle(ASK, self.ask)
        if self.kinds:
            # Durable: the survey row and its ask are queued in the close's transaction.
            self.ctx.bus.on_change(StatusChanged, self.on_status)

    def enabled(self, kind: str) -> bool:
        return ALL in self.kinds or kind in self.kinds

    def token(self, survey_id: int) -> str:
        return sign(self.secret, survey_id)

    def links(self, token: str) -> list[str]:
        base = self.base_url().rstrip("/")
        return [f"{base}/csat/{token}/{score}" for score in SCORES]

    # ---- asking --------------------------------------------------------------------------

    async def on_status(self, event: StatusChanged) -> None:
        if event.new != DialogStatus.CLOSED.value or event.old == DialogStatus.CLOSED.value:
            return
        if event.dialog_id is None:
            return
        dialog = await Dialog.get(id=event.dialog_id)
        channel = await Channel.get(id=dialog.channel_id)  # type: ignore[attr-defined]
        if not self.enabled(channel.kind.value):
            return
        episode = await current_episode(dialog)
        if episode is None:
            return
        survey = await CsatSurvey.get_or_none(episode_id=episode.id)
        if survey is not None and survey.status is not SurveyStatus.SKIPPED:
            return  # asked (or about to be) once this episode: never twice
        last_in = (
            await Message.filter(episode_id=episode.id, kind=MessageKind.IN)
            .order_by("-id")
            .only("id", "text", "automatic")
            .limit(5)
        )
        reason = await self.why_not(dialog, episode, last_in)
        now = self.ctx.clock.now()
        operator_id = dialog.assignee_id or event.actor_id  # type: ignore[attr-defined]
        status = SurveyStatus.SKIPPED if reason else SurveyStatus.PENDING
        language = guess_language(dialog, (m.text for m in last_in))
        if survey is None:
            survey = await CsatSurvey.create(
                episode_id=episode.id,
                dialog_id=dialog.id,
                client_id=dialog.client_id,  # type: ignore[attr-defined]
                operator_id=operator_id,
                language=language,
                status=status,
                reason=reason,
                created_at=now,
            )
        else:
            survey.status, survey.reason, survey.language = status, reason, language
            survey.operator_id = operator_id
            await survey.save(update_fields=["status", "reason", "language", "operator_id"])
        if reason:
            return
        # In the lane of the dialog's replies: after a closing message the team wrote.
        await enqueue(
            self.ctx,
            ASK,
            {"survey_id": survey.id},
            priority=Priority.CLIENT_REPLY,
            lane=f"dialog:{dialog.id}:out",
        )

    async def why_not(self, dialog: Dialog, episode: Episode, last_in: list[Message]) -> str:
        """Why the client is not asked now ("" = ask)."""
        if dialog.unreachable:
            return "unreachable"
        client = await Client.get(id=dialog.client_id)  # type: ignore[attr-defined]
        if client.banned:
            return "banned"
        if not last_in:
            return "no client message"
        if last_in[0].automatic:
            return "automatic"
        if episode.first_response_at is None:
            return "unanswered"
        return ""

    async def skip(self, survey: CsatSurvey, reason: str) -> None:
        survey.status, survey.reason = SurveyStatus.SKIPPED, reason
        await survey.save(update_fields=["status", "reason"])

    async def ask(self, item: OutboxItem) -> dict[str, object] | None:
        survey = await CsatSurvey.get_or_none(id=item.payload["survey_id"])
        if survey is None or survey.status is not SurveyStatus.PENDING:
            return {"already": True}
        dialog = await Dialog.get(id=survey.dialog_id)  # type: ignore[attr-defined]
        episode = await current_episode(dialog)
        if (
            dialog.status is not DialogStatus.CLOSED
            or episode is None
            or episode.id
            != (
                survey.episode_id  # type: ignore[attr-defined]
            )
        ):
            # Opened again before the ask went out: not asked; its next close may ask.
            await self.skip(survey, "reopened")
            return {"skipped": "reopened"}
        client = await Client.get(id=dialog.client_id)  # type: ignore[attr-defined]
        if client.banned or dialog.unreachable:
            await self.skip(survey, "banned" if client.banned else "unreachable")
            return {"skipped": survey.reason}
        try:
            connector = self.registry.for_dialog(dialog)
        except UnknownChannel as exc:
            raise RetryLater(60, str(exc)) from exc
        if not isinstance(connector, Surveys):
            await self.skip(survey, "channel cannot ask")
            return {"skipped": survey.reason}
        token = self.token(survey.id)
        request = RatingAsk(
            dialog_id=dialog.id,
            chat_key=dialog.chat_key,
            token=token,
            links=self.links(token),
            language=survey.language,
            subject=dialog.subject,
            participants=await participants_of(dialog)
            if connector.capabilities.participants
            else [],
        )
        try:
            sent = await connector.ask_rating(request)
        except DeliveryError as exc:
            if not exc.permanent:
                raise RetryLater(exc.retry_after or 30, exc.reason) from exc
            await self.skip(survey, "undeliverable")
            raise GiveUp(exc.reason) from exc
        survey.status, survey.asked_at = SurveyStatus.ASKED, self.ctx.clock.now()
        survey.data = {"ids": sent.external_ids, **sent.data}
        # A rating that came before this (a fast click) is kept.
        await CsatSurvey.filter(id=survey.id, status=SurveyStatus.PENDING).update(
            status=SurveyStatus.ASKED, asked_at=survey.asked_at, data=survey.data
        )
        return {"external_ids": sent.external_ids}

    # ---- ratings (core.channels.Ratings) -------------------------------------------------

    async def rate(self, token: str, score: int) -> Rated:
        survey_id = verify(self.secret, token)
        if survey_id is None or score not in SCORES:
            return Rated("unknown")
        now = self.ctx.clock.now()
        async with in_transaction():
            survey = await CsatSurvey.select_for_update().get_or_none(id=survey_id)
            if survey is None or survey.status not in (
                SurveyStatus.PENDING,
                SurveyStatus.ASKED,
                SurveyStatus.RATED,
            ):
                return Rated("unknown")
            old = survey.score
            if old is not None and survey.rated_at is not None:
                if old == score:
                    return Rated("same", old, survey.language)
                if now - survey.rated_at > CHANGE_WINDOW:
                    return Rated("late", old, survey.language)
            dialog = await Dialog.get(id=survey.dialog_id)  # type: ignore[attr-defined]
            survey.score, survey.status = score, SurveyStatus.RATED
            fields = ["score", "status"]
            if old is None:
                survey.rated_at = now
                fields.append("rated_at")
                await reporting.record(
                    self.ctx,
                    ReportKind.CSAT,
                    at=now,
                    dialog=dialog,
                    episode=survey.episode_id,  # type: ignore[attr-defined]
                    operator_id=survey.operator_id,  # type: ignore[attr-defined]
                    value=score,
                )
            else:
                # A change of mind: the same row, the new score (never two ratings).
                await ReportEvent.filter(
                    episode_id=survey.episode_id,  # type: ignore[attr-defined]
                    kind=ReportKind.CSAT,
                ).update(value=score)
            await survey.save(update_fields=fields)
            rated = CsatRated(
                dialog_id=dialog.id,
                at=now,
                survey_id=survey.id,
                episode_id=survey.episode_id,  # type: ignore[attr-defined]
                score=score,
                old=old,
            )
            events = await self.ctx.bus.changed([rated])
        await self.ctx.bus.publish_all(events)
        return Rated("changed" if old is not None else "recorded", score, survey.language)
