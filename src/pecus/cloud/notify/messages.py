"""The text of a notification: what a farmer reads on a phone at 5 am.

One short body for every channel: the cow, the robot, what moved, the risk, and a link to the
cow's page, within one SMS (160 characters, plain GSM-7 characters so a single accent does not
turn it into a 70-character Unicode SMS). Reasons are added, most important first, while they fit;
the link always stays.

    Pecus: cow 1234 (Robot 2) HIGH risk 91%. LR cond +34%, yield -18%. https://…/farms/…/cows/1234
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

SMS_CHARS = 160
DIGEST_CHARS = 2000
"""A digest on a channel that takes long messages (e-mail, Telegram, ntfy, webhooks)."""

# Short names DelPro itself shows for the quarters and signals.
_QUARTERS = {"lf": "LF", "rf": "RF", "lr": "LR", "rr": "RR"}
_SIGNALS = {
    "conductivity": "cond",
    "conductivity_avg": "cond",
    "conductivity_max": "max cond",
    "yield": "yield",
    "yield_kg": "yield",
    "yield_per_hour": "yield/h",
    "flow": "flow",
    "flow_avg": "flow",
    "flow_peak": "peak flow",
    "blood": "blood",
    "blood_avg": "blood",
    "blood_max": "blood",
    "cell_count": "SCC",
    "mdi": "MDi",
    "duration": "milking time",
    "duration_s": "milking time",
    "incomplete": "incomplete",
    "kickoff": "kick-off",
}
_ASCII = str.maketrans({"−": "-", "–": "-", "—": "-", "…": "...", "’": "'", "‘": "'", "“": '"', "”": '"'})


@dataclass(frozen=True)
class AlertFacts:
    """What a message says about one alert."""

    farm_id: uuid.UUID
    kind: str
    """'mastitis' or 'data_feed'."""
    animal_id: str | None
    unit: str | None
    risk_score: float | None
    critical: bool
    reasons: Sequence[Any]
    time_zone: str = "UTC"


def plain(text: str) -> str:
    """The text in plain ASCII (a subset of the SMS GSM-7 alphabet): accents dropped, dashes flat."""
    text = unicodedata.normalize("NFKD", text.translate(_ASCII))
    return " ".join(text.encode("ascii", "ignore").decode().split())


def cow_link(public_url: str, farm_id: uuid.UUID, animal_id: str) -> str:
    return f"{public_url.rstrip('/')}/farms/{farm_id}/cows/{quote(animal_id, safe='')}"


def farm_link(public_url: str, farm_id: uuid.UUID, page: str = "") -> str:
    return f"{public_url.rstrip('/')}/farms/{farm_id}{page}"


def _signal_label(signal: str) -> str:
    name = signal.lower()
    for suffix, quarter in _QUARTERS.items():
        if name.endswith("_" + suffix):
            base = name.removesuffix("_" + suffix)
            return f"{quarter} {_SIGNALS.get(base, base.replace('_', ' '))}"
    return _SIGNALS.get(name, name.replace("_", " "))


def _pct(fraction: float) -> str:
    return f"{fraction * 100:+.0f}%"


# The AI engine's reasons (`pecus.ai.reasons`): {"signal", "value", "text", "quarter"?}; the value's
# meaning depends on the signal. Written short here, in the words DelPro's own screens use.
_COMPACT = {
    "conductivity": lambda q, v: f"{q} cond {_pct(v)}",
    "quarter_ratio": lambda q, v: f"{q} {_pct(v - 1)} vs other quarters",
    "quarter_yield": lambda q, v: f"{q} yield {_pct(v)}",
    "yield": lambda q, v: f"yield {_pct(v)}",
    "flow": lambda q, v: f"flow {_pct(v)}",
    "blood": lambda q, v: f"blood {v:.0f} ppm",
    "cell_count": lambda q, v: f"SCC {v:.0f}k",
    "mdi": lambda q, v: f"MDi {v:.1f}",
    "interval": lambda q, v: f"{v:.0f} h since last milking",
    "kickoff": lambda q, v: f"{v:.0f} kick-offs",
    "incomplete": lambda q, v: f"{v:.0f} incomplete",
}


def reason_text(reason: Any) -> str:
    """One reason, short enough for an SMS. Understands the AI engine's reasons (`signal`, `value`,
    `quarter`), a relative change (`signal`, `change_pct`), or falls back to the reason's `text`."""
    if not isinstance(reason, dict):
        return str(reason)
    signal, value = reason.get("signal"), reason.get("value")
    quarter = _QUARTERS.get(str(reason.get("quarter", "")).lower(), "")
    compact = _COMPACT.get(signal) if isinstance(signal, str) else None
    if compact is not None and isinstance(value, int | float) and not isinstance(value, bool):
        needs_quarter = signal in ("conductivity", "quarter_ratio", "quarter_yield")
        if quarter or not needs_quarter:
            return compact(quarter, float(value)).strip()
    change = reason.get("change_pct")
    if isinstance(signal, str) and isinstance(change, int | float):
        return f"{_signal_label(signal)} {change:+.0f}%"
    if isinstance(signal, str) and value is True:
        return _signal_label(signal)
    text = reason.get("text")
    if isinstance(text, str):
        return text
    return _signal_label(signal) if isinstance(signal, str) else ""


