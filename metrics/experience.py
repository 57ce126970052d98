"""Patient experience (CG-CAHPS conventions): top-box and linear-mean scores, respondents, response rate.

Top-box is the most positive answer (Always, 9-10, Definitely yes). The linear mean maps an item's
answers evenly onto 0-100 (Never 0, Sometimes 33.3, Usually 66.7, Always 100; a 0-10 rating x 10).
Composites are scored as AHRQ scores them: the composite is the mean of its item scores (each
item's top-box proportion, or each item's linear mean), so every item weighs the same whatever
number of respondents answered it ("Instructions for Analyzing Data from CAHPS Surveys", AHRQ:
"the composite score is the average of the scores for the items in the composite"). The counts
shown beside a composite (numerator, denominator, n) are the pooled answers, for traceability.
Case-mix adjustment (CAHPS adjusts for age, education and self-rated health before comparing
practices) is out of scope: the extracts carry no education or self-rated health, so CarePulse
composites are unadjusted and comparisons between departments carry that caveat. Surveys are dated
by the visit they are about.
"""

from __future__ import annotations

import polars as pl

from carepulse.metrics._context import MetricContext
from carepulse.metrics._registry import metric

_CAHPS = (
    "AHRQ CAHPS Clinician & Group Survey 4.0 and 'Instructions for analyzing CAHPS data' (top-box and "
    "linear mean scoring); HCAHPS national top-box results (CMS)"
)

FREQUENCY_SCORE = {"never": 0.0, "sometimes": 100 / 3, "usually": 200 / 3, "always": 100.0}
RECOMMEND_SCORE = {
    "definitely_no": 0.0,
    "probably_no": 100 / 3,
    "probably_yes": 200 / 3,
    "definitely_yes": 100.0,
}

#: item -> (question, answer scale mapping or None for the 0-10 rating, top-box test)
ITEMS: dict[str, tuple[str, dict[str, float] | None]] = {
    "provider_rating": ("Rating of the provider, 0-10 (top box 9-10)", None),
    "recommend": ("Would recommend the provider's office (top box: definitely yes)", RECOMMEND_SCORE),
    "access_timely": ("Got an appointment as soon as needed (top box: always)", FREQUENCY_SCORE),
    "provider_explained": (
        "Provider explained things in a way easy to understand (top box: always)",
        FREQUENCY_SCORE,
    ),
    "provider_listened": ("Provider listened carefully (top box: always)", FREQUENCY_SCORE),
    "staff_helpful": ("Clerks and receptionists were helpful (top box: always)", FREQUENCY_SCORE),
    "staff_respectful": (
        "Clerks and receptionists were courteous and respectful (top box: always)",
        FREQUENCY_SCORE,
    ),
}
COMPOSITES: dict[str, tuple[str, tuple[str, ...]]] = {
    "provider_communication": ("How well providers communicate", ("provider_explained", "provider_listened")),
    "office_staff": ("Helpful, courteous and respectful office staff", ("staff_helpful", "staff_respectful")),
}


def _surveys(ctx: MetricContext) -> pl.LazyFrame:
    return ctx.frame("surveys")


def item_score(item: str) -> pl.Expr:
    """Linear 0-100 score of one item's answer (null when unanswered)."""
    scale = ITEMS[item][1]
    if scale is None:
        return pl.col(item).cast(pl.Float64) * 10.0
    return pl.col(item).replace_strict(scale, default=None, return_dtype=pl.Float64)


def item_top_box(item: str) -> pl.Expr:
    """1 for the most positive answer, 0 otherwise, null when unanswered."""
    if ITEMS[item][1] is None:
        top = pl.col(item) >= 9
    else:
        top = item_score(item) == 100.0
    return pl.when(pl.col(item).is_null()).then(None).otherwise(top.cast(pl.Int64))


def _answers(ctx: MetricContext, items: tuple[str, ...]) -> pl.LazyFrame:
    """One row per answered item per respondent, with ``_top`` and ``_score``."""
    surveys = _surveys(ctx)
    parts = [
        surveys.with_columns(
            item_top_box(i).alias("_top"), item_score(i).alias("_score"), pl.lit(i).alias("_item")
        ).filter(pl.col("_score").is_not_null())
        for i in items
    ]
    return pl.concat(parts, how="vertical") if len(parts) > 1 else parts[0]


