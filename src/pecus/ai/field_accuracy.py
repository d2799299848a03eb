"""The field accuracy report: how the model, the rule baseline and DelPro's MDi did on one farm's
own treated cases over a period (default the last 90 local days, today included).

Definitions (the simulated evaluation's, `pecus.ai.evaluate` / `pecus.ai.dataset`, where one exists):
  * case: the farm's clinical mastitis treatments collapsed per cow (`pecus.ai.cases`); onset =
    its first treatment's start. Cases with onset in the period are reported.
  * a detector's alert: an episode of alerting milkings of one cow, a new one when 72 h passed
    since the last (`EPISODE_H`, as live alerts and the simulated evaluation merge them). The
    model's alerts are its rows in `alerts` (kind mastitis): from the earlier of the alert's
    creation and its milking to its `last_observed_at`. Rules: a milking whose rule score
    (`pecus.ai.rules`) is >= 1.0, the robots' default alarms. MDi: a milking with MDi >= 1.4.
  * warned: an alert of the cow was running in the 48 h before the onset (`WINDOW_H`, the
    evaluation's window: it started at or before the onset and its last alerting milking is at
    most 48 h before it). Lead time = onset - start of the earliest such alert, so it can exceed
    48 h when the alert began earlier (the simulated evaluation counts from the window only).
  * alert without case: no case onset of the cow from 14 days before the alert's first milking to
    7 days after its last (the evaluation's "healthy" sessions: `CASE_AFTER_H`, `CASE_BEFORE_H`).
    Confirmed false: the farmer's verdict on it is false_positive (`feedback.ALERT_LABEL`). An
    alert of the last 7 days may still turn out to precede a case.
  * false alerts per 1,000 milkings: alerts without case per 1,000 healthy milkings of the period
    (no case onset from 14 days before to 7 days after the milking), as in the evaluation.
  * judged: the model raises alerts only on milkings that reach the cloud within 72 h of their
    start (`live.ALERT_MAX_AGE`): a backlog synced later is scored but never alerts. So a case
    counts for the model only when a milking of the cow from the 48 h before its onset arrived
    in time (or the model warned anyway); the others are `cases_not_judged`, and the rules and
    MDi, computed afresh from the milkings, judge every case.
Alerts are counted when their first milking is in the period.
"""

from __future__ import annotations

import asyncio
import statistics
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from psycopg import AsyncConnection
from psycopg.rows import dict_row

from pecus.ai.cases import Case, Treatment, collapse, matches
from pecus.ai.dataset import CASE_AFTER_H, CASE_BEFORE_H, WINDOW_H
from pecus.ai.evaluate import EPISODE_H
from pecus.ai.features import compute_features
from pecus.ai.feedback import ALERT_LABEL
from pecus.ai.live import ALERT_MAX_AGE
from pecus.ai.rules import DEFAULT_THRESHOLD, MDI_ALARM, rule_score
from pecus.cloud.schemas.accuracy import (
    CaseWarning,
    Detector,
    DetectorAccuracy,
    DiagnosisCount,
    FieldAccuracy,
    FieldCase,
)

DEFAULT_DAYS = 90
MAX_DAYS = 730
WINDOW = timedelta(hours=WINDOW_H)
EPISODE = timedelta(hours=EPISODE_H)
CASE_BEFORE = timedelta(hours=CASE_BEFORE_H)
CASE_AFTER = timedelta(hours=CASE_AFTER_H)
# Treatments this long before the period are read too: a case whose first treatment lies before
# the period is not the period's, and cases shortly before it decide whether early alerts are false.
_LOOKBACK = timedelta(days=60)


@dataclass(frozen=True)
class Alert:
    """One alert (episode) of a detector for a cow: its first and last alerting milking."""

    animal_id: str
    first_at: datetime
    last_at: datetime
    confirmed_false: bool = False


@dataclass(frozen=True)
class Period:
    from_day: date
    to_day: date
    start: datetime  # from_day's local midnight
    end: datetime  # now

    @staticmethod
    def last_days(days: int, zone: ZoneInfo, now: datetime) -> Period:
        today = now.astimezone(zone).date()
        first = today - timedelta(days=days - 1)
        return Period(first, today, datetime.combine(first, time(), zone), now)

    def __contains__(self, t: datetime) -> bool:
        return self.start <= t <= self.end


@dataclass(frozen=True)
class FarmData:
    """What the report is computed from (the loader's result; tests may build it by hand)."""

    farm_id: uuid.UUID
    time_zone: str
    patterns: list[str]
    period: Period
    treatments: list[Treatment]
    model_alerts: list[Alert]
    sessions: (
        pd.DataFrame
    )  # milkings from 14 days before the period: animal_id, started_at, live, rule inputs


def milking_alerts(animal: np.ndarray, started: pd.Series, alerting: np.ndarray) -> list[Alert]:
    """Alerting milkings merged per cow into alerts: a new one when 72 h passed since the last."""
    frame = pd.DataFrame({"animal": animal[alerting], "t": started[alerting].to_numpy()})
    out: list[Alert] = []
    for cow, group in frame.sort_values(["animal", "t"]).groupby("animal", sort=False):
        times = [pd.Timestamp(t).to_pydatetime() for t in group["t"]]
        first = last = times[0]
        for t in times[1:]:
            if t - last > EPISODE:
                out.append(Alert(str(cow), first, last))
                first = t
            last = t
        out.append(Alert(str(cow), first, last))
    return out


