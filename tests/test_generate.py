"""The synthetic health system: contract shape, consistency, determinism and the planted effects.

Statistical checks use a 3,000-patient system (module-scoped, under a second to generate) and
bounds loose enough that a correct generator passes for any seed, tight enough that losing the
effect fails. Anchors: ../shared/reference-figures.md.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math

import polars as pl
import pytest

from carepulse.contract import EXTRACTS
from carepulse.errors import CarePulseError
from carepulse.pipelines.synthetic import generate_health_system

AS_OF = dt.date(2026, 6, 30)
CUTOFF = dt.datetime(2026, 7, 1)


def load(folder) -> dict[str, pl.DataFrame]:
    """Every extract read with the contract's dtypes (strict: a value that does not cast fails)."""
    return {
        name: pl.read_csv(folder / f"{name}.csv", schema=extract.polars_schema)
        for name, extract in EXTRACTS.items()
    }


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    out = tmp_path_factory.mktemp("system3k")
    summary = generate_health_system(out, patients=3000, months=12, seed=11, as_of=AS_OF)
    return out, load(out), summary


@pytest.fixture(scope="module")
def visits(system) -> pl.DataFrame:
    """Past, non-cancelled appointments with patient traits and lead time."""
    _, frames, _ = system
    a = frames["appointments"].join(frames["patients"], on="patient_id")
    return a.filter(pl.col("status").is_in(["completed", "no_show", "left_without_being_seen"])).with_columns(
        no_show=(pl.col("status") == "no_show").cast(pl.Float64),
        lead_days=(pl.col("scheduled_start") - pl.col("booked_at")).dt.total_hours() / 24,
        age=(pl.col("scheduled_start").dt.date() - pl.col("birth_date")).dt.total_days() / 365.25,
    )


def rate(frame: pl.DataFrame) -> float:
    return frame["no_show"].mean()


def significantly_greater(high: pl.DataFrame, low: pl.DataFrame, z: float = 3.0) -> bool:
    """Two-proportion z-test on the no-show rate."""
    p1, n1, p2, n2 = rate(high), high.height, rate(low), low.height
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    return (p1 - p2) / se > z


# --- contract and consistency ---------------------------------------------------------------------


def test_every_extract_written_with_contract_header(synthetic_dir):
    for name, extract in EXTRACTS.items():
        header = (synthetic_dir / f"{name}.csv").open().readline().strip()
        assert header == ",".join(extract.column_names), name


def test_values_fit_the_contract(synthetic_dir):
    frames = load(synthetic_dir)
    for name, extract in EXTRACTS.items():
        frame = frames[name]
        assert frame.height > 0, name
        assert frame[extract.key].is_unique().all(), f"{name}.{extract.key} not unique"
        for col in extract.columns:
            values = frame[col.name]
            if not col.nullable:
                assert values.null_count() == 0, f"{name}.{col.name} has nulls"
            if col.allowed:
                assert set(values.drop_nulls().unique()) <= set(col.allowed), f"{name}.{col.name}"
            if col.min_value is not None:
                assert values.drop_nulls().min() >= col.min_value, f"{name}.{col.name}"
            if col.max_value is not None:
                assert values.drop_nulls().max() <= col.max_value, f"{name}.{col.name}"


def test_datetime_and_bool_formats(synthetic_dir):
    line = (synthetic_dir / "appointments.csv").open().readlines()[1].split(",")
    cols = EXTRACTS["appointments"].column_names
    row = dict(zip(cols, line))
    assert dt.datetime.strptime(row["booked_at"], "%Y-%m-%d %H:%M:%S")
    assert row["insurance_verified"] in {"true", "false"}
    birth = (synthetic_dir / "patients.csv").open().readlines()[1].split(",")[4]
    assert dt.datetime.strptime(birth, "%Y-%m-%d")


def test_foreign_keys_resolve(synthetic_dir):
    frames = load(synthetic_dir)
    for name, extract in EXTRACTS.items():
        for column, (target, target_column) in extract.foreign_keys.items():
            values = set(frames[name][column].drop_nulls())
            missing = values - set(frames[target][target_column])
            assert not missing, f"{name}.{column} -> {target}: {sorted(missing)[:3]}"


