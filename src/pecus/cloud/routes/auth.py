"""Sign-in (`/api/v1/auth/*`, local mode) and `GET /api/v1/me`."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from pecus.cloud import dashboard
from pecus.cloud.auth.config import AuthSettings
from pecus.cloud.auth.http import Claims, as_user, current_claims
from pecus.cloud.auth.local import (
    InvalidCredentials,
    InvalidRefreshToken,
    IssuedSession,
    LocalAuth,
    RateLimited,
)
from pecus.cloud.errors import ApiError, ErrorBody
from pecus.cloud.schemas.auth import AuthConfig, AuthUser, LoginRequest, Me, RefreshRequest, TokenResponse

router = APIRouter(prefix="/api/v1", tags=["sign-in"])
local_router = APIRouter(prefix="/api/v1/auth", tags=["sign-in"])


def _errors(*statuses: int) -> dict[int | str, dict[str, object]]:
    return {s: {"model": ErrorBody} for s in statuses}


@router.get("/auth/config", response_model=AuthConfig)
async def auth_config(request: Request) -> AuthConfig:
    """How this deployment signs people in (no token needed)."""
    settings: AuthSettings = request.app.state.auth_settings
    return AuthConfig(mode=settings.mode, supabase_url=settings.supabase_url)


@router.get("/me", response_model=Me, responses=_errors(401, 503))
async def me(request: Request, claims: Claims = Depends(current_claims)) -> Me:
    """The signed-in user and the farms they can see, with their role on each."""
    async with as_user(request, claims) as conn:
        return await dashboard.me(conn, claims)


def _local(request: Request) -> LocalAuth:
    return LocalAuth(request.app.state.pool, request.app.state.auth_settings)


def _token_response(session: IssuedSession) -> TokenResponse:
    return TokenResponse(
        access_token=session.access_token,
        expires_in=session.expires_in,
        expires_at=session.expires_at,
        refresh_token=session.refresh_token,
        user=AuthUser(id=session.user_id, email=session.email),
    )


@local_router.post("/login", response_model=TokenResponse, responses=_errors(401, 422, 429))
async def login(body: LoginRequest, request: Request) -> TokenResponse:
    """Sign in with e-mail and password. Failed attempts are limited per e-mail and per address."""
    client = request.client.host if request.client else None
    try:
        return _token_response(await _local(request).login(body.email, body.password, client))
    except InvalidCredentials as exc:
        raise ApiError(401, "invalid_credentials", str(exc)) from exc
    except RateLimited as exc:
        raise ApiError(
            429, "rate_limited", str(exc), headers={"Retry-After": str(exc.retry_after_s)}
        ) from exc


@local_router.post("/refresh", response_model=TokenResponse, responses=_errors(401, 422))
async def refresh(body: RefreshRequest, request: Request) -> TokenResponse:
    """A new access token and refresh token for a refresh token (which is spent)."""
    try:
        return _token_response(await _local(request).refresh(body.refresh_token))
    except InvalidRefreshToken as exc:
        raise ApiError(401, "invalid_refresh_token", str(exc)) from exc


@local_router.post("/logout", status_code=204, response_class=Response, responses=_errors(422))
async def logout(body: RefreshRequest, request: Request) -> Response:
    """End the session of this refresh token (its access tokens expire on their own, within minutes)."""
    await _local(request).logout(body.refresh_token)
    return Response(status_code=204)
