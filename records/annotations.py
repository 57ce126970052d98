"""QI annotations: what the team changed and when ("SMS reminders started in Cardiology").

Stored in the warehouse table ``annotations`` with a scope -- the whole system, one site, or one
department -- and drawn only on the charts of their metric that the scope covers
(:func:`annotations_in_scope`); one that ``starts_phase`` makes the SPC limits restart from its date. Edits and deletions keep the row
(``updated_at`` / ``deleted_at``) so the history stays auditable, and each change writes one audit row
through :mod:`carepulse.access` in the same transaction.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa

from carepulse import schema, warehouse
from carepulse.errors import CarePulseError

TITLE_MAX = 120
DESCRIPTION_MAX = 2000

COLUMNS = [
    "annotation_id",
    "metric",
    "department_id",
    "site",
    "annotated_on",
    "title",
    "description",
    "starts_phase",
    "created_by",
    "created_at",
    "updated_at",
]


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def _clean_title(title: str) -> str:
    title = (title or "").strip()
    if not title:
        raise CarePulseError("An annotation needs a title (what changed, e.g. 'SMS reminders started').")
    if len(title) > TITLE_MAX:
        raise CarePulseError(f"The title is too long ({len(title)} characters; at most {TITLE_MAX}).")
    return title


def _clean_description(description: str | None) -> str:
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        raise CarePulseError(
            f"The description is too long ({len(description)} characters; at most {DESCRIPTION_MAX})."
        )
    return description


def _audit(conn: sa.Connection, username: str, action: str, annotation_id: int, detail: dict) -> None:
    """One audit row in the caller's transaction: the change and its record commit together."""
    from carepulse.access import record

    record(conn, username, action, target=f"annotation:{annotation_id}", detail=detail)


def add_annotation(
    engine: sa.Engine,
    *,
    metric: str,
    annotated_on: dt.date,
    title: str,
    description: str | None = "",
    department_id: str | None = None,
    site: str | None = None,
    starts_phase: bool = False,
    created_by: str,
) -> int:
    """Store a new annotation; returns its id. Scope: ``department_id`` (one department), else
    ``site`` (one site), else the whole system."""
    if not metric:
        raise CarePulseError("An annotation belongs to a metric; choose one.")
    if not isinstance(annotated_on, dt.date):
        raise CarePulseError("An annotation needs a date.")
    row = {
        "metric": metric,
        "department_id": department_id or None,
        "site": None if department_id else (site or None),
        "annotated_on": annotated_on,
        "title": _clean_title(title),
        "description": _clean_description(description),
        "starts_phase": bool(starts_phase),
        "created_by": created_by,
        "created_at": _now(),
    }
    with engine.begin() as conn:
        result = conn.execute(sa.insert(schema.annotations).values(**row))
        key = result.inserted_primary_key
        assert key is not None  # an INSERT reports its key
        annotation_id = int(key[0])
        _audit(conn, created_by, "annotation.create", annotation_id, {"metric": metric, "date": annotated_on})
    return annotation_id


def _live(conn: sa.Connection, annotation_id: int) -> sa.Row:
    table = schema.annotations
    row = conn.execute(
        sa.select(table).where(table.c.annotation_id == annotation_id, table.c.deleted_at.is_(None))
    ).first()
    if row is None:
        raise CarePulseError(f"Annotation {annotation_id} does not exist (it may have been deleted).")
    return row


def edit_annotation(
    engine: sa.Engine,
    annotation_id: int,
    *,
    edited_by: str,
    annotated_on: dt.date | None = None,
    title: str | None = None,
    description: str | None = None,
    starts_phase: bool | None = None,
    department_id: str | None = None,
) -> None:
    """Change an annotation's date, title, description, phase flag or department (None: unchanged)."""
    changes: dict = {}
    if annotated_on is not None:
        changes["annotated_on"] = annotated_on
    if title is not None:
        changes["title"] = _clean_title(title)
    if description is not None:
        changes["description"] = _clean_description(description)
    if starts_phase is not None:
        changes["starts_phase"] = bool(starts_phase)
    if department_id is not None:
        changes["department_id"] = department_id or None
    table = schema.annotations
    with engine.begin() as conn:
        _live(conn, annotation_id)
        if not changes:
            return
        conn.execute(
            sa.update(table)
            .where(table.c.annotation_id == annotation_id)
            .values(**changes, updated_at=_now())
        )
        _audit(conn, edited_by, "annotation.update", annotation_id, {"fields": sorted(changes)})


def delete_annotation(engine: sa.Engine, annotation_id: int, *, deleted_by: str) -> None:
    """Remove an annotation from every chart (the row is kept, marked deleted)."""
    table = schema.annotations
    with engine.begin() as conn:
        _live(conn, annotation_id)
        conn.execute(sa.update(table).where(table.c.annotation_id == annotation_id).values(deleted_at=_now()))
        _audit(conn, deleted_by, "annotation.delete", annotation_id, {})


def list_annotations(
    engine: sa.Engine,
    metric: str | None = None,
    *,
    department_ids: list[str] | tuple[str, ...] | None = None,
) -> pl.DataFrame:
    """Live annotations, oldest first: of one metric (or all), system-wide ones plus those of the
    given departments (``None``: every department)."""
    table = schema.annotations
    query = sa.select(*[table.c[name] for name in COLUMNS]).where(table.c.deleted_at.is_(None))
    if metric is not None:
        query = query.where(table.c.metric == metric)
    if department_ids is not None:
        query = query.where(
            sa.or_(table.c.department_id.is_(None), table.c.department_id.in_(list(department_ids)))
        )
    query = query.order_by(table.c.annotated_on, table.c.annotation_id)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    dtypes = warehouse.polars_schema_of(table, COLUMNS)
    return pl.DataFrame([tuple(r) for r in rows], schema=dtypes, orient="row")


def scope_of(department_id: str | None, site: str | None) -> str:
    """'department', 'site' or 'system': what an annotation applies to."""
    return "department" if department_id else "site" if site else "system"


def annotations_in_scope(
    engine: sa.Engine,
    metric: str,
    *,
    departments: tuple[str, ...] = (),
    sites: tuple[str, ...] = (),
) -> pl.DataFrame:
    """Live annotations of ``metric`` that apply to a chart of ``departments`` (none: all of them)
    within ``sites`` (none: all): system-wide ones always; a site's when the chart is limited to
    that site; a department's only when the chart is limited to departments including it. Adds a
    ``scope`` column ('system', 'site', 'department')."""
    frame = list_annotations(engine, metric)
    applies = pl.col("department_id").is_null() & pl.col("site").is_null()
    if sites:
        applies = applies | (pl.col("department_id").is_null() & pl.col("site").is_in(list(sites)))
    if departments:
        applies = applies | pl.col("department_id").is_in(list(departments))
    return frame.filter(applies).with_columns(
        pl.when(pl.col("department_id").is_not_null())
        .then(pl.lit("department"))
        .when(pl.col("site").is_not_null())
        .then(pl.lit("site"))
        .otherwise(pl.lit("system"))
        .alias("scope")
    )
