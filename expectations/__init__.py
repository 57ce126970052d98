"""Data-quality checks run on every batch before it reaches the warehouse.

Public API (used by ``carepulse.pipelines.ingest``):

- :func:`validate_batch` -- run every suite on a batch of contract-typed extract frames.
- :func:`record_validation` -- persist a report (validation_runs / validation_results).
- :class:`ValidationReport`, :class:`ExpectationResult` -- the uniform result shape.
- :data:`CHECKS` -- the check catalogue (one :class:`Check` per row), for pages and docs.

Importing this package never imports Great Expectations (2-3 s); only running the GX executor or
rendering Data Docs does.
"""

from carepulse.expectations._check import Check
from carepulse.expectations._checks import CHECKS
from carepulse.expectations._report import ExpectationResult, ValidationReport
from carepulse.expectations.runner import record_validation, validate_batch

__all__ = ["CHECKS", "Check", "ExpectationResult", "ValidationReport", "record_validation", "validate_batch"]
