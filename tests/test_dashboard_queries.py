"""The dashboard's queries under row-level security, checked against numbers computed by hand from
the milkings written."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from pecus.cloud import dashboard
from pecus.cloud.dashboard import CowQuery
from pecus.cloud.tenancy import make_pool, user_transaction
from tests.support.herd import (
    METRICS,
    Herd,
    add_alert,
    add_score,
    copy_sessions,
    cow_days_by_hand,
    herd_days_by_hand,
    milking,
    new_herd,
    random_milkings,
)
from tests.support.seed import add_member, create_user

pytestmark = pytest.mark.anyio

COWS = ["7", "101", "102", "103", "20", "B-1"]


@dataclass
class World:
    a: Herd
    b: Herd
    owner_a: uuid.UUID
    viewer_a: uuid.UUID
    vet_ab: uuid.UUID
    owner_b: uuid.UUID
    alerts: dict[str, int]
    scores: dict[int, float]
    """Farm A's session scores by transaction id."""
    now: datetime


def claims(user: uuid.UUID) -> dict[str, Any]:
    return {"sub": str(user), "role": "authenticated", "aud": "authenticated", "email": "x@example.test"}


@pytest.fixture(scope="module")
def world(db_url: str) -> Iterator[World]:
    with psycopg.connect(db_url) as conn:
        a = new_herd(conn, "Europe/Rome", f"A {uuid.uuid4().hex[:6]}")
        b = new_herd(conn, "America/New_York", f"B {uuid.uuid4().hex[:6]}")
        copy_sessions(conn, a, random_milkings(a, COWS, days=12, seed=1))
        copy_sessions(conn, b, random_milkings(b, ["101", "555"], days=5, seed=2))
        last = {
            c: max((s for s in a.sessions if s["animal_id"] == c), key=lambda s: s["started_at"])
            for c in COWS
        }
        cow_101_earlier = [s for s in a.sessions if s["animal_id"] == "101"][-4]
        alerts = {
            "101_high": add_alert(conn, a, last["101"], 0.72),
            "101_low": add_alert(conn, a, cow_101_earlier, 0.6),
            "102": add_alert(conn, a, last["102"], 0.93, "critical", "acknowledged"),
            "103_fp": add_alert(conn, a, last["103"], 0.8, status="false_positive"),
            "old": add_alert(conn, a, last["20"], 0.7, status="resolved",
                             created_at=datetime.now(UTC) - timedelta(days=3)),
            "b": add_alert(conn, b, b.sessions[-1], 0.99, "critical"),
        }  # fmt: skip
        # Scores by hand: the herd list shows each cow's latest *scored* milking (cow 101's last
        # milking is not scored yet, and her earlier 0.81 is older than her 0.64), not her alert's.
        cow_101 = [s for s in a.sessions if s["animal_id"] == "101"]
        scored = [(cow_101[-4], 0.81), (cow_101[-2], 0.64), (last["102"], 0.55), (last["7"], 0.7),
                  (last["20"], 0.12)]  # fmt: skip
        for session, risk in scored:
            add_score(conn, a, session, risk)
        add_score(conn, b, b.sessions[-1], 0.99)
        # Farm B's row under farm A's source and transaction id: the key includes the farm.
        add_score(conn, a, last["101"], 0.98, tenant_id=b.farm_id)
        scores = {session["transaction_id"]: risk for session, risk in scored}
        conn.execute(
            "INSERT INTO milking_units (tenant_id, unit, source_id, last_session_at)"
            " VALUES (%s, 'Robot 3', %s, now() - interval '2 days')",
            [a.farm_id, a.source_id],
        )
        conn.execute(
            "INSERT INTO sync_runs (tenant_id, source_id, started_at, finished_at, rows_received,"
            " rows_inserted, result, agent_version, agent_host) VALUES (%s, %s,"
            " now() - interval '10 minutes', now() - interval '9 minutes', 40, 38, 'ok', '1.2.0', 'farm-pc')",
            [a.farm_id, a.source_id],
        )
        owner_a, viewer_a, vet_ab, owner_b = (create_user(conn) for _ in range(4))
        add_member(conn, a.farm_id, owner_a, "owner")
        add_member(conn, a.farm_id, viewer_a, "viewer")
        add_member(conn, a.farm_id, vet_ab, "vet")
        add_member(conn, b.farm_id, vet_ab, "vet")
        add_member(conn, b.farm_id, owner_b, "owner")
        now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
    yield World(a, b, owner_a, viewer_a, vet_ab, owner_b, alerts, scores, now)


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[AsyncConnectionPool]:
    p = make_pool(db_url, max_size=2)
    await p.open()
    yield p
    await p.close()


