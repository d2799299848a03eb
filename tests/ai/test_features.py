"""Features on hand-made histories: what a rise, a missing sensor or another cow does to them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pytest

from pecus.ai.features import FEATURES, HISTORY_NEEDED_H, compute_features
from pecus.ai.reasons import explain, summary
from pecus.ai.simulate import simulate_farm

START = datetime(2026, 3, 1, tzinfo=UTC)


def milking(animal: str, hours: float, **values: Any) -> dict[str, Any]:
    """A healthy-looking milking `hours` after START; quarter values overridable."""
    row: dict[str, Any] = {
        "transaction_id": int(hours * 10) + (hash(animal) % 1000) * 100_000,
        "unit": "1",
        "animal_id": animal,
        "started_at": START + timedelta(hours=hours),
        "ended_at": START + timedelta(hours=hours, minutes=7),
        "yield_kg": 12.0,
        "expected_yield_kg": 12.0,
        "conductivity_avg": 5.0,
        "conductivity_max": 5.1,
        "conductivity_lf": 5.0,
        "conductivity_rf": 5.0,
        "conductivity_lr": 5.0,
        "conductivity_rr": 5.0,
        "yield_lf": 2.6,
        "yield_rf": 2.6,
        "yield_lr": 3.4,
        "yield_rr": 3.4,
        "blood_avg": 10.0,
        "blood_max": 20.0,
        "flow_avg": 0.6,
        "flow_peak": 1.2,
        "duration_s": 330,
        "cell_count": 50,
        "mdi": 1.0,
        "incomplete": False,
        "kickoff": False,
        "lactation_number": 2,
        "days_in_milk": 120,
    }
    row.update(values)
    return row


def history(animal: str = "101", days: int = 8, every_h: float = 8.0) -> list[dict[str, Any]]:
    return [milking(animal, h) for h in np.arange(0, days * 24, every_h)]


def last(features: pd.DataFrame) -> pd.Series:
    return features.iloc[-1]


def test_a_quarter_rising_30_percent_is_seen_as_such() -> None:
    rows = history()
    rows.append(milking("101", 8 * 24, conductivity_lr=6.5))
    f = last(compute_features(pd.DataFrame(rows)))
    assert f["ec_rel_worst"] == pytest.approx(0.30)
    assert f["worst_quarter"] == 2  # lr: rear-left
    assert f["iqr_worst"] == pytest.approx(1.30)
    assert f["ec_rel_others"] == pytest.approx(0.0)
    assert f["ec_rel_spread"] == pytest.approx(0.30)
    reasons = explain(f.to_dict())
    assert reasons[0]["quarter"] == "lr"
    assert "rear-left conductivity +30 % vs her 7-day level" in summary(reasons)


def test_a_healthy_milking_has_no_rise_and_no_reasons() -> None:
    rows = [*history(), milking("101", 8 * 24)]
    f = last(compute_features(pd.DataFrame(rows)))
    assert f["ec_rel_worst"] == pytest.approx(0.0)
    assert f["iqr_max"] == pytest.approx(1.0)
    assert f["yield_vs_expected"] == pytest.approx(0.0)
    assert explain(f.to_dict()) == []


def test_yield_drop_and_blood_are_measured_and_explained() -> None:
    rows = [*history(), milking("101", 8 * 24, yield_kg=9.6, yield_lr=1.7, blood_max=2400.0)]
    f = last(compute_features(pd.DataFrame(rows)))
    assert f["yield_vs_expected"] == pytest.approx(-0.2)
    assert f["yield_rate_rel"] == pytest.approx(-0.2)
    assert f["yield_rate_rel_min"] == pytest.approx(-0.5)
    assert f["blood"] == 2400.0
    texts = summary(explain(f.to_dict()))
    assert "blood in milk (2,400 ppm)" in texts
    assert "yield −20 % vs expected" in texts


def test_the_baseline_is_the_last_7_days_to_24_hours_before() -> None:
    rows = history(days=10)
    # A very high reading 9 days before the scored milking is outside the 7-day baseline ...
    rows[0]["conductivity_lr"] = 15.0
    # ... and a rise over the last 24 h is "recent", not part of her level.
    for row in rows[-3:]:
        row["conductivity_lr"] = 5.5
    rows.append(milking("101", 10 * 24, conductivity_lr=6.0))
    f = last(compute_features(pd.DataFrame(rows)))
    assert f["ec_rel_worst"] == pytest.approx(0.20)
    assert f["ec_recent_rel_worst"] == pytest.approx(0.10)
    assert f["history_sessions"] == 18  # 6 days x 3 milkings


def test_missing_sensors_stay_missing_never_zero() -> None:
    no_sensors = {
        "conductivity_lf": None, "conductivity_rf": None, "conductivity_lr": None, "conductivity_rr": None,
        "conductivity_avg": None, "conductivity_max": None, "blood_avg": None, "blood_max": None,
        "cell_count": None, "mdi": None, "incomplete": None, "kickoff": None,
    }  # fmt: skip
    rows = [milking("101", h, **no_sensors) for h in np.arange(0, 8 * 24, 8.0)]
    rows.append(milking("101", 8 * 24, **no_sensors))
    f = last(compute_features(pd.DataFrame(rows)))
    for name in (
        "ec_rel_worst",
        "iqr_max",
        "ec_avg_rel",
        "blood",
        "log_cells",
        "mdi",
        "incomplete",
        "kickoff",
    ):
        assert np.isnan(f[name]), name
    # Yield still works without the conductivity sensors.
    assert f["yield_vs_expected"] == pytest.approx(0.0)


def test_optional_columns_may_be_absent() -> None:
    rows = pd.DataFrame([*history(), milking("101", 8 * 24, conductivity_rr=6.0)])
    minimal = rows[
        [
            "animal_id",
            "started_at",
            "conductivity_lf",
            "conductivity_rf",
            "conductivity_lr",
            "conductivity_rr",
        ]
    ]
    f = last(compute_features(minimal))
    assert f["ec_rel_worst"] == pytest.approx(0.2)
    assert np.isnan(f["yield_vs_expected"]) and np.isnan(f["mdi"])


def test_one_quarter_missing_the_others_still_count() -> None:
    rows = [milking("101", h, conductivity_rf=None) for h in np.arange(0, 8 * 24, 8.0)]
    rows.append(milking("101", 8 * 24, conductivity_rf=None, conductivity_rr=6.0))
    f = last(compute_features(pd.DataFrame(rows)))
    assert f["worst_quarter"] == 3
    assert f["ec_rel_worst"] == pytest.approx(0.2)
    assert f["iqr_worst"] == pytest.approx(1.2)  # three quarters are enough for the ratio


def test_without_history_the_baseline_is_missing() -> None:
    f = compute_features(pd.DataFrame([milking("101", 0, conductivity_lr=6.5)]))
    assert np.isnan(f.iloc[0]["ec_rel_worst"])
    assert f.iloc[0]["iqr_worst"] == pytest.approx(1.3)  # the same milking's quarters still compare
    assert f.iloc[0]["history_sessions"] == 0


def test_other_cows_and_later_milkings_do_not_leak_into_a_milking() -> None:
    mine = [*history("101"), milking("101", 8 * 24, conductivity_lr=6.5)]
    alone = compute_features(pd.DataFrame(mine))
    other = [milking("202", h, conductivity_lf=9.0, yield_kg=30.0) for h in np.arange(0, 9 * 24, 8.0)]
    later = [milking("101", 8 * 24 + 8 + h, conductivity_lr=12.0) for h in (0, 8)]
    mixed = pd.DataFrame(mine + other + later)
    together = compute_features(mixed).iloc[: len(mine)]
    pd.testing.assert_frame_equal(alone, together)


def test_row_order_does_not_matter_and_the_index_is_kept() -> None:
    sim = simulate_farm(12, 15, seed=3, start=START)
    sessions = sim.sessions
    straight = compute_features(sessions)
    shuffled = sessions.sample(frac=1.0, random_state=1)
    mixed = compute_features(shuffled)
    assert list(mixed.index) == list(shuffled.index)
    pd.testing.assert_frame_equal(straight, mixed.loc[straight.index])


def test_seven_days_of_history_give_the_same_features_as_the_whole_past() -> None:
    """What live scoring hydrates (the new milkings and HISTORY_NEEDED_H before them) is enough:
    no difference from computing over the farm's whole past, as in training."""
    sim = simulate_farm(15, 30, seed=4, start=START)
    sessions = sim.sessions
    full = compute_features(sessions)
    last_day = sessions["started_at"] >= sessions["started_at"].max() - pd.Timedelta(days=1)
    first_new = sessions.loc[last_day].groupby("animal_id")["started_at"].min()
    since = sessions["animal_id"].map(first_new) - pd.Timedelta(hours=HISTORY_NEEDED_H)
    window = sessions[sessions["started_at"] >= since]
    hydrated = compute_features(window)
    pd.testing.assert_frame_equal(hydrated.loc[last_day[last_day].index], full.loc[last_day[last_day].index])


def test_every_feature_is_computed() -> None:
    sim = simulate_farm(10, 12, seed=6, start=START)
    f = compute_features(sim.sessions)
    assert set(FEATURES) <= set(f.columns)
    late = f[sim.sessions["started_at"] > sim.sessions["started_at"].min() + pd.Timedelta(days=8)]
    share_present = late[list(FEATURES)].notna().mean()
    assert (share_present[share_present.index != "log_cells"] > 0.5).all(), share_present[
        share_present <= 0.5
    ]


def test_features_of_some_rows_equal_those_computed_for_all() -> None:
    sim = simulate_farm(10, 15, seed=7, start=START)
    sessions = sim.sessions.sample(frac=1.0, random_state=2)
    targets = (sessions["transaction_id"] % 3 == 0).to_numpy()
    some = compute_features(sessions, targets)
    assert list(some.index) == list(sessions.index[targets])
    pd.testing.assert_frame_equal(some, compute_features(sessions)[targets])
