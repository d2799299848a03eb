"""What a simulated farm looks like: herd, robots, sensors, disease and confounders.

Every effect size names the published figure it follows; where the literature gives no usable
number, the value is marked as an assumption. Figures of the issue's "Facts to build on" are
cited as there. The simulator proves the pipeline, not field accuracy (docs/model-card.md).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

QUARTERS = ("lf", "rf", "lr", "rr")
QUARTER_WORDS = {"lf": "front-left", "rf": "front-right", "lr": "rear-left", "rr": "rear-right"}
SEVERITIES = ("mild", "moderate", "severe")


@dataclass(frozen=True)
class Severity:
    """Size of a clinical case at diagnosis, drawn uniformly within each (low, high) range."""

    # Affected quarter's conductivity rise over its own level. Lely flags +20 % over the lowest
    # quarter; on-line EC around ~11 mS/cm near detection (Acta Vet Hung 2012, 60:145), about
    # double the normal 4-6 mS/cm, so severe cases reach +90 %.
    conductivity: tuple[float, float]
    # Affected quarter's yield loss. Cow-level losses are 1.0-2.5 kg/d in the first two weeks
    # (Rajala-Schultz et al. 1999, J Dairy Sci 82:1213) and 1-8 kg on the day of onset
    # (Hagnestam et al. 2007, J Dairy Sci 90:2260); one quarter gives ~25 % of ~35 kg/d.
    quarter_yield_loss: tuple[float, float]
    # Whole-cow yield loss of systemic illness (severe cases are "systemically ill" in
    # Verbeke et al. 2014, J Dairy Sci 97:6926).
    systemic_yield_loss: tuple[float, float]
    # Affected quarter's cell count at diagnosis, x1000 cells/mL (healthy quarters < 100,
    # infection cut-off 200: Schukken et al. 2003, Vet Res 34:579). Assumption within that frame.
    cell_count_peak: tuple[float, float]
    # Share of cases with visible blood (the issue: "blood appears in some cases"). Assumption.
    blood_probability: float


# In the order of SEVERITIES: mild, moderate, severe.
DEFAULT_SEVERITIES: tuple[Severity, ...] = (
    Severity((0.12, 0.30), (0.05, 0.25), (0.0, 0.0), (1000, 3000), 0.10),
    Severity((0.25, 0.50), (0.15, 0.45), (0.0, 0.10), (2000, 6000), 0.25),
    Severity((0.40, 0.90), (0.30, 0.80), (0.15, 0.40), (4000, 12000), 0.40),
)


@dataclass(frozen=True)
class FarmParams:
    time_zone: str = "Europe/Rome"
    # One DeLaval VMS box serves ~60 cows (assumption: manufacturer's planning figure 60-70).
    cows_per_robot: int = 60

    # --- herd and lactation -------------------------------------------------------------------
    # Lactation number at the start: ~1/3 heifers, as with a ~35 % yearly replacement (assumption).
    parity_mix: tuple[float, ...] = (0.35, 0.26, 0.18, 0.12, 0.09)
    # Wood (1967, Nature 216:164) curve y = a d^b e^(-c d): peak at b/c days. Cows peak ~50-60
    # days in milk; heifers peak lower (~80 %) and decline more slowly (more persistent).
    peak_yield_kg: float = 40.0
    heifer_peak_ratio: float = 0.8
    wood_b: tuple[float, float] = (0.22, 0.16)  # (cows, heifers)
    wood_c: tuple[float, float] = (0.0040, 0.0027)
    lactation_days: tuple[float, float] = (290.0, 370.0)
    dry_days: tuple[float, float] = (45.0, 70.0)

    # --- robot visits ------------------------------------------------------------------------
    # Hogeveen et al. 2001 (Livest Prod Sci 73:157), 107,785 robot milkings: interval 9.2 h
    # (SD 3.3); 9.7 % < 6 h, 17.6 % > 12 h. Robots refuse milking permission below ~4 h.
    mean_interval_h: float = 9.2
    interval_sd_h: float = 3.3
    cow_interval_sd_h: float = 1.0
    min_interval_h: float = 4.0
    # Same study: average flow 2.5 kg/min (SD 0.79).
    mean_flow_kg_min: float = 2.5
    cow_flow_sd: float = 0.55

    # --- conductivity and sensors ------------------------------------------------------------
    # Normal milk 4-6 mS/cm, each cow her own level (the facts).
    conductivity_ms: float = 5.0
    cow_conductivity_sd: float = 0.35
    # Healthy quarters of one cow stay close: the criterion for a healthy quarter is < 0.3 mS/cm
    # above the cow's lowest (Proc NZ Soc Anim Prod 2005, 4,380 quarters), ~6 % at 5 mS/cm.
    quarter_offset_sd: float = 0.03
    # Healthy quarters move in parallel from day to day (Linzell, Peaker & Rowell, J Agric Sci):
    # a day-to-day level shared by the cow's quarters (assumption: 2 %, AR(1) 0.7).
    cow_daily_ec_sd: float = 0.02
    # In-line sensor noise per reading (assumption) and foam/air spikes (assumption).
    sensor_noise: float = 0.02
    spike_rate: float = 0.002
    # Missing readings per quarter value (assumption) and farms without some sensors.
    missing_rate: float = 0.005
    # Share of milkings sampled by the online cell counter (OCC): a farm setting; 0 = no OCC.
    occ_share: float = 0.3
    has_mdi: bool = True
    has_blood: bool = True

    # --- disease ---------------------------------------------------------------------------
    # Clinical cases per cow-year: 0.23 (Olde Riekerink et al. 2008, J Dairy Sci 91:1366),
    # 0.27 (7.4 per 10,000 cow-days, Verbeke et al. 2014), 0.37 (Peeler et al. 2002, Vet Rec
    # 151:170).
    incidence: float = 0.30
    # Verbeke et al. 2014: 63.1 % mild, 29.9 % moderate, 7.0 % severe.
    severity_mix: tuple[float, float, float] = (0.631, 0.299, 0.070)
    # Conductivity rises 1-4 days before clinical signs (the facts); Milner et al. 1997
    # (J Dairy Sci 80:859): 55 % of cases detectable up to 2 milkings before clots.
    lead_days: tuple[float, float] = (1.0, 4.0)
    # Milner et al. 1997: 90 % of cases detectable by conductivity when clots first appear, so
    # one case in ten shows (almost) no conductivity rise.
    silent_share: float = 0.10
    # Cell count rises ~5-8 days before (the facts).
    cell_lead_days: tuple[float, float] = (5.0, 8.0)
    # Signals back to normal over days after treatment: elevated ~4 days, then a gradual return
    # (Acta Vet Hung 2012, 60:145). Time constant in days.
    recovery_days: tuple[float, float] = (2.0, 4.0)
    # Subclinical flare-ups that never turn clinical (a quarter's conductivity and cells rise for
    # 1-3 days): 20 % of quarter-weeks show +10 % over the previous 14 milkings (Vet Rec,
    # "conductivity of quarter milk samples for the early diagnosis of mastitis", 31 cows).
    # Rate per cow-year and size are assumptions; they are labelled healthy.
    flare_ups_per_cow_year: float = 1.5
    flare_up_size: tuple[float, float] = (0.05, 0.20)
    # Chronic subclinical quarters: stable high conductivity and cells (assumption: 8 % of cows).
    chronic_share: float = 0.08
    chronic_size: tuple[float, float] = (0.08, 0.20)
    severities: tuple[Severity, ...] = DEFAULT_SEVERITIES

    # --- confounders -----------------------------------------------------------------------
    # Early lactation: transition milk conducts more for days after calving (the facts;
    # assumption: +25 % at calving, e-fold in 2 days, quarters unequal), and fresh cows often
    # show blood (assumption: 30 % of calvings, 500-3,000 ppm for ~3 days).
    fresh_conductivity: float = 0.25
    fresh_blood_share: float = 0.30
    # Heat waves: -0.2 kg/d per THI unit above 72 (Ravagnolo et al. 2000, J Dairy Sci 83:2120),
    # THI ~80 -> ~-5 % yield; conductivity +2 % herd-wide (assumption).
    heat_waves_per_year: float = 3.0
    # Feed changes: herd-wide steps in conductivity and yield (assumption).
    feed_changes_per_year: float = 4.0
    # Sensor drift: one teat-cup sensor of a robot reads 5-15 % high over 3-10 days until it is
    # recalibrated; every cow milked there shows it (assumption).
    drifts_per_robot_year: float = 2.0
    drift_size: tuple[float, float] = (0.05, 0.15)
    # Kick-offs and incomplete milkings (assumption; Mottram et al., J Dairy Sci, "The role of
    # the cow in automatic teat cup attachment": 13 of 279 visits failed through the cow).
    kickoff_rate: float = 0.03
    incomplete_rate: float = 0.04

    def varied(self, seed: int, strength: float = 1.0) -> FarmParams:
        """Another plausible farm: sensors, disease and confounders drawn around these values.
        Evaluation farms use this, so the model is judged on farms it never saw."""
        rng = np.random.default_rng(seed)

        def scale(value: float, spread: float = 0.3) -> float:
            return float(value * np.exp(rng.normal(0, spread * strength)))

        return dataclasses.replace(
            self,
            incidence=scale(self.incidence),
            sensor_noise=scale(self.sensor_noise, 0.2),
            quarter_offset_sd=scale(self.quarter_offset_sd, 0.2),
            cow_daily_ec_sd=scale(self.cow_daily_ec_sd, 0.2),
            flare_ups_per_cow_year=scale(self.flare_ups_per_cow_year),
            chronic_share=scale(self.chronic_share),
            heat_waves_per_year=scale(self.heat_waves_per_year, 0.5),
            drifts_per_robot_year=scale(self.drifts_per_robot_year, 0.5),
            kickoff_rate=scale(self.kickoff_rate),
            occ_share=float(rng.choice([0.0, 0.2, 0.3, 0.5])),
            has_mdi=bool(rng.random() < 0.8),
            has_blood=bool(rng.random() < 0.8),
            peak_yield_kg=scale(self.peak_yield_kg, 0.1),
            mean_interval_h=scale(self.mean_interval_h, 0.08),
        )

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FarmParams:
        data = dict(data)
        severities = tuple(Severity(**_tuples(s)) for s in data.pop("severities", []))
        fields = {f.name for f in dataclasses.fields(cls)}
        clean = _tuples({k: v for k, v in data.items() if k in fields})
        if severities:
            clean["severities"] = severities
        return cls(**clean)


def _tuples(data: dict[str, Any]) -> dict[str, Any]:
    """JSON lists back to the tuples the frozen dataclasses hold."""
    return {k: tuple(v) if isinstance(v, list) else v for k, v in data.items()}


@dataclass(frozen=True)
class SimulationConfig:
    """Everything that determines a simulated farm: the same config gives the same farm."""

    cows: int
    days: float
    seed: int
    start: datetime  # UTC instant of the first simulated hour
    params: FarmParams = field(default_factory=FarmParams)
    # Milkings simulated after the history, for a "live" robot to add later (append).
    future_days: float = 0.0
    # Clinical cases forced to emerge at the end of the history (the demo's visible cases).
    emerging_cases: int = 0

    def __post_init__(self) -> None:
        if self.cows < 1:
            raise ValueError("cows must be at least 1")
        if self.days <= 0:
            raise ValueError("days must be positive")
        if self.future_days < 0 or self.emerging_cases < 0:
            raise ValueError("future_days and emerging_cases cannot be negative")
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware")

    @property
    def horizon_hours(self) -> float:
        return (self.days + self.future_days) * 24.0

    def to_json(self) -> dict[str, Any]:
        return {
            "cows": self.cows,
            "days": self.days,
            "seed": self.seed,
            "start": self.start.astimezone(UTC).isoformat(),
            "params": self.params.to_json(),
            "future_days": self.future_days,
            "emerging_cases": self.emerging_cases,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SimulationConfig:
        return cls(
            cows=int(data["cows"]),
            days=float(data["days"]),
            seed=int(data["seed"]),
            start=datetime.fromisoformat(data["start"]),
            params=FarmParams.from_json(data["params"]),
            future_days=float(data.get("future_days", 0.0)),
            emerging_cases=int(data.get("emerging_cases", 0)),
        )
