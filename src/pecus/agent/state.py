"""The agent's small local memory: the last cycles (for `status`) and pending resyncs.

The cloud's watermark is the truth about what has been uploaded; this file only remembers what
the technician needs to see and what `resync` asked for. It is written atomically (a temporary
file, then a rename), so a crash never leaves half a file; an unreadable file is set aside and
the agent starts with an empty memory rather than not starting.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError

log = logging.getLogger(__name__)

KEEP_CYCLES = 100

Result = Literal[
    "up_to_date",  # everything read was accepted, the last read was empty
    "no_new_data",
    "restored",  # local max id below the cloud watermark: nothing uploaded
    "rejected",  # the cloud refused a batch (4xx): stopped, the same batch would fail again
    "key_rejected",
    "cloud_unreachable",
    "source_failed",  # the local database could not be read
    "error",
    "skipped",  # not tried: an earlier source found the cloud unreachable or the key refused
    "cancelled",  # stopped (service stop, suspend)
    "not_available",  # a stream the source or the cloud does not have (no treatment tables)
]
OK_RESULTS = frozenset({"up_to_date", "no_new_data", "not_available"})
Stream = Literal["sessions", "treatments", "animals"]


class SourceRecord(BaseModel):
    source: str
    stream: Stream = "sessions"
    result: Result
    sent: int = 0
    inserted: int = 0
    already_present: int = 0
    bytes_sent: int = 0  # request bodies as uploaded (gzip): what the farm's line carried
    watermark: int | None = None
    local_max: int | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.result in OK_RESULTS


class CycleRecord(BaseModel):
    cycle_id: str
    reason: str
    started_at: datetime
    finished_at: datetime | None = None
    sources: list[SourceRecord] = Field(default_factory=list)  # the sessions stream of each source
    streams: list[SourceRecord] = Field(default_factory=list)  # their treatments and animals

    @property
    def ok(self) -> bool:
        return bool(self.sources) and all(s.ok for s in [*self.sources, *self.streams])


class Resync(BaseModel):
    """`pecus-agent resync --source S --from ID`: upload from ID on, although the cloud's
    watermark is higher, until this source's ids pass that watermark."""

    from_id: int
    cloud_watermark: int
    cursor: int
    requested_at: datetime = Field(default_factory=lambda: datetime.now(UTC))


class AnimalsSeen(BaseModel):
    """The cow register of one source as last uploaded: a digest per cow, and the farm's date
    of that read (the next one reads departed cows only from shortly before it)."""

    read_on: date
    digests: dict[str, str] = Field(default_factory=dict)


class AgentState(BaseModel):
    cycles: list[CycleRecord] = Field(default_factory=list)
    resync: dict[str, Resync] = Field(default_factory=dict)
    animals: dict[str, AnimalsSeen] = Field(default_factory=dict)


class StateStore:
    """Every change is read-modify-write of the file, so two agent processes (the service and a
    technician's `sync --once`) do not undo each other's changes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> AgentState:
        try:
            return AgentState.model_validate_json(self.path.read_bytes())
        except FileNotFoundError:
            return AgentState()
        except (OSError, ValidationError, ValueError) as exc:
            aside = self.path.with_name(self.path.name + ".unreadable")
            log.warning("state file %s is unreadable (%s); set aside as %s", self.path, exc, aside.name)
            with contextlib.suppress(OSError):
                os.replace(self.path, aside)
            return AgentState()

    def update(self, change: Callable[[AgentState], object]) -> AgentState:
        state = self.read()
        change(state)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        temporary.write_text(state.model_dump_json(indent=1), encoding="utf-8")
        os.replace(temporary, self.path)
        return state

    def record(self, cycle: CycleRecord) -> None:
        def add(state: AgentState) -> None:
            state.cycles = [*state.cycles, cycle][-KEEP_CYCLES:]

        self.update(add)
