"""The model card (Markdown, and HTML for the app): use, misuse, data window, performance, limits.

Generated from a registered version's metrics so it can never drift from what was measured.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl
from markdown_it import MarkdownIt

from carepulse.settings import Settings

if TYPE_CHECKING:  # pragma: no cover
    from carepulse.metrics.no_show_model.registry import ModelVersion


def _f(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _overall_table(overall: dict[str, Any]) -> list[str]:
    lines = ["| Scores | n | no-shows | AUROC | AUPRC | Brier | ECE |", "|---|---:|---:|---:|---:|---:|---:|"]
    names = {
        "model": "Model (calibrated gradient boosting)",
        "baseline": "Baseline (logistic regression)",
        "oracle": "Oracle (true probabilities, synthetic data only)",
    }
    for key, label in names.items():
        m = overall.get(key)
        if m:
            lines.append(
                f"| {label} | {m['n']} | {m['no_shows']} | {_f(m['auroc'])} | {_f(m['auprc'])} | {_f(m['brier'])} | {_f(m['ece'])} |"
            )
    return lines


def suppressed_subgroups(subgroups: list[dict[str, Any]], small_cell: int) -> list[dict[str, Any]]:
    """The subgroup rows with complementary suppression: each subgroup's values add up to the overall
    n and no-shows shown above them, so hiding only the small rows would give them back by
    subtraction (and a shown rate × n gives the no-shows). See :mod:`carepulse.metrics.suppression`."""
    if not subgroups:
        return []
    from carepulse.metrics.suppression import suppress_table

    frame = pl.DataFrame(subgroups, infer_schema_length=None)
    if "no_shows" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Int64).alias("no_shows"))
    shown = suppress_table(
        frame, threshold=small_cell, margins=[("subgroup",)], n="n", numerator="no_shows", labels=["value"]
    )
    return shown.to_dicts()


def _subgroup_table(subgroups: list[dict[str, Any]], small_cell: int) -> list[str]:
    lines = [
        "| Subgroup | Value | n | Observed | Predicted | AUROC | ECE | Flag |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in suppressed_subgroups(subgroups, small_cell):
        if row.get("suppressed"):
            lines.append(f"| {row['subgroup']} | {row['value']} | suppressed | | | | | |")
            continue
        if row.get("observed_rate") is None:
            lines.append(
                f"| {row['subgroup']} | {row['value']} | {row.get('n')} | | | | | {row.get('note') or ''} |"
            )
            continue
        flags = [
            name
            for name, key in (("AUROC", "auroc_flag"), ("calibration", "calibration_flag"))
            if row.get(key)
        ]
        lines.append(
            f"| {row['subgroup']} | {row['value']} | {row['n']} | {_f(row['observed_rate'])} | {_f(row['mean_predicted'])} | "
            f"{_f(row['auroc'])} | {_f(row['ece'])} | {'departs: ' + ', '.join(flags) if flags else ''} |"
        )
    return lines


def model_card_markdown(mv: ModelVersion, small_cell: int = 10) -> str:
    """Markdown card for a :class:`~carepulse.metrics.no_show_model.registry.ModelVersion`."""
    m = mv.metrics
    cap = m.get("capacity", {}).get("model", {})
    rows = m.get("rows", {})
    lines = [
        f"# No-show risk model, version {mv.version}",
        "",
        f"Trained {mv.trained_at:%Y-%m-%d %H:%M}. File sha256 `{mv.file_sha256[:16]}…`. "
        f"Calibration: {m.get('calibration_method')} (chosen on the validation window).",
        "",
        "## Intended use",
        "Prioritising **outreach** before a visit: reminder calls, arranging transport, offering telehealth, "
        "verifying insurance, booking an interpreter. Coordinators call the highest expected-benefit "
        "appointments first; every score comes with its three main reasons.",
        "",
        "## Not intended",
        '- **Overbooking** or double-booking slots of high-risk patients. Samorani et al., "Overbooked and '
        'overlooked: machine learning and racial bias in medical appointment scheduling" (M&SOM, 2022) showed '
        "that overbooking on no-show scores makes Black patients wait longer.",
        "- Denying, delaying or down-prioritising care, discharging patients for missed visits, or any decision "
        "about a patient without a person reviewing it.",
        "- Judging individual clinicians or departments.",
        "",
        "## Data",
        f"- Training window: {mv.train_start} to {mv.train_end} ({rows.get('train', '?')} appointments).",
        f"- Validation (calibration) window: {m['windows'].get('valid_start', '')[:10]} to {m['windows'].get('test_start', '')[:10]} ({rows.get('validation', '?')}).",
        f"- Test window: {mv.test_start} to {mv.test_end} ({rows.get('test', '?')}); temporal split, never random.",
        "- Label: a no-show among past appointments that were not cancelled (completed and left without "
        "being seen count as attended). Features use only what was known at 00:00 the day before the visit.",
        "",
        "## Performance on the test window",
        *_overall_table(m.get("overall", {})),
        "",
        f"Calling the {cap.get('capacity_per_day', '?')} riskiest appointments a day: precision {_f(cap.get('precision'))}, "
        f"recall {_f(cap.get('recall'))} (base rate {_f(cap.get('base_rate'))}).",
        "",
        "## Performance by subgroup",
        "Flags mark a group whose AUROC is more than 0.05 below the overall one, or whose observed no-show rate "
        f"departs from the predicted one by more than 0.02 and two standard errors. Counts of 1 to {small_cell} are "
        "suppressed, and so are further rows where the others and the overall figures would give them back.",
        "",
        *_subgroup_table(m.get("subgroups", []), small_cell),
        "",
        "## Known limitations",
        "- The extracts hold each appointment's latest state: reminder, insurance verification and patient "
        "demographics are taken as known at scoring time although they may have changed after.",
        "- Distance is a proxy from the difference of ZIP codes to the catchment centre, not a road distance.",
        "- Reasons come from occluding one feature group at a time against a typical patient; interacting "
        "features share credit imperfectly. Demographics are never given as reasons.",
        "- Expected benefit uses planning assumptions for how much each action lowers the risk "
        "(reminder call from Shah et al. 2016); replace them with measured outreach outcomes.",
        "- Published models reach AUROC 0.70-0.85 internally but as low as 0.58 on external validation, "
        "with calibration differing by race: re-check subgroups after every retraining.",
    ]
    return "\n".join(lines) + "\n"


def model_card_html(markdown: str) -> str:
    """The card as HTML (CommonMark with tables)."""
    html: str = MarkdownIt("commonmark").enable("table").render(markdown)
    return html


def write_card_files(mv: ModelVersion, settings: Settings) -> None:
    """Write ``data_dir/models/no_show_<version>.md`` and ``.html`` beside the model file."""
    assert mv.model_card is not None  # training writes the card before the files
    folder = settings.data_dir / "models"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"no_show_{mv.version}.md").write_text(mv.model_card, encoding="utf-8")
    (folder / f"no_show_{mv.version}.html").write_text(model_card_html(mv.model_card), encoding="utf-8")
