"""The dispatcher: delivers the notification outbox with apprise, once.

One instance at a time delivers: the holder of the advisory lock `DISPATCH_LOCK_ID`, taken on the
dispatcher's own session connection, on which it also does all its outbox reads and writes. If
that connection is lost the lock is gone with it, and so is the ability to claim anything.

Delivery of one message (a row, or the rows of one digest):
 1. **claim** — in its own committed transaction: status `sending`, `attempts + 1`, and a lease
    (`claimed_until = now + PECUS_NOTIFY_LEASE_SECONDS`);
 2. **send** with apprise (no lock or transaction is held meanwhile);
 3. **mark** — `sent` (with the text sent), or back to `pending` with a backed-off
    `next_attempt_at` and `last_error`, or `failed` after the last attempt. Only the claim that
    is still current is marked (its `claimed_until` is the claim's token).

What a crash does, by the step it interrupts:
 * before 1 committed: nothing was claimed; the next dispatcher sends it. Exactly once.
 * between 1 and 2 (claimed, not sent): the row waits out its lease, then is sent. Exactly once.
 * during or after 2, before 3 (sent, not marked): we cannot know whether the channel received
   it. When the lease runs out the row is sent again, with "(repeat)" in the text, so the farmer
   may get it twice. A lost mastitis warning costs more than a duplicate, so this is
   **at-least-once**, and the window is one HTTP call long. Per channel:
     - webhooks (`json://`, `form://`, `xml://`): both sends carry the same `Idempotency-Key`
       header, so a receiver that honours it keeps one: effectively **exactly once**;
     - Twilio SMS / WhatsApp, Telegram, e-mail, ntfy, others: no idempotency key exists in those
       APIs: **at-least-once** (a second copy marked "(repeat)").
   If the alert was closed (false positive, resolved) in the meantime, the re-send is skipped.
 * a failed attempt (the channel answered an error, or timed out) is retried with backoff;
   a timeout may also mean "received but not confirmed", the same at-least-once case.

A row is skipped, not sent, when its target was removed, its alert was closed (false positive,
resolved) before it went out, or it is a held warning whose alert's critical message (escalation)
already went to the same target.

Quiet hours and digests are decided here, at delivery time, from the farm's current settings:
a non-critical row due inside the farm's quiet hours is `held` until they end; rows flagged
`digest` of one target go out together as one message when the oldest is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

import psycopg
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from pecus.cloud.locks import DISPATCH_LOCK_ID, connect_session, try_lock, unlock
from pecus.cloud.notify import channels, messages
from pecus.cloud.notify.config import NotifySettings
from pecus.cloud.notify.quiet_hours import quiet_until

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
LISTEN_CHANNEL = "pecus_outbox"
CLOSED_ALERT = ("false_positive", "resolved")


def utc_now() -> datetime:
    return datetime.now(UTC)


def idempotency_key(tenant: uuid.UUID, ids: Sequence[int]) -> str:
    """The same for every attempt of one message (one row, or one digest's rows)."""
    rows = ",".join(map(str, sorted(ids)))
    return f"pecus-{tenant}-{hashlib.sha256(rows.encode()).hexdigest()[:24]}"


_DUE = """
SELECT n.tenant_id, n.notification_id, n.alert_id, n.target_id, n.critical, n.digest, n.status,
       n.attempts, t.time_zone, t.quiet_hours_start, t.quiet_hours_end,
       a.status AS alert_status, nt.target_id IS NOT NULL AS target_exists,
       n.event = 'created' AND NOT n.critical AND EXISTS (
           SELECT 1 FROM public.notifications e
           WHERE e.tenant_id = n.tenant_id AND e.alert_id = n.alert_id AND e.target_id = n.target_id
             AND e.event = 'escalated' AND e.status = 'sent') AS superseded
FROM (
    SELECT * FROM public.notifications
    WHERE status IN ('pending', 'held') AND next_attempt_at <= %(now)s
    UNION ALL
    SELECT * FROM public.notifications WHERE status = 'sending' AND claimed_until <= %(now)s
) n
JOIN public.tenants t ON t.tenant_id = n.tenant_id
LEFT JOIN public.alerts a ON a.tenant_id = n.tenant_id AND a.alert_id = n.alert_id
LEFT JOIN public.notification_targets nt ON nt.tenant_id = n.tenant_id AND nt.target_id = n.target_id
ORDER BY n.critical DESC, n.next_attempt_at, n.notification_id
LIMIT %(limit)s
"""

# Every waiting row of one target's digest, due or not (the oldest being due sends them all).
_DIGEST_GROUP = """
SELECT n.tenant_id, n.notification_id, n.alert_id, n.target_id, n.critical, n.digest, n.status,
       n.attempts, t.time_zone, t.quiet_hours_start, t.quiet_hours_end,
       a.status AS alert_status, nt.target_id IS NOT NULL AS target_exists,
       n.event = 'created' AND NOT n.critical AND EXISTS (
           SELECT 1 FROM public.notifications e
           WHERE e.tenant_id = n.tenant_id AND e.alert_id = n.alert_id AND e.target_id = n.target_id
             AND e.event = 'escalated' AND e.status = 'sent') AS superseded
FROM public.notifications n
JOIN public.tenants t ON t.tenant_id = n.tenant_id
LEFT JOIN public.alerts a ON a.tenant_id = n.tenant_id AND a.alert_id = n.alert_id
LEFT JOIN public.notification_targets nt ON nt.tenant_id = n.tenant_id AND nt.target_id = n.target_id
WHERE n.tenant_id = %(tenant)s AND n.target_id = %(target)s AND n.digest
  AND (n.status IN ('pending', 'held') OR (n.status = 'sending' AND n.claimed_until <= %(now)s))
ORDER BY n.notification_id
"""

_CLAIM = """
UPDATE public.notifications
SET status = 'sending', attempts = attempts + 1, claimed_until = %(until)s, updated_at = %(now)s
WHERE tenant_id = %(tenant)s AND notification_id = ANY(%(ids)s)
  AND (status IN ('pending', 'held') OR (status = 'sending' AND claimed_until <= %(now)s))
RETURNING notification_id, attempts
"""

_SENT = """
UPDATE public.notifications
SET status = 'sent', sent_at = %(now)s, claimed_until = NULL, message = %(message)s, updated_at = %(now)s
WHERE tenant_id = %(tenant)s AND notification_id = ANY(%(ids)s)
  AND status = 'sending' AND claimed_until = %(until)s
"""

_NOT_SENT = """
UPDATE public.notifications
SET status = CASE WHEN attempts >= %(max_attempts)s THEN 'failed' ELSE 'pending' END,
    next_attempt_at = %(retry_at)s, claimed_until = NULL, last_error = %(error)s,
    message = %(message)s, updated_at = %(now)s
WHERE tenant_id = %(tenant)s AND notification_id = ANY(%(ids)s)
  AND status = 'sending' AND claimed_until = %(until)s
"""

_HOLD = """
UPDATE public.notifications
SET status = 'held', next_attempt_at = %(until)s, claimed_until = NULL, updated_at = %(now)s
WHERE tenant_id = %(tenant)s AND notification_id = ANY(%(ids)s)
"""

_SKIP = """
UPDATE public.notifications
SET status = 'skipped', last_error = %(reason)s, claimed_until = NULL, updated_at = %(now)s
WHERE tenant_id = %(tenant)s AND notification_id = ANY(%(ids)s)
"""

_FACTS = """
SELECT a.alert_id, a.kind, a.animal_id, a.unit, a.risk_score, a.reasons, t.time_zone,
       a.level = 'critical' OR coalesce(a.risk_score >= t.critical_threshold, false) AS critical
FROM public.alerts a JOIN public.tenants t ON t.tenant_id = a.tenant_id
WHERE a.tenant_id = %(tenant)s AND a.alert_id = ANY(%(alerts)s)
ORDER BY a.risk_score DESC NULLS LAST, a.created_at
"""


@dataclass
class PassResult:
    """What one pass (or a `run_once`) did, counted in outbox rows."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0
    held: int = 0
    skipped: int = 0
    messages: int = 0

    def add(self, other: PassResult) -> None:
        for name in ("sent", "retrying", "failed", "held", "skipped", "messages"):
            setattr(self, name, getattr(self, name) + getattr(other, name))

    @property
    def changed(self) -> int:
        return self.sent + self.retrying + self.failed + self.held + self.skipped


@dataclass
class _Delivery:
    """One message: a single row, or the rows of one digest."""

    tenant_id: uuid.UUID
    target_id: int
    ids: list[int]
    alert_ids: list[int]
    digest: bool
    repeat: bool
    until: datetime = field(default_factory=utc_now)
    attempts: int = 0
    url: str = ""
    body: str = ""
    title: str = ""


class Dispatcher:
    def __init__(self, database_url: str, settings: NotifySettings, *, clock: Clock = utc_now) -> None:
        self.database_url = database_url
        self.settings = settings
        self.clock = clock
        self._db = asyncio.Lock()  # one transaction at a time on the session connection

    # -- running ---------------------------------------------------------------------------------

    async def run_once(self, *, max_passes: int = 100) -> PassResult | None:
        """Deliver everything due now, then release the lock. None when another instance holds it."""
        conn = await connect_session(self.database_url)
        try:
            if not await try_lock(conn, DISPATCH_LOCK_ID):
                return None
            total = PassResult()
            for _ in range(max_passes):
                result = await self.deliver_due(conn)
                total.add(result)
                if result.changed == 0:
                    break
            # Released explicitly: a closed session's backend may take a moment to let it go.
            await unlock(conn, DISPATCH_LOCK_ID)
            return total
        finally:
            await conn.close()

    async def run(self, stop: asyncio.Event) -> None:
        """Until `stop`: take the lock when free, then deliver, woken by new alerts or the poll."""
        lock_retry_s = self.settings.lock_retry_s
        while not stop.is_set():
            conn: AsyncConnection[Any] | None = None
            try:
                conn = await connect_session(self.database_url)
                if await try_lock(conn, DISPATCH_LOCK_ID):
                    log.info("this instance delivers notifications now")
                    await conn.execute(f"LISTEN {LISTEN_CHANNEL}")
                    while not stop.is_set():
                        result = await self.deliver_due(conn)
                        if result.changed == 0:
                            await self._wait(conn, stop)
                else:
                    await conn.close()
                    conn = None
                    await _sleep(stop, lock_retry_s)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                log.warning("notification dispatcher lost the database (%s); retrying", exc)
                await _sleep(stop, min(lock_retry_s, 5.0))
            except Exception:
                log.exception("notification dispatcher failed; restarting it")
                await _sleep(stop, lock_retry_s)
            finally:
                if conn is not None:
                    await conn.close()

    async def _wait(self, conn: AsyncConnection[Any], stop: asyncio.Event) -> None:
        async for _ in conn.notifies(timeout=self.settings.poll_s, stop_after=1):
            pass

    # -- one pass --------------------------------------------------------------------------------

    async def deliver_due(self, conn: AsyncConnection[Any]) -> PassResult:
        """One pass over the rows due now: hold, skip, or claim and send them."""
        now = self.clock()
        result = PassResult()
        async with self._db:
            cur = conn.cursor(row_factory=dict_row)
            await cur.execute(_DUE, {"now": now, "limit": self.settings.batch_size})
            due = await cur.fetchall()
        deliveries: list[_Delivery] = []
        digests_seen: set[tuple[uuid.UUID, int]] = set()
        for row in due:
            if row["digest"] and row["target_id"] is not None:
                key = (row["tenant_id"], row["target_id"])
                if key in digests_seen:
                    continue
                digests_seen.add(key)
                async with self._db:
                    cur = conn.cursor(row_factory=dict_row)
                    await cur.execute(_DIGEST_GROUP, {"tenant": key[0], "target": key[1], "now": now})
                    group = await cur.fetchall()
                delivery = await self._triage(conn, group, now, result, digest=True)
            else:
                delivery = await self._triage(conn, [row], now, result, digest=False)
            if delivery is not None:
                deliveries.append(delivery)
        claimed = [d for d in [await self._claim(conn, d, now) for d in deliveries] if d is not None]
        gate = asyncio.Semaphore(self.settings.concurrency)

        async def deliver(d: _Delivery) -> PassResult:
            async with gate:
                return await self._send(conn, d)

        for outcome in await asyncio.gather(*(deliver(d) for d in claimed)):
            result.add(outcome)
        return result

    async def _triage(
        self,
        conn: AsyncConnection[Any],
        rows: Sequence[dict[str, Any]],
        now: datetime,
        result: PassResult,
        *,
        digest: bool,
    ) -> _Delivery | None:
        """Skip what should not go, hold what must wait; the rest becomes one delivery."""
        tenant = rows[0]["tenant_id"]
        skipped: set[int] = set()
        for reason, test in (
            ("the notification target was removed", lambda r: not r["target_exists"]),
            ("the alert was closed before the message went out", lambda r: r["alert_status"] in CLOSED_ALERT),
            ("the alert's critical message went out first", lambda r: r["superseded"]),
        ):
            ids = [r["notification_id"] for r in rows if r["notification_id"] not in skipped and test(r)]
            await self._update(conn, _SKIP, tenant, ids, now, reason=reason)
            skipped.update(ids)
        result.skipped += len(skipped)
        live = [r for r in rows if r["notification_id"] not in skipped]
        if not live:
            return None
        if digest and any(r["status"] == "sending" for r in live):
            # Re-send of an interrupted digest: exactly the rows it held, for the same key.
            live = [r for r in live if r["status"] == "sending"]
        first = live[0]
        if not any(r["critical"] for r in live):
            ends = quiet_until(
                now, _time(first["quiet_hours_start"]), _time(first["quiet_hours_end"]), first["time_zone"]
            )
            if ends is not None:
                ids = [r["notification_id"] for r in live]
                await self._update(conn, _HOLD, tenant, ids, now, until=ends)
                result.held += len(ids)
                return None
        return _Delivery(
            tenant_id=tenant,
            target_id=int(first["target_id"]),
            ids=[int(r["notification_id"]) for r in live],
            alert_ids=[int(r["alert_id"]) for r in live if r["alert_id"] is not None],
            digest=digest,
            repeat=any(r["status"] == "sending" for r in live),
        )

    async def _update(
        self,
        conn: AsyncConnection[Any],
        query: str,
        tenant: uuid.UUID,
        ids: list[int],
        now: datetime,
        **extra: Any,
    ) -> None:
        if not ids:
            return
        async with self._db:
            await conn.execute(query, {"tenant": tenant, "ids": ids, "now": now, **extra})

    async def _claim(self, conn: AsyncConnection[Any], d: _Delivery, now: datetime) -> _Delivery | None:
        """Render the message, then claim its rows (committed before anything is sent)."""
        d.until = now + timedelta(seconds=self.settings.lease_s)
        async with self._db:
            d.url, d.body, d.title = await self._render(conn, d)
            cur = await conn.execute(
                _CLAIM, {"tenant": d.tenant_id, "ids": d.ids, "now": now, "until": d.until}
            )
            rows = await cur.fetchall()
        if not rows:
            return None
        d.ids = [int(r[0]) for r in rows]
        d.attempts = max(int(r[1]) for r in rows)
        return d

    async def _send(self, conn: AsyncConnection[Any], d: _Delivery) -> PassResult:
        key = (
            f"pecus-{d.tenant_id}-"
            + hashlib.sha256(",".join(map(str, sorted(d.ids))).encode()).hexdigest()[:24]
        )
        sent = await asyncio.to_thread(channels.send, d.url, d.body, title=d.title, idempotency_key=key)
        now = self.clock()
        result = PassResult(messages=1)
        params = {"tenant": d.tenant_id, "ids": d.ids, "now": now, "until": d.until, "message": d.body}
        async with self._db:
            if sent.ok:
                await conn.execute(_SENT, params)
                result.sent = len(d.ids)
            else:
                exhausted = d.attempts >= self.settings.max_attempts
                await conn.execute(
                    _NOT_SENT,
                    {
                        **params,
                        "error": sent.error,
                        "retry_at": now + self.backoff(d.attempts),
                        "max_attempts": self.settings.max_attempts,
                    },
                )
                if exhausted:
                    result.failed = len(d.ids)
                    log.error(
                        "notification %s to target %s failed for good: %s", d.ids, d.target_id, sent.error
                    )
                else:
                    result.retrying = len(d.ids)
                    log.warning(
                        "notification %s to target %s not delivered: %s", d.ids, d.target_id, sent.error
                    )
        return result

    def backoff(self, attempts: int) -> timedelta:
        delay = min(self.settings.retry_base_s * 2 ** max(attempts - 1, 0), self.settings.retry_max_s)
        return timedelta(seconds=delay * random.uniform(0.8, 1.2))

    async def _render(self, conn: AsyncConnection[Any], d: _Delivery) -> tuple[str, str, str]:
        cur = conn.cursor(row_factory=dict_row)
        await cur.execute(
            "SELECT apprise_url FROM public.notification_targets WHERE tenant_id = %s AND target_id = %s",
            [d.tenant_id, d.target_id],
        )
        target = await cur.fetchone()
        url = str(target["apprise_url"]) if target else ""
        await cur.execute(_FACTS, {"tenant": d.tenant_id, "alerts": d.alert_ids})
        facts = [_facts(d.tenant_id, r) for r in await cur.fetchall()]
        public_url = self.settings.public_url
        limit = messages.SMS_CHARS
        if d.digest or not facts:
            # A digest lists every alert where the channel takes long messages (e-mail, chat).
            long_ok = channels.body_limit(url) > messages.SMS_CHARS
            limit = messages.DIGEST_CHARS if long_ok else messages.SMS_CHARS
            body = messages.digest_message(facts, d.tenant_id, public_url, repeat=d.repeat, limit=limit)
            return url, body, f"Pecus: {len(facts)} new alert{'s' if len(facts) != 1 else ''}"
        f, last_session = facts[0], _last_session(facts[0])
        body = messages.alert_message(
            f, public_url, last_session_at=last_session, repeat=d.repeat, limit=limit
        )
        return url, body, messages.title_for(f)


def _facts(tenant: uuid.UUID, row: dict[str, Any]) -> messages.AlertFacts:
    reasons = row["reasons"] if isinstance(row["reasons"], list) else []
    return messages.AlertFacts(
        farm_id=tenant,
        kind=row["kind"],
        animal_id=row["animal_id"],
        unit=row["unit"],
        risk_score=row["risk_score"],
        critical=bool(row["critical"]),
        reasons=reasons,
        time_zone=row["time_zone"],
    )


def _last_session(f: messages.AlertFacts) -> datetime | None:
    """A data-feed alert keeps the unit's last milking time in its first reason."""
    for reason in f.reasons:
        if isinstance(reason, dict) and isinstance(reason.get("last_session_at"), str):
            try:
                return datetime.fromisoformat(reason["last_session_at"])
            except ValueError:
                return None
    return None


def _time(value: Any) -> time | None:
    return value if isinstance(value, time) else None


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


async def run_until_signalled(dispatcher: Dispatcher) -> None:
    """`run` until SIGINT or SIGTERM (for `pecus dispatch`)."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):  # Windows
            loop.add_signal_handler(sig, stop.set)
    await dispatcher.run(stop)
