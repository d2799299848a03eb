"""The dashboard end to end in a real browser (Debian's Chromium via playwright-core) against the
real API on a real PostgreSQL: this seeds two farms through the ingest API, starts `pecus serve`
with the built dashboard, and runs `web/e2e/dashboard.e2e.mjs` (node:test) against it.

Needs `npm ci && npm run build` in web/ (make install does both). Screenshots of every page at
desktop and 390 px width land in test-artifacts/web/."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.support.api import running_api
from tests.support.web_demo import PASSWORD, alert_status, cows_at_risk, seed_demo_farm

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
ARTIFACTS = ROOT / "test-artifacts" / "web"

pytestmark = pytest.mark.slow


def test_dashboard_in_a_real_browser(db_url: str) -> None:
    build_hint = "build the dashboard first: cd web && npm ci && npm run build"
    assert (WEB / "dist" / "index.html").is_file(), build_hint
    assert (WEB / "node_modules" / "playwright-core").is_dir(), build_hint
    node = shutil.which("node")
    assert node, "node is needed for the browser tests"

    with running_api(db_url, {"PECUS_WEB_DIST": str(WEB / "dist")}) as api_url:
        farm_a = seed_demo_farm(db_url, api_url, name="Cascina Rossi", cows=40, sick=3, seed=1)
        farm_b = seed_demo_farm(
            db_url, api_url, name="Azienda Bianchi", cows=12, sick=1, seed=2, first_cow=5000
        )
        expected = cows_at_risk(db_url, farm_a.farm_id)
        assert expected == 3
        cow_b = farm_b.cows[0]
        assert cow_b not in farm_a.cows
        alert_id = farm_a.alert_ids[0]
        env = {
            **os.environ,
            "PECUS_BASE_URL": api_url,
            "PECUS_EMAIL": farm_a.owner_email,
            "PECUS_PASSWORD": PASSWORD,
            "PECUS_FARM_A": str(farm_a.farm_id),
            "PECUS_FARM_B": str(farm_b.farm_id),
            "PECUS_COW_B": cow_b,
            "PECUS_AT_RISK": str(expected),
            "PECUS_SICK_COW": farm_a.sick[0].animal_id,
            "PECUS_ALERT_ID": str(alert_id),
            "PECUS_ARTIFACTS": str(ARTIFACTS),
        }
        result = subprocess.run(
            [node, "--test", "--test-reporter=spec", "e2e/dashboard.e2e.mjs"],
            cwd=WEB,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        print(result.stdout[-8000:])
        output = f"{result.stdout[-8000:]}\n{result.stderr[-4000:]}"
        assert result.returncode == 0, f"browser tests failed:\n{output}"
        # The acknowledgement the browser made is stored, for the model to learn from.
        assert alert_status(db_url, farm_a.farm_id, alert_id) == "acknowledged"

    shots = sorted(p.name for p in ARTIFACTS.glob("*.png"))
    pages = ("01-sign-in", "02-overview", "03-herd", "04-cow", "05-alerts", "06-settings", "07-overview-it")
    for page in pages:
        assert f"{page}-desktop.png" in shots and f"{page}-phone.png" in shots, page
