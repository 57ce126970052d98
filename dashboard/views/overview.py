"""Overview: the headline KPIs against target, with change, trend and SPC icons."""

from __future__ import annotations

from typing import Literal

import polars as pl
import streamlit as st

from carepulse.dashboard import charts, data, ui
from carepulse.metrics.kpis import KPI_METRICS, change, rag_status, tile_variation

user = ui.require("page:overview")
run = ui.loaded_run_id()
view = ui.current_filters()

st.title("Overview")
st.caption(f"{view.describe()} - compared with the {view.days} days before.")

BadgeColour = Literal["green", "orange", "red", "gray"]
RAG_BADGE: dict[str, tuple[str, BadgeColour, str]] = {
    "green": ("On target", "green", ":material/check_circle:"),
    "amber": ("Near target", "orange", ":material/warning:"),
    "red": ("Off target", "red", ":material/error:"),
    "none": ("No target", "gray", ":material/remove:"),
}
#: st.metric's delta colour by the metric's better direction (lower is better: a fall shows green).
_DELTA_COLOUR: dict[str, Literal["normal", "inverse", "off"]] = {"lower": "inverse", "higher": "normal"}
VARIATION = {
    "common_cause": ":material/horizontal_rule: common-cause variation",
    "special_cause_improving": ":material/trending_up: special cause, improving",
    "special_cause_concerning": ":material/trending_down: special cause, concerning",
    "special_cause_neither": ":material/swap_vert: special cause",
}
ASSURANCE = {
    "consistently_passing": "will consistently meet the target",
    "consistently_failing": "will consistently miss the target",
    "hit_and_miss": "will hit and miss the target",
    "none": "no assurance (no target or limits)",
}


def _rows(frame: pl.DataFrame) -> dict[str, dict]:
    return {row["metric"]: row for row in frame.iter_rows(named=True)}


filters = view.metric_filters()
previous = view.previous()
with ui.friendly_errors("compute the headline measures"), st.spinner("Computing the headline measures..."):
    current = ui.suppress(
        data.catalogue(KPI_METRICS, run, start=view.start, end=view.end, filters=filters), user
    )
    if previous.end < data.filter_options(run).first_date:  # nothing loaded that early: no query
        before = current.clear()
    else:
        before = ui.suppress(
            data.catalogue(KPI_METRICS, run, start=previous.start, end=previous.end, filters=filters), user
        )
    # The SPC icons read the weekly series unsuppressed: an icon reveals no count, and dropping the small
    # weeks would bias the limits. The sparkline shows the same weeks, suppressed like every number shown.
    weekly = data.catalogue(KPI_METRICS, run, period="week", start=view.start, end=view.end, filters=filters)
    shown_weekly = ui.suppress(weekly, user)

    from carepulse import metrics

    now, then = _rows(current), _rows(before)
    targets = data.settings().targets
    small = data.settings().small_cell_threshold
    summary_rows: list[dict[str, object]] = []
    columns = st.columns(3)
    absent = data.not_supplied(run)
    through = min(view.end, data.filter_options(run).last_date)  # weeks ending later are partial
    for index, name in enumerate(KPI_METRICS):
        definition = metrics.get_metric(name)
        reason = absent.get(name)
        if reason is not None:  # the data cannot support it: say why, never a 0 or an empty sparkline
            summary_rows.append(
                {"metric": name, "title": definition.title, "unit": definition.unit, "status": "not supplied"}
            )
            with columns[index % 3].container(border=True, key=f"tile_{name}"):
                st.metric(definition.title, "Not supplied", help=ui.definition_text(definition))
                st.caption(f"Not supplied: {reason}")
            continue
        row = now.get(name, {})
        value, prior = row.get("value"), then.get(name, {}).get("value")
        delta = change(value, prior)
        target = targets.get(name)
        status = rag_status(value, target, definition.better)
        series = shown_weekly.filter(pl.col("metric") == name).sort("period")
        variation, assurance = tile_variation(
            weekly.filter(pl.col("metric") == name), definition, target=target, as_of=through
        )
        summary_rows.append(
            {
                "metric": name,
                "title": definition.title,
                "unit": definition.unit,
                "value": value,
                "previous": prior,
                "change": delta,
                "target": target,
                "status": status,
                "numerator": row.get("numerator"),
                "denominator": row.get("denominator"),
                "n": row.get("n"),
                "variation": variation,
                "assurance": assurance,
            }
        )
        with columns[index % 3].container(border=True, key=f"tile_{name}"):
            delta_text, unchanged = None, False
            if delta is not None:
                shown = delta * 100 if charts.is_percent(definition.unit) else delta
                unit = "pts" if charts.is_percent(definition.unit) else definition.unit
                unchanged = round(shown, 1) == 0
                delta_text = f"no change ({abs(shown):.1f} {unit})" if unchanged else f"{shown:+.1f} {unit}"
            st.metric(
                definition.title,
                charts.format_value(value, definition.unit),
                delta=delta_text,
                delta_color="off" if unchanged else _DELTA_COLOUR.get(definition.better, "off"),
                delta_arrow="off" if unchanged else "auto",
                delta_description="vs the previous period" if delta_text else None,
                help=ui.definition_text(definition),
            )
            label, colour, icon = RAG_BADGE[status]
            if status == "none" and target is not None:  # a target, but no value to hold against it
                label = "No value to compare"
            target_text = (
                f"target {charts.format_value(target, definition.unit)}" if target is not None else ""
            )
            st.badge(f"{label} ({target_text})" if target_text else label, color=colour, icon=icon)
            if delta is None:
                st.caption("No value for the previous period to compare with.")
            if variation:
                st.caption(f"{VARIATION.get(variation, variation)}; {ASSURANCE.get(assurance, assurance)}")
            if not series.is_empty():
                st.plotly_chart(
                    charts.sparkline(series, unit=definition.unit, title="Weekly trend", small=small),
                    key=f"spark_{name}",
                    config={"displayModeBar": False},
                )
            with st.expander("How this is counted"):
                if row.get("numerator") is not None and row.get("denominator") is not None:
                    st.write(f"Numerator: {row['numerator']:,.0f} - {definition.numerator}")
                    st.write(f"Denominator: {row['denominator']:,.0f} - {definition.denominator}")
                elif row.get("n") is not None:
                    st.write(f"n = {row['n']:,} - {definition.denominator}")
                else:
                    st.write("No value: no cases in this view, or fewer than the small-cell threshold.")
                st.caption(definition.definition)

st.subheader("Headline measures")
ui.table(pl.DataFrame(summary_rows, infer_schema_length=None), "overview_kpis", user, key="overview")
