"""Selects whose SQL the ORM builds once per shape and database, then only runs.

Building a select with subqueries costs tortoise (and pypika under it) several times the CPU
that the database takes to run it: on the path every client message takes, the build was the
largest single cost. A `PreparedSelect` asks the ORM for the SQL once, with a sentinel in place
of each value that changes, and from then on only swaps the values in. The SQL stays the ORM's
own (the dialect's placeholders, FOR UPDATE where the database has it), and the rows become
models through the ORM's executor, as an ordinary queryset's do.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from core.models import fitted

M = TypeVar("M", bound=Model)

# Values no real query carries, one per name: found again among the built query's parameters.
_INT_BASE = -7_340_000_000_000_000


def _sentinel(name: str, kind: type, index: int) -> Any:
    if kind is int:
        return _INT_BASE - index
    if kind is str:
        return f"\ufdd0prepared:{name}\ufdd0"
    raise TypeError(f"a prepared value is an int or a str, not {kind.__name__} ({name})")


def _parameterized(
    build: Callable[..., Any], kinds: dict[str, type], db: Any, shape: tuple[Hashable, ...]
) -> tuple[Any, str, tuple[str | None, ...], tuple[Any, ...]]:
    """The queryset `build` makes with a sentinel for each value, its SQL, and per parameter
    the name of the value that goes there (None: the constant kept for it)."""
    sentinels = {
        name: _sentinel(name, kind, index) for index, (name, kind) in enumerate(kinds.items())
    }
    queryset = build(*shape, **sentinels)
    queryset._db = db
    queryset._make_query()
    sql, params = queryset.query.get_parameterized_sql()
    by_value = {value: name for name, value in sentinels.items()}
    slots = tuple(by_value.get(p) if isinstance(p, int | str) else None for p in params)
    constants = tuple(None if slot else p for slot, p in zip(slots, params, strict=True))
    return queryset, sql, slots, constants


@dataclass(frozen=True)
class _Built:
    sql: str
    # Per parameter: the name of the value that goes there, or None for a constant.
    slots: tuple[str | None, ...]
    constants: tuple[Any, ...]
    select_related_idx: list[Any]
    custom_fields: list[str]
    model: type[Model]

    @property
    def names(self) -> set[str]:
        return {slot for slot in self.slots if slot is not None}

    def params(self, values: dict[str, Any]) -> list[Any]:
        return [
            values[slot] if slot is not None else constant
            for slot, constant in zip(self.slots, self.constants, strict=True)
        ]


class PreparedSelect(Generic[M]):
    """`build(*shape, **values)` returns the queryset; `shape` holds what changes the SQL
    itself (a filter present or not, an enum value), `values` what only fills it (ints and
    strings, declared by `kinds`)."""

    def __init__(
        self,
        model: type[M],
        build: Callable[..., QuerySet[M]],
        *,
        for_update: bool = False,
        **kinds: type,
    ) -> None:
        self._model = model
        self._build = build
        self._for_update = for_update
        self._kinds = kinds
        self._built: dict[tuple[Hashable, ...], _Built] = {}

    def _prepare(self, db: Any, shape: tuple[Hashable, ...]) -> _Built:
        queryset, sql, slots, constants = _parameterized(self._build, self._kinds, db, shape)
        return _Built(
            sql=sql,
            slots=slots,
            constants=constants,
            select_related_idx=queryset._select_related_idx,
            custom_fields=list(queryset._annotations),
            model=queryset.model,
        )

    async def all(self, *shape: Hashable, **values: Any) -> list[M]:
        db = self._model._choose_db(self._for_update)
        key = (db.capabilities.dialect, *shape)
        built = self._built.get(key)
        if built is None:
            built = self._built[key] = self._prepare(db, shape)
            if built.names != set(values):
                # A value the ORM changed on its way in (so its sentinel was not found), or
                # one the query does not take: the SQL would be run with the wrong values.
                raise ValueError(
                    f"prepared values {sorted(values)} ≠ query's {sorted(built.names)}"
                )
        executor = db.executor_class(
            model=built.model,
            db=db,
            prefetch_map={},
            prefetch_queries={},
            select_related_idx=built.select_related_idx,
        )
        rows: list[M] = await executor.execute_select(
            built.sql, built.params(values), custom_fields=built.custom_fields
        )
        return rows

    async def first(self, *shape: Hashable, **values: Any) -> M | None:
        rows = await self.all(*shape, **values)
        return rows[0] if rows else None


class PreparedValues:
    """Like PreparedSelect, for a query of plain values (`values_list`, `count`): built once
    per shape and database, run as its SQL; the rows as the database gives them, each a tuple
    of its columns (no model, no conversion: for ints and strings as stored)."""

    def __init__(self, model: type[Model], build: Callable[..., Any], **kinds: type) -> None:
        self._model = model
        self._build = build
        self._kinds = kinds
        self._built: dict[
            tuple[Hashable, ...], tuple[str, tuple[str | None, ...], tuple[Any, ...]]
        ] = {}

    async def rows(self, *shape: Hashable, **values: Any) -> list[tuple[Any, ...]]:
        db = self._model._choose_db(False)
        key = (db.capabilities.dialect, *shape)
        built = self._built.get(key)
        if built is None:
            _, sql, slots, constants = _parameterized(self._build, self._kinds, db, shape)
            if {slot for slot in slots if slot is not None} != set(values):
                raise ValueError(f"prepared values {sorted(values)} ≠ the query's")
            built = self._built[key] = (sql, slots, constants)
        sql, slots, constants = built
        params = [
            values[slot] if slot is not None else constant
            for slot, constant in zip(slots, constants, strict=True)
        ]
        _, rows = await db.execute_query(sql, params)
        return [tuple(row) for row in rows]


# ---- inserts without a model -----------------------------------------------------------------


async def insert(model: type[Model], **values: Any) -> int:
    """`await model.create(**values)` for a row nobody needs back as a model: tortoise's own
    INSERT (built once per model and database) with the values a save would write — each
    field's default where none is given, each string and JSON value fitted to its column
    (core.models.fitted) — but no model built first. The build, with its field-by-field
    checks and the save's signals, adds about a third to each insert (0.31 against 0.23 ms
    of CPU on SQLite, measured alone), and the outbox writes a row for every client message.
    No save signals are sent: only for a model whose one listener is fit_to_columns, which
    this applies. The new row's id."""
    db = model._choose_db(True)
    executor = db.executor_class(model=model, db=db)
    columns = executor.regular_columns
    unknown = set(values).difference(columns)
    if unknown:
        raise TypeError(f"{model.__name__} has no column {', '.join(sorted(unknown))}")
    fields_map = model._meta.fields_map
    row = []
    for name in columns:
        field = fields_map[name]
        if name in values:
            value = values[name]
        elif field.default is not None:
            value = field.default() if callable(field.default) else field.default
        elif field.null:
            value = None
        else:
            raise TypeError(f"{model.__name__}.{name} needs a value")
        row.append(field.to_db_value(fitted(model, name, value), model))
    inserted = await db.execute_insert(executor.insert_query, row)
    # SQLite answers the row's id; PostgreSQL the row the statement returns (its id).
    return int(inserted if isinstance(inserted, int) else inserted[0])


