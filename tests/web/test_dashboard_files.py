"""The API serves the built dashboard on its own origin: files, SPA fallback, caching, and the API
paths left alone. Real HTTP against a real app on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pecus.cloud.app import create_app
from pecus.cloud.web import find_dist, is_api_path
from tests.support.api import serving

INDEX = "<!doctype html><title>Pecus</title><div id=root></div>"


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text(INDEX)
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log('pecus')")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    (tmp_path.parent / "secret.txt").write_text("not for the web")
    return tmp_path


@pytest.fixture
def base_url(db_url: str, dist: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("PECUS_WEB_DIST", str(dist))
    with serving(create_app(db_url)) as url:
        yield url


def test_routes_of_the_app_get_index_html_uncached(base_url: str) -> None:
    for path in ("/", "/login", "/farms/5e1f/cows/1042", "/farms/5e1f/alerts?status=new"):
        response = httpx.get(base_url + path)
        assert response.status_code == 200, path
        assert response.text == INDEX
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-cache"


def test_hashed_assets_are_cached_for_a_year_and_other_files_revalidated(base_url: str) -> None:
    asset = httpx.get(base_url + "/assets/index-abc123.js")
    assert asset.status_code == 200
    assert asset.text == "console.log('pecus')"
    assert "javascript" in asset.headers["content-type"]
    assert asset.headers["cache-control"] == "public, max-age=31536000, immutable"
    icon = httpx.get(base_url + "/favicon.svg")
    assert icon.status_code == 200
    assert icon.headers["cache-control"] == "no-cache"


def test_a_missing_file_is_404_not_the_app(base_url: str) -> None:
    response = httpx.get(base_url + "/assets/index-old999.js")
    assert response.status_code == 404
    assert INDEX not in response.text


def test_nothing_outside_the_build_is_served(base_url: str) -> None:
    with httpx.Client(base_url=base_url) as client:
        for raw in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt"):
            request = client.build_request("GET", raw)
            request.url = request.url.copy_with(raw_path=raw.encode())
            response = client.send(request)
            assert "not for the web" not in response.text, raw


def test_api_paths_stay_with_the_api(base_url: str) -> None:
    assert httpx.get(base_url + "/healthz").status_code == 200
    unknown = httpx.get(base_url + "/api/v1/no-such-endpoint")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/json")
    assert unknown.json()["error"]["code"] == "not_found"
    assert httpx.get(base_url + "/openapi.json").json()["info"]["title"] == "Pecus Chain API"
    # Only GET/HEAD are the dashboard's: anything else is the API's answer.
    assert httpx.post(base_url + "/farms/x").headers["content-type"].startswith("application/json")


def test_api_path_prefixes() -> None:
    assert is_api_path("/api/v1/me")
    assert is_api_path("/api")
    assert is_api_path("/healthz")
    assert not is_api_path("/apiary")
    assert not is_api_path("/farms/1/alerts")


def test_find_dist_honours_the_setting(dist: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PECUS_WEB_DIST", str(dist))
    assert find_dist() == dist.resolve()
    monkeypatch.setenv("PECUS_WEB_DIST", "")
    assert find_dist() is None
    monkeypatch.setenv("PECUS_WEB_DIST", str(tmp_path / "nowhere"))
    assert find_dist() is None
