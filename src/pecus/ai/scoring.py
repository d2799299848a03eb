"""`pecus model score`: score a CSV of sessions (the contract's columns) with the model.

Columns may come in any order, optional ones may be absent, rows of many cows in any order; a
session's history is the same cow's earlier sessions in the file. Every value is checked
against the contract (`pecus.contract.session.MilkingSession`: types and ranges) before
anything is scored; the first bad value stops the run with its line, column and reason, and
no output file is written.
"""

from __future__ import annotations

import csv
import os
import tempfile
import typing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import AwareDatetime
from pydantic.fields import FieldInfo

from pecus.ai.features import compute_features
from pecus.ai.model import MastitisModel
from pecus.contract.session import REQUIRED_COLUMNS, SESSION_COLUMNS, MilkingSession

OUTPUT_COLUMNS = ("transaction_id", "unit", "risk_score", "alert")
_TRUE = {"true", "t", "1", "yes"}
_FALSE = {"false", "f", "0", "no"}


class InputError(ValueError):
    """Bad input, with the line (1 = the header) and column it concerns."""


@dataclass(frozen=True)
class _Spec:
    kind: type
    lower: tuple[float, bool] | None  # (bound, inclusive)
    upper: tuple[float, bool] | None
    max_length: int | None


def _spec(name: str) -> _Spec:
    """Type and limits of a contract column, read from the pydantic model (no second copy)."""
    field = MilkingSession.model_fields[name]
    metadata: list[Any] = list(field.metadata)
    kind: type = object

    def visit(annotation: Any) -> None:
        nonlocal kind
        if typing.get_origin(annotation) is typing.Annotated:
            base, *extras = typing.get_args(annotation)
            for extra in extras:
                metadata.extend(extra.metadata if isinstance(extra, FieldInfo) else [extra])
            visit(base)
        elif typing.get_args(annotation):
            for arg in typing.get_args(annotation):
                visit(arg)
        elif isinstance(annotation, type) and annotation is not type(None):
            kind = datetime if annotation is AwareDatetime or issubclass(annotation, datetime) else annotation

    visit(field.annotation)
    lower = upper = None
    max_length = None
    for m in metadata:  # annotated_types constraints: Ge, Gt, Le, Lt, MaxLen
        if getattr(m, "ge", None) is not None:
            lower = (float(m.ge), True)
        elif getattr(m, "gt", None) is not None:
            lower = (float(m.gt), False)
        elif getattr(m, "le", None) is not None:
            upper = (float(m.le), True)
        elif getattr(m, "lt", None) is not None:
            upper = (float(m.lt), False)
        elif getattr(m, "max_length", None) is not None:
            max_length = int(m.max_length)
    return _Spec(kind, lower, upper, max_length)


def _fail(row: int, column: str, message: str) -> typing.NoReturn:
    raise InputError(f"line {row + 2}, column {column!r}: {message}")


def _first(mask: np.ndarray) -> int | None:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if len(hits) else None


