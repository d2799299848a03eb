"""DelPro local time -> UTC, including both daylight-saving changes of a year in Rome
(2026-03-29 02:00 -> 03:00 skipped; 2026-10-25 02:00-03:00 repeated)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from pecus.agent.localtime import LocalTimeConverter

ROME = ZoneInfo("Europe/Rome")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_ordinary_times_use_the_offset_of_the_season() -> None:
    times = LocalTimeConverter(ROME)
    assert times.pair(datetime(2026, 1, 10, 6, 0), datetime(2026, 1, 10, 6, 7)) == (
        utc(2026, 1, 10, 5, 0),
        utc(2026, 1, 10, 5, 7),
    )
    assert times.one(datetime(2026, 7, 10, 6, 0)) == utc(2026, 7, 10, 4, 0)
    assert times.summary() is None


def test_a_milking_across_the_repeated_hour_ends_after_it_begins() -> None:
    # Began 02:55 summer time, clocks went back at 03:00, ended 02:05 winter time: 10 minutes.
    times = LocalTimeConverter(ROME)
    begin, end = times.pair(datetime(2026, 10, 25, 2, 55), datetime(2026, 10, 25, 2, 5))
    assert (begin, end) == (utc(2026, 10, 25, 0, 55), utc(2026, 10, 25, 1, 5))
    summary = times.summary()
    assert summary is not None and summary.startswith(
        "2 local time(s) in a repeated hour and 0 in a skipped hour"
    )
    assert times.summary() is None  # counts reset once logged


def test_a_milking_inside_the_repeated_hour_takes_the_first_occurrence() -> None:
    times = LocalTimeConverter(ROME)
    assert times.pair(datetime(2026, 10, 25, 2, 10), datetime(2026, 10, 25, 2, 17)) == (
        utc(2026, 10, 25, 0, 10),
        utc(2026, 10, 25, 0, 17),
    )


def test_a_milking_ending_after_the_repeated_hour_takes_the_short_reading() -> None:
    times = LocalTimeConverter(ROME)
    begin, end = times.pair(datetime(2026, 10, 25, 2, 50), datetime(2026, 10, 25, 3, 2))
    assert end == utc(2026, 10, 25, 2, 2)
    assert begin == utc(2026, 10, 25, 1, 50)  # 12 minutes, not 72


def test_times_in_the_skipped_hour() -> None:
    times = LocalTimeConverter(ROME)
    # Ended at a time that does not exist: read with the offset before the change (6 minutes).
    assert times.pair(datetime(2026, 3, 29, 1, 58), datetime(2026, 3, 29, 2, 4)) == (
        utc(2026, 3, 29, 0, 58),
        utc(2026, 3, 29, 1, 4),
    )
    # Began at a time that does not exist, ended at 03:35 summer time (01:35Z): 5 minutes.
    assert times.pair(datetime(2026, 3, 29, 2, 30), datetime(2026, 3, 29, 3, 35)) == (
        utc(2026, 3, 29, 1, 30),
        utc(2026, 3, 29, 1, 35),
    )
    assert times.nonexistent == 2 and times.ambiguous == 0


def test_the_answer_is_the_same_every_time() -> None:
    pairs = [
        (
            datetime(2026, 10, 25, 2, 0) + timedelta(minutes=m),
            datetime(2026, 10, 25, 2, 0) + timedelta(minutes=m + 8),
        )
        for m in range(0, 120, 5)
    ]
    first = [LocalTimeConverter(ROME).pair(b, e) for b, e in pairs]
    again = [LocalTimeConverter(ROME).pair(b, e) for b, e in pairs]
    assert first == again
    assert all(e >= b for b, e in first)


def test_times_that_carry_an_offset_are_only_converted() -> None:
    times = LocalTimeConverter(ROME)
    aware = datetime(2026, 10, 25, 2, 30, tzinfo=timezone(timedelta(hours=2)))
    assert times.one(aware) == utc(2026, 10, 25, 0, 30)
    assert times.summary() is None


def test_a_source_with_end_before_begin_is_left_for_validation() -> None:
    times = LocalTimeConverter(ROME)
    begin, end = times.pair(datetime(2026, 10, 25, 2, 30), datetime(2026, 10, 25, 1, 0))
    assert end < begin  # the cloud will reject it, naming the row


def test_whole_columns_convert_as_pair_by_pair() -> None:
    """`pairs` takes one offset for a page that spans steady hours, and falls back to `pair` for a
    page across a daylight-saving change, a page spanning days, and times with an offset."""
    start = datetime(2026, 10, 24, 20, 0)
    begins = [start + timedelta(minutes=7 * i) for i in range(200)]  # to 2026-10-25 19:13
    ends = [b + timedelta(minutes=6) for b in begins]
    spring = [datetime(2026, 3, 29, 1, 0) + timedelta(minutes=9 * i) for i in range(30)]
    steady = begins[:20]
    long = [datetime(2026, 1, 1) + timedelta(days=i) for i in range(4)]
    aware = [utc(2026, 1, 5, 6, 0), utc(2026, 1, 5, 7, 0)]
    for b, e in ((begins, ends), (spring, spring), (steady, steady), (long, long), (aware, aware), ([], [])):
        one_by_one = LocalTimeConverter(ROME)
        expected = [one_by_one.pair(x, y) for x, y in zip(b, e, strict=True)]
        columns = LocalTimeConverter(ROME)
        got = columns.pairs(b, e)
        assert list(zip(*got, strict=True)) == expected
        assert all(t.tzinfo is UTC for column in got for t in column)
        assert columns.summary() == one_by_one.summary()
    assert LocalTimeConverter(ROME).pairs(steady, steady)[0][0] == utc(2026, 10, 24, 18, 0)
