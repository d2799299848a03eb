"""Alert status changes under row-level security, as the API runs them (`user_transaction`), and
the database's own guarantees for the history: append-only, who and when stamped by the server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from pecus.cloud import alerts
from pecus.cloud.errors import ApiError
from pecus.cloud.tenancy import make_pool, user_transaction
from tests.support.herd import Herd, add_alert, copy_sessions, new_herd, random_milkings
from tests.support.seed import add_member, create_user

pytestmark = pytest.mark.anyio


@dataclass
class World:
    a: Herd
    b: Herd
    users: dict[str, uuid.UUID]
    owner_b: uuid.UUID
    alert: int
    low_alert: int
    b_alert: int


@pytest.fixture
def world(db_url: str) -> World:
    with psycopg.connect(db_url) as conn:
        a, b = new_herd(conn, "Europe/Rome"), new_herd(conn, "UTC")
        copy_sessions(conn, a, random_milkings(a, ["7", "8"], days=9, seed=3))
        copy_sessions(conn, b, random_milkings(b, ["7", "9"], days=4, seed=4))
        cow7 = [s for s in a.sessions if s["animal_id"] == "7"]
        alert = add_alert(conn, a, cow7[-1], 0.91, "critical")
        low = add_alert(conn, a, [s for s in a.sessions if s["animal_id"] == "8"][-1], 0.55)
        b_alert = add_alert(conn, b, b.sessions[-1], 0.9)
        users = {role: create_user(conn) for role in ("owner", "farmer", "vet", "viewer")}
        for role, user in users.items():
            add_member(conn, a.farm_id, user, role)
        owner_b = create_user(conn)
        add_member(conn, b.farm_id, owner_b, "owner")
    return World(a, b, users, owner_b, alert, low, b_alert)


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[AsyncConnectionPool]:
    p = make_pool(db_url, max_size=2)
    await p.open()
    yield p
    await p.close()


def claims(user: uuid.UUID) -> dict[str, Any]:
    return {"sub": str(user), "role": "authenticated", "aud": "authenticated"}


async def change(
    pool: AsyncConnectionPool,
    user: uuid.UUID,
    farm: uuid.UUID,
    alert: int,
    status: str,
    note: str | None = None,
) -> alerts.Alert:
    async with user_transaction(pool, claims(user)) as conn:
        return await alerts.change_status(conn, farm, alert, status, note)


def history(db_url: str, alert: int) -> list[dict[str, Any]]:
    with psycopg.connect(db_url, row_factory=dict_row) as conn:
        return conn.execute(
            "SELECT from_status, to_status, changed_by, note FROM alert_status_changes WHERE alert_id = %s"
            " ORDER BY change_id",
            [alert],
        ).fetchall()


async def test_carers_change_status_and_every_change_is_kept(
    db_url: str, pool: AsyncConnectionPool, world: World
) -> None:
    farm, users = world.a.farm_id, world.users
    acked = await change(pool, users["farmer"], farm, world.alert, "acknowledged", "clots in rear-left")
    assert (acked.status, acked.note, acked.status_changed_by) == (
        "acknowledged",
        "clots in rear-left",
        users["farmer"],
    )
    # The vet corrects the label, then the owner closes the case.
    await change(pool, users["vet"], farm, world.alert, "false_positive", "CMT negative")
    done = await change(pool, users["owner"], farm, world.alert, "resolved")
    assert done.status == "resolved" and done.note is None
    assert [tuple(h.values()) for h in history(db_url, world.alert)] == [
        ("new", "acknowledged", users["farmer"], "clots in rear-left"),
        ("acknowledged", "false_positive", users["vet"], "CMT negative"),
        ("false_positive", "resolved", users["owner"], None),
    ]


async def test_a_viewer_may_not_and_another_farm_cannot_even_see_it(
    db_url: str, pool: AsyncConnectionPool, world: World
) -> None:
    with pytest.raises(ApiError) as viewer:
        await change(pool, world.users["viewer"], world.a.farm_id, world.alert, "acknowledged")
    assert (viewer.value.status, viewer.value.code) == (403, "forbidden")
    for user, farm, alert in [
        (world.owner_b, world.a.farm_id, world.alert),  # farm A, by farm B's owner
        (world.users["owner"], world.a.farm_id, world.b_alert),  # B's alert under A's id
        (world.users["owner"], world.b.farm_id, world.b_alert),  # farm B, by A's owner
        (world.users["owner"], world.a.farm_id, 2**62),  # no such alert
    ]:
        with pytest.raises(ApiError) as hidden:
            await change(pool, user, farm, alert, "acknowledged")
        assert hidden.value.status == 404
    assert history(db_url, world.alert) == history(db_url, world.b_alert) == []


async def test_the_lifecycle_refuses_what_it_does_not_allow_and_repeats_change_nothing(
    db_url: str, pool: AsyncConnectionPool, world: World
) -> None:
    farmer, farm = world.users["farmer"], world.a.farm_id
    await change(pool, farmer, farm, world.alert, "acknowledged")
    again = await change(pool, farmer, farm, world.alert, "acknowledged")  # a double click
    assert again.status == "acknowledged"
    assert len(history(db_url, world.alert)) == 1
    await change(pool, farmer, farm, world.alert, "resolved")
    with pytest.raises(ApiError) as final:
        await change(pool, farmer, farm, world.alert, "acknowledged")
    assert (final.value.status, final.value.code) == (409, "invalid_transition")
    assert "resolved alert cannot become acknowledged" in final.value.message
    assert len(history(db_url, world.alert)) == 2


async def test_list_is_sorted_by_risk_then_time_and_filtered(pool: AsyncConnectionPool, world: World) -> None:
    async with user_transaction(pool, claims(world.users["viewer"])) as conn:
        page = await alerts.list_alerts(conn, world.a.farm_id, alerts.AlertFilter())
        assert [a.alert_id for a in page.items] == [world.alert, world.low_alert] and page.total == 2
        assert page.items[0].summary == "RR cond +34%"
        only = await alerts.list_alerts(conn, world.a.farm_id, alerts.AlertFilter(animal_id="8"))
        assert [a.alert_id for a in only.items] == [world.low_alert]
        none = await alerts.list_alerts(conn, world.a.farm_id, alerts.AlertFilter(statuses=["resolved"]))
        assert (none.items, none.total) == ([], 0)
        detail = await alerts.get_alert(conn, world.a.farm_id, world.alert)
    cow7 = [s["transaction_id"] for s in world.a.sessions if s["animal_id"] == "7"]
    ids = [s.transaction_id for s in detail.sessions]
    assert ids and set(ids) <= set(cow7) and ids[-1] == cow7[-1]  # hers only, up to the alert
    assert detail.sessions[-1].risk_score == pytest.approx(0.91)


async def test_history_is_append_only_even_for_the_table_owner(db_url: str, world: World) -> None:
    with psycopg.connect(db_url) as conn:
        conn.execute(
            "INSERT INTO alert_status_changes (tenant_id, alert_id, from_status, to_status)"
            " VALUES (%s, %s, 'new', 'acknowledged')",
            [world.a.farm_id, world.alert],
        )
    for statement in ("UPDATE alert_status_changes SET note = 'x' WHERE alert_id = %s",
                      "DELETE FROM alert_status_changes WHERE alert_id = %s"):  # fmt: skip
        with (
            psycopg.connect(db_url) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"),
        ):
            conn.execute(statement, [world.alert])
    assert len(history(db_url, world.alert)) == 1
    # Deleting the farm still deletes its history with it.
    with psycopg.connect(db_url) as conn:
        conn.execute("DELETE FROM tenants WHERE tenant_id = %s", [world.a.farm_id])
    assert history(db_url, world.alert) == []


async def test_who_and_when_come_from_the_token_and_scores_are_not_the_users(
    db_url: str, pool: AsyncConnectionPool, world: World
) -> None:
    farmer = world.users["farmer"]
    async with user_transaction(pool, claims(farmer)) as conn:
        await conn.execute(
            "INSERT INTO alert_status_changes"
            " (tenant_id, alert_id, from_status, to_status, changed_by, changed_at)"
            " VALUES (%s, %s, 'new', 'acknowledged', %s, '2000-01-01')",
            [world.a.farm_id, world.alert, world.users["owner"]],
        )
    [row] = history(db_url, world.alert)
    assert row["changed_by"] == farmer
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        async with user_transaction(pool, claims(farmer)) as conn:
            await conn.execute("UPDATE alerts SET risk_score = 0.1 WHERE alert_id = %s", [world.alert])
