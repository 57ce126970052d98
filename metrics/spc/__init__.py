"""Statistical process control for CarePulse metrics: run, P, U, Laney P' and U', I (XmR) and MR charts.

``spc(frame, ...)`` computes a chart once (points with centre, limits and rule flags, plus a per-phase
summary with Anhøj, IHI and NHS Making Data Count results); drawing is done elsewhere from the result.
See docs/spc.md for the formulas, rules and their sources.
"""

from ._auto import CHARTS, KINDS, choose_chart
from ._dispersion import dispersion
from ._engine import POINT_RULES, SPCInputError, SPCResult, spc
from ._limits import (
    D4,
    E2,
    E2_QICHARTS2,
    Limits,
    i_limits,
    laney_sigma_z,
    mr_limits,
    p_limits,
    pp_limits,
    run_limits,
    u_limits,
    up_limits,
)
from ._nhs import nhs_assurance, nhs_point_types, nhs_variation
from ._phases import incomplete_periods
from ._rules import (
    anhoej_limits,
    ihi_runs_limits,
    outside_limits,
    points_in_long_runs,
    points_in_trends,
    run_lengths,
    two_of_three_beyond,
)

__all__ = [
    "spc",
    "SPCResult",
    "SPCInputError",
    "POINT_RULES",
    "CHARTS",
    "KINDS",
    "choose_chart",
    "E2",
    "E2_QICHARTS2",
    "D4",
    "dispersion",
    "laney_sigma_z",
    "pp_limits",
    "up_limits",
    "incomplete_periods",
    "Limits",
    "run_limits",
    "p_limits",
    "u_limits",
    "i_limits",
    "mr_limits",
    "anhoej_limits",
    "ihi_runs_limits",
    "run_lengths",
    "points_in_long_runs",
    "points_in_trends",
    "outside_limits",
    "two_of_three_beyond",
    "nhs_point_types",
    "nhs_variation",
    "nhs_assurance",
]
