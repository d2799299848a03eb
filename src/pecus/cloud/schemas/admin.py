"""Farm settings, notification targets, agent keys and members. Reading: every member (agent keys:
owners); changing: owners only."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field, StringConstraints, ValidationInfo, field_validator

from pecus.cloud.schemas import REQUEST, NoNul, text
from pecus.cloud.schemas.auth import Role

Threshold = Annotated[float, Field(ge=0.01, le=0.99, description="A risk score, 0.01–0.99.")]


def _local_time(value: time | None) -> time | None:
    if value is not None and value.tzinfo is not None:
        raise ValueError("quiet hours are the farm's local time: give no UTC offset")
    return value


LocalTime = Annotated[time | None, AfterValidator(_local_time)]

# A word of the farm's diagnosis names meaning clinical mastitis (matched as a case- and
# accent-insensitive substring): blanks around it are dropped, one letter would match too much.
MastitisPattern = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=60), NoNul]


class NotificationTarget(BaseModel):
    """Where alerts go, as an apprise URL. The secret parts are masked; the full URL never leaves
    the server."""

    target_id: int
    label: str
    scheme: str = Field(description="apprise scheme: twilio, tgram, mailto, ntfy, json, …")
    masked_url: str
    created_at: datetime


class NotificationTargetCreate(BaseModel):
    model_config = REQUEST

    label: Annotated[str, text(0, 100), NoNul] = ""
    url: Annotated[str, text(4, 2048, "An apprise URL."), NoNul]


class FarmSettings(BaseModel):
    farm_id: uuid.UUID
    name: str
    time_zone: str
    alert_threshold: float | None = Field(description="0–1; null uses the model's default.")
    critical_threshold: float | None = Field(description="0–1; alerts at or above are critical.")
    quiet_hours_start: time | None = Field(description="Local time; non-critical alerts wait.")
    quiet_hours_end: time | None
    stale_after_minutes: int
    digest_hours: int | None = Field(
        description="Non-critical alerts go out as one digest every this many hours; null: one by one."
    )
    mastitis_patterns: list[str] = Field(
        description="Diagnosis names containing one of these (any case, any accents) are clinical mastitis."
    )
    notification_targets: list[NotificationTarget]


class FarmSettingsUpdate(BaseModel):
    """Only the fields sent are changed; send null to clear a threshold or the quiet hours."""

    model_config = REQUEST

    name: Annotated[str, text(1, 200), NoNul] | None = None
    alert_threshold: Threshold | None = None
    critical_threshold: Threshold | None = None
    quiet_hours_start: LocalTime = None
    quiet_hours_end: LocalTime = None
    stale_after_minutes: Annotated[int, Field(gt=0, le=10_080)] | None = None
    digest_hours: Annotated[int, Field(ge=1, le=168)] | None = None
    mastitis_patterns: Annotated[list[MastitisPattern], Field(min_length=1, max_length=50)] | None = None

    @field_validator("name", "stale_after_minutes", "mastitis_patterns")
    @classmethod
    def _not_null(cls, value: object, info: ValidationInfo) -> object:
        # Runs only on values sent: an explicit null, not a field left out.
        if value is None:
            raise ValueError(f"{info.field_name} cannot be cleared (null); leave it out to keep it")
        return value


class AgentKey(BaseModel):
    key_id: uuid.UUID
    label: str
    key_prefix: str = Field(description="The first characters of the key, to recognise it.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class AgentKeyCreate(BaseModel):
    model_config = REQUEST

    label: Annotated[str, text(0, 100), NoNul] = ""


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

    model_config = REQUEST

    email: Annotated[str, text(3, 320), NoNul]
    role: Role


class MemberUpdate(BaseModel):
    model_config = REQUEST

    role: Role