def test_keys_resolve_across_patient_chunks(tmp_path, monkeypatch):
    """The 1M-patient path writes many chunks: ids stay unique and linked across them."""
    monkeypatch.setattr("carepulse.pipelines.synthetic.generator.CHUNK_PATIENTS", 70)
    generate_health_system(tmp_path, patients=250, months=6, seed=3, as_of=AS_OF)
    frames = load(tmp_path)
    for name, extract in EXTRACTS.items():
        assert frames[name][extract.key].is_unique().all(), name
    assert frames["patients"].height == 250
    assert set(frames["appointments"]["patient_id"]) <= set(frames["patients"]["patient_id"])
    referred = frames["referrals"].drop_nulls("appointment_id")
    linked = referred.join(frames["appointments"], on="appointment_id", suffix="_appt")
    assert linked.height == referred.height
    assert (linked["patient_id"] == linked["patient_id_appt"]).all()
    assert (linked["referral_id"] == linked["referral_id_appt"]).all()


def test_timestamps_are_ordered(synthetic_dir):
    a = load(synthetic_dir)["appointments"]
    assert (a["booked_at"] < a["scheduled_start"]).all()
    assert (a["booked_at"] < CUTOFF).all()
    cancelled = a.filter(pl.col("status") == "cancelled")
    assert cancelled["cancelled_at"].null_count() == 0
    assert (
        (cancelled["cancelled_at"] > cancelled["booked_at"])
        & (cancelled["cancelled_at"] < cancelled["scheduled_start"])
    ).all()
    assert (cancelled["cancelled_at"] < CUTOFF).all()
    seen = a.filter(pl.col("status") == "completed")
    assert seen.select("checkin_at", "roomed_at", "provider_start_at", "checkout_at").null_count().row(0) == (
        0,
        0,
        0,
        0,
    )
    assert (
        (seen["checkin_at"] < seen["roomed_at"])
        & (seen["roomed_at"] < seen["provider_start_at"])
        & (seen["provider_start_at"] < seen["checkout_at"])
    ).all()
    not_arrived = a.filter(pl.col("status").is_in(["no_show", "cancelled", "scheduled"]))
    assert not_arrived["checkin_at"].null_count() == not_arrived.height
    lwbs = a.filter(pl.col("status") == "left_without_being_seen")
    assert lwbs["checkin_at"].null_count() == 0 and lwbs["checkout_at"].null_count() == lwbs.height


def test_history_final_and_future_scheduled(synthetic_dir):
    a = load(synthetic_dir)["appointments"]
    past = a.filter(pl.col("scheduled_start") < CUTOFF)
    future = a.filter(pl.col("scheduled_start") >= CUTOFF)
    assert "scheduled" not in set(past["status"])
    assert set(future["status"]) <= {"scheduled", "cancelled"}
    assert future.filter(pl.col("status") == "scheduled").height > 0
    next_14 = future.filter(
        pl.col("scheduled_start") < CUTOFF + dt.timedelta(days=14), pl.col("status") == "scheduled"
    )
    assert next_14.height > 0, "the model needs upcoming appointments to score"
    assert future["scheduled_start"].max() < CUTOFF + dt.timedelta(days=31)
    assert past["scheduled_start"].min() >= dt.datetime(2025, 7, 1)
    # visits only on weekdays
    assert a["scheduled_start"].dt.weekday().max() <= 5


def test_other_extracts_end_at_the_cutoff(synthetic_dir):
    frames = load(synthetic_dir)
    checks = {
        "referrals": [
            "created_at",
            "scheduled_at",
            "completed_at",
            "report_received_at",
            "prior_auth_decided_at",
        ],
        "claims": ["submitted_at", "adjudicated_at", "appeal_filed_at", "resolved_at"],
        "surveys": ["received_at"],
        "encounters": ["admitted_at", "discharged_at"],
    }
    for name, cols in checks.items():
        for col in cols:
            assert (frames[name][col].drop_nulls() < CUTOFF).all(), f"{name}.{col}"
    r = frames["referrals"]
    assert (r["created_at"] <= r["scheduled_at"]).drop_nulls().all()
    assert (r["completed_at"] < r["report_received_at"]).drop_nulls().all()
    c = frames["claims"]
    assert (c["submitted_at"] < c["adjudicated_at"]).drop_nulls().all()
    e = frames["encounters"]
    assert (e["admitted_at"] < e["discharged_at"]).drop_nulls().all()
    s = frames["surveys"].join(frames["appointments"], on="appointment_id")
    assert (s["status"] == "completed").all() and (s["checkout_at"] < s["received_at"]).all()


def test_patient_postal_code_and_phi_shape(synthetic_dir):
    p = load(synthetic_dir)["patients"]
    codes = p["postal_code"].cast(pl.Int64)
    assert p["postal_code"].str.len_chars().eq(5).all()
    assert codes.min() >= 27500 and codes.max() < 27700
    assert p["mrn"].is_unique().all()
    assert p["email"].drop_nulls().str.contains(r"@([a-z]+\.)?example(\.[a-z]+)?$").all()


