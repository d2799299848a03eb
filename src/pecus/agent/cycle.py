"""One sync cycle: for each source, handshake, then read → upload until a read comes back empty.

Where a source starts: `cloud watermark − late_commit_lookback`. Re-reading that window each
cycle is what catches rows whose ids committed out of order (two robots writing at once); the
cloud drops the copies it already has. The read of the next page overlaps the upload of the
current one, and at most two pages are in memory whatever the backlog.

A cycle never raises for an expected failure (cloud unreachable, key refused, source down,
batch rejected): it logs, records the outcome and returns it. Cancellation (service stop,
suspend) is recorded and re-raised.
"""

from __future__ import annotations

import asyncio
import logging
import random
import socket
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pecus import __version__
from pecus.agent import animals
from pecus.agent.config import AgentConfig, ConfigError
from pecus.agent.localtime import LocalTimeConverter
from pecus.agent.source import Batch, SourceError, SourceReader
from pecus.agent.state import AgentState, AnimalsSeen, CycleRecord, Resync, SourceRecord, StateStore, Stream
from pecus.agent.treatments import treatment_reader
from pecus.agent.uploader import (
    INGEST_SESSIONS,
    INGEST_TREATMENTS,
    CloudClient,
    Payload,
    Rejected,
    RetryPolicy,
    Sleep,
    Unreachable,
    encode,
)
from pecus.contract import SyncStatus

log = logging.getLogger(__name__)

# progress(source, first id, last id read so far, highest local id)
Progress = Callable[[str, int, int, int], None]


class _Stop(Exception):
    """The rest of the cycle cannot succeed (cloud unreachable, key refused)."""

    def __init__(self, record: SourceRecord) -> None:
        self.record = record


