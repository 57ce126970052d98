"""The fast reason ablation (tree by tree, only rows whose path crosses the group) equals the
straightforward one: swap the group's values for the reference and re-predict every row."""

import datetime as dt

import numpy as np
import polars as pl
import pytest

from carepulse.metrics.no_show_model.pipeline import ModelParams, gradient_boosting_pipeline, to_model_input
from carepulse.metrics.no_show_model.reasons import (
    REASON_GROUPS,
    eligible_groups,
    reason_contributions,
    reason_texts,
    reference_values,
    top_reasons,
    walk,
)
from carepulse.metrics.no_show_model.toy import toy_health_system
from carepulse.metrics.no_show_model.training import labelled_dataset

AS_OF = dt.datetime(2026, 6, 30)


@pytest.fixture(scope="module")
def fitted():
    """A small boosting pipeline, its reference patient, and 1,500 rows to explain."""
    frames = toy_health_system(patients=300, appointments=6000, seed=5)
    data = labelled_dataset(frames, AS_OF, 27530)
    x = to_model_input(data)
    model = gradient_boosting_pipeline(ModelParams(max_iter=40, min_samples_leaf=20)).fit(
        x, data["no_show"].to_numpy()
    )
    reference = reference_values(data)
    rows = data.tail(1500).with_columns(  # a provider the model never saw: encoded as missing
        pl.when(pl.int_range(pl.len()) % 50 == 0)
        .then(pl.lit("P999"))
        .otherwise(pl.col("provider_id"))
        .alias("provider_id")
    )
    return model, reference, rows


def straightforward_contributions(model, x, reference, eligible):
    """Per group: the row's log-odds minus its log-odds with the group set to the reference."""
    base = model.decision_function(x)
    out = np.zeros((len(x), len(REASON_GROUPS)))
    for g, group in enumerate(REASON_GROUPS):
        ablated = x.copy()
        for feature in group.features:
            ablated[feature] = reference[feature]
        out[:, g] = np.where(eligible[:, g], base - model.decision_function(ablated), 0.0)
    return out


def test_walked_log_odds_equal_decision_function_exactly(fitted):
    model, _, rows = fitted
    x = to_model_input(rows)
    walked = walk(model, x)
    assert np.array_equal(walked.log_odds, model.decision_function(x))
    assert walked.leaves.shape == (len(walked.trees.trees), len(x))


def test_fast_reasons_equal_the_per_group_computation(fitted):
    model, reference, rows = fitted
    x = to_model_input(rows)
    texts = reason_texts(rows)
    eligible = eligible_groups(rows, texts, reference)
    slow = straightforward_contributions(model, x, reference, eligible)
    fast = reason_contributions(model, x, reference, eligible=eligible)
    # not vacuous: several groups move the log-odds, and some rows are skipped as not eligible
    assert (np.abs(slow) > 1e-6).any(axis=0).sum() >= 5 and not eligible.all()
    np.testing.assert_allclose(fast, slow, rtol=0, atol=1e-10)
    assert top_reasons(rows, fast, texts=texts).equals(top_reasons(rows, slow, texts=texts))
    # without an eligibility mask every row is explained, still the same numbers
    everyone = np.ones_like(eligible)
    np.testing.assert_allclose(
        reason_contributions(model, x, reference),
        straightforward_contributions(model, x, reference, everyone),
        rtol=0,
        atol=1e-10,
    )


def test_fast_reasons_skip_trees_that_never_split_on_the_group(fitted):
    model, _, rows = fitted
    trees = walk(model, to_model_input(rows.head(10))).trees
    position = {f: i for i, f in enumerate(model[:-1].get_feature_names_out())}
    used = [
        sum(trees.uses(t, [position[f] for f in g.features]) for t in range(len(trees.trees)))
        for g in REASON_GROUPS
    ]
    assert max(used) > 0 and min(used) < len(trees.trees)  # some groups touch only part of the forest
