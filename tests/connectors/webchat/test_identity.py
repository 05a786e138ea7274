"""Visitor tokens and the site's signed users (pure functions)."""

from __future__ import annotations

import time

import pytest

from connectors.webchat.identity import (
    TOKEN_DAYS,
    IdentityRefused,
    Tokens,
    Visitor,
    new_visitor,
    user_hash,
    verify_user,
)

SECRET = "site-secret"


def test_a_token_names_its_visitor_and_what_they_told() -> None:
    tokens = Tokens(b"k" * 32)
    visitor = Visitor("anon:abc", name="Ann", email="ann@example.com")
    assert tokens.read(tokens.issue(visitor)) == visitor


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t[:-1] + ("0" if t[-1] != "0" else "1"),  # a signature changed
        lambda t: "x" + t,  # the body changed
        lambda t: t.split(".")[0],  # no signature
        lambda t: "",
        lambda t: "a.b.c",
    ],
)
def test_a_forged_token_names_nobody(change: object) -> None:
    tokens = Tokens(b"k" * 32)
    token = tokens.issue(new_visitor())
    assert tokens.read(change(token)) is None  # type: ignore[operator]


def test_another_key_or_an_expired_token_names_nobody() -> None:
    token = Tokens(b"k" * 32).issue(Visitor("anon:abc"))
    assert Tokens(b"other" * 8).read(token) is None
    tokens = Tokens(b"k" * 32)
    old = tokens.issue(Visitor("anon:abc"), now=time.time() - (TOKEN_DAYS + 1) * 86400)
    assert tokens.read(old) is None


def test_new_visitors_are_distinct() -> None:
    assert new_visitor().key != new_visitor().key


def test_a_signed_user_within_ten_minutes_is_verified() -> None:
    ts = str(int(time.time()) - 9 * 60)
    user = {"id": "42", "name": "Maria", "email": "m@example.com", "ts": ts}
    visitor = verify_user(SECRET, {**user, "hash": user_hash(SECRET, "42", ts)})
    assert visitor == Visitor("user:42", "Maria", "m@example.com", verified=True)


@pytest.mark.parametrize(
    "user",
    [
        {"id": "42", "ts": "{now}"},  # no hash
        {"id": "42", "ts": "{now}", "hash": "00"},  # a wrong one
        {"id": "43", "ts": "{now}", "hash": "{hash42}"},  # another user's
        {"id": "42", "ts": "{old}", "hash": "{hash_old}"},  # 11 minutes old
        {"ts": "{now}", "hash": "{hash42}"},  # no id
    ],
)
def test_a_bad_or_old_user_hash_is_refused(user: dict[str, str]) -> None:
    now, old = str(int(time.time())), str(int(time.time()) - 11 * 60)
    values = {
        "now": now,
        "old": old,
        "hash42": user_hash(SECRET, "42", now),
        "hash_old": user_hash(SECRET, "42", old),
    }
    with pytest.raises(IdentityRefused):
        verify_user(SECRET, {k: v.format(**values) for k, v in user.items()})


def test_the_hash_is_hmac_sha256_of_id_and_ts() -> None:
    import hashlib
    import hmac

    expected = hmac.new(b"site-secret", b"42:1700000000", hashlib.sha256).hexdigest()
    assert user_hash(SECRET, "42", 1700000000) == expected
