"""No-show risk model: point-in-time features, calibrated gradient boosting, reasons, scoring.

Uses scores for outreach (reminder calls, transport, telehealth offers), never to overbook; see the
model card (:func:`current_model_card`) and ``docs/model.md``.
"""

import os

# On a shared, busy machine OpenMP's default spin-waiting makes HistGradientBoosting several times
# slower (measured 45 s vs 8 s for the same fit at load 12 on 2 cores); passive waiting costs
# little when idle. Only a default, and only effective before scikit-learn's OpenMP runtime loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from metrics.no_show_model.evaluation import EvaluationReport
from metrics.no_show_model.features import FEATURES, appointment_features, labelled_examples
from metrics.no_show_model.registry import ModelVersion, current_model_card, current_version, load_current
from metrics.no_show_model.scoring import (
    current_scores,
    monitoring_frame,
    score_frame,
    score_upcoming,
    subgroup_calibration,
)
from metrics.no_show_model.training import evaluate_model, train_model

__all__ = [
    "FEATURES",
    "EvaluationReport",
    "ModelVersion",
    "appointment_features",
    "current_model_card",
    "current_scores",
    "current_version",
    "evaluate_model",
    "labelled_examples",
    "load_current",
    "monitoring_frame",
    "score_frame",
    "score_upcoming",
    "subgroup_calibration",
    "train_model",
]
