"""Training, the registry, reasons, actions and scoring runs on a small toy health system."""

import datetime as dt
import shutil

import numpy as np
import polars as pl
import pytest
import sqlalchemy as sa

from carepulse import schema, warehouse
from carepulse.errors import CarePulseError
from carepulse.metrics.no_show_model import registry
from carepulse.metrics.no_show_model.actions import ACTIONABILITY
from carepulse.metrics.no_show_model.monitoring import monitoring_frame
from carepulse.metrics.no_show_model.pipeline import (
    ModelParams,
    calibrated_risk,
    inner_pipeline,
    to_model_input,
)
from carepulse.metrics.no_show_model.reasons import GROUP_NAMES, reason_contributions
from carepulse.metrics.no_show_model.scoring import score_frame, score_upcoming, write_scores
from carepulse.metrics.no_show_model.toy import toy_health_system
from carepulse.metrics.no_show_model.training import labelled_dataset, train_model
from carepulse.settings import Settings

AS_OF = dt.datetime(2026, 6, 30)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A warehouse holding a toy system and a model trained on it (shared by this module)."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("model"))
    engine = warehouse.make_engine(settings)
    schema.create_all(engine)
    frames = toy_health_system(patients=400, appointments=8000, seed=11)
    with engine.begin() as conn:
        for name in ("departments", "providers", "patients", "appointments"):
            rows = frames[name].with_columns(_load_run_id=pl.lit(1), _row_hash=pl.lit(0)).to_dicts()
            conn.execute(schema.EXTRACT_TABLES[name].insert(), rows)
    truth = settings.data_dir / "truth.parquet"
    frames["truth"].write_parquet(truth)
    mv = train_model(engine, settings, as_of=AS_OF, params=ModelParams(max_iter=60), truth_path=truth)
    yield engine, settings, frames, mv
    engine.dispose()


def test_training_registers_a_current_version_with_windows_metrics_and_card(trained):
    engine, settings, _, mv = trained
    current = registry.current_version(engine)
    assert current.version == mv.version and current.is_current
    assert current.train_start < current.train_end < current.test_start <= current.test_end
    overall = current.metrics["overall"]
    assert set(overall) == {"model", "baseline", "oracle"}
    # the toy's signal is learnable: clearly better than chance, close to the oracle, calibrated
    # (4,000 training rows: HistGradientBoosting stays below the logistic baseline here; see docs/model.md)
    assert overall["model"]["auroc"] > 0.57
    assert overall["oracle"]["auroc"] - overall["model"]["auroc"] < 0.15
    assert overall["model"]["ece"] < 0.05
    card = registry.current_model_card(engine)
    assert "Overbooked and overlooked" in card and "Not intended" in card and "race_ethnicity" in card
    assert (settings.data_dir / "models" / f"no_show_{mv.version}.html").exists()


def test_model_file_is_verified_before_loading(trained, tmp_path):
    engine, settings, _, mv = trained
    path = settings.data_dir / mv.file_path
    assert registry.sha256_of(path) == mv.file_sha256
    assert registry.load_current(engine, settings).artifact["calibration"] in ("sigmoid", "isotonic")
    tampered = tmp_path / "m.skops"
    shutil.copy(path, tampered)
    with open(tampered, "ab") as fh:
        fh.write(b"x")
    with pytest.raises(CarePulseError, match="sha256"):
        registry.load_artifact(tampered, mv.file_sha256)


def test_model_file_with_an_untrusted_type_is_refused(settings):
    rel, sha = registry.save_artifact({"model": dt.timedelta(days=1)}, settings, "evil")
    with pytest.raises(CarePulseError, match="untrusted types"):
        registry.load_artifact(settings.data_dir / rel, sha)


def test_scores_carry_reasons_actions_and_benefit(trained):
    _, _, frames, mv = trained
    scored = score_frame(mv.artifact, frames, AS_OF, 14)
    upcoming = frames["appointments"].filter(
        (pl.col("status") == "scheduled")
        & (pl.col("scheduled_start") < AS_OF + dt.timedelta(days=14))
        & (pl.col("booked_at") <= AS_OF)
    )
    assert scored.height == upcoming.height > 20
    assert scored["risk"].is_between(0, 1).all()
    high, medium = mv.artifact["band_thresholds"]
    assert (scored.filter(pl.col("risk") >= high)["risk_band"] == "high").all()
    assert scored["reason_1"].null_count() < scored.height / 4
    words = " ".join(scored["reason_1"].drop_nulls().to_list() + scored["reason_2"].drop_nulls().to_list())
    for demographic in ("female", "male", "medicaid", "commercial", "age"):
        assert demographic not in words
    expected = scored["risk"] * scored["suggested_action"].replace_strict(
        ACTIONABILITY, return_dtype=pl.Float64
    )
    assert np.allclose(scored["expected_benefit"].to_numpy(), expected.to_numpy())
    assert scored.sort("rank")["expected_benefit"].is_sorted(descending=True)


