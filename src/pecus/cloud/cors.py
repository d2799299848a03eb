"""Cross-origin access for the dashboard when it is served from another origin than the API (the
Render static site). `PECUS_CORS_ORIGINS`: comma-separated origins, e.g.
`https://dashboard.pecus.example`; unset = same origin only. Tokens travel in the Authorization
header, never in cookies, so credentials stay off."""

from __future__ import annotations

import os
from collections.abc import Mapping

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware


def cors_origins(env: Mapping[str, str] | None = None) -> list[str]:
    raw = (os.environ if env is None else env).get("PECUS_CORS_ORIGINS", "")
    return [o.strip().rstrip("/") for o in raw.split(",") if o.strip()]


def install_cors(app: FastAPI, origins: list[str]) -> None:
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
