"""Response and request models of the dashboard API (`/api/v1`), the contract with the web app.

`auth` — sign-in (local mode) and who am I; `dashboard` — overview, herd list, cow series;
`admin` — farm settings, notification targets, agent keys, members (owner only for changes).
Units are in each field's description; times are UTC ISO-8601, days are the farm's local dates.
Every error is `{"error": {"code", "message", "details"}}` (see docs/api.md).
"""

from __future__ import annotations

from typing import Any

from pydantic import AfterValidator, ConfigDict, Field

NO_NUL = r"^[^\x00]*$"
"""PostgreSQL text cannot hold NUL: refused at the door with a clear message, not deep in SQL."""

REQUEST = ConfigDict(extra="forbid")
"""Requests name only known fields: a misspelt setting is an error, not silently ignored."""


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


NoNul = AfterValidator(_no_nul)


def text(min_length: int = 0, max_length: int = 200, description: str | None = None) -> Any:
    """Bounds of a request's text field; put `NoNul` beside it."""
    return Field(min_length=min_length, max_length=max_length, description=description)
