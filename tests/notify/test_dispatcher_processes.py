"""The dispatcher as separate processes (`pecus dispatch`), killed for real: a crash between
sending and marking, two dispatchers at once, and a holder that dies while another waits."""

from __future__ import annotations

import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import psycopg
import pytest

from tests.support.alerting import (
    add_target,
    make_farm,
    outbox,
    pecus,
    raise_alert,
    set_alert_status,
    summary_of,
)
from tests.support.receiver import Receiver, receiver

PUBLIC_URL = "https://app.pecus.example"
ENV = {"PECUS_PUBLIC_URL": PUBLIC_URL, "PECUS_NOTIFY_LEASE_SECONDS": "1"}

T = TypeVar("T")


def wait_until(probe: Callable[[], T], timeout: float = 30.0, what: str = "condition") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


def lease_over(url: str, farm: uuid.UUID) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT bool_and(claimed_until <= now()) FROM notifications"
            " WHERE tenant_id = %s AND status = 'sending'",
            [farm],
        ).fetchone()
    return bool(row and row[0])


def kill(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)


def sent_mid_request_then_killed(url: str, farm: uuid.UUID, rec: Receiver) -> str:
    """Run a dispatcher, let the receiver take the request but not answer, and kill the
    dispatcher there: after sending, before marking. Returns the text it sent."""
    rec.hold()
    proc = pecus("dispatch", "--once", database_url=url, env=ENV)
    try:
        [first] = rec.wait_for(1)
    finally:
        kill(proc)
    rec.release()
    [row] = outbox(url, farm)
    assert (row["status"], row["attempts"], row["sent_at"]) == ("sending", 1, None)
    return first.text


@pytest.mark.parametrize(
    ("scheme", "same_key"),
    [
        # Webhooks carry an Idempotency-Key: the re-send is one the receiver can drop.
        ("json", True),
        # ntfy (like SMS, WhatsApp, Telegram, e-mail) has no such key: at-least-once, and says so.
        ("ntfy", False),
    ],
)
def test_killed_between_sending_and_marking_resends_once_as_a_repeat(
    own_db_url: str, scheme: str, same_key: bool
) -> None:
    farm = make_farm(own_db_url)
    with receiver() as rec:
        add_target(own_db_url, farm, rec.url(scheme, "/pecus-alerts"))
        raise_alert(own_db_url, farm, animal="1234", risk=0.91)
        first_text = sent_mid_request_then_killed(own_db_url, farm, rec)
        assert first_text.startswith("Pecus: cow 1234 (Robot 2) HIGH risk 91%.")

        # Once the claim's lease has run out, the message goes again, exactly once more.
        wait_until(lambda: lease_over(own_db_url, farm), what="the claim's lease to run out")
        restarted = summary_of(pecus("dispatch", "--once", database_url=own_db_url, env=ENV))
        assert (restarted["sent"], restarted["messages"]) == (1, 1)
        requests = rec.wait_for(2)
        again = summary_of(pecus("dispatch", "--once", database_url=own_db_url, env=ENV))
        assert again["messages"] == 0

    assert len(requests) == 2
    assert requests[1].text == "Pecus (repeat): " + first_text.removeprefix("Pecus: ")
    keys = {r.idempotency_key for r in requests}
    if same_key:
        assert len(keys) == 1 and None not in keys
    else:
        assert keys == {None}
    [row] = outbox(own_db_url, farm)
    assert (row["status"], row["attempts"]) == ("sent", 2)


