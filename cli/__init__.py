"""The ``carepulse`` command line: a thin layer over the library functions the tests call.

Each command lives in its own module with a ``register(app)`` function; heavy imports happen inside
the commands so ``carepulse --help`` stays instant.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.markup import escape

from carepulse.errors import CarePulseError

app = typer.Typer(
    name="carepulse",
    help="CarePulse: patient-care coordination analytics.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

from carepulse.cli import (  # noqa: E402  (registration order is the help order)
    audit,
    demo,
    generate,
    ingest,
    metrics,
    model,
    pack,
    profile,
    serve,
    users,
    validate,
)

for _module in (demo, generate, ingest, validate, profile, metrics, model, serve, pack, users, audit):
    _module.register(app)

err_console = Console(stderr=True)


def main() -> None:
    """Entry point: user errors become one red line and a non-zero exit, never a traceback."""
    try:
        app(standalone_mode=False)
    except CarePulseError as exc:
        err_console.print(
            f"[bold red]error:[/] {escape(str(exc))}", highlight=False, markup=True, soft_wrap=True
        )
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted")
        sys.exit(130)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:
        from carepulse.errors import storage_failure

        explained = storage_failure(exc)
        if explained is None:
            _usage_or_raise(exc)
            raise
        err_console.print(
            f"[bold red]error:[/] {escape(explained)}", highlight=False, markup=True, soft_wrap=True
        )
        sys.exit(CarePulseError.exit_code)


def _usage_or_raise(exc: Exception) -> None:
    """Click usage errors print their message and exit; anything else returns to be re-raised."""
    import click

    if isinstance(exc, click.ClickException):
        exc.show()
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
