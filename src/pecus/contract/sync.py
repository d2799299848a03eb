"""The agent <-> cloud sync protocol: handshake and ingest batch (API version 1)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

SourceName = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$")]


class AgentInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")

    version: Annotated[str, Field(max_length=64)]
    host: Annotated[str, Field(max_length=255)] = ""


class IngestBatch(BaseModel):
    """One upload. Rows travel either row-oriented (`rows`: a list of session objects) or
    column-oriented (`columns`: {column name: [value per row]}), which gzips to fewer bytes.
    Validation of each row happens in the cloud, so errors name the row index and field."""

    model_config = ConfigDict(extra="forbid")

    farm_id: str
    source: SourceName
    agent: AgentInfo
    cycle_id: str | None = None
    rows: list[dict[str, Any]] | None = None
    columns: dict[str, list[Any]] | None = None


class SyncStatus(BaseModel):
    farm_id: str
    source: str
    watermark: int
    # Absent from clouds older than the treatments stream: the agent then skips that stream.
    treatments_watermark: int | None = None
    max_batch_size: int
    max_body_bytes: int


class IngestResult(BaseModel):
    received: int
    inserted: int
    already_present: int
    watermark: int
