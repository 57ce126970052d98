"""No-show risk model: point-in-time features, calibrated gradient boosting, reasons, scoring.

Uses scores for outreach (reminder calls, transport, telehealth offers), never to overbook; see the
model card (:func:`current_model_card`) and ``docs/model.md``.
"""

import os

# On a shared, busy machine OpenMP's default spin-waiting makes HistGradientBoosting several times
# slower (measured 45 s vs 8 s for the same fit at load 12 on 2 cores); passive waiting costs
# little when idle. Only a default, and only effective before scikit-learn's OpenMP runtime loads.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import importlib
from typing import Any

#: Public name -> submodule. Loaded on first use (PEP 562), so that reading the registry or the
#: monitoring (the dashboard's model page) does not pay for importing scikit-learn (~1.5 s).
_EXPORTS = {
    "FEATURES": "features",
    "EvaluationReport": "evaluation",
    "ModelVersion": "registry",
    "appointment_features": "features",
    "current_model_card": "registry",
    "current_scores": "scoring",
    "current_version": "registry",
    "evaluate_model": "training",
    "labelled_examples": "features",
    "load_current": "registry",
    "monitoring_frame": "monitoring",
    "monitoring_table": "monitoring",
    "score_frame": "scoring",
    "score_upcoming": "scoring",
    "subgroup_calibration": "monitoring",
    "train_model": "training",
}

__all__ = sorted(_EXPORTS)  # noqa: PLE0605 (lazy exports, PEP 562)


def __getattr__(name: str) -> Any:  # Any: the lazily loaded function, class or constant
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
