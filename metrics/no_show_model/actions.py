"""From reasons to a suggested outreach action and its expected benefit (risk x actionability).

The action follows the strongest reason that points at a specific barrier (transport, interpreter,
insurance, a visit that could be remote); otherwise a reminder call. Actionability is the share of
the no-show risk the action is expected to remove. The reminder-call figure comes from Shah et al.
(2016): outreach to high-risk patients cut no-shows from 29.2% to 22.8%, a 22% relative reduction;
the others are planning assumptions (documented in docs/model.md) until outreach_outcomes measure
them. Expected benefit = risk x actionability = no-shows averted per call, which orders the worklist.
"""

from __future__ import annotations

import polars as pl

REMINDER_CALL = "reminder call"
ARRANGE_TRANSPORT = "arrange transport"
OFFER_TELEHEALTH = "offer telehealth"
VERIFY_INSURANCE = "verify insurance"
BOOK_INTERPRETER = "book an interpreter"

#: Share of the risk each action is expected to remove (see module docstring for sources).
ACTIONABILITY: dict[str, float] = {
    REMINDER_CALL: 0.22,
    ARRANGE_TRANSPORT: 0.30,
    OFFER_TELEHEALTH: 0.35,
    VERIFY_INSURANCE: 0.15,
    BOOK_INTERPRETER: 0.25,
}

#: Visit types that can usually be held remotely.
_REMOTE_FRIENDLY = ("follow_up", "annual")


def _action_for(group: pl.Expr) -> pl.Expr:
    """The specific action a reason group points to (null: nothing specific)."""
    remote_ok = (pl.col("modality") == "in_person") & pl.col("visit_type").is_in(_REMOTE_FRIENDLY)
    return (
        pl.when(group == "transport")
        .then(pl.when(remote_ok).then(pl.lit(OFFER_TELEHEALTH)).otherwise(pl.lit(ARRANGE_TRANSPORT)))
        .when(group == "distance")
        .then(pl.when(remote_ok).then(pl.lit(OFFER_TELEHEALTH)).otherwise(pl.lit(ARRANGE_TRANSPORT)))
        .when(group == "modality")
        .then(pl.when(remote_ok).then(pl.lit(OFFER_TELEHEALTH)))
        .when(group == "interpreter")
        .then(pl.lit(BOOK_INTERPRETER))
        .when(group.is_in(["insurance", "prior_auth"]))
        .then(pl.lit(VERIFY_INSURANCE))
    )


def suggested_actions(frame: pl.DataFrame) -> pl.DataFrame:
    """``suggested_action`` and ``expected_benefit`` for rows with ``risk``, ``reason_group_1..3``,
    ``modality`` and ``visit_type``."""
    action = pl.coalesce(
        _action_for(pl.col("reason_group_1")),
        _action_for(pl.col("reason_group_2")),
        _action_for(pl.col("reason_group_3")),
        pl.lit(REMINDER_CALL),
    )
    return frame.select(action.alias("suggested_action"), "risk").select(
        "suggested_action",
        (
            pl.col("risk") * pl.col("suggested_action").replace_strict(ACTIONABILITY, return_dtype=pl.Float64)
        ).alias("expected_benefit"),
    )