def recent(herd: Herd, hours: float = 24) -> list[dict[str, Any]]:
    since = datetime.now(UTC) - timedelta(hours=hours)
    return [s for s in herd.sessions if s["started_at"] > since]


async def test_me_lists_the_users_farms_and_roles(world: World, pool: AsyncConnectionPool) -> None:
    async with user_transaction(pool, claims(world.vet_ab)) as conn:
        me = await dashboard.me(conn, claims(world.vet_ab))
    assert me.user.id == world.vet_ab
    assert {(f.farm_id, f.role) for f in me.farms} == {(world.a.farm_id, "vet"), (world.b.farm_id, "vet")}
    async with user_transaction(pool, claims(world.viewer_a)) as conn:
        me = await dashboard.me(conn, claims(world.viewer_a))
        assert [(f.farm_id, f.role, f.time_zone) for f in me.farms] == [
            (world.a.farm_id, "viewer", "Europe/Rome")
        ]
        assert await dashboard.my_role(conn, world.a.farm_id) == "viewer"
        assert await dashboard.my_role(conn, world.b.farm_id) is None


async def test_overview_numbers(world: World, pool: AsyncConnectionPool) -> None:
    async with user_transaction(pool, claims(world.viewer_a)) as conn:
        o = await dashboard.overview(conn, world.a.farm_id)
    assert o is not None
    day = recent(world.a)
    assert o.cows_milked_24h == len({s["animal_id"] for s in day})
    assert o.yield_24h_kg == pytest.approx(sum(s["yield_kg"] for s in day), abs=0.01)
    midnight = datetime.now(world.a.zone).replace(hour=0, minute=0, second=0, microsecond=0)
    assert o.yield_today_kg == pytest.approx(
        sum(s["yield_kg"] for s in world.a.sessions if s["started_at"] >= midnight), abs=0.01
    )
    week = [s for s in recent(world.a, 8 * 24) if s not in day]
    assert o.yield_7d_avg_kg == pytest.approx(sum(s["yield_kg"] for s in week) / 7, abs=0.01)
    conds = [s["conductivity_avg"] for s in day if s["conductivity_avg"] is not None]
    assert o.conductivity_avg_24h == pytest.approx(sum(conds) / len(conds), abs=0.001)

    assert o.open_alerts.warning == 2 and o.open_alerts.critical == 1
    assert o.cows_at_risk == 2
    assert [(c.animal_id, c.alert.risk_score, c.alert.status) for c in o.at_risk] == [
        ("102", pytest.approx(0.93), "acknowledged"),
        ("101", pytest.approx(0.72), "new"),  # the cow's worst open alert
    ]
    assert o.at_risk[0].alert.level == "critical" and o.at_risk[0].alert.reasons[0]["change_pct"] == 34
    assert o.new_alerts_24h == 4  # the resolved one is 3 days old; farm B's is not ours

    units = {u.unit: u for u in o.units}
    assert set(units) == {"Robot 1", "Robot 2", "Robot 3"}
    assert units["Robot 3"].stale and units["Robot 3"].minutes_since_last_session == pytest.approx(
        2880, abs=2
    )
    assert not units["Robot 1"].stale and not units["Robot 2"].stale
    assert len(o.sources) == 1 and o.sources[0].last_sync is not None
    assert o.sources[0].last_sync.rows_inserted == 38 and o.sources[0].last_sync.agent_host == "farm-pc"
    assert not o.sources[0].stale


