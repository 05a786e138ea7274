"""The survey's rules in the core (core.csat): asked once an episode, not when the dialog
opened again before the ask went out (its next close asks), a rating is one reporting row
that a change replaces, counted for the assignee in the period's figures."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from core.channels import Capabilities, RatingAsk, Ratings, Sent
from core.clock import FrozenClock
from core.csat import ASK, Csat
from core.models import (
    Channel,
    ChannelKind,
    CsatSurvey,
    Operator,
    OutboxItem,
    OutboxStatus,
    ReportEvent,
    ReportKind,
    SurveyStatus,
)
from core.reporting import days_period, ratings
from core.service import Core
from tests.core.helpers import write

pytestmark = pytest.mark.usefixtures("db")


class Asking:
    """A channel that asks (core.channels.Surveys) and remembers each ask."""

    key = "telegram:acme_help_bot"
    kind = ChannelKind.TELEGRAM
    name = "@acme_help_bot"
    capabilities = Capabilities()

    def __init__(self) -> None:
        self.asked: list[RatingAsk] = []

    def take_ratings(self, ratings: Ratings) -> None:
        pass

    async def ask_rating(self, ask: RatingAsk) -> Sent:
        self.asked.append(ask)
        return Sent([f"ask-{len(self.asked)}"])


def service(core: Core, channel: Channel) -> tuple[Csat, Asking]:
    connector = Asking()
    core.connectors.register(channel.id, connector)  # type: ignore[arg-type]
    csat = Csat(
        core.ctx,
        core.connectors,
        kinds=frozenset({"telegram"}),
        secret=b"k" * 32,
        base_url=lambda: "https://help.acme.test",
    )
    csat.install(core.outbox)
    return csat, connector


async def run_asks(csat: Csat) -> None:
    for item in await OutboxItem.filter(kind=ASK, status=OutboxStatus.PENDING):
        await csat.ask(item)
        item.status = OutboxStatus.SENT
        await item.save(update_fields=["status"])


async def test_reopened_before_the_ask_went_out_its_next_close_asks_once(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator
) -> None:
    csat, connector = service(core, telegram)
    dialog = (await write(core, telegram, text="Привет, где заказ?")).dialog
    await core.conversation.reply(dialog.id, operator, "Уже едет")
    await core.dialogs.close(dialog.id, operator)
    await core.dialogs.reopen(dialog.id, operator)  # before the ask went out
    await run_asks(csat)
    assert connector.asked == []
    survey = await CsatSurvey.get()
    assert (survey.status, survey.reason) == (SurveyStatus.SKIPPED, "reopened")

    await core.dialogs.close(dialog.id, operator)
    await run_asks(csat)
    [ask] = connector.asked
    assert ask.language == "ru"  # the client wrote in Cyrillic
    assert [link.rsplit("/", 1)[1] for link in ask.links] == ["1", "2", "3", "4", "5"]
    assert all(link.startswith(f"https://help.acme.test/csat/{ask.token}/") for link in ask.links)

    # Within the window: the same episode, never asked again.
    await core.dialogs.reopen(dialog.id, operator)
    await core.dialogs.close(dialog.id, operator)
    await run_asks(csat)
    assert len(connector.asked) == 1
    assert await CsatSurvey.all().count() == 1


async def test_a_rating_is_one_row_a_change_replaces_it_and_counts_for_the_assignee(
    core: Core, clock: FrozenClock, telegram: Channel, operator: Operator, other_operator: Operator
) -> None:
    csat, connector = service(core, telegram)
    dialog = (await write(core, telegram)).dialog
    await core.dialogs.assign(dialog.id, other_operator, operator)
    await core.conversation.reply(dialog.id, other_operator, "Done")
    await core.dialogs.close(dialog.id, operator)
    await run_asks(csat)
    [ask] = connector.asked
    assert (await csat.rate(ask.token, 2)).status == "recorded"
    assert (await csat.rate(ask.token, 2)).status == "same"
    assert (await csat.rate(ask.token, 4)).status == "changed"
    assert (await csat.rate(ask.token, 9)).status == "unknown"
    assert (await csat.rate("1.forged", 4)).status == "unknown"
    clock.advance(timedelta(days=2))
    late = await csat.rate(ask.token, 1)
    assert (late.status, late.score) == ("late", 4)
    rows = await ReportEvent.filter(kind=ReportKind.CSAT)
    assert [(r.value, r.operator_id) for r in rows] == [(4, other_operator.id)]  # type: ignore[attr-defined]

    tz = ZoneInfo("UTC")
    today = clock.now().date()
    period = days_period(today - timedelta(days=3), today, tz)
    totals, by_operator = await ratings(period)
    assert (totals.count, totals.average, totals.good) == (1, 4.0, 1)
    assert list(by_operator) == [other_operator.id]
    mine, _ = await ratings(period, operator.id)
    assert mine.count == 0