def _fit(head: str, items: Sequence[str], tail: str, limit: int, sep: str = ", ") -> str:
    """`head` + as many of `items` as fit + `tail` (the link, never cut), within `limit` characters.
    A first item too long to fit whole is cut with '...'."""
    head = head.rstrip()
    body = ""
    for item in items:
        candidate = f"{body}{sep}{item}" if body else item
        if len(f"{head} {candidate}. {tail}") > limit:
            room = limit - len(f"{head} ... {tail}")
            if not body and room >= 8:
                return f"{head} {item[:room].rstrip()}... {tail}"
            break
        body = candidate
    text = f"{head} {body}. {tail}" if body else f"{head} {tail}"
    if len(text) <= limit:
        return text
    # Only a very long unit name or public URL gets here: keep the link, shorten the rest.
    room = limit - len(tail) - 4
    return f"{head[:room].rstrip()}... {tail}" if room >= 8 else tail


def _prefix(repeat: bool) -> str:
    # A re-send after an interruption says so: the farmer may already have the first copy.
    return "Pecus (repeat): " if repeat else "Pecus: "


def alert_message(
    facts: AlertFacts,
    public_url: str,
    *,
    last_session_at: datetime | None = None,
    repeat: bool = False,
    limit: int = SMS_CHARS,
) -> str:
    if facts.kind == "data_feed":
        return data_feed_message(facts, public_url, last_session_at, repeat=repeat, limit=limit)
    cow = plain(f"cow {facts.animal_id}" + (f" ({facts.unit})" if facts.unit else ""))
    risk = ""
    if facts.risk_score is not None:
        risk = f" {'HIGH risk' if facts.critical else 'risk'} {round(facts.risk_score * 100)}%"
    elif facts.critical:
        risk = " HIGH risk"
    head = f"{_prefix(repeat)}{cow}{risk}."
    reasons = [plain(t) for t in map(reason_text, facts.reasons) if t]
    link = cow_link(public_url, facts.farm_id, facts.animal_id or "")
    return _fit(head, reasons, link, limit)


def data_feed_message(
    facts: AlertFacts,
    public_url: str,
    last_session_at: datetime | None,
    *,
    repeat: bool = False,
    limit: int = SMS_CHARS,
) -> str:
    since = ""
    if last_session_at is not None:
        local = last_session_at.astimezone(ZoneInfo(facts.time_zone))
        since = f" since {local:%d/%m %H:%M}"
    head = plain(f"{_prefix(repeat)}no milkings from {facts.unit or 'a robot'}{since}.")
    advice = ["Check the robot and the farm PC agent"]
    return _fit(head, advice, farm_link(public_url, facts.farm_id), limit)


def digest_line(facts: AlertFacts) -> str:
    if facts.kind == "data_feed":
        return plain(f"{facts.unit or 'a robot'} silent")
    risk = f" {round(facts.risk_score * 100)}%" if facts.risk_score is not None else ""
    unit = f" ({facts.unit})" if facts.unit else ""
    return plain(f"cow {facts.animal_id}{unit}{risk}")


def digest_message(
    facts: Sequence[AlertFacts],
    farm_id: uuid.UUID,
    public_url: str,
    *,
    repeat: bool = False,
    limit: int = SMS_CHARS,
) -> str:
    """One message for many alerts: as many as fit, then how many more."""
    n = len(facts)
    head = f"{_prefix(repeat)}{n} new alert{'s' if n != 1 else ''}:"
    link = farm_link(public_url, farm_id, "/alerts")
    lines = [digest_line(f) for f in facts]
    for shown in range(n, 0, -1):
        items = lines[:shown] + ([f"+{n - shown} more"] if shown < n else [])
        text = f"{head} {'; '.join(items)}. {link}"
        if len(text) <= limit:
            return text
    return _fit(head, [f"{n} alerts"], link, limit)


def test_message(farm_name: str, public_url: str, farm_id: uuid.UUID) -> str:
    head = plain(f"Pecus: test message for {farm_name}.")
    return _fit(head, ["Alerts will arrive here"], farm_link(public_url, farm_id), SMS_CHARS)


def title_for(facts: AlertFacts) -> str:
    """A subject line, for the channels that have one (e-mail, ntfy); SMS has none."""
    if facts.kind == "data_feed":
        return plain(f"Pecus: no milkings from {facts.unit or 'a robot'}")
    level = "HIGH mastitis risk" if facts.critical else "mastitis risk"
    return plain(f"Pecus: cow {facts.animal_id} {level}")
