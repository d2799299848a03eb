"""The agents' API: handshake (`GET /api/v1/sync/status`) and batch uploads (`POST /api/v1/ingest`
for milkings, `/api/v1/ingest/treatments` and `/api/v1/ingest/animals` for the farm's records).

Order of checks, chosen so that nothing leaks to a caller without a valid key:
 1. the key (401 when missing, malformed, unknown or revoked) — before the body is read;
 2. body size and encoding (413, 400, 415), then JSON and the batch envelope (400, 422);
 3. the farm: a key answers only for its own farm. Any other `farm_id` is 403, whether that farm
    exists or not, so a key cannot be used to probe which farm ids exist. (There is no 404 for an
    unknown farm: every valid key belongs to an existing farm, since deleting a farm deletes its keys);
 4. the rows: batch size (413), then every row against the contract (422, naming row and field).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any, NoReturn

import psycopg
from fastapi import APIRouter, Depends, Query, Request
from psycopg_pool import AsyncConnectionPool

from pecus.cloud.agent_keys import AgentIdentity, KeyChecker, KeyRejected
from pecus.cloud.api_settings import ApiSettings
from pecus.cloud.batch_validation import decode_json
from pecus.cloud.body import BadEncoding, BodyTooLarge, UnsupportedEncoding, read_body
from pecus.cloud.errors import ApiError, ErrorBody, ErrorDetail
from pecus.cloud.ingest import (
    BatchRejected,
    parse_envelope,
    record_rejected,
    row_count,
    source_watermarks,
    store_batch,
    validate_rows,
)
from pecus.cloud.ingest_hooks import HookRunner
from pecus.cloud.records import B, parse_records, store_animals, store_treatments
from pecus.contract import (
    AgentInfo,
    AnimalBatch,
    AnimalResult,
    IngestBatch,
    IngestResult,
    SyncStatus,
    TreatmentBatch,
)
from pecus.contract.sync import SourceName

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["agent sync"])

_KEY_MESSAGES = {
    "missing": "an agent key is required: Authorization: Bearer <key>",
    "malformed": "the agent key is not valid",
    "unknown": "the agent key is not valid",
    "revoked": "the agent key has been revoked; create a new one with `pecus create-agent-key`",
}
_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorBody} for s in (400, 401, 403, 413, 415, 422, 503)
}


async def agent_identity(request: Request) -> AgentIdentity:
    """The farm and key behind `Authorization: Bearer <agent key>`, or 401."""
    header = request.headers.get("authorization", "")
    scheme, _, key = header.partition(" ")
    checker: KeyChecker = request.app.state.key_checker
    try:
        if header and scheme.lower() != "bearer":
            raise KeyRejected("malformed")
        return await checker.authenticate(request.app.state.pool, key.strip() or None)
    except KeyRejected as exc:
        raise ApiError(
            401, f"{exc.reason}_key", _KEY_MESSAGES[exc.reason], headers={"WWW-Authenticate": "Bearer"}
        ) from exc


def _check_farm(identity: AgentIdentity, farm_id: str) -> uuid.UUID:
    try:
        if uuid.UUID(farm_id) == identity.farm_id:
            return identity.farm_id
    except ValueError:
        pass
    raise ApiError(403, "farm_forbidden", f"this agent key is not valid for farm {farm_id!r}")


def _details(exc: BatchRejected) -> list[ErrorDetail]:
    return [ErrorDetail(row=p.row, field=p.field, reason=p.reason) for p in exc.problems]


@router.get("/sync/status", response_model=SyncStatus, responses=_ERRORS)
async def sync_status(
    request: Request,
    farm_id: str = Query(..., description="The farm's id (a UUID)."),
    source: SourceName = Query(..., description="The source's name, e.g. `delpro`."),
    identity: AgentIdentity = Depends(agent_identity),
) -> SyncStatus:
    """The handshake: the source's watermarks (highest transaction id and highest treatment id
    committed in the cloud; 0 for a source never seen) and the server's limits."""
    tenant = _check_farm(identity, farm_id)
    settings: ApiSettings = request.app.state.settings
    watermark, treatments_watermark = await source_watermarks(request.app.state.pool, tenant, source)
    return SyncStatus(
        farm_id=str(tenant),
        source=source,
        watermark=watermark,
        treatments_watermark=treatments_watermark,
        max_batch_size=settings.max_batch_size,
        max_body_bytes=settings.max_body_bytes,
    )


