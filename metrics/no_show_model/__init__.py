"""No-show risk model: point-in-time features, calibrated gradient boosting, reasons, scoring.

Uses scores for outreach (reminder calls, transport, telehealth offers), never to overbook; see the
model card (:func:`current_model_card`) and ``docs/model.md``.
"""

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
