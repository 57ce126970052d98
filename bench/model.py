"""Benchmark the no-show model: train on N appointments (< 60 s), score 100k upcoming (< 5 s).

Uses the fast toy health system (``carepulse.metrics.no_show_model.toy``) so the figures measure the model,
not the generator or the ingest. Prints the figures; asserts nothing.

    .venv/bin/python bench/model.py --appointments 1000000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
from pathlib import Path

# bench/ holds metrics.py (another benchmark): keep it from shadowing the ``metrics`` package
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see metrics/no_show_model/__init__.py

import polars as pl  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appointments", type=int, default=1_000_000)
    parser.add_argument("--score-rows", type=int, default=100_000)
    args = parser.parse_args()

    from carepulse import schema, warehouse
    from carepulse.metrics.no_show_model.registry import load_current
    from carepulse.metrics.no_show_model.scoring import score_frame, write_scores
    from carepulse.metrics.no_show_model.toy import toy_health_system
    from carepulse.metrics.no_show_model.training import train_model
    from carepulse.settings import Settings

    as_of = dt.datetime(2026, 6, 30)
    n = args.appointments
    # enough still-scheduled visits after as_of to score --score-rows of them
    future_days = max(30, int(360 * args.score_rows / max(n - args.score_rows, 1)) + 10)
    t0 = time.perf_counter()
    frames = toy_health_system(patients=max(n // 20, 100), appointments=n, seed=1, future_days=future_days)
    print(
        f"toy health system: {n:,} appointments in {time.perf_counter() - t0:.1f} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        engine = warehouse.make_engine(settings)
        schema.create_all(engine)
        truth = Path(tmp) / "truth.parquet"
        frames["truth"].write_parquet(truth)

        t0, c0 = time.perf_counter(), time.process_time()
        mv = train_model(engine, settings, as_of=as_of, frames=frames, truth_path=truth)
        train_s, train_cpu = time.perf_counter() - t0, time.process_time() - c0
        rows = mv.metrics["rows"]
        m, o = mv.metrics["overall"]["model"], mv.metrics["overall"]["oracle"]
        print(
            f"train: {train_s:.1f} s wall, {train_cpu:.1f} s CPU (target < 60 s) on {rows['train']:,} training + {rows['validation']:,} validation + "
            f"{rows['test']:,} test appointments; {mv.artifact['model'].calibrated_classifiers_[0].estimator.estimator[-1].n_iter_} trees"
        )
        print(
            f"test AUROC {m['auroc']:.3f} (oracle {o['auroc']:.3f}), Brier {m['brier']:.4f} (oracle {o['brier']:.4f}), ECE {m['ece']:.4f}"
        )

        artifact = load_current(engine, settings).artifact
        # still-scheduled visits, as booked by the scoring moment
        upcoming = (
            frames["appointments"]
            .filter(pl.col("status") == "scheduled")
            .with_columns(pl.min_horizontal("booked_at", pl.lit(as_of)).alias("booked_at"))
        )
        scoring_frames = frames | {
            "appointments": pl.concat(
                [
                    frames["appointments"].filter(pl.col("status") != "scheduled"),
                    upcoming.head(args.score_rows),
                ]
            )
        }
        t0, c0 = time.perf_counter(), time.process_time()
        stages: dict[str, float] = {}
        scored = score_frame(artifact, scoring_frames, as_of, future_days + 1, timings=stages)
        score_s, score_cpu = time.perf_counter() - t0, time.process_time() - c0
        print(
            f"score: {scored.height:,} upcoming appointments (history: {scoring_frames['appointments'].height:,} rows) "
            f"with risk, band, 3 reasons, action in {score_s:.2f} s wall, {score_cpu:.2f} s CPU (target < 5 s)"
        )
        print("  stages (s wall / CPU): " + ", ".join(f"{k} {w:.2f}/{c:.2f}" for k, (w, c) in stages.items()))
        t0 = time.perf_counter()
        write_scores(
            engine, scored, model_version=mv.version, as_of=as_of, days=future_days + 1, scored_at=as_of
        )
        print(f"write: {scored.height:,} risk_scores rows to SQLite in {time.perf_counter() - t0:.2f} s")
        engine.dispose()


if __name__ == "__main__":
    main()
