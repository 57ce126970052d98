"""Train, calibrate, evaluate and register the no-show model on temporal windows of the warehouse.

Windows (never a random split): the test window is the latest ``settings.test_window_months``
months before the cutoff, the validation window (calibration, band thresholds) the
``VALIDATION_MONTHS`` before it, and training everything earlier. Patients may appear in several
windows; their features only ever use the past. The registered model is exactly the one evaluated
(trained on the training window, calibrated on the validation window), so the registry's metrics
describe the file that scores.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl
import sqlalchemy as sa

from carepulse import schema
from carepulse.errors import CarePulseError
from carepulse.metrics.no_show_model import card as card_module
from carepulse.metrics.no_show_model import registry
from carepulse.metrics.no_show_model.evaluation import (
    EvaluationReport,
    age_band,
    build_report,
    race_ethnicity,
)
from carepulse.metrics.no_show_model.features import (
    FEATURES,
    appointment_features,
    catchment_zip,
    labelled_examples,
)
from carepulse.metrics.no_show_model.pipeline import (
    ModelParams,
    calibrate,
    choose_calibration,
    fit_models,
    to_model_input,
)
from carepulse.metrics.no_show_model.reasons import reference_values
from carepulse.settings import Settings

VALIDATION_MONTHS = 2
#: Share of validation-window appointments in the high and in the high+medium risk bands.
HIGH_BAND_SHARE, MEDIUM_BAND_SHARE = 0.10, 0.30
MIN_TRAIN_ROWS = 200

_PATIENT_COLUMNS = [
    "patient_id",
    "birth_date",
    "sex",
    "race",
    "ethnicity",
    "preferred_language",
    "postal_code",
    "payer_class",
    "portal_active",
    "needs_interpreter",
    "transport_barrier",
]
_REFERRAL_COLUMNS = [
    "referral_id",
    "patient_id",
    "created_at",
    "scheduled_at",
    "completed_at",
    "prior_auth_required",
    "prior_auth_status",
    "prior_auth_decided_at",
]


@dataclass(frozen=True)
class Windows:
    """Half-open [start, end) datetime windows by ``scheduled_start``."""

    train_start: dt.datetime
    valid_start: dt.datetime
    test_start: dt.datetime
    cutoff: dt.datetime

    def to_dict(self) -> dict[str, str]:
        return {k: v.isoformat(sep=" ") for k, v in self.__dict__.items()}


def local_now(settings: Settings) -> dt.datetime:
    """Now as naive wall time of the site timezone (as every extract timestamp is)."""
    return dt.datetime.now(ZoneInfo(settings.timezone)).replace(tzinfo=None, microsecond=0)


def model_frames(engine: sa.Engine) -> dict[str, pl.DataFrame]:
    """The warehouse tables the model reads (only the columns it needs)."""
    from carepulse.warehouse import read_table

    appt_cols = [c.name for c in schema.EXTRACT_TABLES["appointments"].columns if not c.name.startswith("_")]
    return {
        "appointments": read_table(engine, "appointments", columns=appt_cols),
        "patients": read_table(engine, "patients", columns=_PATIENT_COLUMNS),
        "referrals": read_table(engine, "referrals", columns=_REFERRAL_COLUMNS),
    }


def data_horizon(appointments: pl.DataFrame, settings: Settings) -> dt.datetime:
    """What the extract knows up to: its latest booking time, never later than now."""
    if appointments.is_empty():
        raise CarePulseError("the warehouse holds no appointments: run `carepulse ingest DIR` first")
    latest = cast(dt.datetime, appointments["booked_at"].max())
    return min(latest, local_now(settings))


def temporal_windows(
    first: dt.datetime, cutoff: dt.datetime, test_months: int, valid_months: int = VALIDATION_MONTHS
) -> Windows:
    """Test = last ``test_months`` before ``cutoff``; validation = ``valid_months`` before that."""
    c = pl.Series([cutoff])
    test_start = c.dt.offset_by(f"-{test_months}mo")[0]
    valid_start = c.dt.offset_by(f"-{test_months + valid_months}mo")[0]
    if first >= valid_start:
        raise CarePulseError(
            f"need history before {valid_start:%Y-%m-%d} to train (data starts {first:%Y-%m-%d}); "
            "lower test_window_months or load more months"
        )
    return Windows(train_start=first, valid_start=valid_start, test_start=test_start, cutoff=cutoff)


@dataclass(frozen=True)
class SplitOptions:
    """Where the test and validation windows start, for extracts too short for whole months.

    ``test_start`` / ``validation_start`` fix the windows' first days; ``test_days`` /
    ``validation_days`` size them instead (the test window ends at the cutoff, validation ends where
    test starts). With only a test window given, validation is as long as the test window. Unset:
    ``settings.test_window_months`` and ``VALIDATION_MONTHS``.
    """

    test_start: dt.datetime | None = None
    validation_start: dt.datetime | None = None
    test_days: float | None = None
    validation_days: float | None = None

    @property
    def custom(self) -> bool:
        return any(
            v is not None
            for v in (self.test_start, self.validation_start, self.test_days, self.validation_days)
        )


def choose_windows(
    first: dt.datetime, cutoff: dt.datetime, settings: Settings, options: SplitOptions
) -> Windows:
    """The temporal windows for ``options`` (months from settings when none is given)."""
    if not options.custom:
        return temporal_windows(first, cutoff, settings.test_window_months)
    if options.test_start is not None:
        test_start = options.test_start
    elif options.test_days is not None:
        test_start = cutoff - dt.timedelta(days=options.test_days)
    else:
        test_start = pl.Series([cutoff]).dt.offset_by(f"-{settings.test_window_months}mo")[0]
    if options.validation_start is not None:
        valid_start = options.validation_start
    else:
        days = options.validation_days if options.validation_days is not None else None
        valid_start = test_start - (dt.timedelta(days=days) if days is not None else cutoff - test_start)
    problems = []
    if not test_start < cutoff:
        problems.append(
            f"the test window starts {test_start:%Y-%m-%d}, not before the cutoff {cutoff:%Y-%m-%d %H:%M}"
        )
    if not valid_start < test_start:
        problems.append(
            f"validation starts {valid_start:%Y-%m-%d}, not before the test window ({test_start:%Y-%m-%d})"
        )
    if not first < valid_start:
        problems.append(
            f"no training history: the data starts {first:%Y-%m-%d}, validation starts {valid_start:%Y-%m-%d}"
        )
    if problems:
        raise CarePulseError(
            "impossible split: " + "; ".join(problems) + ". Choose earlier start dates or shorter windows."
        )
    return Windows(train_start=first, valid_start=valid_start, test_start=test_start, cutoff=cutoff)


def window_counts(parts: dict[str, pl.DataFrame], w: Windows) -> str:
    """``training 2026-03-01..2026-03-20: 812 appointments, 97 no-shows; ...`` for error messages."""
    bounds = {
        "training": (w.train_start, w.valid_start),
        "validation": (w.valid_start, w.test_start),
        "test": (w.test_start, w.cutoff),
    }
    return "; ".join(
        f"{name} {lo:%Y-%m-%d}..{hi - dt.timedelta(microseconds=1):%Y-%m-%d}: {part.height:,} kept or missed "
        f"appointments, {int(part['no_show'].sum()):,} no-shows"
        for name, part in parts.items()
        for lo, hi in [bounds[name]]
    )


def check_windows(parts: dict[str, pl.DataFrame], w: Windows) -> None:
    """A :class:`CarePulseError` naming the counts of every window when one cannot train or test."""
    problems = []
    for name, part in parts.items():
        need = MIN_TRAIN_ROWS if name == "training" else 20
        no_shows = int(part["no_show"].sum())
        if part.height < need:
            problems.append(f"the {name} window has {part.height:,} appointments (needs {need})")
        elif no_shows == 0:
            problems.append(f"the {name} window has no no-shows")
        elif no_shows == part.height:
            problems.append(f"the {name} window has only no-shows")
    if problems:
        raise CarePulseError(
            f"cannot train: {'; '.join(problems)}. Windows: {window_counts(parts, w)}. "
            "Move --test-start/--validation-start or change the window lengths."
        )


def labelled_dataset(
    frames: dict[str, pl.DataFrame], cutoff: dt.datetime, centre_zip: int | None
) -> pl.DataFrame:
    """Past kept-or-missed appointments with label, point-in-time features and subgroup columns."""
    examples = labelled_examples(frames["appointments"], cutoff)
    feats = appointment_features(
        examples.select("appointment_id", "as_of"),
        frames["appointments"],
        frames["patients"],
        frames.get("referrals"),
        centre_zip=centre_zip,
    )
    groups = frames["patients"].select(
        "patient_id", race_ethnicity(pl.col("race"), pl.col("ethnicity")).alias("race_ethnicity")
    )
    return (
        examples.join(feats.drop("as_of"), on="appointment_id", how="left")
        .join(frames["appointments"].select("appointment_id", "patient_id"), on="appointment_id", how="left")
        .join(groups, on="patient_id", how="left")
        .with_columns(
            age_band(pl.col("age")).alias("age_band"), pl.col("race_ethnicity").fill_null("unknown")
        )
    )


def split(dataset: pl.DataFrame, w: Windows) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    s = pl.col("scheduled_start")
    return (
        dataset.filter(s < w.valid_start),
        dataset.filter((s >= w.valid_start) & (s < w.test_start)),
        dataset.filter((s >= w.test_start) & (s < w.cutoff)),
    )


def read_truth(path: Path | None) -> pl.DataFrame | None:
    """The generator's true probabilities (synthetic data only), or None."""
    if path is None or not Path(path).exists():
        return None
    return pl.read_parquet(path, columns=["appointment_id", "p_no_show"])


