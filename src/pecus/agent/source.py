"""Reading milking sessions from a farm's local database (read-only, SQLAlchemy Core).

A mapping turns the source's tables into the session contract (`shared/sessions-schema.md`):
the stock DelPro mapping (`SessionMilkYield` ⋈ `VoluntarySessionMilkYield`, `BasicAnimal`,
`AnimalLactationSummary`) unless the config names a table and its columns. Reads are keyset
pages, `WHERE id > :after ORDER BY id LIMIT n` (`SELECT TOP n … ORDER BY` on SQL Server), so
memory stays flat however large the backlog is.
"""

from __future__ import annotations

import decimal
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import (
    Column,
    FromClause,
    MetaData,
    Select,
    Table,
    and_,
    create_engine,
    func,
    inspect,
    or_,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import NoSuchModuleError, SQLAlchemyError
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from pecus.agent import delpro
from pecus.agent.config import SourceConfig, TableMapping
from pecus.agent.localtime import LocalTimeConverter
from pecus.contract import SESSION_COLUMNS

# Sensor values are rounded to 3 decimals (1 g, 0.001 mS/cm): far below any sensor's precision,
# and it drops the float32 noise some databases add (12.300000190734863), which JSON would carry.
DECIMALS = 3
ID = "transaction_id"
CONVERT_ROWS = 1000


class SourceError(Exception):
    """The source could not be read: SQL Server not started, DelPro updating, a network problem,
    or a mapping that names a table or column the database does not have."""


@contextmanager
def _reading(source: str, doing: str) -> Iterator[None]:
    try:
        yield
    except (SQLAlchemyError, ValueError, TypeError, KeyError) as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise SourceError(
            f"source {source}: {doing} failed: {detail[0] if detail else type(exc).__name__}"
        ) from exc


@dataclass
class Batch:
    """Consecutive rows of one stream of a source (sessions, treatments), column-oriented, in id
    order; `id_name` is the contract's name of the id column."""

    columns: dict[str, list[Any]]
    id_name: str = ID

    @property
    def ids(self) -> list[int]:
        return self.columns[self.id_name]

    def __len__(self) -> int:
        return len(self.columns[self.id_name])

    @property
    def last_id(self) -> int:
        return self.columns[self.id_name][-1]

    def split(self) -> tuple[Batch, Batch]:
        half = len(self) // 2
        return (
            Batch({k: v[:half] for k, v in self.columns.items()}, self.id_name),
            Batch({k: v[half:] for k, v in self.columns.items()}, self.id_name),
        )

    def ids_only(self) -> Batch:
        """The same rows with only their ids: what an upload in flight needs to keep (to name
        rows in the server's errors) once its body is encoded."""
        return Batch({self.id_name: self.ids}, self.id_name)

    def extend(self, other: Batch) -> None:
        for name, values in self.columns.items():
            values.extend(other.columns[name])

    def rows(self) -> list[dict[str, Any]]:
        """Row-oriented view (tests, error messages); uploads use the columns."""
        names = list(self.columns)
        return [dict(zip(names, values, strict=True)) for values in zip(*self.columns.values(), strict=True)]


class Mapping(ABC):
    """How one kind of source becomes rows of a stream (sessions unless said otherwise)."""

    id_column: ColumnElement[Any]
    names: tuple[str, ...]  # the contract columns this mapping fills, the id first
    what = "milkings"  # for messages
    source_id_name = "OID"  # the source's own name of the id column, for messages

    @abstractmethod
    def query(self) -> Select[Any]:
        """The select of every milking, ids labelled; the reader adds WHERE, ORDER BY and LIMIT."""

    def id_source(self) -> FromClause | None:
        """The table `max(id)` reads from, when the id column alone does not say."""
        return None

    @abstractmethod
    def convert(self, rows: Sequence[Any], times: LocalTimeConverter) -> Batch:
        """Rows of `query()` -> a column-oriented batch in the session contract."""


def _num(value: Any) -> float | None:
    return None if value is None else round(float(value), DECIMALS)


_SCALE = 10.0**DECIMALS
_NOT_A_TIE = 0.4999  # |v·1000 − round(v·1000)| below this: the fast rounding is round(v, 3)'s


def _rounded(values: Sequence[float | None]) -> list[float | None]:
    """A column of floats rounded to DECIMALS, exactly as `round(v, 3)` does, twice as fast:
    `round(v * 1000) / 1000` is the same number unless v·1000 lies within a hair of a half
    (0.6925 is such a tie), where `round(v, 3)` decides by v's exact binary value."""
    try:
        return [
            None if v is None
            else r / _SCALE if -_NOT_A_TIE < (y := v * _SCALE) - (r := round(y)) < _NOT_A_TIE
            else round(v, DECIMALS)
            for v in values
        ]  # fmt: skip
    except (OverflowError, ValueError):  # an infinity or NaN: left for validation to name
        return [None if v is None else round(v, DECIMALS) for v in values]


def _row_means(columns: Sequence[Sequence[float | None]]) -> list[float | None]:
    """Per row, the mean of the columns' present values (None when none is), rounded."""
    n = len(columns)
    return _rounded([
        (_mean(values) if None in values else sum(values) / n) for values in zip(*columns, strict=True)
    ])  # fmt: skip


def _row_maxes(columns: Sequence[Sequence[float | None]]) -> list[float | None]:
    """Per row, the largest of the columns' present values (None when none is), rounded."""
    rows = zip(*columns, strict=True)
    return _rounded([_max(values) if None in values else max(values) for values in rows])


def _days_since(starts: Sequence[datetime | None], at: Sequence[datetime]) -> list[int | None]:
    """Whole calendar days from each start to its time (days in milk from the calving)."""
    return [None if s is None else t.toordinal() - s.toordinal() for s, t in zip(starts, at, strict=True)]


def _flags(values: Sequence[Any]) -> list[bool | None]:
    return [None if v is None else v != 0 for v in values]


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else None


def _max(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _int(value: Any) -> int | None:
    return None if value is None else round(value) if isinstance(value, float) else int(value)


def _flag(value: Any) -> bool | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() not in {"", "0", "false", "no", "n", "f"}
    return bool(value)


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _datetime(value: Any) -> datetime:
    if isinstance(value, str):
        return datetime.fromisoformat(value.strip())
    if isinstance(value, date) and not isinstance(value, datetime):
        return datetime.combine(value, time())
    if not isinstance(value, datetime):
        raise TypeError(f"expected a date and time, got {value!r}")
    return value


def _json_safe(value: Any) -> Any:
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return value


def lactation_at(animal: ColumnElement[Any], at: ColumnElement[Any], column: str) -> ScalarSelect[Any]:
    """`column` of the cow's lactation at that time: the latest begun before it and not ended
    before it. A TOP 1 subquery rather than a join on the dates, so a row stays one row even
    where lactations overlap (one never closed: seen in the field), and a page is read in id
    order without sorting the rest of the table."""
    other = delpro.AnimalLactationSummary.alias("lactation_at")
    return (
        select(other.c[column])
        .where(
            other.c.Animal == animal,
            other.c.StartDate <= at,
            or_(other.c.EndDate.is_(None), other.c.EndDate > at),
        )
        .order_by(other.c.StartDate.desc())
        .limit(1)
        .scalar_subquery()
    )


class DelProMapping(Mapping):
    """The stock DelPro tables. The lactation is the one the milking belongs to (the latest begun
    before it and not ended before it): for today's milkings the current one (`EndDate IS NULL`),
    and still right for a backlog of last year's."""

    names = SESSION_COLUMNS[: SESSION_COLUMNS.index("extra")]
    id_column = delpro.SessionMilkYield.c.OID

    def query(self) -> Select[Any]:
        s, v = delpro.SessionMilkYield.c, delpro.VoluntarySessionMilkYield.c
        a, lac = delpro.BasicAnimal.c, delpro.AnimalLactationSummary.c
        lactation = lactation_at(s.BasicAnimal, s.BeginTime, "OID")
        its_lactation = and_(lac.Animal == s.BasicAnimal, lac.OID == lactation)  # noqa: SIM300
        joined = (
            delpro.SessionMilkYield.join(delpro.BasicAnimal, s.BasicAnimal == a.OID)
            .outerjoin(delpro.VoluntarySessionMilkYield, v.OID == s.OID)
            .outerjoin(delpro.AnimalLactationSummary, its_lactation)
        )
        return select(
            s.OID, s.MilkingDevice, a.Number, s.BeginTime, s.EndTime, s.TotalYield, s.ExpectedYield,
            s.AvgConductivity, s.MaxConductivity,
            v.ConductivityLF, v.ConductivityRF, v.ConductivityLR, v.ConductivityRR,
            v.QuarterLFYield, v.QuarterRFYield, v.QuarterLRYield, v.QuarterRRYield,
            v.AverageBlood, v.MaxBlood,
            v.MeanFlowLF, v.MeanFlowRF, v.MeanFlowLR, v.MeanFlowRR,
            v.PeakFlowLF, v.PeakFlowRF, v.PeakFlowLR, v.PeakFlowRR,
            s.MilkFlowDuration, v.Occ, v.Mdi, v.Incomplete, v.Kickoff,
            lac.LactationNumber, lac.StartDate,
        ).select_from(joined)  # fmt: skip

    def convert(self, rows: Sequence[Any], times: LocalTimeConverter) -> Batch:
        # Hot path of a catch-up (a million rows): column by column, in comprehensions, no call
        # per value where it can be helped (a call per value was 3/4 of the agent's time).
        if not rows:
            return Batch({name: [] for name in self.names})
        (oid, device, number, begin, end, total, expected, cond_avg, cond_max,
         c_lf, c_rf, c_lr, c_rr, y_lf, y_rf, y_lr, y_rr, blood_avg, blood_max,
         mf_lf, mf_rf, mf_lr, mf_rr, pf_lf, pf_rf, pf_lr, pf_rr,
         duration, occ, mdi, incomplete, kickoff, lactation, calving) = zip(*rows, strict=True)  # fmt: skip
        started, ended = times.pairs(begin, end)
        columns = [
            list(oid), [str(d) for d in device], [str(n) for n in number], started, ended,
            *map(_rounded, (total, expected, cond_avg, cond_max, c_lf, c_rf, c_lr, c_rr,
                            y_lf, y_rf, y_lr, y_rr, blood_avg, blood_max)),
            _row_means((mf_lf, mf_rf, mf_lr, mf_rr)), _row_maxes((pf_lf, pf_rf, pf_lr, pf_rr)),
            list(duration), list(occ), _rounded(mdi), _flags(incomplete), _flags(kickoff), list(lactation),
            _days_since(calving, begin),
        ]  # fmt: skip
        return Batch(dict(zip(self.names, columns, strict=True)))


_CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "unit": _text,
    "animal_id": _text,
    "duration_s": _int,
    "cell_count": _int,
    "lactation_number": _int,
    "days_in_milk": _int,
    "incomplete": _flag,
    "kickoff": _flag,
}


class TableMappingReader(Mapping):
    """Any table or view with one row per milking, e.g. a plain `MilkingSessions` table keyed
    by `TransactionID`; columns named in the config, the others left null."""

    def __init__(self, mapping: TableMapping) -> None:
        self.mapping = mapping
        self.source_id_name = mapping.id
        used = dict.fromkeys([mapping.id, *mapping.columns.values(), *mapping.extra])
        # A Table (not a lightweight table()) so the source's `schema` setting applies to it too.
        self.table = Table(mapping.table, MetaData(), *(Column(name) for name in used))
        self.id_column = self.table.c[mapping.id]
        mapped = set(mapping.columns)
        self.names = (ID, *(n for n in SESSION_COLUMNS if n in mapped)) + (
            ("extra",) if mapping.extra else ()
        )

    def query(self) -> Select[Any]:
        t = self.table.c
        return select(
            t[self.mapping.id].label(ID),
            *(t[src].label(name) for name, src in self.mapping.columns.items()),
            *(t[src].label(f"extra:{src}") for src in self.mapping.extra),
        )

    def id_source(self) -> FromClause | None:
        return self.table

    def convert(self, rows: Sequence[Any], times: LocalTimeConverter) -> Batch:
        out: dict[str, list[Any]] = {name: [] for name in self.names}
        local = self.mapping.times == "local"
        mapped = [name for name in self.mapping.columns if name not in {"started_at", "ended_at"}]
        extra = self.mapping.extra
        converters = [(name, out[name].append, _CONVERTERS.get(name, _num)) for name in mapped]
        for row in rows:
            values = row._mapping
            try:
                begin, end = _datetime(values["started_at"]), _datetime(values["ended_at"])
                if local and begin.tzinfo is None and end.tzinfo is None:
                    begin, end = times.pair(begin, end)
                converted = [(add, convert(values[name])) for name, add, convert in converters]
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{self.mapping.id} {values[ID]}: {exc}") from None
            out[ID].append(int(values[ID]))
            out["started_at"].append(_as_utc(begin))
            out["ended_at"].append(_as_utc(end))
            for add, value in converted:
                add(value)
            if extra:
                out["extra"].append({src: _json_safe(values[f"extra:{src}"]) for src in extra})
        return Batch(out)


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def mapping_for(config: SourceConfig) -> Mapping:
    return DelProMapping() if config.mapping is None else TableMappingReader(config.mapping)


class SourceReader:
    """One configured source read through one mapping (its sessions by default), in the farm's
    time zone."""

    def __init__(
        self, config: SourceConfig, times: LocalTimeConverter, mapping: Mapping | None = None
    ) -> None:
        self.config = config
        self.times = times
        self.mapping = mapping or mapping_for(config)
        self._query = self.mapping.query()
        self._engine: Engine | None = None

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            options: dict[str, Any] = {}
            if self.config.schema_name:
                options["schema_translate_map"] = {None: self.config.schema_name}
            try:
                self._engine = create_engine(
                    self.config.sqlalchemy_url, pool_pre_ping=True, execution_options=options
                )
            except (NoSuchModuleError, ImportError) as exc:
                raise SourceError(
                    f"source {self.name}: no database driver for {self.config.display_url}: {exc}"
                ) from None
        return self._engine

    def statement(self, after_id: int, limit: int) -> Select[Any]:
        """The page after `after_id`: WHERE id > :after ORDER BY id LIMIT :limit."""
        return (
            self._query.where(self.mapping.id_column > after_id).order_by(self.mapping.id_column).limit(limit)
        )

    def read_after(self, after_id: int, limit: int) -> Batch:
        """The page after `after_id`, fetched and converted `CONVERT_ROWS` rows at a time, so a
        large page costs the memory of its columns, not of its raw rows as well."""
        what = self.mapping.what
        batch: Batch | None = None
        with _reading(self.name, f"reading {what}"), self.engine.connect() as conn:
            for rows in conn.execute(self.statement(after_id, limit)).partitions(CONVERT_ROWS):
                with _reading(self.name, f"converting {what}"):
                    chunk = self.mapping.convert(rows, self.times)
                if batch is None:
                    batch = chunk
                else:
                    batch.extend(chunk)
        return batch if batch is not None else self.mapping.convert([], self.times)

    def use(self, mapping: Mapping) -> None:
        """Read through another mapping (same database, same engine)."""
        self.mapping = mapping
        self._query = mapping.query()

    def has_tables(self, *names: str) -> bool:
        """Whether the source has all these tables (in its configured schema)."""
        with _reading(self.name, "looking for tables"), self.engine.connect() as conn:
            found = inspect(conn)
            return all(found.has_table(name, schema=self.config.schema_name) for name in names)

    def max_id(self) -> int | None:
        """The highest id of the mapping's rows in the source (None when it has none)."""
        query = select(func.max(self.mapping.id_column))
        if (origin := self.mapping.id_source()) is not None:
            query = query.select_from(origin)
        with _reading(self.name, "reading the highest id"), self.engine.connect() as conn:
            value = conn.execute(query).scalar()
        return None if value is None else int(value)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


SessionSource = SourceReader  # the name callers of the sessions-only reader know
