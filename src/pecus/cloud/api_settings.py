"""Limits and knobs of the API, read from the environment (as Render passes them).

Agents learn `max_batch_size` and `max_body_bytes` from `GET /api/v1/sync/status`, so the server can
change them without an agent upgrade."""

from __future__ import annotations

import os
from dataclasses import dataclass

MIB = 1024 * 1024


def _int_env(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be an integer, got {raw!r}") from exc
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")
    return value


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number, got {raw!r}") from exc
    if value <= 0:
        raise ValueError(f"{name} must be positive, got {value}")
    return value


@dataclass(frozen=True)
class ApiSettings:
    max_batch_size: int = 5000
    """Rows per ingest request; more is 413."""
    max_body_bytes: int = 16 * MIB
    """Request body after decompression (or as sent, when not compressed); more is 413."""
    max_compressed_bytes: int = 4 * MIB
    """A gzip body as it travels on the wire; more is 413 before anything is decompressed."""
    pool_min_size: int = 1
    pool_max_size: int = 10
    db_timeout_s: float = 10.0
    """How long a request waits for a database connection before answering 503."""
    ready_timeout_s: float = 3.0
    """How long /readyz waits for the database before reporting it unreachable."""
    ai_enabled: bool = True
    """Score every ingested batch for mastitis risk (off only to measure ingest alone)."""

    @classmethod
    def from_env(cls) -> ApiSettings:
        d = cls()
        pool_min = _int_env("PECUS_DB_POOL_MIN", d.pool_min_size, minimum=0)
        return cls(
            max_batch_size=_int_env("PECUS_MAX_BATCH_SIZE", d.max_batch_size),
            max_body_bytes=_int_env("PECUS_MAX_BODY_BYTES", d.max_body_bytes),
            max_compressed_bytes=_int_env("PECUS_MAX_COMPRESSED_BYTES", d.max_compressed_bytes),
            pool_min_size=pool_min,
            pool_max_size=_int_env("PECUS_DB_POOL_MAX", max(d.pool_max_size, pool_min)),
            db_timeout_s=_float_env("PECUS_DB_TIMEOUT", d.db_timeout_s),
            ready_timeout_s=_float_env("PECUS_READY_TIMEOUT", d.ready_timeout_s),
            ai_enabled=os.environ.get("PECUS_AI_ENABLED", "1").strip().lower() not in {"0", "false", "no"},
        )