def _warned_at(case: Case, alerts: Iterable[Alert]) -> datetime | None:
    """Start of the earliest alert of the cow running in the 48 h before the onset."""
    starts = [
        a.first_at
        for a in alerts
        if a.animal_id == case.animal_id and a.first_at <= case.onset and a.last_at >= case.onset - WINDOW
    ]
    return min(starts, default=None)


def _has_case(alert: Alert, onsets: dict[str, list[datetime]]) -> bool:
    return any(
        alert.first_at - CASE_AFTER <= o <= alert.last_at + CASE_BEFORE
        for o in onsets.get(alert.animal_id, [])
    )


def _healthy_milkings(animal: np.ndarray, started: pd.Series, onsets: dict[str, list[datetime]]) -> int:
    """Milkings with no case onset of their cow from 14 days before to 7 days after them."""
    healthy = np.ones(len(started), bool)
    for cow, times in onsets.items():
        mine = animal == cow
        for onset in times:
            near = ((started >= onset - CASE_BEFORE) & (started <= onset + CASE_AFTER)).to_numpy()
            healthy &= ~(mine & near)
    return int(healthy.sum())


def _watched(case: Case, animal: np.ndarray, started: pd.Series, live: np.ndarray) -> bool:
    """Whether a milking of the cow from the 48 h before the onset reached the cloud in time to alert."""
    near = ((started >= case.onset - WINDOW) & (started <= case.onset)).to_numpy()
    return bool((near & live & (animal == case.animal_id)).any())


def judge(
    detector: Detector,
    alerts: Sequence[Alert],
    cases: Sequence[Case],
    all_cases: Sequence[Case],
    period: Period,
    healthy_milkings: int,
    *,
    available: bool = True,
    watched: Sequence[bool] | None = None,
) -> tuple[DetectorAccuracy, list[CaseWarning]]:
    """One detector's figures on the period's `cases` (`all_cases` also judge its alerts);
    `watched[i]` False: it could not have warned of case i unless it did."""
    onsets: dict[str, list[datetime]] = {}
    for c in all_cases:
        onsets.setdefault(c.animal_id, []).append(c.onset)
    warnings = []
    for i, case in enumerate(cases):
        first = _warned_at(case, alerts) if available else None
        lead = None if first is None else (case.onset - first).total_seconds() / 3600
        judged = first is not None or watched is None or watched[i]
        warnings.append(CaseWarning(detector=detector, judged=judged, first_warned_at=first, lead_hours=lead))
    judged_cases = sum(w.judged for w in warnings)
    leads = [w.lead_hours for w in warnings if w.lead_hours is not None]
    counted = [a for a in alerts if a.first_at in period]
    false = [a for a in counted if not _has_case(a, onsets)]
    return DetectorAccuracy(
        detector=detector,
        available=available,
        cases=judged_cases,
        cases_not_judged=len(cases) - judged_cases,
        cases_warned=len(leads),
        sensitivity=len(leads) / judged_cases if judged_cases and available else None,
        lead_hours_median=statistics.median(leads) if leads else None,
        warned_24h=sum(lead >= 24 for lead in leads),
        alerts=len(counted),
        alerts_without_case=len(false),
        confirmed_false=sum(a.confirmed_false for a in false),
        false_alerts_per_1000_milkings=1000 * len(false) / healthy_milkings
        if healthy_milkings and available
        else None,
    ), warnings


