"""An attacker's view of a published table: bound every hidden count from what is shown.

Written apart from ``carepulse.metrics.suppression`` on purpose: it reads only the published table
(shown counts, shown rates, the published totals) and solves the linear constraints an attacker
has with ``scipy.optimize.linprog``, minimising and maximising each hidden n, numerator k and
complement n − k.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linprog


@dataclass
class Partition:
    """Rows that add up to a published total (``k_total`` None when no numerator total is shown)."""

    n_total: float
    k_total: float | None
    shown_n: list[float] = field(default_factory=list)
    shown_k: list[float] = field(default_factory=list)
    hidden: list[str] = field(default_factory=list)  # names of the hidden rows in it
    known_n: dict[str, float] = field(default_factory=dict)  # hidden rows whose n alone is shown
    # hidden cells of another table that this partition adds up to (a margin that is itself hidden):
    # sum(hidden) - sum(minus) = total - sum(shown); a shown margin goes in n_total/k_total instead
    minus: list[str] = field(default_factory=list)


def exact_small_values(partitions: list[Partition], threshold: int = 10) -> list[tuple[str, str, float]]:
    """(row, quantity, value) for every hidden quantity pinned to one value in 1..threshold."""
    names = sorted({h for p in partitions for h in (*p.hidden, *p.minus)})
    if not names:
        return []
    idx = {name: i for i, name in enumerate(names)}
    m = len(names)
    width = 2 * m  # n_0..n_m-1, k_0..k_m-1
    a_eq, b_eq = [], []
    for part in partitions:
        if not part.hidden and not part.minus:
            continue
        row = np.zeros(width)
        row[[idx[h] for h in part.hidden]] = 1
        row[[idx[h] for h in part.minus]] = -1
        a_eq.append(row)
        b_eq.append(part.n_total - sum(part.shown_n))
        if part.k_total is not None:
            row = np.zeros(width)
            row[[m + idx[h] for h in part.hidden]] = 1
            row[[m + idx[h] for h in part.minus]] = -1
            a_eq.append(row)
            b_eq.append(part.k_total - sum(part.shown_k))
    for part in partitions:
        for name, n in part.known_n.items():
            row = np.zeros(width)
            row[idx[name]] = 1
            a_eq.append(row)
            b_eq.append(n)
    a_ub = np.zeros((m, width))
    for i in range(m):
        a_ub[i, m + i], a_ub[i, i] = 1, -1  # k <= n
    bounds = [(1, None)] * m + [(0, None)] * m
    found = []
    for name, i in idx.items():
        quantities = {
            "n": np.eye(width)[i],
            "k": np.eye(width)[m + i],
            "n-k": np.eye(width)[i] - np.eye(width)[m + i],
        }
        for label, c in quantities.items():
            lo = linprog(
                c, A_ub=a_ub, b_ub=np.zeros(m), A_eq=np.array(a_eq), b_eq=np.array(b_eq), bounds=bounds
            )
            hi = linprog(
                -c, A_ub=a_ub, b_ub=np.zeros(m), A_eq=np.array(a_eq), b_eq=np.array(b_eq), bounds=bounds
            )
            assert lo.status in (0, 3) and hi.status in (0, 3), (lo.message, hi.message)
            if (
                lo.status == 0
                and hi.status == 0
                and -hi.fun - lo.fun < 0.5
                and 1 <= round(lo.fun) <= threshold
            ):
                found.append((name, label, round(lo.fun)))
    return found
