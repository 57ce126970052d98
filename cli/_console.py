"""The consoles every command prints to."""

from __future__ import annotations

import sys

from rich.console import Console


def stdout_console() -> Console:
    """A terminal-width console, or a wide one when output goes to a file or pipe (rich would
    otherwise squeeze wide tables into 80 columns and truncate their cells)."""
    return Console() if sys.stdout.isatty() else Console(width=200)
