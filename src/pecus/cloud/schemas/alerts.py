"""Alerts and their status changes (the model's feedback labels), and notification deliveries."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from pecus.cloud.schemas import REQUEST, NoNul, text
from pecus.cloud.schemas.dashboard import AlertLevel, AlertStatus, SessionPoint

AlertKind = Literal["mastitis", "data_feed"]
NewStatus = Literal["acknowledged", "false_positive", "resolved"]


class Alert(BaseModel):
    alert_id: int
    kind: AlertKind = Field(description="`mastitis` for a cow; `data_feed` for a silent milking unit.")
    animal_id: str | None = Field(description="The farm's cow number (null for a data-feed alert).")
    unit: str | None = Field(description="The robot / milking unit.")
    level: AlertLevel
    risk_score: float | None = Field(description="0–1 (null for a data-feed alert).")
    status: AlertStatus
    reasons: list[dict[str, Any]] = Field(description="What moved, as written by the AI engine or the scan.")
    summary: str = Field(description="The reasons in words, e.g. 'rear-left conductivity +34 %'.")
    model_version: str | None
    created_at: datetime
    updated_at: datetime
    status_changed_at: datetime | None
    status_changed_by: uuid.UUID | None = Field(description="Null when the system (risk scan) changed it.")
    note: str | None = Field(description="The note of the latest status change.")


class AlertPage(BaseModel):
    items: list[Alert] = Field(description="Highest risk first, then newest first.")
    total: int = Field(description="Alerts matching the filters, all pages.")
    limit: int
    offset: int


class AlertStatusChange(BaseModel):
    change_id: int
    from_status: AlertStatus
    to_status: AlertStatus
    changed_by: uuid.UUID | None = Field(description="Null when the system (risk scan) changed it.")
    changed_by_email: str | None
    changed_at: datetime
    note: str | None


class AlertDetail(Alert):
    history: list[AlertStatusChange] = Field(description="Every status change, oldest first.")
    sessions: list[SessionPoint] = Field(
        description="The cow's milkings from 7 days before the alert until now (at most 200, oldest first)."
    )


class AlertStatusUpdate(BaseModel):
    """Acknowledge (a real case), dismiss as a false positive, or resolve; with an optional note."""

    model_config = REQUEST

    status: NewStatus
    note: Annotated[str, text(max_length=1000), NoNul] | None = None


class TestSendResult(BaseModel):
    ok: bool
    error: str | None = Field(description="What the channel answered when the message did not go.")
