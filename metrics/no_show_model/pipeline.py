"""The estimators: HistGradientBoosting pipeline, logistic baseline, calibration on a validation window.

Both models are ``Pipeline(ColumnTransformer, classifier)`` and take the feature frame of
:mod:`.features` as a pandas DataFrame. Calibration wraps the frozen, already fitted gradient
boosting pipeline in ``CalibratedClassifierCV`` fitted on the validation window only; isotonic or
sigmoid is chosen by the Brier score of a two-fold (earlier half / later half) split of that window.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import polars as pl
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.frozen import FrozenEstimator
from sklearn.impute import SimpleImputer
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from carepulse.metrics.no_show_model.features import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES

#: Treated as categories by the logistic baseline (a linear model cannot bend hour or weekday).
_LINEAR_CATEGORICAL = CATEGORICAL_FEATURES + ("weekday",)
_LINEAR_NUMERIC = tuple(c for c in NUMERIC_FEATURES if c not in ("weekday", "hour")) + ("hour",)


@dataclass(frozen=True)
class ModelParams:
    """Hyper-parameters (small and fixed: the point is a calibrated, explainable ranking)."""

    # Shallow trees, more of them: on two generated systems (151k appointments each) 5 leaves at
    # 0.05 x 600 closed the AUROC gap to the oracle from 0.022-0.023 (15 leaves, 0.1 x 200) to
    # 0.018-0.019 at the same ECE; no-show risk is mostly additive in its drivers.
    learning_rate: float = 0.05
    max_iter: int = 600
    max_leaf_nodes: int = 5
    min_samples_leaf: int = 100
    l2_regularization: float = 5.0
    early_stopping: bool = True
    random_state: int = 0
    baseline_max_rows: int = 100_000


def to_model_input(features: pl.DataFrame) -> pd.DataFrame:
    """The pandas frame the pipelines expect: every feature, categoricals as strings, numbers as float."""
    return features.select(
        [pl.col(c).cast(pl.String).fill_null("unknown") for c in CATEGORICAL_FEATURES]
        + [pl.col(c).cast(pl.Float64) for c in NUMERIC_FEATURES]
    ).to_pandas()


def gradient_boosting_pipeline(params: ModelParams = ModelParams()) -> Pipeline:
    """ColumnTransformer (ordinal-coded categoricals, numbers as they are) + HistGradientBoosting."""
    encoder = OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
        max_categories=250,  # stays under max_bins; rare providers pool into one bin
    )
    columns = ColumnTransformer(
        [
            ("categories", encoder, list(CATEGORICAL_FEATURES)),
            ("numbers", "passthrough", list(NUMERIC_FEATURES)),
        ],
        verbose_feature_names_out=False,
    )
    classifier = HistGradientBoostingClassifier(
        learning_rate=params.learning_rate,
        max_iter=params.max_iter,
        max_leaf_nodes=params.max_leaf_nodes,
        min_samples_leaf=params.min_samples_leaf,
        l2_regularization=params.l2_regularization,
        early_stopping=params.early_stopping,
        n_iter_no_change=15,
        categorical_features=list(range(len(CATEGORICAL_FEATURES))),
        random_state=params.random_state,
    )
    return Pipeline([("columns", columns), ("classifier", classifier)])


def logistic_pipeline() -> Pipeline:
    """Baseline: one-hot categoricals, imputed and scaled numbers (+ missing flags), logistic regression."""
    numbers = make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler())
    columns = ColumnTransformer(
        [
            (
                "categories",
                OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=20),
                list(_LINEAR_CATEGORICAL),
            ),
            ("numbers", numbers, list(_LINEAR_NUMERIC)),
        ]
    )
    return Pipeline([("columns", columns), ("classifier", LogisticRegression(C=1.0, max_iter=300))])


def fit_models(
    train_x: pd.DataFrame, train_y: np.ndarray, params: ModelParams = ModelParams()
) -> tuple[Pipeline, Pipeline]:
    """Fit the gradient boosting pipeline and the logistic baseline (on at most ``baseline_max_rows``)."""
    if len(np.unique(train_y)) < 2:
        raise ValueError("the training window holds only one class; need both no-shows and kept visits")
    empty = [c for c in NUMERIC_FEATURES if train_x[c].isna().all()]
    if empty:  # HistGradientBoosting cannot bin an all-missing column; a constant one is never split on
        train_x = train_x.assign(**{c: 0.0 for c in empty})
    hgb = gradient_boosting_pipeline(params).fit(train_x, train_y)
    if len(train_x) > params.baseline_max_rows:
        pick = np.random.default_rng(params.random_state).choice(
            len(train_x), params.baseline_max_rows, replace=False
        )
        pick.sort()
        base = logistic_pipeline().fit(train_x.iloc[pick], train_y[pick])
    else:
        base = logistic_pipeline().fit(train_x, train_y)
    return hgb, base


def choose_calibration(
    model: Pipeline, valid_x: pd.DataFrame, valid_y: np.ndarray
) -> tuple[str, dict[str, float]]:
    """Pick ``isotonic`` or ``sigmoid`` by out-of-sample Brier score within the validation window.

    ``valid_x`` is in time order: each method is fitted on one half of the model's decision scores
    and scored on the other, both ways; the lower mean Brier score wins (ties and windows under 2000
    rows go to sigmoid: isotonic overfits small windows).
    """
    scores_x = model.decision_function(valid_x)
    half = len(valid_x) // 2
    folds = [(slice(0, half), slice(half, None)), (slice(half, None), slice(0, half))]
    makers: dict[str, Callable[[], LogisticRegression | IsotonicRegression]] = {
        "sigmoid": lambda: LogisticRegression(C=1e6),
        "isotonic": lambda: IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0),
    }
    result: dict[str, float] = {}
    for method, make in makers.items():
        losses = []
        for fit_part, score_part in folds:
            if len(np.unique(valid_y[fit_part])) < 2:
                continue
            calibrator = make()
            if method == "sigmoid":
                calibrator.fit(scores_x[fit_part, None], valid_y[fit_part])
                p = calibrator.predict_proba(scores_x[score_part, None])[:, 1]
            else:
                calibrator.fit(scores_x[fit_part], valid_y[fit_part])
                p = calibrator.predict(scores_x[score_part])
            losses.append(brier_score_loss(valid_y[score_part], p, labels=[0, 1]))
        result[method] = float(np.mean(losses)) if losses else float("nan")
    iso, sig = result["isotonic"], result["sigmoid"]
    method = (
        "isotonic"
        if (np.isfinite(iso) and np.isfinite(sig) and iso < sig and len(valid_x) >= 2000)
        else "sigmoid"
    )
    return method, result


def calibrate(
    model: Pipeline, valid_x: pd.DataFrame, valid_y: np.ndarray, method: str
) -> CalibratedClassifierCV:
    """The frozen model with one calibrator fitted on the whole validation window."""
    return CalibratedClassifierCV(FrozenEstimator(model), method=method, ensemble=False).fit(valid_x, valid_y)


def inner_pipeline(calibrated: CalibratedClassifierCV) -> Pipeline:
    """The fitted gradient boosting pipeline inside a calibrated model."""
    frozen = calibrated.calibrated_classifiers_[0].estimator
    return frozen.estimator if isinstance(frozen, FrozenEstimator) else frozen


def calibrated_risk(calibrated: CalibratedClassifierCV, decision_scores: np.ndarray) -> np.ndarray:
    """P(no-show) from the inner model's decision scores: what ``calibrated.predict_proba(X)[:, 1]``
    returns, without encoding and predicting the rows a second time."""
    calibrator = calibrated.calibrated_classifiers_[0].calibrators[0]
    risk: np.ndarray = np.clip(calibrator.predict(decision_scores), 0.0, 1.0)
    return risk


__all__ = [
    "calibrated_risk",
    "FEATURES",
    "ModelParams",
    "calibrate",
    "choose_calibration",
    "fit_models",
    "gradient_boosting_pipeline",
    "inner_pipeline",
    "logistic_pipeline",
    "to_model_input",
]
