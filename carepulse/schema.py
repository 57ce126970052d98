"""The warehouse schema (SQLAlchemy Core), the same on SQLite and PostgreSQL.

Extract tables are derived from :mod:`carepulse.contract`; each also records the load run that last
wrote a row (``_load_run_id``) and a hash of its contract columns (``_row_hash``) so a re-ingest can
tell inserted, updated and unchanged rows apart. System tables hold what the product itself records:
load runs, quarantine, validation results, model registry and scores, and what users record
(outreach outcomes, annotations, accounts, audit).
"""

import sqlalchemy as sa

from carepulse.contract import EXTRACTS, Extract

metadata = sa.MetaData()

_SA_TYPES = {
    "str": sa.Text,
    "int": sa.BigInteger,
    "float": sa.Float,
    "bool": sa.Boolean,
    "date": sa.Date,
    "datetime": sa.DateTime,
}


def _extract_table(extract: Extract) -> sa.Table:
    cols = [
        sa.Column(c.name, _SA_TYPES[c.dtype](), primary_key=(c.name == extract.key), nullable=c.nullable)
        for c in extract.columns
    ]
    cols.append(sa.Column("_load_run_id", sa.BigInteger, nullable=False))
    cols.append(sa.Column("_row_hash", sa.BigInteger, nullable=False))
    indexes = [
        sa.Index(f"ix_{extract.name}_{c.name}", c.name)
        for c in extract.columns
        if c.references
        or c.name in ("scheduled_start", "created_at", "submitted_at", "admitted_at", "slot_start")
    ]
    return sa.Table(extract.name, metadata, *cols, *indexes)


EXTRACT_TABLES: dict[str, sa.Table] = {name: _extract_table(e) for name, e in EXTRACTS.items()}

# --- Metric aggregates (sufficient statistics, built by each load: carepulse.metrics.aggregates) ---

#: One row per metric x day x department x site x provider x modality x payer class x category
#: (x histogram bucket for times and scores). Rewritten for the days whose statistics a load changes,
#: inside the load's transaction; the catalogue and the dashboard's metric pages read it.
metric_aggregates = sa.Table(
    "metric_aggregates",
    metadata,
    sa.Column("metric", sa.Text, nullable=False),
    sa.Column("day", sa.Date),
    sa.Column("department", sa.Text),
    sa.Column("site", sa.Text),
    sa.Column("provider", sa.Text),
    sa.Column("modality", sa.Text),
    sa.Column("payer_class", sa.Text),
    sa.Column("category", sa.Text),
    sa.Column("bucket", sa.Integer),
    sa.Column("n", sa.BigInteger, nullable=False),
    sa.Column("num", sa.Float),
    sa.Column("den", sa.Float),
    sa.Column("num_n", sa.BigInteger),
    sa.Column("x_sum", sa.Float),
    sa.Index("ix_metric_aggregates_metric_day", "metric", "day"),
)

# --- Loading ----------------------------------------------------------------------------------

