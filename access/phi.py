"""Keep PHI out of logs: redact PHI-looking values from every log record.

Two layers: :func:`redact_text` replaces e-mail addresses, phone numbers, MRN-like identifiers and
``<phi column>=<value>`` pairs with ``[redacted]``; :func:`install_log_redaction` applies it to every
log record the process creates (message, arguments and traceback), so a careless
``log.info("calling %s", patient.phone)`` anywhere -- ours or a library's -- still logs no PHI.
"""

from __future__ import annotations

import logging
import re
import traceback

from carepulse.contract import PHI_COLUMNS

REDACTED = "[redacted]"

#: Column names that hold PHI (from the contract), plus common aliases.
PHI_KEYS: frozenset[str] = frozenset(
    {c for cols in PHI_COLUMNS.values() for c in cols}
    | {"patient_name", "full_name", "dob", "date_of_birth", "zip", "zip_code", "telephone", "mobile"}
)

_EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w.-])(?:\+?1[-.\s]?)?\(?\d{3}\)?[-.\s]?\d{3}[-.\s]?\d{4}(?![\w-])")
#: MRN-like: an optional "MRN" label and 6-12 digits, possibly behind up to three capitals.
_MRN = re.compile(r"(?:\bMRN[\s:#=-]*[A-Z]{0,3}\d{4,12}\b)|(?:(?<![.\d])\b[A-Z]{0,3}\d{6,12}\b(?!\.\d))")
_PHI_PAIR = re.compile(
    r"(?i)(?P<key>\b(?:"
    + "|".join(sorted(map(re.escape, PHI_KEYS), key=len, reverse=True))
    + r")\b['\"]?\s*[=:]\s*)"
    r"(?P<value>'[^']*'|\"[^\"]*\"|[^\s,;)}\]]+)"
)


def redact_text(text: str) -> str:
    """``text`` with PHI-looking values replaced by ``[redacted]``."""
    if not text:
        return text
    text = _PHI_PAIR.sub(lambda m: m.group("key") + REDACTED, text)
    text = _EMAIL.sub(REDACTED, text)
    text = _PHONE.sub(REDACTED, text)
    return _MRN.sub(REDACTED, text)


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    """Redact a log record in place: the formatted message and any traceback text."""
    try:
        message = record.getMessage()
    except Exception:  # a bad format string: keep the template only
        message = str(record.msg)
    record.msg, record.args = redact_text(message), None
    if record.exc_info and record.exc_info[0] is not None:
        record.exc_text = redact_text("".join(traceback.format_exception(*record.exc_info)).rstrip("\n"))
        record.exc_info = None
    if record.stack_info:
        record.stack_info = redact_text(record.stack_info)
    return record


class PHIRedactingFilter(logging.Filter):
    """A logging filter (for handlers or loggers) that redacts records; never drops one."""

    def filter(self, record: logging.LogRecord) -> bool:
        redact_record(record)
        return True


_installed = False


def install_log_redaction() -> None:
    """Redact every log record the process creates from now on (idempotent).

    Installed as a record factory rather than as a filter on some loggers, because filters on a
    logger do not see records propagated from its children nor records of third-party loggers.
    """
    global _installed
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args, **kwargs) -> logging.LogRecord:
        return redact_record(previous(*args, **kwargs))

    logging.setLogRecordFactory(factory)
    _installed = True


def is_installed() -> bool:
    return _installed