async def test_herd_list_sort_filter_search_paginate(world: World, pool: AsyncConnectionPool) -> None:
    async with user_transaction(pool, claims(world.owner_a)) as conn:
        page = await dashboard.cows(conn, world.a.farm_id, CowQuery())
        assert page is not None and page.total == len(COWS)
        # Latest score, highest first; unscored cows last, in number order.
        assert [(c.animal_id, c.risk_score) for c in page.items] == [
            ("7", pytest.approx(0.7)),
            ("101", pytest.approx(0.64)),
            ("102", pytest.approx(0.55)),
            ("20", pytest.approx(0.12)),
            ("103", None),
            ("B-1", None),
        ]
        by_cow = {c.animal_id: c for c in page.items}
        # The open alert keeps the score that raised it (cow 101: her worst open alert).
        alert_scores = {c: by_cow[c].open_alert.risk_score for c in COWS if by_cow[c].open_alert}  # type: ignore[union-attr]
        assert alert_scores == {"102": pytest.approx(0.93), "101": pytest.approx(0.72)}
        assert by_cow["7"].open_alert is None, "a score without an alert is no open alert"
        day = recent(world.a)
        for cow in COWS:
            mine = [s for s in day if s["animal_id"] == cow]
            assert by_cow[cow].milkings_24h == len(mine)
            assert by_cow[cow].yield_24h_kg == pytest.approx(sum(s["yield_kg"] for s in mine), abs=0.01)
            latest = max(
                (s for s in world.a.sessions if s["animal_id"] == cow), key=lambda s: s["started_at"]
            )
            assert by_cow[cow].last_session_at == latest["started_at"]
            assert by_cow[cow].unit == latest["unit"]
        assert by_cow["102"].open_alert is not None and by_cow["102"].open_alert.status == "acknowledged"
        assert by_cow["103"].open_alert is None, "a false positive is not an open alert"

        at_risk = await dashboard.cows(conn, world.a.farm_id, CowQuery(at_risk=True))
        assert at_risk is not None and [c.animal_id for c in at_risk.items] == ["101", "102"]
        by_risk_asc = await dashboard.cows(conn, world.a.farm_id, CowQuery(order="asc"))
        assert by_risk_asc is not None
        assert [c.animal_id for c in by_risk_asc.items] == ["20", "102", "101", "7", "103", "B-1"]
        healthy = await dashboard.cows(conn, world.a.farm_id, CowQuery(at_risk=False, sort="animal"))
        assert healthy is not None and [c.animal_id for c in healthy.items] == ["7", "20", "103", "B-1"]
        desc = await dashboard.cows(conn, world.a.farm_id, CowQuery(sort="animal", order="desc"))
        assert desc is not None and [c.animal_id for c in desc.items] == [
            "B-1",
            "103",
            "102",
            "101",
            "20",
            "7",
        ]

        search = await dashboard.cows(conn, world.a.farm_id, CowQuery(q="10", sort="animal"))
        assert search is not None and [c.animal_id for c in search.items] == ["101", "102", "103"]
        assert (await dashboard.cows(conn, world.a.farm_id, CowQuery(q="%"))).total == 0  # type: ignore[union-attr]

        unit = by_cow["7"].unit
        assert unit is not None
        by_unit = await dashboard.cows(conn, world.a.farm_id, CowQuery(unit=unit))
        assert by_unit is not None and {c.animal_id for c in by_unit.items} == {
            c for c in COWS if by_cow[c].unit == unit
        }
        assert (await dashboard.cows(conn, world.a.farm_id, CowQuery(lactation=2))).total == 6  # type: ignore[union-attr]
        assert (await dashboard.cows(conn, world.a.farm_id, CowQuery(lactation=3))).total == 0  # type: ignore[union-attr]

        by_yield = await dashboard.cows(conn, world.a.farm_id, CowQuery(sort="yield_24h", order="desc"))
        assert by_yield is not None
        yields = [c.yield_24h_kg for c in by_yield.items]
        assert yields == sorted(yields, reverse=True)

        pages = [
            await dashboard.cows(conn, world.a.farm_id, CowQuery(sort="animal", limit=4, offset=o))
            for o in (0, 4, 8)
        ]
        assert [[c.animal_id for c in p.items] for p in pages if p] == [
            ["7", "20", "101", "102"],
            ["103", "B-1"],
            [],
        ]
        assert [p.total for p in pages if p] == [6, 6, 6]


