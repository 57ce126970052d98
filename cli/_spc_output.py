"""``carepulse spc``'s engine call and output: a metric's period series charted, as JSON or a table.

Split from :mod:`.metrics` (the commands) to keep modules small; the JSON carries each point's
``partial`` flag (an incomplete period, left out of the limits and rules).
"""

from __future__ import annotations

import datetime as dt

from carepulse.cli._console import stdout_console as _console


def parse_date(value: str, option: str) -> dt.date:
    from carepulse.errors import CarePulseError

    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise CarePulseError(f"{option} must be a date YYYY-MM-DD, got {value!r}") from None


def data_end(prepared, end: str | None) -> dt.date | None:
    """The last day the data cover: the warehouse's as-of date, or ``--end`` if earlier."""
    as_of = prepared["_meta"].collect().item(0, "as_of") if "_meta" in prepared else None
    days = [d.date() if isinstance(d, dt.datetime) else d for d in (as_of,) if d is not None]
    if end is not None:
        days.append(parse_date(end, "--end"))
    return min(days) if days else None


def chart_metric(
    definition,
    series,
    *,
    phases=(),
    chart: str | None = None,
    target: float | None = None,
    partial=(),
):
    """Chart a metric's period series (the output of ``carepulse.metrics.compute(..., period=...)``) with the SPC engine.

    Rates of counts go on a P chart (numerator over denominator; Laney's P' when the P chart is
    overdispersed), times, scores and dollar shares on an XmR chart of the period's headline value,
    counts on a run chart, unless ``chart`` overrides. ``partial`` periods (not complete yet) are
    flagged and left out of the limits and rules.
    """
    from carepulse.errors import CarePulseError
    from carepulse.metrics.spc import spc

    if definition.category:
        raise CarePulseError(
            f"{definition.name} has one row per {definition.category}: chart one with a filter-free metric instead"
        )
    if series.is_empty():
        raise CarePulseError(f"no data for {definition.name} in the range and filters given")
    chosen = chart or definition.spc_chart
    if definition.weighted and chosen in ("p", "pp"):
        chosen = "i"
    automatic = chart is None and chosen == "p"
    better = definition.better if definition.better in ("lower", "higher") else None
    if chosen in ("p", "pp"):
        data, y, n = series.filter(series["denominator"] > 0), "numerator", "denominator"
    elif chosen in ("u", "up"):
        raise CarePulseError(f"{definition.name} carries no exposure for a U chart: use --chart run or i")
    else:
        data, y, n = series.filter(series["value"].is_not_null()), "value", None
    return spc(
        data,
        x="period",
        y=y,
        n=n,
        chart="auto" if automatic else chosen,
        kind="rate" if automatic else None,
        phases=list(phases) or None,
        target=target,
        better=better,
        partial=list(partial) or None,
    )


def spc_records(definition, result) -> dict:
    points = [
        {
            "period": row["x"],
            "value": row["value"],
            "numerator": row["y"] if row["n"] is not None else None,
            "denominator": row["n"],
            "centre": row["cl"],
            "lcl": row["lcl"],
            "ucl": row["ucl"],
            "phase": row["phase"],
            "partial": row["partial"],
            "rules": row["signals"],
            "nhs_point_type": row["nhs_point_type"],
        }
        for row in result.points.iter_rows(named=True)
    ]
    return {
        "metric": definition.name,
        "chart": result.chart,
        "better": definition.better,
        "target": result.target,
        "points": points,
        "summary": result.summary.to_dicts(),
    }


def print_spc(definition, result) -> None:
    from rich.table import Table

    def fmt(v):
        if v is None:
            return "-"
        return f"{100 * v:.1f}%" if definition.kind == "rate" else f"{v:,.2f}"

    table = Table(title=f"{definition.title}: {result.chart.upper()} chart ({definition.better} is better)")
    for column in (
        "period",
        "phase",
        "value",
        "n",
        "centre",
        "lower limit",
        "upper limit",
        "rules triggered",
    ):
        table.add_column(column, justify="left" if column in ("period", "rules triggered") else "right")
    for row in result.points.iter_rows(named=True):
        table.add_row(
            f"{row['x']} (partial)" if row["partial"] else str(row["x"]),
            str(row["phase"]),
            fmt(row["value"]),
            "" if row["n"] is None else f"{row['n']:,.0f}",
            fmt(row["cl"]),
            fmt(row["lcl"]),
            fmt(row["ucl"]),
            ", ".join(row["signals"]) or "",
        )
    console = _console()
    console.print(table)
    for phase in result.summary.iter_rows(named=True):
        console.print(
            f"phase {phase['phase']} ({phase['start']} to {phase['end']}): centre {fmt(phase['centre'])}, "
            f"variation {phase.get('nhs_variation') or '-'}, assurance {phase.get('assurance') or '-'}, "
            f"Anhøj runs signal {phase.get('runs_signal')}",
            highlight=False,
        )
