"""Train the mastitis risk model on simulated farms (and the farms' feedback, when given).

Three disjoint groups of simulated farms, by seed:
  * training farms: the classifier learns on them (healthy sessions subsampled, re-weighted);
  * calibration farms: the probabilities are calibrated (sigmoid) and the thresholds chosen
    there: alert at >= 99 % specificity per healthy cow-day, critical at >= 99.9 %;
  * test farms, with parameters drawn more widely (unseen seeds and parameters): the figures
    in the manifest and the model card come from these alone.
"""

from __future__ import annotations

import logging
import platform
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import sklearn
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator

from pecus.ai import rules
from pecus.ai.dataset import FarmPlan, LabelledSet, simulated_set
from pecus.ai.evaluate import Metrics, measure, operating_threshold
from pecus.ai.features import FEATURES
from pecus.ai.model import MastitisModel, new_version

log = logging.getLogger(__name__)

ALERT_SPECIFICITY = 0.99
# Thresholds are set on the calibration farms a little above the target, so that farms the
# model never saw still get >= 99 % (their healthy cows vary more).
CALIBRATION_MARGIN = 0.002
CRITICAL_SPECIFICITY = 0.999


TRAIN_FARMS = FarmPlan(farms=6, cows=250, days=365, first_seed=1000, variation=0.5, incidence_scale=2.0)
CALIBRATION_FARMS = FarmPlan(farms=2, cows=250, days=365, first_seed=5000, variation=0.5)
TEST_FARMS = FarmPlan(farms=4, cows=250, days=365, first_seed=9000, variation=1.0)


@dataclass(frozen=True)
class TrainingPlan:
    train: FarmPlan = TRAIN_FARMS
    calibrate: FarmPlan = CALIBRATION_FARMS
    test: FarmPlan = TEST_FARMS
    healthy_share: float = 0.15  # healthy training sessions kept (weighted back up)
    feedback_weight: float = 20.0  # a farm's confirmed label counts as this many simulated ones
    max_iter: int = 250
    learning_rate: float = 0.08
    workers: int = 2

    @classmethod
    def tiny(cls) -> TrainingPlan:
        """Seconds, for tests: the pipeline, not a usable model."""
        return cls(
            train=FarmPlan(2, 40, 90, 1000, 0.5, incidence_scale=6.0),
            calibrate=FarmPlan(1, 40, 90, 5000, 0.5, incidence_scale=6.0),
            test=FarmPlan(1, 40, 90, 9000, 1.0, incidence_scale=6.0),
            max_iter=20,
            workers=1,
        )


@dataclass
class Evaluation:
    """Scores and figures of a model and the rule baseline on the test farms."""

    model: Metrics
    rule_same_specificity: Metrics
    rule_calibrated: Metrics
    rule_default: Metrics
    by_severity: dict[str, float]
    test: LabelledSet
    model_scores: np.ndarray
    rule_scores: np.ndarray
    plan: TrainingPlan

    def summary(self) -> dict[str, Any]:
        return {
            "test_farms": self.test.description,
            "model": self.model.as_dict(),
            "rule_at_model_specificity": self.rule_same_specificity.as_dict(),
            "rule_at_threshold_set_on_calibration_farms": self.rule_calibrated.as_dict(),
            "rule_at_default_alarms": self.rule_default.as_dict(),
            "model_sensitivity_by_severity": self.by_severity,
        }


@dataclass
class TrainingResult:
    model: MastitisModel
    evaluation: Evaluation
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


def _fit(plan: TrainingPlan, data: LabelledSet) -> HistGradientBoostingClassifier:
    rng = np.random.default_rng(0)
    keep = data.trainable & (
        data.positive | (data.weight != 1.0) | (rng.random(len(data)) < plan.healthy_share)
    )
    y = data.positive[keep].astype(int)
    # Healthy simulated sessions were subsampled: weight them back so the base rate stays true.
    simulated_healthy = (y == 0) & (data.weight[keep] == 1.0)
    weight = np.where(simulated_healthy, 1.0 / plan.healthy_share, data.weight[keep])
    log.info("fitting on %d sessions (%d positive)", len(y), int(y.sum()))
    classifier = HistGradientBoostingClassifier(
        max_iter=plan.max_iter,
        learning_rate=plan.learning_rate,
        max_leaf_nodes=31,
        min_samples_leaf=50,
        l2_regularization=1.0,
        random_state=0,
    )
    classifier.fit(data.features.loc[keep, list(FEATURES)].to_numpy(dtype=float), y, sample_weight=weight)
    return classifier


