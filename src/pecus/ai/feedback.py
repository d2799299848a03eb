"""Farm feedback as training labels: what farmers said about alerts.

An alert's label is the latest status change to `acknowledged` (a real case) or
`false_positive` in `alert_status_changes` (changes are never deleted, so a case later marked
`resolved` still counts as acknowledged), or the alert's status when no change is recorded.

Around the alert's milking (the anchor, taken as the diagnosis):
  * acknowledged: the cow's milkings in the 48 h before the anchor are positive; her other
    milkings from 7 days before to 14 days after count as neither (as for simulated cases);
  * false positive: her milkings within 24 h of the anchor are healthy.
The farm's own treated cases (`treatments`, matched by the farm's `mastitis_patterns` and
collapsed, `pecus.ai.cases`) are labels too, exactly like acknowledged alerts anchored at the
case's onset (its first treatment): the treatment dates the case better than an alert, so an
acknowledged alert of the same cow whose anchor lies in that case's span (7 days before to 14
days after the onset) gives way to it.
Each labelled milking gets its features from her 7 days before it, with the same code as live
scoring, from one query over `milking_sessions`.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
import psycopg

from pecus.ai.cases import Treatment, mastitis_cases
from pecus.ai.dataset import CASE_AFTER_H, CASE_BEFORE_H, LabelledSet
from pecus.ai.features import CONTEXT, FEATURE_INPUTS, FEATURES, HISTORY_NEEDED_H, compute_features

# The farmer's verdict on alert `a`, as `l.to_status`: their latest change to acknowledged or
# false_positive (null when they gave none). The field accuracy report reads it the same way.
ALERT_LABEL = """LEFT JOIN LATERAL (
  SELECT c.to_status FROM public.alert_status_changes c
  WHERE c.tenant_id = a.tenant_id AND c.alert_id = a.alert_id
    AND c.to_status IN ('acknowledged', 'false_positive')
  ORDER BY c.changed_at DESC, c.change_id DESC LIMIT 1) l ON true"""

_LABELS = f"""
SELECT a.tenant_id, a.alert_id, a.animal_id, coalesce(l.to_status, a.status) AS label, s.started_at
FROM public.alerts a
{ALERT_LABEL}
JOIN public.milking_sessions s
  ON s.tenant_id = a.tenant_id AND s.source_id = a.source_id AND s.transaction_id = a.transaction_id
WHERE a.kind = 'mastitis' AND coalesce(l.to_status, a.status) IN ('acknowledged', 'false_positive')
ORDER BY a.tenant_id, a.alert_id
"""

_SESSIONS = """
SELECT DISTINCT ON (m.tenant_id, m.source_id, m.transaction_id)
       m.tenant_id, m.source_id, m.transaction_id, m.animal_id, m.started_at,
       m.incomplete::int AS incomplete, m.kickoff::int AS kickoff, {values}
FROM unnest(%s::uuid[], %s::text[], %s::timestamptz[]) AS l(tenant_id, animal_id, anchor)
JOIN public.milking_sessions m
  ON m.tenant_id = l.tenant_id AND m.animal_id = l.animal_id
 AND m.started_at >= l.anchor - make_interval(hours => %s) - interval '48 hours'
 AND m.started_at <= l.anchor + interval '14 days'
"""


def labels(conn: psycopg.Connection[Any]) -> pd.DataFrame:
    """One row per labelled alert: tenant_id, alert_id, animal_id, label, anchor."""
    rows = conn.execute(_LABELS).fetchall()
    return pd.DataFrame(rows, columns=["tenant_id", "alert_id", "animal_id", "label", "anchor"])


_TREATMENTS = """
SELECT t.tenant_id, t.animal_id, t.started_at, t.diagnosis, f.mastitis_patterns
FROM public.treatments t JOIN public.tenants f USING (tenant_id)
ORDER BY t.tenant_id
"""


def case_labels(conn: psycopg.Connection[Any]) -> pd.DataFrame:
    """One row per treated case of every farm, as `labels` gives alerts: label acknowledged,
    anchor the onset, alert_id null."""
    rows = conn.execute(_TREATMENTS).fetchall()
    out = []
    for tenant, group in itertools.groupby(rows, key=lambda r: r[0]):
        treatments = list(group)
        found = mastitis_cases([Treatment(r[1], r[2], r[3]) for r in treatments], treatments[0][4])
        out += [(tenant, None, c.animal_id, "acknowledged", c.onset) for c in found]
    return pd.DataFrame(out, columns=["tenant_id", "alert_id", "animal_id", "label", "anchor"])


def _with_cases(alerts: pd.DataFrame, cases: pd.DataFrame) -> pd.DataFrame:
    """Alert labels and case labels; acknowledged alerts inside a case's span give way to it."""
    if cases.empty or alerts.empty:
        return cases if alerts.empty else alerts
    spans = cases[["tenant_id", "animal_id", "anchor"]]
    merged = alerts.reset_index().merge(spans, on=["tenant_id", "animal_id"], suffixes=("", "_case"))
    delta = pd.to_datetime(merged["anchor_case"], utc=True) - pd.to_datetime(merged["anchor"], utc=True)
    inside = (
        (merged["label"] == "acknowledged")
        & (delta >= -pd.Timedelta(hours=CASE_AFTER_H))
        & (delta <= pd.Timedelta(hours=CASE_BEFORE_H))
    )
    kept = alerts.drop(index=merged.loc[inside, "index"].unique())
    return pd.concat([kept, cases], ignore_index=True)


