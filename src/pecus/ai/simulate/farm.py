"""Generate one simulated farm, vectorised with numpy: 1,000 cows x 365 days in seconds.

Time is in hours from the config's start (UTC). Cows get lactations (calving, dry-off), robot
visits with realistic intervals, per-quarter yield and conductivity with cow- and quarter-level
baselines, cell count, blood, flow, kick-offs, MDi; then clinical mastitis episodes and the
confounders of `params.FarmParams` are laid over them. Effect sizes and their sources live in
`params.py`.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from pecus.ai.simulate.params import QUARTERS, SEVERITIES, FarmParams, SimulationConfig

Array = np.ndarray

# Relative clinical-mastitis hazard by days in milk, per lactating day: >22 % of cases in the
# first 7 days and >50 % in the first 90 (Peeler et al. 2002, Vet Rec 151:170). Heifers: lower
# overall (2.9 vs 11.0 cases per 10,000 cow-days) but higher in week one (43.4 vs 31.6)
# (Verbeke et al. 2014, J Dairy Sci 97:6926).
_HAZARD_BOUNDS = np.array([0.0, 7.0, 90.0, 1000.0])
_HAZARD_COWS = np.array([12.0, 1.6, 0.7])
_HAZARD_HEIFERS = _HAZARD_COWS * np.array([1.4, 0.3, 0.3])
# Integral of the cow hazard over a ~340-day lactation: `incidence` cases per lactation cycle.
_HAZARD_PER_CYCLE = 7 * 12.0 + 83 * 1.6 + 250 * 0.7
_MIN_DAYS_BETWEEN_CASES = 14.0  # a recurrence counts as a new case after 14 days (assumption)


@dataclass
class FarmSimulation:
    """A simulated farm. `sessions` holds the contract columns (times UTC) in transaction order;
    `delpro` the same rows as DelPro stores them (local times, per-teat flows, bit masks);
    `labels` the truth per session; `cases` the clinical cases."""

    config: SimulationConfig
    sessions: pd.DataFrame
    delpro: pd.DataFrame
    labels: pd.DataFrame
    animals: pd.DataFrame
    lactations: pd.DataFrame
    cases: pd.DataFrame

    @property
    def history_end(self) -> pd.Timestamp:
        return pd.Timestamp(self.config.start) + pd.Timedelta(days=self.config.days)

    def history_rows(self) -> int:
        """How many sessions (in transaction order) end within the history; the rest are the
        live robot's future milkings."""
        return int(self.sessions["ended_at"].searchsorted(self.history_end))


def _instants(start: pd.Timestamp, seconds: Array) -> pd.DatetimeIndex:
    """UTC instants at whole seconds after `start`."""
    base = int(start.timestamp())
    return pd.DatetimeIndex((base + seconds).astype("datetime64[s]")).tz_localize("UTC")


def simulate_farm(
    cows: int,
    days: float,
    seed: int,
    *,
    start: datetime | None = None,
    params: FarmParams | None = None,
    future_days: float = 0.0,
    emerging_cases: int = 0,
) -> FarmSimulation:
    """Simulate a farm. Without `start`, the history ends at the current hour (UTC)."""
    if start is None:
        now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        start = now - timedelta(days=days)
    config = SimulationConfig(
        cows=cows,
        days=days,
        seed=seed,
        start=start,
        params=params or FarmParams(),
        future_days=future_days,
        emerging_cases=emerging_cases,
    )
    return simulate(config)


@functools.lru_cache(maxsize=4)
def simulate(config: SimulationConfig) -> FarmSimulation:
    """The farm of a config; the same config always gives the same farm (cached per process,
    so the live robot's appends are cheap)."""
    return _Farm(config).run()


