"""Plotly figures from computed frames: trend with confidence band, Pareto, bars, sparkline.

Compute once, draw separately (the scikit-learn Display idea): every function takes a frame that
:mod:`carepulse.metrics` already computed and only decides how it looks. Every figure has a title in words,
axis titles with units (the SPC chart is in :mod:`.spc_chart`), and a hover that shows numerator and denominator (or n); points resting on
fewer cases than the small-cell threshold are drawn hollow and say so in the hover.
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import polars as pl

#: Okabe-Ito colours (distinguishable with the common colour-vision deficiencies); shapes and dash
#: styles carry the same meaning, so no colour is the only cue.
COLOURS = {
    "line": "#0072B2",
    "band": "rgba(0, 114, 178, 0.15)",
    "centre": "#555555",
    "limit": "#D55E00",
    "improving": "#0072B2",
    "concerning": "#E69F00",
    "neutral": "#CC79A7",
    "target": "#009E73",
    "annotation": "#6d4c41",
    "bar": "#0072B2",
    "cumulative": "#D55E00",
}

FONT = dict(family="Source Sans Pro, Arial, sans-serif", size=13)


def axis_title(unit: str) -> str:
    """The value axis title for a metric unit ('proportion' -> 'Percent')."""
    if is_percent(unit):
        return "Percent" + (" of dollars" if "dollar" in unit else "")
    return {"days": "Days", "minutes": "Minutes"}.get(unit, unit.capitalize())


def is_percent(unit: str) -> bool:
    return unit in ("proportion", "%", "rate") or unit.startswith("share")


def format_value(value: float | None, unit: str) -> str:
    """A value as a person reads it: 7.3%, 12.0 days, 45 min, $1,234."""
    if value is None or value != value:
        return "n/a"
    if is_percent(unit):
        return f"{value * 100:.1f}%"
    if unit in ("dollars", "$", "usd"):
        return f"${value:,.0f}"
    if unit == "minutes":
        return f"{value:.0f} min"
    if unit == "days":
        return f"{value:.1f} days"
    return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"


def layout(
    fig: go.Figure, *, title: str, x_title: str, y_title: str, unit: str, height: int = 380
) -> go.Figure:
    fig.update_layout(
        title=dict(text=title, x=0, xanchor="left"),
        font=FONT,
        height=height,
        margin=dict(l=60, r=20, t=60, b=50),
        hovermode="closest",
        legend=dict(orientation="h", yanchor="bottom", y=1.0, xanchor="right", x=1),
        plot_bgcolor="white",
    )
    fig.update_xaxes(title_text=x_title, showgrid=False, linecolor="#999")
    fig.update_yaxes(
        title_text=y_title, gridcolor="#eee", linecolor="#999", tickformat=".0%" if is_percent(unit) else None
    )
    return fig


def _counts(frame: pl.DataFrame) -> tuple[list, list, list]:
    """Numerator, denominator and n columns (None where the metric has none)."""
    size = frame.height
    get = lambda name: frame.get_column(name).to_list() if name in frame.columns else [None] * size  # noqa: E731
    return get("numerator"), get("denominator"), get("n")


def hover_lines(frame: pl.DataFrame, unit: str, small: int | None) -> list[str]:
    num, den, n = _counts(frame)
    values = frame.get_column("value").to_list() if "value" in frame.columns else [None] * frame.height
    hidden = (
        frame.get_column("suppressed").fill_null(False).to_list()
        if "suppressed" in frame.columns
        else [False] * frame.height
    )
    lines = []
    for v, a, b, c, h in zip(values, num, den, n, hidden, strict=True):
        if h:
            lines.append(
                "suppressed: between 1 and the small-cell threshold of cases<br>"
                "numerator and denominator hidden"
            )
            continue
        parts = [f"value: {format_value(v, unit)}"]
        if a is not None and b is not None:
            parts.append(f"numerator: {a:,.0f}<br>denominator: {b:,.0f}")
        elif c is not None:
            parts.append(f"n: {c:,.0f}")
        size = b if b is not None else c
        if v is None and (size is None or size == 0):
            parts.append("no cases")
        elif v is None:
            parts.append("suppressed: fewer cases than the small-cell threshold")
        elif small and size is not None and size < small:
            parts.append(f"small count (fewer than {small}): read with care")
        lines.append("<br>".join(parts))
    return lines


def partial_mask(frame: pl.DataFrame) -> list[bool]:
    """The rows of an incomplete period (``partial`` column, see ``carepulse.metrics.periods``)."""
    if "partial" not in frame.columns:
        return [False] * frame.height
    return frame.get_column("partial").fill_null(False).to_list()


def small_mask(frame: pl.DataFrame, small: int | None) -> list[bool]:
    if not small:
        return [False] * frame.height
    _, den, n = _counts(frame)
    sizes = [d if d is not None else m for d, m in zip(den, n, strict=True)]
    return [s is not None and s < small for s in sizes]


def trend(
    frame: pl.DataFrame,
    *,
    title: str,
    unit: str,
    x: str = "period",
    group: str | None = None,
    labels: dict[str, str] | None = None,
    target: float | None = None,
    small: int | None = None,
    x_title: str = "Month",
) -> go.Figure:
    """Value over time (one line per group), with the 95% interval as a band when there is one."""
    if "value" not in frame.columns or frame.get_column("value").null_count() == frame.height:
        return empty(
            title, "No values to show: no cases, or every period has fewer than the small-cell threshold."
        )
    fig = go.Figure()
    # (group value, its rows): the value is whatever scalar the group column holds
    groups: list[tuple[Any, pl.DataFrame]] = (
        [(None, frame)]
        if group is None
        else [
            (item.get_column(group)[0], item)
            for item in frame.partition_by(group, as_dict=False, maintain_order=True)
        ]
    )
    for name, part in groups:
        part = part.sort(x)
        xs = part.get_column(x).to_list()
        label = (labels or {}).get(name, name) if name is not None else "Value"
        if (
            group is None
            and {"ci_low", "ci_high"} <= set(part.columns)
            and part.get_column("ci_low").null_count() < part.height
        ):
            fig.add_trace(
                go.Scatter(
                    x=xs + xs[::-1],
                    y=part.get_column("ci_high").to_list() + part.get_column("ci_low").to_list()[::-1],
                    fill="toself",
                    fillcolor=COLOURS["band"],
                    line=dict(width=0),
                    hoverinfo="skip",
                    name="95% interval",
                    showlegend=True,
                )
            )
        small_flags = small_mask(part, small)
        partial = partial_mask(part)
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=part.get_column("value").to_list(),
                mode="lines+markers+text",
                name=str(label),
                line=dict(color=COLOURS["line"]) if group is None else None,
                marker=dict(
                    symbol=[
                        "circle-open" if s or p else "circle"
                        for s, p in zip(small_flags, partial, strict=True)
                    ],
                    size=8,
                ),
                text=["partial" if p else "" for p in partial],
                textposition="top center",
                hovertext=[
                    line + ("<br>partial period: the data ends before it does" if p else "")
                    for line, p in zip(hover_lines(part, unit, small), partial, strict=True)
                ],
                hovertemplate="%{x}<br>%{hovertext}<extra>" + str(label) + "</extra>",
            )
        )
    if target is not None:
        fig.add_hline(y=target, line=dict(color=COLOURS["target"], dash="dot"), annotation_text="target")
    return layout(fig, title=title, x_title=x_title, y_title=axis_title(unit), unit=unit)


def bars(
    frame: pl.DataFrame,
    *,
    category: str,
    title: str,
    unit: str,
    labels: dict[str, str] | None = None,
    small: int | None = None,
    horizontal: bool = True,
    x_title: str | None = None,
) -> go.Figure:
    """One bar per category (department, payer, provider), sorted, with the same hover as a trend.

    Rows without a category are left out (they are no unit to compare); with nothing left the figure
    says so instead of drawing empty default axes."""
    frame = frame.filter(pl.col(category).is_not_null()).sort("value", descending=False, nulls_last=False)
    if frame.is_empty() or frame.get_column("value").null_count() == frame.height:
        return empty(
            title, "No values to compare: no cases, or every unit has fewer than the small-cell threshold."
        )
    cats = [(labels or {}).get(c, str(c)) for c in frame.get_column(category).to_list()]
    values = frame.get_column("value").to_list()
    small_flags = small_mask(frame, small)
    colours = ["rgba(31,78,121,0.35)" if s else COLOURS["bar"] for s in small_flags]
    trace = go.Bar(
        x=values if horizontal else cats,
        y=cats if horizontal else values,
        orientation="h" if horizontal else "v",
        marker_color=colours,
        customdata=[str(c) for c in frame.get_column(category).to_list()],
        hovertext=hover_lines(frame, unit, small),
        hovertemplate="%{" + ("y" if horizontal else "x") + "}<br>%{hovertext}<extra></extra>",
    )
    fig = go.Figure(trace)
    height = max(300, 28 * len(cats) + 120) if horizontal else 380
    value_title = axis_title(unit)
    fig = layout(
        fig,
        title=title,
        x_title=value_title if horizontal else (x_title or category),
        y_title=(x_title or "") if horizontal else value_title,
        unit=unit,
        height=height,
    )
    if horizontal and is_percent(unit):
        fig.update_xaxes(tickformat=".0%")
        fig.update_yaxes(tickformat=None)
    return fig


def empty(title: str, message: str) -> go.Figure:
    """A figure with no data that says why, with hidden axes (no meaningless -1..6 default range)."""
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_layout(
        title=dict(text=title, x=0, xanchor="left"), font=FONT, height=200, plot_bgcolor="white"
    )
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return fig


def pareto(
    frame: pl.DataFrame,
    *,
    category: str,
    count: str = "n",
    title: str,
    x_title: str,
    labels: dict[str, str] | None = None,
) -> go.Figure:
    """Pareto chart: bars of counts in descending order and the cumulative percentage line."""
    frame = frame.filter(pl.col(count).is_not_null()).sort(count, descending=True)
    total = frame.get_column(count).sum() or 1
    cats = [(labels or {}).get(c, str(c)) for c in frame.get_column(category).to_list()]
    counts = frame.get_column(count).to_list()
    cumulative = (frame.get_column(count).cum_sum() / total).to_list()
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=cats,
            y=counts,
            name="Count",
            marker_color=COLOURS["bar"],
            customdata=[c / total for c in counts],
            hovertemplate="%{x}<br>count: %{y:,}<br>share: %{customdata:.1%}<extra></extra>",
        )
    )
    fig.add_trace(
        go.Scatter(
            x=cats,
            y=cumulative,
            name="Cumulative share",
            yaxis="y2",
            mode="lines+markers",
            line=dict(color=COLOURS["cumulative"]),
            hovertemplate="%{x}<br>cumulative: %{y:.1%}<extra></extra>",
        )
    )
    fig = layout(fig, title=title, x_title=x_title, y_title="Count", unit="count")
    fig.update_layout(
        yaxis2=dict(
            title="Cumulative percent",
            overlaying="y",
            side="right",
            range=[0, 1.05],
            tickformat=".0%",
            showgrid=False,
        )
    )
    return fig


LEGEND_BELOW = dict(orientation="h", yref="container", y=0, yanchor="bottom", xanchor="center", x=0.5)


def add_annotations(fig: go.Figure, annotations: pl.DataFrame) -> go.Figure:
    """Dated vertical markers with their titles above the plot (the legend moves under it); the
    description shows on hover."""
    if not annotations.is_empty():
        fig.update_layout(legend=LEGEND_BELOW, margin=dict(b=80))
    for row in annotations.iter_rows(named=True):
        when = row["annotated_on"]
        fig.add_vline(x=when, line=dict(color=COLOURS["annotation"], dash="dot", width=1.5))
        phase_note = " (new phase)" if row.get("starts_phase") else ""
        fig.add_annotation(
            x=when,
            y=1.0,
            yref="paper",
            text=str(row["title"])[:40] + phase_note,
            showarrow=False,
            xanchor="left",
            yanchor="bottom",
            font=dict(size=11, color=COLOURS["annotation"]),
            hovertext=f"{when}: {row['title']}<br>{row.get('description') or ''}",
        )
    return fig


def sparkline(
    frame: pl.DataFrame, *, unit: str, title: str, x: str = "period", small: int | None = None
) -> dict:
    """A tiny trend for a KPI tile (no axes; hover still shows numerator and denominator).

    Returned as a plain Plotly figure dict: nine tiles of validated ``go.Figure`` objects cost about a
    third of a second per Overview run; the dict is validated once, by ``st.plotly_chart``.
    """
    frame = frame.sort(x)
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines",
                "x": frame.get_column(x).to_list(),
                "y": frame.get_column("value").to_list(),
                "line": {"color": COLOURS["line"], "width": 2},
                "hovertext": hover_lines(frame, unit, small),
                "hovertemplate": "%{x}<br>%{hovertext}<extra></extra>",
            }
        ],
        "layout": {
            "title": {"text": title, "font": {"size": 11}},
            "height": 110,
            "showlegend": False,
            "font": FONT,
            "margin": {"l": 4, "r": 4, "t": 24, "b": 4},
            "plot_bgcolor": "white",
            "xaxis": {"visible": False, "title": {"text": "Week"}},
            "yaxis": {"visible": False, "title": {"text": axis_title(unit)}},
        },
    }
