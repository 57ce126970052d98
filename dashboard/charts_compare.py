"""Comparison figures: the funnel plot (units of different sizes against the overall proportion) and
several named series against one x (predicted against observed).

Drawn from :func:`carepulse.metrics.funnel.funnel_points` and ``funnel_curve``; 2-sigma limits
dashed, 3-sigma dotted, units outside them marked by shape as well as colour.
"""

from __future__ import annotations

from collections.abc import Sequence

import plotly.graph_objects as go
import polars as pl

from carepulse.dashboard.charts import COLOURS, layout

_MARKERS = {
    "within": ("circle", COLOURS["line"]),
    "above 2 sigma": ("triangle-up", COLOURS["concerning"]),
    "below 2 sigma": ("triangle-down", COLOURS["concerning"]),
    "above 3 sigma": ("triangle-up", COLOURS["limit"]),
    "below 3 sigma": ("triangle-down", COLOURS["limit"]),
}


def funnel(
    points: pl.DataFrame,
    curve: pl.DataFrame,
    p0: float,
    *,
    unit: str,
    title: str,
    x_title: str,
    labels: dict[str, str] | None = None,
) -> go.Figure:
    """Each unit's proportion against its size, with the funnel's 2- and 3-sigma limits."""
    fig = go.Figure()
    ns = curve.get_column("n").to_list()
    for column, dash, name in (
        ("upper3", "dot", "3-sigma limits (99.8%)"),
        ("lower3", "dot", None),
        ("upper2", "dash", "2-sigma limits (95%)"),
        ("lower2", "dash", None),
    ):
        fig.add_trace(
            go.Scatter(
                x=ns,
                y=curve.get_column(column).to_list(),
                mode="lines",
                line=dict(color=COLOURS["centre"], dash=dash, width=1),
                name=name or "",
                showlegend=name is not None,
                hoverinfo="skip",
            )
        )
    fig.add_hline(y=p0, line=dict(color=COLOURS["target"], width=1.5), annotation_text=f"overall {p0:.1%}")
    names = [(labels or {}).get(str(u), str(u)) for u in points.get_column(unit).to_list()]
    positions = points.get_column("position").to_list()
    fig.add_trace(
        go.Scatter(
            x=points.get_column("denominator").to_list(),
            y=points.get_column("value").to_list(),
            mode="markers",
            name="Units",
            marker=dict(
                size=10,
                symbol=[_MARKERS[p][0] for p in positions],
                color=[_MARKERS[p][1] for p in positions],
                line=dict(width=1, color="#333"),
            ),
            customdata=[str(u) for u in points.get_column(unit).to_list()],
            text=names,
            hovertext=[
                f"{name}<br>value: {v:.1%}<br>numerator: {a:,.0f}<br>denominator: {b:,.0f}<br>{pos}"
                for name, v, a, b, pos in zip(
                    names,
                    points.get_column("value").to_list(),
                    points.get_column("numerator").to_list(),
                    points.get_column("denominator").to_list(),
                    positions,
                    strict=True,
                )
            ],
            hovertemplate="%{hovertext}<extra></extra>",
        )
    )
    fig = layout(fig, title=title, x_title=x_title, y_title="Percent", unit="proportion")
    fig.update_xaxes(type="log")
    return fig


def lines(
    frame: pl.DataFrame,
    *,
    x: str,
    ys: Sequence[tuple[str, str]],
    title: str,
    x_title: str,
    y_title: str,
    unit: str,
    hover_n: str | None = None,
) -> go.Figure:
    """Several named series against one x (predicted vs observed, calibration)."""
    fig = go.Figure()
    for column, name in ys:
        fig.add_trace(
            go.Scatter(
                x=frame.get_column(x).to_list(),
                y=frame.get_column(column).to_list(),
                mode="lines+markers",
                name=name,
                customdata=frame.get_column(hover_n).to_list() if hover_n else None,
                hovertemplate="%{x}<br>"
                + name
                + ": %{y:.3f}"
                + ("<br>n: %{customdata:,}" if hover_n else "")
                + "<extra></extra>",
            )
        )
    return layout(fig, title=title, x_title=x_title, y_title=y_title, unit=unit)


__all__ = ["funnel", "lines"]
