"""Benchmark the no-show worklist: the pure ranking, the outreach effect and the page's server-side run.

    .venv/bin/python bench/worklist.py --appointments 1000000

Builds a SQLite warehouse from the toy health system (``carepulse.metrics.no_show_model.toy``: N appointments over
12 months plus 30 days still scheduled), writes a scoring run of the next 14 days' scheduled visits
(random risks; the model is measured in ``bench/model.py``) and outreach outcomes for 5% of the
past scored visits, then times:

- ``build_worklist`` on every current score (all departments), pure Polars;
- ``outreach_effect`` on the scored history;
- the page in Streamlit's AppTest as a coordinator of two departments with contact details: cold
  (caches empty), and after a filter change (risk band = high).

Targets (issue 6): page under 1 s cold and under 300 ms after a filter change.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
AS_OF = dt.datetime(2026, 6, 30, 12)


def timed(action) -> tuple[float, object]:
    start = time.perf_counter()
    out = action()
    return time.perf_counter() - start, out


def build(engine, appointments: int, seed: int = 5) -> None:
    from carepulse import schema, warehouse
    from carepulse.metrics.no_show_model.scoring import RISK_SCORE_COLUMNS, write_scores
    from carepulse.metrics.no_show_model.toy import toy_health_system

    frames = toy_health_system(
        patients=max(300, appointments // 8), appointments=appointments, seed=seed, as_of=AS_OF
    )
    frames["patients"] = frames["patients"].with_columns(
        pl.format("555-{}", pl.col("patient_id").str.slice(-4)).alias("phone"),
        pl.format("{}@example.org", pl.col("patient_id").str.to_lowercase()).alias("email"),
    )
    uri = warehouse.adbc_uri(engine)
    for name in ("departments", "providers", "patients", "appointments"):
        frame = frames[name].with_columns(_load_run_id=pl.lit(1, pl.Int64), _row_hash=pl.lit(0, pl.Int64))
        frame.write_database(name, uri, engine="adbc", if_table_exists="append")
    with engine.begin() as conn:
        conn.execute(
            schema.load_runs.insert().values(
                run_id=1, started_at=AS_OF, finished_at=AS_OF, status="succeeded", source_dir="bench"
            )
        )
    rng = np.random.default_rng(seed)
    appts = frames["appointments"]
    past = appts.filter(
        pl.col("scheduled_start").is_between(AS_OF - dt.timedelta(days=60), AS_OF, closed="left")
    )
    upcoming = appts.filter(
        (pl.col("status") == "scheduled")
        & (pl.col("scheduled_start") >= AS_OF)
        & (pl.col("scheduled_start") < AS_OF + dt.timedelta(days=14))
    )

    def scored(ids: pl.Series) -> pl.DataFrame:
        risk = rng.beta(2, 12, ids.len())
        return pl.DataFrame(
            {
                "appointment_id": ids,
                "risk": risk,
                "risk_band": np.where(risk >= 0.3, "high", np.where(risk >= 0.15, "medium", "low")),
                "reason_1": "booked 45 days ahead",
                "reason_2": "2 missed visits in the last year",
                "reason_3": None,
                "suggested_action": "reminder call",
                "expected_benefit": risk * 0.22,
                "rank": np.argsort(np.argsort(-risk)) + 1,
            }
        ).select(RISK_SCORE_COLUMNS)

    write_scores(
        engine,
        scored(past.get_column("appointment_id")),
        model_version="bench-past",
        as_of=AS_OF - dt.timedelta(days=60),
        days=60,
        scored_at=AS_OF,
    )
    worked = past.sample(fraction=0.05, seed=seed)
    with engine.begin() as conn:
        conn.execute(
            schema.outreach_outcomes.insert(),
            [
                {
                    "appointment_id": r["appointment_id"],
                    "patient_id": r["patient_id"],
                    "score_run_id": 1,
                    "outcome": rng.choice(["reached", "confirmed", "no_answer", "left_message"]),
                    "note": None,
                    "recorded_by": "bench",
                    "recorded_at": r["scheduled_start"] - dt.timedelta(days=1),
                }
                for r in worked.iter_rows(named=True)
            ],
        )
    write_scores(
        engine,
        scored(upcoming.get_column("appointment_id")),
        model_version="bench",
        as_of=AS_OF,
        days=14,
        scored_at=AS_OF,
    )
    print(
        f"{appts.height:,} appointments; {past.height:,} past visits scored, {worked.height:,} worked; "
        f"{upcoming.height:,} upcoming scored"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appointments", type=int, default=200_000)
    parser.add_argument(
        "--data-dir", type=Path, help="reuse the warehouse an earlier run built in this data dir"
    )
    args = parser.parse_args()
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="carepulse-bench-worklist-"))
    os.environ["CAREPULSE_DATA_DIR"] = str(data_dir)
    sys.path.insert(0, str(ROOT))

    from carepulse import schema, warehouse
    from carepulse.access import accounts
    from carepulse.metrics.outreach_effect import outreach_effect
    from carepulse.metrics.worklist import WorklistFilters, build_worklist
    from carepulse.records import outreach
    from carepulse.settings import get_settings

    get_settings.cache_clear()
    engine = warehouse.make_engine(get_settings())
    schema.create_all(engine)
    if args.data_dir is None:
        seconds, _ = timed(lambda: build(engine, args.appointments))
        print(f"warehouse built in {seconds:.1f} s (data dir {data_dir})\n")

    read_s, scored = timed(lambda: outreach.scored_frames(engine))
    outcomes = outreach.read_outcomes(engine)
    everywhere = scored["departments"].get_column("department_id").to_list()
    pure_s, wl = timed(
        lambda: build_worklist(
            scored["scores"],
            scored["appointments"],
            scored["departments"],
            scored["providers"],
            allowed_departments=everywhere,
            outcomes=outcomes,
            assignments=outreach.read_assignments(engine),
            filters=WorklistFilters(not_yet_worked=False),
            today=AS_OF,
        )
    )
    effect_read_s, effect_frames = timed(lambda: outreach.effect_frames(engine))
    effect_s, effect = timed(
        lambda: outreach_effect(
            **{
                "risk_scores": effect_frames["risk_scores"],
                "appointments": effect_frames["appointments"],
                "outcomes": effect_frames["outcomes"],
            }
        )
    )
    print(f"read scored frames ({scored['scores'].height:,} current scores): {read_s:.3f} s")
    print(f"build_worklist, all departments ({wl.height:,} rows):           {pure_s:.3f} s")
    print(
        f"read effect frames ({effect_frames['risk_scores'].height:,} scores):              {effect_read_s:.3f} s"
    )
    print(
        f"outreach_effect ({int(effect.strata['contacted_n'].sum()):,} reached vs "
        f"{int(effect.strata['uncontacted_n'].sum()):,} not worked):           {effect_s:.3f} s"
    )

    import streamlit as st
    from streamlit.testing.v1 import AppTest

    mine = everywhere[:2]
    if accounts.get_user(engine, "bench_coord") is None:
        accounts.create_user(
            engine,
            "bench_coord",
            "coordinator",
            "bench passphrase, not secret",
            actor="bench",
            departments=",".join(mine),
        )
    at = AppTest.from_file(str(ROOT / "dashboard" / "app.py"), default_timeout=600)
    at.session_state["carepulse_user"] = accounts.get_user(engine, "bench_coord")
    first, _ = timed(at.run)
    st.cache_data.clear()
    cold, _ = timed(lambda: at.switch_page("views/worklist.py").run())
    problems = [e.value for e in at.exception] + [e.value for e in at.error]
    rows = len(at.dataframe[0].value) if at.dataframe else 0
    band, _ = timed(lambda: at.multiselect(key="wl_band").set_value(["high"]).run())
    again, _ = timed(lambda: at.multiselect(key="wl_band").set_value([]).run())
    print(
        f"\npage as a coordinator of {len(mine)} departments ({rows:,} rows shown; first app run {first:.2f} s)"
    )
    print(f"  cold (caches empty):           {cold:.3f} s   target < 1 s")
    print(f"  filter change (band = high):   {band:.3f} s   target < 0.3 s")
    print(f"  filter change back:            {again:.3f} s")
    if problems:
        print("  ERROR:", problems[0][:200])


if __name__ == "__main__":
    main()
