"""Row-level security holds the line for every tenant table, whatever Python does.

Claims go through `pecus.cloud.tenancy.user_transaction`, the helper the API uses; the last
tests do the same with raw SQL to show the database enforces it on its own."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from psycopg_pool import AsyncConnectionPool

from pecus.cloud.tenancy import make_pool, user_transaction
from tests.support.seed import SeededFarm, add_member, create_user, seed_farm

pytestmark = pytest.mark.anyio

TABLES = [
    "tenants",
    "memberships",
    "sources",
    "milking_units",
    "agent_keys",
    "animals",
    "milking_sessions",
    "alerts",
    "alert_status_changes",
    "notifications",
    "sync_runs",
    "treatments",
]

UPDATABLE_COLUMN = {"alerts": "status"}
# Written only by ingest (the service role): users have no write privilege at all, not even a policy.
READ_ONLY = {"treatments"}


@dataclass
class World:
    a: SeededFarm
    b: SeededFarm
    c: SeededFarm
    owner_a: uuid.UUID
    viewer_a: uuid.UUID
    farmer_a: uuid.UUID
    vet_ab: uuid.UUID
    owner_b: uuid.UUID


@pytest.fixture
def world(db_url: str) -> World:
    with psycopg.connect(db_url) as conn:
        a, b, c = (seed_farm(conn, n) for n in ("Farm A", "Farm B", "Farm C"))
        owner_a, viewer_a, farmer_a, vet_ab, owner_b = (create_user(conn) for _ in range(5))
        add_member(conn, a.farm_id, owner_a, "owner")
        add_member(conn, a.farm_id, viewer_a, "viewer")
        add_member(conn, a.farm_id, farmer_a, "farmer")
        add_member(conn, a.farm_id, vet_ab, "vet")
        add_member(conn, b.farm_id, vet_ab, "vet")
        add_member(conn, b.farm_id, owner_b, "owner")
        add_member(conn, c.farm_id, create_user(conn), "owner")
        for farm in (a, b, c):  # a row in the tables seed_farm leaves empty
            conn.execute(
                "INSERT INTO treatments (tenant_id, source_id, treatment_id, animal_id, started_at,"
                " diagnosis) VALUES (%s, %s, 1, %s, now(), 'Mastitis')",
                [farm.farm_id, farm.source_id, farm.animals[0]],
            )
    return World(a, b, c, owner_a, viewer_a, farmer_a, vet_ab, owner_b)


@pytest.fixture
async def pool(db_url: str) -> AsyncIterator[AsyncConnectionPool]:
    p = make_pool(db_url, max_size=2)
    await p.open()
    yield p
    await p.close()


def claims(user: uuid.UUID | None) -> dict[str, Any]:
    if user is None:
        return {"role": "anon"}
    return {"sub": str(user), "role": "authenticated", "aud": "authenticated"}


async def visible_tenants(
    pool: AsyncConnectionPool, user: uuid.UUID | None, table: str, among: set[uuid.UUID]
) -> set[uuid.UUID]:
    async with user_transaction(pool, claims(user)) as conn:
        cur = await conn.execute(f"SELECT DISTINCT tenant_id FROM public.{table}")  # type: ignore[arg-type]
        return {row[0] for row in await cur.fetchall()} & among


@pytest.mark.parametrize("table", TABLES)
async def test_each_table_shows_a_user_only_their_farms(
    pool: AsyncConnectionPool, world: World, table: str
) -> None:
    ours = {world.a.farm_id, world.b.farm_id, world.c.farm_id}
    # Owners see everything of their farm; agent keys and the outbox are for owners only.
    assert await visible_tenants(pool, world.owner_a, table, ours) == {world.a.farm_id}
    assert await visible_tenants(pool, world.vet_ab, table, ours) == (
        set() if table in {"agent_keys", "notifications"} else {world.a.farm_id, world.b.farm_id}
    )
    assert await visible_tenants(pool, None, table, ours) == set()
    async with pool.connection() as conn, conn.transaction():
        await conn.execute("SET LOCAL ROLE service_role")
        cur = await conn.execute(f"SELECT DISTINCT tenant_id FROM public.{table}")  # type: ignore[arg-type]
        assert {r[0] for r in await cur.fetchall()} >= ours


@pytest.mark.parametrize("table", TABLES)
async def test_each_table_refuses_writes_to_another_farm(
    pool: AsyncConnectionPool, world: World, table: str
) -> None:
    if table in READ_ONLY:
        for write in (
            "UPDATE public.{t} SET tenant_id = tenant_id",
            "DELETE FROM public.{t}",
            "TRUNCATE public.{t}",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
                async with user_transaction(pool, claims(world.owner_a)) as conn:
                    await conn.execute(write.format(t=table))  # type: ignore[arg-type]
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            async with user_transaction(pool, claims(world.owner_a)) as conn:
                await conn.execute(
                    f"INSERT INTO public.{table} (tenant_id, source_id, treatment_id, animal_id, started_at,"  # type: ignore[arg-type]
                    " diagnosis) VALUES (%s, %s, 99, '1', now(), 'x')",
                    [world.a.farm_id, world.a.source_id],
                )
        return
    # Users may update only some columns of some tables (alerts: the status): try one they may.
    column = UPDATABLE_COLUMN.get(table, "tenant_id")
    async with user_transaction(pool, claims(world.owner_a)) as conn:
        cur = await conn.execute(
            f"UPDATE public.{table} SET {column} = {column} WHERE tenant_id = %s",  # type: ignore[arg-type]
            [world.b.farm_id],
        )
        assert cur.rowcount == 0
        cur = await conn.execute(
            f"DELETE FROM public.{table} WHERE tenant_id = %s",  # type: ignore[arg-type]
            [world.b.farm_id],
        )
        assert cur.rowcount == 0
    # Inserting a row for farm B, even copying one of B's own rows, is refused by a policy.
    with psycopg.connect(pool.conninfo) as owner:
        cols = [
            r[0]
            for r in owner.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public'"
                " AND table_name = %s AND is_generated = 'NEVER' AND is_identity = 'NO'",
                [table],
            )
        ]
    col_list = ", ".join(cols)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
        async with user_transaction(pool, claims(world.owner_a)) as conn:
            await conn.execute("SET LOCAL ROLE service_role")  # read B's row as a template first
            cur = await conn.execute(
                f"CREATE TEMP TABLE tmpl ON COMMIT DROP AS SELECT {col_list} FROM public.{table}"  # type: ignore[arg-type]
                " WHERE tenant_id = %s LIMIT 1",
                [world.b.farm_id],
            )
            await conn.execute("GRANT ALL ON tmpl TO authenticated")
            await conn.execute("SET LOCAL ROLE authenticated")
            await conn.execute(f"INSERT INTO public.{table} ({col_list}) SELECT {col_list} FROM tmpl")  # type: ignore[arg-type]


async def test_vet_of_two_farms_sees_both_and_no_third(pool: AsyncConnectionPool, world: World) -> None:
    async with user_transaction(pool, claims(world.vet_ab)) as conn:
        cur = await conn.execute("SELECT tenant_id FROM tenants")
        seen = {r[0] for r in await cur.fetchall()}
    assert seen == {world.a.farm_id, world.b.farm_id}


async def test_role_decides_who_changes_an_alert(pool: AsyncConnectionPool, world: World) -> None:
    update = "UPDATE alerts SET status = 'acknowledged' WHERE tenant_id = %s AND alert_id = %s"
    args = [world.a.farm_id, world.a.alert_id]
    async with user_transaction(pool, claims(world.viewer_a)) as conn:
        assert (await conn.execute(update, args)).rowcount == 0
    async with user_transaction(pool, claims(world.farmer_a)) as conn:
        assert (await conn.execute(update, args)).rowcount == 1
    # A farmer may not manage agent keys or people; an owner may.
    revoke = "UPDATE agent_keys SET revoked_at = now() WHERE tenant_id = %s"
    async with user_transaction(pool, claims(world.farmer_a)) as conn:
        assert (await conn.execute(revoke, [world.a.farm_id])).rowcount == 0
    async with user_transaction(pool, claims(world.owner_a)) as conn:
        assert (await conn.execute(revoke, [world.a.farm_id])).rowcount == 1


async def test_user_requests_cannot_ask_for_service_role(pool: AsyncConnectionPool) -> None:
    with pytest.raises(PermissionError):
        async with user_transaction(pool, {"sub": str(uuid.uuid4()), "role": "service_role"}):
            pass


def test_raw_sql_with_forged_claims_is_still_filtered(db_url: str, world: World) -> None:
    """No Python helper: the database alone filters by the claims of the transaction."""
    with psycopg.connect(db_url) as conn:
        conn.execute("SET ROLE authenticated")
        conn.execute(
            "SELECT set_config('request.jwt.claims', %s, false)",
            [f'{{"sub": "{world.owner_b}", "role": "authenticated"}}'],
        )
        farms = {r[0] for r in conn.execute("SELECT tenant_id FROM milking_sessions")}
        assert world.b.farm_id in farms and world.a.farm_id not in farms
        # Claims of a user with no membership: nothing at all.
        conn.execute(
            "SELECT set_config('request.jwt.claims', %s, false)",
            [f'{{"sub": "{uuid.uuid4()}", "role": "authenticated"}}'],
        )
        assert conn.execute("SELECT count(*) FROM milking_sessions").fetchone() == (0,)
        # Partitions cannot be read around the parent's policies.
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM partitions.milking_sessions_p00")
