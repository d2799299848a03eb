"""Sign-in and identity."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from pecus.cloud.schemas import REQUEST, NoNul, text

Role = Literal["owner", "farmer", "vet", "viewer"]


class AuthConfig(BaseModel):
    """How the browser signs in: `local` (POST /auth/login) or `supabase` (supabase-js)."""

    mode: Literal["local", "supabase"]
    supabase_url: str | None = Field(None, description="Supabase project URL, in supabase mode only.")


class LoginRequest(BaseModel):
    model_config = REQUEST

    email: Annotated[str, text(3, 320), NoNul]
    password: Annotated[str, text(1, 1024), NoNul]


class RefreshRequest(BaseModel):
    model_config = REQUEST

    refresh_token: Annotated[str, text(1, 512), NoNul]


class AuthUser(BaseModel):
    id: uuid.UUID
    email: str | None


class TokenResponse(BaseModel):
    """A session, shaped like Supabase Auth's: send `Authorization: Bearer <access_token>`;
    before `expires_at`, trade `refresh_token` for a new pair (each refresh token works once)."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int = Field(description="Seconds the access token is valid for.")
    expires_at: int = Field(description="Expiry of the access token, Unix time in seconds.")
    refresh_token: str
    user: AuthUser


class FarmAccess(BaseModel):
    """A farm the user can see and their role there."""

    farm_id: uuid.UUID
    name: str
    time_zone: str = Field(description="IANA zone of the farm, e.g. Europe/Rome.")
    role: Role


class Me(BaseModel):
    user: AuthUser
    farms: list[FarmAccess] = Field(description="Sorted by farm name.")
