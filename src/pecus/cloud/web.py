"""Serves the built dashboard (`web/dist`) from the API's own origin, so the demo is one URL.

GET/HEAD requests outside the API go to the build: a file that exists is sent as is (hashed files
under `/assets/` are cached for a year, they never change), a path without a file extension is a
route of the single-page app (e.g. `/farms/…/cows/1042`) and gets `index.html`, never cached so a
new deploy shows at once. Everything under `/api/` and the API's own documents stay with the API,
so an unknown API path is still the API's JSON 404, never the dashboard's HTML.

It is ASGI middleware rather than a catch-all route so it does not depend on router order.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path, PurePosixPath

from fastapi import FastAPI
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

log = logging.getLogger(__name__)

API_PATHS = ("/api/", "/healthz", "/readyz", "/docs", "/redoc", "/openapi.json")
IMMUTABLE = "public, max-age=31536000, immutable"
NO_CACHE = "no-cache"


def find_dist() -> Path | None:
    """`PECUS_WEB_DIST` if set (empty: serve no dashboard), else `web/dist` of the working directory
    or of the source checkout; None when there is no built dashboard."""
    configured = os.environ.get("PECUS_WEB_DIST")
    if configured is not None:
        candidates = [Path(configured)] if configured.strip() else []
    else:
        candidates = [Path.cwd() / "web" / "dist", Path(__file__).resolve().parents[3] / "web" / "dist"]
    for candidate in candidates:
        if (candidate / "index.html").is_file():
            return candidate.resolve()
    return None


def is_api_path(path: str) -> bool:
    return path == "/api" or any(path == p.rstrip("/") or path.startswith(p) for p in API_PATHS)


class DashboardFiles:
    """ASGI middleware: the dashboard's files and SPA fallback in front of the API."""

    def __init__(self, app: ASGIApp, dist: Path) -> None:
        self.app = app
        self.dist = dist.resolve()
        self.index = self.dist / "index.html"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD") or is_api_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        response = self.respond(scope["path"])
        await response(scope, receive, send)

    def respond(self, path: str) -> Response:
        relative = PurePosixPath(path.lstrip("/"))
        if ".." in relative.parts:
            return PlainTextResponse("Not Found", status_code=404)
        if relative.parts:
            candidate = (self.dist / relative).resolve()
            if candidate.is_file() and candidate.is_relative_to(self.dist):
                cache = IMMUTABLE if relative.parts[0] == "assets" else NO_CACHE
                return FileResponse(candidate, headers={"Cache-Control": cache})
            if relative.suffix:
                # A missing file (an old hashed chunk, a typo): a 404, not the app's HTML as JavaScript.
                return PlainTextResponse("Not Found", status_code=404)
        return FileResponse(self.index, headers={"Cache-Control": NO_CACHE})


def mount_dashboard(app: FastAPI, dist: Path | None = None) -> Path | None:
    """Serve the built dashboard from `app` when there is one; returns the directory served."""
    dist = dist or find_dist()
    if dist is None:
        log.info("no built dashboard found (npm run build in web/, or PECUS_WEB_DIST): serving the API only")
        return None
    app.add_middleware(DashboardFiles, dist=dist)
    log.info("serving the dashboard from %s", dist)
    return dist