@dataclass
class Syncer:
    """Runs cycles for one configuration. `sleep` and `jitter` are injectable for tests."""

    config: AgentConfig
    state: StateStore
    sleep: Sleep = asyncio.sleep
    jitter: Callable[[float, float], float] = random.uniform
    progress: Progress | None = None
    agent: dict[str, str] = field(
        default_factory=lambda: {"version": __version__, "host": socket.gethostname()}
    )

    def cloud(self, attempts: int | None = None) -> CloudClient:
        retry = RetryPolicy(attempts=attempts or self.config.retry_attempts, initial=self.config.retry_wait)
        return CloudClient(
            self.config.cloud_url,
            self.config.key(),
            self.config.farm_id,
            timeout=self.config.request_timeout,
            retry=retry,
            sleep=self.sleep,
            jitter=self.jitter,
        )

    def source(self, name: str) -> SourceReader:
        return SourceReader(self.config.source(name), LocalTimeConverter(self.config.zone))

    async def cycle(self, reason: str = "manual", only: list[str] | None = None) -> CycleRecord:
        record = CycleRecord(cycle_id=uuid.uuid4().hex[:12], reason=reason, started_at=datetime.now(UTC))
        names = only or [s.name for s in self.config.sources]
        log.info("sync cycle %s started (%s): %s", record.cycle_id, reason, ", ".join(names))
        try:
            await self._sources(record, names)
        except asyncio.CancelledError:
            done = {s.source for s in record.sources}
            record.sources += [SourceRecord(source=n, result="cancelled") for n in names if n not in done]
            log.warning("sync cycle %s cancelled", record.cycle_id)
            raise
        finally:
            record.finished_at = datetime.now(UTC)
            self._record(record)
        seconds = (record.finished_at - record.started_at).total_seconds()
        results = ", ".join(
            f"{s.source}{'' if s.stream == 'sessions' else ' ' + s.stream} {s.result}"
            for s in [*record.sources, *record.streams]
        )
        (log.info if record.ok else log.error)(
            "sync cycle %s finished in %.1f s: %s", record.cycle_id, seconds, results
        )
        return record

    async def _sources(self, record: CycleRecord, names: list[str]) -> None:
        try:
            cloud = self.cloud()
        except ConfigError as exc:  # e.g. the key file became unreadable since the agent started
            log.error("sync cycle %s: %s", record.cycle_id, "; ".join(exc.problems))
            record.sources = [SourceRecord(source=n, result="error", message=exc.problems[0]) for n in names]
            return
        async with cloud:
            for index, name in enumerate(names):
                try:
                    await self._sync_source(cloud, name, record)
                except _Stop as stop:  # the cloud is gone or refuses the key: the others would fail too
                    record.sources += [
                        SourceRecord(source=n, result="skipped", message=stop.record.message)
                        for n in names[index + 1 :]
                    ]
                    return

    def _record(self, record: CycleRecord) -> None:
        try:
            self.state.record(record)
        except OSError as exc:
            log.error("could not write the state file %s: %s", self.state.path, exc)

    async def _sync_source(self, cloud: CloudClient, name: str, cycle: CycleRecord) -> None:
        """The source's streams in turn: sessions, then treatments and the cow register, each with
        its own result; a failure of one (no treatment tables) does not stop the others."""
        source = self.source(name)
        record = SourceRecord(source=name, result="up_to_date")  # filled in as the source syncs
        cycle.sources.append(record)
        status: list[SyncStatus] = []

        async def sessions() -> None:
            status.append(await cloud.sync_status(name))
            stream = _Stream("sessions", source, status[0].watermark, INGEST_SESSIONS)
            await self._sync(cloud, stream, status[0], cycle.cycle_id, record)

        try:
            await _guarded(record, name, sessions)
        finally:
            await asyncio.to_thread(source.close)
        if not status:  # no handshake: the other streams would fail the same way
            return
        config = self.config.source(name)
        if config.treatments != "off":
            treatments = SourceRecord(source=name, stream="treatments", result="up_to_date")
            cycle.streams.append(treatments)
            await _guarded(
                treatments,
                f"{name} (treatments)",
                lambda: self._treatments(cloud, status[0], cycle, treatments),
            )
        if config.animals != "off":
            register = SourceRecord(source=name, stream="animals", result="up_to_date")
            cycle.streams.append(register)
            await _guarded(register, f"{name} (animals)", lambda: self._animals(cloud, status[0], register))

    async def _treatments(
        self, cloud: CloudClient, status: SyncStatus, cycle: CycleRecord, record: SourceRecord
    ) -> None:
        name = record.source
        if status.treatments_watermark is None:
            _not_available(
                record,
                log.warning,
                "the cloud is older than the treatments stream: treatments are not synced",
            )
            return
        config = self.config.source(name)
        reader = await asyncio.to_thread(treatment_reader, config, LocalTimeConverter(self.config.zone))
        if reader is None:
            _not_available(
                record,
                log.info,
                "the source has no treatment tables (HistoryAnimalTreatment, DiagnosisTreatmentEvent)",
            )
            return
        try:
            stream = _Stream("treatments", reader, status.treatments_watermark, INGEST_TREATMENTS, rows=True)
            await self._sync(cloud, stream, status, cycle.cycle_id, record)
        finally:
            await asyncio.to_thread(reader.close)

    async def _animals(self, cloud: CloudClient, status: SyncStatus, record: SourceRecord) -> None:
        name = record.source
        if status.treatments_watermark is None:  # the same clouds lack /ingest/animals (warned above)
            _not_available(record, log.info, "the cloud is older than the animal register sync: not synced")
            return
        reader = self.source(name)
        try:
            if self.config.source(name).animals == "auto" and not await asyncio.to_thread(
                reader.has_tables, *animals.TABLES
            ):
                _not_available(
                    record, log.info, "the source has no cow register (BasicAnimal, AnimalLactationSummary)"
                )
                return
            seen = self.state.read().animals.get(name)
            today = datetime.now(self.config.zone).date()
            cows = await asyncio.to_thread(animals.read, reader, seen.read_on if seen else None)
        finally:
            await asyncio.to_thread(reader.close)
        digests = {cow["animal_id"]: animals.digest(cow) for cow in cows}
        known = seen.digests if seen else {}
        changed = [cow for cow in cows if known.get(cow["animal_id"]) != digests[cow["animal_id"]]]
        limit = max(1, min(self.config.max_batch_size, status.max_batch_size))
        for first in range(0, len(changed), limit):
            chunk = animals.as_batch(changed[first : first + limit])
            for payload in encode(
                chunk,
                farm_id=self.config.farm_id,
                source=name,
                agent=self.agent,
                cycle_id=None,
                max_body_bytes=status.max_body_bytes,
                rows=True,
            ):
                try:
                    result = await cloud.ingest_animals(payload)
                except Rejected as exc:
                    if not exc.key_problem:
                        for line in exc.explain()[1:]:
                            log.error("source %s (animals): %s", name, line.strip())
                    raise
                record.sent += result.received
                record.inserted += result.updated
                record.bytes_sent += len(payload.body)
        # Only now, with every change acknowledged: a cycle killed before this sends them again.
        self.state.update(lambda s: s.animals.__setitem__(name, AnimalsSeen(read_on=today, digests=digests)))
        record.local_max = len(cows)
        record.result = "up_to_date" if changed else "no_new_data"
        record.message = f"read {len(cows)} cows, sent {len(changed)} changed, {record.inserted} updated"
        log.info("source %s (animals): %s", name, record.message)

    async def _sync(
        self, cloud: CloudClient, stream: _Stream, status: SyncStatus, cycle_id: str, record: SourceRecord
    ) -> None:
        source = stream.reader
        sessions = stream.kind == "sessions"
        name = source.name
        label = name if sessions else f"{name} ({stream.kind})"
        watermark = record.watermark = stream.watermark
        local_max = record.local_max = await asyncio.to_thread(source.max_id)
        # A resync (after a restored database) concerns the sessions: their ids are what it names.
        marker = self.state.read().resync.get(name) if sessions else None

        if marker is None and (local_max or 0) < watermark:
            record.result = "restored"
            record.message = (
                f"the local database's highest id ({local_max or 'none: it is empty'}) is below the cloud's"
                f" watermark ({watermark}): it was restored from a backup or replaced. Nothing was uploaded."
                f" Check the database; to upload from an id anyway run"
                f" `pecus-agent resync --source {name} --from ID`"
            )
            log.error("source %s: %s", label, record.message)
            return

        lookback = self.config.late_commit_lookback
        if marker is not None:
            start = max(marker.from_id, marker.cursor - lookback)
            log.warning(
                "source %s: resync from id %d (cloud watermark %d, local max %s)",
                name, marker.from_id, marker.cloud_watermark, local_max,
            )  # fmt: skip
        else:
            start = max(0, watermark - lookback)
        limit = max(1, min(self.config.max_batch_size, status.max_batch_size))
        log.info(
            "source %s: cloud watermark %d, local max id %s; reading after id %d, %d rows a batch",
            label, watermark, local_max, start, limit,
        )  # fmt: skip

        new_rows, cursor = 0, start
        new_above = watermark if marker is None else marker.from_id
        id_name = source.mapping.source_id_name

        def encoded(batch: Batch) -> list[Payload]:
            return list(
                encode(
                    batch,
                    farm_id=self.config.farm_id,
                    source=name,
                    agent=self.agent,
                    cycle_id=cycle_id,
                    max_body_bytes=status.max_body_bytes,
                    rows=stream.rows,
                )
            )

        async with aclosing(_pages(source, start, limit, encoded)) as pages:
            async for batch, payloads in pages:
                for payload in payloads:
                    try:
                        result = await cloud.ingest(payload, stream.path)
                    except Rejected as exc:
                        if not exc.key_problem:
                            for line in exc.explain(payload.batch.ids, id_name)[1:]:
                                log.error("source %s: %s", label, line.strip())
                        raise
                    record.sent += result.received
                    record.bytes_sent += len(payload.body)
                    record.inserted += result.inserted
                    record.already_present += result.already_present
                    record.watermark = result.watermark
                new_rows += sum(1 for i in batch.ids if i > new_above)
                cursor = batch.last_id
                if marker is not None:
                    self._advance(name, cursor)
                if note := source.times.summary():
                    log.warning("source %s: %s", label, note)
                if self.progress is not None:
                    self.progress(label, start, batch.last_id, max(local_max or 0, batch.last_id))
                log.debug("source %s: sent ids %d–%d", label, batch.ids[0], batch.last_id)

        if marker is not None and (record.watermark or 0) <= cursor:
            self.state.update(lambda s: s.resync.pop(name, None))
            log.info("source %s: resync complete; back to following the cloud's watermark", name)
        late = record.inserted - new_rows
        if new_rows == 0 and record.inserted == 0:
            record.result = "no_new_data"
            log.info("source %s: No new data (re-checked %d rows below the watermark)", label, record.sent)
        else:
            if late > 0:
                log.warning(
                    "source %s: found %d row(s) that committed late, below the watermark", label, late
                )
            log.info(
                "source %s: up to date: sent %d rows (%d new, %.1f kB gzip), inserted %d, already present %d;"
                " watermark %s",
                label, record.sent, new_rows, record.bytes_sent / 1000, record.inserted,
                record.already_present, record.watermark,
            )  # fmt: skip
        if marker is not None and record.already_present:
            log.warning(
                "source %s: %d row(s) sent in the resync have ids the cloud already has; it keeps its copy",
                name, record.already_present,
            )  # fmt: skip

    def _advance(self, name: str, cursor: int) -> None:
        def move(state: AgentState) -> None:
            marker = state.resync.get(name)
            if marker is not None:
                marker.cursor = max(marker.cursor, cursor)

        self.state.update(move)

    async def request_resync(self, name: str, from_id: int) -> Resync:
        """Record a resync of `name` from `from_id`; the cloud says what watermark it overrides."""
        self.config.source(name)  # raises for an unknown source
        async with self.cloud(attempts=1) as cloud:
            status = await cloud.sync_status(name, retry=False)
        marker = Resync(from_id=from_id, cloud_watermark=status.watermark, cursor=from_id)
        self.state.update(lambda s: s.resync.__setitem__(name, marker))
        return marker


