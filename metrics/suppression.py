"""Complementary small-cell suppression: no hidden count can be worked back from what is shown.

Primary suppression (:func:`carepulse.metrics.small_cells.suppress_small_cells`) hides a row whose
count, numerator or complement is 1..threshold. On its own it leaks: a table whose rows add up to a
published total gives the one hidden row back by subtraction (the model card's "sex unknown: 9";
a department's provider rating "38 of 41" from the overall figure minus the other departments),
and a shown rate times a shown n gives the numerator.

:func:`suppress_table` adds complementary suppression. The caller names the *margins*: sets of key
columns whose rows add up to a total published elsewhere (rows with equal values in those columns
form one partition; ``()`` means the whole table adds up to one total). For every hidden row it
then bounds n, the numerator k and the complement n − k by linear programming over what is shown
(each partition's total minus its shown rows, 0 ≤ k ≤ n, n ≥ 1 for a listed row) -- exactly what an
attacker can do -- and while one of them is pinned to a single value from 1 to the threshold it
hides one more row: the smallest shown row of a partition that pins it. The statistical-disclosure
literature calls this secondary or complementary cell suppression (e.g. Hundepool et al.,
*Statistical Disclosure Control*, Wiley 2012, ch. 4); CMS's cell-size policy asks for it ("or a
number from which such a count can be derived").

Pure: frames in, frames out. Totals are taken as the sums of the table's own rows (what the
overall figure shows).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy.optimize import linprog

from carepulse.metrics.small_cells import SUPPRESSED_COLUMNS, suppress_small_cells

__all__ = ["suppress_table", "suppress_metric_frame", "metric_margins", "derivable_counts", "RATE_COLUMNS"]

#: Columns that, shown beside a count, give another count back (rate × n, gap + predicted, ...);
#: nulled on a suppressed row together with :data:`SUPPRESSED_COLUMNS`.
RATE_COLUMNS: tuple[str, ...] = (
    "no_shows",
    "observed_rate",
    "mean_predicted",
    "calibration_gap",
    "auroc",
    "brier",
    "ece",
    "predicted_rate",
    "top_box",
    "responses",
)


def _counts(frame: pl.DataFrame, n: str, k: str | None) -> tuple[np.ndarray, np.ndarray | None]:
    ns = frame[n].cast(pl.Float64).fill_null(0).to_numpy()
    ks = frame[k].cast(pl.Float64).to_numpy() if k is not None else None
    return ns, ks


def _partitions(frame: pl.DataFrame, margins: Sequence[Sequence[str]]) -> list[np.ndarray]:
    """Row indices of every partition of every margin (rows that add up to one published total)."""
    index = frame.with_row_index("_row")
    parts: list[np.ndarray] = []
    for margin in margins:
        if not margin:
            parts.append(index["_row"].to_numpy())
            continue
        for group in index.partition_by(list(margin), maintain_order=True):
            parts.append(group["_row"].to_numpy())
    return [p for p in parts if p.size > 1]


def _small_exact(lo: float, hi: float, threshold: int) -> bool:
    return hi - lo < 0.5 and 1 <= round(lo) <= threshold


def derivable_in_disjoint(
    n: np.ndarray, k: np.ndarray | None, hidden: np.ndarray, partitions: list[np.ndarray], threshold: int
) -> list[int]:
    """:func:`derivable_counts` in closed form when no row is in two partitions (one margin).

    With h hidden rows left to share R_n (and R_k of the numerator, C = R_n − R_k of the
    complement), n ≥ 1 and 0 ≤ k ≤ n, each hidden row has n in [1, R_n − h + 1],
    k in [max(0, R_k − R_n + 1), min(R_k, R_n − h + 1)] and n − k likewise with C; with h = 1
    all three are the remainders themselves.
    """
    leaks = []
    for part in partitions:
        inside = [int(r) for r in part if hidden[r]]
        if not inside:
            continue
        shown = [int(r) for r in part if not hidden[r]]
        h = len(inside)
        r_n = float(n[part].sum() - n[shown].sum())
        spans = [(1.0, r_n - h + 1)] if h > 1 else [(r_n, r_n)]
        if k is not None and not np.isnan(k[part]).any():
            r_k = float(k[part].sum() - k[shown].sum())
            for total in (r_k, r_n - r_k):
                spans.append(
                    (max(0.0, total - r_n + 1), min(total, r_n - h + 1)) if h > 1 else (total, total)
                )
        if any(_small_exact(lo, hi, threshold) for lo, hi in spans):
            leaks.extend(inside)
    return leaks


def derivable_counts(
    n: np.ndarray,
    k: np.ndarray | None,
    hidden: np.ndarray,
    partitions: list[np.ndarray],
    threshold: int,
) -> list[int]:
    """Hidden rows whose n, k or n − k an attacker pins to one value in 1..``threshold``.

    ``n``/``k`` are the true counts (used only for the published totals and the shown rows).
    Variables: (n_i, k_i) of each hidden row. Constraints: per partition, the hidden rows' sums equal
    the total minus the shown rows (the k sum only where every row's k is known); 0 ≤ k_i ≤ n_i;
    n_i ≥ 1. Each quantity is minimised and maximised.
    """
    rows = np.flatnonzero(hidden)
    if rows.size == 0:
        return []
    with_k = k is not None
    width = rows.size * (2 if with_k else 1)
    position = {int(r): j for j, r in enumerate(rows)}
    eq_rows, eq_rhs = [], []
    for part in partitions:
        inside = [position[int(r)] for r in part if hidden[r]]
        if not inside:
            continue
        shown = [int(r) for r in part if not hidden[r]]
        a = np.zeros(width)
        a[inside] = 1
        eq_rows.append(a)
        eq_rhs.append(float(n[part].sum() - n[shown].sum()))
        if k is not None and not np.isnan(k[part]).any():  # a row without its k shown: no k total to use
            b = np.zeros(width)
            b[[rows.size + j for j in inside]] = 1
            eq_rows.append(b)
            eq_rhs.append(float(np.nansum(k[part]) - np.nansum(k[shown])))
    ub_rows, ub_rhs = [], []
    if with_k:
        for j in range(rows.size):  # k_j - n_j <= 0
            a = np.zeros(width)
            a[rows.size + j], a[j] = 1, -1
            ub_rows.append(a)
            ub_rhs.append(0.0)
    bounds = [(1, None)] * rows.size + ([(0, None)] * rows.size if with_k else [])
    a_eq = np.array(eq_rows) if eq_rows else None
    b_eq = np.array(eq_rhs) if eq_rhs else None
    a_ub = np.array(ub_rows) if ub_rows else None
    b_ub = np.array(ub_rhs) if ub_rhs else None

    def pinned(c: np.ndarray, true: float) -> bool:
        """Min and max of c·x both at the true value (the bounds always hold it): only a true value in
        1..threshold can be a leak, and the max is solved only when the min is already pinned."""
        if not (np.isfinite(true) and 1 <= true <= threshold):
            return False
        lo = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        if lo.status != 0 or lo.fun < true - 0.5:
            return False  # unbounded (no published total constrains it) or not pinned from below
        hi = linprog(-c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs")
        return hi.status == 0 and _small_exact(float(lo.fun), float(-hi.fun), threshold)

    # A few feasible vertices in random directions prove most quantities free at once (a solution
    # where a quantity differs from its true value); only the rest need their own min and max.
    rng = np.random.default_rng(0)
    samples = []
    for _ in range(6):
        found = linprog(
            rng.normal(size=width), A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=bounds, method="highs"
        )
        if found.status == 0:
            samples.append(found.x)
    sampled = np.array(samples) if samples else np.empty((0, width))

    def free(c: np.ndarray, true: float) -> bool:
        return bool(sampled.size) and bool((np.abs(sampled @ c - true) > 0.5).any())

    eye = np.eye(width)
    leaks = []
    for j, r in enumerate(rows):
        checks = [(eye[j], float(n[r]))]
        if k is not None:
            checks += [(eye[rows.size + j], float(k[r])), (eye[j] - eye[rows.size + j], float(n[r] - k[r]))]
        if any(not free(c, true) and pinned(c, true) for c, true in checks):
            leaks.append(int(r))
    return leaks


def _complete(
    ns: np.ndarray, ks: np.ndarray | None, hidden: np.ndarray, partitions: list[np.ndarray], threshold: int
) -> np.ndarray:
    """Hide further rows until no hidden count is derivable: for each leaking row, the smallest shown
    row of a partition that holds it (one per leak and round, then check again)."""
    hidden = hidden.copy()
    covered = np.concatenate(partitions) if partitions else np.array([], dtype=np.int64)
    disjoint = covered.size == np.unique(covered).size

    def audit(hidden_now: np.ndarray) -> list[int]:
        # each partition alone in closed form first (a leak there is a leak whatever else is known);
        # the linear programme only when partitions overlap (several margins) and none leaks alone
        found = derivable_in_disjoint(ns, ks, hidden_now, partitions, threshold)
        if found or disjoint:
            return found
        return derivable_counts(ns, ks, hidden_now, partitions, threshold)

    while leaks := audit(hidden):
        served: set[int] = set()  # partitions that got a new hidden row this round
        for leak in leaks:
            holding = [i for i, part in enumerate(partitions) if leak in part]
            if served & set(holding):
                continue  # the row added for an earlier leak of the same partition may cover this one
            candidates = [(int(r), i) for i in holding for r in partitions[i] if not hidden[r] and ns[r] > 0]
            if candidates:
                row, part = min(candidates, key=lambda c: (ns[c[0]], c[0]))
                hidden[row] = True
                served.add(part)
        if not served:
            break  # every row of its partitions is hidden already
    return hidden


def suppress_table(
    frame: pl.DataFrame,
    *,
    threshold: int = 10,
    margins: Sequence[Sequence[str]] = ((),),
    n: str = "n",
    numerator: str | None = "numerator",
    hide: Sequence[str] = (),
    labels: Sequence[str] = (),
    also_hidden: Sequence[bool] | np.ndarray | None = None,
) -> pl.DataFrame:
    """Primary then complementary suppression of a table whose rows add up to published totals.

    Parameters
    ----------
    frame : pl.DataFrame
        One row per cell, with the count column ``n`` and (optionally) the numerator count.
    threshold : int, default 10
        Counts 1..threshold are never shown nor derivable (CMS cell-size policy).
    margins : sequence of column tuples, default ``((),)``
        Each tuple names the key columns within which rows add up to a published total: ``()`` the
        whole table (e.g. departments adding up to the overall figure), ``("subgroup",)`` each
        subgroup's values adding up to the overall n (the model card), ``("period",)`` and
        ``("department",)`` both for a department-by-week table.
    n, numerator : str
        The count and numerator columns (``numerator`` None for counts without one).
    hide : sequence of str
        Further columns to null on a suppressed row (anything that, shown, gives a count back).
    labels : sequence of str
        Columns that name the row and are never nulled (the key columns of ``margins`` never are).
    also_hidden : sequence of bool, optional
        Rows to hide from the start besides the small cells (complementary rows chosen by a caller).

    Returns
    -------
    pl.DataFrame
        The frame with ``suppressed`` (True on every hidden row, primary or complementary) and the
        counts, rates and statistics of hidden rows nulled.
    """
    if n not in frame.columns:
        raise ValueError(f"suppress_table needs the count column {n!r}; columns: {', '.join(frame.columns)}")
    k_col = numerator if numerator is not None and numerator in frame.columns else None
    probe = frame.select(
        pl.col(n).alias("n"), *([pl.col(k_col).cast(pl.Float64).alias("numerator")] if k_col else [])
    )
    primary = suppress_small_cells(probe, threshold)["suppressed"].to_numpy().astype(bool)
    if {"numerator", "denominator"} & set(frame.columns):  # the catalogue's own primary rule too
        primary |= suppress_small_cells(frame, threshold)["suppressed"].to_numpy().astype(bool)
    hidden = primary.copy()
    if also_hidden is not None:  # rows a caller hides for a reason outside this table (a parent's total)
        hidden |= np.asarray(also_hidden, dtype=bool)
    # Partitions never cross the columns every margin shares (e.g. "metric"): solve each block alone.
    shared = set.intersection(*(set(m) for m in margins)) if margins else set()
    blocks = (
        frame.with_row_index("_row").partition_by(sorted(shared), maintain_order=True)
        if shared
        else [frame.with_row_index("_row")]
    )
    for block in blocks:
        rows = block["_row"].to_numpy()
        ns, ks = _counts(block, n, k_col)
        local = _partitions(block.drop("_row"), margins)
        hidden[rows] = _complete(ns, ks, hidden[rows], local, threshold)
    flag = pl.Series("suppressed", hidden.tolist(), dtype=pl.Boolean)
    out = frame.with_columns(flag)
    kept = {*labels, *(c for margin in margins for c in margin)}
    nulled = {*SUPPRESSED_COLUMNS, *RATE_COLUMNS, n, *([k_col] if k_col else []), *hide} - kept
    return out.with_columns(
        pl.when(pl.col("suppressed")).then(None).otherwise(pl.col(c)).cast(out.schema[c]).alias(c)
        for c in nulled
        if c in frame.columns
    )


def metric_margins(frame: pl.DataFrame) -> list[tuple[str, ...]]:
    """The margins of a :func:`carepulse.metrics.compute` / ``compute_catalogue`` frame.

    Its key columns are those that are not values (nor floats). Rows never add up across metrics, so ``metric``
    is in every margin; each other key is summed over in turn: departments add up to the overall
    figure, weeks to the window's total, and a department-by-week table has both margins. A frame
    with one row per metric has none.
    """
    from carepulse.metrics._compute import CATALOGUE_VALUE_COLUMNS

    # keys: labels and periods (text, dates, integer ids); a float column is a value, never a key
    keys = [
        c
        for c in frame.columns
        if c not in CATALOGUE_VALUE_COLUMNS and c != "suppressed" and not frame.schema[c].is_float()
    ]
    fixed = [c for c in keys if c == "metric"]
    free = [c for c in keys if c not in fixed]
    return [tuple(fixed + [c for c in free if c != summed]) for summed in free]


def suppress_metric_frame(
    frame: pl.DataFrame, threshold: int = 10, *, parents: pl.DataFrame | None = None
) -> pl.DataFrame:
    """:func:`suppress_table` on a metric frame, with :func:`metric_margins`: what every
    manager-visible table, chart and export of the catalogue goes through.

    ``parents`` (two columns: a key column of ``frame`` and the unit it nests in, e.g. the
    departments extract's ``department_id``/``site`` renamed to ``department``/``site``) is for a
    table shown beside the coarser one: a department table next to the by-site table. Each site's
    departments then add up to a published total too, so a hidden department with one shown
    sibling (and a partner in another site) would come back as the site minus the sibling; the
    parent becomes one more margin and the partner is taken from the same site.
    """
    if "n" not in frame.columns:
        return suppress_small_cells(frame, threshold)
    numerator = "numerator_n" if "numerator_n" in frame.columns else "numerator"
    margins = metric_margins(frame)
    if parents is not None:
        child, parent = parents.columns
        if child not in frame.columns or parent in frame.columns:
            raise ValueError(
                f"parents must map a key column of the frame to a new one; got {child!r} -> {parent!r}"
            )
        # a margin that sums over the child, kept within each parent: the parent's row is published
        margins += [(*m, parent) for m in margins if child not in m]
        linked = frame.join(parents.unique(child), on=child, how="left", maintain_order="left")
        forced = np.zeros(linked.height, dtype=bool)
        while True:
            out = suppress_table(
                linked, threshold=threshold, margins=margins, n="n", numerator=numerator, also_hidden=forced
            )
            fixed = sorted({c for m in margins for c in m} - {child, parent})
            extra = _hidden_parents(linked, out["suppressed"].to_numpy(), fixed, parent, numerator, threshold)
            if not extra or forced[extra].all():
                return out.drop(parent)
            forced[extra] = True
    return suppress_table(frame, threshold=threshold, margins=margins, n="n", numerator=numerator)


def _hidden_parents(
    frame: pl.DataFrame, hidden: np.ndarray, keys: list[str], parent: str, numerator: str, threshold: int
) -> list[int]:
    """Rows to hide so that no parent is the table's total minus its shown rows.

    A parent (a site) whose every child row is hidden has its count hidden where its own table is
    shown; if every other row of the table (one metric and the same other keys) is shown, the overall
    figure minus them gives the parent back. For each such parent with n, numerator or complement in
    1..threshold: the smallest shown row outside it. ``keys``: the columns that split the table into
    independent blocks (``metric``, a period). Only this one-step case is handled: a parent pinned
    through several margins at once is not searched for.
    """
    indexed = frame.with_row_index("_row").with_columns(_hidden=pl.Series(hidden.tolist()))
    extra: list[int] = []
    for block in indexed.partition_by(keys, maintain_order=True) if keys else [indexed]:
        for group in block.partition_by(parent, maintain_order=True):
            if not group["_hidden"].all():
                continue
            n = float(group["n"].cast(pl.Float64).sum())
            k = float(group[numerator].cast(pl.Float64).sum()) if numerator in group.columns else float("nan")
            if not any(1 <= v <= threshold for v in (n, k, n - k)):
                continue
            others = block.filter(
                (pl.col(parent) != group[parent][0]) & ~pl.col("_hidden") & (pl.col("n") > 0)
            )
            if others.height and block.filter(pl.col(parent) != group[parent][0])["_hidden"].sum() == 0:
                extra.append(int(others.sort("n", "_row")["_row"][0]))
    return extra
