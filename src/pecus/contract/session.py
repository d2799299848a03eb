"""One milking session: the data contract of `shared/sessions-schema.md`.

Ranges are physiological / sensor limits; a value outside them is rejected, never clipped.
A missing optional value is None (no sensor), never 0.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import orjson
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, model_validator

MAX_EXTRA_BYTES = 4096
MAX_FUTURE = timedelta(days=1)

Conductivity = Annotated[float, Field(ge=0, le=20)]
QuarterYield = Annotated[float, Field(ge=0, le=25)]
Yield = Annotated[float, Field(ge=0, le=50)]
Blood = Annotated[float, Field(ge=0, le=10_000)]
Flow = Annotated[float, Field(ge=0, le=15)]


def _extra_size(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is not None and len(orjson.dumps(value)) > MAX_EXTRA_BYTES:
        raise ValueError(f"extra is larger than {MAX_EXTRA_BYTES} bytes once encoded as JSON")
    return value


class MilkingSession(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=False, frozen=True)

    transaction_id: Annotated[int, Field(gt=0, lt=2**63)]
    unit: Annotated[str, Field(min_length=1, max_length=64)]
    animal_id: Annotated[str, Field(min_length=1, max_length=64)]
    started_at: AwareDatetime
    ended_at: AwareDatetime
    yield_kg: Yield
    expected_yield_kg: Yield | None = None
    conductivity_avg: Conductivity | None = None
    conductivity_max: Conductivity | None = None
    conductivity_lf: Conductivity | None = None
    conductivity_rf: Conductivity | None = None
    conductivity_lr: Conductivity | None = None
    conductivity_rr: Conductivity | None = None
    yield_lf: QuarterYield | None = None
    yield_rf: QuarterYield | None = None
    yield_lr: QuarterYield | None = None
    yield_rr: QuarterYield | None = None
    blood_avg: Blood | None = None
    blood_max: Blood | None = None
    flow_avg: Flow | None = None
    flow_peak: Flow | None = None
    duration_s: Annotated[int, Field(ge=0, le=3600)] | None = None
    cell_count: Annotated[int, Field(ge=0, le=20_000)] | None = None
    mdi: Annotated[float, Field(ge=0, le=10)] | None = None
    incomplete: bool | None = None
    kickoff: bool | None = None
    lactation_number: Annotated[int, Field(ge=1, le=20)] | None = None
    days_in_milk: Annotated[int, Field(ge=0, le=1000)] | None = None
    extra: Annotated[dict[str, Any] | None, AfterValidator(_extra_size)] = None

    @model_validator(mode="after")
    def _times_are_consistent(self) -> MilkingSession:
        check_times(self.started_at, self.ended_at, datetime.now(UTC))
        return self


def check_times(started_at: datetime, ended_at: datetime, now: datetime) -> None:
    """The checks across fields of a session (also run by the cloud's column-wise validation)."""
    if started_at > ended_at:
        raise ValueError("started_at is after ended_at")
    if started_at > now + MAX_FUTURE:
        raise ValueError("started_at is more than 1 day in the future")


SESSION_COLUMNS: tuple[str, ...] = tuple(MilkingSession.model_fields)
REQUIRED_COLUMNS: tuple[str, ...] = tuple(
    name for name, field in MilkingSession.model_fields.items() if field.is_required()
)
OPTIONAL_COLUMNS: tuple[str, ...] = tuple(c for c in SESSION_COLUMNS if c not in REQUIRED_COLUMNS)
