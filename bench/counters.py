"""What eadesk's own process spends: SQL statements, transactions and CPU time.

Statements are counted where tortoise itself records them: every statement it runs (through
`execute_insert`, `execute_query`, `execute_query_dict`, `execute_many` or `execute_script`,
on SQLite and PostgreSQL alike) is one `debug` call on the `tortoise.db_client` logger, so a
stand-in for that logger's `debug` sees each statement exactly once (an `executemany` is one
statement) — without building a log record for it.
Transactions are counted as they open: each `in_transaction()` block (a savepoint when
nested) adds its BEGIN … COMMIT (or ROLLBACK) around the statements counted above.
CPU is `time.process_time()`: every thread of the process, aiosqlite's included (and
`time.thread_time()` of the event loop's thread alone, when the snapshot is taken there).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import logging
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

EXECUTES = frozenset(
    {"execute_insert", "execute_query", "execute_query_dict", "execute_many", "execute_script"}
)


class SqlCensus:
    """Counts the statements tortoise runs, and how often each text ran."""

    def __init__(self) -> None:
        self.statements = 0
        self.transactions = 0
        self.by_text: Counter[str] = Counter()
        self.gc_seconds = 0.0  # CPU the cyclic garbage collector took
        self._gc_started = 0.0
        self._undo: list[Callable[[], None]] = []

    def _gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = time.thread_time()
        else:
            self.gc_seconds += time.thread_time() - self._gc_started

    def _debug(self, msg: object, *args: Any, **kwargs: Any) -> None:
        """Stands in for the logger's `debug`: counts a statement without the cost of a
        log record (which would be most of what the census itself costs eadesk)."""
        if sys._getframe(1).f_code.co_name in EXECUTES:
            self.statements += 1
            self.by_text[str(args[0] if args else msg)] += 1

    def install(self) -> None:
        logger = logging.getLogger("tortoise.db_client")
        # tortoise calls the logger's `debug` for every statement, whatever its level: the
        # census takes those calls itself (an instance attribute over Logger.debug).
        logger.debug = self._debug  # type: ignore[method-assign]

        def restore() -> None:
            with contextlib.suppress(AttributeError):
                del logger.debug

        gc.callbacks.append(self._gc)
        self._undo = [restore, functools.partial(gc.callbacks.remove, self._gc)]
        self._undo += _count_transactions(self)

    def uninstall(self) -> None:
        while self._undo:
            self._undo.pop()()

    def snapshot(self) -> dict[str, Any]:
        return {
            "statements": self.statements,
            "transactions": self.transactions,
            "cpu": time.process_time(),
            "cpu_loop": time.thread_time(),  # taken in the event loop's thread
            "gc": self.gc_seconds,
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
