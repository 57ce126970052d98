"""Great Expectations side of the checks: one suite per extract, the GX executor, Data Docs.

Everything here imports ``great_expectations`` lazily (2-3 s); nothing outside this module does.
GX runs in an ephemeral context with progress bars, analytics and its logging turned off.
"""

from __future__ import annotations

import html
import logging
import os
import warnings
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, cast

import polars as pl

from carepulse.expectations._check import Check
from carepulse.expectations._context import BatchContext, years_before
from carepulse.expectations._outcome import MAX_EXAMPLES, Outcome, exclude_failed_rows, extracts_in_load_order
from carepulse.expectations._report import ValidationReport


@contextmanager
def _quiet_gx():
    """Keep GX's logging, warnings and progress bars out of the console."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    logger = logging.getLogger("great_expectations")
    previous = logger.level
    logger.setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            yield
        finally:
            logger.setLevel(previous)


def _context():
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


def suite_parameters(ctx: BatchContext, checks: list[Check]) -> dict[str, Any]:
    """Values of the ``$PARAMETER`` placeholders the suites use (key sets, the clock)."""
    params: dict[str, Any] = {
        "now": ctx.as_of,
        # pandas holds dates as Timestamps: compare with datetimes, not dates
        "today": datetime.combine(ctx.today, datetime.min.time()),
        "oldest_birth_date": datetime.combine(years_before(ctx.today, 120), datetime.min.time()),
    }
    for check in checks:
        if check.name.endswith(".foreign_key"):
            target = check.params["target"].split(".")
            params[f"known_{target[0]}"] = ctx.known_keys(target[0], target[1]).to_list()
    if any(c.name == "surveys.appointment_id.visit_happened" for c in checks):
        params["appointments_not_completed"] = ctx.appointments_not_completed.to_list()
    return params


def expectation_configuration(ctx: BatchContext, check: Check):
    """The GX ExpectationConfiguration of a check, with the check's catalogue row in ``meta``."""
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    if check.gx is None:
        raise ValueError(f"check {check.name} has no GX expectation")
    type_, kwargs = check.gx(ctx, check)
    meta = {
        "check": check.name,
        "kahn_category": check.kahn_category,
        "kahn_subcategory": check.kahn_subcategory,
        "severity": check.severity,
        "threshold": ctx.thresholds.get(check.name),
    }
    return ExpectationConfiguration(type=type_, kwargs=dict(kwargs), meta=meta, description=check.describe())


def build_suites(ctx: BatchContext, checks: list[Check]) -> dict[str, Any]:
    """One GX ExpectationSuite per extract, from the catalogue rows that have a GX form."""
    import great_expectations as gx

    suites: dict[str, Any] = {}
    for check in checks:
        if check.gx is None:
            continue
        suite = suites.setdefault(check.extract, gx.ExpectationSuite(name=f"carepulse.{check.extract}"))
        suite.add_expectation_configuration(expectation_configuration(ctx, check))
    return suites


def gx_outcomes(ctx: BatchContext, checks: list[Check]) -> dict:
    """Run the per-extract suites through GX's pandas engine; outcomes keyed by check name."""

    with _quiet_gx():
        context = _context()
        suites = build_suites(ctx, checks)
        datasource = context.data_sources.add_pandas("batch")
        by_name = {c.name: c for c in checks}
        outcomes = {}
        for extract in extracts_in_load_order(suites):
            suite = context.suites.add(suites[extract])
            mine = [c for c in checks if c.extract == extract]
            params = suite_parameters(ctx, mine)  # after the extracts it references were checked
            frame = ctx.frames[extract].to_pandas()
            batch_definition = datasource.add_dataframe_asset(extract).add_batch_definition_whole_dataframe(
                "all"
            )
            batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
            result = batch.validate(
                suite,
                result_format={"result_format": "COMPLETE", "unexpected_index_column_names": ["_line"]},
                expectation_parameters=params,
            )
            for item in result.results:
                check = by_name[item.expectation_config.meta["check"]]
                _raise_on_exception(check, item.exception_info or {})
                res = item.result
                count = int(res.get("unexpected_count") or 0)
                failures = None
                if check.severity == "row" and count:
                    lines = [row["_line"] for row in res.get("unexpected_index_list") or []]
                    failures = (
                        ctx.frames[extract]
                        .filter(pl.col("_line").is_in(pl.Series(lines, dtype=pl.Int64).implode()))
                        .select("_line", pl.col(cast(str, check.column)).cast(pl.String).alias("value"))
                    )
                examples = ()
                if failures is not None and not check.is_phi:
                    examples = tuple(
                        failures["value"].drop_nulls().unique(maintain_order=True).head(MAX_EXAMPLES)
                    )
                element_count = int(res.get("element_count") or ctx.frames[extract].height)
                outcomes[check.name] = Outcome(
                    element_count, count, f"{count} of {element_count} rows unexpected", examples, failures
                )
            exclude_failed_rows(ctx, extract, [outcomes[c.name] for c in mine if c.severity == "row"])
    return outcomes


def _raise_on_exception(check: Check, info: dict) -> None:
    """GX reports a metric that could not be computed as a result, not an error: make it one."""
    entries = [info] if "raised_exception" in info else list(info.values())
    for entry in entries:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            raise RuntimeError(f"GX could not evaluate {check.name}: {entry.get('exception_message')}")


