"""Top three reasons per appointment, in plain words, from the gradient boosting model itself.

Method (reference ablation, a one-at-a-time occlusion in the spirit of interventional SHAP): for each
reason group (e.g. the prior no-show counts and rates together), replace the row's values with the
training population's typical values (median for numbers, most frequent category) and measure how
much the model's log-odds of a no-show drop. The groups whose own value raises the log-odds most
are the reasons. It explains the model that produces the risk (not a surrogate), and the reference
is a real, typical patient. Only rows whose group value differs from the reference are re-predicted,
and only in the trees, and for the rows, whose path passes a split on the group (``trees.py``): the
same numbers as re-predicting every row with every tree, at about a third of the work.

Demographic features (age, sex, payer class), department/provider and the time slot stay in the
model but are never shown as reasons: a coordinator cannot act on them and naming them invites bias.
A group is only evaluated for rows where it has words (e.g. distance only beyond 10 km).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

import numpy as np
import pandas as pd
import polars as pl
from sklearn.pipeline import Pipeline

from carepulse.metrics.no_show_model.features import CATEGORICAL_FEATURES, FEATURES, NUMERIC_FEATURES
from carepulse.metrics.no_show_model.trees import BoostedTrees


def _plural(n: pl.Expr, one: str, many: str) -> pl.Expr:
    return pl.when(n == 1).then(pl.lit(one)).otherwise(pl.lit(many))


def _count_text(count: pl.Expr, one: str, many: str, tail: str) -> pl.Expr:
    return pl.format("{} {} {}", count.cast(pl.Int64), _plural(count, one, many), pl.lit(tail))


@dataclass(frozen=True)
class ReasonGroup:
    """Features explained together, and the words a coordinator reads (null when not applicable)."""

    name: str
    features: tuple[str, ...]
    text: pl.Expr


REASON_GROUPS: tuple[ReasonGroup, ...] = (
    ReasonGroup(
        "prior_no_shows",
        ("prior_no_shows", "prior_no_shows_12m", "prior_no_show_rate", "prior_no_show_rate_12m"),
        pl.when(pl.col("prior_no_shows_12m") >= 1)
        .then(_count_text(pl.col("prior_no_shows_12m"), "missed visit", "missed visits", "in the last year"))
        .when(pl.col("prior_no_shows") >= 1)
        .then(_count_text(pl.col("prior_no_shows"), "missed visit", "missed visits", "on record")),
    ),
    ReasonGroup(
        "prior_cancellations",
        ("prior_cancellations", "prior_cancellations_12m", "prior_cancellation_rate"),
        pl.when(pl.col("prior_cancellations_12m") >= 1)
        .then(
            _count_text(
                pl.col("prior_cancellations_12m"), "cancelled visit", "cancelled visits", "in the last year"
            )
        )
        .when(pl.col("prior_cancellations") >= 1)
        .then(_count_text(pl.col("prior_cancellations"), "cancelled visit", "cancelled visits", "on record")),
    ),
    ReasonGroup(
        "lead_time",
        ("lead_time_days",),
        pl.when(pl.col("lead_time_days") >= 1.5).then(
            pl.format("booked {} days ahead", pl.col("lead_time_days").round(0).cast(pl.Int64))
        ),
    ),
    ReasonGroup(
        "reminder",
        ("reminder",),
        pl.when(pl.col("reminder") == "none")
        .then(pl.lit("no reminder scheduled"))
        .when(pl.col("reminder") == "sms")
        .then(pl.lit("only a text-message reminder"))
        .when(pl.col("reminder") == "portal")
        .then(pl.lit("only a portal reminder")),
    ),
    ReasonGroup(
        "insurance",
        ("insurance_verified",),
        pl.when(pl.col("insurance_verified") == 0).then(pl.lit("insurance not verified")),
    ),
    ReasonGroup(
        "prior_auth",
        ("pending_prior_auth", "has_referral", "open_referrals"),
        pl.when(pl.col("pending_prior_auth") == 1)
        .then(pl.lit("prior authorization still pending"))
        .when(pl.col("open_referrals") >= 1)
        .then(_count_text(pl.col("open_referrals"), "other referral", "other referrals", "still open")),
    ),
    ReasonGroup(
        "transport",
        ("transport_barrier",),
        pl.when(pl.col("transport_barrier") == 1).then(pl.lit("has a transport barrier")),
    ),
    ReasonGroup(
        "distance",
        ("distance_km",),
        pl.when(pl.col("distance_km") >= 10).then(
            pl.format("lives about {} km away", pl.col("distance_km").round(0).cast(pl.Int64))
        ),
    ),
    ReasonGroup(
        "interpreter",
        ("needs_interpreter", "language"),
        pl.when(pl.col("needs_interpreter") == 1).then(pl.lit("needs an interpreter")),
    ),
    ReasonGroup(
        "portal",
        ("portal_active",),
        pl.when(pl.col("portal_active") == 0).then(pl.lit("not using the patient portal")),
    ),
    ReasonGroup(
        "new_patient",
        ("is_new_patient", "prior_visits", "prior_visits_12m"),
        pl.when(pl.col("is_new_patient") == 1)
        .then(pl.lit("new patient: no completed visit yet"))
        .when(pl.col("prior_visits_12m") == 0)
        .then(pl.lit("no completed visit in the last year")),
    ),
    ReasonGroup(
        "days_since_last_visit",
        ("days_since_last_visit",),
        pl.when(pl.col("days_since_last_visit") >= 30).then(
            pl.format("last visit {} days ago", pl.col("days_since_last_visit").round(0).cast(pl.Int64))
        ),
    ),
    ReasonGroup(
        "same_day",
        ("same_day_appointments",),
        pl.when(pl.col("same_day_appointments") >= 1).then(
            _count_text(
                pl.col("same_day_appointments"), "other appointment", "other appointments", "the same day"
            )
        ),
    ),
    ReasonGroup(
        "modality",
        ("modality",),
        pl.when(
            (pl.col("modality") == "in_person") & pl.col("visit_type").is_in(["follow_up", "annual"])
        ).then(pl.lit("in-person visit that could be held by telehealth")),
    ),
)

GROUP_NAMES: tuple[str, ...] = tuple(g.name for g in REASON_GROUPS)


def reference_values(features: pl.DataFrame) -> dict[str, object]:
    """The typical training row: median of each number, most frequent value of each category."""
    ref: dict[str, object] = {}
    for c in CATEGORICAL_FEATURES:
        mode = features[c].drop_nulls().mode()
        ref[c] = str(mode.sort()[0]) if len(mode) else "unknown"
    for c in NUMERIC_FEATURES:
        med = features[c].cast(pl.Float64).median()
        ref[c] = cast(float, med) if med is not None else float("nan")  # a Float64 median
    return ref


def _differs(values: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Rows whose values differ from the reference in any column (NaN equals NaN)."""
    both_nan = np.isnan(values) & np.isnan(ref)
    differs: np.ndarray = ((values != ref) & ~both_nan).any(axis=1)
    return differs


