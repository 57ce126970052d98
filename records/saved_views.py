"""Saved views: a user's named filter sets (the sidebar's URL parameters), for links and packs.

Stored in the warehouse table ``saved_views``, one row per (owner, name); saving a name again
replaces its filters. The parameters are the same the URL carries -- dates and ids of sites,
departments, providers, payer classes, visit types, modalities -- never anything about a patient.
``carepulse pack --view NAME`` builds the meeting pack of one.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa

from carepulse import schema
from carepulse.errors import CarePulseError

NAME_MAX = 80
_ALLOWED_KEYS = ("from", "to", "site", "dept", "prov", "payer", "visit", "mode")


@dataclass(frozen=True)
class SavedView:
    view_id: int
    owner: str
    name: str
    params: dict[str, str | list[str]]


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def clean_params(params: Mapping[str, object]) -> dict[str, str | list[str]]:
    """Only the sidebar's keys, as strings (dates) or lists of strings (ids)."""
    out: dict[str, str | list[str]] = {}
    for key in _ALLOWED_KEYS:
        value = params.get(key)
        if value in (None, "", []):
            continue
        out[key] = (
            str(value)
            if key in ("from", "to")
            else [str(v) for v in (value if isinstance(value, list | tuple) else [value])]
        )
    return out


def _clean_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise CarePulseError("A saved view needs a name, e.g. 'Cardiology monthly'.")
    if len(name) > NAME_MAX:
        raise CarePulseError(f"The name is too long ({len(name)} characters; at most {NAME_MAX}).")
    return name


def save_view(engine: sa.Engine, *, owner: str, name: str, params: Mapping[str, object]) -> int:
    """Store (or replace) ``owner``'s view ``name``; returns its id."""
    name = _clean_name(name)
    payload = json.dumps(clean_params(params), sort_keys=True)
    table = schema.saved_views
    with engine.begin() as conn:
        existing = conn.execute(
            sa.select(table.c.view_id).where(table.c.owner == owner, table.c.name == name)
        ).scalar()
        if existing is not None:
            conn.execute(
                sa.update(table).where(table.c.view_id == existing).values(params=payload, updated_at=_now())
            )
            return int(existing)
        result = conn.execute(
            sa.insert(table).values(owner=owner, name=name, params=payload, created_at=_now())
        )
        key = result.inserted_primary_key
        assert key is not None  # an INSERT reports its key
        return int(key[0])


def _row(row: sa.Row) -> SavedView:
    return SavedView(int(row.view_id), row.owner, row.name, json.loads(row.params))


def list_views(engine: sa.Engine, owner: str) -> list[SavedView]:
    """``owner``'s saved views, by name."""
    table = schema.saved_views
    with engine.connect() as conn:
        rows = conn.execute(sa.select(table).where(table.c.owner == owner).order_by(table.c.name)).all()
    return [_row(r) for r in rows]


def get_view(engine: sa.Engine, name: str, *, owner: str | None = None) -> SavedView:
    """The view called ``name`` (of ``owner`` when given); a clear error when there is none or the
    name is ambiguous across owners."""
    table = schema.saved_views
    query = sa.select(table).where(table.c.name == name)
    if owner is not None:
        query = query.where(table.c.owner == owner)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    if not rows:
        raise CarePulseError(f"No saved view called {name!r}" + (f" for {owner}" if owner else "") + ".")
    if len(rows) > 1:
        owners = ", ".join(sorted(r.owner for r in rows))
        raise CarePulseError(
            f"Several users have a view called {name!r} ({owners}): name the owner with --owner."
        )
    return _row(rows[0])


def delete_view(engine: sa.Engine, *, owner: str, name: str) -> None:
    table = schema.saved_views
    with engine.begin() as conn:
        conn.execute(sa.delete(table).where(table.c.owner == owner, table.c.name == name))


__all__ = ["NAME_MAX", "SavedView", "clean_params", "delete_view", "get_view", "list_views", "save_view"]
