"""Benchmark the metric catalogue: Polars (what CarePulse runs) against the same catalogue in pandas.

    .venv/bin/python bench/metrics.py --appointments 1000000

Generates a health system with ``carepulse.pipelines.synthetic.generate_health_system`` (cached under
``--data-dir``), reads the extracts with Polars into memory, then times, with the frames in memory:

1. ``carepulse.metrics.prepare`` (joining the dimensions once);
2. the whole catalogue for the latest year grouped by department and month (target < 5 s at 10M);
3. one metric with a filter (``no_show_rate`` for one site, by month; target < 300 ms);
4. the same prepare + catalogue written in pandas on the same data (converted with ``to_pandas``),

and prints the figures, the ratio, and how many (metric, department, month) values the two agree on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import statistics
import sys
import time
from pathlib import Path

# This script is bench/metrics.py: keep its folder off the path so ``import metrics`` is the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import polars as pl  # noqa: E402

from carepulse import metrics  # noqa: E402
from carepulse.contract import EXTRACTS  # noqa: E402
from carepulse.metrics.prepare import REQUIRED_COLUMNS  # noqa: E402

AS_OF = dt.date(2026, 6, 30)
APPOINTMENTS_PER_PATIENT_YEAR = 3.65  # what the generator produces over 12 months (measured)
#: Above this the pandas edition is skipped: OOM-killed at 10.6M appointments on 24 GB (measured); fine at
#: 1.06M; sizes in between were not measured, so the cut-off is a cautious guess.
PANDAS_MAX_APPOINTMENTS = 4_000_000


def generate(data_dir: Path, appointments: int, seed: int) -> Path:
    """Generate (once) a system with about ``appointments`` appointments over 12 months."""
    from carepulse.pipelines.synthetic import generate_health_system

    marker = data_dir / "appointments.csv"
    if marker.exists():
        return data_dir
    patients = max(100, math.ceil(appointments / APPOINTMENTS_PER_PATIENT_YEAR))
    print(
        f"generating {patients:,} patients (~{appointments:,} appointments) into {data_dir} ...", flush=True
    )
    started = time.perf_counter()
    summary = generate_health_system(
        data_dir, patients=patients, months=12, seed=seed, as_of=AS_OF, progress=True
    )
    print(f"  generated in {time.perf_counter() - started:.0f} s: {summary.rows}")
    return data_dir


def read_frames(data_dir: Path) -> dict[str, pl.DataFrame]:
    """The extracts the metrics read, typed as the contract says (only the columns they use)."""
    frames = {}
    for name, columns in REQUIRED_COLUMNS.items():
        schema = EXTRACTS[name].polars_schema
        frames[name] = pl.read_csv(data_dir / f"{name}.csv", schema=schema, columns=list(columns))
    return frames


class Timing(float):
    """Median wall seconds (the float) with the matching CPU seconds of this process (all threads)."""

    cpu: float

    def __str__(self) -> str:
        return f"{self * 1000:8.0f} ms wall {self.cpu * 1000:8.0f} ms CPU"


def timed(function, repeat: int) -> tuple[Timing, object]:
    """Median wall and CPU time over ``repeat`` runs, and the last result.

    CPU time is printed too because the bench machine is shared: under load, wall time overstates
    what the code costs, CPU time does not (on an idle 2-core machine wall ~ CPU / 1..2).
    """
    walls, cpus, result = [], [], None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = function()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    out = Timing(statistics.median(walls))
    out.cpu = statistics.median(cpus)
    return out, result


# --- The same catalogue in pandas -------------------------------------------------------------------
# Written as a pandas user would: merges, boolean masks, groupby().agg(). Same definitions as metrics/.

DIMENSIONS = metrics.DIMENSIONS


def pd_age_band(birth: pd.Series, at: pd.Series) -> pd.Series:
    at_day = at.dt.month * 100 + at.dt.day
    birth_day = birth.dt.month * 100 + birth.dt.day
    age = at.dt.year - birth.dt.year - (at_day < birth_day).astype("int64")
    bands = pd.cut(age, [-1, 17, 34, 49, 64, 74, 200], labels=list(metrics.AGE_BANDS))
    return bands.astype("str").where(age.notna(), None)


def pd_prepare(frames: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    dep = frames["departments"][["department_id", "site"]]
    pat = frames["patients"][["patient_id", "birth_date", "sex", "race", "ethnicity", "payer_class"]].copy()
    pat["birth_date"] = pd.to_datetime(pat["birth_date"])
    a = (
        frames["appointments"]
        .merge(dep, on="department_id", how="left")
        .merge(pat, on="patient_id", how="left")
    )
    a["department"], a["provider"] = a["department_id"], a["provider_id"]
    a["age_band"] = pd_age_band(a["birth_date"], a["scheduled_start"])
    a["weekday"] = a["scheduled_start"].dt.day_of_week + 1
    a["hour"] = a["scheduled_start"].dt.hour
    a = a.drop(columns="birth_date")
    visit = a[
        [
            "appointment_id",
            "department",
            "site",
            "provider",
            "visit_type",
            "modality",
            "age_band",
            "sex",
            "race",
            "ethnicity",
            "insurance_verified",
        ]
    ].assign(visit_at=a["scheduled_start"])
    r = frames["referrals"].merge(dep, left_on="target_department_id", right_on="department_id", how="left")
    r = r.merge(pat, on="patient_id", how="left").merge(
        frames["appointments"][["appointment_id", "visit_type", "modality"]], on="appointment_id", how="left"
    )
    r["department"], r["provider"] = r["target_department_id"], r["referring_provider_id"]
    r["age_band"] = pd_age_band(r["birth_date"], r["created_at"])
    c = frames["claims"].merge(visit, on="appointment_id", how="left")
    s = frames["surveys"].merge(
        visit.drop(columns="insurance_verified").merge(
            a[["appointment_id", "payer_class"]], on="appointment_id"
        ),
        on="appointment_id",
        how="left",
    )
    e = frames["encounters"].merge(pat, on="patient_id", how="left")
    e["age_band"] = pd_age_band(e["birth_date"], e["admitted_at"])
    sl = frames["slots"].merge(dep, on="department_id", how="left")
    sl["department"], sl["provider"] = sl["department_id"], sl["provider_id"]
    happened = frames["appointments"]["status"].isin(["completed", "no_show", "left_without_being_seen"])
    as_of = max(
        frames["appointments"][["booked_at", "cancelled_at", "checkout_at"]].max().max(),
        frames["appointments"].loc[happened, "scheduled_start"].max(),
        frames["referrals"]["created_at"].max(),
        frames["claims"]["submitted_at"].max(),
        frames["surveys"]["received_at"].max(),
        frames["encounters"]["discharged_at"].max(),
        frames["slots"][["released_at", "booked_at"]].max().max(),
    )
    out = {"appointments": a, "referrals": r, "claims": c, "surveys": s, "encounters": e, "slots": sl}
    for frame in out.values():
        for column in DIMENSIONS:
            if column not in frame.columns:
                frame[column] = None
    return out | {"as_of": as_of}


def _rate(df: pd.DataFrame, flag: pd.Series, den=None) -> pd.DataFrame:
    return df.assign(_num=flag.fillna(False).astype("int64"), _den=1 if den is None else den)


def _days(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (later - earlier).dt.total_seconds() / 86400


def pd_units(p: dict, settings=metrics.Conventions()) -> dict[str, pd.DataFrame]:
    """Unit rows of every metric, pandas edition (``_date`` as datetime64 at midnight)."""
    a, r, c, s, e, sl, as_of = (
        p[k] for k in ("appointments", "referrals", "claims", "surveys", "encounters", "slots", "as_of")
    )
    out: dict[str, pd.DataFrame] = {}
    a = a.assign(_date=a["scheduled_start"].dt.normalize())
    res = a[(a["status"] != "scheduled") & ((a["status"] != "cancelled") | (a["scheduled_start"] <= as_of))]
    window = pd.Timedelta(hours=settings.late_cancel_hours)
    late = (res["status"] == "cancelled") & (res["cancelled_at"] >= res["scheduled_start"] - window)
    patient_late = late & (res["cancelled_by"].isna() | (res["cancelled_by"] == "patient"))
    kept = res["status"].isin(["completed", "no_show", "left_without_being_seen"])
    out["no_show_rate"] = _rate(res[kept | late], res["status"][kept | late] == "no_show")
    out["no_show_rate_excl_cancellations"] = _rate(res[kept], res["status"][kept] == "no_show")
    out["cancellation_rate"] = _rate(res, res["status"] == "cancelled")
    out["late_cancellation_rate"] = _rate(res, patient_late)
    out["same_day_cancellation_rate"] = _rate(
        res, (res["status"] == "cancelled") & (res["cancelled_at"].dt.normalize() == res["_date"])
    )
    lead = res[kept].assign(_x=_days(res["scheduled_start"], res["booked_at"]))
    out["lead_time_days"] = lead[lead["_x"] >= 0]
    # third-next-available
    open_slots = sl[~sl["blocked"]].copy()
    open_until = open_slots["booked_at"].fillna(open_slots["slot_start"]).clip(upper=open_slots["slot_start"])
    first = open_slots["released_at"].dt.normalize() - pd.to_timedelta(
        open_slots["released_at"].dt.day_of_week, unit="D"
    )
    first = first.where(first >= open_slots["released_at"], first + pd.Timedelta(days=7))
    weeks = ((open_until.dt.normalize() - first).dt.days // 7 + 1).clip(lower=0)
    snaps = open_slots.loc[open_slots.index.repeat(weeks)].copy()
    snaps["_date"] = first.loc[snaps.index] + pd.to_timedelta(snaps.groupby(level=0).cumcount() * 7, unit="D")
    snaps = snaps[
        (snaps["_date"] < open_until.loc[snaps.index])
        & (snaps["_date"] >= sl["slot_start"].min().normalize())
        & (snaps["_date"] <= as_of)
    ]
    snaps = snaps.sort_values("slot_start")
    third = snaps.groupby(["provider", "_date"]).agg(
        _third=("slot_start", lambda x: x.iloc[2] if len(x) >= 3 else pd.NaT),
        department=("department", "first"),
    )
    third = third.dropna(subset=["_third"]).reset_index()
    third["_x"] = (third["_third"].dt.normalize() - third["_date"]).dt.days.astype(float)
    out["third_next_available_days"] = third
    past = sl[~sl["blocked"] & (sl["slot_start"] <= as_of)]
    out["slot_fill_rate"] = _rate(
        past.assign(_date=past["slot_start"].dt.normalize()),
        past["booked_at"].notna() & (past["booked_at"] <= past["slot_start"]),
    )
    # flow
    done = a[a["status"] == "completed"]
    person = done[done["modality"] == "in_person"]
    for name, later, earlier in (
        ("cycle_time_minutes", "checkout_at", "checkin_at"),
        ("wait_to_room_minutes", "roomed_at", "checkin_at"),
        ("wait_for_provider_minutes", "provider_start_at", "roomed_at"),
    ):
        x = person.assign(_x=(person[later] - person[earlier]).dt.total_seconds() / 60)
        out[name] = x[x["_x"] >= 0]
    started = done[done["provider_start_at"].notna()]
    grace = pd.Timedelta(minutes=settings.on_time_grace_minutes)
    out["on_time_start_rate"] = _rate(
        started, started["provider_start_at"] <= started["scheduled_start"] + grace
    )
    out["completed_visits"] = out["visits_by_hour"] = out["visits_by_weekday"] = done
    # referrals
    r = r.assign(_date=r["created_at"].dt.normalize())
    innet = r[r["target_department_id"].notna()]
    for name, col in (
        ("referral_days_to_scheduled", "scheduled_at"),
        ("referral_days_to_visit", "completed_at"),
    ):
        x = innet.assign(_x=_days(innet[col], innet["created_at"]))
        out[name] = x[x["_x"] >= 0]
    w = innet[
        ~innet["status"].isin(["declined", "cancelled"])
        & (innet["created_at"] + pd.Timedelta(days=14) <= as_of)
    ]
    out["referral_scheduled_14d_rate"] = _rate(
        w, w["scheduled_at"] <= w["created_at"] + pd.Timedelta(days=14)
    )
    seen = r[r["completed_at"].notna()]
    out["referral_loop_closure_rate"] = _rate(seen, seen["report_received_at"].notna())
    out["referral_leakage_rate"] = _rate(r, r["target_department_id"].isna())
    op = r[r["status"] == "open"]
    age = (as_of - op["created_at"]).dt.days
    out["open_referrals"] = op.assign(
        age_bucket=pd.cut(
            age, [-1e9, 14, 30, 60, 90, 1e9], labels=["0-14", "15-30", "31-60", "61-90", "91+"]
        ).astype("str")
    )
    pa = r[r["prior_auth_required"]].assign(_x=lambda d: _days(d["prior_auth_decided_at"], d["created_at"]))
    out["prior_auth_turnaround_days"] = pa[pa["_x"] >= 0]
    # revenue
    c = c[~c["is_resubmission"]].assign(_date=lambda d: d["submitted_at"].dt.normalize())
    # Initially denied: the denial's reason code marks it (status is the latest state; an overturned
    # appeal reads "paid"), as metrics.revenue.WAS_DENIED says.
    c = c.assign(
        _was_denied=c["carc_code"].notna() | c["denial_category"].notna() | (c["status"] == "denied")
    )
    adj = c[c["status"].isin(["paid", "partially_paid", "denied"])]
    out["initial_denial_rate"] = _rate(adj, adj["_was_denied"])
    out["clean_claim_rate"] = _rate(adj, (adj["status"] == "paid") & ~adj["_was_denied"])
    denied_adj = adj["_was_denied"]
    out["initial_denial_rate_dollars"] = adj.assign(
        _num=adj["billed_amount"].where(denied_adj, 0.0),
        _den=adj["billed_amount"],
        _num_n=denied_adj.astype("int64"),
    )
    den = c[c["_was_denied"]]
    out["denials_by_payer"] = out["denials_by_category"] = out["denials_by_carc"] = den
    out["appeal_rate"] = _rate(den, den["appeal_filed_at"].notna())
    decided = den[den["appeal_outcome"].isin(["overturned", "upheld"])]
    out["overturn_rate"] = _rate(decided, decided["appeal_outcome"] == "overturned")
    res_days = den.assign(_x=_days(den["resolved_at"], den["adjudicated_at"]))
    out["denial_resolution_days"] = res_days[res_days["_x"] >= 0]
    is_denied = c["_was_denied"]
    wo = c["written_off_amount"].fillna(0.0)
    out["denial_write_off_rate"] = c.assign(
        _num=wo.where(is_denied, 0.0), _den=c["billed_amount"], _num_n=(is_denied & (wo > 0)).astype("int64")
    )
    known = den[den["insurance_verified"].notna()]
    out["denials_insurance_unverified_rate"] = _rate(known, ~known["insurance_verified"].astype(bool))
    # experience
    from carepulse.metrics.experience import COMPOSITES, ITEMS

    s = s.assign(_date=s["visit_at"].dt.normalize())

    def answers(items):
        parts = []
        for item in items:
            scale = ITEMS[item][1]
            score = s[item] * 10.0 if scale is None else s[item].map(scale)
            top = (s[item] >= 9) if scale is None else (score == 100.0)
            parts.append(s.assign(_score=score, _top=top.astype("int64"))[score.notna()])
        return pd.concat(parts) if len(parts) > 1 else parts[0]

    groups = {i: (i,) for i in ITEMS} | {k: v[1] for k, v in COMPOSITES.items()}
    for name, items in groups.items():
        ans = answers(items)
        out[f"{name}_top_box"] = ans.assign(_num=ans["_top"], _den=1)
        out[f"{name}_linear_mean"] = ans.assign(_x=ans["_score"])
    out["survey_respondents"] = s
    responded = done["appointment_id"].isin(p["surveys"]["appointment_id"])
    out["survey_response_rate"] = _rate(done, responded)
    # transitions
    disc = e[
        e["encounter_class"].isin(["inpatient", "observation"])
        & e["discharged_at"].notna()
        & ~e["discharge_disposition"].isin(["expired", "transfer"])
    ]
    visits = (
        done[["patient_id", "scheduled_start"]]
        .rename(columns={"scheduled_start": "_visit_at"})
        .sort_values("_visit_at")
    )
    for days in (7, 14):
        d = disc[disc["discharged_at"] + pd.Timedelta(days=days) <= as_of].sort_values("discharged_at")
        m = pd.merge_asof(
            d,
            visits,
            left_on="discharged_at",
            right_on="_visit_at",
            by="patient_id",
            direction="forward",
            allow_exact_matches=False,
        )
        m = m.assign(_date=m["discharged_at"].dt.normalize())
        out[f"followup_{days}d_rate"] = _rate(
            m, m["_visit_at"] <= m["discharged_at"] + pd.Timedelta(days=days)
        )
    return out


def pd_catalogue(p: dict, *, by: list[str], start: dt.date, end: dt.date) -> pd.DataFrame:
    """Group every metric's unit rows by ``by`` + month, as ``carepulse.metrics.compute_catalogue`` does."""
    rows = []
    lo, hi = pd.Timestamp(start), pd.Timestamp(end)
    for name, units in pd_units(p).items():
        d = metrics.get_metric(name)
        u = units[(units["_date"] >= lo) & (units["_date"] <= hi)]
        u = u.assign(period=u["_date"].dt.to_period("M").dt.start_time)
        keys = [*by, "period", *([d.category] if d.category else [])]
        g = u.groupby(keys, dropna=False, observed=True)
        if d.kind == "rate":
            agg = g.agg(numerator=("_num", "sum"), denominator=("_den", "sum"), n=("_den", "size"))
            agg["value"] = agg["numerator"] / agg["denominator"].where(agg["denominator"] > 0)
            if not d.weighted:
                n, ph, z = agg["denominator"], agg["value"], 1.959963984540054
                centre = (ph + z * z / (2 * n)) / (1 + z * z / n)
                half = z * np.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n)) / (1 + z * z / n)
                agg["ci_low"], agg["ci_high"] = (centre - half).clip(lower=0), (centre + half).clip(upper=1)
        elif d.kind in ("time", "score"):
            agg = g["_x"].agg(n="size", median="median", mean="mean")
            agg["p90"] = g["_x"].quantile(0.9)
            agg["value"] = agg[d.statistic]
        else:
            agg = g.size().to_frame("n")
            agg["value"] = agg["n"].astype(float)
            if d.category:
                agg["share"] = agg["n"] / agg.groupby(level=[*by, "period"])["n"].transform("sum")
        rows.append(agg.reset_index().assign(metric=name))
    return pd.concat(rows, ignore_index=True)


