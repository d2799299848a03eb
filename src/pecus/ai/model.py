"""The mastitis risk model as a versioned artifact: `<folder>/<version>/model.joblib` plus
`manifest.json` (version, SHA-256 of the joblib file, feature list, thresholds, metrics, how it
was trained, approval).

A joblib file is a pickle, and unpickling runs code: an artifact is only unpickled after its
SHA-256 matches the manifest that came with it (shipped in the package, or stored in the
database by `pecus model train --register`). A changed or corrupted file is refused.

Versions are UTC times, `YYYY.MM.DD-HHMMSS`: sorting them sorts by age. The models shipped in
`pecus/ai/models/` are approved by release (their figures are in docs/model-card.md); models
trained on a farm's feedback are approved in the database (`pecus model approve`), see
`pecus.ai.registry`.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from pecus.ai.features import FEATURES

MODEL_FILE = "model.joblib"
MANIFEST_FILE = "manifest.json"


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()


def _one_thread() -> Any:
    return _controller().limit(limits=1, user_api="openmp")


class ModelIntegrityError(Exception):
    """An artifact whose bytes do not match its manifest's SHA-256, or a malformed manifest."""


def new_version(now: datetime | None = None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y.%m.%d-%H%M%S")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class MastitisModel:
    """A calibrated classifier over `features`; `risk` gives the probability that a milking lies
    in the 48 h before a clinical diagnosis."""

    version: str
    estimator: Any
    features: tuple[str, ...]
    threshold: float  # default alert threshold (>= 99 % specificity per healthy cow-day)
    critical_threshold: float  # default critical level (>= 99.9 % specificity)
    manifest: dict[str, Any] = field(default_factory=dict)

    def risk(self, features: pd.DataFrame) -> np.ndarray:
        """Risk per row. Runs on one OpenMP thread: scoring happens in the API's worker threads,
        several batches at once, and OpenMP threads fighting over the cores made one batch
        5-30x slower on a busy 2-core machine (bench/inference.py)."""
        if len(features) == 0:
            return np.empty(0)
        matrix = features[list(self.features)].to_numpy(dtype=float)
        with _one_thread():
            return np.asarray(self.estimator.predict_proba(matrix)[:, 1], dtype=float)

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        joblib.dump(self.estimator, buffer, compress=3)
        return buffer.getvalue()

    def full_manifest(self, artifact: bytes) -> dict[str, Any]:
        return {
            **self.manifest,
            "version": self.version,
            "sha256": sha256(artifact),
            "features": list(self.features),
            "threshold": self.threshold,
            "critical_threshold": self.critical_threshold,
        }


def save(model: MastitisModel, folder: Path) -> Path:
    """Write `<folder>/<version>/` and return that directory."""
    target = folder / model.version
    target.mkdir(parents=True, exist_ok=False)
    artifact = model.to_bytes()
    (target / MODEL_FILE).write_bytes(artifact)
    (target / MANIFEST_FILE).write_text(
        json.dumps(model.full_manifest(artifact), indent=2, sort_keys=True) + "\n"
    )
    return target


def from_bytes(artifact: bytes, manifest: dict[str, Any]) -> MastitisModel:
    """Check the artifact against its manifest, then load it."""
    try:
        expected = manifest["sha256"]
        features = tuple(manifest["features"])
        version = manifest["version"]
        threshold = float(manifest["threshold"])
        critical = float(manifest["critical_threshold"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelIntegrityError(f"manifest is missing or has a bad field: {exc}") from exc
    actual = sha256(artifact)
    if actual != expected:
        raise ModelIntegrityError(
            f"model {version}: SHA-256 of the artifact is {actual}, the manifest says {expected};"
            " refusing to load it"
        )
    unknown = set(features) - set(FEATURES)
    if unknown:
        raise ModelIntegrityError(
            f"model {version} uses features this code does not compute: {sorted(unknown)}"
        )
    estimator = joblib.load(io.BytesIO(artifact))
    return MastitisModel(version, estimator, features, threshold, critical, manifest)


def load(path: Path) -> MastitisModel:
    """Load `<folder>/<version>/` (the directory holding model.joblib and manifest.json)."""
    manifest_path, model_path = path / MANIFEST_FILE, path / MODEL_FILE
    if not manifest_path.is_file() or not model_path.is_file():
        raise FileNotFoundError(f"{path} is not a model directory (needs {MODEL_FILE} and {MANIFEST_FILE})")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as exc:
        raise ModelIntegrityError(f"{manifest_path}: not valid JSON ({exc})") from exc
    return from_bytes(model_path.read_bytes(), manifest)


def packaged_folder() -> Path:
    return Path(str(resources.files("pecus.ai"))) / "models"


def model_dirs(folder: Path) -> list[Path]:
    """Model directories in `folder`, oldest version first."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if (p / MANIFEST_FILE).is_file())


def packaged_model() -> MastitisModel:
    """The newest model shipped with the package: the system works with no training step."""
    dirs = model_dirs(packaged_folder())
    if not dirs:
        raise FileNotFoundError(f"no model shipped in {packaged_folder()}")
    return load(dirs[-1])


def resolve(name: str | None) -> MastitisModel:
    """A model by path (a model directory) or by packaged version; None = the newest packaged."""
    if name is None:
        return packaged_model()
    path = Path(name)
    if path.is_dir():
        return load(path)
    candidate = packaged_folder() / name
    if candidate.is_dir():
        return load(candidate)
    raise FileNotFoundError(f"no model directory {name!r} (and no packaged version of that name)")
