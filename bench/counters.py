"""What eadesk's own process spends: SQL statements, transactions and CPU time.

Statements are counted where tortoise itself records them: every statement it runs (through
`execute_insert`, `execute_query`, `execute_query_dict`, `execute_many` or `execute_script`,
on SQLite and PostgreSQL alike) is one DEBUG record of the `tortoise.db_client` logger, so a
handler there sees each statement exactly once (an `executemany` is one statement).
Transactions are counted as they open: each `in_transaction()` block (a savepoint when
nested) adds its BEGIN … COMMIT (or ROLLBACK) around the statements counted above.
CPU is `time.process_time()`: every thread of the process, aiosqlite's included (and
`time.thread_time()` of the event loop's thread alone, when the snapshot is taken there).
"""

from __future__ import annotations

import contextlib
import functools
import logging
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

EXECUTES = frozenset(
    {"execute_insert", "execute_query", "execute_query_dict", "execute_many", "execute_script"}
)


class SqlCensus(logging.Handler):
    """Counts the statements tortoise runs, and how often each text ran."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements = 0
        self.transactions = 0
        self.by_text: Counter[str] = Counter()
        self._undo: list[Callable[[], None]] = []

    def handle(self, record: logging.LogRecord) -> bool:  # no lock, filters or formatting
        if record.funcName in EXECUTES:
            self.statements += 1
            args = record.args
            text = args[0] if isinstance(args, tuple) and args else record.msg
            self.by_text[str(text)] += 1
        return True

    def emit(self, record: logging.LogRecord) -> None:  # pragma: no cover - handle() does it
        self.handle(record)

    def install(self) -> None:
        logger = logging.getLogger("tortoise.db_client")
        level, propagate = logger.level, logger.propagate
        logger.setLevel(logging.DEBUG)
        logger.propagate = False  # the statements themselves are not for the log
        logger.addHandler(self)

        def restore() -> None:
            logger.removeHandler(self)
            logger.setLevel(level)
            logger.propagate = propagate

        self._undo = [restore, *_count_transactions(self)]

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def snapshot(self) -> dict[str, Any]:
        return {
            "statements": self.statements,
            "transactions": self.transactions,
            "cpu": time.process_time(),
            "cpu_loop": time.thread_time(),  # taken in the event loop's thread
            "by_text": dict(self.by_text),
        }


def _subclasses(cls: type) -> Iterator[type]:
    sub: type
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def _count_transactions(census: SqlCensus) -> list[Callable[[], None]]:
    """Counts each transaction (or savepoint) as it opens; returns how to undo that."""
    # tortoise loads a backend's client when it connects: load both so their contexts exist.
    import tortoise.backends.sqlite.client
    from tortoise.backends.base.client import TransactionContext

    with contextlib.suppress(ImportError):
        import tortoise.backends.asyncpg.client  # noqa: F401

    def counted(enter: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(enter)
        async def enter_counted(self: Any, *args: Any, **kwargs: Any) -> Any:
            census.transactions += 1
            return await enter(self, *args, **kwargs)

        return enter_counted

    undo: list[Callable[[], None]] = []
    for cls in _subclasses(TransactionContext):
        enter = cls.__dict__.get("__aenter__")
        if enter is not None and not getattr(enter, "__isabstractmethod__", False):
            cls.__aenter__ = counted(enter)  # type: ignore[attr-defined]
            undo.append(functools.partial(setattr, cls, "__aenter__", enter))
    return undo


# ---- statements grouped by their shape ----------------------------------------------------

_STRING = re.compile(r"'(?:[^']|'')*'")
_NUMBER = re.compile(r"(?<![\w$])-?\d+(?:\.\d+)?\b")
_PLACEHOLDER = re.compile(r"\$\d+|\?")
_LIST = re.compile(r"\(\s*\?(?:\s*,\s*\?)+\s*\)")
_SPACE = re.compile(r"\s+")
_NAME = r'"[^"]+"(?:\."[^"]+")?(?: "[^"]+")?'  # "column", "table"."column" "alias"
_COLUMNS = re.compile(rf"^SELECT (?:DISTINCT )?{_NAME}(?:,{_NAME}){{2,}} FROM ")
_INSERT = re.compile(rf'^INSERT INTO ("[^"]+") \({_NAME}(?:,{_NAME})*\) VALUES \([^)]*\)')


def normalize(sql: str) -> str:
    """A statement's shape: literals and placeholders as ?, lists of them as (?…), long
    column lists as … (what a statement reads or writes shows in its WHERE and SET)."""
    text = _SPACE.sub(" ", sql).strip()
    text = _STRING.sub("?", text)
    text = _PLACEHOLDER.sub("?", text)
    text = _NUMBER.sub("?", text)
    text = _LIST.sub("(?…)", text)
    text = _COLUMNS.sub("SELECT … FROM ", text)
    return _INSERT.sub(r"INSERT INTO \1 (…) VALUES (…)", text)


def census_between(before: dict[str, int], after: dict[str, int]) -> Counter[str]:
    """Statements run between two snapshots' `by_text`, grouped by shape."""
    shapes: Counter[str] = Counter()
    for text, count in after.items():
        ran = count - before.get(text, 0)
        if ran:
            shapes[normalize(text)] += ran
    return shapes
