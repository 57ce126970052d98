"""Training on what a site has: six weeks of scheduling data, windows placed by date or in days.

A generated system cut to its last six weeks, without referrals, claims or surveys, trains and
evaluates with ``--test-start``; impossible splits and fractional months are one-line errors naming
the counts in each window, never tracebacks.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from carepulse.cli import app
from carepulse.errors import CarePulseError

AS_OF = dt.date(2026, 6, 30)
SIX_WEEKS_START = dt.datetime(2026, 5, 19)


@pytest.fixture(scope="module")
def six_weeks(tmp_path_factory) -> Path:
    """Departments, providers, patients and six weeks of appointments (no other extract)."""
    from carepulse.pipelines.synthetic import generate_health_system

    full = tmp_path_factory.mktemp("full")
    generate_health_system(full, patients=5000, months=2, seed=11, as_of=AS_OF)
    out = tmp_path_factory.mktemp("six_weeks")
    for name in ("departments", "providers", "patients"):
        (out / f"{name}.csv").write_bytes((full / f"{name}.csv").read_bytes())
    appointments = pl.read_csv(full / "appointments.csv", infer_schema=False)
    start = pl.col("scheduled_start").str.to_datetime("%Y-%m-%d %H:%M:%S")
    appointments.filter(start >= SIX_WEEKS_START).with_columns(
        pl.lit(None, pl.String).alias("referral_id")
    ).write_csv(out / "appointments.csv")
    return out


@pytest.fixture
def loaded(six_weeks: Path, settings) -> CliRunner:
    runner = CliRunner()
    result = runner.invoke(app, ["ingest", str(six_weeks), "--no-progress"])
    assert result.exit_code == 0, result.output
    return runner


def test_trains_and_evaluates_on_six_weeks_with_a_test_start(loaded: CliRunner) -> None:
    result = loaded.invoke(
        app, ["train", "--test-start", "2026-06-16", "--as-of", "2026-06-30", "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    metrics = json.loads(result.output)["metrics"]
    windows = metrics["windows"]
    assert windows["test_start"].startswith("2026-06-16")
    assert windows["valid_start"].startswith("2026-06-02")  # as long as the test window, just before it
    assert windows["train_start"] >= "2026-05-19"
    rows = metrics["rows"]
    assert rows["train"] >= 200 and rows["validation"] >= 20 and rows["test"] >= 20
    assert 0.5 < metrics["overall"]["model"]["auroc"] <= 1.0


def test_windows_in_days(loaded: CliRunner) -> None:
    result = loaded.invoke(
        app,
        [
            "train",
            "--as-of",
            "2026-06-30",
            "--test-window-days",
            "10",
            "--validation-window-days",
            "10",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    windows = json.loads(result.output)["metrics"]["windows"]
    assert windows["test_start"].startswith("2026-06-20") and windows["valid_start"].startswith("2026-06-10")


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--test-window-months", "0.5"], "--test-window-months must be a whole number of months"),
        (["--test-start", "2026-05-28", "--validation-start", "2026-05-21"], "the training window has"),
        (["--test-start", "2026-05-10"], "impossible split"),
        (["--test-start", "June"], "--test-start 'June' is not a date"),
        (["--test-start", "2026-06-16", "--validation-start", "2026-06-20"], "validation starts 2026-06-20"),
    ],
)
def test_impossible_splits_are_clear_errors(loaded: CliRunner, args: list[str], says: str) -> None:
    result = loaded.invoke(app, ["train", "--as-of", "2026-06-30", *args])
    assert result.exit_code != 0
    assert isinstance(result.exception, CarePulseError), result.exception
    assert says in str(result.exception)


def test_too_small_a_window_names_the_counts_in_every_window(loaded: CliRunner) -> None:
    args = ["--test-start", "2026-05-28", "--validation-start", "2026-05-21"]
    result = loaded.invoke(app, ["train", "--as-of", "2026-06-30", *args])
    message = str(result.exception)
    assert "Windows: training 2026-05-19.." in message
    assert "kept or missed appointments" in message and "no-shows" in message and "validation" in message


def test_an_invalid_setting_is_a_user_error_not_a_traceback(monkeypatch) -> None:
    from carepulse.settings import get_settings

    monkeypatch.setenv("CAREPULSE_TEST_WINDOW_MONTHS", "0.5")
    get_settings.cache_clear()
    with pytest.raises(CarePulseError, match="test_window_months"):
        get_settings()