def truth_path_for(engine: sa.Engine) -> Path | None:
    """``truth/no_show_probability.parquet`` next to the extracts of the latest successful load."""
    try:
        with engine.connect() as conn:
            source = conn.execute(
                sa.select(schema.load_runs.c.source_dir)
                .where(schema.load_runs.c.status == "succeeded")
                .order_by(schema.load_runs.c.run_id.desc())
                .limit(1)
            ).scalar()
    except sa.exc.SQLAlchemyError:
        return None
    if not source:
        return None
    path = Path(source) / "truth" / "no_show_probability.parquet"
    return path if path.exists() else None


def _predictions(
    artifact: dict[str, Any], test: pl.DataFrame, truth: pl.DataFrame | None
) -> dict[str, np.ndarray]:
    x = to_model_input(test)
    out = {
        "model": artifact["model"].predict_proba(x)[:, 1],
        "baseline": artifact["baseline"].predict_proba(x)[:, 1],
    }
    if truth is not None:
        oracle = test.select("appointment_id").join(truth, on="appointment_id", how="left")["p_no_show"]
        if oracle.null_count() == 0 and len(oracle):
            out["oracle"] = oracle.to_numpy()
    return out


def train_model(
    engine: sa.Engine,
    settings: Settings,
    as_of: dt.datetime | None = None,
    *,
    params: ModelParams = ModelParams(),
    truth_path: Path | None = None,
    frames: dict[str, pl.DataFrame] | None = None,
    split_options: SplitOptions = SplitOptions(),
) -> registry.ModelVersion:
    """Train on the warehouse, evaluate on the test window, register and make current.

    ``as_of`` (default: the data horizon) is the cutoff: only visits before it are examples.
    ``frames`` bypasses the warehouse read (benchmarks); ``split_options`` places the windows
    (:class:`SplitOptions`, for short extracts). Returns the registered version, artifact
    loaded.
    """
    frames = frames or model_frames(engine)
    cutoff = as_of or data_horizon(frames["appointments"], settings)
    centre = catchment_zip(frames["patients"])
    dataset = labelled_dataset(frames, cutoff, centre)
    if dataset.is_empty():
        raise CarePulseError("no past completed or missed appointments to learn from")
    first = cast(dt.datetime, dataset["scheduled_start"].min())  # non-empty; rows before cutoff: not null
    w = choose_windows(first, cutoff, settings, split_options)
    train, valid, test = split(dataset, w)
    check_windows({"training": train, "validation": valid, "test": test}, w)
    hgb, baseline = fit_models(to_model_input(train), train["no_show"].to_numpy(), params)
    vx, vy = to_model_input(valid), valid["no_show"].to_numpy()
    method, scores = choose_calibration(hgb, vx, vy)
    model = calibrate(hgb, vx, vy, method)
    valid_risk = model.predict_proba(vx)[:, 1]
    artifact = {
        "model": model,
        "baseline": baseline,
        "features": list(FEATURES),
        "reference": reference_values(train),
        "band_thresholds": [
            float(np.quantile(valid_risk, 1 - HIGH_BAND_SHARE)),
            float(np.quantile(valid_risk, 1 - MEDIUM_BAND_SHARE)),
        ],
        "centre_zip": centre,
        "calibration": method,
    }
    truth = read_truth(truth_path or truth_path_for(engine))
    trained_at = local_now(settings)
    version = registry.new_version(trained_at)
    report = build_report(
        test,
        _predictions(artifact, test, truth),
        capacity=settings.outreach_capacity_per_day,
        model_version=version,
        windows=w.to_dict(),
        calibration_method=method,
        calibration_scores=scores,
    )
    file_path, sha = registry.save_artifact(artifact, settings, version)
    mv = registry.ModelVersion(
        version=version,
        trained_at=trained_at,
        train_start=w.train_start.date(),
        train_end=(w.valid_start - dt.timedelta(days=1)).date(),
        test_start=w.test_start.date(),
        test_end=(w.cutoff - dt.timedelta(microseconds=1)).date(),
        features=list(FEATURES),
        metrics=report.to_dict()
        | {"rows": {"train": train.height, "validation": valid.height, "test": test.height}},
        file_path=file_path,
        file_sha256=sha,
        artifact=artifact,
    )
    mv.model_card = card_module.model_card_markdown(mv)
    card_module.write_card_files(mv, settings)
    registry.register(engine, mv)
    return mv


def evaluate_model(
    engine: sa.Engine, settings: Settings, *, truth_path: Path | None = None
) -> EvaluationReport:
    """Re-run the whole evaluation of the current model on its test window of today's warehouse."""
    mv = registry.load_current(engine, settings)
    artifact = mv.artifact
    assert artifact is not None  # load_current loads it
    frames = model_frames(engine)
    w = Windows(**{k: dt.datetime.fromisoformat(v) for k, v in mv.metrics["windows"].items()})
    dataset = labelled_dataset(frames, w.cutoff, artifact["centre_zip"])
    _, _, test = split(dataset, w)
    if test.is_empty():
        raise CarePulseError("the model's test window holds no appointments in this warehouse")
    truth = read_truth(truth_path or truth_path_for(engine))
    return build_report(
        test,
        _predictions(artifact, test, truth),
        capacity=settings.outreach_capacity_per_day,
        model_version=mv.version,
        windows=w.to_dict(),
        calibration_method=artifact["calibration"],
        calibration_scores=mv.metrics.get("calibration_scores"),
    )
