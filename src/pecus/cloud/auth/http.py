"""The user side of the API's authentication: the bearer-token dependency and the transaction
every user request runs in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg import AsyncConnection

from pecus.cloud.auth.verify import AuthUnavailable, InvalidToken, TokenVerifier
from pecus.cloud.errors import ApiError
from pecus.cloud.tenancy import user_transaction

bearer = HTTPBearer(
    auto_error=False, description="A user's access token (Supabase Auth's, or /auth/login's)."
)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}

Claims = dict[str, Any]


async def current_claims(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)
) -> Claims:
    """The verified claims of the caller's access token, or 401 (503 when the keys are unreachable)."""
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise ApiError(
            401, "missing_token", "sign in first: Authorization: Bearer <access token>", headers=_CHALLENGE
        )
    verifier: TokenVerifier = request.app.state.token_verifier
    try:
        return await verifier.verify(credentials.credentials)
    except InvalidToken as exc:
        raise ApiError(401, "invalid_token", str(exc), headers=_CHALLENGE) from exc
    except AuthUnavailable as exc:
        raise ApiError(
            503, "auth_unavailable", "the sign-in service cannot be reached; try again shortly"
        ) from exc


@asynccontextmanager
async def as_user(request: Request, claims: Claims) -> AsyncIterator[AsyncConnection[Any]]:
    """The request's database work, under row-level security as the signed-in user."""
    async with user_transaction(request.app.state.pool, claims) as conn:
        yield conn
