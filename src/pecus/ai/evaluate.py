"""How well a score separates clinical cases from healthy cows, the way the field measures it.

* Sensitivity per case: a case counts as detected when a session in the 48 h before its
  diagnosis (diagnosis milking included) scores at or above the threshold (Hogeveen et al.
  2010's window; Kamphuis et al. 2010 use 24 h and +-24 h).
* Specificity per healthy cow-day: the share of healthy cow-days without any alerting session.
* False alerts per 1,000 milkings: alerts on healthy cows, merged into one per cow and episode
  as the live path does (a new alert within 72 h of the last one updates it), per 1,000 healthy
  milkings; also the raw share of alerting healthy sessions.
* Warning: hours from the first alerting session in the window to the diagnosis.
The operating threshold is the lowest one that keeps specificity at or above the target.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from pecus.ai.dataset import WINDOW_H, LabelledSet, cow_days

EPISODE_H = 72.0


@dataclass(frozen=True)
class Metrics:
    threshold: float
    cases: int
    detected: int
    sensitivity: float
    healthy_cow_days: int
    specificity: float
    healthy_milkings: int
    false_alerts_per_1000: float
    false_alert_milkings_per_1000: float
    median_warning_h: float | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def operating_threshold(data: LabelledSet, scores: np.ndarray, specificity: float = 0.99) -> float:
    """The lowest threshold whose specificity per healthy cow-day is >= `specificity`."""
    days = cow_days(data, scores)
    healthy = np.sort(days.loc[days["healthy"], "score"].to_numpy(dtype=float))
    healthy = healthy[~np.isnan(healthy)]
    if len(healthy) == 0:
        raise ValueError("no healthy cow-days to set a threshold on")
    allowed = int(np.floor((1 - specificity) * len(healthy)))  # cow-days that may alert
    # Alert when score >= threshold: just above the (allowed+1)-th highest healthy day.
    value = healthy[len(healthy) - allowed - 1]
    return float(np.nextafter(value, np.inf))


def measure(data: LabelledSet, scores: np.ndarray, threshold: float) -> Metrics:
    alert = np.nan_to_num(scores, nan=-np.inf) >= threshold
    days = cow_days(data, np.where(alert, 1.0, 0.0))
    healthy_days = days[days["healthy"]]
    specificity = 1.0 - float(healthy_days["score"].mean()) if len(healthy_days) else float("nan")

    window = data.positive
    hours = data.hours_to_diagnosis[window]
    frame = pd.DataFrame(
        {"case": data.case[window], "alert": alert[window], "warning": np.where(alert[window], hours, np.nan)}
    )
    per_case = frame.groupby("case").agg(detected=("alert", "any"), warning=("warning", "max"))
    detected = int(per_case["detected"].sum())
    warnings = per_case["warning"].dropna()

    healthy = data.healthy
    healthy_alerts = alert & healthy
    episodes = _episodes(data.farm[healthy_alerts], data.animal[healthy_alerts], data.seconds[healthy_alerts])
    milkings = int(healthy.sum())
    return Metrics(
        threshold=float(threshold),
        cases=len(per_case),
        detected=detected,
        sensitivity=detected / len(per_case) if len(per_case) else float("nan"),
        healthy_cow_days=len(healthy_days),
        specificity=specificity,
        healthy_milkings=milkings,
        false_alerts_per_1000=1000 * episodes / milkings if milkings else float("nan"),
        false_alert_milkings_per_1000=1000 * int(healthy_alerts.sum()) / milkings
        if milkings
        else float("nan"),
        median_warning_h=float(warnings.median()) if len(warnings) else None,
    )


def _episodes(farm: np.ndarray, animal: np.ndarray, seconds: np.ndarray) -> int:
    """Alerting sessions merged per cow: a new episode when 72 h passed since the last alert."""
    if len(seconds) == 0:
        return 0
    frame = pd.DataFrame({"farm": farm, "animal": animal, "s": seconds}).sort_values(["farm", "animal", "s"])
    gap = frame.groupby(["farm", "animal"])["s"].diff()
    return int((gap.isna() | (gap > EPISODE_H * 3600)).sum())


def precision_recall(data: LabelledSet, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per cow-day: case days (a session within 48 h before diagnosis) vs healthy days."""
    from sklearn.metrics import precision_recall_curve

    days = cow_days(data, np.nan_to_num(scores, nan=-1.0))
    days = days[days["healthy"] | days["positive"]]
    precision, recall, _ = precision_recall_curve(days["positive"].astype(int), days["score"])
    return precision, recall


__all__ = ["EPISODE_H", "WINDOW_H", "Metrics", "measure", "operating_threshold", "precision_recall"]
