"""PHI never reaches the logs: redaction of PHI-looking values and of every log record."""

from __future__ import annotations

import logging

import pytest

from carepulse.access import accounts, phi
from carepulse.access.accounts import AuthenticationError


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("call 555-123-4567 today", "call [redacted] today"),
        ("(555) 123-4567", "[redacted]"),
        ("+1 555.123.4567", "[redacted]"),
        ("mail jo.doe+x@example.org now", "mail [redacted] now"),
        ("MRN 00123456 arrived", "[redacted] arrived"),
        ("patient M1234567", "patient [redacted]"),
        ("first_name=John last_name: 'Doe'", "first_name=[redacted] last_name: [redacted]"),
        ("{'email': 'x', 'birth_date': '1950-01-02'}", "{'email': [redacted], 'birth_date': [redacted]}"),
        # Not PHI: counts, run ids, dates, decimals, department ids.
        ("loaded 12345 rows in run 42", "loaded 12345 rows in run 42"),
        ("on 2026-06-30 12:00:00 rate 0.1234567", "on 2026-06-30 12:00:00 rate 0.1234567"),
        ("department D01, provider P0042", "department D01, provider P0042"),
    ],
)
def test_redact_text(text, expected):
    assert phi.redact_text(text) == expected


@pytest.fixture
def redaction(monkeypatch):
    factory = logging.getLogRecordFactory()
    monkeypatch.setattr(phi, "_installed", False)
    phi.install_log_redaction()
    yield
    logging.setLogRecordFactory(factory)


def test_log_records_are_redacted_for_any_logger(redaction, caplog):
    caplog.set_level(logging.INFO)
    logging.getLogger("carepulse.pipelines.whatever").info("calling %s at %s", "Ann Lee", "555-123-4567")
    logging.getLogger("some.library").warning("sent to ann.lee@example.org, mrn=MRN7654321")
    try:
        raise ValueError("bad phone 555-123-4567 for ann.lee@example.org")
    except ValueError:
        logging.getLogger("dashboard").exception("export failed")
    text = caplog.text
    assert "555-123-4567" not in text and "ann.lee@example.org" not in text and "7654321" not in text
    assert "calling Ann Lee at [redacted]" in text  # names need the PHI-key form to be spotted
    assert "ValueError: bad phone [redacted]" in text


def test_filter_on_a_handler_redacts(caplog):
    factory = logging.getLogRecordFactory()
    logging.setLogRecordFactory(logging.LogRecord)  # without the process-wide redaction
    try:
        caplog.set_level(logging.INFO)
        logging.getLogger("x").info("phone=%s", "5551234567")
        assert "5551234567" in caplog.text  # the filter below is what redacts
        caplog.clear()
        caplog.handler.addFilter(phi.PHIRedactingFilter())
        logging.getLogger("x").info("phone=%s", "5551234567")
        assert "5551234567" not in caplog.text and "phone=[redacted]" in caplog.text
    finally:
        logging.setLogRecordFactory(factory)


def test_signin_logs_and_audit_carry_no_phi(engine, fast_password_hashing, redaction, caplog):
    caplog.set_level(logging.DEBUG)
    accounts.create_user(engine, "coord", "coordinator", "a sound passphrase", actor="admin")
    typed = "patient.jane@example.org"  # someone types a patient's e-mail as a username
    with pytest.raises(AuthenticationError):
        accounts.authenticate(engine, typed, "555-222-3333")
    with pytest.raises(AuthenticationError):
        accounts.authenticate(engine, "coord", "555-222-3333")
    from carepulse.access import audit

    stored = audit.list_audit(engine).write_csv()
    for secret in (typed, "555-222-3333"):
        assert secret not in caplog.text
        assert secret not in stored
