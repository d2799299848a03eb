"""The farm's own records, synced beside the milkings: treatments (with the farmer's diagnosis)
and changes to the cow register (`BasicAnimal`: calvings, exits).

Treatments are a stream like sessions: `treatment_id` is the source's row id and the stream's
watermark, so a re-sent batch changes nothing. Animal records carry no id order; the agent sends
the ones that changed since it last looked and the cloud keeps the latest.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from pecus.contract.session import MAX_FUTURE
from pecus.contract.sync import AgentInfo, SourceName

AnimalId = Annotated[str, Field(min_length=1, max_length=64)]
Lactation = Annotated[int, Field(ge=1, le=20)]
FreeText = Annotated[str, Field(max_length=200)]


class Treatment(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    treatment_id: Annotated[int, Field(gt=0, lt=2**63)]
    animal_id: AnimalId
    lactation_number: Lactation | None = None
    started_at: AwareDatetime
    duration_days: Annotated[int, Field(ge=0, le=365)] | None = None
    diagnosis: FreeText = ""
    treatment: FreeText | None = None

    @model_validator(mode="after")
    def _not_in_the_future(self) -> Treatment:
        if self.started_at > datetime.now(UTC) + MAX_FUTURE:
            raise ValueError("started_at is more than 1 day in the future")
        return self


class AnimalRecord(BaseModel):
    """A cow as the farm's register has her now. `exit_date` set: she left the herd."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    animal_id: AnimalId
    lactation_number: Lactation | None = None
    calving_date: date | None = None
    exit_date: date | None = None


class TreatmentBatch(BaseModel):
    """`POST /api/v1/ingest/treatments`: one all-or-nothing batch of one source's treatments."""

    model_config = ConfigDict(extra="forbid")

    farm_id: str
    source: SourceName
    agent: AgentInfo
    cycle_id: str | None = None
    rows: list[Treatment]


class AnimalBatch(BaseModel):
    """`POST /api/v1/ingest/animals`: register changes; the cloud upserts each cow."""

    model_config = ConfigDict(extra="forbid")

    farm_id: str
    source: SourceName
    agent: AgentInfo
    rows: list[AnimalRecord]


class AnimalResult(BaseModel):
    received: int
    updated: int