load_runs = sa.Table(
    "load_runs",
    metadata,
    sa.Column(
        "run_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("status", sa.Text, nullable=False),  # running, succeeded, failed, refused, interrupted
    sa.Column("source_dir", sa.Text, nullable=False),
    sa.Column("rows_read", sa.BigInteger, nullable=False, default=0),
    sa.Column("inserted", sa.BigInteger, nullable=False, default=0),
    sa.Column("updated", sa.BigInteger, nullable=False, default=0),
    sa.Column("unchanged", sa.BigInteger, nullable=False, default=0),
    sa.Column("quarantined", sa.BigInteger, nullable=False, default=0),
    sa.Column("duration_s", sa.Float),
    sa.Column("message", sa.Text),
)

load_files = sa.Table(
    "load_files",
    metadata,
    sa.Column("run_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("extract", sa.Text, nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("sha256", sa.Text, nullable=False),
    sa.Column("archived_path", sa.Text),
    sa.Column("rows_read", sa.BigInteger, nullable=False, default=0),
    sa.Column("inserted", sa.BigInteger, nullable=False, default=0),
    sa.Column("updated", sa.BigInteger, nullable=False, default=0),
    sa.Column("unchanged", sa.BigInteger, nullable=False, default=0),
    sa.Column("quarantined", sa.BigInteger, nullable=False, default=0),
    sa.PrimaryKeyConstraint("run_id", "extract"),
)

quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column(
        "quarantine_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("run_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("extract", sa.Text, nullable=False),
    sa.Column("file_name", sa.Text, nullable=False),
    sa.Column("line", sa.BigInteger),  # 1-based line in the file where the record starts (header = 1)
    sa.Column("column_name", sa.Text),
    sa.Column("value", sa.Text),  # may hold PHI: admin-only, never logged
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("expectation", sa.Text),  # the check that failed (contract rule or GX expectation)
    sa.Column("record", sa.Text),  # the whole raw record as JSON, so nothing is lost
)

# --- Data quality -----------------------------------------------------------------------------

validation_runs = sa.Table(
    "validation_runs",
    metadata,
    sa.Column(
        "validation_run_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("run_id", sa.BigInteger, index=True),  # the load run; null for a dry run
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("duration_s", sa.Float),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("refused", sa.Boolean, nullable=False),
    sa.Column("accepted_warnings", sa.Boolean, nullable=False, default=False),
    sa.Column("data_docs_path", sa.Text),
    sa.Column("summary", sa.Text),  # JSON
)

validation_results = sa.Table(
    "validation_results",
    metadata,
    sa.Column("validation_run_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("extract", sa.Text, nullable=False),
    sa.Column("expectation", sa.Text, nullable=False),
    sa.Column("column_name", sa.Text),
    sa.Column("kahn_category", sa.Text, nullable=False),  # conformance, completeness, plausibility
    sa.Column("kahn_subcategory", sa.Text),  # value, relational, computational, atemporal, temporal
    sa.Column("severity", sa.Text, nullable=False),  # row or batch
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("observed_value", sa.Text),
    sa.Column("element_count", sa.BigInteger),
    sa.Column("unexpected_count", sa.BigInteger),
    sa.Column("unexpected_percent", sa.Float),
    sa.Column("threshold", sa.Float),
    sa.Column("examples", sa.Text),  # JSON list; never PHI
    sa.Column("description", sa.Text),
)

# --- Model ------------------------------------------------------------------------------------

model_registry = sa.Table(
    "model_registry",
    metadata,
    sa.Column("version", sa.Text, primary_key=True),
    sa.Column("trained_at", sa.DateTime, nullable=False),
    sa.Column("train_start", sa.Date),
    sa.Column("train_end", sa.Date),
    sa.Column("test_start", sa.Date),
    sa.Column("test_end", sa.Date),
    sa.Column("features", sa.Text, nullable=False),  # JSON list
    sa.Column("metrics", sa.Text, nullable=False),  # JSON
    sa.Column("file_path", sa.Text, nullable=False),
    sa.Column("file_sha256", sa.Text, nullable=False),
    sa.Column("is_current", sa.Boolean, nullable=False, default=False),
    sa.Column("model_card", sa.Text),  # Markdown
)

score_runs = sa.Table(
    "score_runs",
    metadata,
    sa.Column(
        "score_run_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("scored_at", sa.DateTime, nullable=False),
    sa.Column("as_of", sa.DateTime, nullable=False),
    sa.Column("horizon_days", sa.Integer, nullable=False),
    sa.Column("n_scored", sa.BigInteger, nullable=False),
)

risk_scores = sa.Table(
    "risk_scores",
    metadata,
    sa.Column("score_run_id", sa.BigInteger, nullable=False, index=True),
    sa.Column("appointment_id", sa.Text, nullable=False, index=True),
    sa.Column("model_version", sa.Text, nullable=False),
    sa.Column("risk", sa.Float, nullable=False),
    sa.Column("risk_band", sa.Text, nullable=False),  # high, medium, low
    sa.Column("reason_1", sa.Text),
    sa.Column("reason_2", sa.Text),
    sa.Column("reason_3", sa.Text),
    sa.Column("suggested_action", sa.Text),
    sa.Column("expected_benefit", sa.Float),
    sa.Column("rank", sa.BigInteger),
    sa.Column("is_current", sa.Boolean, nullable=False, default=True),
)

# --- What users record ------------------------------------------------------------------------

outreach_outcomes = sa.Table(
    "outreach_outcomes",
    metadata,
    sa.Column(
        "outreach_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("appointment_id", sa.Text, nullable=False, index=True),
    sa.Column("patient_id", sa.Text, nullable=False, index=True),
    sa.Column("score_run_id", sa.BigInteger),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("note", sa.Text),
    sa.Column("recorded_by", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.DateTime, nullable=False),
)

worklist_assignments = sa.Table(
    "worklist_assignments",
    metadata,
    sa.Column("appointment_id", sa.Text, primary_key=True),
    sa.Column("assigned_to", sa.Text, nullable=False),
    sa.Column("assigned_by", sa.Text, nullable=False),
    sa.Column("assigned_at", sa.DateTime, nullable=False),
)

saved_views = sa.Table(
    "saved_views",
    metadata,
    sa.Column(
        "view_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("params", sa.Text, nullable=False),  # JSON: the sidebar's URL parameters (ids, dates)
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime),
    sa.UniqueConstraint("owner", "name", name="uq_saved_views_owner_name"),
)

annotations = sa.Table(
    "annotations",
    metadata,
    sa.Column(
        "annotation_id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("metric", sa.Text, nullable=False, index=True),
    sa.Column("department_id", sa.Text),  # null: site-wide or system-wide
    sa.Column("site", sa.Text),  # null: system-wide (or the department's own site)
    sa.Column("annotated_on", sa.Date, nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("description", sa.Text),
    sa.Column("starts_phase", sa.Boolean, nullable=False, default=False),  # recompute limits from here
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime),
    sa.Column("deleted_at", sa.DateTime),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("username", sa.Text, primary_key=True),
    sa.Column("display_name", sa.Text),
    sa.Column("email", sa.Text),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("departments", sa.Text),  # comma-separated department_ids (coordinators)
    sa.Column("password_hash", sa.Text),  # null for SSO-only accounts
    sa.Column("disabled", sa.Boolean, nullable=False, default=False),
    sa.Column("failed_attempts", sa.Integer, nullable=False, default=0),
    sa.Column("locked_until", sa.DateTime),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime),
    sa.Column("last_login_at", sa.DateTime),
)

# Server-side sign-in sessions: the browser's cookie holds a signed random token whose SHA-256 is
# ``token_hash``; revoking a row (sign-out, account disabled, time-out) ends that cookie at once.
web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("session_id", sa.Text, primary_key=True),  # random, server-side only (never in a cookie)
    sa.Column("username", sa.Text, nullable=False, index=True),
    sa.Column("token_hash", sa.Text, unique=True),  # set when the cookie is issued
    sa.Column("handoff_hash", sa.Text, unique=True),  # one-time token that issues the cookie
    sa.Column("handoff_expires_at", sa.DateTime),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("last_seen_at", sa.DateTime, nullable=False),
    sa.Column("expires_at", sa.DateTime, nullable=False),  # absolute time-out
    sa.Column("revoked_at", sa.DateTime),
    sa.Column("revoked_reason", sa.Text),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column(
        "audit_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True
    ),
    sa.Column("at", sa.DateTime, nullable=False, index=True),
    sa.Column("username", sa.Text),
    sa.Column("action", sa.Text, nullable=False),
    sa.Column("target", sa.Text),
    sa.Column("detail", sa.Text),  # JSON; never PHI
    sa.Column("rows", sa.BigInteger),
    # Tamper evidence: SHA-256 of the previous row's hash and this row's values (access/audit_chain.py).
    sa.Column("prev_hash", sa.Text),
    sa.Column("row_hash", sa.Text),
)

# The audit trail is append-only in the database itself, not only by convention.
_APPEND_ONLY_MESSAGE = "audit_log is append-only"
for _ddl in (
    f"CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY_MESSAGE}'); END",
    f"CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log "
    f"BEGIN SELECT RAISE(ABORT, '{_APPEND_ONLY_MESSAGE}'); END",
):
    sa.event.listen(audit_log, "after_create", sa.DDL(_ddl).execute_if(dialect="sqlite"))
for _ddl in (
    "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    f"$$ BEGIN RAISE EXCEPTION '{_APPEND_ONLY_MESSAGE}'; END $$",
    "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
):
    sa.event.listen(audit_log, "after_create", sa.DDL(_ddl).execute_if(dialect="postgresql"))


def create_all(engine: sa.Engine) -> None:
    """Create every table that does not exist yet, and add the nullable columns a newer version
    added to an existing table (idempotent; nothing is ever dropped or changed)."""
    metadata.create_all(engine)
    _add_missing_columns(engine)


def _add_missing_columns(engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    for table in metadata.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present or not column.nullable or column.primary_key:
                continue
            kind = column.type.compile(dialect=engine.dialect)
            with engine.begin() as conn:
                conn.exec_driver_sql(f'ALTER TABLE "{table.name}" ADD COLUMN "{column.name}" {kind}')
