"""Reading the farmer's treatments: the second stream of a source, beside its milkings.

Three mappings, all ending in the same seven columns (id, cow number, lactation, start, duration,
diagnosis, treatment) and the same conversion:
 - `delpro5`: DelPro 4.5 / 5.x, `HistoryAnimalTreatment` ⋈ `BasicAnimal` (the cow's number);
 - `delpro37`: DelPro 3.7, `DiagnosisTreatmentEvent` ⋈ `AbstractAnimalEvent` (time, cow) ⋈
   `BasicAnimal` ⋈ `Diagnosis` (its name); the lactation is the one the event falls in;
 - a `TreatmentMapping` from the config: any table or view, one row per treatment.
"auto" picks DelPro 5.x's table if the source has it, else 3.7's, else none.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Column, FromClause, MetaData, Select, Table, literal, null, select

from pecus.agent import delpro
from pecus.agent.config import TREATMENT_COLUMNS, SourceConfig, TreatmentMapping
from pecus.agent.localtime import LocalTimeConverter
from pecus.agent.source import Batch, Mapping, SourceReader, _as_utc, _datetime, _int, _text, lactation_at

ID = "treatment_id"
TEXT_MAX = 200  # the contract's limit on diagnosis and treatment names


def _name(value: Any) -> str | None:
    # Farm-defined free text: clipped rather than refused, or one long name would stop the stream.
    text = _text(value)
    return None if text is None else text[:TEXT_MAX]


class _TreatmentMapping(Mapping):
    names = TREATMENT_COLUMNS
    what = "treatments"
    local_times = True

    def convert(self, rows: Sequence[Any], times: LocalTimeConverter) -> Batch:
        out: dict[str, list[Any]] = {name: [] for name in self.names}
        for oid, number, lactation, start, duration, diagnosis, treatment in rows:
            try:
                started = _datetime(start)
                started = times.one(started) if self.local_times else _as_utc(started)
                values = (int(oid), _text(number), _int(lactation), started, _int(duration))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{self.source_id_name} {oid}: {exc}") from None
            for name, value in zip(
                self.names, (*values, _name(diagnosis) or "", _name(treatment)), strict=True
            ):
                out[name].append(value)
        return Batch(out, ID)


class DelPro5Treatments(_TreatmentMapping):
    id_column = delpro.HistoryAnimalTreatment.c.OID

    def query(self) -> Select[Any]:
        h, a = delpro.HistoryAnimalTreatment.c, delpro.BasicAnimal.c
        return select(
            h.OID,
            a.Number,
            h.LactationNumber,
            h.TreatStartDate,
            h.DurationInDays,
            h.DiagnosesName,
            h.TreatmentName,
        ).select_from(delpro.HistoryAnimalTreatment.join(delpro.BasicAnimal, h.Animal == a.OID))


class DelPro37Treatments(_TreatmentMapping):
    id_column = delpro.DiagnosisTreatmentEvent.c.OID

    def query(self) -> Select[Any]:
        d, e = delpro.DiagnosisTreatmentEvent.c, delpro.AbstractAnimalEvent.c
        a, g = delpro.BasicAnimal.c, delpro.Diagnosis.c
        # 3.7 does not store the lactation with the event: the one it falls in.
        lactation = lactation_at(e.BasicAnimal, e.DateAndTime, "LactationNumber")
        joined = (
            delpro.DiagnosisTreatmentEvent.join(delpro.AbstractAnimalEvent, e.OID == d.OID)
            .join(delpro.BasicAnimal, e.BasicAnimal == a.OID)
            .outerjoin(delpro.Diagnosis, d.Diagnosis == g.OID)
        )
        return select(
            d.OID, a.Number, lactation, e.DateAndTime, d.DurationInDays, g.Name, null().label("TreatmentName")
        ).select_from(joined)


class TreatmentTableReader(_TreatmentMapping):
    """A configured table or view; columns not mapped are null (an empty diagnosis)."""

    def __init__(self, mapping: TreatmentMapping) -> None:
        self.mapping = mapping
        self.source_id_name = mapping.id
        self.local_times = mapping.times == "local"
        used = dict.fromkeys([mapping.id, *mapping.columns.values()])
        self.table = Table(mapping.table, MetaData(), *(Column(name) for name in used))
        self.id_column = self.table.c[mapping.id]

    def query(self) -> Select[Any]:
        t, columns = self.table.c, self.mapping.columns
        return select(
            t[self.mapping.id],
            *(t[columns[name]] if name in columns else literal(None) for name in self.names[1:]),
        )

    def id_source(self) -> FromClause | None:
        return self.table


_STOCK = {"delpro5": DelPro5Treatments, "delpro37": DelPro37Treatments}
# The tables each stock mapping needs, in the order "auto" tries them.
TABLES = {
    "delpro5": ("HistoryAnimalTreatment", "BasicAnimal"),
    "delpro37": ("DiagnosisTreatmentEvent", "AbstractAnimalEvent", "BasicAnimal", "Diagnosis"),
}


def treatment_reader(config: SourceConfig, times: LocalTimeConverter) -> SourceReader | None:
    """The source's treatments reader, or None when it has none (`off`, or "auto" found no
    treatment tables). Looking for the tables reads the source (raises SourceError)."""
    setting = config.treatments
    if setting == "off":
        return None
    if isinstance(setting, TreatmentMapping):
        return SourceReader(config, times, TreatmentTableReader(setting))
    reader = SourceReader(config, times, DelPro5Treatments())
    kind: str | None = setting
    if setting == "auto":
        kind = next((k for k, tables in TABLES.items() if reader.has_tables(*tables)), None)
        if kind is None:
            reader.close()
            return None
    reader.use(_STOCK[str(kind)]())
    return reader