#: Single-number groups that can only be a reason when the row is above the typical value.
_ABOVE_TYPICAL = {
    "lead_time": "lead_time_days",
    "distance": "distance_km",
    "days_since_last_visit": "days_since_last_visit",
}


def reason_texts(features: pl.DataFrame) -> pl.DataFrame:
    """Each reason group's words for each row (null where the group says nothing about the row)."""
    return features.select([g.text.alias(g.name) for g in REASON_GROUPS])


def eligible_groups(features: pl.DataFrame, texts: pl.DataFrame, reference: dict[str, object]) -> np.ndarray:
    """Rows x groups that may become a reason: the group has words for the row and, for a single
    number (lead time, distance, days since the last visit), the row is above the typical value."""
    checks = []
    for g in GROUP_NAMES:
        ok = pl.col(g).is_not_null()
        if g in _ABOVE_TYPICAL:
            ref = reference.get(_ABOVE_TYPICAL[g])
            if ref is not None and ref == ref:  # not NaN
                ok = ok & (features[_ABOVE_TYPICAL[g]] > ref).fill_null(False)
        checks.append(ok.alias(g))
    return texts.select(checks).to_numpy().reshape(features.height, len(GROUP_NAMES))


def encode(model: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    """The pipeline's encoded matrix (what the boosting classifier sees)."""
    return np.asarray(model[:-1].transform(frame), dtype=np.float64)


@dataclass(frozen=True)
class WalkedRows:
    """Rows encoded once and walked through every tree once; the risk and every ablation reuse them."""

    trees: BoostedTrees
    encoded: np.ndarray  # the pipeline's encoded matrix, one column per feature of FEATURES
    prepared: np.ndarray  # what the trees read
    leaves: np.ndarray  # n_trees x n_rows leaf ids
    log_odds: np.ndarray  # equal to the classifier's decision_function


def walk(model: Pipeline, frame: pd.DataFrame) -> WalkedRows:
    """Encode ``frame`` and find its leaf in every tree of the boosting pipeline ``model``."""
    trees = BoostedTrees(model[-1])
    encoded = encode(model, frame)
    prepared = trees.prepare(encoded)
    leaves = trees.leaves(prepared)
    return WalkedRows(trees, encoded, prepared, leaves, trees.decision(leaves))


def reason_contributions(
    model: Pipeline,
    frame: pd.DataFrame,
    reference: dict[str, object],
    *,
    eligible: np.ndarray | None = None,
    walked: WalkedRows | None = None,
) -> np.ndarray:
    """Log-odds contribution of each reason group per row (n_rows x n_groups).

    For each group: the model's log-odds of the row minus its log-odds with the group's values
    replaced by the reference's. 0 where the row equals the reference in that group, or where
    ``eligible`` (n_rows x n_groups booleans, e.g. "has words") is False: those rows are not
    re-predicted. Only trees that split on the group, and within them only rows whose path passes
    such a split, are walked again (the others keep their leaf, see :mod:`.trees`).
    """
    walked = walk(model, frame) if walked is None else walked
    trees, encoded, prepared, leaves = walked.trees, walked.encoded, walked.prepared, walked.leaves
    ref_frame = pd.DataFrame([{c: reference[c] for c in FEATURES}])[list(frame.columns)]
    ref_encoded = np.asarray(model[:-1].transform(ref_frame), dtype=np.float64)
    ref_prepared = trees.prepare(ref_encoded)[0]
    ref_encoded = ref_encoded[0]
    position = {name: i for i, name in enumerate(FEATURES)}  # ColumnTransformer keeps this order
    contributions = np.zeros((len(frame), len(REASON_GROUPS)))
    for g, group in enumerate(REASON_GROUPS):
        idx = [position[f] for f in group.features]
        touched = [t for t in range(len(trees.trees)) if trees.uses(t, idx)]
        if not touched:  # no tree splits on the group: swapping it cannot change the log-odds
            continue
        differs = _differs(encoded[:, idx], ref_encoded[idx])
        rows = np.flatnonzero(differs if eligible is None else differs & eligible[:, g])
        if not rows.size:
            continue
        cols = trees.to_prepared_columns(idx)
        ablated = prepared[rows]
        ablated[:, cols] = ref_prepared[cols]
        drop = np.zeros(rows.size)
        for t in touched:
            leaf = leaves[t, rows]
            crossing = trees.crosses(t, leaf, idx)
            n_crossing = int(np.count_nonzero(crossing))
            if 2 * n_crossing > rows.size:  # walking every row costs less than copying out the crossing ones
                drop += trees.leaf_values(t, leaf) - trees.predict_tree(
                    t, ablated
                )  # the others add exactly 0
            elif n_crossing:
                hit = np.flatnonzero(crossing)
                drop[hit] += trees.leaf_values(t, leaf[hit]) - trees.predict_tree(t, ablated[hit])
        contributions[rows, g] = drop
    return contributions


def top_reasons(
    features: pl.DataFrame, contributions: np.ndarray, k: int = 3, *, texts: pl.DataFrame | None = None
) -> pl.DataFrame:
    """``reason_1..k`` (words), ``reason_group_1..k`` (group names) per row, strongest first.

    Only groups that raise the risk (positive contribution) and have words for this row qualify.
    """
    texts = reason_texts(features) if texts is None else texts
    text_matrix = texts.to_numpy().astype(object).reshape(len(features), len(GROUP_NAMES))
    has_words = texts.select(pl.all().is_not_null()).to_numpy().reshape(len(features), len(GROUP_NAMES))
    usable = (contributions > 1e-9) & has_words
    score = np.where(usable, contributions, -np.inf)
    order = np.argsort(-score, axis=1, kind="stable")[:, :k]
    rows = np.arange(len(features))[:, None]
    picked_ok = np.isfinite(score[rows, order])
    nothing = np.array(None, dtype=object)  # an object-array None: numpy stubs reject a bare None here
    picked_text = np.where(picked_ok, text_matrix[rows, order], nothing)
    picked_group = np.where(picked_ok, np.array(GROUP_NAMES, dtype=object)[order], nothing)
    out = {}
    for i in range(k):
        out[f"reason_{i + 1}"] = pl.Series(list(picked_text[:, i]), dtype=pl.String)
        out[f"reason_group_{i + 1}"] = pl.Series(list(picked_group[:, i]), dtype=pl.String)
    return pl.DataFrame(out)