def test_truth_files(synthetic_dir):
    a = load(synthetic_dir)["appointments"]
    truth = pl.read_parquet(synthetic_dir / "truth" / "no_show_probability.parquet")
    assert truth.columns == ["appointment_id", "p_no_show"]
    assert truth.height == a.height and set(truth["appointment_id"]) == set(a["appointment_id"])
    assert truth["p_no_show"].is_between(0, 1, closed="none").all()
    interventions = json.loads((synthetic_dir / "truth" / "interventions.json").read_text())
    assert {"no_show_rate"} <= {i["metric"] for i in interventions}
    for item in interventions:
        assert set(item) == {"metric", "department_id", "date", "title", "description"}
        dt.date.fromisoformat(item["date"])


# --- determinism ----------------------------------------------------------------------------------


def _digest(folder) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*.*"))}


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    kwargs = dict(patients=120, months=4, as_of=AS_OF)
    generate_health_system(tmp_path / "a", seed=5, **kwargs)
    generate_health_system(tmp_path / "b", seed=5, **kwargs)
    generate_health_system(tmp_path / "c", seed=6, **kwargs)
    a, b, c = _digest(tmp_path / "a"), _digest(tmp_path / "b"), _digest(tmp_path / "c")
    assert len(a) == len(EXTRACTS) + 2
    assert a == b
    assert a["appointments.csv"] != c["appointments.csv"]
    assert a["patients.csv"] != c["patients.csv"]


def test_rejects_nonsense_sizes(tmp_path):
    with pytest.raises(CarePulseError, match="patients"):
        generate_health_system(tmp_path, patients=0, months=3, seed=1, as_of=AS_OF)
    with pytest.raises(CarePulseError, match="months"):
        generate_health_system(tmp_path, patients=10, months=0, seed=1, as_of=AS_OF)


