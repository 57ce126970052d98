"""Model files and the ``model_registry`` table: skops persistence, sha256, the current version.

A model file is a skops archive of a plain dict (the calibrated model, the baseline, the reference
row for reasons, band thresholds, catchment centre). Loading verifies the file's sha256 against the
registry first, then lists the types the file would construct and refuses any outside
:data:`TRUSTED_TYPES` before ``skops.io.load(trusted=TRUSTED_TYPES)``. Never pickle.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import sqlalchemy as sa

from carepulse import schema
from carepulse.errors import CarePulseError
from carepulse.settings import Settings

#: Types a CarePulse model file may hold beyond those skops trusts by default (reviewed by hand:
#: scikit-learn's calibration wrappers, the boosting trees, numpy dtypes and the partial that
#: ``check_array`` is wrapped in by the frozen estimator).
TRUSTED_TYPES: tuple[str, ...] = (
    "functools.partial",
    "numpy.dtype",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "sklearn.utils.validation.check_array",
)

MODELS_DIR = "models"


@dataclass
class ModelVersion:
    """One registered model version (a row of ``model_registry``)."""

    version: str
    trained_at: dt.datetime
    train_start: dt.date | None
    train_end: dt.date | None
    test_start: dt.date | None
    test_end: dt.date | None
    features: list[str]
    metrics: dict[str, Any]
    file_path: str
    file_sha256: str
    is_current: bool = False
    model_card: str | None = None
    artifact: dict[str, Any] | None = field(default=None, repr=False)


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def new_version(now: dt.datetime) -> str:
    return f"{now:%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def save_artifact(artifact: dict[str, Any], settings: Settings, version: str) -> tuple[str, str]:
    """Write the skops file under ``data_dir/models``; return (path relative to data_dir, sha256)."""
    folder = settings.data_dir / MODELS_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"no_show_{version}.skops"
    import skops.io as sio  # imported on use: the dashboard reads the registry without loading a model

    sio.dump(artifact, path)
    return f"{MODELS_DIR}/{path.name}", sha256_of(path)


def load_artifact(path: Path, expected_sha256: str) -> dict[str, Any]:
    """Load a model file after checking its sha256 and that it holds only trusted types."""
    if not path.exists():
        raise CarePulseError(f"model file {path.name} is missing from {path.parent}")
    actual = sha256_of(path)
    if actual != expected_sha256:
        raise CarePulseError(
            f"model file {path.name} does not match its registered sha256; refusing to load it"
        )
    import skops.io as sio

    untrusted = sorted(set(sio.get_untrusted_types(file=path)) - set(TRUSTED_TYPES))
    if untrusted:
        raise CarePulseError(f"model file {path.name} holds untrusted types {untrusted}; refusing to load it")
    artifact: dict[str, Any] = sio.load(path, trusted=list(TRUSTED_TYPES))
    return artifact


def register(engine: sa.Engine, mv: ModelVersion) -> None:
    """Insert a version and make it the only current one (one transaction)."""
    row = {
        "version": mv.version,
        "trained_at": mv.trained_at,
        "train_start": mv.train_start,
        "train_end": mv.train_end,
        "test_start": mv.test_start,
        "test_end": mv.test_end,
        "features": json.dumps(mv.features),
        "metrics": json.dumps(mv.metrics, default=str),
        "file_path": mv.file_path,
        "file_sha256": mv.file_sha256,
        "is_current": True,
        "model_card": mv.model_card,
    }
    with engine.begin() as conn:
        conn.execute(schema.model_registry.update().values(is_current=False))
        conn.execute(schema.model_registry.insert(), [row])
    mv.is_current = True


def _from_row(row: sa.Row[Any]) -> ModelVersion:
    m = row._mapping
    return ModelVersion(
        version=m["version"],
        trained_at=m["trained_at"],
        train_start=m["train_start"],
        train_end=m["train_end"],
        test_start=m["test_start"],
        test_end=m["test_end"],
        features=json.loads(m["features"]),
        metrics=json.loads(m["metrics"]),
        file_path=m["file_path"],
        file_sha256=m["file_sha256"],
        is_current=bool(m["is_current"]),
        model_card=m["model_card"],
    )


def current_version(engine: sa.Engine) -> ModelVersion:
    """The current model's registry row (no file loaded); CarePulseError when none is trained."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(schema.model_registry).where(schema.model_registry.c.is_current == sa.true())
        ).first()
    if row is None:
        raise CarePulseError("no trained no-show model yet: run `carepulse train`")
    return _from_row(row)


def load_current(engine: sa.Engine, settings: Settings) -> ModelVersion:
    """The current version with its artifact loaded (sha256 and types checked)."""
    mv = current_version(engine)
    mv.artifact = load_artifact(settings.data_dir / mv.file_path, mv.file_sha256)
    return mv


def versions(engine: sa.Engine) -> pl.DataFrame:
    """Every registered version, newest first (without the card)."""
    cols = [
        "version",
        "trained_at",
        "train_start",
        "train_end",
        "test_start",
        "test_end",
        "file_sha256",
        "is_current",
    ]
    from carepulse.warehouse import read_table

    return read_table(engine, "model_registry", columns=cols).sort("trained_at", descending=True)


def current_model_card(engine: sa.Engine) -> str:
    """The current model's card (Markdown)."""
    return current_version(engine).model_card or ""
