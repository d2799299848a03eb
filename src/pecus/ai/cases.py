"""Clinical mastitis cases from the farm's own treatment records (DelPro's HistoryAnimalTreatment).

Diagnosis names are free text the farm typed into DelPro ("Mastite clinica", "MASTITIS VL",
"Euterentzündung akut"). A treatment is clinical mastitis when its name contains one of the farm's
patterns (`tenants.mastitis_patterns`), compared without case and accents, so "Mastite" also
matches "mastité" and "EUTERENTZÜNDUNG" matches "euterentzundung".

A cow treated again within 5 days of her previous mastitis treatment is the same case (a repeat
treatment, another tube, a change of drug): one case per run of starts at most 5 days apart, its
onset the first start. Pure functions: the report and the training labels build on them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

DEFAULT_PATTERNS: tuple[str, ...] = ("mastitis", "mastite", "euterentzündung", "uierontsteking", "mammite")
"""The migration's default of `tenants.mastitis_patterns` (it, en, de, nl, fr)."""

CASE_GAP = timedelta(days=5)


def fold(text: str) -> str:
    """Lower case without accents: "Euterentzündung" -> "euterentzundung", "Mastité" -> "mastite"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def matches(diagnosis: str, patterns: Iterable[str]) -> bool:
    """Whether the diagnosis name contains one of the patterns (case- and accent-insensitive)."""
    name = fold(diagnosis)
    return any(p and fold(p) in name for p in (p.strip() for p in patterns))


@dataclass(frozen=True)
class Treatment:
    animal_id: str
    started_at: datetime
    diagnosis: str


@dataclass
class Case:
    """One cow's clinical mastitis: treatments whose starts are at most 5 days apart."""

    animal_id: str
    onset: datetime
    treatments: list[Treatment] = field(default_factory=list)

    @property
    def diagnoses(self) -> list[str]:
        """The distinct names used, in the order first seen."""
        return list(dict.fromkeys(t.diagnosis for t in self.treatments))


def collapse(treatments: Iterable[Treatment], gap: timedelta = CASE_GAP) -> list[Case]:
    """Cases from (already matched) treatments, by onset then cow: a treatment starting within
    `gap` of the cow's previous one joins that case, so a chain of repeats stays one case."""
    cases: list[Case] = []
    last: dict[str, tuple[Case, datetime]] = {}
    for t in sorted(treatments, key=lambda t: (t.animal_id, t.started_at)):
        open_case = last.get(t.animal_id)
        if open_case is not None and t.started_at - open_case[1] <= gap:
            case = open_case[0]
        else:
            case = Case(t.animal_id, t.started_at)
            cases.append(case)
        case.treatments.append(t)
        last[t.animal_id] = (case, t.started_at)
    return sorted(cases, key=lambda c: (c.onset, c.animal_id))


def mastitis_cases(treatments: Sequence[Treatment], patterns: Iterable[str]) -> list[Case]:
    """The farm's clinical mastitis cases: matched treatments, collapsed."""
    wanted = list(patterns)
    return collapse(t for t in treatments if matches(t.diagnosis, wanted))


__all__ = [
    "CASE_GAP",
    "DEFAULT_PATTERNS",
    "Case",
    "Treatment",
    "collapse",
    "fold",
    "mastitis_cases",
    "matches",
]