@pytest.mark.parametrize("days", [1, 7, 30])
async def test_series_with_herd_average_by_hand(world: World, pool: AsyncConnectionPool, days: int) -> None:
    async with user_transaction(pool, claims(world.viewer_a)) as conn:
        s = await dashboard.series(conn, world.a.farm_id, "101", days)
    assert s is not None
    today = datetime.now(world.a.zone).date()
    assert s.to_day == today and s.from_day == today - timedelta(days=days - 1)
    since = datetime.combine(s.from_day, datetime.min.time(), tzinfo=world.a.zone)
    mine = sorted(
        (x for x in world.a.sessions if x["animal_id"] == "101" and x["started_at"] >= since),
        key=lambda x: x["started_at"],
    )
    assert [p.transaction_id for p in s.sessions] == [x["transaction_id"] for x in mine]
    mine_all = [x for x in world.a.sessions if x["animal_id"] == "101"]
    assert s.cow.animal_id == "101" and s.cow.open_alert is not None

    expected_herd = herd_days_by_hand(world.a, s.from_day)
    assert [d.day for d in s.herd_days] == sorted(expected_herd)
    for d in s.herd_days:
        hand = expected_herd[d.day]
        assert d.cows == hand["cows"]
        assert d.milkings == pytest.approx(hand["milkings"], abs=1e-3)
        assert d.yield_kg == pytest.approx(hand["yield_kg"], abs=1e-3)
        for m in METRICS:
            assert getattr(d, m) == pytest.approx(hand[m], abs=1e-3), (d.day, m)

    expected_cow = cow_days_by_hand(world.a, "101", s.from_day)
    assert [d.day for d in s.cow_days] == sorted(expected_cow)
    for cd in s.cow_days:
        assert cd.milkings == expected_cow[cd.day]["milkings"]
        assert cd.yield_kg == pytest.approx(expected_cow[cd.day]["yield_kg"], abs=1e-3)
        for m in METRICS:
            assert getattr(cd, m) == pytest.approx(expected_cow[cd.day][m], abs=1e-3)

    assert s.cow.risk_score == pytest.approx(0.64) and s.cow.open_alert.risk_score == pytest.approx(0.72)
    scored = {p.transaction_id: p.risk_score for p in s.sessions if p.risk_score is not None}
    expected_scores = {x["transaction_id"]: world.scores[x["transaction_id"]] for x in mine
                       if x["transaction_id"] in world.scores}  # fmt: skip
    assert scored == pytest.approx(expected_scores)
    assert set(expected_scores) <= {mine_all[-4]["transaction_id"], mine_all[-2]["transaction_id"]}
    day_max: dict[Any, float] = {}
    for x in mine:
        if x["transaction_id"] in world.scores:
            day = world.a.local_day(x["started_at"])
            day_max[day] = max(day_max.get(day, 0.0), world.scores[x["transaction_id"]])
    day_scores = {d.day: d.risk_score_max for d in s.cow_days if d.risk_score_max is not None}
    assert day_scores == pytest.approx(day_max)
    if days == 30:  # both scored milkings are in the window
        assert sorted(expected_scores.values()) == pytest.approx([0.64, 0.81])
    assert {a.alert_id for a in s.alerts} == {world.alerts["101_high"], world.alerts["101_low"]}


