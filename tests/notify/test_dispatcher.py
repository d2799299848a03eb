"""The dispatcher in this process against a real PostgreSQL and a local HTTP receiver standing in
for the notification service. Time is the dispatcher's injected clock, so retries, quiet hours and
digests are stepped through without sleeping."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg
import pytest

from pecus.cloud.notify.config import NotifySettings
from pecus.cloud.notify.dispatcher import Dispatcher, PassResult
from tests.support.alerting import add_target, make_farm, outbox, raise_alert, set_alert_status
from tests.support.receiver import receiver
from tests.support.tcp_proxy import tcp_proxy

pytestmark = pytest.mark.anyio

PUBLIC_URL = "https://app.pecus.example"
SETTINGS = NotifySettings(public_url=PUBLIC_URL, retry_base_s=30, retry_max_s=600, max_attempts=5)


class Clock:
    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)

    def sync(self) -> None:
        """Back to the real time (rows written by the database are due from its `now()`)."""
        self.now = datetime.now(UTC)


async def deliver(dispatcher: Dispatcher) -> PassResult:
    result = await dispatcher.run_once()
    assert result is not None, "the dispatcher did not get its lock"
    return result


async def test_new_alert_is_delivered_once_with_the_farmer_text(own_db_url: str) -> None:
    farm = make_farm(own_db_url)
    with receiver() as rec:
        add_target(own_db_url, farm, rec.url("json"))
        alert = raise_alert(own_db_url, farm, animal="1234", unit="Robot 2", risk=0.91)
        [row] = outbox(own_db_url, farm)
        assert (row["alert_id"], row["status"], row["event"]) == (alert, "pending", "created")
        assert row["critical"]  # 0.91 is above the farm's critical threshold

        result = await deliver(Dispatcher(own_db_url, SETTINGS))

        assert (result.sent, result.messages) == (1, 1)
        [request] = rec.wait_for(1)
        expected = (
            f"Pecus: cow 1234 (Robot 2) HIGH risk 91%. LR cond +34%, yield -18%. "
            f"{PUBLIC_URL}/farms/{farm}/cows/1234"
        )
        assert request.text == expected
        assert len(request.text) <= 160
        assert request.json["title"] == "Pecus: cow 1234 HIGH mastitis risk"
        assert request.idempotency_key and request.idempotency_key.startswith(f"pecus-{farm}-")
        [row] = outbox(own_db_url, farm)
        assert (row["status"], row["attempts"], row["message"]) == ("sent", 1, expected)
        assert row["sent_at"] is not None and row["last_error"] is None
        # Nothing is due any more: a second run sends nothing.
        again = await deliver(Dispatcher(own_db_url, SETTINGS))
        assert again.messages == 0
        assert len(rec.requests) == 1


async def test_500_twice_then_200_is_delivered_once_with_its_attempts(own_db_url: str) -> None:
    farm = make_farm(own_db_url)
    clock = Clock()
    dispatcher = Dispatcher(own_db_url, SETTINGS, clock=clock)
    with receiver(statuses=[500, 500, 200]) as rec:
        add_target(own_db_url, farm, rec.url("json"))
        raise_alert(own_db_url, farm)
        clock.sync()

        first = await deliver(dispatcher)
        assert (first.retrying, first.sent) == (1, 0)
        [row] = outbox(own_db_url, farm)
        assert (row["status"], row["attempts"]) == ("pending", 1)
        assert "500" in row["last_error"]
        # Backoff: 30 s ±20 %. Not due yet a moment later.
        assert clock.now + timedelta(seconds=23) < row["next_attempt_at"] < clock.now + timedelta(seconds=37)
        clock.advance(seconds=5)
        assert (await deliver(dispatcher)).messages == 0
        assert len(rec.requests) == 1

        clock.advance(seconds=40)
        second = await deliver(dispatcher)
        assert second.retrying == 1
        [row] = outbox(own_db_url, farm)
        assert (row["status"], row["attempts"]) == ("pending", 2)
        assert row["next_attempt_at"] > clock.now + timedelta(seconds=47)  # 60 s ±20 %

        clock.advance(seconds=75)
        third = await deliver(dispatcher)
        assert third.sent == 1

    assert [r.status for r in rec.requests] == [500, 500, 200]
    assert len(rec.accepted) == 1
    assert len({r.idempotency_key for r in rec.requests}) == 1  # one message, three attempts
    [row] = outbox(own_db_url, farm)
    assert (row["status"], row["attempts"]) == ("sent", 3)
    assert "500" in row["last_error"]  # the history of the delivery stays readable


async def test_a_channel_that_keeps_failing_ends_failed_after_the_last_attempt(own_db_url: str) -> None:
    farm = make_farm(own_db_url)
    clock = Clock()
    settings = NotifySettings(public_url=PUBLIC_URL, retry_base_s=1, retry_max_s=1, max_attempts=3)
    dispatcher = Dispatcher(own_db_url, settings, clock=clock)
    with receiver(statuses=[503] * 10) as rec:
        add_target(own_db_url, farm, rec.url("json"))
        raise_alert(own_db_url, farm)
        clock.sync()
        results = []
        for _ in range(5):
            results.append(await deliver(dispatcher))
            clock.advance(seconds=5)
    assert [r.retrying for r in results] == [1, 1, 0, 0, 0]
    assert [r.failed for r in results] == [0, 0, 1, 0, 0]
    assert len(rec.requests) == 3
    [row] = outbox(own_db_url, farm)
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert "503" in row["last_error"]


async def test_an_unreachable_channel_is_retried_with_the_error_recorded(own_db_url: str) -> None:
    farm = make_farm(own_db_url)
    with receiver() as rec:
        url = rec.url("json")
    add_target(own_db_url, farm, url)  # the receiver is gone: connection refused
    raise_alert(own_db_url, farm)
    result = await deliver(Dispatcher(own_db_url, SETTINGS))
    assert result.retrying == 1
    [row] = outbox(own_db_url, farm)
    assert row["status"] == "pending" and row["attempts"] == 1
    assert "connection" in row["last_error"].lower()


async def test_each_target_gets_its_own_message_and_retries_alone(own_db_url: str) -> None:
    farm = make_farm(own_db_url)
    clock = Clock()
    dispatcher = Dispatcher(own_db_url, SETTINGS, clock=clock)
    with receiver() as good, receiver(statuses=[500]) as flaky:
        add_target(own_db_url, farm, good.url("json"))
        add_target(own_db_url, farm, flaky.url("form"))
        raise_alert(own_db_url, farm, animal="77")
        clock.sync()
        first = await deliver(dispatcher)
        assert (first.sent, first.retrying) == (1, 1)
        clock.advance(minutes=5)
        second = await deliver(dispatcher)
        assert (second.sent, second.retrying) == (1, 0)
    assert len(good.requests) == 1  # not sent again when the other target was retried
    assert [r.status for r in flaky.requests] == [500, 200]
    assert "cow 77" in flaky.requests[1].form["message"]


async def test_quiet_hours_hold_a_warning_until_they_end_and_a_critical_goes_at_once(own_db_url: str) -> None:
    # Quiet 22:00-06:00 in Rome; the clock is put at 23:30 Rome time, tonight.
    farm = make_farm(own_db_url, time_zone="Europe/Rome", quiet=(time(22, 0), time(6, 0)))
    rome = datetime.now(UTC).astimezone(ZoneInfo("Europe/Rome"))
    night = rome.replace(hour=23, minute=30, second=0, microsecond=0)
    if night < rome:
        night += timedelta(days=1)
    clock = Clock(night.astimezone(UTC))
    dispatcher = Dispatcher(own_db_url, SETTINGS, clock=clock)
    with receiver() as rec:
        add_target(own_db_url, farm, rec.url("json"))
        warning = raise_alert(own_db_url, farm, animal="11", risk=0.6)
        critical = raise_alert(own_db_url, farm, animal="22", risk=0.93)

        at_night = await deliver(dispatcher)
        assert (at_night.sent, at_night.held) == (1, 1)
        [first] = rec.wait_for(1)
        assert "cow 22" in first.text
        rows = {r["alert_id"]: r for r in outbox(own_db_url, farm)}
        assert rows[critical]["status"] == "sent"
        assert rows[warning]["status"] == "held"
        morning = (night + timedelta(days=1)).replace(hour=6, minute=0)
        assert rows[warning]["next_attempt_at"] == morning.astimezone(UTC)

        clock.now = morning.astimezone(UTC) - timedelta(minutes=1)
        assert (await deliver(dispatcher)).messages == 0
        clock.now = morning.astimezone(UTC)
        released = await deliver(dispatcher)
        assert released.sent == 1
    assert [("cow 22" in r.text, "cow 11" in r.text) for r in rec.requests] == [(True, False), (False, True)]
    assert {r["status"] for r in outbox(own_db_url, farm)} == {"sent"}


async def test_digest_sends_one_message_for_the_warnings_and_criticals_at_once(own_db_url: str) -> None:
    farm = make_farm(own_db_url, digest_hours=6)
    clock = Clock()
    dispatcher = Dispatcher(own_db_url, SETTINGS, clock=clock)
    with receiver() as rec:
        add_target(own_db_url, farm, rec.url("json"))
        for animal, risk in (("101", 0.62), ("102", 0.71), ("103", 0.55)):
            raise_alert(own_db_url, farm, animal=animal, risk=risk)
        raise_alert(own_db_url, farm, animal="104", risk=0.95)
        rows = outbox(own_db_url, farm)
        assert [r["digest"] for r in rows] == [True, True, True, False]
        clock.sync()

        now = await deliver(dispatcher)
        assert now.sent == 1
        assert "cow 104" in rec.wait_for(1)[0].text

        clock.advance(hours=6, seconds=5)
        later = await deliver(dispatcher)
        assert (later.sent, later.messages) == (3, 1)
    assert rec.requests[1].text == (
        "Pecus: 3 new alerts: cow 102 (Robot 2) 71%; cow 101 (Robot 2) 62%; cow 103 (Robot 2) 55%."
        f" {PUBLIC_URL}/farms/{farm}/alerts"
    )
    assert {r["status"] for r in outbox(own_db_url, farm)} == {"sent"}


async def test_an_alert_closed_before_its_message_went_out_is_not_sent(own_db_url: str) -> None:
    farm = make_farm(own_db_url, quiet=(time(0, 0), time(23, 59)))
    with receiver() as rec:
        add_target(own_db_url, farm, rec.url("json"))
        alert = raise_alert(own_db_url, farm, risk=0.6)
        clock = Clock(datetime.now(UTC).replace(hour=12))
        if clock.now < datetime.now(UTC):
            clock.advance(days=1)
        assert (await deliver(Dispatcher(own_db_url, SETTINGS, clock=clock))).held == 1
        set_alert_status(own_db_url, farm, alert, "false_positive")  # the farmer looked first
        clock.advance(hours=12)
        result = await deliver(Dispatcher(own_db_url, SETTINGS, clock=clock))
    assert (result.skipped, result.messages) == (1, 0)
    assert rec.requests == []
    [row] = outbox(own_db_url, farm)
    assert row["status"] == "skipped" and "closed" in row["last_error"]


async def test_a_removed_target_is_skipped(own_db_url: str) -> None:
    farm = make_farm(own_db_url)
    with receiver() as rec:
        target = add_target(own_db_url, farm, rec.url("json"))
        raise_alert(own_db_url, farm)
        with psycopg.connect(own_db_url) as conn:
            conn.execute("DELETE FROM notification_targets WHERE target_id = %s", [target])
        result = await deliver(Dispatcher(own_db_url, SETTINGS))
    assert (result.skipped, rec.requests) == (1, [])


async def test_outbox_rows_live_and_die_with_the_alert_transaction(own_db_url: str) -> None:
    farm = make_farm(own_db_url)
    add_target(own_db_url, farm, "json://notify.example.test/hook")
    with psycopg.connect(own_db_url) as conn:
        conn.execute(
            "INSERT INTO alerts (tenant_id, animal_id, unit, risk_score) VALUES (%s, '5', 'Robot 1', 0.7)",
            [farm],
        )
        row = conn.execute("SELECT count(*) FROM notifications WHERE tenant_id = %s", [farm]).fetchone()
        assert row == (1,)  # written by the same transaction...
        conn.rollback()
    assert outbox(own_db_url, farm) == []  # ...and gone with it


async def test_escalation_past_the_critical_threshold_notifies_once(own_db_url: str) -> None:
    farm = make_farm(own_db_url, critical_threshold=0.85)
    add_target(own_db_url, farm, "json://notify.example.test/hook")
    alert = raise_alert(own_db_url, farm, risk=0.6)
    with psycopg.connect(own_db_url) as conn:
        for risk in (0.7, 0.88, 0.95):  # the AI engine updating the open alert
            conn.execute("UPDATE alerts SET risk_score = %s WHERE alert_id = %s", [risk, alert])
        conn.execute("UPDATE alerts SET level = 'critical' WHERE alert_id = %s", [alert])
    rows = outbox(own_db_url, farm)
    assert [(r["event"], r["critical"]) for r in rows] == [("created", False), ("escalated", True)]


async def test_a_claimed_message_is_left_to_its_dispatcher_until_the_lease_runs_out(own_db_url: str) -> None:
    farm = make_farm(own_db_url)
    with receiver() as rec:
        add_target(own_db_url, farm, rec.url("json"))
        raise_alert(own_db_url, farm, animal="9")
        clock = Clock()
        # As another dispatcher leaves it when it dies mid-send: claimed, with a 2-minute lease.
        with psycopg.connect(own_db_url) as conn:
            conn.execute(
                "UPDATE notifications SET status = 'sending', attempts = 1, claimed_until = %s"
                " WHERE tenant_id = %s",
                [clock.now + timedelta(minutes=2), farm],
            )
        dispatcher = Dispatcher(own_db_url, SETTINGS, clock=clock)
        clock.advance(seconds=119)
        assert (await deliver(dispatcher)).messages == 0
        clock.advance(seconds=1)
        assert (await deliver(dispatcher)).sent == 1
    [request] = rec.requests
    assert request.text.startswith("Pecus (repeat): cow 9 (Robot 2)")
    [row] = outbox(own_db_url, farm)
    assert (row["status"], row["attempts"]) == ("sent", 2)


async def test_a_held_warning_is_dropped_once_its_escalation_went_out(own_db_url: str) -> None:
    farm = make_farm(own_db_url, quiet=(time(0, 0), time(23, 59)), critical_threshold=0.85)
    with receiver() as rec:
        add_target(own_db_url, farm, rec.url("json"))
        alert = raise_alert(own_db_url, farm, animal="31", risk=0.6)
        clock = Clock(datetime.now(UTC).replace(hour=12) + timedelta(days=1))
        dispatcher = Dispatcher(own_db_url, SETTINGS, clock=clock)
        assert (await deliver(dispatcher)).held == 1  # quiet: the warning waits
        with psycopg.connect(own_db_url) as conn:  # the AI engine escalates the open alert
            conn.execute("UPDATE alerts SET risk_score = 0.93 WHERE alert_id = %s", [alert])
        assert (await deliver(dispatcher)).sent == 1  # critical: at once, despite quiet hours
        clock.advance(hours=12)
        after_quiet = await deliver(dispatcher)
    assert (after_quiet.skipped, after_quiet.messages) == (1, 0)
    [request] = rec.requests
    assert request.text.startswith("Pecus: cow 31 (Robot 2) HIGH risk 93%.")
    assert [(r["event"], r["status"]) for r in outbox(own_db_url, farm)] == [
        ("created", "skipped"),
        ("escalated", "sent"),
    ]


async def wait_for(probe: Callable[[], Awaitable[bool]], what: str, timeout: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await probe():
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


async def test_a_dispatcher_cut_off_from_the_database_hands_over_without_double_sending(
    own_db_url: str,
) -> None:
    farm = make_farm(own_db_url)
    info = psycopg.conninfo.conninfo_to_dict(own_db_url)
    host = str(info.get("host") or "127.0.0.1")
    port = int(info.get("port") or 5432)
    fast = NotifySettings(public_url=PUBLIC_URL, poll_s=0.2, lock_retry_s=0.2)
    stop = asyncio.Event()

    async def lock_taken() -> bool:
        async with await psycopg.AsyncConnection.connect(own_db_url) as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
            row = await cur.fetchone()
        return bool(row and row[0])

    def delivered(n: int) -> Callable[[], Awaitable[bool]]:
        async def probe() -> bool:
            return len(rec.requests) >= n and all(r["status"] == "sent" for r in outbox(own_db_url, farm))

        return probe

    with receiver() as rec, tcp_proxy(host, port) as proxy:
        add_target(own_db_url, farm, rec.url("json"))
        far_url = psycopg.conninfo.make_conninfo(own_db_url, host="127.0.0.1", port=proxy.port)
        far = asyncio.create_task(Dispatcher(far_url, fast).run(stop))
        await wait_for(lock_taken, "the first dispatcher to take the lock")
        near = asyncio.create_task(Dispatcher(own_db_url, fast).run(stop))
        raise_alert(own_db_url, farm, animal="1")
        await wait_for(delivered(1), "cow 1 delivered")

        proxy.stop()  # the holder's network to the database is cut: PostgreSQL drops its lock
        raise_alert(own_db_url, farm, animal="2")
        await wait_for(delivered(2), "cow 2 delivered by the other dispatcher")
        proxy.start()  # back: it finds the lock taken and stays idle
        raise_alert(own_db_url, farm, animal="3")
        await wait_for(delivered(3), "cow 3 delivered")
        await asyncio.sleep(1.0)  # a second copy, if any, would arrive now
        stop.set()
        await asyncio.gather(far, near)
    assert sorted(r.text.split(" (")[0] for r in rec.requests) == [
        "Pecus: cow 1",
        "Pecus: cow 2",
        "Pecus: cow 3",
    ]
    assert [(r["status"], r["attempts"]) for r in outbox(own_db_url, farm)] == [("sent", 1)] * 3
