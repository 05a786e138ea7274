"""The website chat's settings as a person writes them, and its rate limit."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from connectors.registry import CHANNELS, variables
from connectors.webchat.limits import RateLimit
from connectors.webchat.settings import AskEmail, WebchatSettings
from connectors.webchat.wire import page_of


def settings(**values: str) -> WebchatSettings:
    return WebchatSettings(_env_file=None, **values)  # type: ignore[call-arg]


def test_the_variables_are_the_issues_names() -> None:
    names = variables(CHANNELS)
    for name in (
        "WEBCHAT_ENABLED",
        "WEBCHAT_ALLOWED_ORIGINS",
        "WEBCHAT_SECRET",
        "WEBCHAT_TITLE",
        "WEBCHAT_COLOR",
        "WEBCHAT_ASK_EMAIL",
    ):
        assert name in names


def test_origins_are_read_as_browsers_write_them() -> None:
    values = settings(ALLOWED_ORIGINS=" https://Acme.com/shop , http://localhost:3000 ")
    assert values.ALLOWED_ORIGINS == ["https://acme.com", "http://localhost:3000"]
    assert settings().ALLOWED_ORIGINS == []
    with pytest.raises(ValidationError):
        settings(ALLOWED_ORIGINS="acme.com")


def test_off_by_default_and_the_rest_checked() -> None:
    assert not settings().enabled
    assert settings(ENABLED="true").enabled
    assert settings(ASK_EMAIL="required").ASK_EMAIL is AskEmail.REQUIRED
    assert settings(UPLOAD_LIMIT="2MB").UPLOAD_LIMIT == 2 * 1024 * 1024
    for wrong in ({"ASK_EMAIL": "always"}, {"COLOR": "blue"}, {"UPLOAD_LIMIT": "lots"}):
        with pytest.raises(ValidationError):
            settings(**wrong)


def test_the_secret_is_never_shown() -> None:
    assert "hush" not in repr(settings(SECRET="hush"))


def test_the_rate_limit_counts_per_key() -> None:
    limit = RateLimit(3, 60)
    assert [limit.hit("a") for _ in range(3)] == [0, 0, 0]
    assert limit.hit("a") > 0
    assert limit.hit("b") == 0


def test_the_page_is_plain_values_only() -> None:
    raw = {"url": "https://acme.com/", "title": {"x": 1}, "lang": "en", "evil": "x"}
    assert page_of(raw) == {"url": "https://acme.com/", "lang": "en"}
    assert page_of("nope") == {}
