"""The field accuracy report: how the model (and the baselines) did on the farm's own treated
cases. `GET /api/v1/farms/{farm_id}/accuracy`, `pecus model evaluate --farm …`, the web page.

A case is one cow's clinical-mastitis treatments whose starts lie within 5 days of the previous one
(diagnosis names matched by the farm's `mastitis_patterns`); its onset is the first treatment.
A detector's alert is an episode of one cow (alerting milkings merged while less than 72 h apart).
A detector warned of a case when one of its alerts for that cow was running in the 48 h before
the onset (started at or before the onset, last alerting milking at most 48 h before it); lead
time = onset − start of that alert. An alert with no case onset of the cow from 14 days before
its first milking to 7 days after its last is an alert without case, confirmed false when the
farmer marked it false positive. Details: docs/ai-engine.md, "Field accuracy".
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

Detector = Literal["model", "rules", "mdi"]


class DetectorAccuracy(BaseModel):
    detector: Detector = Field(description="model: its alerts; rules: the rule baseline; mdi: DelPro's MDi.")
    available: bool = Field(
        description="False when it has nothing to judge (mdi: no MDi in the period's milkings; rules: no"
        " quarter conductivity nor MDi); its figures are then 0 or null."
    )
    cases: int = Field(description="Cases with onset in the period that this detector could have warned of.")
    cases_not_judged: int = Field(
        0, description="Cases it could not have warned of (the model: their milkings were synced late)."
    )
    cases_warned: int = Field(description="Cases with an alert running in the 48 h before the onset.")
    sensitivity: float | None = Field(description="cases_warned / cases; null without cases.")
    lead_hours_median: float | None = Field(
        description="Median over warned cases of the hours from the warning alert's start to the onset."
    )
    warned_24h: int = Field(description="Cases warned at least 24 h before the onset.")
    alerts: int = Field(description="Alerts (episodes) whose first milking is in the period.")
    alerts_without_case: int = Field(
        description="Of alerts, those with no case onset from 14 days before to 7 days after them."
    )
    confirmed_false: int = Field(description="Of alerts_without_case, those marked false positive.")
    false_alerts_per_1000_milkings: float | None = Field(
        description="alerts_without_case per 1,000 healthy_milkings; null without milkings."
    )


class CaseWarning(BaseModel):
    detector: Detector
    judged: bool = Field(
        True,
        description="False when the detector could not have warned: the model alerts only on milkings that"
        " reach the cloud within 72 h, so not on the 48 h before a case that was synced later (the backlog"
        " of the first sync, a long outage).",
    )
    first_warned_at: datetime | None = Field(description="Start of the warning alert; null: not warned.")
    lead_hours: float | None = Field(description="Hours from first_warned_at to the onset.")


class FieldCase(BaseModel):
    animal_id: str
    onset: datetime = Field(description="Start of the case's first treatment.")
    treatments: int = Field(description="Treatments collapsed into this case.")
    diagnoses: list[str] = Field(description="The diagnosis names of its treatments, first seen first.")
    warnings: list[CaseWarning] = Field(description="One per detector, in the order of `detectors`.")


class DiagnosisCount(BaseModel):
    diagnosis: str
    treatments: int
    mastitis: bool = Field(description="Whether the farm's patterns count this name as clinical mastitis.")


class FieldAccuracy(BaseModel):
    farm_id: uuid.UUID
    time_zone: str
    from_day: date = Field(description="First local day of the period.")
    to_day: date = Field(description="Last local day of the period (today).")
    milkings: int = Field(description="Milkings of the period.")
    healthy_milkings: int = Field(
        description="Milkings of the period with no case onset from 14 days before to 7 days after them."
    )
    patterns: list[str] = Field(description="The farm's mastitis_patterns the report used.")
    treatments: int = Field(description="Treatments (any diagnosis) started in the period.")
    diagnoses: list[DiagnosisCount] = Field(description="Every diagnosis name seen, most used first.")
    cases: list[FieldCase] = Field(description="Cases with onset in the period, oldest first.")
    detectors: list[DetectorAccuracy] = Field(description="model, rules, mdi: always these three, in order.")
