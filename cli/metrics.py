"""``carepulse metrics`` and ``carepulse spc``: the metric catalogue and its control charts, from the warehouse.

A thin layer. The catalogue is read from the aggregates each load keeps (``metric_aggregates``) when
they can answer; otherwise, and for ``spc``, it reads the warehouse tables the chosen metrics need
(only the columns the metrics read, so no names or contact details leave the database), calls
:func:`carepulse.metrics.compute_catalogue` or
:func:`carepulse.metrics.compute` and :func:`carepulse.metrics.spc.spc`, print.
"""

from __future__ import annotations

import datetime as dt
import json
from enum import Enum

import typer

from carepulse.cli._metric_reads import catalogue as _catalogue
from carepulse.cli._metric_reads import read_metric_frames, supply_probe


class CatalogueFormat(str, Enum):
    table = "table"
    json = "json"
    csv = "csv"


class SPCFormat(str, Enum):
    table = "table"
    json = "json"


class Period(str, Enum):
    week = "week"
    month = "month"


def parse_filters(pairs: list[str] | None) -> dict[str, list[str]]:
    """``["site=North", "site=South", "sex=female"]`` -> ``{"site": ["North", "South"], "sex": ["female"]}``."""
    filters: dict[str, list[str]] = {}
    for pair in pairs or []:
        column, sep, value = pair.partition("=")
        if not sep or not column.strip():
            raise typer.BadParameter(f"{pair!r} is not COLUMN=VALUE", param_hint="--filter")
        filters.setdefault(column.strip(), []).append(value.strip())
    return filters


def _validated_names(names: list[str] | None) -> list[str]:
    from carepulse import metrics

    return [metrics.get_metric(n).name for n in names] if names else list(metrics.REGISTRY)


def _console():
    from carepulse.cli._console import stdout_console

    return stdout_console()


def _status(message: str):
    from rich.console import Console

    return Console(stderr=True).status(message)


def _fmt(value, kind: str, unit: str) -> str:
    if value is None:
        return "-"
    if kind == "rate":
        return f"{100 * value:.1f}%"
    if kind == "count":
        return f"{value:,.0f}"
    return f"{value:,.1f} {unit}" if unit in ("days", "minutes") else f"{value:,.1f}"


def _catalogue_table(frame, keys: list[str], absent: dict[str, str] | None = None):
    """A rich table of a catalogue frame; columns empty for every row are left out."""
    from rich.table import Table

    from carepulse import metrics

    headers = [
        "metric",
        *keys,
        "category",
        "value",
        "95% CI",
        "numerator / denominator",
        "n",
        "p90",
        "definition",
    ]
    rows = []
    for row in frame.iter_rows(named=True):
        definition = metrics.get_metric(row["metric"])
        kind, unit = definition.kind, definition.unit
        ci = (
            f"{100 * row['ci_low']:.1f}-{100 * row['ci_high']:.1f}%"
            if row["ci_low"] is not None and row["ci_high"] is not None
            else ""
        )
        ratio = ""
        if kind == "rate" and row["numerator"] is not None:
            money = "$" if definition.weighted else ""
            ratio = f"{money}{row['numerator']:,.0f} / {money}{row['denominator']:,.0f}"
        value = "suppressed" if row.get("suppressed") else _fmt(row["value"], kind, unit)
        if row.get("suppressed"):
            ci = ratio = ""
        p90 = "" if row["p90"] is None or kind not in ("time", "score") else f"{row['p90']:,.1f}"
        rows.append(
            [
                row["metric"],
                *["" if row[k] is None else str(row[k]) for k in keys],
                row["category"] or "",
                value,
                ci,
                ratio,
                "" if row["n"] is None else f"{row['n']:,}",
                p90,
                definition.short_name,
            ]
        )
    for name, reason in (absent or {}).items():
        row_cells = [name, *([""] * (len(headers) - 2)), f"{metrics.get_metric(name).short_name} ({reason})"]
        row_cells[headers.index("value")] = "not supplied"
        rows.append(row_cells)
    keep = [i for i, h in enumerate(headers) if h == "metric" or any(r[i] for r in rows)]
    table = Table(title="CarePulse metrics")
    for i in keep:
        table.add_column(headers[i], justify="right" if headers[i] in ("value", "n", "p90") else "left")
    for r in rows:
        table.add_row(*[r[i] for i in keep])
    return table


def _json_rows(frame, keys: list[str]) -> list[dict]:
    from carepulse import metrics

    out = []
    for row in frame.iter_rows(named=True):
        definition = metrics.get_metric(row["metric"])
        record = {"metric": row["metric"], **{k: row[k] for k in keys}}
        if row["category"] is not None and definition.category is not None:
            record[definition.category] = row["category"]
        for column in ("numerator", "denominator", "value", "ci_low", "ci_high", "n"):
            record[column] = row[column]
        if definition.kind == "rate" and not definition.weighted:  # counts, not dollars
            for column in ("numerator", "denominator"):
                record[column] = None if row[column] is None else int(row[column])
        if definition.kind in ("time", "score"):
            record |= {"median": row["median"], "p90": row["p90"], "mean": row["mean"]}
        if definition.weighted:
            record["numerator_n"] = row["numerator_n"]
        if definition.category:
            record["share"] = row["share"]
        if "suppressed" in row:
            record["suppressed"] = row["suppressed"]
        record["definition"] = definition.short_name
        out.append(record)
    return out


