"""The SPC chart: values, centre line and limits per phase, special-cause points coloured.

Drawn from the frame :func:`carepulse.metrics.spc.spc` computed; shares the palette and layout of
:mod:`.charts`.
"""

from __future__ import annotations

import plotly.graph_objects as go
import polars as pl

from carepulse.dashboard.charts import COLOURS, add_annotations, axis_title, hover_lines, layout, small_mask


def _col(frame: pl.DataFrame, *names: str) -> str | None:
    return next((n for n in names if n in frame.columns), None)


def spc(
    points: pl.DataFrame,
    *,
    title: str,
    unit: str,
    annotations: pl.DataFrame | None = None,
    target: float | None = None,
    small: int | None = None,
    x_title: str = "Week",
) -> go.Figure:
    """SPC chart from ``carepulse.metrics.spc`` points: values, centre line and 3-sigma limits per phase,
    special-cause points coloured (improving / concerning), annotations as dated markers. A partial
    (incomplete) period is drawn hollow and labelled "partial": it sets no limit and raises no signal."""
    x = _col(points, "x", "period", "date")
    if x is None:
        raise ValueError("SPC points need an x, period or date column")
    fig = go.Figure()
    xs = points.get_column(x).to_list()
    values = points.get_column("value").to_list()
    phase_col = _col(points, "phase")
    phases = points.get_column(phase_col).to_list() if phase_col else [1] * len(xs)
    for phase in dict.fromkeys(phases):
        idx = [i for i, p in enumerate(phases) if p == phase]
        px = [xs[i] for i in idx]
        for col, name, dash, colour in (
            ("cl", "Centre line", "solid", COLOURS["centre"]),
            ("ucl", "Upper limit", "dash", COLOURS["limit"]),
            ("lcl", "Lower limit", "dash", COLOURS["limit"]),
        ):
            if col not in points.columns:
                continue
            ys = [points.get_column(col)[i] for i in idx]
            fig.add_trace(
                go.Scatter(
                    x=px,
                    y=ys,
                    mode="lines",
                    name=name,
                    legendgroup=name,
                    showlegend=phase == phases[0],
                    line=dict(color=colour, dash=dash, width=1.5, shape="hv" if col != "cl" else "linear"),
                    hovertemplate=f"{name}: %{{y:.3g}}<extra></extra>",
                )
            )
    kinds = _point_kinds(points)
    small_flags = small_mask(points, small)
    partial = _partial_flags(points)
    hollow = [s or p for s, p in zip(small_flags, partial, strict=True)]
    colours = [COLOURS.get(k, COLOURS["line"]) for k in kinds]
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=values,
            mode="lines+markers",
            name="Value",
            line=dict(color="#888", width=1),
            marker=dict(color=colours, size=8, symbol=["circle-open" if h else "circle" for h in hollow]),
            hovertext=[
                h
                + (f"<br>signal: {k.replace('_', ' ')}" if k not in ("common", None) else "")
                + ("<br>partial period: not in the limits or the rules" if p else "")
                for h, k, p in zip(hover_lines(points, unit, small), kinds, partial, strict=True)
            ],
            hovertemplate="%{x}<br>%{hovertext}<extra></extra>",
        )
    )
    for px, py, p in zip(xs, values, partial, strict=True):
        if p and py is not None:  # labelled on the chart itself, not only in the hover (print, PDF)
            fig.add_annotation(
                x=px, y=py, text="partial", showarrow=False, yshift=14, font=dict(size=11, color="#555")
            )
    if target is not None:
        fig.add_hline(y=target, line=dict(color=COLOURS["target"], dash="dot"), annotation_text="target")
    fig = layout(fig, title=title, x_title=x_title, y_title=axis_title(unit), unit=unit, height=440)
    if annotations is not None and not annotations.is_empty():
        add_annotations(fig, annotations)  # after the layout: it moves the legend out of the titles' way
    return fig


def _partial_flags(points: pl.DataFrame) -> list[bool]:
    """The incomplete periods (``partial`` from the SPC engine): drawn hollow and labelled."""
    if "partial" not in points.columns:
        return [False] * points.height
    return [bool(p) for p in points.get_column("partial").fill_null(False).to_list()]


def _point_kinds(points: pl.DataFrame) -> list[str]:
    """'improving', 'concerning', 'neutral' or 'common' per point, from the SPC columns present."""
    if (
        "nhs_point_type" in points.columns
        and points.get_column("nhs_point_type").null_count() < points.height
    ):
        col = "nhs_point_type"
        mapping = {
            "special_cause_improving": "improving",
            "special_cause_concerning": "concerning",
            "special_cause_neither": "neutral",
            "common_cause": "common",
        }
        return [mapping.get(t, "common") for t in points.get_column(col).to_list()]
    if "signal" in points.columns:
        return ["neutral" if s else "common" for s in points.get_column("signal").fill_null(False).to_list()]
    return ["common"] * points.height


#: A horizontal legend under the plot: where annotation titles (drawn above the plot) cannot overlap it.
