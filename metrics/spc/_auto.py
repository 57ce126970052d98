"""Chart type chosen from the metric's kind (overridable by passing ``chart=``)."""

from __future__ import annotations

__all__ = ["choose_chart", "CHARTS", "KINDS"]

CHARTS = ("run", "p", "u", "pp", "up", "i", "mr")
KINDS = ("rate", "count", "time", "score")


def choose_chart(kind: str | None, *, has_denominator: bool) -> str:
    """P chart for rates (numerator over denominator), U chart for counts per exposure, XmR (I) chart
    for times and scores (a weekly or monthly median or mean per point) and anything without a
    denominator.

    Provost & Murray (2011) ch. 6 chart-selection flowchart; NHS Making Data Count uses XmR for all.
    A rate or count without a denominator cannot carry binomial/Poisson limits, so it falls back to
    the I chart, which estimates the spread from the data. :func:`spc` then swaps P for P' and U
    for U' when the plain chart is overdispersed (see ``_dispersion``).
    """
    if kind is not None and kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "rate" and has_denominator:
        return "p"
    if kind == "count" and has_denominator:
        return "u"
    return "i"