def _dump(records) -> str:
    def default(value):
        if isinstance(value, (dt.date, dt.datetime)):
            return value.isoformat()
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")

    return json.dumps(records, default=default, indent=1)


def register(app: typer.Typer) -> None:
    """Add ``metrics`` and ``spc`` to the app."""

    @app.command("metrics")
    def metrics_command(
        start: str | None = typer.Option(None, "--start", help="First date (YYYY-MM-DD), inclusive."),
        end: str | None = typer.Option(None, "--end", help="Last date (YYYY-MM-DD), inclusive."),
        by: list[str] | None = typer.Option(
            None, "--by", help="Group column, e.g. department, site, age_band (repeat)."
        ),
        filter_: list[str] | None = typer.Option(
            None, "--filter", help="COLUMN=VALUE (repeat; values of one column OR)."
        ),
        metric: list[str] | None = typer.Option(None, "--metric", help="Metric name (repeat); default: all."),
        period: Period | None = typer.Option(None, "--period", help="Also split by week or month."),
        output: CatalogueFormat = typer.Option(CatalogueFormat.table, "--format", help="table, json or csv."),
        suppress: bool = typer.Option(
            False, "--suppress-small-cells", help="Suppress counts 1..small_cell_threshold (CMS) for sharing."
        ),
    ) -> None:
        """Compute the metric catalogue from the warehouse (numerator, denominator, value, 95% CI)."""
        import polars as pl

        from carepulse import metrics, warehouse
        from carepulse.metrics.supply import not_supplied, not_supplied_records
        from carepulse.settings import get_settings

        settings = get_settings()
        names = _validated_names(metric)
        filters = parse_filters(filter_)
        by = list(by or [])
        with _status("Reading the warehouse and computing metrics..."):
            engine = warehouse.make_engine(settings)
            absent = not_supplied(supply_probe(engine, names), names)
            supplied = [n for n in names if n not in absent]
            catalogue = _catalogue(
                engine,
                settings,
                supplied,
                True,  # only the supplied metrics, whether named or the whole catalogue
                by,
                period.value if period else None,
                start,
                end,
                filters,
            )
            catalogue = catalogue.filter(~pl.col("metric").is_in(list(absent)))
            if suppress:
                catalogue = metrics.suppress_metric_frame(catalogue, threshold=settings.small_cell_threshold)
        keys = [*by, *(["period"] if period else [])]
        if output is CatalogueFormat.json:
            typer.echo(_dump(_json_rows(catalogue, keys) + not_supplied_records(absent)))
        elif output is CatalogueFormat.csv:
            short = pl.Series(
                "definition", [metrics.get_metric(m).short_name for m in catalogue["metric"]], pl.String
            )
            typer.echo(catalogue.with_columns(short).write_csv(), nl=False)
        else:
            _console().print(_catalogue_table(catalogue, keys, absent))

    @app.command("spc")
    def spc_command(
        metric: str = typer.Argument(..., help="Metric name, e.g. no_show_rate."),
        by: Period = typer.Option(Period.week, "--by", help="One point per week or month."),
        filter_: list[str] | None = typer.Option(None, "--filter", help="COLUMN=VALUE (repeat)."),
        start: str | None = typer.Option(None, "--start", help="First date (YYYY-MM-DD), inclusive."),
        end: str | None = typer.Option(None, "--end", help="Last date (YYYY-MM-DD), inclusive."),
        phase_at: list[str] | None = typer.Option(
            None, "--phase-at", help="A change date (YYYY-MM-DD): limits are recomputed from it (repeat)."
        ),
        chart: str | None = typer.Option(
            None, "--chart", help="Override the metric's chart: run, p, pp (Laney P'), u, up or i."
        ),
        output: SPCFormat = typer.Option(SPCFormat.table, "--format", help="table or json."),
    ) -> None:
        """A control chart of one metric: each point with its centre line, limits and the rules it triggers."""
        from carepulse import metrics, warehouse
        from carepulse.cli._spc_output import chart_metric, data_end, parse_date, print_spc, spc_records
        from carepulse.metrics.spc import incomplete_periods
        from carepulse.settings import get_settings

        settings = get_settings()
        definition = metrics.get_metric(metric)
        phases = [parse_date(d, "--phase-at") for d in phase_at or []]
        with _status(f"Computing {definition.name} per {by.value} and its control chart..."):
            engine = warehouse.make_engine(settings)
            prepared = metrics.prepare(read_metric_frames(engine, [definition.name]))
            series = metrics.compute(
                definition.name,
                prepared,
                period=by.value,
                start=start,
                end=end,
                filters=parse_filters(filter_) or None,
                settings=settings,
            )
            result = chart_metric(
                definition,
                series,
                phases=phases,
                chart=chart,
                target=settings.targets.get(definition.name),
                partial=incomplete_periods(series["period"], by.value, data_end(prepared, end)),
            )
        if output is SPCFormat.json:
            typer.echo(_dump(spc_records(definition, result)))
            return
        print_spc(definition, result)