def test_cli_generate(tmp_path):
    from typer.testing import CliRunner

    from carepulse.cli import app

    result = CliRunner().invoke(
        app,
        [
            "generate",
            "--out",
            str(tmp_path),
            "--patients",
            "60",
            "--months",
            "3",
            "--seed",
            "2",
            "--as-of",
            "2026-06-30",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "appointments.csv" in result.output and "No-show rate" in result.output
    assert all((tmp_path / f"{name}.csv").exists() for name in EXTRACTS)


# --- realism: the planted effects -----------------------------------------------------------------


def test_overall_and_department_no_show_rates(system, visits):
    _, _, summary = system
    assert 0.06 <= summary.no_show_rate <= 0.14  # MGMA median 5-7%, many systems higher
    by_dept = visits.group_by("department_id").agg(pl.col("no_show").mean())["no_show"]
    assert by_dept.min() >= 0.03 and by_dept.max() <= 0.30
    assert by_dept.max() - by_dept.min() > 0.04  # departments differ


def test_lead_time_gradient_and_same_day_rarely_missed(visits):
    same_day = visits.filter(pl.col("scheduled_start").dt.date() == pl.col("booked_at").dt.date())
    week = visits.filter(pl.col("lead_days").is_between(1, 7))
    far = visits.filter(pl.col("lead_days") > 30)
    assert rate(same_day) < 0.04
    assert significantly_greater(week, same_day)
    assert significantly_greater(far, week)
    assert rate(far) > 3 * rate(same_day)


def test_patient_history_predicts_no_show(visits):
    """A minority of patients miss most visits, visible through their earlier visits."""
    ordered = visits.sort("patient_id", "scheduled_start").with_columns(
        prior_no_shows=pl.col("no_show").cum_sum().shift(1, fill_value=0).over("patient_id")
    )
    with_history = ordered.filter(pl.col("prior_no_shows") > 0)
    clean = ordered.filter(pl.col("prior_no_shows") == 0)
    assert significantly_greater(with_history, clean)
    per_patient = visits.group_by("patient_id").agg(pl.col("no_show").sum()).sort("no_show", descending=True)
    top_fifth = per_patient.head(per_patient.height // 5)["no_show"].sum()
    assert top_fifth / per_patient["no_show"].sum() > 0.5


def test_risk_factors(visits):
    assert significantly_greater(
        visits.filter(pl.col("transport_barrier")), visits.filter(~pl.col("transport_barrier"))
    )
    low_income = visits.filter(pl.col("payer_class").is_in(["medicaid", "self_pay"]))
    assert significantly_greater(low_income, visits.filter(pl.col("payer_class") == "commercial"))
    young = visits.filter(pl.col("age").is_between(18, 35))
    assert significantly_greater(young, visits.filter(pl.col("age") >= 65))
    # telehealth: compare within the departments that are not mostly virtual (behavioral health is)
    physical = visits.filter(pl.col("department_id") != "D08")
    assert significantly_greater(
        physical.filter(pl.col("modality") == "in_person"),
        physical.filter(pl.col("modality") == "telehealth"),
        z=2.0,
    )
    assert significantly_greater(
        visits.filter(pl.col("reminder") == "none"), visits.filter(pl.col("reminder") == "sms")
    )
    far = visits.filter(pl.col("postal_code").cast(pl.Int64) >= 27500 + 100)
    near = visits.filter(pl.col("postal_code").cast(pl.Int64) < 27500 + 30)
    assert significantly_greater(far, near, z=2.0)


def test_sms_intervention_shifts_the_department(system, visits):
    out, _, _ = system
    planted = next(
        i
        for i in json.loads((out / "truth" / "interventions.json").read_text())
        if i["metric"] == "no_show_rate"
    )
    start = dt.datetime.fromisoformat(planted["date"])
    dept = visits.filter(pl.col("department_id") == planted["department_id"])
    before, after = (
        dept.filter(pl.col("scheduled_start") < start),
        dept.filter(pl.col("scheduled_start") >= start),
    )
    assert significantly_greater(before, after, z=2.5)
    assert rate(after) < 0.8 * rate(before)
    assert (after["reminder"] == "sms").mean() > 0.6 and (before["reminder"] == "sms").mean() == 0


def test_truth_is_calibrated_oracle(system, visits):
    out, _, _ = system
    truth = pl.read_parquet(out / "truth" / "no_show_probability.parquet")
    joined = visits.join(truth, on="appointment_id")
    observed, expected = joined["no_show"].sum(), joined["p_no_show"].sum()
    sd = math.sqrt((joined["p_no_show"] * (1 - joined["p_no_show"])).sum())
    assert abs(observed - expected) < 4 * sd
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(joined["no_show"].to_numpy(), joined["p_no_show"].to_numpy())
    assert 0.70 < auc < 0.90  # published no-show models reach 0.76-0.77


def test_cancellations_and_late_cancellations(system):
    _, frames, _ = system
    a = frames["appointments"]
    cancelled = a.filter(pl.col("status") == "cancelled")
    assert 0.08 < cancelled.height / a.height < 0.25
    late = (cancelled["scheduled_start"] - cancelled["cancelled_at"]).dt.total_hours() < 24
    assert 0.1 < late.mean() < 0.5
    assert cancelled["cancel_reason"].null_count() == 0 and cancelled["cancelled_by"].null_count() == 0


def test_waits_vary_by_department_and_grow_through_the_day(system):
    _, frames, _ = system
    seen = (
        frames["appointments"]
        .filter(pl.col("status") == "completed", pl.col("modality") == "in_person")
        .with_columns(
            wait=(pl.col("provider_start_at") - pl.col("checkin_at")).dt.total_minutes(),
            hour=pl.col("scheduled_start").dt.hour(),
        )
    )
    morning, afternoon = seen.filter(pl.col("hour") < 10)["wait"], seen.filter(pl.col("hour") >= 14)["wait"]
    assert afternoon.mean() > morning.mean() + 5
    by_dept = seen.group_by("department_id").agg(pl.col("wait").median())["wait"]
    assert by_dept.max() - by_dept.min() > 10


def test_claims_denials_appeals_and_resubmissions(system):
    _, frames, _ = system
    c = frames["claims"]
    initial = c.filter(~pl.col("is_resubmission"), pl.col("status") != "pending")
    denied = initial.filter(pl.col("carc_code").is_not_null())
    assert 0.08 <= denied.height / initial.height <= 0.20
    by_payer = (
        initial.filter(pl.col("payer_class") != "self_pay")
        .group_by("payer_name")
        .agg(pl.col("carc_code").is_not_null().mean())
    )
    assert by_payer["carc_code"].max() - by_payer["carc_code"].min() > 0.05
    pairs = set(denied.select("carc_code", "denial_category").unique().iter_rows())
    assert {
        ("CO-16", "coding"),
        ("CO-197", "authorization"),
        ("CO-27", "eligibility"),
        ("CO-50", "medical_necessity"),
    } <= pairs
    appealed = denied["appeal_filed_at"].is_not_null().mean()
    assert 0.3 < appealed < 0.7
    assert (denied["appeal_outcome"] == "overturned").sum() > 0
    joined = initial.join(
        frames["appointments"].select("appointment_id", "insurance_verified"), on="appointment_id"
    )
    eligibility = (
        joined.with_columns(elig=pl.col("denial_category") == "eligibility")
        .group_by("insurance_verified")
        .agg(pl.col("elig").mean())
    )
    rates = dict(eligibility.iter_rows())
    assert rates[False] > 3 * rates[True]
    resubmitted = c.filter(pl.col("is_resubmission"))
    assert resubmitted.height > 0
    originals = resubmitted.join(c, left_on="original_claim_id", right_on="claim_id", suffix="_orig")
    assert originals.height == resubmitted.height
    assert (originals["carc_code_orig"].is_not_null()).all()
    assert (originals["submitted_at"] > originals["adjudicated_at_orig"]).all()


def test_surveys_response_top_box_and_waits(system):
    _, frames, _ = system
    s, a = frames["surveys"], frames["appointments"]
    completed = a.filter(pl.col("status") == "completed").height
    assert 0.15 <= s.height / completed <= 0.25
    rated = s.drop_nulls("provider_rating")
    assert 0.75 <= (rated["provider_rating"] >= 9).mean() <= 0.90
    waits = rated.join(a, on="appointment_id").with_columns(
        wait=(pl.col("provider_start_at") - pl.col("checkin_at")).dt.total_minutes(),
        top=pl.col("provider_rating") >= 9,
    )
    short, long_ = (
        waits.filter(pl.col("wait") <= 25)["top"].mean(),
        waits.filter(pl.col("wait") >= 50)["top"].mean(),
    )
    assert short > long_ + 0.05
    assert 0 < s["comment"].drop_nulls().len() < s.height


def test_referrals_loop_and_network(system):
    _, frames, _ = system
    r = frames["referrals"]
    assert r["target_department_id"].null_count() > 0  # out of network
    never = r.filter(pl.col("target_department_id").is_not_null(), pl.col("appointment_id").is_null())
    assert never.height > 0
    completed = r.filter(pl.col("status") == "completed")
    report_share = completed["report_received_at"].is_not_null().mean()
    assert 0.3 < report_share < 0.9
    booked = r.drop_nulls("scheduled_at").with_columns(
        days=(pl.col("scheduled_at") - pl.col("created_at")).dt.total_hours() / 24
    )
    auth_wait = booked.filter(pl.col("prior_auth_required"))["days"].median()
    no_auth = booked.filter(~pl.col("prior_auth_required"))["days"].median()
    assert auth_wait > no_auth


def test_discharges_with_partial_follow_up(system):
    _, frames, _ = system
    e, a = frames["encounters"], frames["appointments"]
    discharged = e.filter(pl.col("encounter_class") != "emergency", pl.col("discharge_disposition") == "home")
    follow = discharged.join(a.select("patient_id", "scheduled_start"), on="patient_id").filter(
        (pl.col("scheduled_start") > pl.col("discharged_at"))
        & (pl.col("scheduled_start") <= pl.col("discharged_at") + dt.timedelta(days=14))
    )
    share = follow["encounter_id"].n_unique() / discharged.height
    assert 0.25 < share < 0.85
    assert set(e["encounter_class"]) == {"inpatient", "emergency", "observation"}


def test_slots_busier_specialties_booked_further_ahead(system):
    _, frames, _ = system
    slots = frames["slots"]
    assert slots["provider_id"].n_unique() <= 2 * frames["departments"].height  # a panel, not everyone
    ahead = (
        slots.drop_nulls("booked_at")
        .with_columns(days=(pl.col("slot_start") - pl.col("booked_at")).dt.total_hours() / 24)
        .group_by("department_id")
        .agg(pl.col("days").mean())
    )
    days = dict(ahead.iter_rows())
    assert days["D06"] > 1.5 * days["D01"]  # dermatology's backlog vs family medicine
    assert (slots["released_at"] < slots["booked_at"]).drop_nulls().all()
    assert (slots["booked_at"] < slots["slot_start"]).drop_nulls().all()
    assert slots.filter(pl.col("blocked"))["booked_at"].null_count() == slots["blocked"].sum()


def test_progress_callback_reaches_every_patient(tmp_path, monkeypatch):
    monkeypatch.setattr("carepulse.pipelines.synthetic.generator.CHUNK_PATIENTS", 40)
    calls = []
    generate_health_system(
        tmp_path, patients=100, months=2, seed=1, as_of=AS_OF, progress=lambda *a: calls.append(a)
    )
    patient_steps = [(done, total) for stage, done, total in calls if stage.startswith("Patients")]
    assert patient_steps[-1] == (100, 100)
    assert len(patient_steps) == 4  # start + three chunks
