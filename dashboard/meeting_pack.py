"""The QI meeting pack: one self-contained HTML file for the chosen period.

KPI table (value, previous, change, target, status, numerator/denominator), one SPC chart per
headline metric with its annotations, the top movers across the catalogue, and the data-quality status
of the latest load. :func:`render_html` is pure (data in, text out; every value HTML-escaped);
:func:`collect` gathers the data through the same cached loaders the pages use. The charts are Plotly
with plotly.js inlined once, so the file opens offline in any browser. :func:`pdf_downloader` prints
the same HTML to PDF with headless Chromium (:mod:`carepulse.dashboard.pdf`); the print styles keep each chart
on one page and fit A4 and Letter.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable
from dataclasses import dataclass, field

import plotly.graph_objects as go
import polars as pl

from carepulse.dashboard import charts

CSS = """
body{font-family:Source Sans Pro,Arial,sans-serif;margin:2rem auto;max-width:1100px;color:#222}
h1{margin-bottom:0}.sub{color:#555;margin-top:.2rem}
table{border-collapse:collapse;width:100%;margin:1rem 0;font-size:14px}
th,td{border-bottom:1px solid #ddd;padding:.35rem .5rem;text-align:left}th{background:#f4f6f8}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.green{color:#2e7d32;font-weight:600}.amber{color:#ef6c00;font-weight:600}.red{color:#c62828;font-weight:600}
.none{color:#777}.chart{break-inside:avoid;page-break-inside:avoid;margin:1rem 0}.chart h3{margin:.4rem 0}
.note{color:#555;font-size:13px}
@page{margin:12mm}
@media print{
body{margin:0;max-width:none;-webkit-print-color-adjust:exact;print-color-adjust:exact}
h2,h3{break-after:avoid;page-break-after:avoid}
table,tr{break-inside:avoid;page-break-inside:avoid}
.chart{break-inside:avoid;page-break-inside:avoid;margin:.6rem 0}
.modebar-container{display:none!important}
}
"""
#: Chart height in the pack (px): two charts and their headings fit one A4 or Letter page.
CHART_HEIGHT = 390
#: The legend under the chart, where annotation labels (drawn above the plot) cannot overlap it.
PACK_LAYOUT = dict(height=CHART_HEIGHT, margin=dict(b=80), legend=charts.LEGEND_BELOW)


@dataclass
class MeetingPack:
    """Everything the pack shows, already computed."""

    title: str
    view: str
    generated_at: dt.datetime
    generated_by: str
    kpis: list[dict] = field(default_factory=list)  # metric rows (see overview)
    figures: list[tuple[str, object]] = field(default_factory=list)  # (heading, plotly figure)
    movers: list[dict] = field(default_factory=list)
    quality: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _e(value: object) -> str:
    return html.escape("" if value is None else str(value))


def _kpi_table(pack: MeetingPack) -> str:
    head = (
        "<thead><tr><th>Measure</th><th>Value</th><th>Previous</th><th>Change</th><th>Target</th>"
        "<th>Status</th><th>Numerator / denominator</th><th>Variation</th><th>Assurance</th>"
        "</tr></thead>"
    )
    rows = []
    for k in pack.kpis:
        if k.get("not_supplied"):
            rows.append(
                f"<tr><td>{_e(k.get('title'))}</td>"
                f"<td colspan='8'>Not supplied: {_e(k['not_supplied'])}</td></tr>"
            )
            continue
        unit = k.get("unit", "")
        delta = k.get("change")
        delta_text = (
            "n/a"
            if delta is None
            else (f"{delta * 100:+.1f} pts" if charts.is_percent(unit) else f"{delta:+.1f}")
        )
        counts = (
            f"{k['numerator']:,.0f} / {k['denominator']:,.0f}"
            if k.get("numerator") is not None and k.get("denominator") is not None
            else (f"n = {k['n']:,}" if k.get("n") is not None else "-")
        )
        status = k.get("status", "none")
        rows.append(
            f"<tr><td>{_e(k.get('title'))}</td><td class='num'>{_e(charts.format_value(k.get('value'), unit))}</td>"
            f"<td class='num'>{_e(charts.format_value(k.get('previous'), unit))}</td>"
            f"<td class='num'>{_e(delta_text)}</td>"
            f"<td class='num'>{_e(charts.format_value(k.get('target'), unit))}</td>"
            f"<td class='{_e(status)}'>{_e(status)}</td><td class='num'>{_e(counts)}</td>"
            f"<td>{_e((k.get('variation') or '-').replace('_', ' '))}</td>"
            f"<td>{_e((k.get('assurance') or '-').replace('_', ' '))}</td></tr>"
        )
    return f"<table>{head}<tbody>{''.join(rows)}</tbody></table>"


def _movers_table(pack: MeetingPack) -> str:
    if not pack.movers:
        return "<p class='note'>No measure has values in both periods.</p>"
    rows = "".join(
        f"<tr><td>{_e(m.get('title'))}</td>"
        f"<td class='num'>{_e(charts.format_value(m.get('previous'), m.get('unit', '')))}</td>"
        f"<td class='num'>{_e(charts.format_value(m.get('value'), m.get('unit', '')))}</td>"
        f"<td class='num'>{m['relative_change'] * 100:+.1f}%</td>"
        f"<td>{'better' if m.get('improved') else ('worse' if m.get('improved') is False else 'changed')}</td></tr>"
        for m in pack.movers
    )
    return (
        "<table><thead><tr><th>Measure</th><th>Previous</th><th>Now</th><th>Relative change</th>"
        f"<th>Direction</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _quality(pack: MeetingPack) -> str:
    q = pack.quality
    if not q:
        return "<p class='note'>No load recorded.</p>"
    items = "".join(f"<tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in q.items())
    return f"<table>{items}</table>"


def render_html(pack: MeetingPack) -> str:
    """The pack as one HTML document (plotly.js inlined in the first chart)."""
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{_e(pack.title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{_e(pack.title)}</h1>",
        f"<p class='sub'>{_e(pack.view)}<br>Generated {pack.generated_at:%Y-%m-%d %H:%M} by "
        f"{_e(pack.generated_by)}. Aggregate figures only; counts of 1 to the small-cell threshold are "
        "suppressed for aggregate roles.</p>",
        "<h2>Headline measures</h2>",
        _kpi_table(pack),
        "<h2>Top movers against the previous period</h2>",
        _movers_table(pack),
        "<h2>Control charts</h2>",
    ]
    for index, (heading, figure) in enumerate(pack.figures):
        figure = go.Figure(figure).update_layout(**PACK_LAYOUT)  # a copy: the pack's figure is kept
        body = figure.to_html(
            full_html=False,
            include_plotlyjs="inline" if index == 0 else False,
            config={"displaylogo": False, "responsive": True},
            default_width="100%",
        )
        parts.append(f"<div class='chart'><h3>{_e(heading)}</h3>{body}</div>")
    if not pack.figures:
        parts.append("<p class='note'>No chart: too few periods with data in this view.</p>")
    parts += ["<h2>Data quality</h2>", _quality(pack)]
    parts += [f"<p class='note'>{_e(n)}</p>" for n in pack.notes]
    parts.append("</body></html>")
    return "".join(parts)


def collect(run: int, view, user) -> MeetingPack:
    """Compute the pack's content for the sidebar view, through the pages' cached loaders."""
    from carepulse import metrics
    from carepulse.dashboard import data, ui
    from carepulse.dashboard.qi_data import spc_view
    from carepulse.metrics.kpis import KPI_METRICS, change, rag_status, top_movers

    settings = data.settings()
    filters = view.metric_filters()
    previous = view.previous()
    names = tuple(m.name for m in metrics.REGISTRY.values() if not m.category)
    now = ui.suppress(data.catalogue(names, run, start=view.start, end=view.end, filters=filters), user)
    before = ui.suppress(
        data.catalogue(names, run, start=previous.start, end=previous.end, filters=filters), user
    )
    now_rows = {r["metric"]: r for r in now.iter_rows(named=True)}
    before_rows = {r["metric"]: r for r in before.iter_rows(named=True)}

    pack = MeetingPack(
        title="CarePulse QI meeting pack",
        view=view.describe(),
        generated_at=dt.datetime.now(),
        generated_by=getattr(user, "username", "unknown"),
    )
    absent = data.not_supplied(run)
    for name in KPI_METRICS:
        if name not in metrics.REGISTRY:
            continue
        definition = metrics.get_metric(name)
        if name in absent:  # the data cannot support it: the reason, no 0 and no empty chart
            pack.kpis.append(
                {
                    "metric": name,
                    "title": definition.title,
                    "unit": definition.unit,
                    "not_supplied": absent[name],
                }
            )
            continue
        row = now_rows.get(name, {})
        target = settings.targets.get(name)
        chart = None
        try:
            chart = spc_view(definition, run, view, user, period="week")
        except Exception:
            pack.notes.append(f"{definition.title}: no chart (not enough data in this view).")
        summary = chart.result.last_phase if chart is not None and chart.result is not None else {}
        pack.kpis.append(
            {
                "metric": name,
                "title": definition.title,
                "unit": definition.unit,
                "value": row.get("value"),
                "previous": before_rows.get(name, {}).get("value"),
                "change": change(row.get("value"), before_rows.get(name, {}).get("value")),
                "target": target,
                "status": rag_status(row.get("value"), target, definition.better),
                "numerator": row.get("numerator"),
                "denominator": row.get("denominator"),
                "n": row.get("n"),
                "variation": summary.get("nhs_variation"),
                "assurance": summary.get("assurance"),
            }
        )
        if chart is not None and not chart.series.is_empty():
            pack.figures.append((definition.title, chart.figure(small=settings.small_cell_threshold)))
    pack.movers = top_movers(
        [
            {
                "metric": n,
                "title": metrics.get_metric(n).title,
                "unit": metrics.get_metric(n).unit,
                "better": metrics.get_metric(n).better,
                "value": now_rows[n].get("value"),
                "previous": before_rows.get(n, {}).get("value"),
            }
            for n in now_rows
            if n not in absent
        ]
    )
    pack.quality = quality_status()
    return pack


def quality_status() -> dict:
    """The latest load run's status and counts, and failed expectations of its validation."""
    from carepulse.dashboard import data

    runs = data.system_table("load_runs")
    if runs.is_empty():
        return {}
    last = runs.sort("run_id").row(-1, named=True)
    status = {
        "Latest load": f"run {last['run_id']} ({last['status']}), finished {last['finished_at'] or '-'}",
        "Rows read": f"{last['rows_read']:,}",
        "Inserted / updated / unchanged": f"{last['inserted']:,} / {last['updated']:,} / {last['unchanged']:,}",
        "Quarantined rows": f"{last['quarantined']:,}",
    }
    validations = data.system_table("validation_runs")
    mine = validations.filter(pl.col("run_id") == last["run_id"])
    if not mine.is_empty():
        vid = mine.sort("validation_run_id").row(-1, named=True)["validation_run_id"]
        results = data.system_table("validation_results")
        failed = results.filter((pl.col("validation_run_id") == vid) & ~pl.col("success"))
        status["Failed expectations"] = (
            f"{failed.height} of {results.filter(pl.col('validation_run_id') == vid).height}"
        )
    return status


def _exporter(
    run: int, view, user, *, fmt: str, render: Callable[[MeetingPack], bytes]
) -> Callable[[], bytes]:
    """A callable for ``st.download_button(data=...)``: collects the pack only when clicked, renders it
    with ``render`` and records the export (format ``fmt``) in the audit trail."""

    def build() -> bytes:
        pack = collect(run, view, user)
        payload = render(pack)
        from carepulse.access import record
        from carepulse.dashboard import data

        # No audit row, no file: the download fails rather than leave an export unrecorded.
        record(
            data.engine(),
            getattr(user, "username", None),
            "export",
            target="meeting_pack",
            detail={"format": fmt, "from": view.start, "to": view.end},
            rows=len(pack.kpis),
        )
        return payload

    return build


def downloader(run: int, view, user) -> Callable[[], bytes]:
    """The pack as HTML, built when the download button is clicked (and audited)."""
    return _exporter(run, view, user, fmt="html", render=lambda pack: render_html(pack).encode("utf-8"))


def pdf_downloader(run: int, view, user) -> Callable[[], bytes]:
    """The pack as PDF, printed by the ``pdf_browser`` setting's headless Chromium when the download
    button is clicked (and audited); raises :class:`carepulse.dashboard.pdf.PdfError` when it cannot be made."""

    def render(pack: MeetingPack) -> bytes:
        from carepulse.dashboard import data, pdf

        browser = pdf.available_browser(data.settings())
        if browser is None:
            raise pdf.PdfError(
                "No PDF browser: set pdf_browser to a Chromium or Chrome binary, or print the "
                "HTML pack to PDF."
            )
        return pdf.html_to_pdf(render_html(pack), browser=browser)

    return _exporter(run, view, user, fmt="pdf", render=render)