def load_feedback(conn: psycopg.Connection[Any]) -> LabelledSet:
    """The farms' labelled milkings as a training set (empty when no alert has feedback and no
    farm has a treated case)."""
    alerts = labels(conn)
    cases = case_labels(conn)
    found = _with_cases(alerts, cases)
    if found.empty:
        return _empty()
    values = ", ".join(f"m.{v}" for v in FEATURE_INPUTS)
    rows = conn.execute(
        _SESSIONS.format(values=values),
        [
            found["tenant_id"].tolist(),
            found["animal_id"].tolist(),
            found["anchor"].tolist(),
            HISTORY_NEEDED_H,
        ],
    )
    columns = [d.name for d in rows.description or []]
    sessions = pd.DataFrame(rows.fetchall(), columns=columns)
    if sessions.empty:
        return _empty()
    # Cows are per farm: the history key is farm + cow number.
    sessions["animal_id"] = sessions["tenant_id"].astype(str) + "/" + sessions["animal_id"]
    sessions["started_at"] = pd.to_datetime(sessions["started_at"], utc=True)
    seconds = sessions["started_at"].dt.tz_localize(None).to_numpy(dtype="datetime64[s]").astype(np.int64)
    animal = sessions["animal_id"].to_numpy(str)

    case = np.full(len(sessions), -2)  # -2: not labelled (history only)
    hours = np.full(len(sessions), np.nan)
    for i, label in enumerate(found.itertuples()):
        key = f"{label.tenant_id}/{label.animal_id}"
        anchor = pd.Timestamp(label.anchor).timestamp()
        delta = (anchor - seconds) / 3600.0  # hours before the anchor
        mine = animal == key
        if label.label == "acknowledged":
            near = mine & (delta >= -CASE_AFTER_H) & (delta <= CASE_BEFORE_H)
            case[near] = i
            hours[near] = delta[near]
        else:
            near = mine & (np.abs(delta) <= 24) & (case == -2)
            case[near] = -1
    keep = case != -2
    features = compute_features(sessions, keep)[[*FEATURES, *CONTEXT]].reset_index(drop=True)
    tenants = found["tenant_id"].astype(str).nunique()
    out = LabelledSet(
        features=features,
        farm=np.full(int(keep.sum()), -1),
        animal=animal[keep],
        seconds=seconds[keep],
        case=case[keep],
        hours_to_diagnosis=hours[keep],
        weight=np.ones(int(keep.sum())),
        cases=pd.DataFrame(
            {"farm": -1, "case": np.flatnonzero(found["label"] == "acknowledged"), "severity": "farm"}
        ),
        description=[
            f"farm feedback: {int(((found['label'] == 'acknowledged') & found['alert_id'].notna()).sum())}"
            f" acknowledged and {int((found['label'] == 'false_positive').sum())} false-positive alerts,"
            f" {len(cases)} treated cases from {tenants} farm(s)"
        ],
    )
    return out


def _empty() -> LabelledSet:
    return LabelledSet(
        features=pd.DataFrame(columns=[*FEATURES, *CONTEXT], dtype=float),
        farm=np.empty(0, int),
        animal=np.empty(0, str),
        seconds=np.empty(0, np.int64),
        case=np.empty(0, int),
        hours_to_diagnosis=np.empty(0),
        weight=np.empty(0),
        description=["farm feedback: none"],
    )
