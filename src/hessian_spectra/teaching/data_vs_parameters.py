r"""Exercises of notebook 4, *data move the outliers, parameters grow the bulk*: counting zeros.

Adding parameters grows the bulk of eigenvalues at zero (Sagun et al. 2018, Sec. 3.2), but in
floating point no computed eigenvalue is exactly zero. An eigenvalue counts as zero when
:math:`|\lambda| \le \tau = P\,\varepsilon\,\max_j|\lambda_j|`, the round-off scale of a
backward-stable eigensolver (Golub & Van Loan, Sec. 8.4). The student writes:

- ex04_1: :math:`\tau`; ex04_2: the number of eigenvalues with :math:`|\lambda| \le \tau`;
- ex04_3: the bulk's right edge, the largest eigenvalue once the outliers are removed.
"""

from __future__ import annotations

import numpy as np

from .. import spectrum
from .bulk_and_outliers import spectrum_cases, spectrum_with_outliers
from .checking import Case, Close, Exact, Exercise


def zero_cases(rng) -> list[Case]:
    """Four spectra of 40 to 120 eigenvalues, 0 to 60 of them round-off "zeros" of both signs (up to
    half of τ in magnitude); in one the eigenvalue largest in magnitude is negative."""
    cases = []
    for P, n_zero, n_out, negative_top in [
        (50, 20, 3, False),
        (120, 60, 5, False),
        (40, 10, 2, True),
        (80, 0, 4, False),
    ]:
        w = spectrum_with_outliers(rng, n_out, P - n_zero - n_out)
        if negative_top:
            w[np.argmax(np.abs(w))] *= -1  # the largest |λ| is negative
            w = np.concatenate([w, [-5.0]])
        # τ of the full spectrum, written out so that the inputs do not depend on the code under test
        tau = (w.size + n_zero) * np.finfo(np.float64).eps * np.max(np.abs(w))
        zeros = rng.uniform(-0.5, 0.5, size=n_zero) * tau
        full = rng.permutation(np.concatenate([w, zeros]))
        cases.append(
            Case(
                (full,),
                f"{full.size} eigenvalues, {n_zero} of them at round-off level"
                + (", the largest in magnitude negative" if negative_top else ""),
            )
        )
    return cases


def _bulk_edge_cases(rng) -> list[Case]:
    cases = []
    for case in spectrum_cases(rng)[:5]:
        w = case.args[0]
        k = int(rng.integers(0, 8))
        cases.append(Case((w, k), f"{case.description}; n_outliers = {k}"))
    return cases


EXERCISES = (
    Exercise(
        id="ex04_1",
        title="the round-off scale τ = P ε max_j |λ_j| below which an eigenvalue counts as zero",
        solution=spectrum.zero_tolerance,
        cases=zero_cases,
        # One product of exactly known numbers: routes differ by the order of the product, an ulp or
        # two, so rtol = 1e-12. atol = 0: the answer is a single number and a relative test suffices;
        # a missing absolute value or factor P is an O(1) difference.
        compare=Close(rtol=1e-12, atol=0.0),
        hint="τ = P · ε · max_j |λ_j| with P the number of eigenvalues and ε = np.finfo(np.float64).eps; "
        "mind the absolute value.",
    ),
    Exercise(
        id="ex04_2",
        title="the number of eigenvalues that are zero to round-off, |λ| ≤ τ",
        solution=spectrum.count_zero,
        cases=zero_cases,
        compare=Exact(),  # a count (the zeros of the inputs sit at most τ/2 from 0, the rest far above τ)
        hint="count the λ with |λ| ≤ τ, τ = P · ε · max_j |λ_j| (ex04_1); small negative eigenvalues count too.",
    ),
    Exercise(
        id="ex04_3",
        title="the right edge of the bulk: the largest eigenvalue once the top n_outliers are removed",
        solution=spectrum.bulk_edge,
        cases=_bulk_edge_cases,
        # an input entry, selected, not computed: it must come back exactly
        compare=Close(rtol=0.0, atol=0.0),
        hint="sort in decreasing order and return the entry right after the top n_outliers (index n_outliers).",
    ),
)

__all__ = ["EXERCISES", "zero_cases"]
