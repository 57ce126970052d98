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
