r"""Exercises of notebook 6, *small batch, large batch*: the line between two minima, and their spectra.

Sagun et al. (2018, Sec. 3.3 and 4) compare a small-batch and a large-batch solution: they have the
same number of outliers (larger ones for the large batch), yet the loss on the line
:math:`\theta(\alpha) = (1-\alpha)\theta_0 + \alpha\theta_1` between them shows no barrier. The
student writes:

- ex06_1: the barrier height :math:`\max_{\alpha\in[0,1]} L(\alpha) - \max(L(0), L(1))`;
- ex06_2: the outlier count by the largest ratio :math:`\lambda_j/\lambda_{j+1}` (Sagun et al. 2018,
  Table 1), ignoring ratios of round-off-sized eigenvalues;
- ex06_3: the negative eigenvalues beyond round-off (:math:`\lambda < -\tau`, :math:`\tau` of ex04_1).
"""

from __future__ import annotations

import numpy as np

from .. import spectrum
from ..landscape import barrier
from .bulk_and_outliers import spectrum_cases, spectrum_with_outliers
from .checking import Case, Close, CloseFields, Exact, Exercise
from .data_vs_parameters import zero_cases


def barrier_height(alphas, losses_on_line):
    r"""Reference for ex06_1: :math:`\max_{\alpha\in[0,1]} L(\alpha) - \max(L(0), L(1))`.

    The ``"height"`` of :func:`hessian_spectra.landscape.barrier` (Sagun et al. 2018, Sec. 3.3).
    """
    return barrier(alphas, losses_on_line)["height"]


def _line_cases(rng) -> list[Case]:
    cases = []
    for kind in ("bump", "convex", "monotone", "shuffled"):
        alphas = np.round(np.linspace(-1.0, 2.0, 31), 10)  # α = 0 and α = 1 exactly among them
        if kind == "bump":
            L = 0.1 + 0.5 * np.exp(-((alphas - 0.5) ** 2) / 0.02) + 0.3 * (alphas - 0.5) ** 2
        elif kind == "convex":
            L = (alphas - 0.4) ** 2 + 0.01
        elif kind == "monotone":
            L = np.exp(-alphas)
        else:
            L = rng.uniform(0, 1, size=alphas.size)
            order = rng.permutation(alphas.size)
            alphas, L = alphas[order], L[order]
        cases.append(Case((alphas, L), f"31 points α ∈ [−1, 2], a {kind} loss curve"))
    return cases


def _negative_cases(rng) -> list[Case]:
    cases = zero_cases(rng)
    w = np.abs(spectrum_with_outliers(rng, 3, 30))
    cases.append(Case((w,), "30 eigenvalues, none negative"))
    return cases


EXERCISES = (
    Exercise(
        id="ex06_1",
        title="the height of the loss barrier on the line between two points (α = 0 and α = 1)",
        solution=barrier_height,
        cases=_line_cases,
        # One subtraction of two input values: exact but for the rounding of that subtraction, so
        # rtol = 1e-12 and atol = 1e-15 of the answer. The maximum over the whole line instead of
        # [0, 1] is an O(1) difference on the bump and monotone curves.
        compare=Close(rtol=1e-12, atol=1e-15),
        hint="find L at α = 0 and α = 1; the height is max of L over the α in [0, 1] minus max(L(0), L(1)) "
        "(≤ 0 when there is no barrier). The alphas may come in any order and extend beyond [0, 1].",
    ),
    Exercise(
        id="ex06_2",
        title="count the outliers above the largest ratio λ_j / λ_{j+1} of consecutive eigenvalues",
        solution=spectrum.outlier_count_ratio,
        cases=spectrum_cases,
        compare=Exact(),  # a count
        hint="sort decreasing; only use the ratios λ_j/λ_{j+1} where λ_{j+1} ≥ 1e-3·λ_1 (others are round-off); "
        "the count is 1 + argmax_j of those ratios (1 if there are none).",
    ),
    Exercise(
        id="ex06_3",
        title="the negative eigenvalues beyond round-off: count, fraction, most negative, sum, ratio to top",
        solution=spectrum.negative_stats,
        cases=_negative_cases,
        # Counts are compared exactly. The floats are a ratio of counts, an input entry, a sum of
        # entries of one sign (relative error ≤ Nε whatever the order) and a ratio of two entries:
        # rtol = 1e-12 holds for any route, atol = 1e-15 of the largest adds nothing beyond that.
        # Counting the round-off zeros as negative changes the count.
        compare=CloseFields(rtol=1e-12, atol=1e-15),
        hint="with τ = P·ε·max|λ| (ex04_1) the negatives are the λ < −τ; return {'count', 'fraction' (of all), "
        "'most_negative' (0.0 if none), 'sum', 'ratio_to_top' (|most negative| / λ_max)}.",
    ),
)

__all__ = ["EXERCISES", "barrier_height"]
