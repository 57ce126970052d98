"""No-show model: the model card, its test-window performance, and monitoring since it went live."""

from __future__ import annotations

import json

import polars as pl
import streamlit as st

from carepulse.dashboard import charts_compare, data, ui
from carepulse.errors import CarePulseError

user = ui.require("page:model")

st.title("No-show model")

from carepulse.metrics.no_show_model import monitoring, registry  # noqa: E402

try:
    current = registry.current_version(data.engine())
except CarePulseError:
    st.info(
        "No model is trained yet. Train one with `carepulse train` (the demo does it for you), "
        "then score the coming appointments with `carepulse score`."
    )
    st.stop()

st.caption(
    f"Version {current.version}, trained {current.trained_at:%Y-%m-%d %H:%M}; "
    f"trained on {current.train_start} to {current.train_end}, tested on {current.test_start} to "
    f"{current.test_end}."
)
card_tab, perf_tab, monitor_tab = st.tabs(["Model card", "Performance", "Monitoring"])

with card_tab:
    st.markdown(current.model_card or "_This version has no model card._")

report = None
with perf_tab, ui.friendly_errors("show the model's performance"):
    from carepulse.metrics.no_show_model.evaluation import EvaluationReport

    stored = current.metrics if isinstance(current.metrics, dict) else json.loads(current.metrics or "{}")
    report = EvaluationReport.from_dict(stored)
    overall = pl.DataFrame(
        [
            {"model": name, **{k: v for k, v in values.items() if not isinstance(v, (dict, list))}}
            for name, values in report.overall.items()
        ],
        infer_schema_length=None,
    )
    st.subheader("Held-out test window")
    st.caption(
        "AUROC: how well the risk ranks no-shows first (0.5 = chance). Brier and ECE: how close the "
        "predicted probabilities are to what happened (lower is better). The baseline is each "
        "patient's own past no-show rate."
    )
    ui.table(overall, "model_performance", user, key="model.overall")
    if report.capacity:
        st.subheader(f"At the outreach capacity ({data.settings().outreach_capacity_per_day} calls a day)")
        capacity = pl.DataFrame(
            [{"model": k, **v} for k, v in report.capacity.items()], infer_schema_length=None
        )
        ui.table(capacity, "model_capacity", user, key="model.capacity")
    curve = report.calibration_curve
    if not curve.is_empty():
        pred = next((c for c in curve.columns if "pred" in c), None)
        obs = next((c for c in curve.columns if "obs" in c), None)
        count = next((c for c in curve.columns if c in ("n", "count", "rows")), None)
        if pred and obs:
            fig = charts_compare.lines(
                curve.sort(pred),
                x=pred,
                ys=[(obs, "Observed no-show rate"), (pred, "Perfect calibration")],
                title="Calibration on the test window: observed against predicted no-show rate",
                x_title="Predicted no-show probability (bin mean)",
                y_title="Observed no-show rate",
                unit="share",
                hover_n=count,
            )
            st.plotly_chart(fig, key="model.calibration")
    subgroups = monitoring.subgroup_calibration(data.engine())
    if not subgroups.is_empty():
        st.subheader("Calibration and discrimination by subgroup")
        st.caption(
            "Flags mark a subgroup whose AUROC is well below the overall one, or whose observed rate is "
            "materially and significantly away from the predicted rate."
        )
        if ui.suppresses_small_cells(user) and "n" in subgroups.columns:
            # the card's suppression: subgroups add up to the overall figures, so small rows alone leak
            from carepulse.metrics.no_show_model.card import suppressed_subgroups

            threshold = data.settings().small_cell_threshold
            subgroups = pl.DataFrame(
                suppressed_subgroups(subgroups.to_dicts(), threshold), infer_schema_length=None
            )
        ui.table(subgroups, "model_subgroups", user, key="model.subgroups")

with monitor_tab, ui.friendly_errors("show the monitoring"):
    frame = data.model_monitoring(ui.loaded_run_id())
    if frame.is_empty():
        st.info(
            "No scored appointment has happened yet: score the coming visits with `carepulse score`; the "
            "weekly comparison appears once those visits are in a later load."
        )
    else:
        shown = ui.suppress(
            frame.rename({"no_shows": "numerator"}).with_columns(pl.col("n").alias("denominator")), user
        )
        if ui.suppresses_small_cells(user):
            shown = shown.with_columns(
                pl.when(pl.col("suppressed")).then(None).otherwise(pl.col(c)).alias(c)
                for c in ("predicted_rate", "observed_rate")
            )
        st.plotly_chart(
            charts_compare.lines(
                shown.sort("week"),
                x="week",
                ys=[("predicted_rate", "Predicted"), ("observed_rate", "Observed")],
                title="Predicted against observed no-show rate, by week of the visit",
                x_title="Week of the visit",
                y_title="No-show rate",
                unit="share",
                hover_n="n",
            ),
            key="model.monitoring",
        )
        st.caption(
            "Scored visits whose outcome is known (cancelled visits left out: the risk is that of a no-show "
            "if the visit is not cancelled). A persistent gap between the lines means the model needs "
            "retraining."
        )
        ui.table(
            shown.rename({"numerator": "no_shows"}).drop("denominator"),
            "model_monitoring",
            user,
            key="model.monitoring_table",
        )
