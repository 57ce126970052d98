"""SQL-on-FHIR v2 ViewDefinitions, evaluated with FHIRPath: the FHIR mapping is data, not code.

Each ``fhir_views/<Resource>.json`` is a ViewDefinition (``resource``, ``select[].column[]`` with
``name``, ``path``, optional ``collection`` and CarePulse's ``required``: a resource whose required
column is empty is quarantined naming that FHIRPath). Paths are compiled once.

Evaluation: `fhirpathpy <https://github.com/beda-software/fhirpath-py>`_ (maintained, R4 model for
choice types such as ``value``) for any path beyond the subset below. Member paths
(``period.start``), choice elements (``value``), ``where(member.path = 'literal')`` filters and a
final ``first()``, i.e. every column of the shipped views, take a direct walk over the parsed JSON
with the same FHIRPath semantics (collections flatten, absent is empty, ``=`` compares the whole
collection), ~50x faster: fhirpathpy costs ~1 ms per resource and view on this machine, too slow
alone for a million appointments. ``pysof`` (the Rust
SQL-on-FHIR runner) was measured first: its 0.2.6 wheel has no compiled extension on this platform.
``tests/test_sources_fhir.py`` checks the direct walk against fhirpathpy on every sample resource.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

VIEWS_DIR = Path(__file__).parent / "fhir_views"
_MEMBER = r"[A-Za-z_][A-Za-z0-9_]*"
_PLAIN = re.compile(rf"^{_MEMBER}(\.{_MEMBER})*(\.first\(\))?$")
#: FHIR choice elements (``value[x]``...): need the model, so never walked directly.
_CHOICE = {"value", "effective", "onset", "deceased", "multipleBirth", "occurrence", "answer"}

Evaluator = Callable[[dict[str, Any]], list[Any]]


def _walker(path: str) -> Evaluator:
    first = path.endswith(".first()")
    steps = path.removesuffix(".first()").split(".")

    def evaluate(resource: dict[str, Any]) -> list[Any]:
        current: list[Any] = [resource]
        for step in steps:
            nxt: list[Any] = []
            for node in current:
                if isinstance(node, dict) and step in node:
                    value = node[step]
                    if isinstance(value, list):
                        nxt.extend(v for v in value if v is not None)
                    elif value is not None:
                        nxt.append(value)
            if not nxt:
                return []
            current = nxt
        return current[:1] if first else current

    return evaluate


_WHERE = re.compile(rf"^where\(({_MEMBER}(?:\.{_MEMBER})*) = '([^']*)'\)$")


def _steps(path: str) -> list[str] | None:
    """Top-level steps of a path, or None when it uses more than members, ``where(p = 'x')``, ``first()``."""
    steps, depth, current = [], 0, ""
    for ch in path:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "." and depth == 0:
            steps.append(current)
            current = ""
        else:
            current += ch
    steps.append(current)
    for i, step in enumerate(steps):
        if step == "first()" and i == len(steps) - 1:
            continue
        if not re.fullmatch(_MEMBER, step) and not _WHERE.match(step):
            return None
    return steps


def _member(node: Any, step: str) -> list[Any]:
    if not isinstance(node, dict):
        return []
    if step in _CHOICE and step not in node:  # value[x]: the one key valueString, valueCoding, ...
        keys = [k for k in node if k.startswith(step) and k[len(step) : len(step) + 1].isupper()]
        value = node[keys[0]] if keys else None
    else:
        value = node.get(step)
    if isinstance(value, list):
        return [v for v in value if v is not None]
    return [] if value is None else [value]


def _fast(path: str, steps: list[str]) -> Evaluator:
    """Members, ``where(member.path = 'literal')`` (FHIRPath ``=``: the whole collection equals it)
    and a final ``first()``, walked over the parsed JSON."""
    plan: list[tuple[str, Any]] = []
    for step in steps:
        where = _WHERE.match(step)
        if where:
            plan.append(("where", (where.group(1).split("."), where.group(2))))
        elif step == "first()":
            plan.append(("first", None))
        else:
            plan.append(("member", step))

    def walk(nodes: list[Any], members: list[str]) -> list[Any]:
        for m in members:
            nodes = [v for n in nodes for v in _member(n, m)]
        return nodes

    def evaluate(resource: dict[str, Any]) -> list[Any]:
        current: list[Any] = [resource]
        for kind, arg in plan:
            if kind == "member":
                current = [v for n in current for v in _member(n, arg)]
            elif kind == "where":
                members, literal = arg
                current = [n for n in current if walk([n], members) == [literal]]
            else:
                current = current[:1]
            if not current:
                return []
        return current

    return evaluate


def compile_path(path: str, *, direct: bool = True) -> Evaluator:
    """A FHIRPath as a function resource -> collection (list); ``direct=False`` forces fhirpathpy."""
    plain = _PLAIN.match(path) and not set(path.removesuffix(".first()").split(".")) & _CHOICE
    if direct and plain:
        return _walker(path)
    steps = _steps(path) if direct else None
    if steps is not None:
        return _fast(path, steps)
    from fhirpathpy import compile as fhirpath_compile
    from fhirpathpy.models import models

    compiled = fhirpath_compile(path, models["r4"])
    return lambda resource: compiled(resource, None)  # no FHIRPath %variables: the context is empty


@dataclass(frozen=True)
class ViewColumn:
    name: str
    path: str
    collection: bool
    required: bool
    evaluate: Evaluator


@dataclass(frozen=True)
class View:
    """A compiled ViewDefinition: one output row per resource (no ``forEach`` is needed here)."""

    name: str
    resource: str
    columns: tuple[ViewColumn, ...]

    def row(self, resource: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The resource's row, and the FHIRPath of the first required column it lacks (else None)."""
        out: dict[str, Any] = {}
        missing = None
        for c in self.columns:
            values = c.evaluate(resource)
            if c.collection:
                out[c.name] = [_text(v) for v in values]
            else:
                out[c.name] = _text(values[0]) if values else None
            if c.required and not values and missing is None:
                missing = f"{self.resource}.{c.path}"
        return out, missing


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def load_view(resource: str, *, direct: bool = True) -> View:
    """The ViewDefinition of ``resource`` from ``fhir_views/``, compiled."""
    spec = json.loads((VIEWS_DIR / f"{resource}.json").read_text())
    columns = tuple(
        ViewColumn(
            c["name"],
            c["path"],
            bool(c.get("collection", False)),
            bool(c.get("required", False)),
            compile_path(c["path"], direct=direct),
        )
        for select in spec["select"]
        for c in select["column"]
    )
    return View(spec["name"], spec["resource"], columns)


def view_resources() -> list[str]:
    """Resources that have a ViewDefinition, i.e. that the FHIR reader imports."""
    return sorted(p.stem for p in VIEWS_DIR.glob("*.json"))
