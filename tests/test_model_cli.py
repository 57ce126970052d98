"""`carepulse train | evaluate | score` on a warehouse loaded from the synthetic health system."""

import json

import polars as pl
from typer.testing import CliRunner

from carepulse import schema, warehouse
from carepulse.cli import app


def test_train_evaluate_score_on_the_synthetic_warehouse(synthetic_dir, settings):
    from carepulse.pipelines.ingest import ingest

    engine = warehouse.make_engine(settings)
    schema.create_all(engine)
    assert ingest(synthetic_dir, engine=engine, settings=settings).status == "succeeded"
    runner = CliRunner()

    trained = runner.invoke(app, ["train", "--format", "json"])
    assert trained.exit_code == 0, trained.output
    version = json.loads(trained.output)["version"]
    assert (settings.data_dir / "models" / f"no_show_{version}.skops").exists()

    evaluated = runner.invoke(app, ["evaluate", "--format", "json"])
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads(evaluated.output)
    assert report["model_version"] == version
    # the truth file next to the loaded extracts gives the oracle on the same test window
    assert report["overall"]["oracle"]["n"] == report["overall"]["model"]["n"] > 50
    assert report["overall"]["oracle"]["auroc"] > 0.6
    assert {r["subgroup"] for r in report["subgroups"]} >= {
        "sex",
        "age_band",
        "race_ethnicity",
        "payer_class",
        "language",
    }
    assert len(report["lift_by_decile"]) == 10
    # the same numbers the registry stored at training time (same file, same window, same data)
    stored = json.loads(trained.output)["metrics"]["overall"]["model"]
    assert report["overall"]["model"]["auroc"] == stored["auroc"]

    table = runner.invoke(app, ["evaluate"])
    assert (
        table.exit_code == 0
        and "AUROC" in table.output
        and "By subgroup" in table.output
        and "Lift by decile" in table.output
    )

    scored = runner.invoke(app, ["score", "--days", "14"])
    assert scored.exit_code == 0, scored.output
    rows = warehouse.read_table(engine, "risk_scores").filter(pl.col("is_current"))
    upcoming = warehouse.read_table(engine, "appointments", columns=["appointment_id", "status"]).filter(
        pl.col("status") == "scheduled"
    )
    assert 0 < rows.height <= upcoming.height
    assert rows["reason_1"].null_count() < rows.height
    assert set(rows["suggested_action"]) <= {
        "reminder call",
        "arrange transport",
        "offer telehealth",
        "verify insurance",
        "book an interpreter",
    }


def test_evaluate_without_a_model_says_what_to_do(sqlite_engine):
    result = CliRunner().invoke(app, ["evaluate"])
    assert result.exit_code != 0
    assert "carepulse train" in str(result.exception)