async def test_scores_are_the_farms_own(world: World, pool: AsyncConnectionPool) -> None:
    """A vet of both farms sees farm B's score rows too (RLS lets her): farm B's row keyed like
    cow 101's last milking of farm A must not become that milking's score, nor the cow's."""
    async with user_transaction(pool, claims(world.vet_ab)) as conn:
        s = await dashboard.series(conn, world.a.farm_id, "101", 2)
        page = await dashboard.cows(conn, world.a.farm_id, CowQuery(q="101"))
    assert s is not None and s.sessions
    last = max((x for x in world.a.sessions if x["animal_id"] == "101"), key=lambda x: x["started_at"])
    assert (s.sessions[-1].transaction_id, s.sessions[-1].risk_score) == (last["transaction_id"], None)
    assert page is not None
    assert [(c.animal_id, c.risk_score) for c in page.items] == [("101", pytest.approx(0.64))]
    async with user_transaction(pool, claims(world.owner_b)) as conn:
        b = await dashboard.series(conn, world.b.farm_id, world.b.sessions[-1]["animal_id"], 2)
    assert b is not None and b.sessions[-1].risk_score == pytest.approx(0.99)


async def test_series_of_an_unknown_cow(world: World, pool: AsyncConnectionPool) -> None:
    async with user_transaction(pool, claims(world.owner_a)) as conn:
        assert await dashboard.series(conn, world.a.farm_id, "no-such-cow", 30) is None
        assert await dashboard.series(conn, world.a.farm_id, "555", 30) is None  # farm B's cow


async def test_another_farms_data_reads_as_missing(world: World, pool: AsyncConnectionPool) -> None:
    async with user_transaction(pool, claims(world.owner_a)) as conn:
        assert await dashboard.overview(conn, world.b.farm_id) is None
        assert await dashboard.cows(conn, world.b.farm_id, CowQuery()) is None
        assert await dashboard.series(conn, world.b.farm_id, "101", 30) is None
        assert await dashboard.overview(conn, uuid.uuid4()) is None
    async with user_transaction(pool, claims(world.vet_ab)) as conn:
        b = await dashboard.cows(conn, world.b.farm_id, CowQuery())
        assert b is not None and {c.animal_id for c in b.items} == {"101", "555"}
        s = await dashboard.series(conn, world.b.farm_id, "101", 30)
        assert s is not None and all(h.cows <= 2 for h in s.herd_days)
    async with user_transaction(pool, {"role": "anon"}) as conn:
        assert await dashboard.overview(conn, world.a.farm_id) is None


async def test_empty_farm(db_url: str, pool: AsyncConnectionPool) -> None:
    with psycopg.connect(db_url) as conn:
        herd = new_herd(conn)
        owner = create_user(conn)
        add_member(conn, herd.farm_id, owner, "owner")
    async with user_transaction(pool, claims(owner)) as conn:
        o = await dashboard.overview(conn, herd.farm_id)
        assert o is not None
        assert (o.cows_milked_24h, o.yield_24h_kg, o.yield_7d_avg_kg, o.conductivity_avg_24h) == (
            0,
            0,
            None,
            None,
        )
        assert o.units == [] and o.sources[0].last_sync is None and o.sources[0].stale
        page = await dashboard.cows(conn, herd.farm_id, CowQuery())
        assert page is not None and page.total == 0 and page.items == []


def _rollups(conn: psycopg.Connection[Any], farm: uuid.UUID) -> tuple[list[Any], list[Any]]:
    cow = conn.execute(
        "SELECT * FROM cow_daily WHERE tenant_id = %s ORDER BY animal_id, day", [farm]
    ).fetchall()
    herd = conn.execute("SELECT * FROM herd_daily WHERE tenant_id = %s ORDER BY day", [farm]).fetchall()
    rounded = [tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in cow]
    return rounded, [tuple(round(v, 6) if isinstance(v, float) else v for v in r) for r in herd]