class _Farm:
    def __init__(self, config: SimulationConfig) -> None:
        self.cfg = config
        self.p = config.params
        self.rng = np.random.default_rng(config.seed)
        self.hours = config.horizon_hours
        self.n_days = math.ceil(self.hours / 24) + 2

    # --- herd ------------------------------------------------------------------------------
    def herd(self) -> None:
        p, rng, n = self.p, self.rng, self.cfg.cows
        self.robots = max(1, math.ceil(n / p.cows_per_robot))
        self.robot = np.arange(n) % self.robots + 1
        self.numbers = np.sort(rng.choice(np.arange(100, 100 + 10 * n), size=n, replace=False))
        mix = np.asarray(p.parity_mix) / np.sum(p.parity_mix)
        parity = rng.choice(len(mix), size=n, p=mix) + 1
        parity[parity == len(mix)] += rng.integers(0, 4, size=int(np.sum(parity == len(mix))))
        periods: list[tuple[int, float, float, int]] = []
        first_calving = np.empty(n)
        for c in range(n):
            length, dry = rng.uniform(*p.lactation_days), rng.uniform(*p.dry_days)
            calving = -rng.uniform(0, length + dry) * 24
            lactation = int(parity[c])
            first_calving[c] = calving - (lactation - 1) * 400 * 24
            while calving < self.hours:
                periods.append((c, calving, calving + length * 24, min(lactation, 20)))
                calving += (length + dry) * 24
                lactation += 1
                length, dry = rng.uniform(*p.lactation_days), rng.uniform(*p.dry_days)
        self.periods = np.array(
            periods, dtype=[("cow", "i8"), ("calving", "f8"), ("dry", "f8"), ("lac", "i8")]
        )
        # First calving at ~24 months of age (assumption).
        self.birth_h = first_calving - rng.normal(730, 30, n) * 24

        self.cow_peak = np.clip(rng.normal(p.peak_yield_kg, 5.0, n), 25, 60)
        self.cow_ec = np.clip(rng.normal(p.conductivity_ms, p.cow_conductivity_sd, n), 4.0, 6.3)
        self.q_offset = rng.normal(0, p.quarter_offset_sd, (n, 4))
        # Rear quarters give 54-58 % of the milk (Bogucki 2014, S Afr J Anim Sci 44:1).
        share = np.array([0.215, 0.215, 0.285, 0.285]) * np.exp(rng.normal(0, 0.08, (n, 4)))
        self.share = share / share.sum(axis=1, keepdims=True)
        self.cow_flow = np.clip(rng.normal(p.mean_flow_kg_min, p.cow_flow_sd, n), 1.2, 4.5)
        # Healthy cow cell count: median ~50 x1000/mL, < 100 in most (Schukken et al. 2003).
        self.cow_scc = np.exp(rng.normal(np.log(50), 0.5, n))
        self.chronic = np.zeros((n, 4))
        chronic_cows = np.flatnonzero(rng.random(n) < p.chronic_share)
        chronic_q = rng.integers(0, 4, len(chronic_cows))
        self.chronic[chronic_cows, chronic_q] = rng.uniform(*p.chronic_size, len(chronic_cows))
        self.chronic_scc = np.ones((n, 4))
        self.chronic_scc[chronic_cows, chronic_q] = rng.uniform(300, 1500, len(chronic_cows)) / 50
        self.fresh_spread = rng.normal(0, 1, (n, 4))
        self.mean_interval = np.clip(rng.normal(p.mean_interval_h, p.cow_interval_sd_h, n), 6.0, 14.0)

    # --- robot visits ----------------------------------------------------------------------
    def visits(self) -> None:
        p, rng, n = self.p, self.rng, self.cfg.cows
        within_sd = math.sqrt(max(p.interval_sd_h**2 - p.cow_interval_sd_h**2, 1.0))
        shape = (self.mean_interval / within_sd) ** 2
        m = int(self.hours / p.min_interval_h) + 2
        gaps = rng.gamma(shape[:, None], (self.mean_interval / shape)[:, None], size=(n, m))
        np.maximum(gaps, p.min_interval_h, out=gaps)
        times = rng.uniform(0, self.mean_interval)[:, None] - gaps[:, :1] + np.cumsum(gaps, axis=1)
        dim = np.full((n, m), np.nan)
        calving = np.full((n, m), np.nan)
        period = np.full((n, m), -1)
        for i, (c, calv, dry, _lac) in enumerate(self.periods):
            row = times[c]
            inside = (row >= calv) & (row < dry)
            dim[c, inside] = (row[inside] - calv) / 24
            calving[c, inside] = calv
            period[c, inside] = i
        keep = (times < self.hours) & ~np.isnan(dim)
        cow, _ = np.nonzero(keep)
        self.cow = cow
        self.t = times[keep]
        self.calving = calving[keep]
        self.dim = dim[keep]
        self.period = period[keep]
        self.lac = self.periods["lac"][self.period]
        # The udder fills from calving: the first milking's interval is the time since calving.
        self.interval = np.maximum(np.minimum(gaps[keep], self.t - self.calving), 2.0)
        self.day = (self.t // 24).astype(np.int64)
        self.size = len(self.t)
        self.cow_start = np.searchsorted(cow, np.arange(n))
        self.cow_end = np.searchsorted(cow, np.arange(n), side="right")

    # --- herd-wide and robot-wide series --------------------------------------------------
    def _ar1(self, sd: float, phi: float = 0.7) -> Array:
        n, rng = self.cfg.cows, self.rng
        x = np.empty((n, self.n_days))
        x[:, 0] = rng.normal(0, sd, n)
        shocks = rng.normal(0, sd * math.sqrt(1 - phi**2), (n, self.n_days))
        for d in range(1, self.n_days):
            x[:, d] = phi * x[:, d - 1] + shocks[:, d]
        return x

    def _events(self, per_year: float) -> int:
        return int(self.rng.poisson(per_year * self.hours / 24 / 365))

    def environment(self) -> None:
        p, rng, nd = self.p, self.rng, self.n_days
        self.heat_yield, self.heat_ec = np.zeros(nd), np.zeros(nd)
        for _ in range(self._events(p.heat_waves_per_year)):
            d0, length = int(rng.integers(0, nd)), int(rng.integers(3, 9))
            self.heat_yield[d0 : d0 + length] = -0.05
            self.heat_ec[d0 : d0 + length] = 0.02
        self.feed_yield, self.feed_ec = np.zeros(nd), np.zeros(nd)
        for _ in range(self._events(p.feed_changes_per_year)):
            d0 = int(rng.integers(0, nd))
            ramp = np.clip((np.arange(nd) - d0) / 2.0, 0, 1)  # two days to settle
            self.feed_ec += ramp * rng.normal(0, 0.03)
            self.feed_yield += ramp * rng.normal(0, 0.04)
        self.day_ec = self._ar1(p.cow_daily_ec_sd)
        self.day_yield = self._ar1(0.04)

    def sensors(self) -> tuple[Array, Array]:
        """Drift (relative, per session x quarter) and sensor-fault masks (value lost)."""
        p, rng = self.p, self.rng
        drift = np.zeros((self.size, 4))
        fault = np.zeros((self.size, 4), dtype=bool)
        robot = self.robot[self.cow]
        for r in range(1, self.robots + 1):
            for _ in range(self._events(p.drifts_per_robot_year)):
                q, t0 = int(rng.integers(0, 4)), rng.uniform(0, self.hours)
                length, size = rng.uniform(3, 10) * 24, rng.uniform(*p.drift_size)
                hit = (robot == r) & (self.t >= t0) & (self.t < t0 + length)
                drift[hit, q] += size * (self.t[hit] - t0) / length
            for _ in range(self._events(1.0)):  # one sensor fault per robot-year (assumption)
                q, t0 = int(rng.integers(0, 4)), rng.uniform(0, self.hours)
                fault[(robot == r) & (self.t >= t0) & (self.t < t0 + rng.uniform(1, 3) * 24), q] = True
        return drift, fault

    # --- disease ---------------------------------------------------------------------------
    def _snap(self, cow: int, hour: float) -> float | None:
        """The cow's first milking at or after `hour` (within a day): when the farmer sees it."""
        times = self.t[self.cow_start[cow] : self.cow_end[cow]]
        j = int(np.searchsorted(times, hour))
        if j < len(times) and times[j] - hour < 24:
            return float(times[j])
        return None

    def draw_cases(self) -> list[tuple[int, float]]:
        p, rng = self.p, self.rng
        h0 = p.incidence / _HAZARD_PER_CYCLE
        found: list[tuple[int, float]] = []
        for c, calv, dry, lac in self.periods:
            lo = max(0.0, -calv / 24)
            hi = (min(dry, self.hours) - calv) / 24
            if hi <= lo:
                continue
            weights = _HAZARD_HEIFERS if lac == 1 else _HAZARD_COWS
            seg_lo = np.clip(_HAZARD_BOUNDS[:-1], lo, hi)
            seg_hi = np.clip(_HAZARD_BOUNDS[1:], lo, hi)
            mass = (seg_hi - seg_lo) * weights
            count = rng.poisson(h0 * mass.sum())
            for _ in range(count):
                k = rng.choice(3, p=mass / mass.sum())
                hour = self._snap(int(c), calv + rng.uniform(seg_lo[k], seg_hi[k]) * 24)
                if hour is not None:
                    found.append((int(c), hour))
        found.extend(self._emerging(found))
        found.sort()
        kept: list[tuple[int, float]] = []
        for c, hour in found:
            if kept and kept[-1][0] == c and hour - kept[-1][1] < _MIN_DAYS_BETWEEN_CASES * 24:
                continue
            kept.append((c, hour))
        return kept

    def _emerging(self, found: list[tuple[int, float]]) -> list[tuple[int, float]]:
        """Cases diagnosed a few hours after the history ends, their signals rising in its last
        days: what the demo shows arriving."""
        k = self.cfg.emerging_cases
        if k == 0:
            return []
        end = self.cfg.days * 24
        recent = {c for c, hour in found if abs(hour - end) < 30 * 24}
        last_dim = np.full(self.cfg.cows, np.nan)
        at_end = (self.t < end) & (self.t > end - 24)
        last_dim[self.cow[at_end]] = self.dim[at_end]
        eligible = [c for c in np.flatnonzero((last_dim >= 20) & (last_dim <= 250)) if c not in recent]
        chosen = self.rng.choice(eligible, size=min(k, len(eligible)), replace=False)
        out = []
        for c in chosen:
            hour = end + self.rng.uniform(2, 10)
            out.append((int(c), self._snap(int(c), hour) or hour))
        return out

    def disease(self) -> None:
        """Lay clinical cases and subclinical flare-ups over the sessions."""
        p, rng, size = self.p, self.rng, self.size
        self.ec_add = np.zeros((size, 4))
        self.yield_factor = np.ones((size, 4))
        self.log_scc_add = np.zeros((size, 4))
        self.blood_add = np.zeros(size)
        self.discomfort = np.zeros(size)
        self.case_quarter = np.full(size, -1)
        self.label_case = np.full(size, -1)
        self.label_hours = np.full(size, np.nan)

        rows = []
        emerging_hours = self.cfg.days * 24
        for i, (c, diag) in enumerate(self.draw_cases()):
            emerging = self.cfg.emerging_cases > 0 and diag > emerging_hours
            sev_i = (
                int(rng.choice([1, 2], p=[0.6, 0.4])) if emerging else int(rng.choice(3, p=p.severity_mix))
            )
            sev = p.severities[sev_i]
            q = int(rng.integers(0, 4))
            lead = rng.uniform(2.5, 4.0) if emerging else rng.uniform(*p.lead_days)
            cell_lead = rng.uniform(*p.cell_lead_days)
            recovery = rng.uniform(*p.recovery_days)
            ec_rise = rng.uniform(*sev.conductivity)
            if not emerging and rng.random() < p.silent_share:
                ec_rise *= rng.uniform(0, 0.2)
            loss = rng.uniform(*sev.quarter_yield_loss)
            systemic = rng.uniform(*sev.systemic_yield_loss)
            scc_peak = rng.uniform(*sev.cell_count_peak)
            blood = rng.uniform(800, 5000) if rng.random() < sev.blood_probability else 0.0
            sl = slice(self.cow_start[c], self.cow_end[c])
            t = self.t[sl]
            before = np.clip((t - (diag - lead * 24)) / (lead * 24), 0, 1) ** 1.5
            after = np.exp(-np.maximum(t - diag - 12, 0) / (recovery * 24))
            prog = np.where(t <= diag, before, after)
            cells = np.where(
                t <= diag, np.clip((t - (diag - cell_lead * 24)) / (cell_lead * 24), 0, 1), after
            )
            self.ec_add[sl, q] += ec_rise * prog
            self.yield_factor[sl, q] *= 1 - loss * prog
            self.yield_factor[sl] *= (1 - systemic * prog)[:, None]
            base_scc = self.cow_scc[c] * self.chronic_scc[c, q]
            self.log_scc_add[sl, q] += max(np.log(scc_peak / base_scc), 0) * cells
            self.blood_add[sl] += blood * prog**2
            self.discomfort[sl] = np.maximum(self.discomfort[sl], prog)
            self.case_quarter[sl] = np.where(prog > 0.3, q, self.case_quarter[sl])
            # Truth for evaluation: sessions from 7 days before to 14 days after diagnosis.
            near = (t >= diag - 7 * 24) & (t <= diag + 14 * 24)
            hours = diag - t
            current = self.label_hours[sl]
            better = near & (np.isnan(current) | (np.abs(hours) < np.abs(current)))
            self.label_case[sl] = np.where(better, i, self.label_case[sl])
            self.label_hours[sl] = np.where(better, hours, current)
            rows.append((i, c, QUARTERS[q], diag, SEVERITIES[sev_i], diag - lead * 24))
        self.case_rows = rows

        lactating_years = size * p.mean_interval_h / 24 / 365
        for _ in range(int(rng.poisson(p.flare_ups_per_cow_year * lactating_years))):
            s = int(rng.integers(0, size))
            c, t0, q = self.cow[s], self.t[s], int(rng.integers(0, 4))
            length, amount = rng.uniform(1, 3) * 24, rng.uniform(*p.flare_up_size)
            sl = slice(self.cow_start[c], self.cow_end[c])
            t = self.t[sl]
            bump = np.clip(np.minimum((t - t0) / 12, (t0 + length - t) / (length / 2)), 0, 1)
            self.ec_add[sl, q] += amount * bump
            self.log_scc_add[sl, q] += 1.5 * bump

    # --- measurements ----------------------------------------------------------------------
    def measure(self) -> dict[str, Array]:
        p, rng, size = self.p, self.rng, self.size
        cow, day, dim, heifer = self.cow, self.day, self.dim, self.lac == 1
        drift, fault = self.sensors()

        # Yield: Wood curve, cow-day level, herd effects, session noise; quarter shares.
        b = np.where(heifer, p.wood_b[1], p.wood_b[0])
        c = np.where(heifer, p.wood_c[1], p.wood_c[0])
        peak = self.cow_peak[cow] * np.where(heifer, p.heifer_peak_ratio, 1.0)
        d = np.maximum(dim, 0.5)
        daily = peak / ((b / c) ** b * np.exp(-b)) * d**b * np.exp(-c * d)
        nominal = daily * self.interval / 24
        herd = 1 + self.heat_yield[day] + self.feed_yield[day]
        total = nominal * np.exp(self.day_yield[cow, day]) * herd * np.exp(rng.normal(0, 0.05, size))
        share = self.share[cow] * np.exp(rng.normal(0, 0.04, (size, 4)))
        share /= share.sum(axis=1, keepdims=True)
        quarter_yield = total[:, None] * share * self.yield_factor
        expected = nominal * np.exp(rng.normal(0, 0.04, size))

        # Kick-offs (more likely with a painful quarter) and incomplete milkings.
        kick = rng.random(size) < p.kickoff_rate * (1 + 3 * self.discomfort)
        kick_q = np.where(
            (self.case_quarter >= 0) & (rng.random(size) < 0.7), self.case_quarter, rng.integers(0, 4, size)
        )
        inc = rng.random(size) < p.incomplete_rate
        inc_q = rng.integers(0, 4, size)
        rows = np.arange(size)
        quarter_yield[rows[kick], kick_q[kick]] *= rng.uniform(0.1, 0.7, int(kick.sum()))
        quarter_yield[rows[inc], inc_q[inc]] *= rng.uniform(0.5, 0.9, int(inc.sum()))
        incomplete_bits = np.where(kick, 1 << kick_q, 0) | np.where(inc, 1 << inc_q, 0)
        kickoff_bits = np.where(kick, 1 << kick_q, 0)
        quarter_yield = np.minimum(quarter_yield, 25.0)
        total_yield = np.minimum(quarter_yield.sum(axis=1), 50.0)

        # Conductivity per quarter.
        healthy_level = self.cow_ec[cow][:, None] * (1 + self.q_offset[cow]) * (1 + self.chronic[cow])
        fresh = p.fresh_conductivity * np.exp(-dim / 2)[:, None] * (1 + 0.4 * self.fresh_spread[cow])
        late = 0.0002 * dim  # +5 % over a 250-day lactation (assumption)
        level = (
            healthy_level
            * (1 + fresh + late[:, None])
            * np.exp(self.day_ec[cow, day])[:, None]
            * (1 + self.heat_ec[day] + self.feed_ec[day])[:, None]
        )
        ec = level * (1 + drift) * (1 + self.ec_add) * (1 + rng.normal(0, p.sensor_noise, (size, 4)))
        ec[rows[kick], kick_q[kick]] *= 1 + np.abs(rng.normal(0.03, 0.03, int(kick.sum())))
        spikes = rng.random((size, 4)) < p.spike_rate
        ec[spikes] *= 1 + rng.uniform(0.15, 0.4, int(spikes.sum()))
        ec = np.clip(ec, 0, 20)

        # Cell count per quarter, the cow's composite weighted by yield.
        fresh_scc = 1 + 4 * np.exp(-dim / 3)
        quarter_scc = (
            self.cow_scc[cow][:, None]
            * self.chronic_scc[cow]
            * fresh_scc[:, None]
            * np.exp(self.log_scc_add + rng.normal(0, 0.25, (size, 4)))
        )
        scc = np.clip((quarter_scc * quarter_yield).sum(axis=1) / np.maximum(total_yield, 0.1), 1, 20000)

        # Blood: traces, fresh cows (some), clinical cases (some).
        fresh_cow = self.rng.random(len(self.periods)) < p.fresh_blood_share
        fresh_blood = np.where(fresh_cow[self.period], rng.uniform(500, 3000, size) * np.exp(-dim / 1.5), 0)
        blood = np.exp(rng.normal(2.5, 1.0, size)) + fresh_blood + self.blood_add
        blood_max = blood * rng.uniform(1.3, 3.0, size)

        # Flow per quarter; duration = the slowest quarter.
        quarter_flow = (
            self.cow_flow[cow][:, None]
            * share
            * (1 - 0.5 * (1 - self.yield_factor))
            * np.exp(rng.normal(0, 0.05, (size, 4)))
        )
        quarter_flow = np.clip(quarter_flow, 0.05, 5)
        peak_flow = np.clip(quarter_flow * rng.uniform(1.4, 1.9, (size, 4)), 0, 15)
        duration = np.clip((quarter_yield / quarter_flow).max(axis=1) * 60, 30, 3600)

        # MDi stand-in (DeLaval's index is proprietary): relative and inter-quarter
        # conductivity, blood and a long interval; ~1 when healthy, alarm from 1.4.
        rel = ec / healthy_level - 1
        ordered = np.sort(ec, axis=1)
        iqr = ordered[:, 3] / ordered[:, :2].mean(axis=1)
        mdi = (
            0.8
            + 3.0 * np.maximum(rel.max(axis=1), 0)
            + 1.5 * np.maximum(iqr - 1, 0)
            + 0.3 * (blood_max > 1000)
            + 0.25 * np.maximum(self.interval / self.mean_interval[cow] - 1.5, 0)
            + rng.normal(0, 0.08, size)
        )
        mdi = np.clip(mdi, 0, 10)

        # What the sensors lose.
        ec[fault | (rng.random((size, 4)) < p.missing_rate)] = np.nan
        quarter_yield[rng.random((size, 4)) < p.missing_rate / 2] = np.nan
        weights = np.where(np.isnan(ec), 0, np.nan_to_num(quarter_yield, nan=0.25))
        has_ec = ~np.isnan(ec).all(axis=1)
        ec_avg = np.full(size, np.nan)
        ec_avg[has_ec] = (np.nan_to_num(ec[has_ec]) * weights[has_ec]).sum(axis=1) / np.maximum(
            weights[has_ec].sum(axis=1), 1e-9
        )
        ec_max = np.full(size, np.nan)
        ec_max[has_ec] = np.nanmax(ec[has_ec], axis=1) * rng.uniform(1.0, 1.03, int(has_ec.sum()))
        occ = np.where(rng.random(size) < p.occ_share, np.round(scc), np.nan)

        return {
            "yield_kg": total_yield,
            "expected_yield_kg": np.minimum(expected, 50.0),
            "conductivity_avg": np.minimum(ec_avg, 20.0),
            "conductivity_max": np.minimum(ec_max, 20.0),
            **{f"conductivity_{q}": ec[:, i] for i, q in enumerate(QUARTERS)},
            **{f"yield_{q}": quarter_yield[:, i] for i, q in enumerate(QUARTERS)},
            "blood_avg": np.minimum(blood, 10_000) if p.has_blood else np.full(size, np.nan),
            "blood_max": np.minimum(blood_max, 10_000) if p.has_blood else np.full(size, np.nan),
            **{f"mean_flow_{q}": quarter_flow[:, i] for i, q in enumerate(QUARTERS)},
            **{f"peak_flow_{q}": peak_flow[:, i] for i, q in enumerate(QUARTERS)},
            "duration_s": duration,
            "cell_count": occ,
            "mdi": mdi if p.has_mdi else np.full(size, np.nan),
            "incomplete_bits": incomplete_bits,
            "kickoff_bits": kickoff_bits,
        }

    # --- assembly --------------------------------------------------------------------------
    def run(self) -> FarmSimulation:
        self.herd()
        self.visits()
        self.environment()
        self.disease()
        values = self.measure()
        return self.assemble(values)

    def assemble(self, v: dict[str, Array]) -> FarmSimulation:
        rng, tz = self.rng, self.p.time_zone
        start = pd.Timestamp(self.cfg.start).tz_convert("UTC")
        prep = rng.uniform(60, 150, self.size)  # attaching and teat preparation (assumption)
        begin_s = np.round(self.t * 3600).astype(np.int64)
        end_s = begin_s + np.round(v["duration_s"] + prep).astype(np.int64)
        order = np.argsort(end_s, kind="stable")
        begin, end = _instants(start, begin_s[order]), _instants(start, end_s[order])
        cow = self.cow[order]
        calving_utc = _instants(start, np.round(self.calving[order] * 3600).astype(np.int64))
        local_begin = begin.tz_convert(tz).tz_localize(None)
        local_calving = calving_utc.tz_convert(tz).tz_localize(None)
        dim = (local_begin.normalize() - local_calving.normalize()).days
        oid = np.arange(1, self.size + 1)

        def col(name: str, decimals: int = 2) -> Array:
            return np.round(v[name][order], decimals)

        sessions = pd.DataFrame(
            {
                "transaction_id": oid,
                "unit": self.robot[cow].astype(str),
                "animal_id": self.numbers[cow].astype(str),
                "started_at": begin,
                "ended_at": end,
                "yield_kg": col("yield_kg"),
                "expected_yield_kg": col("expected_yield_kg"),
                "conductivity_avg": col("conductivity_avg"),
                "conductivity_max": col("conductivity_max"),
                **{f"conductivity_{q}": col(f"conductivity_{q}") for q in QUARTERS},
                **{f"yield_{q}": col(f"yield_{q}") for q in QUARTERS},
                "blood_avg": col("blood_avg", 0),
                "blood_max": col("blood_max", 0),
                "flow_avg": np.round(np.mean([col(f"mean_flow_{q}") for q in QUARTERS], axis=0), 4),
                "flow_peak": np.max([col(f"peak_flow_{q}") for q in QUARTERS], axis=0),
                "duration_s": np.round(v["duration_s"][order]).astype(np.int64),
                "cell_count": pd.array(col("cell_count", 0), dtype="Int64"),
                "mdi": col("mdi"),
                "incomplete": v["incomplete_bits"][order] != 0,
                "kickoff": v["kickoff_bits"][order] != 0,
                "lactation_number": self.lac[order],
                "days_in_milk": np.asarray(dim, dtype=np.int64),
            }
        )
        delpro = pd.DataFrame(
            {
                "OID": oid,
                "BasicAnimal": cow + 1,
                "MilkingDevice": self.robot[cow],
                "BeginTime": local_begin,
                "EndTime": end.tz_convert(tz).tz_localize(None),
                **{f"MeanFlow{q.upper()}": col(f"mean_flow_{q}") for q in QUARTERS},
                **{f"PeakFlow{q.upper()}": col(f"peak_flow_{q}") for q in QUARTERS},
                "Incomplete": v["incomplete_bits"][order],
                "Kickoff": v["kickoff_bits"][order],
            }
        )
        labels = pd.DataFrame({"case": self.label_case[order], "hours_to_diagnosis": self.label_hours[order]})
        return FarmSimulation(
            config=self.cfg,
            sessions=sessions,
            delpro=delpro,
            labels=labels,
            animals=self._animals(start, tz),
            lactations=self._lactations(start, tz),
            cases=self._cases(start),
        )

    def _animals(self, start: pd.Timestamp, tz: str) -> pd.DataFrame:
        n = self.cfg.cows
        birth = start + pd.to_timedelta(np.round(self.birth_h * 3600), unit="s")
        return pd.DataFrame(
            {
                "OID": np.arange(1, n + 1),
                "Number": self.numbers,
                "Name": [f"Cow {x}" for x in self.numbers],
                "BirthDate": birth.tz_convert(tz).tz_localize(None).normalize(),
            }
        )

    def _lactations(self, start: pd.Timestamp, tz: str) -> pd.DataFrame:
        per = self.periods
        calving = start + pd.to_timedelta(np.round(per["calving"] * 3600), unit="s")
        dry = start + pd.to_timedelta(np.round(per["dry"] * 3600), unit="s")
        return pd.DataFrame(
            {
                "OID": np.arange(1, len(per) + 1),
                "Animal": per["cow"] + 1,
                "LactationNumber": per["lac"],
                "StartDate": calving.tz_convert(tz).tz_localize(None),
                "EndDate": dry.tz_convert(tz).tz_localize(None),
                "start_utc": calving,
                "end_utc": dry,
            }
        )

    def _cases(self, start: pd.Timestamp) -> pd.DataFrame:
        rows = self.case_rows
        return pd.DataFrame(
            {
                "case": [r[0] for r in rows],
                "animal_id": [str(self.numbers[r[1]]) for r in rows],
                "quarter": [r[2] for r in rows],
                "diagnosed_at": start
                + pd.to_timedelta(np.round(np.array([r[3] for r in rows]) * 3600), unit="s"),
                "severity": [r[4] for r in rows],
                "onset_at": start
                + pd.to_timedelta(np.round(np.array([r[5] for r in rows]) * 3600), unit="s"),
            }
        )
