"""Farm settings, notification targets, agent keys and members. Reading: every member (agent keys:
owners); changing: owners only."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Annotated

from pydantic import BaseModel, Field

from pecus.cloud.schemas.auth import Role

Threshold = Annotated[float, Field(gt=0, lt=1)]


class NotificationTarget(BaseModel):
    """Where alerts go, as an apprise URL. The secret parts are masked; the full URL never leaves
    the server."""

    target_id: int
    label: str
    scheme: str = Field(description="apprise scheme: twilio, tgram, mailto, ntfy, json, …")
    masked_url: str
    created_at: datetime


class NotificationTargetCreate(BaseModel):
    label: Annotated[str, Field(max_length=100)] = ""
    url: Annotated[str, Field(min_length=4, max_length=2048, description="An apprise URL.")]


class FarmSettings(BaseModel):
    farm_id: uuid.UUID
    name: str
    time_zone: str
    alert_threshold: float | None = Field(description="0–1; null uses the model's default.")
    critical_threshold: float | None = Field(description="0–1; alerts at or above are critical.")
    quiet_hours_start: time | None = Field(description="Local time; non-critical alerts wait.")
    quiet_hours_end: time | None
    stale_after_minutes: int
    notification_targets: list[NotificationTarget]


class FarmSettingsUpdate(BaseModel):
    """Only the fields sent are changed; send null to clear a threshold or the quiet hours."""

    name: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    alert_threshold: Threshold | None = None
    critical_threshold: Threshold | None = None
    quiet_hours_start: time | None = None
    quiet_hours_end: time | None = None
    stale_after_minutes: Annotated[int, Field(gt=0, le=10_080)] | None = None


class AgentKey(BaseModel):
    key_id: uuid.UUID
    label: str
    key_prefix: str = Field(description="The first characters of the key, to recognise it.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class AgentKeyCreate(BaseModel):
    label: Annotated[str, Field(max_length=100)] = ""


class AgentKeyCreated(AgentKey):
    """Returned once, at creation: `secret` is not stored and cannot be shown again."""

    secret: str


class Member(BaseModel):
    user_id: uuid.UUID
    email: str | None
    role: Role
    created_at: datetime


class MemberInvite(BaseModel):
    """Adds an existing account (by e-mail) to the farm."""

    email: Annotated[str, Field(min_length=3, max_length=320)]
    role: Role


class MemberUpdate(BaseModel):
    role: Role