def test_rollups_follow_inserts_duplicates_updates_and_deletes(db_url: str) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        herd = new_herd(conn, "America/New_York")
        copy_sessions(conn, herd, random_milkings(herd, ["1", "2", "3"], days=4, seed=3))
        after_copy = _rollups(conn, herd.farm_id)
        # Ingest's shape: a multi-row INSERT … ON CONFLICT DO NOTHING inside a CTE, half duplicates.
        again = [*herd.sessions[:5], milking(herd, "4", datetime.now(UTC) - timedelta(hours=3), 10.0)]
        columns = ("tenant_id", "source_id", "transaction_id", "unit", "animal_id", "started_at", "ended_at",
                   "yield_kg")  # fmt: skip
        inserted = conn.execute(
            f"WITH inserted AS (INSERT INTO milking_sessions ({', '.join(columns)})"
            " SELECT * FROM unnest(%s::uuid[], %s::int[], %s::bigint[], %s::text[], %s::text[],"
            " %s::timestamptz[], %s::timestamptz[], %s::real[]) ON CONFLICT DO NOTHING RETURNING 1)"
            " SELECT count(*) FROM inserted",
            [[r[c] for r in again] for c in columns],
        ).fetchone()
        assert inserted == (1,)
        herd.sessions.append(again[-1])
        conn.execute(
            "UPDATE milking_sessions SET yield_kg = yield_kg + 1, conductivity_avg = 6.5"
            " WHERE tenant_id = %s AND transaction_id <= 10",
            [herd.farm_id],
        )
        conn.execute("DELETE FROM milking_sessions WHERE tenant_id = %s AND animal_id = '3'", [herd.farm_id])
        live = _rollups(conn, herd.farm_id)
        conn.execute("SELECT private.rebuild_daily(%s)", [herd.farm_id])
        rebuilt = _rollups(conn, herd.farm_id)
    assert live == rebuilt
    assert after_copy != live
    assert all(r[1] != "3" for r in live[0]), "a cow's days vanish with her last milking"
    assert any(r[1] == "4" for r in live[0])


def test_rollups_go_with_their_farm(db_url: str) -> None:
    """No foreign key on the rollups: deleting a farm deletes them by trigger, and a farm being
    deleted waits for a batch in flight (the trigger locks the farm as a foreign key would)."""
    with psycopg.connect(db_url, autocommit=True) as conn:
        gone, kept = new_herd(conn), new_herd(conn)
        copy_sessions(conn, gone, random_milkings(gone, ["1", "2"], days=2, seed=4))
        copy_sessions(conn, kept, random_milkings(kept, ["1", "2"], days=2, seed=4))
        kept_rollups = _rollups(conn, kept.farm_id)
        assert kept_rollups[0] and kept_rollups[1]
        with psycopg.connect(db_url) as batch:  # a batch of `gone` in flight, not committed yet
            # A day without rollups yet (so no existing row is locked by the batch), and the
            # milkings alone (no other row of the batch refers to the farm): only the trigger's
            # lock on the farm holds the deletion back.
            late = milking(gone, "3", datetime.now(UTC) - timedelta(days=40), 9.0)
            columns = ("tenant_id", "source_id", "transaction_id", "unit", "animal_id", "started_at",
                       "ended_at", "yield_kg")  # fmt: skip
            batch.execute(
                f"INSERT INTO milking_sessions ({', '.join(columns)}) VALUES ({', '.join(['%s'] * 8)})",
                [late[c] for c in columns],
            )
            conn.execute("SET lock_timeout = '100ms'")
            with pytest.raises(psycopg.errors.LockNotAvailable):
                conn.execute("DELETE FROM tenants WHERE tenant_id = %s", [gone.farm_id])
            batch.commit()
        conn.execute("DELETE FROM tenants WHERE tenant_id = %s", [gone.farm_id])
        assert _rollups(conn, gone.farm_id) == ([], [])
        assert _rollups(conn, kept.farm_id) == kept_rollups


def test_milkings_of_a_farm_that_does_not_exist_are_refused(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        herd = new_herd(conn)
        ghost = Herd(uuid.uuid4(), herd.source_id, "UTC")
        with pytest.raises(psycopg.errors.ForeignKeyViolation, match="farm that does not exist"):
            copy_sessions(conn, ghost, [milking(ghost, "1", datetime.now(UTC), 10.0)])
        conn.rollback()
        count = conn.execute("SELECT count(*) FROM milking_sessions WHERE tenant_id = %s", [ghost.farm_id])
        assert count.fetchone() == (0,)
        assert _rollups(conn, ghost.farm_id) == ([], [])
