"""How good the scores are: discrimination, calibration, outreach capacity, lift, and by subgroup.

Pure functions of outcomes ``y`` (1 = no-show) and probabilities ``p``. Calibration bins are
equal-count (deciles of predicted risk): no-show risks crowd below 0.3, so equal-width bins would
leave most bins empty. ECE is the count-weighted mean |observed rate - mean predicted| over them.
"""

from __future__ import annotations

import math
from typing import Any, cast

import numpy as np
import polars as pl

#: Subgroups reported for fairness (feature or patient columns of the evaluation frame).
SUBGROUPS: tuple[str, ...] = ("sex", "age_band", "race_ethnicity", "payer_class", "language")

#: A group's AUROC this far below the overall one is flagged.
AUROC_GAP_FLAG = 0.05
#: A group's observed - predicted no-show rate beyond this (and beyond 2 standard errors) is flagged.
CALIBRATION_GAP_FLAG = 0.02
#: Below this many rows a group's metrics are not computed (too noisy to read).
MIN_GROUP_ROWS = 30


def _both_classes(y: np.ndarray) -> bool:
    return 0 < int(y.sum()) < len(y)


def calibration_bins(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pl.DataFrame:
    """Equal-count bins of predicted risk: n, mean predicted, observed rate (the calibration curve)."""
    if len(p) == 0:
        return pl.DataFrame(
            schema={"bin": pl.Int64, "n": pl.Int64, "mean_predicted": pl.Float64, "observed_rate": pl.Float64}
        )
    order = np.argsort(p, kind="stable")
    ranks = np.empty(len(p), dtype=np.int64)
    ranks[order] = np.arange(len(p))
    bin_ids = (ranks * bins) // len(p)
    return (
        pl.DataFrame({"bin": bin_ids + 1, "y": y.astype(np.float64), "p": p.astype(np.float64)})
        .group_by("bin")
        .agg(
            pl.len().cast(pl.Int64).alias("n"),
            pl.col("p").mean().alias("mean_predicted"),
            pl.col("y").mean().alias("observed_rate"),
        )
        .sort("bin")
    )


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """Count-weighted mean |observed - predicted| over equal-count risk bins."""
    if len(p) == 0:
        return float("nan")
    curve = calibration_bins(y, p, bins)
    gaps = (curve["observed_rate"] - curve["mean_predicted"]).abs() * curve["n"]
    return float(gaps.sum()) / float(curve["n"].sum())


def discrimination_and_calibration(y: np.ndarray, p: np.ndarray) -> dict[str, float | int | None]:
    """AUROC, AUPRC, Brier, ECE, prevalence and mean predicted risk (None where undefined)."""
    # Imported on use: the dashboard reads stored reports without paying for scikit-learn's import.
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    both = _both_classes(y)
    return {
        "n": int(len(y)),
        "no_shows": int(y.sum()),
        "prevalence": float(y.mean()) if len(y) else None,
        "mean_predicted": float(p.mean()) if len(p) else None,
        "auroc": float(roc_auc_score(y, p)) if both else None,
        "auprc": float(average_precision_score(y, p)) if both else None,
        "brier": float(brier_score_loss(y, p, labels=[0, 1])) if len(y) else None,
        "ece": expected_calibration_error(y, p) if len(y) else None,
    }


def capacity_precision_recall(
    days: np.ndarray, y: np.ndarray, p: np.ndarray, capacity: int
) -> dict[str, float | int | None]:
    """Precision and recall when coordinators call the ``capacity`` riskiest appointments of each day."""
    frame = pl.DataFrame(
        {"day": days, "y": np.asarray(y, dtype=np.int64), "p": np.asarray(p, dtype=np.float64)}
    )
    chosen = frame.with_columns(
        (pl.col("p").rank("ordinal", descending=True).over("day") <= capacity).alias("called")
    )
    called = chosen.filter(pl.col("called"))
    caught, total, n_called = int(called["y"].sum()), int(frame["y"].sum()), called.height
    return {
        "capacity_per_day": int(capacity),
        "days": int(frame["day"].n_unique()),
        "called": n_called,
        "no_shows_caught": caught,
        "no_shows_total": total,
        "precision": caught / n_called if n_called else None,
        "recall": caught / total if total else None,
        "base_rate": cast(float, frame["y"].mean()) if frame.height else None,
    }


def lift_by_decile(y: np.ndarray, p: np.ndarray) -> pl.DataFrame:
    """Observed no-show rate per decile of risk (10 = riskiest) and its lift over the overall rate."""
    curve = calibration_bins(y, p, 10).rename({"bin": "decile"})
    overall = float(np.mean(y)) if len(y) else float("nan")
    return curve.with_columns((pl.col("observed_rate") / overall).alias("lift"))


def subgroup_report(
    frame: pl.DataFrame, y: np.ndarray, p: np.ndarray, *, subgroups: tuple[str, ...] = SUBGROUPS
) -> pl.DataFrame:
    """Per subgroup value: size, observed and predicted rates, AUROC, Brier, ECE and flags.

    ``auroc_flag``: AUROC more than :data:`AUROC_GAP_FLAG` below the overall AUROC.
    ``calibration_flag``: |observed - predicted| above :data:`CALIBRATION_GAP_FLAG` and beyond two
    binomial standard errors (a real, material departure, not noise).
    """
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y, dtype=np.int64)
    p = np.asarray(p, dtype=np.float64)
    overall_auroc = float(roc_auc_score(y, p)) if _both_classes(y) else None
    rows = []
    for group in subgroups:
        if group not in frame.columns:
            continue
        values = frame[group].cast(pl.String).fill_null("unknown").to_numpy()
        for value in sorted(set(values)):
            mask = values == value
            n = int(mask.sum())
            row = {"subgroup": group, "value": value, "n": n}
            if n < MIN_GROUP_ROWS:
                rows.append(row | {"note": f"fewer than {MIN_GROUP_ROWS} rows: not evaluated"})
                continue
            m = discrimination_and_calibration(y[mask], p[mask])
            observed, predicted = m["prevalence"], m["mean_predicted"]
            assert observed is not None and predicted is not None  # defined for n >= MIN_GROUP_ROWS > 0
            gap = observed - predicted
            se = math.sqrt(max(predicted * (1 - predicted), 1e-12) / n)
            row |= {
                "no_shows": m["no_shows"],
                "observed_rate": m["prevalence"],
                "mean_predicted": m["mean_predicted"],
                "calibration_gap": gap,
                "auroc": m["auroc"],
                "brier": m["brier"],
                "ece": m["ece"],
                "auroc_flag": bool(
                    overall_auroc is not None
                    and m["auroc"] is not None
                    and m["auroc"] < overall_auroc - AUROC_GAP_FLAG
                ),
                "calibration_flag": bool(abs(gap) > CALIBRATION_GAP_FLAG and abs(gap) > 2 * se),
                "note": None,
            }
            rows.append(row)
    schema = {
        "subgroup": pl.String,
        "value": pl.String,
        "n": pl.Int64,
        "no_shows": pl.Int64,
        "observed_rate": pl.Float64,
        "mean_predicted": pl.Float64,
        "calibration_gap": pl.Float64,
        "auroc": pl.Float64,
        "brier": pl.Float64,
        "ece": pl.Float64,
        "auroc_flag": pl.Boolean,
        "calibration_flag": pl.Boolean,
        "note": pl.String,
    }
    return pl.DataFrame(rows, schema=schema)


