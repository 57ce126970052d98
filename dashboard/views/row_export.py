"""Row-level export for analysts: the view's appointments, de-identified (HIPAA Safe Harbor style),
with a data dictionary; each download writes one audit row."""

from __future__ import annotations

import datetime as dt
import secrets

import polars as pl
import streamlit as st

from carepulse import warehouse
from carepulse.access import record
from carepulse.access.deidentify import (
    APPOINTMENT_COLUMNS,
    DATA_DICTIONARY,
    PATIENT_COLUMNS,
    data_dictionary,
    deidentify_appointments,
)
from carepulse.dashboard import data, exports, ui

user = ui.require("export:rows_deidentified")
run = ui.loaded_run_id()
view = ui.current_filters()

st.title("Row-level export")
st.caption(
    f"The appointments of this view ({view.describe()}), one row each, de-identified: no names, MRN, "
    "contact details or postal code; patient and visit ids replaced by keys made for this download only; "
    "every date shifted by a per-patient offset of up to 30 days; ages 90 and over grouped as '90+'."
)


def _build() -> bytes:
    """Read, de-identify and audit at click time (nothing identifying is cached in the app)."""
    engine = data.engine()
    end = view.end + dt.timedelta(days=1)
    where = f"scheduled_start >= '{view.start.isoformat()}' AND scheduled_start < '{end.isoformat()}'"
    appointments = warehouse.read_table(engine, "appointments", columns=APPOINTMENT_COLUMNS, where=where)
    departments = warehouse.read_table(engine, "departments", columns=["department_id", "site"])
    chosen = view.metric_filters()
    if chosen.get("site"):
        keep = departments.filter(pl.col("site").is_in(chosen["site"])).get_column("department_id")
        appointments = appointments.filter(pl.col("department_id").is_in(keep.to_list()))
    for column, source in (
        ("department", "department_id"),
        ("provider", "provider_id"),
        ("visit_type", "visit_type"),
        ("modality", "modality"),
    ):
        if chosen.get(column):
            appointments = appointments.filter(pl.col(source).is_in(chosen[column]))
    patients = warehouse.read_table(engine, "patients", columns=PATIENT_COLUMNS)
    if chosen.get("payer_class"):
        patients = patients.filter(pl.col("payer_class").is_in(chosen["payer_class"]))
        appointments = appointments.filter(
            pl.col("patient_id").is_in(patients.get_column("patient_id").to_list())
        )
    out = deidentify_appointments(appointments, patients, key=secrets.token_bytes(32))
    payload = exports.to_csv_bytes(out)
    record(
        engine,
        user.username,
        "export",
        target="appointments_deidentified",
        detail={"format": "csv", "view": view.cache_key()[:2]},
        rows=out.height,
    )
    return payload


st.download_button(
    "De-identified appointments (CSV)",
    data=_build,
    file_name=exports.export_file_name("appointments_deidentified", "csv"),
    mime=exports.CSV_MIME,
    key="rows.download",
    icon=":material/download:",
    on_click="ignore",
)
st.subheader("Data dictionary")
sample = pl.DataFrame(schema={c: pl.String for c in DATA_DICTIONARY})
dictionary = data_dictionary(sample).drop("type")
st.dataframe(dictionary, hide_index=True, key="rows.dictionary")
st.download_button(
    "Data dictionary (CSV)",
    data=exports.to_csv_bytes(dictionary),
    file_name=exports.export_file_name("appointments_deidentified_dictionary", "csv"),
    mime=exports.CSV_MIME,
    key="rows.dictionary_download",
    icon=":material/menu_book:",
    on_click="ignore",
)
