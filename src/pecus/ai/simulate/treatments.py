"""The treatments a farmer of the simulated farm records in DelPro (`HistoryAnimalTreatment`): the
ground truth the field accuracy report reads back.

* Every clinical case is treated 30 minutes after its diagnosis (the milking where it shows),
  under the farm's own name for it, in the language of its time zone ("Mastite clinica" in
  Italy, "Euterentzündung akut" in Germany, …); about a third get a repeat treatment 2–3 days
  later (another tube, a change of drug), which the report collapses into the same case.
* Other treatments happen too: lameness (0.35 per cow-year) and metritis (0.12 per cow-year), at
  random times (assumed rates of the order reported for European herds; they are there to be
  told apart, not to be accurate).
Drawn from their own random stream, so the milkings of a seed stay exactly what they were.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pecus.ai.simulate.farm import FarmSimulation

REPEAT_SHARE = 0.35
LAMENESS_PER_COW_YEAR = 0.35
METRITIS_PER_COW_YEAR = 0.12
TREATED_AFTER = pd.Timedelta(minutes=30)

# (clinical mastitis, lameness, metritis) as farms type them, by language.
NAMES: dict[str, tuple[str, str, str]] = {
    "it": ("Mastite clinica", "Zoppia", "Metrite"),
    "de": ("Euterentzündung akut", "Lahmheit", "Gebärmutterentzündung"),
    "nl": ("Klinische uierontsteking", "Kreupelheid", "Baarmoederontsteking"),
    "fr": ("Mammite clinique", "Boiterie", "Métrite"),
    "en": ("Clinical mastitis", "Lameness", "Metritis"),
}
DRUGS = ("Cefquinome intramammary", "Meloxicam", "Ceftiofur")
_ZONE_LANGUAGE = {
    "Europe/Rome": "it", "Europe/Berlin": "de", "Europe/Vienna": "de", "Europe/Zurich": "de",
    "Europe/Amsterdam": "nl", "Europe/Brussels": "nl", "Europe/Paris": "fr",
}  # fmt: skip
_STREAM = 0x7EA7  # the treatments' own random stream, beside the seed


def language(time_zone: str) -> str:
    return _ZONE_LANGUAGE.get(time_zone, "en")


def treatments(sim: FarmSimulation) -> pd.DataFrame:
    """Every treatment of the simulated horizon (history and future), in time order, with the
    DelPro columns (OID 1, 2, … in that order; TreatStartDate local) and `started_at` (UTC)."""
    cfg = sim.config
    rng = np.random.default_rng([cfg.seed, _STREAM])
    names = NAMES[language(cfg.params.time_zone)]
    oid_of = dict(zip(sim.animals["Number"].astype(str), sim.animals["OID"], strict=True))
    rows: list[tuple[str, pd.Timestamp, int, int]] = []  # animal, UTC start, kind, duration
    for case in sim.cases.itertuples():
        first = case.diagnosed_at + TREATED_AFTER
        rows.append((case.animal_id, first, 0, int(rng.integers(3, 6))))
        if rng.random() < REPEAT_SHARE:
            rows.append((case.animal_id, first + pd.Timedelta(hours=rng.uniform(48, 72)), 0, 3))
    start = pd.Timestamp(cfg.start).tz_convert("UTC")
    horizon_h = (cfg.days + cfg.future_days) * 24
    numbers = sim.animals["Number"].astype(str).to_numpy()
    for kind, rate in [(1, LAMENESS_PER_COW_YEAR), (2, METRITIS_PER_COW_YEAR)]:
        for _ in range(int(rng.poisson(rate * cfg.cows * horizon_h / 24 / 365))):
            when = start + pd.Timedelta(hours=rng.uniform(0, horizon_h))
            rows.append((str(rng.choice(numbers)), when, kind, int(rng.integers(1, 6))))
    frame = pd.DataFrame(rows, columns=["animal_id", "started_at", "kind", "DurationInDays"])
    frame["started_at"] = pd.to_datetime(frame["started_at"], utc=True).dt.floor("min")
    frame = frame.sort_values(["started_at", "animal_id"], kind="stable").reset_index(drop=True)
    frame["OID"] = np.arange(1, len(frame) + 1)
    frame["Animal"] = frame["animal_id"].map(oid_of).astype(int)
    frame["LactationNumber"] = _lactation_numbers(sim, frame)
    frame["TreatStartDate"] = frame["started_at"].dt.tz_convert(cfg.params.time_zone).dt.tz_localize(None)
    frame["DiagnosesName"] = [names[k] for k in frame["kind"]]
    frame["TreatmentName"] = [DRUGS[k] for k in frame["kind"]]
    return frame


def _lactation_numbers(sim: FarmSimulation, frame: pd.DataFrame) -> pd.Series:
    """The cow's lactation that had begun by the treatment (null before her first calving)."""
    lac = sim.lactations[["start_utc", "Animal", "LactationNumber"]].sort_values("start_utc")
    lac = lac.assign(start_utc=lac["start_utc"].astype(frame["started_at"].dtype))
    found = pd.merge_asof(
        frame[["started_at", "Animal"]], lac, left_on="started_at", right_on="start_utc", by="Animal"
    )
    return pd.Series(pd.array(found["LactationNumber"], dtype="Int64"), index=frame.index)