def test_killed_mid_send_and_alert_closed_meanwhile_is_not_sent_again(own_db_url: str) -> None:
    farm = make_farm(own_db_url)
    with receiver() as rec:
        add_target(own_db_url, farm, rec.url("json"))
        alert = raise_alert(own_db_url, farm, risk=0.91)
        sent_mid_request_then_killed(own_db_url, farm, rec)
        set_alert_status(own_db_url, farm, alert, "false_positive")
        wait_until(lambda: lease_over(own_db_url, farm), what="the claim's lease to run out")
        restarted = summary_of(pecus("dispatch", "--once", database_url=own_db_url, env=ENV))
    assert (restarted["skipped"], restarted["messages"]) == (1, 0)
    assert len(rec.requests) == 1
    [row] = outbox(own_db_url, farm)
    assert row["status"] == "skipped"


def test_two_dispatchers_at_once_one_sends(own_db_url: str) -> None:
    farm = make_farm(own_db_url)
    with receiver() as rec:
        add_target(own_db_url, farm, rec.url("json"))
        for animal in ("1", "2", "3"):
            raise_alert(own_db_url, farm, animal=animal, risk=0.9)
        rec.hold()
        first = pecus("dispatch", "--once", database_url=own_db_url, env=ENV)
        rec.wait_for(1)  # the first holds the lock and is sending
        second = summary_of(pecus("dispatch", "--once", database_url=own_db_url, env=ENV))
        rec.release()
        first_summary = summary_of(first)
    assert second == {"lock": False}
    assert first_summary["lock"] and first_summary["sent"] == 3
    assert len(rec.requests) == 3
    assert len({r.idempotency_key for r in rec.requests}) == 3
    assert sorted(r.text.split(" (")[0] for r in rec.requests) == [f"Pecus: cow {n}" for n in "123"]
    assert [(r["status"], r["attempts"]) for r in outbox(own_db_url, farm)] == [("sent", 1)] * 3


def lock_holder(url: str) -> int | None:
    """The OS process id of the dispatcher holding the lock (from its connection's name)."""
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE l.locktype = 'advisory' AND l.granted AND l.database ="
            " (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND (l.classid::bigint << 32) + l.objid::bigint = %s",
            [0x7065637573_02],
        ).fetchone()
    return int(row[0].rsplit("-", 1)[1]) if row else None


@contextmanager
def dispatchers(url: str, count: int) -> Iterator[dict[int, subprocess.Popen[bytes]]]:
    env = {**ENV, "PECUS_NOTIFY_POLL_SECONDS": "0.2", "PECUS_NOTIFY_LOCK_RETRY_SECONDS": "0.3"}
    procs = {p.pid: p for p in (pecus("dispatch", database_url=url, env=env) for _ in range(count))}
    try:
        yield procs
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.terminate()
        for p in procs.values():
            p.communicate(timeout=30)


def test_running_dispatchers_deliver_each_alert_once_and_take_over_when_the_holder_dies(
    own_db_url: str,
) -> None:
    farm = make_farm(own_db_url)
    with receiver() as rec, dispatchers(own_db_url, 2) as procs:
        add_target(own_db_url, farm, rec.url("json"))
        holder = wait_until(lambda: lock_holder(own_db_url), what="a dispatcher to take the lock")
        assert holder in procs
        for animal in ("1", "2", "3", "4"):
            raise_alert(own_db_url, farm, animal=animal, risk=0.9)
        rec.wait_for(4)
        wait_until(lambda: all(r["status"] == "sent" for r in outbox(own_db_url, farm)), what="4 marked sent")
        assert lock_holder(own_db_url) == holder

        kill(procs[holder])
        other = wait_until(
            lambda: (pid := lock_holder(own_db_url)) != holder and pid,
            what="the other dispatcher to take over",
        )
        assert other in procs and other != holder
        raise_alert(own_db_url, farm, animal="5", risk=0.9)
        requests = rec.wait_for(5)
        time.sleep(0.5)  # a duplicate, if any, would arrive now
    assert len(rec.requests) == 5
    assert sorted(r.text.split(" (")[0] for r in requests) == [f"Pecus: cow {n}" for n in "12345"]
    assert [(r["status"], r["attempts"]) for r in outbox(own_db_url, farm)] == [("sent", 1)] * 5
