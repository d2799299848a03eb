"""Why a milking alerts, in words a farmer reads at 5 am: the signals that moved and by how much.

Built from the same features the model saw, ranked by how far each is from normal (relative to
a typical alarm-worthy size), the top three kept. Each reason is a small JSON object for
`alerts.reasons`: {"signal", "text", "value"} and "quarter" where it concerns one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pecus.ai.simulate.params import QUARTER_WORDS, QUARTERS

MAX_REASONS = 3


def _signed_pct(value: float) -> str:
    pct = round(100 * value)
    return f"+{pct} %" if pct > 0 else f"−{abs(pct)} %" if pct < 0 else "0 %"


class _Reasons:
    def __init__(self, row: Mapping[str, Any]) -> None:
        self.row = row
        self.found: list[tuple[float, dict[str, Any]]] = []
        index = self.get("worst_quarter")
        self.quarter = QUARTERS[int(index)] if index is not None and index >= 0 else None
        self.words = QUARTER_WORDS[self.quarter] if self.quarter else ""

    def get(self, name: str) -> float | None:
        value = self.row.get(name)
        if isinstance(value, int | float) and math.isfinite(value):
            return float(value)
        return None

    def add(self, strength: float, signal: str, text: str, value: float, *, quarter: bool = False) -> None:
        item: dict[str, Any] = {"signal": signal, "text": text, "value": round(value, 4)}
        if quarter and self.quarter:
            item["quarter"] = self.quarter
        self.found.append((strength, item))

    def top(self) -> list[dict[str, Any]]:
        self.found.sort(key=lambda pair: -pair[0])
        return [item for _, item in self.found[:MAX_REASONS]]


def explain(row: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Reasons for one milking's features (a row of `compute_features`)."""
    r = _Reasons(row)
    words = r.words
    if words and (rise := r.get("ec_rel_worst")) is not None and rise >= 0.05:
        text = f"{words} conductivity {_signed_pct(rise)} vs her 7-day level"
        r.add(rise / 0.15, "conductivity", text, rise, quarter=True)
    if words and (iqr := r.get("iqr_worst")) is not None and iqr - 1 >= 0.08:
        r.add(
            (iqr - 1) / 0.2,
            "quarter_ratio",
            f"{words} {_signed_pct(iqr - 1)} above her other quarters",
            iqr,
            quarter=True,
        )
    if words and (drop := r.get("yield_rate_rel_worst")) is not None and drop <= -0.1:
        r.add(-drop / 0.2, "quarter_yield", f"{words} yield {_signed_pct(drop)}", drop, quarter=True)
    if (total := r.get("yield_vs_expected")) is not None and total <= -0.08:
        r.add(-total / 0.15, "yield", f"yield {_signed_pct(total)} vs expected", total)
    if (blood := r.get("blood")) is not None and blood >= 500:
        r.add(blood / 1000, "blood", f"blood in milk ({blood:,.0f} ppm)", blood)
    if (cells := r.get("cell_count")) is not None and cells >= 200:
        base = r.get("cell_count_base")
        usual = f" (her usual {base * 1000:,.0f})" if base is not None else ""
        r.add(math.log(cells / 100), "cell_count", f"cell count {cells * 1000:,.0f} cells/mL{usual}", cells)
    if (mdi := r.get("mdi")) is not None and mdi >= 1.4:
        r.add(mdi / 1.4, "mdi", f"MDi {mdi:.1f}", mdi)
    if (flow := r.get("flow_rel")) is not None and flow <= -0.1:
        r.add(-flow / 0.2, "flow", f"milk flow {_signed_pct(flow)}", flow)
    interval, usual_interval = r.get("interval_h"), r.get("interval_base_h")
    if interval is not None and usual_interval and interval >= max(1.5 * usual_interval, 12):
        text = f"{interval:.0f} h since her last milking (usually {usual_interval:.0f} h)"
        r.add(interval / usual_interval / 1.5, "interval", text, interval)
    if (kicks := r.get("kickoff_recent")) is not None and kicks >= 2:
        r.add(kicks / 2, "kickoff", f"{kicks:.0f} kick-offs in 24 h", kicks)
    if (incomplete := r.get("incomplete_recent")) is not None and incomplete >= 2:
        r.add(incomplete / 2.5, "incomplete", f"{incomplete:.0f} incomplete milkings in 24 h", incomplete)
    return r.top()


def summary(reasons: list[dict[str, Any]]) -> str:
    """One line: "rear-left conductivity +34 % vs her 7-day level; yield −18 % vs expected"."""
    return "; ".join(r["text"] for r in reasons)
