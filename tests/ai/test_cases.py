"""Diagnosis names to clinical mastitis, and treatments to cases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from pecus.ai.cases import DEFAULT_PATTERNS, Treatment, collapse, fold, mastitis_cases, matches

T0 = datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "name",
    [
        "Mastite clinica",  # it
        "MASTITIS",  # en
        "Clinical mastitis LF",
        "Euterentzündung akut",  # de
        "EUTERENTZUNDUNG",  # without the umlaut, as some keyboards type it
        "klinische uierontsteking",  # nl
        "Mammite clinique",  # fr
        "Mastité",  # accent where the pattern has none
    ],
)
def test_mastitis_names_match_the_default_patterns(name: str) -> None:
    assert matches(name, DEFAULT_PATTERNS)


@pytest.mark.parametrize("name", ["Zoppia", "Lameness", "Metritis", "Klauenerkrankung", "Boiterie", ""])
def test_other_diagnoses_do_not_match(name: str) -> None:
    assert not matches(name, DEFAULT_PATTERNS)


def test_a_farm_pattern_of_its_own_and_blank_patterns() -> None:
    assert matches("MAST VL", ["mast "])
    assert not matches("Mastite", ["  ", ""])  # a blank pattern matches nothing, not everything
    assert matches("Euterentzündung", ["ENTZÜNDUNG"])
    assert fold("Euterentzündung") == "euterentzundung"


def _t(animal: str, days: float, diagnosis: str = "Mastite clinica") -> Treatment:
    return Treatment(animal, T0 + timedelta(days=days), diagnosis)


def test_treatments_within_5_days_collapse_into_one_case() -> None:
    cases = collapse([_t("7", 0), _t("7", 2.5, "Mastite ricaduta"), _t("7", 7), _t("7", 20), _t("8", 1)])
    assert [(c.animal_id, c.onset, len(c.treatments)) for c in cases] == [
        ("7", T0, 3),  # 0 -> 2.5 -> 7: each within 5 days of the previous one
        ("8", T0 + timedelta(days=1), 1),
        ("7", T0 + timedelta(days=20), 1),
    ]
    assert cases[0].diagnoses == ["Mastite clinica", "Mastite ricaduta"]


def test_exactly_5_days_is_the_same_case_and_a_minute_more_is_not() -> None:
    five = collapse([_t("1", 0), _t("1", 5)])
    assert len(five) == 1
    later = collapse([_t("1", 0), Treatment("1", T0 + timedelta(days=5, minutes=1), "Mastitis")])
    assert [c.onset for c in later] == [T0, T0 + timedelta(days=5, minutes=1)]


def test_cases_of_a_multilingual_farm_ignore_other_treatments() -> None:
    treatments = [
        _t("1", 0, "Mastite clinica"),
        _t("1", 1, "Zoppia"),  # lameness between two mastitis treatments: not part of the case
        _t("1", 3, "MASTITIS"),
        _t("2", 0, "Euterentzündung akut"),
        _t("3", 0, "klinische uierontsteking"),
        _t("4", 0, "Mammite clinique"),
        _t("5", 0, "Metritis"),
        _t("6", 0, "Lameness"),
    ]
    cases = mastitis_cases(treatments, DEFAULT_PATTERNS)
    assert [(c.animal_id, len(c.treatments)) for c in cases] == [("1", 2), ("2", 1), ("3", 1), ("4", 1)]
    assert cases[0].diagnoses == ["Mastite clinica", "MASTITIS"]
