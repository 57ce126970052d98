"""``carepulse audit``: check the audit trail's hash chain, export it for the privacy officer.

A thin layer over :mod:`carepulse.access.audit_chain` and :func:`carepulse.access.list_audit`.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import typer

audit_app = typer.Typer(help="The audit trail: verify its hash chain, export it (CSV).", no_args_is_help=True)


def _engine():
    from carepulse import schema, warehouse

    engine = warehouse.make_engine()
    schema.create_all(engine)
    return engine


@audit_app.command()
def verify() -> None:
    """Walk every audit row in order; name the first edited, deleted or inserted row (exit 1)."""
    from rich.console import Console

    from carepulse.access import audit_chain
    from carepulse.errors import CarePulseError

    verdict = audit_chain.verify(_engine())
    if not verdict.intact:
        raise CarePulseError(f"audit trail broken at row {verdict.broken_at}: {verdict.problem}")
    older = f" ({verdict.unchained} older rows from before the chain)" if verdict.unchained else ""
    Console().print(
        f"audit trail intact: {verdict.rows:,} rows{older}; head {verdict.head or '-'}"
        "  (keep this head elsewhere: a removed tail is only seen against it)",
        highlight=False,
    )


@audit_app.command()
def export(
    out: Path = typer.Option(..., "--out", help="CSV file to write."),
    since: str = typer.Option(None, "--from", help="First day (YYYY-MM-DD, UTC), inclusive."),
    until: str = typer.Option(None, "--to", help="Last day (YYYY-MM-DD, UTC), inclusive."),
    user: str = typer.Option(None, "--user", help="Only this username."),
) -> None:
    """Write audit rows (oldest first) to a CSV for the privacy officer; the export is itself audited."""
    from datetime import timedelta

    from rich.console import Console

    from carepulse.access import audit
    from carepulse.errors import CarePulseError

    def day(text: str | None, flag: str) -> date | None:
        if text is None:
            return None
        try:
            return date.fromisoformat(text)
        except ValueError:
            raise CarePulseError(f"{flag} must be a date like 2026-01-31 (got {text!r})") from None

    first, last = day(since, "--from"), day(until, "--to")
    engine = _engine()
    rows = audit.list_audit(
        engine,
        username=user,
        since=first,
        until=None if last is None else last + timedelta(days=1),
        limit=None,
    ).sort("audit_id")
    out.parent.mkdir(parents=True, exist_ok=True)
    rows.write_csv(out)
    audit.record(
        engine,
        _actor(),
        "export",
        target="audit_log",
        detail={"format": "csv", "from": since, "to": until, "user": user},
        rows=rows.height,
    )
    Console().print(f"wrote {rows.height:,} audit rows to {out}", highlight=False)


def _actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli"


def register(app: typer.Typer) -> None:
    """Add the ``audit`` command group to the app."""
    app.add_typer(audit_app, name="audit")
