"""Overview, herd list and cow series over real HTTP: shapes, parameters, validation."""

from __future__ import annotations

import httpx
import psycopg
import pytest

from pecus.cloud.schemas.dashboard import CowPage, CowSeries, FarmOverview
from tests.dashboard.conftest import Farms, bearer, error_of


def test_overview_over_http(client: httpx.Client, farms: Farms) -> None:
    r = client.get(f"/api/v1/farms/{farms.a.farm_id}/overview", headers=bearer(farms.a_users["viewer"]))
    assert r.status_code == 200, r.text
    o = FarmOverview.model_validate(r.json())
    assert o.farm_id == farms.a.farm_id and o.time_zone == "Europe/Rome"
    assert o.cows_at_risk == 1 and o.open_alerts.warning == 1
    assert {u.unit for u in o.units} <= {"Robot 1", "Robot 2"} and o.units


def test_herd_list_over_http(client: httpx.Client, farms: Farms) -> None:
    url = f"/api/v1/farms/{farms.a.farm_id}/cows"
    headers = bearer(farms.a_users["farmer"])
    page = CowPage.model_validate(client.get(url, headers=headers).json())
    alerted = farms.a.sessions[-1]["animal_id"]
    quiet = next(x["animal_id"] for x in reversed(farms.a.sessions) if x["animal_id"] != alerted)
    # Each cow's latest score, highest first; the unscored ones after, in number order.
    unscored = sorted({"1", "2", "3", "41"} - {alerted, quiet}, key=int)
    assert [(c.animal_id, c.risk_score) for c in page.items] == [
        (alerted, pytest.approx(0.8)), (quiet, pytest.approx(0.3)), *((c, None) for c in unscored)
    ]  # fmt: skip
    assert page.total == 4 and page.items[0].open_alert is not None and page.items[1].open_alert is None
    r = client.get(url, headers=headers, params={"sort": "animal", "order": "desc", "limit": 2, "q": "1"})
    assert r.status_code == 200, r.text
    assert [c["animal_id"] for c in r.json()["items"]] == ["41", "1"] and r.json()["total"] == 2
    at_risk = client.get(url, headers=headers, params={"at_risk": "true"}).json()
    assert [c["open_alert"]["risk_score"] for c in at_risk["items"]] == [0.8]


def test_bad_parameters_name_the_field(client: httpx.Client, farms: Farms) -> None:
    headers = bearer(farms.a_users["owner"])
    base = f"/api/v1/farms/{farms.a.farm_id}"
    for path, params, field in [
        ("/cows", {"sort": "weight"}, "sort"),
        ("/cows", {"limit": 0}, "limit"),
        ("/cows", {"limit": 501}, "limit"),
        ("/cows", {"at_risk": "maybe"}, "at_risk"),
        ("/cows/1/series", {"days": 0}, "days"),
        ("/cows/1/series", {"days": 401}, "days"),
        ("/cows", {"q": "1\x00"}, "q"),
        ("/cows/1%00/series", {}, "animal_id"),
    ]:
        r = client.get(base + path, headers=headers, params=params)
        assert r.status_code == 422, (path, params)
        assert [d["field"] for d in error_of(r)["details"]] == [field]
    r = client.get("/api/v1/farms/not-a-uuid/overview", headers=headers)
    assert r.status_code == 422 and error_of(r)["details"][0]["field"] == "farm_id"


def test_series_over_http(client: httpx.Client, farms: Farms) -> None:
    r = client.get(
        f"/api/v1/farms/{farms.a.farm_id}/cows/41/series", headers=bearer(farms.vet_ab), params={"days": 4}
    )
    assert r.status_code == 200, r.text
    s = CowSeries.model_validate(r.json())
    # Four local days always hold the whole three days of milkings, whatever the hour in Rome.
    assert s.days == 4 and s.sessions and s.herd_days and s.cow_days
    assert {x.animal_id for x in [s.cow]} == {"41"}
    # Farm B also has a cow 41: the herd average is farm A's alone.
    hand_cows = {
        farms.a.local_day(x["started_at"])
        for x in farms.a.sessions
        if farms.a.local_day(x["started_at"]) >= s.from_day
    }
    assert {d.day for d in s.herd_days} == hand_cows
    assert max(d.cows for d in s.herd_days) <= 4
    alerted = farms.a.sessions[-1]
    r = client.get(
        f"/api/v1/farms/{farms.a.farm_id}/cows/{alerted['animal_id']}/series",
        headers=bearer(farms.vet_ab),
        params={"days": 3},
    )
    scored = CowSeries.model_validate(r.json())
    assert [p.risk_score for p in scored.sessions][-1] == pytest.approx(0.8)
    assert {p.risk_score for p in scored.sessions[:-1]} == {None}  # the other scored milking is another cow's
    assert scored.cow.risk_score == pytest.approx(0.8)
    assert scored.cow_days[-1].risk_score_max == pytest.approx(0.8)
    missing = client.get(f"/api/v1/farms/{farms.a.farm_id}/cows/999/series", headers=bearer(farms.vet_ab))
    assert missing.status_code == 404 and error_of(missing) == {
        "code": "not_found", "message": "no such cow", "details": []
    }  # fmt: skip


def test_a_cow_that_left_the_herd_leaves_the_herd_list_and_the_overview(
    client: httpx.Client, farms: Farms, db_url: str
) -> None:
    alerted = farms.a.sessions[-1]["animal_id"]  # the cow with the open alert
    with psycopg.connect(db_url) as conn:
        # Sold yesterday (the register's exit date has come), and one leaving tomorrow: still here.
        conn.execute(
            "UPDATE animals SET exit_date = CASE animal_id WHEN %s THEN current_date - 1"
            " ELSE current_date + 2 END WHERE tenant_id = %s AND animal_id IN (%s, '41')",
            [alerted, farms.a.farm_id, alerted],
        )
    headers = bearer(farms.a_users["viewer"])
    page = CowPage.model_validate(client.get(f"/api/v1/farms/{farms.a.farm_id}/cows", headers=headers).json())
    assert alerted not in {c.animal_id for c in page.items} and "41" in {c.animal_id for c in page.items}
    assert page.total == 3
    o = FarmOverview.model_validate(
        client.get(f"/api/v1/farms/{farms.a.farm_id}/overview", headers=headers).json()
    )
    assert o.cows_at_risk == 0 and o.at_risk == [] and o.open_alerts.warning == 0