def age_band(age: pl.Expr) -> pl.Expr:
    """Age bands used in subgroup reports."""
    return (
        pl.when(age < 18)
        .then(pl.lit("0-17"))
        .when(age < 35)
        .then(pl.lit("18-34"))
        .when(age < 50)
        .then(pl.lit("35-49"))
        .when(age < 65)
        .then(pl.lit("50-64"))
        .when(age.is_not_null())
        .then(pl.lit("65+"))
        .otherwise(pl.lit("unknown"))
    )


def race_ethnicity(race: pl.Expr, ethnicity: pl.Expr) -> pl.Expr:
    """Hispanic of any race, else the race (OMB-style combined category)."""
    return pl.when(ethnicity == "hispanic").then(pl.lit("hispanic")).otherwise(race.fill_null("unknown"))


class EvaluationReport:
    """Everything ``carepulse evaluate`` prints: per model overall metrics, curves, capacity, subgroups.

    ``overall`` maps ``model`` / ``baseline`` / ``oracle`` (when the true probabilities are known) to
    :func:`discrimination_and_calibration` dicts; ``capacity`` likewise; frames hold the curves.
    """

    def __init__(
        self,
        *,
        model_version: str | None,
        windows: dict[str, str],
        overall: dict[str, dict[str, Any]],
        capacity: dict[str, dict[str, Any]],
        calibration_curve: pl.DataFrame,
        lift: pl.DataFrame,
        subgroups: pl.DataFrame,
        calibration_method: str | None = None,
        calibration_scores: dict[str, float] | None = None,
    ):
        self.model_version = model_version
        self.windows = windows
        self.overall = overall
        self.capacity = capacity
        self.calibration_curve = calibration_curve
        self.lift = lift
        self.subgroups = subgroups
        self.calibration_method = calibration_method
        self.calibration_scores = calibration_scores or {}

    @property
    def oracle_gap(self) -> float | None:
        """Oracle AUROC minus model AUROC (None without the true probabilities)."""
        oracle, model = self.overall.get("oracle"), self.overall.get("model")
        if not oracle or not model or oracle.get("auroc") is None or model.get("auroc") is None:
            return None
        return float(oracle["auroc"] - model["auroc"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "windows": self.windows,
            "calibration_method": self.calibration_method,
            "calibration_scores": self.calibration_scores,
            "overall": self.overall,
            "oracle_auroc_gap": self.oracle_gap,
            "capacity": self.capacity,
            "calibration_curve": self.calibration_curve.to_dicts(),
            "lift_by_decile": self.lift.to_dicts(),
            "subgroups": self.subgroups.to_dicts(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvaluationReport:
        return cls(
            model_version=data.get("model_version"),
            windows=data.get("windows", {}),
            overall=data.get("overall", {}),
            capacity=data.get("capacity", {}),
            calibration_curve=pl.DataFrame(data.get("calibration_curve", [])),
            lift=pl.DataFrame(data.get("lift_by_decile", [])),
            subgroups=pl.DataFrame(data.get("subgroups", []), infer_schema_length=None),
            calibration_method=data.get("calibration_method"),
            calibration_scores=data.get("calibration_scores"),
        )


def build_report(
    test: pl.DataFrame,
    predictions: dict[str, np.ndarray],
    *,
    capacity: int,
    model_version: str | None = None,
    windows: dict[str, str] | None = None,
    calibration_method: str | None = None,
    calibration_scores: dict[str, float] | None = None,
) -> EvaluationReport:
    """The report for a test window: ``test`` has ``no_show``, ``scheduled_start`` and subgroup columns;
    ``predictions`` maps ``model``, ``baseline`` and optionally ``oracle`` to probabilities."""
    y = test["no_show"].to_numpy().astype(np.int64)
    days = test["scheduled_start"].dt.date().to_numpy()
    overall = {name: discrimination_and_calibration(y, p) for name, p in predictions.items()}
    cap = {name: capacity_precision_recall(days, y, p, capacity) for name, p in predictions.items()}
    p = predictions["model"]
    return EvaluationReport(
        model_version=model_version,
        windows=windows or {},
        overall=overall,
        capacity=cap,
        calibration_curve=calibration_bins(y, p),
        lift=lift_by_decile(y, p),
        subgroups=subgroup_report(test, y, p),
        calibration_method=calibration_method,
        calibration_scores=calibration_scores,
    )
