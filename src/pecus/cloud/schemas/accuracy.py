"""The field accuracy report: how the model (and the baselines) did on the farm's own treated
cases. `GET /api/v1/farms/{farm_id}/accuracy`, `pecus model evaluate --farm …`, the web page.

A case is one cow's clinical-mastitis treatments whose starts lie within 5 days of each other
(diagnosis names matched by the farm's `mastitis_patterns`); its onset is the first treatment.
A detector warned of a case when it alerted for that cow in the window before the onset; an
alert with no case around it is a false alert, confirmed when the farmer marked it false positive.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field

Detector = Literal["model", "rules", "mdi"]


class DetectorAccuracy(BaseModel):
    detector: Detector = Field(description="model: its alerts; rules: the rule baseline; mdi: DelPro's MDi.")
    available: bool = Field(description="False when it has nothing to judge (no MDi in the milkings).")
    cases: int
    cases_warned: int
    sensitivity: float | None = Field(description="cases_warned / cases; null without cases.")
    lead_hours_median: float | None = Field(description="Median hours from the first warning to the onset.")
    warned_24h: int = Field(description="Cases warned at least 24 h before the onset.")
    alerts: int
    alerts_without_case: int
    confirmed_false: int = Field(description="Of alerts_without_case, those marked false positive.")
    false_alerts_per_1000_milkings: float | None


class CaseWarning(BaseModel):
    detector: Detector
    first_warned_at: datetime | None
    lead_hours: float | None


class FieldCase(BaseModel):
    animal_id: str
    onset: datetime = Field(description="Start of the case's first treatment.")
    treatments: int
    diagnoses: list[str]
    warnings: list[CaseWarning]


class DiagnosisCount(BaseModel):
    diagnosis: str
    treatments: int
    mastitis: bool = Field(description="Whether the farm's patterns count this name as clinical mastitis.")


class FieldAccuracy(BaseModel):
    farm_id: uuid.UUID
    time_zone: str
    from_day: date
    to_day: date
    milkings: int
    patterns: list[str]
    treatments: int
    diagnoses: list[DiagnosisCount] = Field(description="Every diagnosis name seen, most used first.")
    cases: list[FieldCase]
    detectors: list[DetectorAccuracy]