_BATCH_DOC = {
    "requestBody": {
        "required": True,
        "description": "An IngestBatch as JSON; send it with `Content-Encoding: gzip`.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IngestBatch"}}},
    }
}


@router.post("/ingest", response_model=IngestResult, responses=_ERRORS, openapi_extra=_BATCH_DOC)
async def ingest(request: Request, identity: AgentIdentity = Depends(agent_identity)) -> IngestResult:
    """Store a batch of milking sessions, all or nothing, idempotently (a row already stored is
    counted as `already_present`)."""
    started_at = datetime.now(UTC)
    settings: ApiSettings = request.app.state.settings
    pool: AsyncConnectionPool = request.app.state.pool
    batch: IngestBatch | None = None
    try:
        body = await _read(request, settings)
        batch = parse_envelope(body)
        tenant = _check_farm(identity, batch.farm_id)
        parsed = validate_rows(batch, settings.max_batch_size)
    except BatchRejected as exc:
        await _record_rejection(request, identity, batch, exc, started_at)
        raise ApiError(exc.status, exc.code, exc.message, _details(exc)) from exc
    try:
        outcome = await store_batch(pool, tenant, parsed, key_id=identity.key_id, started_at=started_at)
    except psycopg.DataError as exc:
        await _unstorable(request, identity, batch, exc, started_at)
    runner: HookRunner = request.app.state.hook_runner
    runner.start(pool, request.app.state.ingest_hooks, outcome.ingested)
    return outcome.result


_TREATMENTS_DOC = {
    "requestBody": {
        "required": True,
        "description": "A TreatmentBatch as JSON; send it with `Content-Encoding: gzip`.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/TreatmentBatch"}}},
    }
}
_ANIMALS_DOC = {
    "requestBody": {
        "required": True,
        "description": "An AnimalBatch as JSON; send it with `Content-Encoding: gzip`.",
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AnimalBatch"}}},
    }
}


@router.post(
    "/ingest/treatments", response_model=IngestResult, responses=_ERRORS, openapi_extra=_TREATMENTS_DOC
)
async def ingest_treatments(
    request: Request, identity: AgentIdentity = Depends(agent_identity)
) -> IngestResult:
    """Store a batch of one source's treatments, all or nothing, idempotently; the source's
    `treatments_watermark` moves to the batch's highest `treatment_id`."""
    batch, tenant, started_at = await _records(request, identity, TreatmentBatch)
    try:
        return await store_treatments(request.app.state.pool, tenant, batch)
    except psycopg.DataError as exc:
        await _unstorable(request, identity, batch, exc, started_at)


@router.post("/ingest/animals", response_model=AnimalResult, responses=_ERRORS, openapi_extra=_ANIMALS_DOC)
async def ingest_animals(request: Request, identity: AgentIdentity = Depends(agent_identity)) -> AnimalResult:
    """Upsert changes to the farm's cow register (lactation, calving, exit); idempotent."""
    batch, tenant, started_at = await _records(request, identity, AnimalBatch)
    try:
        return await store_animals(request.app.state.pool, tenant, batch)
    except psycopg.DataError as exc:
        await _unstorable(request, identity, batch, exc, started_at)


