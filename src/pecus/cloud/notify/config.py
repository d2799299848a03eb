"""Settings of notification delivery and the background jobs, from the environment.

- `PECUS_PUBLIC_URL` (`http://127.0.0.1:8000`): the dashboard's address, for the links in messages.
- `DATABASE_DIRECT_URL` (`DATABASE_URL`): a session-mode connection for the advisory locks of the
  dispatcher and the scheduled scan (Supabase: the direct connection or the session pooler on port
  5432; the transaction pooler cannot hold a session lock).
- `PECUS_BACKGROUND_JOBS` (`on`): `off` and this API instance runs neither the dispatcher nor the
  scheduled risk scan.
- `PECUS_NOTIFY_POLL_SECONDS` (5): how often the dispatcher looks for due messages (new alerts
  also wake it at once).
- `PECUS_NOTIFY_LEASE_SECONDS` (120): how long a claimed message is left to its dispatcher before
  another may send it again. Longer than any one send (apprise's timeouts are a few seconds).
- `PECUS_NOTIFY_LOCK_RETRY_SECONDS` (15): how often an instance that is not the dispatcher checks
  whether the dispatcher's lock became free (its holder stopped).
- `PECUS_NOTIFY_RETRY_SECONDS` (30) / `PECUS_NOTIFY_RETRY_MAX_SECONDS` (1800): first and longest
  retry delay; it doubles per attempt, ±20 % jitter.
- `PECUS_NOTIFY_MAX_ATTEMPTS` (10): attempts before a message is marked failed.
- `PECUS_NOTIFY_SCHEMES` (`channels.DEFAULT_SCHEMES`): comma-separated apprise schemes farms may use.
- `PECUS_NOTIFY_ALLOW_PRIVATE_HOSTS` (`no`): `yes` lets targets point at loopback or private
  addresses (a self-hosted ntfy on the LAN, tests).
- `PECUS_RISK_SCAN_MINUTES` (60): period of the in-process risk scan (0: only the cron job runs it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import psycopg
from psycopg.conninfo import conninfo_to_dict

from pecus.cloud.api_settings import _float_env, _int_env
from pecus.cloud.notify.channels import DEFAULT_SCHEMES


def _flag(name: str, default: bool) -> bool:
    raw = os.environ.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in ("1", "on", "yes", "true"):
        return True
    if raw in ("0", "off", "no", "false"):
        return False
    raise ValueError(f"{name} must be on or off, got {raw!r}")


TRANSACTION_POOLER_PORT = 6543
"""Supabase's transaction pooler: each transaction may run on another server connection, so a
session advisory lock taken there could stay held by a connection nobody uses any more."""


class NeedsSessionConnection(ValueError):
    pass


def direct_database_url(default: str) -> str:
    """The session-mode database URL for advisory locks (DATABASE_DIRECT_URL), else `default`.
    Refuses Supabase's transaction pooler, which cannot hold a session lock."""
    url = os.environ.get("DATABASE_DIRECT_URL", "").strip() or default
    try:
        port = conninfo_to_dict(url).get("port")
    except psycopg.ProgrammingError:
        return url  # not parseable here: connecting will say what is wrong
    if str(port) == str(TRANSACTION_POOLER_PORT):
        raise NeedsSessionConnection(
            f"port {TRANSACTION_POOLER_PORT} is Supabase's transaction pooler, which cannot hold the"
            " advisory locks of the notification dispatcher and the risk scan: set DATABASE_DIRECT_URL"
            " to the direct connection or the session pooler (port 5432)"
        )
    return url


@dataclass(frozen=True)
class NotifySettings:
    public_url: str = "http://127.0.0.1:8000"
    poll_s: float = 5.0
    lease_s: float = 120.0
    lock_retry_s: float = 15.0
    retry_base_s: float = 30.0
    retry_max_s: float = 1800.0
    max_attempts: int = 10
    batch_size: int = 100
    concurrency: int = 8
    schemes: frozenset[str] = DEFAULT_SCHEMES
    allow_private_hosts: bool = False

    @classmethod
    def from_env(cls) -> NotifySettings:
        d = cls()
        schemes = os.environ.get("PECUS_NOTIFY_SCHEMES", "").strip()
        return cls(
            public_url=os.environ.get("PECUS_PUBLIC_URL", "").strip() or d.public_url,
            poll_s=_float_env("PECUS_NOTIFY_POLL_SECONDS", d.poll_s),
            lease_s=_float_env("PECUS_NOTIFY_LEASE_SECONDS", d.lease_s),
            lock_retry_s=_float_env("PECUS_NOTIFY_LOCK_RETRY_SECONDS", d.lock_retry_s),
            retry_base_s=_float_env("PECUS_NOTIFY_RETRY_SECONDS", d.retry_base_s),
            retry_max_s=_float_env("PECUS_NOTIFY_RETRY_MAX_SECONDS", d.retry_max_s),
            max_attempts=_int_env("PECUS_NOTIFY_MAX_ATTEMPTS", d.max_attempts),
            schemes=frozenset(s.strip().lower() for s in schemes.split(",") if s.strip()) or d.schemes,
            allow_private_hosts=_flag("PECUS_NOTIFY_ALLOW_PRIVATE_HOSTS", d.allow_private_hosts),
        )


@dataclass(frozen=True)
class JobSettings:
    enabled: bool = True
    risk_scan_minutes: int = 60

    @classmethod
    def from_env(cls) -> JobSettings:
        d = cls()
        return cls(
            enabled=_flag("PECUS_BACKGROUND_JOBS", d.enabled),
            risk_scan_minutes=_int_env("PECUS_RISK_SCAN_MINUTES", d.risk_scan_minutes, minimum=0),
        )
