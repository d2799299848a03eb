"""A simulated DeLaval DelPro farm for the demo, the tests, the benchmarks and model training.

sim = simulate_farm(cows=120, days=60, seed=1, emerging_cases=3, future_days=14)
write_delpro(sim, "sqlite:///delpro.sqlite")          # the history, as DelPro stores it
append_milkings("sqlite:///delpro.sqlite", count=5)   # a live robot, later
write_files(sim, Path("out"))                          # sessions.csv + cases.csv
"""

from pecus.ai.simulate.delpro import AppendResult, append_milkings, write_delpro
from pecus.ai.simulate.farm import FarmSimulation, simulate, simulate_farm
from pecus.ai.simulate.files import write_files
from pecus.ai.simulate.params import QUARTER_WORDS, QUARTERS, SEVERITIES, FarmParams, SimulationConfig

__all__ = [
    "QUARTERS",
    "QUARTER_WORDS",
    "SEVERITIES",
    "AppendResult",
    "FarmParams",
    "FarmSimulation",
    "SimulationConfig",
    "append_milkings",
    "simulate",
    "simulate_farm",
    "write_delpro",
    "write_files",
]
