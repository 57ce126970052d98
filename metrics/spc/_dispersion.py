"""Is a P or U chart overdispersed? The test that offers Laney's P' and U' charts instead.

With thousands of cases per period, real between-period variation dwarfs the binomial (Poisson)
sigma and plain limits flag noise. Two measures of the same thing, both on the z-scores
z_i = (y_i/n_i − p̄)/σ_i of the plain chart:

- ``dispersion_ratio`` φ = Σ z_i² / k, Spiegelhalter's overdispersion factor ("Funnel plots for
  comparing institutional performance", Stat Med 2005;24:1185-1202, section 4): 1 when the
  binomial (Poisson) model holds; k·φ follows χ² with k − 1 degrees of freedom (the centre is
  estimated) when it does.
- ``sigma_z``, Laney's factor (2002): the I-chart sigma of the z-scores, MR̄(z)/1.128.

The chart is overdispersed when k·φ exceeds the 99th percentile of χ²(k − 1) AND sigma_z > 1
(the P' limits would be wider, not narrower, than the plain ones). The 99th rather than the 95th
percentile because real special causes inflate φ too: a textbook process with two assignable
causes and 30 samples should not lose its limits to Laney's widening on a marginal test (the NIST
wafer example, k·φ = 37.9 against 36.4 at 95% and 43.0 at 99%, stays a plain chart). Special
causes that large still make φ significant (Montgomery's orange juice: k·φ = 85 against 49.6),
which is why the plain chart stays one ``chart=`` away and its summary keeps the figures.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ._limits import laney_sigma_z

__all__ = ["dispersion", "OVERDISPERSION_LEVEL", "PRIME_CHART"]

OVERDISPERSION_LEVEL = 0.99
PRIME_CHART = {"p": "pp", "u": "up"}


def dispersion(
    num: np.ndarray, den: np.ndarray, base: np.ndarray, *, binomial: bool, screen_mr: bool = True
) -> dict[str, float | bool | None]:
    """``sigma_z``, ``dispersion_ratio`` and ``overdispersed`` of a P (``binomial``) or U chart's baseline."""
    _cl, sigma_z, z = laney_sigma_z(num, den, base, binomial=binomial, screen_mr=screen_mr)
    scores = z[base & np.isfinite(z)]
    k = scores.size
    if k < 2 or not np.isfinite(sigma_z):
        return {"sigma_z": None, "dispersion_ratio": None, "overdispersed": None}
    chi2 = float(np.sum(scores**2))
    critical = float(stats.chi2.ppf(OVERDISPERSION_LEVEL, k - 1))
    return {
        "sigma_z": float(sigma_z),
        "dispersion_ratio": chi2 / k,
        "overdispersed": bool(chi2 > critical and sigma_z > 1),
    }