def build(data: FarmData) -> FieldAccuracy:
    """The report from the farm's data (CPU work: run it off the event loop)."""
    period = data.period
    in_period_treatments = [t for t in data.treatments if t.started_at in period]
    names = Counter(t.diagnosis for t in in_period_treatments)
    all_cases = collapse(t for t in data.treatments if matches(t.diagnosis, data.patterns))
    cases = [c for c in all_cases if c.onset in period]
    onsets: dict[str, list[datetime]] = {}
    for c in all_cases:
        onsets.setdefault(c.animal_id, []).append(c.onset)

    started = pd.to_datetime(data.sessions["started_at"], utc=True)
    sessions = data.sessions.assign(started_at=started)
    in_period = ((started >= period.start) & (started <= period.end)).to_numpy()
    animal = sessions["animal_id"].to_numpy(str)
    healthy = _healthy_milkings(animal[in_period], started[in_period], onsets)
    features = compute_features(sessions) if len(sessions) else pd.DataFrame({"iqr_max": [], "mdi": []})
    rules = rule_score(features)
    mdi = features["mdi"].to_numpy(dtype=float)

    live = sessions["live"].to_numpy(bool)
    watched = [_watched(c, animal, started, live) for c in cases]
    detectors: list[tuple[Detector, list[Alert], bool]] = [
        ("model", data.model_alerts, True),
        ("rules", milking_alerts(animal, started, np.nan_to_num(rules, nan=-1) >= DEFAULT_THRESHOLD),
         bool(np.isfinite(rules[in_period]).any())),
        ("mdi", milking_alerts(animal, started, np.nan_to_num(mdi, nan=-1) >= MDI_ALARM),
         bool(np.isfinite(mdi[in_period]).any())),
    ]  # fmt: skip
    figures, per_case = [], []
    for name, alerts, available in detectors:
        summary, warnings = judge(
            name, alerts, cases, all_cases, period, healthy, available=available,
            watched=watched if name == "model" else None,
        )  # fmt: skip
        figures.append(summary)
        per_case.append(warnings)
    return FieldAccuracy(
        farm_id=data.farm_id,
        time_zone=data.time_zone,
        from_day=period.from_day,
        to_day=period.to_day,
        milkings=int(in_period.sum()),
        healthy_milkings=healthy,
        patterns=data.patterns,
        treatments=len(in_period_treatments),
        diagnoses=[
            DiagnosisCount(diagnosis=name, treatments=n, mastitis=matches(name, data.patterns))
            for name, n in sorted(names.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        cases=[
            FieldCase(
                animal_id=c.animal_id,
                onset=c.onset,
                treatments=len(c.treatments),
                diagnoses=c.diagnoses,
                warnings=[w[i] for w in per_case],
            )
            for i, c in enumerate(cases)
        ],
        detectors=figures,
    )


# --- loading from the cloud database ----------------------------------------------------------

_FARM = "SELECT time_zone, mastitis_patterns, now() AS now FROM public.tenants WHERE tenant_id = %s"
_TREATMENTS = (
    "SELECT animal_id, started_at, diagnosis FROM public.treatments"
    " WHERE tenant_id = %s AND started_at >= %s AND started_at <= %s ORDER BY started_at"
)
# The alert's first milking is not kept (an escalation moves `transaction_id` to the riskier one):
# the earlier of its creation and its milking is the first warning we can prove.
_MODEL_ALERTS = f"""
SELECT a.animal_id, least(a.created_at, s.started_at) AS first_at,
       greatest(least(a.created_at, s.started_at), a.last_observed_at) AS last_at,
       coalesce(l.to_status, a.status) = 'false_positive' AS confirmed_false
FROM public.alerts a
{ALERT_LABEL}
LEFT JOIN public.milking_sessions s
  ON s.tenant_id = a.tenant_id AND s.source_id = a.source_id AND s.transaction_id = a.transaction_id
WHERE a.tenant_id = %s AND a.kind = 'mastitis'
  AND coalesce(a.last_observed_at, a.created_at) >= %s AND least(a.created_at, s.started_at) <= %s
"""
# What the rule baseline reads (quarter conductivity, MDi): features of one milking, no history.
_RULE_INPUTS = ("conductivity_lf", "conductivity_rf", "conductivity_lr", "conductivity_rr", "mdi")
_SESSIONS = (
    f"SELECT animal_id, started_at, received_at - started_at <= %s AS live, {', '.join(_RULE_INPUTS)}"
    " FROM public.milking_sessions WHERE tenant_id = %s AND started_at >= %s AND started_at <= %s"
)


async def load(
    conn: AsyncConnection[Any], farm_id: uuid.UUID, days: int = DEFAULT_DAYS, now: datetime | None = None
) -> FarmData | None:
    """The farm's data for the report; None when the farm is not visible (under RLS: not the
    caller's). `now` (default: the database's) ends the period."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_FARM, [farm_id])
        farm = await cur.fetchone()
        if farm is None:
            return None
        period = Period.last_days(days, ZoneInfo(farm["time_zone"]), now or farm["now"])
        await cur.execute(_TREATMENTS, [farm_id, period.start - _LOOKBACK, period.end])
        treatments = [
            Treatment(r["animal_id"], r["started_at"], r["diagnosis"]) for r in await cur.fetchall()
        ]
        await cur.execute(_MODEL_ALERTS, [farm_id, period.start - CASE_BEFORE, period.end])
        alerts = [
            Alert(r["animal_id"], r["first_at"], r["last_at"], r["confirmed_false"])
            for r in await cur.fetchall()
        ]
    async with conn.cursor() as plain:  # tuples: a 90-day herd is 100,000s of rows
        await plain.execute(_SESSIONS, [ALERT_MAX_AGE, farm_id, period.start - CASE_BEFORE, period.end])
        rows = await plain.fetchall()
    sessions = pd.DataFrame(rows, columns=["animal_id", "started_at", "live", *_RULE_INPUTS])
    return FarmData(
        farm_id, farm["time_zone"], list(farm["mastitis_patterns"]), period, treatments, alerts, sessions
    )


async def field_accuracy(
    conn: AsyncConnection[Any], farm_id: uuid.UUID, days: int = DEFAULT_DAYS, now: datetime | None = None
) -> FieldAccuracy | None:
    """The report of one farm (None when not visible); the computation runs in a worker thread."""
    data = await load(conn, farm_id, days, now)
    return None if data is None else await asyncio.to_thread(build, data)