def compare(polars_out: pl.DataFrame, pandas_out: pd.DataFrame) -> tuple[int, int, list[str]]:
    """(values compared, values equal within 1e-9 relative, metrics differing) on metric+department+month."""
    keys = ["metric", "department", "period", "category"]
    left = polars_out.select(*keys, "value", "n").with_columns(pl.col("period").cast(pl.Datetime("us")))
    pdf = pandas_out.copy()
    pdf["category"] = None
    for name in pdf["metric"].unique():
        cat = metrics.get_metric(name).category
        if cat:
            mask = pdf["metric"] == name
            values = pdf.loc[mask, cat]
            if pd.api.types.is_numeric_dtype(values):  # hours and weekdays became floats in the concat
                values = values.astype("int64")
            pdf.loc[mask, "category"] = values.astype(str)
    right = pl.from_pandas(pdf[[*keys, "value", "n"]].astype({"department": "object", "category": "object"}))
    right = right.with_columns(pl.col("period").cast(pl.Datetime("us")), pl.col("n").cast(pl.Int64))
    joined = left.join(right, on=keys, how="full", suffix="_pd", nulls_equal=True)
    close = (
        ((pl.col("value") - pl.col("value_pd")).abs() <= 1e-9 * pl.col("value").abs().clip(lower_bound=1))
        | (pl.col("value").is_null() & pl.col("value_pd").is_null())
    ) & (pl.col("n") == pl.col("n_pd"))
    checked = joined.with_columns(close.fill_null(False).alias("ok"))
    bad = checked.filter(~pl.col("ok"))
    names = sorted(
        set(bad["metric"].drop_nulls()) | set(bad["metric_pd"].drop_nulls())
        if "metric_pd" in bad.columns
        else set(bad["metric"].drop_nulls())
    )
    return checked.height, checked["ok"].sum(), names


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--appointments", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-dir", type=Path, default=None, help="Where to cache the generated extracts.")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-pandas", action="store_true")
    args = parser.parse_args()
    data_dir = args.data_dir or Path(f"/tmp/carepulse-bench-{args.appointments}")
    generate(data_dir, args.appointments, args.seed)

    frames = read_frames(data_dir)
    print(
        f"\n{frames['appointments'].height:,} appointments, {frames['claims'].height:,} claims, "
        f"{frames['referrals'].height:,} referrals, {frames['surveys'].height:,} surveys, "
        f"{frames['slots'].height:,} slots in memory; {pl.thread_pool_size()} Polars threads"
    )
    start, end = AS_OF - dt.timedelta(days=364), AS_OF
    prep_s, prepared = timed(lambda: metrics.prepare(frames), args.repeat)
    cat_s, catalogue = timed(
        lambda: metrics.compute_catalogue(prepared, by=["department"], period="month", start=start, end=end),
        args.repeat,
    )
    site = prepared["appointments"].select(pl.col("site").drop_nulls().first()).collect().item()
    one_s, _ = timed(
        lambda: metrics.compute(
            "no_show_rate", prepared, period="month", start=start, end=end, filters={"site": [site]}
        ),
        max(args.repeat, 5),
    )
    load = os.getloadavg()[0]
    print(f"\nPolars {pl.__version__}  (load average {load:.1f} on {os.cpu_count()} cores while timing)")
    print(f"  prepare (join dimensions once)                         {prep_s}")
    print(
        f"  catalogue, {len(metrics.REGISTRY)} metrics, 1 year, department x month    {cat_s}"
        f"   target < 5000 ms at 10M; {catalogue.height:,} rows"
    )
    print(f"  no_show_rate, site = {site}, by month        {one_s}   target < 300 ms")
    if args.skip_pandas:
        return
    if frames["appointments"].height > PANDAS_MAX_APPOINTMENTS:
        print(
            f"\npandas skipped above {PANDAS_MAX_APPOINTMENTS:,} appointments: its prepare + catalogue were "
            "killed for lack of memory at 10.6M on this 24 GB machine (even with Polars' frames freed first); "
            "run with --appointments 1000000 for the ratio"
        )
        return
    # Free Polars' copies first: at 10M the two libraries' frames together do not fit in 24 GB.
    prepared = None
    pd_frames = {name: frames.pop(name).to_pandas() for name in list(frames)}
    pd_prep_s, pd_prepared = timed(lambda: pd_prepare(pd_frames), 1)
    pd_cat_s, pd_out = timed(lambda: pd_catalogue(pd_prepared, by=["department"], start=start, end=end), 1)
    print(f"\npandas {pd.__version__} (same definitions, same data; load average {os.getloadavg()[0]:.1f})")
    print(f"  prepare                                                {pd_prep_s}")
    print(f"  catalogue                                              {pd_cat_s}")
    print(
        f"\nratio pandas / Polars, wall (CPU): catalogue {pd_cat_s / cat_s:.1f}x ({pd_cat_s.cpu / cat_s.cpu:.1f}x), "
        f"prepare {pd_prep_s / prep_s:.1f}x ({pd_prep_s.cpu / prep_s.cpu:.1f}x)"
    )
    total, equal, differing = compare(catalogue, pd_out)
    print(
        f"cross-check: {equal:,} of {total:,} (metric, department, month[, category]) values agree"
        + (f"; differing: {', '.join(differing)}" if differing else "")
    )


if __name__ == "__main__":
    main()