@dataclass(frozen=True)
class _Stream:
    """One id-ordered stream of a source: what to read, from which watermark, where to upload."""

    kind: Stream
    reader: SourceReader
    watermark: int
    path: str
    rows: bool = False  # upload row objects (TreatmentBatch) rather than columns (IngestBatch)


def _not_available(record: SourceRecord, say: Callable[..., None], why: str) -> None:
    record.result, record.message = "not_available", why
    say("source %s (%s): %s", record.source, record.stream, why)


async def _guarded(record: SourceRecord, label: str, run: Callable[[], Awaitable[None]]) -> None:
    """Run one stream, turning expected failures into its record's result. The cloud unreachable
    or the key refused stop the cycle (_Stop): every other request would fail the same way."""
    try:
        await run()
    except asyncio.CancelledError:
        record.result = "cancelled"
        raise
    except SourceError as exc:
        log.error("%s; will try again next cycle", exc)
        record.result, record.message = "source_failed", str(exc)
    except Unreachable as exc:
        log.error(
            "source %s: the cloud is unreachable: %s; the next cycle resumes from its watermark", label, exc
        )
        record.result, record.message = "cloud_unreachable", str(exc)
        raise _Stop(record) from None
    except Rejected as exc:
        record.result, record.message = "rejected", str(exc)
        if exc.key_problem:
            log.error("source %s: %s; check farm_id and the API key", label, exc)
            record.result = "key_rejected"
            raise _Stop(record) from None
        log.error("source %s: %s", label, exc)
    except Exception as exc:  # a bug must not stop the other sources or the service
        log.exception("source %s: unexpected error", label)
        record.result, record.message = "error", f"{type(exc).__name__}: {exc}"


async def _pages(
    source: SourceReader, after: int, limit: int, encoded: Callable[[Batch], list[Payload]]
) -> AsyncGenerator[tuple[Batch, list[Payload]], None]:
    """Pages after `after`, encoded for upload, until one comes back empty. The next page is read
    and encoded in a worker thread while the caller uploads the current one."""

    def read(after_id: int) -> tuple[Batch, list[Payload]]:
        batch = source.read_after(after_id, limit)
        return batch.ids_only(), encoded(batch) if batch else []  # the columns are in the bodies

    pending = asyncio.ensure_future(asyncio.to_thread(read, after))
    try:
        while True:
            batch, payloads = await pending
            if not batch:
                return
            pending = asyncio.ensure_future(asyncio.to_thread(read, batch.last_id))
            yield batch, payloads
    finally:
        if not pending.done():
            pending.cancel()
