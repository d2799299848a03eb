"""Features of a milking, from the cow's previous 7 days: the one implementation used by training,
the CSV scorer and live scoring, so what the model learnt is what it sees.

Input: sessions in the contract's column names (`shared/sessions-schema.md`), any order, many
cows, optional columns absent or null. A session's history is the same cow's earlier sessions in
the input:
  * her level ("baseline"): sessions in [t - 7 days, t - 24 h), so a rise over the last day or two
    stands out against what came before;
  * "recent": sessions in [t - 24 h, t), for short trends.
A missing value stays missing (NaN): "no sensor" is never read as zero; the model handles NaN.

Everything is vectorised over all rows at once (cumulative sums over rows sorted by cow and
time): a year of a 1,000-cow farm takes seconds.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from pecus.ai.simulate.params import QUARTERS

DAY_S = 86_400
HISTORY_DAYS = 7
MAX_INTERVAL_H = 48.0  # a longer gap (dry period, data outage) is not a milking interval
# The history a milking's features need: 7 days of baseline, plus the milking before the
# earliest of them (its interval). Live scoring and feedback hydrate exactly this much.
HISTORY_NEEDED_H = HISTORY_DAYS * 24 + int(MAX_INTERVAL_H)

# Contract columns the features read, besides animal_id, started_at, incomplete and kickoff.
FEATURE_INPUTS: tuple[str, ...] = (
    "yield_kg", "expected_yield_kg", "conductivity_avg", "conductivity_max",
    "conductivity_lf", "conductivity_rf", "conductivity_lr", "conductivity_rr",
    "yield_lf", "yield_rf", "yield_lr", "yield_rr", "blood_avg", "blood_max",
    "flow_avg", "flow_peak", "duration_s", "cell_count", "mdi",
    "lactation_number", "days_in_milk",
)  # fmt: skip

FEATURES: tuple[str, ...] = (
    # the quarter that rose most against her own level ("worst"), and the rest of the udder
    "ec_rel_worst",
    "ec_rel_second",
    "ec_rel_others",
    "ec_rel_spread",
    "ec_recent_rel_worst",
    "ec_worst",
    # inter-quarter ratio: quarter / mean of the two lowest quarters of the same milking
    "iqr_worst",
    "iqr_max",
    "iqr_dev_worst",
    "iqr_dev_max",
    # yield and flow
    "yield_rate_rel_worst",
    "yield_rate_rel_min",
    "share_dev_worst",
    "yield_rate_rel",
    "yield_vs_expected",
    "yield_vs_expected_recent",
    "flow_rel",
    "flow_peak_rel",
    "duration_rel",
    # whole-cow conductivity
    "ec_avg_rel",
    "ec_max_rel",
    # visits
    "interval_h",
    "interval_rel",
    # blood, cells, MDi
    "blood",
    "blood_recent",
    "blood_base",
    "log_cells",
    "log_cells_recent",
    "log_cells_rise",
    "mdi",
    "mdi_recent",
    "mdi_base",
    # milking events
    "incomplete",
    "kickoff",
    "incomplete_recent",
    "kickoff_recent",
    # the cow
    "days_in_milk",
    "lactation_number",
    "history_sessions",
)

# Not model inputs: what the reasons quote.
CONTEXT: tuple[str, ...] = ("worst_quarter", "cell_count", "cell_count_base", "interval_base_h")


def _seconds(values: pd.Series) -> np.ndarray:
    """Epoch seconds of a time column (aware, naive-UTC, or ISO strings)."""
    times = pd.to_datetime(values, utc=True)
    return times.dt.tz_localize(None).to_numpy(dtype="datetime64[s]").astype(np.int64)


def _floats(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=float, na_value=np.nan)


class _Windows:
    """Means and sums over the earlier rows of the same cow, by cumulative sums over all rows
    (sorted by cow and time), evaluated at the rows asked for (`at`) only."""

    def __init__(self, group: np.ndarray, seconds: np.ndarray, at: np.ndarray) -> None:
        key = group.astype(np.int64) * 10**11 + (seconds - seconds.min())
        mine = key[at]
        self.at = at
        self.base_lo = np.searchsorted(key, mine - HISTORY_DAYS * DAY_S, "left")
        self.base_hi = np.searchsorted(key, mine - DAY_S, "left")
        self.now = np.searchsorted(key, mine, "left")  # earlier rows only (same instant excluded)

    @staticmethod
    def _sums(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        valid = ~np.isnan(x)
        total = np.concatenate([[0.0], np.cumsum(np.where(valid, x, 0.0))])
        count = np.concatenate([[0], np.cumsum(valid)])
        return total, count

    def mean(self, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        total, count = self._sums(x)
        k = count[hi] - count[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(k > 0, (total[hi] - total[lo]) / k, np.nan)

    def total(self, x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        total, count = self._sums(x)
        return np.where(count[hi] - count[lo] > 0, total[hi] - total[lo], np.nan)

    def base(self, x: np.ndarray) -> np.ndarray:
        return self.mean(x, self.base_lo, self.base_hi)

    def recent(self, x: np.ndarray) -> np.ndarray:
        return self.mean(x, self.base_hi, self.now)

    def recent_with_now(self, x: np.ndarray) -> np.ndarray:
        return self.mean(x, self.base_hi, self.at + 1)


def _rel(value: np.ndarray, base: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(base > 0, value / base - 1.0, np.nan)


def _pick(matrix: np.ndarray, column: np.ndarray) -> np.ndarray:
    """matrix[i, column[i]], NaN where column is -1."""
    safe = np.maximum(column, 0)
    out = matrix[np.arange(len(matrix)), safe]
    return np.where(column >= 0, out, np.nan)


def _nanargmax(matrix: np.ndarray) -> np.ndarray:
    filled = np.where(np.isnan(matrix), -np.inf, matrix)
    arg = filled.argmax(axis=1)
    return np.where(np.isfinite(filled).any(axis=1), arg, -1)


def compute_features(sessions: pd.DataFrame, targets: np.ndarray | None = None) -> pd.DataFrame:
    """FEATURES (model inputs) and CONTEXT (for reasons) for the rows of `sessions` selected by
    the boolean mask `targets` (default: every row), in the input's order and index; the other
    rows serve as history only. Requires `animal_id` and `started_at`; everything else may be
    missing."""
    columns = [*FEATURES, *CONTEXT]
    selected = np.ones(len(sessions), bool) if targets is None else np.asarray(targets, bool)
    if not selected.any():
        return pd.DataFrame(columns=columns, index=sessions.index[:0], dtype=float)
    group = pd.factorize(sessions["animal_id"].astype(str))[0]
    seconds = _seconds(sessions["started_at"])
    order = np.lexsort((seconds, group))
    frame = sessions.iloc[order]
    g, ts = group[order], seconds[order]
    at = np.flatnonzero(selected[order])  # target rows, in sorted positions
    w = _Windows(g, ts, at)
    n = len(at)

    def col(name: str) -> np.ndarray:
        return _floats(frame, name)

    # Per-row values over every row (history included): the windows average them.
    same = np.r_[False, g[1:] == g[:-1]]
    interval = np.where(same, (ts - np.r_[ts[0], ts[:-1]]) / 3600.0, np.nan)
    interval[interval > MAX_INTERVAL_H] = np.nan
    ec = np.column_stack([col(f"conductivity_{q}") for q in QUARTERS])
    qy = np.column_stack([col(f"yield_{q}") for q in QUARTERS])
    with np.errstate(invalid="ignore", divide="ignore"):
        qrate = qy / interval[:, None]
        share = qy / qy.sum(axis=1, keepdims=True)
    # Inter-quarter ratio needs three quarters at least (the two lowest of the others).
    ordered = np.sort(ec, axis=1)
    low2 = np.where((~np.isnan(ec)).sum(axis=1) >= 3, ordered[:, :2].mean(axis=1), np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        iqr = ec / low2[:, None]
    total = col("yield_kg")
    expected = col("expected_yield_kg")
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = total / interval
        vs_expected = np.where(expected > 0, total / expected - 1, np.nan)
    blood = col("blood_max")
    blood = np.where(np.isnan(blood), col("blood_avg"), blood)
    cells = col("cell_count")
    with np.errstate(divide="ignore", invalid="ignore"):
        log_cells = np.log(np.maximum(cells, 1.0))
    mdi, incomplete, kickoff = col("mdi"), col("incomplete"), col("kickoff")
    flow, peak, duration = col("flow_avg"), col("flow_peak"), col("duration_s")
    ec_avg, ec_max = col("conductivity_avg"), col("conductivity_max")

    # From here on, the target rows only.
    def quarters(fn: Any, m: np.ndarray) -> np.ndarray:
        return np.column_stack([fn(m[:, i]) for i in range(4)])

    ec_base = quarters(w.base, ec)
    ec_t, iqr_t = ec[at], iqr[at]
    ec_rel = _rel(ec_t, ec_base)
    ec_recent_rel = _rel(quarters(w.recent, ec), ec_base)
    iqr_dev = iqr_t - quarters(w.base, iqr)
    qrate_rel = _rel(qrate[at], quarters(w.base, qrate))
    share_dev = share[at] - quarters(w.base, share)

    worst = _nanargmax(ec_rel)
    worst = np.where(worst >= 0, worst, _nanargmax(iqr_dev))
    worst = np.where(worst >= 0, worst, _nanargmax(iqr_t))
    ranked = np.sort(np.where(np.isnan(ec_rel), -np.inf, ec_rel), axis=1)
    second = np.where(np.isfinite(ranked[:, 2]), ranked[:, 2], np.nan)
    others = ec_rel.copy()
    others[np.arange(n), np.maximum(worst, 0)] = np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN rows stay NaN
        others_mean = np.where(worst >= 0, np.nanmean(others, axis=1), np.nan)
        iqr_max = np.nanmax(np.where(np.isnan(iqr_t), -np.inf, iqr_t), axis=1)
        iqr_dev_max = np.nanmax(np.where(np.isnan(iqr_dev), -np.inf, iqr_dev), axis=1)
        qrate_min = np.nanmin(np.where(np.isnan(qrate_rel), np.inf, qrate_rel), axis=1)
    iqr_max[~np.isfinite(iqr_max)] = np.nan
    iqr_dev_max[~np.isfinite(iqr_dev_max)] = np.nan
    qrate_min[~np.isfinite(qrate_min)] = np.nan
    ec_rel_worst = _pick(ec_rel, worst)
    base_log_cells = w.base(log_cells)
    recent_log_cells = w.recent_with_now(log_cells)
    interval_base = w.base(interval)

    values: dict[str, Any] = {
        "ec_rel_worst": ec_rel_worst,
        "ec_rel_second": second,
        "ec_rel_others": others_mean,
        "ec_rel_spread": ec_rel_worst - others_mean,
        "ec_recent_rel_worst": _pick(ec_recent_rel, worst),
        "ec_worst": _pick(ec_t, worst),
        "iqr_worst": _pick(iqr_t, worst),
        "iqr_max": iqr_max,
        "iqr_dev_worst": _pick(iqr_dev, worst),
        "iqr_dev_max": iqr_dev_max,
        "yield_rate_rel_worst": _pick(qrate_rel, worst),
        "yield_rate_rel_min": qrate_min,
        "share_dev_worst": _pick(share_dev, worst),
        "yield_rate_rel": _rel(rate[at], w.base(rate)),
        "yield_vs_expected": vs_expected[at],
        "yield_vs_expected_recent": w.recent(vs_expected),
        "flow_rel": _rel(flow[at], w.base(flow)),
        "flow_peak_rel": _rel(peak[at], w.base(peak)),
        "duration_rel": _rel(duration[at], w.base(duration)),
        "ec_avg_rel": _rel(ec_avg[at], w.base(ec_avg)),
        "ec_max_rel": _rel(ec_max[at], w.base(ec_max)),
        "interval_h": interval[at],
        "interval_rel": _rel(interval[at], interval_base),
        "blood": blood[at],
        "blood_recent": w.recent(blood),
        "blood_base": w.base(blood),
        "log_cells": log_cells[at],
        "log_cells_recent": recent_log_cells,
        "log_cells_rise": recent_log_cells - base_log_cells,
        "mdi": mdi[at],
        "mdi_recent": w.recent(mdi),
        "mdi_base": w.base(mdi),
        "incomplete": incomplete[at],
        "kickoff": kickoff[at],
        "incomplete_recent": w.total(incomplete, w.base_hi, at + 1),
        "kickoff_recent": w.total(kickoff, w.base_hi, at + 1),
        "days_in_milk": col("days_in_milk")[at],
        "lactation_number": col("lactation_number")[at],
        "history_sessions": (w.base_hi - w.base_lo).astype(float),
        "worst_quarter": worst.astype(float),
        "cell_count": cells[at],
        "cell_count_base": np.exp(base_log_cells),
        "interval_base_h": interval_base,
    }
    out = np.column_stack(list(values.values()))
    back = np.argsort(order[at], kind="stable")  # target rows back to the input's order
    return pd.DataFrame(out[back], columns=list(values), index=sessions.index[np.sort(order[at])])
