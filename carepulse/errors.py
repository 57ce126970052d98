"""User-facing errors: one line that says what is wrong, where, and what to do. Never PHI."""

from __future__ import annotations


class CarePulseError(Exception):
    """An error the user can fix; the CLI prints its message without a traceback (exit code 2)."""

    exit_code = 2


class ExtractError(CarePulseError):
    """An extract file cannot be read as the contract says (names file, line and column)."""

    def __init__(
        self, message: str, *, file: str | None = None, line: int | None = None, column: str | None = None
    ):
        where = ", ".join(
            part
            for part in (
                f"file {file}" if file else "",
                f"line {line}" if line is not None else "",
                f"column {column}" if column else "",
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.file, self.line, self.column = file, line, column


class BatchRefused(CarePulseError):
    """A load was refused by a batch-level data-quality check; the warehouse is unchanged."""

    exit_code = 3


def storage_failure(exc: BaseException) -> str | None:
    """A one-line explanation of a failure of the storage under the warehouse (full disk, corrupt or
    truncated file), or None for any other error. The CLI and the dashboard show it instead of a
    traceback; the load's own transaction has been rolled back by then, so nothing was lost."""
    import errno

    text = str(exc).lower()
    chain = [exc, exc.__cause__, exc.__context__, getattr(exc, "orig", None)]
    if (
        any(isinstance(e, OSError) and e.errno == errno.ENOSPC for e in chain)
        or "database or disk is full" in text
    ):
        return (
            "the disk holding the warehouse or its staging files is full: nothing was changed; "
            "free some space and run the command again"
        )
    if "file is not a database" in text or "malformed" in text or "file is encrypted" in text:
        return (
            "the warehouse file is corrupt or truncated (not a readable SQLite database): restore it from "
            "a backup, or move it aside and load the extracts again"
        )
    return None