async def _records(
    request: Request, identity: AgentIdentity, model: type[B]
) -> tuple[B, uuid.UUID, datetime]:
    """Body, farm, then rows, in the order of the module's docstring; a refusal is logged."""
    started_at = datetime.now(UTC)
    settings: ApiSettings = request.app.state.settings
    data: Any = None
    try:
        data = decode_json(await _read(request, settings))
        if isinstance(data, dict) and isinstance(data.get("farm_id"), str):
            _check_farm(identity, data["farm_id"])
        batch = parse_records(data, model, settings.max_batch_size)
    except BatchRejected as exc:
        await _record_rejection(request, identity, _envelope(data), exc, started_at)
        raise ApiError(exc.status, exc.code, exc.message, _details(exc)) from exc
    return batch, identity.farm_id, started_at


class _Envelope:
    """What a rejected upload's log line needs from a body that may not be a valid batch."""

    def __init__(self, source: str | None, agent: AgentInfo | None, cycle_id: str | None, rows: int) -> None:
        self.source, self.agent, self.cycle_id, self.rows = source, agent, cycle_id, rows


def _envelope(data: Any) -> _Envelope | None:
    if not isinstance(data, dict):
        return None
    source, agent, cycle_id, rows = (data.get(k) for k in ("source", "agent", "cycle_id", "rows"))
    try:
        info = AgentInfo.model_validate(agent) if isinstance(agent, dict) else None
    except ValueError:
        info = None
    return _Envelope(
        source if isinstance(source, str) else None,
        info,
        cycle_id if isinstance(cycle_id, str) else None,
        len(rows) if isinstance(rows, list) else 0,
    )


async def _unstorable(
    request: Request,
    identity: AgentIdentity,
    batch: IngestBatch | TreatmentBatch | AnimalBatch | None,
    exc: psycopg.DataError,
    started_at: datetime,
) -> NoReturn:
    """A value the contract allows but PostgreSQL refuses: bad input all the same, nothing stored."""
    rejected = BatchRejected(422, "unstorable_value", f"a value cannot be stored: {exc}")
    await _record_rejection(request, identity, batch, rejected, started_at)
    raise ApiError(422, rejected.code, rejected.message) from exc


async def _read(request: Request, settings: ApiSettings) -> bytes:
    encoding = request.headers.get("content-encoding")
    declared = request.headers.get("content-length")
    compressed = (encoding or "identity").strip().lower() != "identity"
    limit = settings.max_compressed_bytes if compressed else settings.max_body_bytes
    if declared and declared.isdigit() and int(declared) > limit:
        # Refused from the header alone, before a byte of the body is read.
        raise BatchRejected(
            413, "body_too_large", str(BodyTooLarge("compressed" if compressed else "decompressed", limit))
        )
    try:
        return await read_body(
            request.stream(),
            encoding,
            max_body_bytes=settings.max_body_bytes,
            max_compressed_bytes=settings.max_compressed_bytes,
        )
    except BodyTooLarge as exc:
        raise BatchRejected(413, "body_too_large", str(exc)) from exc
    except BadEncoding as exc:
        raise BatchRejected(400, "bad_encoding", str(exc)) from exc
    except UnsupportedEncoding as exc:
        raise BatchRejected(415, "unsupported_encoding", str(exc)) from exc


async def _record_rejection(
    request: Request,
    identity: AgentIdentity,
    batch: IngestBatch | TreatmentBatch | AnimalBatch | _Envelope | None,
    exc: BatchRejected,
    started_at: datetime,
) -> None:
    if exc.status == 415:
        return
    if isinstance(batch, IngestBatch):
        received = row_count(batch)
    elif isinstance(batch, _Envelope):
        received = batch.rows
    else:
        received = len(batch.rows) if batch else 0
    try:
        await record_rejected(
            request.app.state.pool,
            identity.farm_id,
            key_id=identity.key_id,
            source=batch.source if batch else None,
            agent=batch.agent if batch else None,
            cycle_id=getattr(batch, "cycle_id", None),
            received=received,
            error=f"{exc.code}: {exc.message}",
            started_at=started_at,
        )
    except Exception:
        log.exception("could not record the rejected upload of farm %s", identity.farm_id)