# ---- inserts that skip rows already there ---------------------------------------------------

_IGNORING: dict[tuple[type[Model], str], tuple[str, list[str]]] = {}


async def insert_ignoring_conflicts(model: type[M], rows: list[M]) -> None:
    """`model.bulk_create(rows, ignore_conflicts=True)` with the statement built once per
    model and database: tortoise builds an ON CONFLICT insert anew for every call (a plain
    insert it caches), and the build costs more than running it. Rows with a value of their
    own for a database-side default go through tortoise itself."""
    if not rows:
        return
    db = model._choose_db(True)
    key = (model, db.capabilities.dialect)
    prepared = _IGNORING.get(key)
    if prepared is None:
        executor = db.executor_class(model=model, db=db)
        fields, columns = executor._prepare_insert_columns()
        sql = executor._prepare_insert_statement(columns, ignore_conflicts=True).get_sql()
        prepared = _IGNORING[key] = (sql, fields)
    sql, fields = prepared
    if model._meta.db_default_db_columns or any(row._custom_generated_pk for row in rows):
        await model.bulk_create(rows, ignore_conflicts=True)
        return
    fields_map = model._meta.fields_map
    values = [[fields_map[f].to_db_value(getattr(row, f), row) for f in fields] for row in rows]
    await db.execute_many(sql, values)
