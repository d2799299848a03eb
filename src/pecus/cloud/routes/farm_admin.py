"""Farm administration: settings, notification targets, agent keys, members (changes: owners)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response

from pecus.cloud import farm_admin
from pecus.cloud.auth.http import Claims, as_user, current_claims
from pecus.cloud.errors import ErrorBody
from pecus.cloud.notify.config import NotifySettings
from pecus.cloud.schemas.admin import (
    AgentKey,
    AgentKeyCreate,
    AgentKeyCreated,
    FarmSettings,
    FarmSettingsUpdate,
    Member,
    MemberInvite,
    MemberUpdate,
    NotificationTarget,
    NotificationTargetCreate,
)

router = APIRouter(prefix="/api/v1/farms/{farm_id}", tags=["farm administration"])
ERRORS: dict[int | str, dict[str, object]] = {s: {"model": ErrorBody} for s in (401, 403, 404, 409, 422, 503)}
FarmId = Annotated[uuid.UUID, Path(description="The farm's id.")]


def _user(claims: Claims) -> uuid.UUID:
    return uuid.UUID(claims["sub"])


@router.get("/settings", response_model=FarmSettings, responses=ERRORS)
async def get_settings(
    farm_id: FarmId, request: Request, claims: Claims = Depends(current_claims)
) -> FarmSettings:
    """Thresholds, quiet hours and (for owners) the notification targets, masked."""
    async with as_user(request, claims) as conn:
        return await farm_admin.get_settings(conn, farm_id)


@router.patch("/settings", response_model=FarmSettings, responses=ERRORS)
async def update_settings(
    farm_id: FarmId, body: FarmSettingsUpdate, request: Request, claims: Claims = Depends(current_claims)
) -> FarmSettings:
    """Change the fields sent (owner)."""
    async with as_user(request, claims) as conn:
        return await farm_admin.update_settings(conn, farm_id, body)


@router.post("/notification-targets", status_code=201, response_model=NotificationTarget, responses=ERRORS)
async def add_target(
    farm_id: FarmId,
    body: NotificationTargetCreate,
    request: Request,
    claims: Claims = Depends(current_claims),
) -> NotificationTarget:
    """Add where alerts go, as an apprise URL (owner). The answer shows it masked, as every later one."""
    async with as_user(request, claims) as conn:
        notify: NotifySettings = request.app.state.notify_settings
        return await farm_admin.add_target(
            conn,
            farm_id,
            _user(claims),
            body.label,
            body.url,
            schemes=notify.schemes,
            allow_private=notify.allow_private_hosts,
        )


@router.delete(
    "/notification-targets/{target_id}", status_code=204, response_class=Response, responses=ERRORS
)
async def delete_target(
    farm_id: FarmId, target_id: int, request: Request, claims: Claims = Depends(current_claims)
) -> Response:
    async with as_user(request, claims) as conn:
        await farm_admin.delete_target(conn, farm_id, target_id)
    return Response(status_code=204)


@router.get("/agent-keys", response_model=list[AgentKey], responses=ERRORS)
async def list_keys(
    farm_id: FarmId, request: Request, claims: Claims = Depends(current_claims)
) -> list[AgentKey]:
    """The farm's agent keys, revoked ones included (owner)."""
    async with as_user(request, claims) as conn:
        return await farm_admin.list_keys(conn, farm_id)


@router.post("/agent-keys", status_code=201, response_model=AgentKeyCreated, responses=ERRORS)
async def create_key(
    farm_id: FarmId, body: AgentKeyCreate, request: Request, claims: Claims = Depends(current_claims)
) -> AgentKeyCreated:
    """A new key for the farm agent (owner). `secret` is shown this once."""
    async with as_user(request, claims) as conn:
        return await farm_admin.create_key(conn, farm_id, body.label)


@router.delete("/agent-keys/{key_id}", response_model=AgentKey, responses=ERRORS)
async def revoke_key(
    farm_id: FarmId, key_id: uuid.UUID, request: Request, claims: Claims = Depends(current_claims)
) -> AgentKey:
    """Revoke a key (owner): the agent using it is refused from the next request."""
    async with as_user(request, claims) as conn:
        return await farm_admin.revoke_key(conn, farm_id, key_id)


@router.get("/members", response_model=list[Member], responses=ERRORS)
async def list_members(
    farm_id: FarmId, request: Request, claims: Claims = Depends(current_claims)
) -> list[Member]:
    async with as_user(request, claims) as conn:
        return await farm_admin.list_members(conn, farm_id)


@router.post("/members", status_code=201, response_model=Member, responses=ERRORS)
async def invite_member(
    farm_id: FarmId, body: MemberInvite, request: Request, claims: Claims = Depends(current_claims)
) -> Member:
    """Add an existing account to the farm with a role (owner)."""
    async with as_user(request, claims) as conn:
        return await farm_admin.invite_member(conn, farm_id, body.email, body.role)


@router.patch("/members/{user_id}", response_model=Member, responses=ERRORS)
async def change_role(
    farm_id: FarmId,
    user_id: uuid.UUID,
    body: MemberUpdate,
    request: Request,
    claims: Claims = Depends(current_claims),
) -> Member:
    async with as_user(request, claims) as conn:
        return await farm_admin.change_role(conn, farm_id, user_id, body.role)


@router.delete("/members/{user_id}", status_code=204, response_class=Response, responses=ERRORS)
async def remove_member(
    farm_id: FarmId, user_id: uuid.UUID, request: Request, claims: Claims = Depends(current_claims)
) -> Response:
    async with as_user(request, claims) as conn:
        await farm_admin.remove_member(conn, farm_id, user_id)
    return Response(status_code=204)
