"""What large writes of leads share (lead generation, imports, bulk jobs): multi-row ``INSERT``s of
prepared values (``RawInserter``), the full-text index filled once at the end instead of row by row
(``DeferredSearchIndex``), and id ranges. What differs between SQLite and PostgreSQL underneath
(statement size, placeholders, cursors, the search index's trigger) is asked of ``leads.vendor``.
"""

from __future__ import annotations

import operator
from collections.abc import Iterable

from django.db import connection, models

from leads import vendor


def id_ranges(ids: Iterable[int]) -> list[list[int]]:
    """[3, 4, 5, 9] → [[3, 5], [9, 9]]."""
    ranges: list[list[int]] = []
    for pk in sorted(ids):
        if ranges and pk == ranges[-1][1] + 1:
            ranges[-1][1] = pk
        else:
            ranges.append([pk, pk])
    return ranges


class DeferredSearchIndex:
    """The new leads go into the full-text index in one statement per id range when the block ends,
    instead of row by row (``vendor.search_trigger_drop`` / ``vendor.search_index_fill``; nothing to
    do where the index follows every insert). On an error the caller's transaction rolls everything
    back, the dropped trigger included.

    ``with DeferredSearchIndex() as index: …; index.add(first_id, last_id)``"""

    def __init__(self):
        self.trigger: str | None = None
        self.ranges: list[tuple[int, int]] = []

    def add(self, first_id: int, last_id: int) -> None:
        self.ranges.append((first_id, last_id))

    def add_ids(self, ids: Iterable[int]) -> None:
        self.ranges.extend((first, last) for first, last in id_ranges(ids))

    def __enter__(self) -> DeferredSearchIndex:
        self.trigger = vendor.search_trigger_drop()
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if self.trigger is not None and kind is None:
            vendor.search_index_fill(self.ranges, self.trigger)


class RawInserter:
    """Multi-row ``INSERT`` of model instances, values prepared per field type exactly as the ORM
    prepares them (``get_db_prep_save``), but with the cheap cases (text, numbers, booleans,
    foreign key ids) passed through and repeated datetimes converted once."""

    def __init__(self, model, *, fixed: dict | None = None):
        """``fixed``: values of some columns that are the same for every row (attname → value)."""
        self.model = model
        self.fields = [f for f in model._meta.concrete_fields if not f.primary_key]
        self.attnames = [f.attname for f in self.fields]
        self.prepare = [self._preparer(f) for f in self.fields]
        fixed = fixed or {}
        self.fixed = [
            (i, value if self.prepare[i] is None else self.prepare[i](value))
            for i, value in ((self.attnames.index(name), value) for name, value in fixed.items())
        ]
        self.read = [i for i, name in enumerate(self.attnames) if name not in fixed]
        self.preparers = [(n, self.prepare[i]) for n, i in enumerate(self.read) if self.prepare[i] is not None]
        self.getter = operator.attrgetter(*(self.attnames[i] for i in self.read))
        self.position = {name: i for i, name in enumerate(self.attnames)}
        quote = connection.ops.quote_name
        self.head = (
            f"INSERT INTO {quote(model._meta.db_table)} ({', '.join(quote(f.column) for f in self.fields)}) VALUES "  # noqa: S608
        )
        self.returning = f" RETURNING {quote(model._meta.pk.column)}"
        self.per_statement = max(1, min(500, vendor.parameter_limit() // len(self.fields)))
        self.one = "(" + ", ".join([vendor.placeholder()] * len(self.fields)) + ")"

    @staticmethod
    def _preparer(model_field):
        internal = model_field.get_internal_type()
        if isinstance(model_field, models.ForeignKey) or internal in (
            "CharField", "TextField", "SlugField", "EmailField", "URLField", "BooleanField", "IntegerField",
            "PositiveIntegerField", "PositiveSmallIntegerField", "PositiveBigIntegerField", "SmallIntegerField",
            "BigIntegerField",
        ):  # fmt: skip
            return None
        if internal == "DateTimeField":
            memo: dict = {}

            def datetime_value(value):
                if value is None:
                    return None
                if value not in memo:
                    if len(memo) > 1000:
                        memo.clear()
                    memo[value] = model_field.get_db_prep_save(value, connection)
                return memo[value]

            return datetime_value
        if internal == "JSONField":
            empty = {}

            def json_value(value):
                if value in ({}, []) and type(value) in (dict, list):
                    key = type(value)
                    if key not in empty:
                        empty[key] = model_field.get_db_prep_save(value, connection)
                    return empty[key]
                return model_field.get_db_prep_save(value, connection)

            return json_value
        return lambda value: model_field.get_db_prep_save(value, connection)

    def values_of(self, obj) -> list:
        read = self.getter(obj)
        if len(self.read) == 1:
            read = (read,)
        values = list(read)
        for index, prepare in self.preparers:
            values[index] = prepare(values[index])
        if self.fixed:
            full = [None] * len(self.fields)
            for index, value in zip(self.read, values, strict=True):
                full[index] = value
            for index, value in self.fixed:
                full[index] = value
            return full
        return values

    def derived(self, source: RawInserter, fixed_pk: str = "id"):
        """A function (source row values, pk) → this model's row: a historical row built from the
        values already prepared for the tracked model (no second preparation)."""
        fixed = dict(self.fixed)
        plan = []
        for index, name in enumerate(self.attnames):
            if index in fixed:
                plan.append((0, fixed[index]))
            elif name == fixed_pk:
                plan.append((1, None))
            else:
                plan.append((2, source.position[name]))

        def build(values: list, pk) -> list:
            return [value if kind == 0 else pk if kind == 1 else values[value] for kind, value in plan]

        return build

    def values_from(self, data: dict) -> list:
        """A row from a dict of attnames (missing ones: the field's default)."""
        values = []
        for model_field, prepare in zip(self.fields, self.prepare, strict=True):
            value = data[model_field.attname] if model_field.attname in data else model_field.get_default()
            values.append(value if prepare is None else prepare(value))
        return values

    def insert(self, rows: list[list], *, returning: bool = False) -> list[int]:
        ids: list[int] = []
        with vendor.raw_cursor() as cursor:
            for start in range(0, len(rows), self.per_statement):
                chunk = rows[start : start + self.per_statement]
                params = [value for row in chunk for value in row]
                sql = self.head + ", ".join([self.one] * len(chunk))
                if returning:
                    cursor.execute(sql + self.returning, params)
                    # Ids rise in insertion order (one writer holds the lock; sequences increase).
                    ids.extend(sorted(pk for (pk,) in cursor.fetchall()))
                else:
                    cursor.execute(sql, params)
        return ids