def _parse_column(name: str, raw: pd.Series) -> pd.Series:
    spec = _spec(name)
    text = raw.str.strip()
    empty = (text == "").to_numpy()
    if name in REQUIRED_COLUMNS and (row := _first(empty)) is not None:
        _fail(row, name, "a value is required")
    if spec.kind is str:
        too_long = (text.str.len() > (spec.max_length or 64)).to_numpy()
        if (row := _first(too_long)) is not None:
            _fail(row, name, f"longer than {spec.max_length} characters")
        return text
    if spec.kind is bool:
        lowered = text.str.lower()
        bad = ~empty & ~lowered.isin(_TRUE | _FALSE).to_numpy()
        if (row := _first(bad)) is not None:
            _fail(row, name, f"{raw.iloc[row]!r} is not true/false")
        return lowered.map(lambda v: True if v in _TRUE else False if v in _FALSE else None).astype("boolean")
    if spec.kind is datetime:
        parsed = pd.to_datetime(text.where(~empty), format="ISO8601", errors="coerce", utc=True)
        bad = ~empty & parsed.isna().to_numpy()
        if (row := _first(bad)) is not None:
            _fail(row, name, f"{raw.iloc[row]!r} is not an ISO-8601 time")
        naive = ~empty & ~text.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True).to_numpy()
        if (row := _first(naive)) is not None:
            _fail(row, name, f"{raw.iloc[row]!r} has no UTC offset (write e.g. 2026-03-01T05:12:00Z)")
        return parsed
    numbers = pd.to_numeric(text.where(~empty), errors="coerce").astype(float)
    values = numbers.to_numpy()
    bad = ~empty & ~np.isfinite(values)
    if (row := _first(bad)) is not None:
        _fail(row, name, f"{raw.iloc[row]!r} is not a number")
    if spec.kind is int and (row := _first(~empty & (np.mod(values, 1) != 0))) is not None:
        _fail(row, name, f"{raw.iloc[row]!r} is not a whole number")
    with np.errstate(invalid="ignore"):
        if spec.lower is not None:
            bound, inclusive = spec.lower
            low = values < bound if inclusive else values <= bound
            if (row := _first(~empty & low)) is not None:
                _fail(
                    row,
                    name,
                    f"{raw.iloc[row]} must be {'≥' if inclusive else '>'} {bound:g}",
                )
        if spec.upper is not None:
            bound, inclusive = spec.upper
            high = values > bound if inclusive else values >= bound
            if (row := _first(~empty & high)) is not None:
                _fail(
                    row,
                    name,
                    f"{raw.iloc[row]} is above the maximum {bound:g}"
                    if inclusive
                    else f"{raw.iloc[row]} must be < {bound:g}",
                )
    return numbers


def read_sessions(path: Path) -> pd.DataFrame:
    """Read and check a sessions CSV; columns outside the contract are ignored."""
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, na_filter=False)
    except pd.errors.EmptyDataError as exc:
        raise InputError(f"{path}: the file is empty (a header line is required)") from exc
    except pd.errors.ParserError as exc:
        raise InputError(f"{path}: {exc}") from exc
    raw.columns = [c.strip() for c in raw.columns]
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise InputError(f"line 1 (header): missing required column(s): {', '.join(missing)}")
    duplicated = raw.columns[raw.columns.duplicated()].tolist()
    if duplicated:
        raise InputError(f"line 1 (header): column(s) named twice: {', '.join(duplicated)}")
    frame = pd.DataFrame(
        {
            name: _parse_column(name, raw[name])
            for name in SESSION_COLUMNS
            if name in raw.columns and name != "extra"
        }
    )
    ids = frame["transaction_id"].to_numpy()
    repeated = pd.Series(ids).duplicated().to_numpy()
    if (row := _first(repeated)) is not None:
        first = int(np.flatnonzero(ids == ids[row])[0])
        _fail(row, "transaction_id", f"{int(ids[row])} repeats line {first + 2}")
    if (row := _first((frame["started_at"] > frame["ended_at"]).to_numpy())) is not None:
        _fail(row, "started_at", "is after ended_at")
    frame["transaction_id"] = frame["transaction_id"].astype(np.int64)
    return frame


def score_frame(model: MastitisModel, sessions: pd.DataFrame) -> pd.DataFrame:
    risk = model.risk(compute_features(sessions))
    return pd.DataFrame(
        {
            "transaction_id": sessions["transaction_id"].to_numpy(),
            "unit": sessions["unit"].to_numpy(),
            "risk_score": np.round(risk, 6),
            "alert": (risk >= model.threshold).astype(int),
        }
    )


def score_csv(model: MastitisModel, source: Path, target: Path) -> pd.DataFrame:
    """Score `source` into `target` (written whole or not at all). Returns the scores."""
    scores = score_frame(model, read_sessions(source))
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as handle:
            scores.to_csv(handle, index=False, quoting=csv.QUOTE_MINIMAL)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return scores
