"""Data quality: the latest loads, what they counted, quarantined rows by reason, failed checks."""

from __future__ import annotations

import polars as pl
import streamlit as st

from carepulse.dashboard import data, ui

user = ui.require("page:data_quality")

st.title("Data quality")
st.caption(
    "Every input row is loaded or quarantined with its reason; every batch is checked before it loads."
)

runs = data.system_table("load_runs")
if runs.is_empty():
    st.info(ui.NO_DATA_HELP)
    st.stop()

runs = runs.sort("run_id", descending=True)
latest = runs.row(0, named=True)
c1, c2, c3, c4 = st.columns(4)
c1.metric("Latest load", f"run {latest['run_id']}", help=f"Status: {latest['status']}")
c2.metric("Rows read", f"{latest['rows_read']:,}")
c3.metric("Loaded (inserted + updated)", f"{latest['inserted'] + latest['updated']:,}")
c4.metric("Quarantined", f"{latest['quarantined']:,}")
if latest["status"] == "running":
    st.info(
        f"Load run {latest['run_id']} is running now; the dashboard shows the last successful load until "
        "it finishes."
    )
elif latest["status"] != "succeeded":
    verb = {"failed": "failed", "refused": "was refused", "interrupted": "was interrupted"}.get(
        latest["status"], latest["status"]
    )
    st.warning(
        f"The latest load {verb}: {latest['message'] or 'see `carepulse runs`'}. "
        "The dashboard shows the last successful load."
    )

st.subheader("Recent loads")
ui.table(runs.head(20).drop("source_dir"), "load_runs", user, key="dq.runs")

run_ids = runs.get_column("run_id").to_list()
chosen = st.selectbox("Load run", run_ids, key="dq.run", format_func=lambda r: f"run {r}")

files = data.system_table("load_files").filter(pl.col("run_id") == chosen)
st.subheader("Files of this load")
ui.table(
    files.drop("archived_path") if "archived_path" in files.columns else files,
    f"load_files_{chosen}",
    user,
    key="dq.files",
)

st.subheader("Quarantined rows by reason")
show_values = ui.can(user, "view:quarantine_values")
columns = ("run_id", "extract", "file_name", "line", "column_name", "reason", "expectation")
quarantine = data.system_table("quarantine", columns=(*columns, "value") if show_values else columns)
quarantine = quarantine.filter(pl.col("run_id") == chosen)
if quarantine.is_empty():
    st.success("No row of this load was quarantined.")
else:
    by_reason = (
        quarantine.group_by("extract", "column_name", "reason")
        .agg(pl.len().alias("rows"))
        .sort("rows", descending=True)
    )
    ui.table(by_reason, f"quarantine_by_reason_{chosen}", user, key="dq.reasons")
    with st.expander(f"The {quarantine.height:,} quarantined rows (file and line to fix at the source)"):
        if not show_values:
            st.caption("Raw values are hidden: they may hold patient data and your role cannot see them.")
        ui.table(quarantine.sort("extract", "line"), f"quarantine_rows_{chosen}", user, key="dq.rows")

st.subheader("Data-quality checks")
validations = data.system_table("validation_runs").filter(pl.col("run_id") == chosen)
if validations.is_empty():
    st.caption("No validation recorded for this load.")
else:
    validation = validations.sort("validation_run_id").row(-1, named=True)
    results = data.system_table("validation_results").filter(
        pl.col("validation_run_id") == validation["validation_run_id"]
    )
    failed = results.filter(~pl.col("success"))
    ok = results.height - failed.height
    st.write(
        f"{ok} of {results.height} checks passed"
        + (" (batch refused)" if validation["refused"] else "")
        + (" (warnings accepted)" if validation["accepted_warnings"] else "")
        + "."
    )
    if failed.is_empty():
        st.success("Every check passed.")
    else:
        keep = [
            c
            for c in (
                "extract",
                "expectation",
                "column_name",
                "kahn_category",
                "kahn_subcategory",
                "severity",
                "unexpected_count",
                "unexpected_percent",
                "threshold",
                "description",
            )
            if c in failed.columns
        ]
        ui.table(
            failed.select(keep).sort("extract", "expectation"),
            f"failed_checks_{chosen}",
            user,
            key="dq.failed",
        )
    if validation["data_docs_path"]:
        st.markdown(
            f"Data Docs (the full validation report): `{validation['data_docs_path']}` "
            "(open this file on the server, or run `carepulse validate --docs`)."
        )
