"""The dashboard's read endpoints: `/api/v1/farms/{farm_id}/overview`, `/cows`, `/cows/{animal}/series`,
`/accuracy`.

A farm or cow the caller cannot see is 404, never 403, so ids of other farms do not leak."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Request

from pecus.ai import field_accuracy
from pecus.cloud import dashboard
from pecus.cloud.auth.http import Claims, as_user, current_claims
from pecus.cloud.dashboard import CowQuery
from pecus.cloud.errors import ApiError, ErrorBody
from pecus.cloud.schemas import NO_NUL
from pecus.cloud.schemas.accuracy import FieldAccuracy
from pecus.cloud.schemas.dashboard import CowPage, CowSeries, CowSort, FarmOverview

router = APIRouter(prefix="/api/v1/farms/{farm_id}", tags=["dashboard"])
T = TypeVar("T")
ERRORS: dict[int | str, dict[str, object]] = {s: {"model": ErrorBody} for s in (401, 404, 422, 503)}
FarmId = Annotated[uuid.UUID, Path(description="The farm's id.")]
AnimalId = Annotated[
    str, Path(min_length=1, max_length=64, pattern=NO_NUL, description="The farm's cow number.")
]


def _found(value: T | None, what: str = "farm") -> T:
    if value is None:
        raise ApiError(404, "not_found", f"no such {what}")
    return value


@router.get("/overview", response_model=FarmOverview, responses=ERRORS)
async def overview(
    farm_id: FarmId, request: Request, claims: Claims = Depends(current_claims)
) -> FarmOverview:
    """Today's numbers of the farm."""
    async with as_user(request, claims) as conn:
        return _found(await dashboard.overview(conn, farm_id))


@router.get("/cows", response_model=CowPage, responses=ERRORS)
async def cows(
    farm_id: FarmId,
    request: Request,
    claims: Claims = Depends(current_claims),
    sort: CowSort = "risk",
    order: Literal["asc", "desc"] | None = Query(None, description="Default: desc for risk, asc otherwise."),
    at_risk: bool | None = Query(None, description="Only cows with (true) or without (false) an open alert."),
    unit: str | None = Query(None, max_length=64, pattern=NO_NUL, description="Robot of the latest milking."),
    lactation: int | None = Query(None, ge=1, le=20, description="Lactation number."),
    q: str | None = Query(None, max_length=64, pattern=NO_NUL, description="Cow number contains this."),
    limit: int = Query(50, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> CowPage:
    """The herd list, one row per cow."""
    query = CowQuery(sort, order, at_risk, unit, lactation, q, limit, offset)
    async with as_user(request, claims) as conn:
        return _found(await dashboard.cows(conn, farm_id, query))


@router.get("/cows/{animal_id}/series", response_model=CowSeries, responses=ERRORS)
async def series(
    farm_id: FarmId,
    animal_id: AnimalId,
    request: Request,
    claims: Claims = Depends(current_claims),
    days: int = Query(30, ge=1, le=400, description="Local days back, today included."),
) -> CowSeries:
    """One cow's milkings, her days and the herd's average day, and her alerts: the cow page's charts."""
    async with as_user(request, claims) as conn:
        return _found(await dashboard.series(conn, farm_id, animal_id, days), "cow")


@router.get("/accuracy", response_model=FieldAccuracy, responses=ERRORS)
async def accuracy(
    farm_id: FarmId,
    request: Request,
    claims: Claims = Depends(current_claims),
    days: int = Query(
        field_accuracy.DEFAULT_DAYS,
        ge=1,
        le=field_accuracy.MAX_DAYS,
        description="Local days back, today included.",
    ),
) -> FieldAccuracy:
    """The field accuracy report: the model, the rule baseline and DelPro's MDi on the farm's own
    treated mastitis cases (definitions: docs/ai-engine.md, "Field accuracy")."""
    async with as_user(request, claims) as conn:
        return _found(await field_accuracy.field_accuracy(conn, farm_id, days))