def _calibrate(classifier: HistGradientBoostingClassifier, data: LabelledSet) -> CalibratedClassifierCV:
    rows = data.trainable
    calibrated = CalibratedClassifierCV(FrozenEstimator(classifier), method="sigmoid")
    calibrated.fit(
        data.features.loc[rows, list(FEATURES)].to_numpy(dtype=float), data.positive[rows].astype(int)
    )
    return calibrated


def evaluate_model(
    model: MastitisModel,
    plan: TrainingPlan,
    *,
    calibration: LabelledSet | None = None,
    test: LabelledSet | None = None,
) -> Evaluation:
    """The model at its own threshold, and the rule baseline, on the plan's test farms."""
    calibration = calibration or simulated_set(plan.calibrate, workers=plan.workers)
    test = test or simulated_set(plan.test, workers=plan.workers, farm_offset=1000)
    scores = model.risk(test.features)
    rule = rules.rule_score(test.features)
    metrics = measure(test, scores, model.threshold)
    rule_cal = operating_threshold(
        calibration, rules.rule_score(calibration.features), ALERT_SPECIFICITY + CALIBRATION_MARGIN
    )
    same = operating_threshold(test, rule, min(metrics.specificity, 1.0))
    by_severity = {}
    for severity in ("mild", "moderate", "severe"):
        ids = test.cases.loc[test.cases["severity"] == severity, "case"].to_numpy()
        mask = np.isin(test.case, ids)
        if mask.any() and (test.positive & mask).any():
            by_severity[severity] = measure(
                test.subset(mask | test.healthy), scores[mask | test.healthy], model.threshold
            ).sensitivity
    return Evaluation(
        model=metrics,
        rule_same_specificity=measure(test, rule, same),
        rule_calibrated=measure(test, rule, rule_cal),
        rule_default=measure(test, rule, rules.DEFAULT_THRESHOLD),
        by_severity=by_severity,
        test=test,
        model_scores=scores,
        rule_scores=rule,
        plan=plan,
    )


def train_model(plan: TrainingPlan | None = None, feedback: LabelledSet | None = None) -> TrainingResult:
    plan = plan or TrainingPlan()
    started = time.monotonic()
    train = simulated_set(plan.train, workers=plan.workers)
    if feedback is not None and len(feedback):
        feedback.weight = np.full(len(feedback), plan.feedback_weight)
        train = LabelledSet.concat([train, feedback])
    calibration = simulated_set(plan.calibrate, workers=plan.workers, farm_offset=500)
    classifier = _fit(plan, train)
    estimator = _calibrate(classifier, calibration)
    version = new_version()
    probe = MastitisModel(version, estimator, FEATURES, 0.5, 0.5)
    cal_scores = probe.risk(calibration.features)
    threshold = operating_threshold(calibration, cal_scores, ALERT_SPECIFICITY + CALIBRATION_MARGIN)
    critical = max(operating_threshold(calibration, cal_scores, CRITICAL_SPECIFICITY), threshold)
    model = MastitisModel(version, estimator, FEATURES, threshold, critical)
    evaluation = evaluate_model(model, plan, calibration=calibration)
    feedback_rows = 0 if feedback is None else len(feedback)
    feedback_positive = 0 if feedback is None else int(feedback.positive.sum())
    model.manifest = {
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "kind": "HistGradientBoostingClassifier + sigmoid calibration",
        "target": "probability that a milking lies in the 48 h before a clinical mastitis diagnosis",
        "training": {
            "plan": asdict(plan),
            "training_farms": train.description,
            "feedback_sessions": feedback_rows,
            "feedback_positive_sessions": feedback_positive,
        },
        "metrics": evaluation.summary(),
        "software": {
            "scikit-learn": sklearn.__version__,
            "numpy": np.__version__,
            "python": platform.python_version(),
        },
    }
    seconds = time.monotonic() - started
    model.manifest["training"]["seconds"] = round(seconds, 1)
    return TrainingResult(model, evaluation, seconds)
