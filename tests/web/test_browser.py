"""The dashboard end to end in a real browser (Debian's Chromium via playwright-core) against the
real API on a real PostgreSQL: two farms seeded through the ingest API, `pecus serve` serving the
built dashboard, and the node:test suites of `web/e2e/` driving the browser.

Needs `npm ci && npm run build` in web/ (make install does both). Screenshots of every page at
desktop and 390 px width land in test-artifacts/web/."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pecus.cloud.database import connect
from tests.support.api import running_api
from tests.support.web_demo import PASSWORD, DemoFarm, add_vet, alert_status, cows_at_risk, seed_demo_farm

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
ARTIFACTS = ROOT / "test-artifacts" / "web"

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]


@dataclass(frozen=True)
class Stack:
    api_url: str
    db_url: str
    farm_a: DemoFarm
    farm_b: DemoFarm


@pytest.fixture(scope="module")
def stack(db_url: str) -> Iterator[Stack]:
    build_hint = "build the dashboard first: cd web && npm ci && npm run build"
    assert (WEB / "dist" / "index.html").is_file(), build_hint
    assert (WEB / "node_modules" / "playwright-core").is_dir(), build_hint
    with running_api(db_url, {"PECUS_WEB_DIST": str(WEB / "dist")}) as api_url:
        farm_a = seed_demo_farm(db_url, api_url, name="Cascina Rossi", cows=40, sick=3, seed=1)
        farm_b = seed_demo_farm(
            db_url, api_url, name="Azienda Bianchi", cows=12, sick=1, seed=2, first_cow=5000,
            silent_unit_hours=8,
        )  # fmt: skip
        yield Stack(api_url, db_url, farm_a, farm_b)


def run_suite(stack: Stack, suite: str, **extra: str) -> str:
    node = shutil.which("node")
    assert node, "node is needed for the browser tests"
    env = {
        **os.environ,
        "PECUS_BASE_URL": stack.api_url,
        "PECUS_EMAIL": stack.farm_a.owner_email,
        "PECUS_PASSWORD": PASSWORD,
        "PECUS_FARM_A": str(stack.farm_a.farm_id),
        "PECUS_ARTIFACTS": str(ARTIFACTS),
        **extra,
    }
    result = subprocess.run(
        [node, "--test", "--test-reporter=spec", f"e2e/{suite}"],
        cwd=WEB,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = f"{result.stdout[-8000:]}\n{result.stderr[-4000:]}"
    print(output)
    assert result.returncode == 0, f"browser tests {suite} failed:\n{output}"
    return result.stdout


def test_dashboard_pages_in_a_real_browser(stack: Stack) -> None:
    """Sign in, the at-risk count the database holds, herd list, both chart lines on the cow page,
    settings, Italian that survives a reload, no farm-B cow by URL, token refresh, sign out, a vet's
    farm switcher; axe on every page."""
    expected = cows_at_risk(stack.db_url, stack.farm_a.farm_id)
    assert expected >= 1, "the seeded farm has no cow at risk"
    cow_b = stack.farm_b.cows[0]
    assert cow_b not in stack.farm_a.cows
    run_suite(
        stack,
        "dashboard.e2e.mjs",
        PECUS_FARM_B=str(stack.farm_b.farm_id),
        PECUS_COW_B=cow_b,
        PECUS_AT_RISK=str(expected),
        PECUS_SICK_COW=stack.farm_a.alert_cows[0],
        PECUS_VET_EMAIL=add_vet(stack.db_url, stack.farm_a, stack.farm_b),
        PECUS_FARM_B_NAME=stack.farm_b.name,
        PECUS_AT_RISK_B=str(cows_at_risk(stack.db_url, stack.farm_b.farm_id)),
    )
    shots = {p.name for p in ARTIFACTS.glob("*.png")}
    for page in ("01-sign-in", "02-overview", "03-herd", "04-cow", "06-settings", "07-overview-it"):
        assert {f"{page}-desktop.png", f"{page}-phone.png"} <= shots, page


def test_alert_acknowledged_in_a_real_browser(stack: Stack) -> None:
    """Acknowledge with a note in the browser: shown at once, still there after a reload, and stored
    with the status change the model learns from."""
    alert_id = stack.farm_a.alert_ids[0]
    assert alert_status(stack.db_url, stack.farm_a.farm_id, alert_id) == "new"
    run_suite(stack, "alerts.e2e.mjs", PECUS_ALERT_ID=str(alert_id))
    assert alert_status(stack.db_url, stack.farm_a.farm_id, alert_id) == "acknowledged"
    with connect(stack.db_url) as conn:
        changes = conn.execute(
            "SELECT from_status, to_status, note FROM alert_status_changes"
            " WHERE tenant_id = %s AND alert_id = %s ORDER BY change_id",
            [stack.farm_a.farm_id, alert_id],
        ).fetchall()
    assert [(c[0], c[1]) for c in changes] == [("new", "acknowledged")]
    assert changes[0][2] == "Checked at 5 am: hot quarter, vet called"


def test_field_accuracy_in_a_real_browser(stack: Stack) -> None:
    """The Field accuracy page renders the API's report (axe, 390 px); the owner adds a mastitis
    diagnosis name, finds it after a reload, and removes it again."""
    run_suite(stack, "accuracy.e2e.mjs")
    with connect(stack.db_url) as conn:
        row = conn.execute(
            "SELECT mastitis_patterns FROM public.tenants WHERE tenant_id = %s", [stack.farm_a.farm_id]
        ).fetchone()
    assert row is not None and "mastite clinica e2e" not in row[0]
