"""Alerts for the dashboard: the list, one alert, its status changes; and the notification targets'
list and test message. Another farm's alert or target is 404, never 403, so ids do not leak."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import AwareDatetime

from pecus.cloud import alerts
from pecus.cloud.auth.http import Claims, as_user, current_claims
from pecus.cloud.errors import ErrorBody
from pecus.cloud.notify import targets
from pecus.cloud.notify.config import NotifySettings
from pecus.cloud.schemas import NO_NUL
from pecus.cloud.schemas.admin import NotificationTarget
from pecus.cloud.schemas.alerts import (
    Alert,
    AlertDetail,
    AlertKind,
    AlertPage,
    AlertStatusUpdate,
    TestSendResult,
)
from pecus.cloud.schemas.dashboard import AlertStatus

router = APIRouter(prefix="/api/v1/farms/{farm_id}", tags=["alerts"])
ERRORS: dict[int | str, dict[str, object]] = {s: {"model": ErrorBody} for s in (401, 403, 404, 409, 422, 503)}
FarmId = Annotated[uuid.UUID, Path(description="The farm's id.")]
AlertId = Annotated[int, Path(ge=1, lt=2**63, description="The alert's id.")]


@router.get("/alerts", response_model=AlertPage, responses=ERRORS)
async def list_alerts(
    farm_id: FarmId,
    request: Request,
    claims: Claims = Depends(current_claims),
    status: list[AlertStatus] | None = Query(None, description="Any of these (repeat the parameter)."),
    unit: str | None = Query(None, max_length=64, pattern=NO_NUL, description="Robot / milking unit."),
    kind: AlertKind | None = Query(None),
    animal: str | None = Query(None, max_length=64, pattern=NO_NUL, description="The farm's cow number."),
    since: AwareDatetime | None = Query(None, description="Raised at or after (ISO-8601 with offset)."),
    until: AwareDatetime | None = Query(None, description="Raised before (ISO-8601 with offset)."),
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0, le=1_000_000),
) -> AlertPage:
    """The farm's alerts, highest risk first, then newest (any member)."""
    query = alerts.AlertFilter(status or (), unit, kind, animal, since, until, limit, offset)
    async with as_user(request, claims) as conn:
        return await alerts.list_alerts(conn, farm_id, query)


@router.get("/alerts/{alert_id}", response_model=AlertDetail, responses=ERRORS)
async def get_alert(
    farm_id: FarmId, alert_id: AlertId, request: Request, claims: Claims = Depends(current_claims)
) -> AlertDetail:
    """One alert with its reasons, its status history and the cow's recent milkings (any member)."""
    async with as_user(request, claims) as conn:
        return await alerts.get_alert(conn, farm_id, alert_id)


@router.patch("/alerts/{alert_id}", response_model=Alert, responses=ERRORS)
async def change_status(
    farm_id: FarmId,
    alert_id: AlertId,
    body: AlertStatusUpdate,
    request: Request,
    claims: Claims = Depends(current_claims),
) -> Alert:
    """Acknowledge, dismiss as a false positive, or resolve (owner, farmer, vet; not viewer).
    Every change is kept as a label for the model; the same status again changes nothing."""
    async with as_user(request, claims) as conn:
        return await alerts.change_status(conn, farm_id, alert_id, body.status, body.note)


@router.get("/notification-targets", response_model=list[NotificationTarget], responses=ERRORS)
async def list_targets(
    farm_id: FarmId, request: Request, claims: Claims = Depends(current_claims)
) -> list[NotificationTarget]:
    """Where the farm's alerts go, secrets masked (owner)."""
    async with as_user(request, claims) as conn:
        return await targets.list_targets(conn, farm_id)


@router.post("/notification-targets/{target_id}/test", response_model=TestSendResult, responses=ERRORS)
async def test_target(
    farm_id: FarmId,
    target_id: Annotated[int, Path(ge=1, lt=2**63)],
    request: Request,
    claims: Claims = Depends(current_claims),
) -> TestSendResult:
    """Send a test message to one target now and say whether the channel took it (owner)."""
    async with as_user(request, claims) as conn:
        farm_name = await targets.owned_target(conn, farm_id, target_id)
    settings: NotifySettings = request.app.state.notify_settings
    return await targets.send_test(request.app.state.pool, farm_id, farm_name, target_id, settings.public_url)
