"""`carepulse demo` sets up a whole working product: loaded, trained, scored, annotated, with accounts."""

from __future__ import annotations

import sqlalchemy as sa
from typer.testing import CliRunner

from carepulse import schema, warehouse
from carepulse.access import accounts
from carepulse.cli import app


def test_demo_without_serving_sets_up_everything(settings):
    result = CliRunner().invoke(
        app, ["demo", "--patients", "500", "--months", "12", "--seed", "3", "--no-serve"]
    )
    assert result.exit_code == 0, result.output

    engine = warehouse.make_engine(settings)
    runs = warehouse.read_table(engine, "load_runs")
    assert runs["status"].to_list() == ["succeeded"]
    assert runs["inserted"][0] > 1000
    # A clean generated system loads whole (regression: an extract dated today held completed
    # visits later today, which the plausibility check rightly quarantined as in the future).
    assert runs["quarantined"][0] == 0
    with engine.connect() as conn:
        current = conn.execute(
            sa.select(schema.model_registry.c.version).where(schema.model_registry.c.is_current)
        ).all()
        n_scored = conn.execute(sa.select(sa.func.count()).select_from(schema.risk_scores)).scalar()
        annotations = conn.execute(
            sa.select(schema.annotations.c.metric, schema.annotations.c.starts_phase)
        ).all()
    assert len(current) == 1 and current[0].version in result.output
    assert n_scored > 0
    # The generator's planted interventions are marked on the QI charts as phases.
    assert ("no_show_rate", True) in [tuple(a) for a in annotations]
    roles = {u.role for u in accounts.list_users(engine)}
    assert roles == {"admin", "manager", "qi", "coordinator", "analyst"}
    assert "AUROC" in result.output and "demo-coordinator" in result.output

    # A second run keeps the warehouse and the passwords, and retrains on what is there.
    again = CliRunner().invoke(app, ["demo", "--no-serve"])
    assert again.exit_code == 0, again.output
    assert warehouse.read_table(engine, "load_runs").height == 1
    assert "reset-password demo-admin --generate" in again.output