def test_risk_from_encoded_scores_equals_predict_proba(trained):
    _, _, frames, mv = trained
    x = to_model_input(labelled_dataset(frames, AS_OF, mv.artifact["centre_zip"]).head(500))
    model = mv.artifact["model"]
    inner = inner_pipeline(model)
    assert np.allclose(calibrated_risk(model, inner.decision_function(x)), model.predict_proba(x)[:, 1])


def test_reasons_follow_the_planted_effects(trained):
    engine, settings, frames, mv = trained
    data = labelled_dataset(frames, AS_OF, mv.artifact["centre_zip"]).head(3000)
    contrib = reason_contributions(
        inner_pipeline(mv.artifact["model"]), to_model_input(data), mv.artifact["reference"]
    )
    transport = contrib[:, GROUP_NAMES.index("transport")]
    has_barrier = data["transport_barrier"].to_numpy() == 1
    assert transport[has_barrier].mean() > 0.1  # the toy adds +0.7 log-odds for a transport barrier
    assert np.all(transport[~has_barrier] == 0)  # equal to the reference: no contribution


def test_training_refuses_a_warehouse_without_history(sqlite_engine, settings):
    with pytest.raises(CarePulseError, match="no appointments"):
        train_model(sqlite_engine, settings)


def _scored(ids, risk=0.3):
    return pl.DataFrame(
        {
            "appointment_id": ids,
            "risk": [risk] * len(ids),
            "risk_band": ["high"] * len(ids),
            "reason_1": ["r"] * len(ids),
            "reason_2": [None] * len(ids),
            "reason_3": [None] * len(ids),
            "suggested_action": ["reminder call"] * len(ids),
            "expected_benefit": [risk * 0.22] * len(ids),
            "rank": list(range(1, len(ids) + 1)),
        },
        schema_overrides={"reason_2": pl.String, "reason_3": pl.String},
    )


def test_new_run_replaces_unworked_scores_and_keeps_history(engine):
    t = dt.datetime(2026, 6, 1)
    first = write_scores(engine, _scored(["a", "b", "c"]), model_version="v", as_of=t, days=14, scored_at=t)
    with engine.begin() as conn:
        conn.execute(
            schema.outreach_outcomes.insert().values(
                appointment_id="b",
                patient_id="p",
                score_run_id=first,
                outcome="reached",
                recorded_by="coord",
                recorded_at=t,
            )
        )
    second = write_scores(
        engine, _scored(["a", "b", "d"], 0.5), model_version="v", as_of=t, days=14, scored_at=t
    )
    rows = warehouse.read_table(engine, "risk_scores").sort("score_run_id", "appointment_id")
    current = {(r["score_run_id"], r["appointment_id"]) for r in rows.filter(pl.col("is_current")).to_dicts()}
    # a, d: the new run; b: worked, keeps the row the coordinator acted on; c: no longer upcoming
    assert current == {(second, "a"), (first, "b"), (second, "d")}
    assert rows.height == 6  # nothing deleted
    with engine.connect() as conn:
        n = conn.execute(
            sa.select(schema.score_runs.c.n_scored).where(schema.score_runs.c.score_run_id == second)
        ).scalar()
    assert n == 3


def test_score_upcoming_and_monitoring_on_the_warehouse(trained):
    engine, settings, _, mv = trained
    as_of = dt.datetime(2026, 5, 1)  # outcomes of these visits are known: the monitoring frame can compare
    run_id = score_upcoming(engine, settings, as_of=as_of, days=14)
    rows = warehouse.read_table(engine, "risk_scores", where=f"score_run_id = {run_id}")
    assert rows.height == 0  # toy visits before the data horizon are no longer 'scheduled'
    run_id = score_upcoming(engine, settings, days=7)
    rows = warehouse.read_table(engine, "risk_scores", where=f"score_run_id = {run_id}")
    assert rows.height > 0 and rows["is_current"].all() and set(rows["model_version"]) == {mv.version}
    frame = monitoring_frame(engine)
    assert set(frame.columns) == {"week", "n", "no_shows", "predicted_rate", "observed_rate"}
