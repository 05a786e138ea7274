"""aiogram's answer types kept alive.

aiogram reads every answer through `Response[method.__returning__]`, a pydantic generic model
built on first use. pydantic keeps such a model only as long as something else holds it (its
cache of parametrised generics is weak), so each garbage collection dropped them and the next
call built its model again: about 8% of eadesk's CPU under load. Built once here, held for
the life of the process (41 models, about 0.1 s at start).
"""

from __future__ import annotations

from typing import Any

_KEPT: list[Any] = []


def keep_response_types() -> None:
    """Build and hold `Response[T]` for every Bot API method's answer type (once)."""
    if _KEPT:
        return
    import aiogram.methods as methods
    from aiogram.methods import Response, TelegramMethod

    answers: dict[str, Any] = {}
    for name in dir(methods):
        method = getattr(methods, name)
        if isinstance(method, type) and issubclass(method, TelegramMethod):
            answer = method.__dict__.get("__returning__")  # the base class has none
            if answer is not None:
                answers.setdefault(repr(answer), answer)
    for answer in answers.values():
        try:
            _KEPT.append(Response[answer])  # type: ignore[valid-type]
        except Exception:  # an aiogram whose method is odd: built on use, as before
            continue
