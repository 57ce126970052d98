"""docs/metrics.md documents every registered metric, exactly as the registry defines it."""

from __future__ import annotations

import re

import pytest

from carepulse import metrics
from carepulse.metrics import _docs

DOC = _docs.DOC_PATH.read_text()


@pytest.mark.parametrize("name", list(metrics.REGISTRY))
def test_metric_is_documented(name):
    definition = metrics.get_metric(name)
    assert f"### `{name}`" in DOC, f"{name} is missing from docs/metrics.md (run python -m metrics._docs)"
    section = DOC.split(f"### `{name}`", 1)[1].split("\n### ", 1)[0]
    for field in ("numerator", "denominator", "exclusions", "standard", "source"):
        assert f"| {field} | {getattr(definition, field)} |" in section, (
            f"{name}: {field} differs from the registry"
        )
    assert f"| better | {definition.better} |" in section


def test_doc_names_no_unregistered_metric():
    documented = set(re.findall(r"^### `([a-z0-9_]+)`", DOC, flags=re.M))
    assert documented == set(metrics.REGISTRY)


def test_generated_block_is_current():
    assert _docs.current_block(DOC) == _docs.generated_block(), "run: python -m metrics._docs"


def test_settings_that_change_definitions_are_documented():
    for setting in (
        "late_cancel_hours",
        "count_late_cancels_as_no_shows",
        "on_time_grace_minutes",
        "small_cell_threshold",
    ):
        assert f"`{setting}`" in DOC
