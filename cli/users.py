"""``carepulse users``: manage built-in accounts (a thin layer over :mod:`carepulse.access.accounts`).

Passwords are never command-line arguments (they would land in the shell history and the process
list): they are prompted for, hidden and confirmed, read from standard input with
``--password-stdin``, or generated and shown once with ``--generate``. Every change is audited as
``cli:<operating-system user>``.
"""

from __future__ import annotations

import typer

users_app = typer.Typer(
    help="Manage built-in accounts: add, list, disable, enable, set-role, reset-password.",
    no_args_is_help=True,
)


def _engine():
    from carepulse import schema, warehouse

    engine = warehouse.make_engine()
    schema.create_all(engine)
    return engine


def _actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name (some containers)
        return "cli"


def _read_password(password_stdin: bool, generate: bool) -> tuple[str, bool]:
    """(password, generated?) from stdin, the generator, or a hidden confirmed prompt."""
    import sys

    from carepulse.access import passwords

    if password_stdin and generate:
        raise typer.BadParameter("use either --password-stdin or --generate")
    if generate:
        return passwords.generate_password(), True
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return passwords.check_password_strength(password), False


def _print_user(user, verb: str) -> None:
    from rich.console import Console

    depts = f", departments {', '.join(user.departments)}" if user.departments else ""
    state = " (disabled)" if user.disabled else ""
    Console().print(f"{verb} [bold]{user.username}[/]: role {user.role}{depts}{state}", highlight=False)


def _show_generated(password: str) -> None:
    from rich.console import Console

    Console().print(f"Password (shown once): [bold]{password}[/]", highlight=False)


@users_app.command("add")
def add(
    username: str = typer.Argument(..., help="Sign-in name (letters, digits, . _ @ + -)."),
    role: str = typer.Option(..., "--role", "-r", help="admin, manager, qi, coordinator or analyst."),
    department: list[str] = typer.Option(
        None, "--department", "-d", help="Department id (coordinators; repeat)."
    ),
    display_name: str = typer.Option(None, "--name", help="Name shown in the app."),
    email: str = typer.Option(None, "--email", help="Staff e-mail (for single sign-on accounts)."),
    sso_only: bool = typer.Option(False, "--sso-only", help="No password: single sign-on only."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
    generate: bool = typer.Option(False, "--generate", help="Generate a password and show it once."),
) -> None:
    """Create an account."""
    from carepulse.access import accounts

    password, generated = (None, False) if sso_only else _read_password(password_stdin, generate)
    user = accounts.create_user(
        _engine(),
        username,
        role,
        password,
        actor=_actor(),
        display_name=display_name,
        email=email,
        departments=department or None,
    )
    _print_user(user, "Created")
    if generated and password is not None:
        _show_generated(password)


@users_app.command("list")
def list_(show_all: bool = typer.Option(True, "--all/--active", help="Include disabled accounts.")) -> None:
    """List accounts (never their passwords)."""
    from rich.console import Console
    from rich.table import Table

    from carepulse.access import accounts, audit

    now = audit.utcnow()
    table = Table(title="CarePulse accounts")
    for col in ("username", "name", "role", "departments", "status", "last sign-in (UTC)"):
        table.add_column(col)
    for user in accounts.list_users(_engine()):
        if user.disabled and not show_all:
            continue
        status = (
            "disabled"
            if user.disabled
            else "locked"
            if user.locked_until and user.locked_until > now
            else "active"
        )
        last = user.last_login_at.strftime("%Y-%m-%d %H:%M") if user.last_login_at else ""
        table.add_row(
            user.username, user.display_name or "", user.role, ", ".join(user.departments), status, last
        )
    Console().print(table)


@users_app.command("disable")
def disable(username: str) -> None:
    """Disable an account (its open sessions end on their next click)."""
    from carepulse.access import accounts

    _print_user(accounts.disable_user(_engine(), username, actor=_actor()), "Disabled")


@users_app.command("enable")
def enable(username: str) -> None:
    """Enable an account again (and unlock it)."""
    from carepulse.access import accounts

    _print_user(accounts.enable_user(_engine(), username, actor=_actor()), "Enabled")


@users_app.command("set-role")
def set_role(
    username: str, role: str = typer.Argument(..., help="admin, manager, qi, coordinator or analyst.")
) -> None:
    """Change an account's role."""
    from carepulse.access import accounts

    _print_user(accounts.set_role(_engine(), username, role, actor=_actor()), "Updated")


@users_app.command("set-departments")
def set_departments(
    username: str, departments: list[str] = typer.Argument(None, help="Department ids.")
) -> None:
    """Set the departments whose worklist a coordinator sees (none: clear)."""
    from carepulse.access import accounts

    _print_user(accounts.set_departments(_engine(), username, departments or [], actor=_actor()), "Updated")


@users_app.command("reset-password")
def reset_password(
    username: str,
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
    generate: bool = typer.Option(False, "--generate", help="Generate a password and show it once."),
) -> None:
    """Set a new password (and unlock the account)."""
    from carepulse.access import accounts

    password, generated = _read_password(password_stdin, generate)
    _print_user(accounts.reset_password(_engine(), username, password, actor=_actor()), "Password reset for")
    if generated:
        _show_generated(password)


def register(app: typer.Typer) -> None:
    """Add the ``users`` command group to the app."""
    app.add_typer(users_app, name="users")
