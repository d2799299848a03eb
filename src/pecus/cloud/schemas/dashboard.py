"""Herd overview, herd list and one cow's chart series.

Units: yields kg, conductivity mS/cm, blood ppm, flow kg/min, durations s, risk 0–1.
A value is null when no sensor reported it (never 0 for "missing")."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

AlertLevel = Literal["warning", "critical"]
AlertStatus = Literal["new", "acknowledged", "false_positive", "resolved"]
OPEN_STATUSES: tuple[AlertStatus, ...] = ("new", "acknowledged")


class OpenAlert(BaseModel):
    """A cow's open mastitis alert (status new or acknowledged)."""

    alert_id: int
    level: AlertLevel
    risk_score: float | None = Field(description="0–1, the model's score that raised the alert.")
    status: AlertStatus
    created_at: datetime = Field(description="Since when the cow is at risk.")
    reasons: list[dict[str, Any]] = Field(
        description="What moved, as written by the AI engine (e.g. signal, change_pct, baseline, value)."
    )


class AtRiskCow(BaseModel):
    animal_id: str = Field(description="The farm's cow number.")
    unit: str | None = Field(description="Robot of the alert.")
    alert: OpenAlert


class AlertCounts(BaseModel):
    warning: int = 0
    critical: int = 0


class LastSync(BaseModel):
    """The newest agent upload of a source."""

    started_at: datetime
    finished_at: datetime | None
    result: Literal["ok", "rejected", "error"]
    rows_received: int
    rows_inserted: int
    error: str | None
    agent_version: str | None
    agent_host: str | None


class SourceFreshness(BaseModel):
    source_id: int
    name: str
    last_ingest_at: datetime | None = Field(description="Last time a batch from this source was stored.")
    last_sync: LastSync | None
    stale: bool = Field(description="No upload for longer than the farm's stale_after_minutes.")


class UnitFreshness(BaseModel):
    unit: str = Field(description="Robot / milking unit name as DelPro reports it.")
    source_id: int
    last_session_at: datetime | None = Field(description="Start of the newest milking on this unit.")
    minutes_since_last_session: int | None
    stale: bool = Field(description="No milking for longer than the farm's stale_after_minutes.")


class FarmOverview(BaseModel):
    """Today's numbers for one farm (windows are rolling, ending at `generated_at`)."""

    farm_id: uuid.UUID
    name: str
    time_zone: str
    generated_at: datetime
    cows_milked_24h: int = Field(description="Distinct cows with a milking in the last 24 h.")
    cows_at_risk: int = Field(description="Distinct cows with an open mastitis alert.")
    open_alerts: AlertCounts = Field(description="Open mastitis alerts by level.")
    at_risk: list[AtRiskCow] = Field(description="Cows with an open alert, highest risk first (≤ 100).")
    new_alerts_24h: int = Field(description="Alerts (any kind) created in the last 24 h.")
    yield_today_kg: float = Field(description="Herd milk since local midnight, kg.")
    yield_24h_kg: float = Field(description="Herd milk in the last 24 h, kg.")
    yield_7d_avg_kg: float | None = Field(
        description="Average herd milk per 24 h over the 7 days before the last 24 h, kg; null without data."
    )
    conductivity_avg_24h: float | None = Field(description="Mean session conductivity, last 24 h, mS/cm.")
    conductivity_avg_7d: float | None = Field(
        description="Mean session conductivity over the 7 days before the last 24 h, mS/cm."
    )
    stale_after_minutes: int = Field(description="Silence after which a unit or source counts as stale.")
    units: list[UnitFreshness]
    sources: list[SourceFreshness]


class CowSummary(BaseModel):
    """One row of the herd list."""

    animal_id: str
    unit: str | None = Field(description="Robot of the latest milking.")
    lactation_number: int | None
    days_in_milk: int | None = Field(description="At the latest milking.")
    last_session_at: datetime | None
    last_yield_kg: float | None
    last_conductivity_avg: float | None = Field(description="mS/cm, latest milking.")
    yield_24h_kg: float = Field(description="Sum over the last 24 h, kg (0 when not milked).")
    milkings_24h: int
    risk_score: float | None = Field(description="0–1, the cow's latest score (null when never scored).")
    open_alert: OpenAlert | None


CowSort = Literal["animal", "risk", "yield_24h", "last_session", "conductivity"]


class CowPage(BaseModel):
    items: list[CowSummary]
    total: int = Field(description="Cows matching the filters, all pages.")
    limit: int
    offset: int


class SessionPoint(BaseModel):
    """One milking of the cow."""

    source_id: int
    transaction_id: int
    started_at: datetime
    ended_at: datetime
    unit: str
    yield_kg: float
    expected_yield_kg: float | None
    conductivity_avg: float | None
    conductivity_max: float | None
    conductivity_lf: float | None
    conductivity_rf: float | None
    conductivity_lr: float | None
    conductivity_rr: float | None
    yield_lf: float | None
    yield_rf: float | None
    yield_lr: float | None
    yield_rr: float | None
    blood_avg: float | None
    blood_max: float | None
    flow_avg: float | None
    flow_peak: float | None
    duration_s: int | None
    cell_count: int | None = Field(description="×1 000 cells/mL.")
    mdi: float | None
    incomplete: bool | None
    kickoff: bool | None
    lactation_number: int | None
    days_in_milk: int | None
    risk_score: float | None = Field(description="0–1, the model's score of this milking (null: unscored).")


class DayMetrics(BaseModel):
    """Per-day values. For a cow: her day. For the herd: the average cow's day.
    `yield_kg` is milk per cow per day; the others are means over the day's milkings."""

    day: date = Field(description="Local date in the farm's time zone.")
    milkings: float = Field(description="Milkings (herd: per cow).")
    yield_kg: float = Field(description="kg per day (herd: per milked cow).")
    conductivity_avg: float | None
    conductivity_lf: float | None
    conductivity_rf: float | None
    conductivity_lr: float | None
    conductivity_rr: float | None
    blood_avg: float | None
    flow_avg: float | None


class CowDay(DayMetrics):
    risk_score_max: float | None = Field(description="Highest session score of the day.")


class HerdDay(DayMetrics):
    cows: int = Field(description="Cows milked that day.")


class AlertMarker(BaseModel):
    alert_id: int
    created_at: datetime
    level: AlertLevel
    risk_score: float | None
    status: AlertStatus
    reasons: list[dict[str, Any]]


class CowSeries(BaseModel):
    """The chart data of one cow over the last `days` local days (today included)."""

    farm_id: uuid.UUID
    animal_id: str
    time_zone: str
    days: int
    from_day: date = Field(description="First local day of the window.")
    to_day: date = Field(description="Today, local.")
    cow: CowSummary
    sessions: list[SessionPoint] = Field(description="Oldest first.")
    cow_days: list[CowDay] = Field(description="Days with at least one milking, oldest first.")
    herd_days: list[HerdDay] = Field(description="Herd average per day, same metrics, oldest first.")
    alerts: list[AlertMarker] = Field(description="The cow's mastitis alerts created in the window.")
