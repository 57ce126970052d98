"""``carepulse profile infer DIR`` and ``carepulse profile check FILE``: write and test source profiles."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    """Add the ``profile`` command group to the app."""
    group = typer.Typer(help="Source profiles: map a site's own export files to the extract contract.")
    app.add_typer(group, name="profile")

    @group.command("infer")
    def infer(
        source_dir: Path = typer.Argument(..., help="Folder holding the site's export (CSV files)."),
        out: Path | None = typer.Option(
            None, "--out", help="Write the proposed profile here (default: print)."
        ),
    ) -> None:
        """Propose a profile from the files' headers and value samples (review it before use)."""
        from carepulse.pipelines.sources import infer_profile, parse_profile

        text = infer_profile(source_dir)
        if out is None:
            typer.echo(text)
            return
        out.write_text(text, encoding="utf-8")
        import tomllib

        try:
            parse_profile(tomllib.loads(text), out.name)
            typer.echo(
                f"wrote {out}; it validates: review the mappings, then `carepulse validate DIR --profile {out}`"
            )
        except Exception as exc:  # a proposal with TODOs is expected to need work
            typer.echo(f"wrote {out}; before use fix: {exc}")

    @group.command("check")
    def check(profile: str = typer.Argument(..., help="Profile TOML file or built-in name.")) -> None:
        """Validate a profile file (errors name the key); exit 2 when it is not valid."""
        from carepulse.pipelines.sources import load_profile

        loaded = load_profile(profile)
        typer.echo(f"profile {loaded.name!r} is valid: supplies {', '.join(loaded.extracts)}")
