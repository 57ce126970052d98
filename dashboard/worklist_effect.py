"""The worklist's afterword: did the patients coordinators reached show up more than those nobody worked?

Thin: :mod:`carepulse.records.outreach` reads, :mod:`carepulse.metrics.outreach_effect` compares.
"""

from __future__ import annotations

import polars as pl
import streamlit as st

from carepulse.dashboard import data, ui
from carepulse.metrics.outreach_effect import CAVEAT, outreach_effect
from carepulse.records import outreach


@st.cache_data(show_spinner="Comparing contacted and uncontacted visits...", max_entries=16)
def _effect(url: str, load_run_id: int, score_run_id: int, depts: tuple[str, ...]):
    """Keyed on the load run, not on the outcomes: a comparison only changes when a load brings the
    attendance of visits (outcomes recorded since then concern visits whose attendance is unknown)."""
    frames = outreach.effect_frames(data.engine(), depts)
    return outreach_effect(
        frames["risk_scores"], frames["appointments"], frames["outcomes"], departments=list(depts)
    )


def outreach_effect_section(load_run_id: int, score_run_id: int, departments: tuple[str, ...]) -> None:
    """Draw the contacted-versus-not comparison for the user's departments."""
    st.divider()
    st.subheader("Afterwards: did contacted patients show up more?")
    with ui.friendly_errors("compare contacted and uncontacted patients"):
        effect = _effect(data.warehouse_url(), load_run_id, score_run_id, departments)
        if effect.empty:
            st.info(
                "No scored appointment in your departments has happened yet with its attendance loaded: the "
                "comparison appears once worked visits are in a later load."
            )
        else:
            table = effect.table().with_columns(
                (pl.col(c) * 100).round(1)
                for c in ("contacted_rate", "uncontacted_rate", "difference", "ci_low", "ci_high")
            )
            st.dataframe(
                table,
                hide_index=True,
                key="wl_effect",
                column_config={
                    "stratum": "Predicted risk",
                    "contacted_n": "Reached (visits)",
                    "contacted_no_shows": "Reached: no-shows",
                    "contacted_rate": st.column_config.NumberColumn("Reached: no-show %", format="%.1f%%"),
                    "uncontacted_n": "Not worked (visits)",
                    "uncontacted_no_shows": "Not worked: no-shows",
                    "uncontacted_rate": st.column_config.NumberColumn(
                        "Not worked: no-show %", format="%.1f%%"
                    ),
                    "difference": st.column_config.NumberColumn("Difference (points)", format="%+.1f"),
                    "ci_low": st.column_config.NumberColumn("95% CI low", format="%+.1f"),
                    "ci_high": st.column_config.NumberColumn("95% CI high", format="%+.1f"),
                },
            )
            left_out = ", ".join(f"{reason}: {n}" for reason, n in effect.excluded.items() if n)
            st.caption(
                "No-show % = visits recorded as no-show / scored visits whose attendance is known, among visits whose "
                "patient was reached before the visit (reached, confirmed, rescheduled, transport arranged, telehealth "
                "offered) and visits nobody worked, within the same predicted-risk band. Difference = reached minus "
                "not worked (negative: fewer no-shows). Overall: Mantel-Haenszel weighted difference. "
                + (f"Left out: {left_out}. " if left_out else "")
                + CAVEAT
            )
