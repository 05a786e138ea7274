"""amoCRM's client and lookup against the local fake (tests/fakes/amocrm.py): the limit of 7
requests a second, deals found by phone, e-mail and name, plain words for a bad token."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from connectors.amocrm.client import AmoCrmClient, Unauthorized
from connectors.amocrm.settings import AmoCrmSettings
from connectors.amocrm.source import AmoCrm
from core.crm import CrmQuery
from tests.fakes.amocrm import LIMIT, TOKEN, FakeAmoCrm
from tgapi.limits import SlidingWindow


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeAmoCrm]:
    server = FakeAmoCrm()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def source_for(fake: FakeAmoCrm, token: str = TOKEN) -> AmoCrm:
    settings = AmoCrmSettings(_env_file=None, BASE_URL=fake.url, TOKEN=token)  # type: ignore[call-arg]
    return AmoCrm(settings)


def most_in_a_second(times: list[float]) -> int:
    return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


async def test_the_limit_of_7_requests_a_second_is_kept(fake: FakeAmoCrm) -> None:
    client = AmoCrmClient(fake.url, TOKEN)
    try:
        await asyncio.gather(*(client.account() for _ in range(3 * LIMIT + 1)))
    finally:
        await client.close()
    assert fake.count("/api/v4/account") == 3 * LIMIT + 1
    assert fake.over_limit == 0
    assert most_in_a_second([at for at, _, _ in fake.requests]) <= LIMIT


async def test_the_fake_refuses_more_than_7_a_second(fake: FakeAmoCrm) -> None:
    # Without the window the same burst is refused: the test above can fail.
    client = AmoCrmClient(fake.url, TOKEN, window=SlidingWindow(1000, 1.0))
    try:
        results = await asyncio.gather(
            *(client.account() for _ in range(2 * LIMIT)), return_exceptions=True
        )
    finally:
        await client.close()
    assert fake.over_limit > 0
    assert any(isinstance(r, Exception) for r in results)


async def test_deals_are_found_by_phone_email_and_name(fake: FakeAmoCrm) -> None:
    fake.add_lead(1, "Website redesign", 120000, status_id=11, updated_at=1_700_000_100)
    fake.add_lead(2, "Support plan", 30000, status_id=10, updated_at=1_700_000_200)
    fake.add_lead(3, "Someone else's deal", 5000)
    fake.add_lead(4, "Found by name", 700)
    fake.add_lead(5, "Old order", 9000, status_id=142, updated_at=1_700_000_900)
    fake.add_contact("A. Lee", phones=["+7 (912) 345-67-89"], leads=[1, 5])
    fake.add_contact("Ann at work", emails=["ann@example.com"], leads=[2])
    fake.add_contact("Joann", emails=["joann@example.com"], leads=[3])
    fake.add_contact("Ann Lee", leads=[4])
    source = source_for(fake)
    try:
        query = CrmQuery(1, "Ann Lee", phones=("+79123456789",), emails=("ann@example.com",))
        deals = await source.deals_of(query)
        # Open deals first (latest change first), then the closed ones; nobody else's.
        assert [d.name for d in deals] == ["Support plan", "Website redesign", "Old order"]
        redesign = deals[1]
        assert (redesign.status, redesign.amount, redesign.currency) == ("Negotiation", 120000, "₽")
        assert redesign.url == f"{fake.url}/leads/detail/1"
        assert deals[2].status == "Closed - won" and not deals[2].open

        # No phone or e-mail that amoCRM knows: the exact name finds the contact.
        by_name = await source.deals_of(CrmQuery(2, "ann  LEE", emails=("nobody@example.com",)))
        assert [d.name for d in by_name] == ["Found by name"]
        # Nothing at all: amoCRM answers 204, and there are no deals.
        assert await source.deals_of(CrmQuery(3, "Zed", phones=("+15550000000",))) == []
    finally:
        await source.client.close()


async def test_check_says_in_plain_words_that_the_token_is_wrong(fake: FakeAmoCrm) -> None:
    assert await source_for(fake).check() == []
    (problem,) = await source_for(fake, token="revoked").check()
    assert "AMOCRM_TOKEN is not accepted" in problem and "401" in problem
    client = AmoCrmClient(fake.url, "revoked")
    with pytest.raises(Unauthorized):
        await client.account()
    await client.close()


async def test_an_unreachable_amocrm_is_told(fake: FakeAmoCrm) -> None:
    url = fake.url
    await fake.stop()
    settings = AmoCrmSettings(_env_file=None, BASE_URL=url, TOKEN=TOKEN)  # type: ignore[call-arg]
    (problem,) = await AmoCrm(settings).check()
    assert "cannot be asked" in problem and "unreachable" in problem


@pytest.mark.parametrize(
    ("values", "needle"),
    [
        ({"BASE_URL": "http://acme.amocrm.ru", "TOKEN": "x"}, "must start with https://"),
        ({"BASE_URL": "https://acme.amocrm.ru/leads", "TOKEN": "x"}, "without a path"),
        ({"BASE_URL": "https://acme.amocrm.ru"}, "AMOCRM_TOKEN is not"),
        ({"TOKEN": "x"}, "AMOCRM_BASE_URL is not"),
        ({"BASE_URL": "https://acme.amocrm.ru", "TOKEN": "x", "REFRESH": "5s"}, "too short"),
    ],
)
def test_bad_settings_are_named(values: dict[str, str], needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        AmoCrmSettings(_env_file=None, **values)  # type: ignore[arg-type]


def test_settings_read_the_account_and_token() -> None:
    settings = AmoCrmSettings(
        _env_file=None,  # type: ignore[call-arg]
        BASE_URL="https://acme.amocrm.ru/",
        TOKEN="Bearer abc.def",
        REFRESH="10m",
    )
    assert (settings.BASE_URL, settings.TOKEN) == ("https://acme.amocrm.ru", "abc.def")
    assert settings.REFRESH.total_seconds() == 600 and settings.enabled
    assert not AmoCrmSettings(_env_file=None).enabled  # type: ignore[call-arg]
