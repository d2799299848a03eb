"""DelPro's local wall-clock times -> UTC, with the farm's time zone.

Twice a year a local time is ambiguous (the hour repeated when clocks go back) or does not
exist (the hour skipped when they go forward). A milking has a begin and an end a few minutes
apart, so the pair is resolved together: of the readings each ambiguous or missing time allows
(`fold` 0 or 1), take the one where the milking ends no earlier than it begins and lasts the
least; on a tie, the earlier occurrence. The same input always gives the same answer, and each
adjusted time is counted so the cycle can log it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import product
from zoneinfo import ZoneInfo

_HOUR_EDGES = (timedelta(0), timedelta(minutes=59, seconds=59, microseconds=999_999))
_CACHED_HOURS = 1000  # a backlog is read in time order: a few hours would do
_HOUR = timedelta(hours=1)
_MAX_SPAN = timedelta(days=2)  # a page spanning more is converted pair by pair


def _is_shifted(local: datetime) -> bool:
    """True when `local` (tz-aware, zoneinfo) falls in a DST gap or overlap."""
    return local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset()


def _utc(naive: datetime, zone: ZoneInfo, fold: int) -> datetime:
    return naive.replace(tzinfo=zone, fold=fold).astimezone(UTC)


@dataclass
class LocalTimeConverter:
    """Converts local times of one zone; counts the times it had to resolve."""

    zone: ZoneInfo
    ambiguous: int = 0  # in the repeated hour
    nonexistent: int = 0  # in the skipped hour
    examples: list[str] = field(default_factory=list)
    _hours: dict[datetime, timedelta | None] = field(default_factory=dict, repr=False)

    def _steady_offset(self, naive: datetime) -> timedelta | None:
        """The UTC offset of `naive`'s whole local hour, or None if a change falls in that hour.
        Cached per hour: nearly every time of a backlog takes this fast path."""
        hour = naive.replace(minute=0, second=0, microsecond=0)
        try:
            return self._hours[hour]
        except KeyError:
            pass
        offsets = {
            (hour + edge).replace(tzinfo=self.zone, fold=fold).utcoffset()
            for edge in _HOUR_EDGES
            for fold in (0, 1)
        }
        steady = offsets.pop() if len(offsets) == 1 else None
        if len(self._hours) >= _CACHED_HOURS:
            self._hours.clear()
        self._hours[hour] = steady
        return steady

    def _note(self, naive: datetime) -> None:
        # An ambiguous time survives a round trip through UTC; a nonexistent one comes back moved.
        back = _utc(naive, self.zone, 0).astimezone(self.zone).replace(tzinfo=None)
        if back == naive:
            self.ambiguous += 1
        else:
            self.nonexistent += 1
        if len(self.examples) < 3:
            self.examples.append(naive.isoformat(sep=" "))

    def one(self, value: datetime) -> datetime:
        """A single time: the earlier occurrence when ambiguous, the pre-change offset when missing."""
        if value.tzinfo is not None:
            return value.astimezone(UTC)
        if (offset := self._steady_offset(value)) is not None:
            return (value - offset).replace(tzinfo=UTC)
        if _is_shifted(value.replace(tzinfo=self.zone)):
            self._note(value)
        return _utc(value, self.zone, 0)

    def pair(self, begin: datetime, end: datetime) -> tuple[datetime, datetime]:
        """Begin and end of one milking, resolved together (see the module's docstring)."""
        if begin.tzinfo is not None or end.tzinfo is not None:
            return self.one(begin), self.one(end)
        begin_offset, end_offset = self._steady_offset(begin), self._steady_offset(end)
        if begin_offset is not None and end_offset is not None:
            return (begin - begin_offset).replace(tzinfo=UTC), (end - end_offset).replace(tzinfo=UTC)
        begin_shifted = _is_shifted(begin.replace(tzinfo=self.zone))
        end_shifted = _is_shifted(end.replace(tzinfo=self.zone))
        if not (begin_shifted or end_shifted):
            return _utc(begin, self.zone, 0), _utc(end, self.zone, 0)
        if begin_shifted:
            self._note(begin)
        if end_shifted:
            self._note(end)
        best: tuple[datetime, datetime] | None = None
        for begin_fold, end_fold in product(
            (0, 1) if begin_shifted else (0,), (0, 1) if end_shifted else (0,)
        ):
            b, e = _utc(begin, self.zone, begin_fold), _utc(end, self.zone, end_fold)
            if e < b:
                continue
            if best is None or (e - b, b) < (best[1] - best[0], best[0]):
                best = (b, e)
        # No reading makes sense (the source itself has end before begin): leave it to validation.
        return best or (_utc(begin, self.zone, 0), _utc(end, self.zone, 0))

    def pairs(
        self, begins: Sequence[datetime], ends: Sequence[datetime]
    ) -> tuple[list[datetime], list[datetime]]:
        """`pair` for whole columns. A page of a backlog spans hours of one UTC offset (a
        daylight-saving change falls into a few pages a year): then every time converts with that
        offset, as `pair` would; otherwise pair by pair."""
        offset = self._span_offset(begins, ends)
        if offset is None:
            converted = [self.pair(b, e) for b, e in zip(begins, ends, strict=True)]
            return [b for b, _ in converted], [e for _, e in converted]
        return (
            [(b - offset).replace(tzinfo=UTC) for b in begins],
            [(e - offset).replace(tzinfo=UTC) for e in ends],
        )

    def _span_offset(self, begins: Sequence[datetime], ends: Sequence[datetime]) -> timedelta | None:
        """The one offset of every local hour from the earliest naive time to the latest, if the
        span is short and no hour in it is shifted; else None."""
        if not begins or len(begins) != len(ends):
            return None
        try:  # TypeError: aware and naive times mixed, or not times at all
            first, last = min(min(begins), min(ends)), max(max(begins), max(ends))
            if first.tzinfo is not None or last.tzinfo is not None or last - first > _MAX_SPAN:
                return None
        except TypeError:
            return None
        hour = first.replace(minute=0, second=0, microsecond=0)
        offset = self._steady_offset(hour)
        while offset is not None and hour <= last:
            if self._steady_offset(hour) != offset:
                return None
            hour += _HOUR
        return offset

    def summary(self) -> str | None:
        """One log line for what was resolved since the last call, or None; resets the counts."""
        if not (self.ambiguous or self.nonexistent):
            return None
        text = (
            f"{self.ambiguous} local time(s) in a repeated hour and {self.nonexistent} in a skipped hour"
            f" of a daylight-saving change in {self.zone.key} (e.g. {', '.join(self.examples)}); resolved"
            " so each milking ends after it begins and lasts the least, else the earlier occurrence"
        )
        self.ambiguous = self.nonexistent = 0
        self.examples.clear()
        return text
