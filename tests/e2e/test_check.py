"""`eadesk check` against the emulator: what a new user is told to fix."""

from __future__ import annotations

from bot.checks import check_telegram
from tests.e2e.conftest import TEAM_TOKEN, settings_for

RELAY_TOKEN = "700801:relay-one"
OTHER_RELAY_TOKEN = "700802:relay-two"
ALL_RIGHTS = {"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": True}


async def make_group(emulator, forum=True, rights=None, status="administrator", relays=()):
    """The team group; `relays` are (token, status, rights) of relay bots in it."""
    await emulator.bot(TEAM_TOKEN, username="acme_help_bot")
    rights = rights or ALL_RIGHTS
    bots = [{"token": TEAM_TOKEN, "status": status, "rights": rights}]
    for token, relay_status, relay_rights in relays:
        await emulator.bot(token, username=f"relay{token.partition(':')[0]}_bot")
        bots.append({"token": token, "status": relay_status, "rights": relay_rights})
    group = await emulator.group(title="Team", forum=forum, bots=bots)
    return group["chat_id"]


def problems(findings):
    return [f.text for f in findings if not f.ok]


def warnings(findings):
    return [f.text for f in findings if f.warning]


async def test_a_well_prepared_group_passes(emulator):
    chat_id = await make_group(emulator)
    findings = await check_telegram(settings_for(emulator, chat_id))
    assert findings and all(f.ok for f in findings), findings


async def test_a_missing_right_is_named(emulator):
    chat_id = await make_group(
        emulator,
        rights={"can_manage_topics": True, "can_delete_messages": True, "can_pin_messages": False},
    )
    findings = await check_telegram(settings_for(emulator, chat_id))
    bad = [f.text for f in findings if not f.ok]
    assert len(bad) == 1 and "Pin Messages" in bad[0], bad


async def test_topics_off_is_explained(emulator):
    chat_id = await make_group(emulator, forum=False)
    findings = await check_telegram(settings_for(emulator, chat_id))
    assert any(not f.ok and "Topics" in f.text for f in findings), findings


async def test_a_wrong_group_id_is_explained(emulator):
    await make_group(emulator)
    findings = await check_telegram(settings_for(emulator, -1009999999999))
    assert any(not f.ok for f in findings), findings


async def test_a_relay_with_its_rights_passes(emulator):
    chat_id = await make_group(emulator, relays=[(RELAY_TOKEN, "administrator", ALL_RIGHTS)])
    findings = await check_telegram(settings_for(emulator, chat_id, RELAY_BOT_TOKENS=RELAY_TOKEN))
    assert problems(findings) == [] and warnings(findings) == [], findings
    assert "relay bot @relay700801_bot is an administrator of the team group" in [
        f.text for f in findings
    ]


async def test_a_relay_missing_rights_is_warned_about_each_not_failed(emulator):
    posting_only = {"can_manage_topics": False, "can_pin_messages": False}
    chat_id = await make_group(emulator, relays=[(RELAY_TOKEN, "administrator", posting_only)])
    findings = await check_telegram(settings_for(emulator, chat_id, RELAY_BOT_TOKENS=RELAY_TOKEN))
    assert problems(findings) == [], findings  # it posts: `check` exits 0
    manage, pin = warnings(findings)
    assert manage.startswith("relay bot @relay700801_bot works, but cannot manage topics")
    assert "turn on “Manage Topics”" in manage
    assert pin.startswith("relay bot @relay700801_bot works, but cannot pin messages")
    assert "turn on “Pin Messages”" in pin


async def test_a_right_taken_from_a_relay_later_is_noticed(emulator):
    chat_id = await make_group(emulator, relays=[(RELAY_TOKEN, "administrator", ALL_RIGHTS)])
    settings = settings_for(emulator, chat_id, RELAY_BOT_TOKENS=RELAY_TOKEN)
    assert warnings(await check_telegram(settings)) == []
    await emulator.member(
        chat_id, 700801, "administrator", rights={**ALL_RIGHTS, "can_pin_messages": False}
    )
    findings = await check_telegram(settings)
    assert problems(findings) == [], findings
    (pin,) = warnings(findings)
    assert "cannot pin messages" in pin and "@relay700801_bot" in pin


async def test_a_relay_that_is_only_a_member_fails(emulator):
    chat_id = await make_group(emulator, relays=[(RELAY_TOKEN, "member", {})])
    findings = await check_telegram(settings_for(emulator, chat_id, RELAY_BOT_TOKENS=RELAY_TOKEN))
    (problem,) = problems(findings)
    assert problem.startswith(
        "relay bot @relay700801_bot is not an administrator of the team group: make it one"
    )


async def test_a_relay_outside_the_group_fails(emulator):
    chat_id = await make_group(emulator)
    await emulator.bot(RELAY_TOKEN, username="relay700801_bot")
    findings = await check_telegram(settings_for(emulator, chat_id, RELAY_BOT_TOKENS=RELAY_TOKEN))
    (problem,) = problems(findings)
    assert problem.startswith("relay bot @relay700801_bot is not in the team group")
    assert "Add Admin → @relay700801_bot" in problem


async def test_a_relay_with_a_wrong_token_fails(emulator):
    chat_id = await make_group(emulator)
    wrong = "700803:no.such.token"  # a token's shape, but Telegram (the emulator) refuses it
    findings = await check_telegram(settings_for(emulator, chat_id, RELAY_BOT_TOKENS=wrong))
    (problem,) = problems(findings)
    assert problem.startswith("RELAY_BOT_TOKENS: token 1 (700803:…) is wrong"), problem
    assert "no.such.token" not in problem


async def test_a_relay_that_is_the_team_bot_fails(emulator):
    chat_id = await make_group(emulator)
    # Another token of the team bot (its id is the part before the colon).
    same_bot = TEAM_TOKEN.partition(":")[0] + ":another-secret"
    findings = await check_telegram(settings_for(emulator, chat_id, RELAY_BOT_TOKENS=same_bot))
    (problem,) = problems(findings)
    assert problem.startswith("RELAY_BOT_TOKENS: token 1 (700001:…) is the team bot"), problem
    assert "must be another bot" in problem


async def test_a_relay_listed_twice_fails(emulator):
    relays = [(RELAY_TOKEN, "administrator", ALL_RIGHTS)]
    chat_id = await make_group(emulator, relays=relays)
    twice = f"{RELAY_TOKEN},700801:relay-one-again"
    findings = await check_telegram(settings_for(emulator, chat_id, RELAY_BOT_TOKENS=twice))
    (problem,) = problems(findings)
    assert problem.startswith("RELAY_BOT_TOKENS: token 2 (700801:…) is relay bot"), problem
    assert "token 1" in problem


async def test_every_relay_is_checked(emulator):
    relays = [
        (RELAY_TOKEN, "administrator", ALL_RIGHTS),
        (OTHER_RELAY_TOKEN, "member", {}),
    ]
    chat_id = await make_group(emulator, relays=relays)
    settings = settings_for(
        emulator, chat_id, RELAY_BOT_TOKENS=f"{RELAY_TOKEN},{OTHER_RELAY_TOKEN}"
    )
    findings = await check_telegram(settings)
    (problem,) = problems(findings)
    assert "@relay700802_bot is not an administrator" in problem
