"""Quiet hours: the farm's night, in its own time zone, when non-critical alerts wait.

A period is `start`–`end` in local wall-clock time; `start > end` spans midnight (22:00–06:00),
`start == end` or a missing bound means no quiet hours. Across a DST change the period follows
the wall clock: it ends when the farm's clocks show `end` (a time skipped by the change counts as
the moment the clocks jump past it).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def _instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    # fold=0: an ambiguous time (clocks going back) is its first occurrence; a skipped one (clocks
    # going forward) maps past the jump once converted to UTC.
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def quiet_until(now: datetime, start: time | None, end: time | None, time_zone: str) -> datetime | None:
    """When `now` falls in the quiet period, the instant (UTC) it ends; otherwise None."""
    if start is None or end is None or start == end:
        return None
    zone = ZoneInfo(time_zone)
    local = now.astimezone(zone)
    t = local.time().replace(tzinfo=None)
    today = local.date()
    if start < end:
        inside = start <= t < end
        ends = _instant(today, end, zone) if inside else None
    elif t >= start:
        inside, ends = True, _instant(today + timedelta(days=1), end, zone)
    else:
        inside = t < end
        ends = _instant(today, end, zone) if inside else None
    if not inside or ends is None:
        return None
    # On the night clocks go back, `end` may already have passed once: the period is over.
    return ends if ends > now else None