# --- Data Docs ----------------------------------------------------------------------------------


def _validation_result(ctx: BatchContext, extract: str, report: ValidationReport, checks: dict[str, Check]):
    from great_expectations.core import ExpectationSuiteValidationResult, ExpectationValidationResult

    results = []
    for r in report.results:
        check = checks.get(r.expectation)
        if r.extract != extract or check is None or check.gx is None:
            continue
        config = expectation_configuration(ctx, check)  # key sets stay $PARAMETER placeholders
        results.append(
            ExpectationValidationResult(
                success=r.success,
                expectation_config=config,
                result={
                    "element_count": r.element_count,
                    "unexpected_count": r.unexpected_count,
                    "unexpected_percent": r.unexpected_percent,
                    "partial_unexpected_list": list(r.examples),
                    "observed_value": r.observed_value,
                },
            )
        )
    evaluated = len(results)
    successful = sum(1 for x in results if x.success)
    return ExpectationSuiteValidationResult(
        success=successful == evaluated,
        results=results,
        suite_name=f"carepulse.{extract}",
        statistics={
            "evaluated_expectations": evaluated,
            "successful_expectations": successful,
            "unsuccessful_expectations": evaluated - successful,
            "success_percent": 100.0 * successful / evaluated if evaluated else 100.0,
        },
        meta={"active_batch_definition": {"datasource_name": "carepulse", "data_asset_name": extract}},
    )


def render_data_docs(report: ValidationReport, ctx: BatchContext, out_dir: Path) -> Path:
    """Write the Data Docs of one validation: GX's page per extract plus an index of every check.

    GX's site builder needs a file-backed context and stored validation results; with the ephemeral
    context we instead render each extract's results with GX's own ``ValidationResultsPageRenderer``
    and ``DefaultJinjaPageView`` (the same HTML as a GX Data Docs page), and write an index page
    listing every check -- including the computed ones GX has no expectation for.
    Returns the index path.
    """
    from carepulse.expectations._checks import CHECKS_BY_NAME

    stamp = datetime.now().strftime("%Y%m%dT%H%M%S%f")
    folder = out_dir / stamp
    folder.mkdir(parents=True, exist_ok=True)
    pages: dict[str, str] = {}
    with _quiet_gx():
        from great_expectations.render.renderer import ValidationResultsPageRenderer
        from great_expectations.render.view import DefaultJinjaPageView

        renderer, view = ValidationResultsPageRenderer(), DefaultJinjaPageView()
        for extract in dict.fromkeys(r.extract for r in report.results):
            validation = _validation_result(ctx, extract, report, CHECKS_BY_NAME)
            if not validation.results:
                continue
            (folder / f"{extract}.html").write_text(
                view.render(renderer.render(validation)), encoding="utf-8"
            )
            pages[extract] = f"{extract}.html"
    index = folder / "index.html"
    index.write_text(_index_html(report, pages, stamp), encoding="utf-8")
    (out_dir / "index.html").write_text(
        f'<!doctype html><meta http-equiv="refresh" content="0; url={stamp}/index.html">'
        f'<a href="{stamp}/index.html">Latest validation</a>',
        encoding="utf-8",
    )
    return index


def _index_html(report: ValidationReport, pages: dict[str, str], stamp: str) -> str:
    esc = html.escape
    status = "REFUSED" if report.refused else ("passed" if report.success else "passed with quarantined rows")
    rows = "".join(
        "<tr class='{cls}'><td>{extract}</td><td>{name}</td><td>{kahn}</td><td>{severity}</td><td>{ok}</td>"
        "<td>{count}</td><td>{pct:.2f}%</td><td>{threshold}</td><td>{examples}</td><td>{desc}</td></tr>".format(
            cls="fail" if not r.success else "ok",
            extract=f"<a href='{pages[r.extract]}'>{esc(r.extract)}</a>"
            if r.extract in pages
            else esc(r.extract),
            name=esc(r.expectation),
            kahn=esc(f"{r.kahn_category} / {r.kahn_subcategory}"),
            severity=esc(r.severity),
            ok="pass" if r.success else "FAIL",
            count=r.unexpected_count,
            pct=r.unexpected_percent or 0.0,
            threshold="" if r.threshold is None else f"{r.threshold:.1%}",
            examples=esc(", ".join(r.examples)),
            desc=esc(r.description),
        )
        for r in report.results
    )
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>CarePulse validation {stamp}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;
padding:4px 8px;font-size:13px}}tr.fail td{{background:#fde2e1}}</style></head><body>
<h1>CarePulse data-quality validation</h1>
<p>Status: <b>{status}</b>. Checks: {len(report.results)}, failed: {sum(not r.success for r in report.results)}.
Rows to quarantine: {report.row_failures.select("extract", "line").n_unique() if report.row_failures.height else 0}.
Per-extract Great Expectations pages: {", ".join(f"<a href='{p}'>{esc(e)}</a>" for e, p in pages.items())}.</p>
<table><tr><th>Extract</th><th>Check</th><th>Kahn category</th><th>Severity</th><th>Status</th>
<th>Unexpected</th><th>%</th><th>Threshold</th><th>Examples (never PHI)</th><th>Description</th></tr>
{rows}</table></body></html>"""
