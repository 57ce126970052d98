"""``carepulse users``: the command line over the account functions."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from carepulse import warehouse
from carepulse.access import accounts, audit
from carepulse.cli import app

runner = CliRunner()


@pytest.fixture
def cli(settings, fast_password_hashing):
    def run(*args, input=None):
        return runner.invoke(app, ["users", *args], input=input)

    return run


@pytest.fixture
def engine_(settings):
    engine = warehouse.make_engine(settings)
    yield engine
    engine.dispose()


def test_add_with_password_stdin_then_sign_in(cli, engine_):
    result = cli(
        "add",
        "carl",
        "--role",
        "coordinator",
        "-d",
        "D01",
        "-d",
        "D02",
        "--password-stdin",
        input="a sound passphrase\n",
    )
    assert result.exit_code == 0, result.output
    assert "Created carl: role coordinator, departments D01, D02" in result.output
    assert "a sound passphrase" not in result.output
    assert accounts.authenticate(engine_, "carl", "a sound passphrase").departments == ("D01", "D02")
    rows = audit.list_audit(engine_, action="user.create").to_dicts()
    assert len(rows) == 1 and rows[0]["username"].startswith("cli") and rows[0]["target"] == "carl"


def test_add_prompts_hidden_and_confirms(cli, engine_):
    result = cli("add", "mia", "--role", "manager", input="a sound passphrase\na sound passphrase\n")
    assert result.exit_code == 0, result.output
    assert "a sound passphrase" not in result.output  # hidden input is not echoed
    assert accounts.authenticate(engine_, "mia", "a sound passphrase").role == "manager"


def test_generated_password_shown_once_and_works(cli, engine_):
    result = cli("add", "ann", "--role", "analyst", "--generate")
    assert result.exit_code == 0, result.output
    password = result.output.split("Password (shown once): ")[1].split()[0]
    assert accounts.authenticate(engine_, "ann", password).role == "analyst"


def test_list_disable_enable_set_role_reset_password(cli, engine_):
    cli("add", "bob", "--role", "manager", "--password-stdin", input="a sound passphrase\n")
    cli("add", "zed", "--role", "qi", "--name", "Zed Q", "--password-stdin", input="a sound passphrase\n")
    assert cli("disable", "bob").exit_code == 0
    listing = cli("list").output
    assert "bob" in listing and "disabled" in listing and "Zed Q" in listing
    assert "argon2" not in listing
    assert "bob" not in cli("list", "--active").output
    assert cli("enable", "bob").exit_code == 0
    assert cli("set-role", "bob", "analyst").exit_code == 0
    assert accounts.get_user(engine_, "bob").role == "analyst"
    assert cli("set-departments", "bob", "D03").exit_code == 0
    assert accounts.get_user(engine_, "bob").departments == ("D03",)
    assert cli("reset-password", "bob", "--password-stdin", input="another passphrase\n").exit_code == 0
    assert accounts.authenticate(engine_, "bob", "another passphrase").username == "bob"
    actions = audit.list_audit(engine_, username=None)["action"].to_list()[::-1]
    assert actions == [
        "user.create",
        "user.create",
        "user.disable",
        "user.enable",
        "user.set_role",
        "user.set_departments",
        "user.reset_password",
        "signin",
    ]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("add", "bob", "--role", "root", "--password-stdin"), "a sound passphrase\n", "unknown role"),
        (("add", "bob", "--role", "manager", "--password-stdin"), "short\n", "at least 12"),
        (("disable", "ghost"), None, "no user named 'ghost'"),
        (("set-role", "ghost", "qi"), None, "no user named 'ghost'"),
    ],
)
def test_user_errors_are_one_line(cli, args, stdin, message):
    result = cli(*args, input=stdin)
    assert result.exit_code != 0
    assert message in str(result.exception) or message in result.output


def test_real_command_prints_one_line_without_traceback(settings, tmp_path):
    import os
    import shutil
    import subprocess

    exe = shutil.which("carepulse") or os.path.join(os.path.dirname(os.sys.executable), "carepulse")
    result = subprocess.run(
        [exe, "users", "disable", "ghost"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        cwd=tmp_path,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["error: no user named 'ghost' (see `carepulse users list`)"]
    assert "Traceback" not in result.stdout + result.stderr
