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
from collections.abc import AsyncGenerator, Callable
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pecus import __version__
from pecus.agent.config import AgentConfig, ConfigError
from pecus.agent.localtime import LocalTimeConverter
from pecus.agent.source import Batch, SessionSource, SourceError
from pecus.agent.state import AgentState, CycleRecord, Resync, SourceRecord, StateStore
from pecus.agent.uploader import CloudClient, Payload, Rejected, RetryPolicy, Sleep, Unreachable, encode

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

    def source(self, name: str) -> SessionSource:
        return SessionSource(self.config.source(name), LocalTimeConverter(self.config.zone))

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
        results = ", ".join(f"{s.source} {s.result}" for s in record.sources)
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
                    record.sources.append(await self._sync_source(cloud, name, record.cycle_id))
                except _Stop as stop:  # the cloud is gone or refuses the key: the others would fail too
                    record.sources.append(stop.record)
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

    async def _sync_source(self, cloud: CloudClient, name: str, cycle_id: str) -> SourceRecord:
        source = self.source(name)
        record = SourceRecord(source=name, result="up_to_date")  # filled in as the source syncs
        try:
            await self._sync(cloud, source, cycle_id, record)
        except SourceError as exc:
            log.error("%s; will try again next cycle", exc)
            record.result, record.message = "source_failed", str(exc)
        except Unreachable as exc:
            log.error(
                "source %s: the cloud is unreachable: %s; the next cycle resumes from its watermark",
                name,
                exc,
            )
            record.result, record.message = "cloud_unreachable", str(exc)
            raise _Stop(record) from None
        except Rejected as exc:
            record.result, record.message = "rejected", str(exc)
            if exc.key_problem:
                log.error("source %s: %s; check farm_id and the API key", name, exc)
                record.result = "key_rejected"
                raise _Stop(record) from None
            log.error("source %s: %s", name, exc)
        except Exception as exc:  # a bug must not stop the other sources or the service
            log.exception("source %s: unexpected error", name)
            record.result, record.message = "error", f"{type(exc).__name__}: {exc}"
        finally:
            await asyncio.to_thread(source.close)
        return record

    async def _sync(
        self, cloud: CloudClient, source: SessionSource, cycle_id: str, record: SourceRecord
    ) -> None:
        name = source.name
        status = await cloud.sync_status(name)
        watermark = record.watermark = status.watermark
        local_max = record.local_max = await asyncio.to_thread(source.max_id)
        marker = self.state.read().resync.get(name)

        if marker is None and (local_max or 0) < watermark:
            record.result = "restored"
            record.message = (
                f"the local database's highest id ({local_max or 'none: it is empty'}) is below the cloud's"
                f" watermark ({watermark}): it was restored from a backup or replaced. Nothing was uploaded."
                f" Check the database; to upload from an id anyway run"
                f" `pecus-agent resync --source {name} --from ID`"
            )
            log.error("source %s: %s", name, record.message)
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
            name, watermark, local_max, start, limit,
        )  # fmt: skip

        new_rows, cursor = 0, start
        new_above = watermark if marker is None else marker.from_id
        id_name = "OID" if source.config.mapping is None else source.config.mapping.id

        def encoded(batch: Batch) -> list[Payload]:
            return list(
                encode(
                    batch,
                    farm_id=self.config.farm_id,
                    source=name,
                    agent=self.agent,
                    cycle_id=cycle_id,
                    max_body_bytes=status.max_body_bytes,
                )
            )

        async with aclosing(_pages(source, start, limit, encoded)) as pages:
            async for batch, payloads in pages:
                for payload in payloads:
                    try:
                        result = await cloud.ingest(payload)
                    except Rejected as exc:
                        if not exc.key_problem:
                            for line in exc.explain(payload.batch.ids, id_name)[1:]:
                                log.error("source %s: %s", name, line.strip())
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
                    log.warning("source %s: %s", name, note)
                if self.progress is not None:
                    self.progress(name, start, batch.last_id, max(local_max or 0, batch.last_id))
                log.debug("source %s: sent ids %d–%d", name, batch.ids[0], batch.last_id)

        if marker is not None and (record.watermark or 0) <= cursor:
            self.state.update(lambda s: s.resync.pop(name, None))
            log.info("source %s: resync complete; back to following the cloud's watermark", name)
        late = record.inserted - new_rows
        if new_rows == 0 and record.inserted == 0:
            record.result = "no_new_data"
            log.info("source %s: No new data (re-checked %d rows below the watermark)", name, record.sent)
        else:
            if late > 0:
                log.warning("source %s: found %d row(s) that committed late, below the watermark", name, late)
            log.info(
                "source %s: up to date: sent %d rows (%d new, %.1f kB gzip), inserted %d, already present %d;"
                " watermark %s",
                name, record.sent, new_rows, record.bytes_sent / 1000, record.inserted,
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


async def _pages(
    source: SessionSource, after: int, limit: int, encoded: Callable[[Batch], list[Payload]]
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
