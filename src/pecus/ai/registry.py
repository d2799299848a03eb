"""Which model scores live milkings: approval lives in the database.

* Models shipped in the package (`pecus/ai/models/<version>/`) are approved by release: their
  figures are in docs/model-card.md and they pass code review with it.
* Models trained on farm feedback are stored in `model_versions` (artifact, manifest, SHA-256)
  by `pecus model train --with-feedback --register`, unapproved. An operator reads the figures
  (`pecus model list`) and runs `pecus model approve VERSION`, which records who and when.
* Live scoring uses the newest approved version of the two (versions sort by time). It looks
  at the table at most once a minute per process, so every API instance (stateless, N of them)
  picks up an approval within a minute, with no redeploy. A model that fails its hash check is
  logged and skipped; scoring falls back to the packaged model.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from pecus.ai.model import MastitisModel, ModelIntegrityError, from_bytes, packaged_model

log = logging.getLogger(__name__)

REFRESH_S = 60.0
_NEWEST_APPROVED = (
    "SELECT version, sha256 FROM public.model_versions"
    " WHERE approved_at IS NOT NULL ORDER BY version DESC LIMIT 1"
)
_ARTIFACT = "SELECT manifest, artifact FROM public.model_versions WHERE version = %s"


@dataclass(frozen=True)
class StoredVersion:
    version: str
    created_at: Any
    approved_at: Any
    approved_by: str | None
    metrics: dict[str, Any]


def register(conn: psycopg.Connection[Any], model: MastitisModel) -> None:
    """Store a trained model, unapproved."""
    artifact = model.to_bytes()
    manifest = model.full_manifest(artifact)
    conn.execute(
        "INSERT INTO public.model_versions (version, sha256, manifest, artifact) VALUES (%s, %s, %s, %s)",
        [model.version, manifest["sha256"], json.dumps(manifest), artifact],
    )


def approve(conn: psycopg.Connection[Any], version: str, approved_by: str) -> None:
    row = conn.execute(
        "UPDATE public.model_versions SET approved_at = now(), approved_by = %s"
        " WHERE version = %s RETURNING version",
        [approved_by, version],
    ).fetchone()
    if row is None:
        raise LookupError(f"no stored model version {version!r} (see `pecus model list`)")


def stored_versions(conn: psycopg.Connection[Any]) -> list[StoredVersion]:
    rows = conn.execute(
        "SELECT version, created_at, approved_at, approved_by, manifest -> 'metrics' -> 'model'"
        " FROM public.model_versions ORDER BY version"
    ).fetchall()
    return [StoredVersion(r[0], r[1], r[2], r[3], r[4] or {}) for r in rows]


def load_stored(conn: psycopg.Connection[Any], version: str) -> MastitisModel:
    row = conn.execute(_ARTIFACT, [version]).fetchone()
    if row is None:
        raise LookupError(f"no stored model version {version!r}")
    return from_bytes(bytes(row[1]), row[0])


class LiveModel:
    """The model live scoring uses, refreshed from the database at most every REFRESH_S."""

    def __init__(self, refresh_s: float = REFRESH_S) -> None:
        self.refresh_s = refresh_s
        self._model: MastitisModel | None = None
        self._packaged: MastitisModel | None = None
        self._checked = -float("inf")
        self._refused: set[str] = set()

    async def get(self, pool: AsyncConnectionPool) -> MastitisModel:
        # No lock: two batches refreshing at once both get a good answer (and an asyncio.Lock
        # would tie this process-wide object to one event loop).
        if self._model is None or time.monotonic() - self._checked >= self.refresh_s:
            self._model = await self._choose(pool)
            self._checked = time.monotonic()
        return self._model

    async def _choose(self, pool: AsyncConnectionPool) -> MastitisModel:
        if self._packaged is None:
            self._packaged = await asyncio.to_thread(packaged_model)
        best = self._packaged
        async with pool.connection() as conn:
            row = await (await conn.execute(_NEWEST_APPROVED)).fetchone()
            if row is None or row[0] <= best.version or row[0] in self._refused:
                return best
            if self._model is not None and self._model.version == row[0]:
                return self._model
            stored = await (await conn.execute(_ARTIFACT, [row[0]])).fetchone()
        if stored is None:
            return best
        try:
            model = await asyncio.to_thread(from_bytes, bytes(stored[1]), stored[0])
        except ModelIntegrityError:
            log.exception("approved model %s refused; scoring with %s", row[0], best.version)
            self._refused.add(row[0])
            return best
        log.info("scoring with approved model %s", model.version)
        return model


live_model = LiveModel()