def _register_scores(name: str, label: str, items: tuple[str, ...], question: str) -> None:
    common = dict(
        family="experience",
        frame="surveys",
        date_basis="visit date",
        standard="CG-CAHPS top-box and linear mean scoring",
        source=_CAHPS,
        better="higher",
    )

    def top_box(ctx: MetricContext) -> pl.LazyFrame:
        return _answers(ctx, items).with_columns(
            pl.col("_top").alias("_num"), pl.lit(1, pl.Int64).alias("_den")
        )

    def linear_mean(ctx: MetricContext) -> pl.LazyFrame:
        return _answers(ctx, items).with_columns(pl.col("_score").alias("_x"))

    answers = "answers to " + ", ".join(items) if len(items) > 1 else f"answers to {items[0]}"
    composite = len(items) > 1
    how = (
        " The composite is the mean of its items' top-box shares (AHRQ), not the pooled answers."
        if composite
        else ""
    )
    how_mean = " The composite is the mean of its items' means (AHRQ)." if composite else ""
    metric(
        name=f"{name}_top_box",
        title=f"{label}: top-box",
        short_name=f"{label} top-box %",
        kind="rate",
        unit="share",
        numerator=f"Most positive {answers}",
        denominator=f"All {answers}",
        definition=f"{question}. Share of answers in the top box.{how}",
        composite=composite,
        exclusions="Unanswered items; surveys of visits unknown to the appointments extract keep null dimensions.",
        spc_chart="p",
        **common,
    )(top_box)
    metric(
        name=f"{name}_linear_mean",
        title=f"{label}: linear mean",
        short_name=f"{label} mean (0-100)",
        kind="score",
        unit="points (0-100)",
        statistic="mean",
        numerator=f"Sum of the 0-100 scores of {answers}",
        denominator=f"Number of {answers}",
        definition=f"{question}. Mean score on the 0-100 linear scale.{how_mean}",
        composite=composite,
        exclusions="Unanswered items.",
        spc_chart="i",
        **common,
    )(linear_mean)


for _item, (_question, _scale) in ITEMS.items():
    _register_scores(_item, _item.replace("_", " ").capitalize(), (_item,), _question)
for _name, (_label, _items) in COMPOSITES.items():
    _register_scores(_name, f"{_label} (composite)", _items, f"Composite of {', '.join(_items)}")


@metric(
    name="survey_respondents",
    title="Survey respondents",
    short_name="Respondents (n)",
    family="experience",
    kind="count",
    unit="surveys",
    numerator="Surveys returned",
    denominator="(none: a count)",
    definition="Number of returned surveys (CAHPS reporting needs enough of them: HCAHPS star ratings need 100).",
    exclusions="None.",
    better="higher",
    standard="CAHPS reporting: respondents n",
    source=_CAHPS,
    spc_chart="run",
    frame="surveys",
    date_basis="visit date",
)
def survey_respondents(ctx: MetricContext) -> pl.LazyFrame:
    return _surveys(ctx)


@metric(
    name="survey_response_rate",
    title="Survey response rate",
    short_name="Visits with a survey / completed visits",
    family="experience",
    kind="rate",
    unit="share",
    numerator="Completed visits with at least one returned survey",
    denominator="Completed visits",
    definition="Share of completed visits whose patient returned a survey (every completed visit is treated "
    "as sampled, the extracts carry no sampling frame).",
    exclusions="Visits not completed.",
    better="higher",
    standard="CAHPS response rate (completed surveys / eligible sampled patients)",
    source=_CAHPS,
    spc_chart="p",
    frame="appointments",
    extra_frames=("surveys",),
    date_basis="visit date",
)
def survey_response_rate(ctx: MetricContext) -> pl.LazyFrame:
    # prepare marks the appointments that have a survey (``surveyed``) when surveys are loaded.
    return (
        ctx.frame("appointments")
        .filter(pl.col("status") == "completed")
        .with_columns(pl.col("surveyed").cast(pl.Int64).alias("_num"), pl.lit(1, pl.Int64).alias("_den"))
    )
