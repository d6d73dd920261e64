r"""Exercises of notebook 1, *the bulk and the outliers*: count the parameters, then the outliers.

The Hessian of a trained network has a bulk of eigenvalues near zero and a few outliers (Sagun et
al. 2016, 2018); Sagun et al. (2018, Table 1) count the outliers three ways, two of which the
student writes here (the third, the largest ratio, is exercise 6.2):

- ex01_1: :math:`P = \sum_l (n_{l-1} + 1)\, n_l`, the number of weights and biases;
- ex01_2: the number of eigenvalues above the largest gap :math:`\lambda_j - \lambda_{j+1}`;
- ex01_3: the eigenvalue at the elbow of the ordered spectrum.

The test spectra (:func:`spectrum_with_outliers`) are synthetic: a bulk of width 1e-3 around zero
and a few outliers between 0.02 and 0.1, in random order.
"""

from __future__ import annotations

import numpy as np

from .. import n_params, spectrum
from .checking import Case, Close, Exact, Exercise


def spectrum_with_outliers(rng, n_outliers: int, n_bulk: int, dominant: bool = False) -> np.ndarray:
    """A synthetic spectrum in random order: ``n_bulk`` values drawn from N(0, 1e-3²) and
    ``n_outliers`` from U(0.02, 0.1) (with ``dominant``, the first outlier 20 times larger)."""
    bulk = rng.normal(0.0, 1e-3, size=n_bulk)
    out = rng.uniform(0.02, 0.1, size=n_outliers)
    if dominant and n_outliers:
        out[0] *= 20
    return rng.permutation(np.concatenate([bulk, out]))


def spectrum_cases(rng, minimum: int = 2) -> list[Case]:
    """Six spectra of 21 to 145 eigenvalues with 1 to 7 outliers (one dominant), the last one sorted
    ascending as ``eigh`` returns it; every bulk has at least ``minimum`` values."""
    cases = []
    for n_out, n_bulk, dominant in [
        (3, 40, False),
        (1, 20, False),
        (7, 120, False),
        (4, 60, True),
        (5, 140, False),
    ]:
        w = spectrum_with_outliers(rng, n_out, max(n_bulk, minimum), dominant)
        cases.append(Case((w,), f"{w.size} eigenvalues in random order, {n_out} outliers"))
    w = np.sort(spectrum_with_outliers(rng, 2, 30))
    cases.append(Case((w,), f"{w.size} eigenvalues in ascending order (as eigh returns them)"))
    return cases


def _layer_size_cases(rng) -> list[Case]:
    cases = [Case(((3, 2),), "layer sizes (3, 2)"), Case(((784, 10),), "layer sizes (784, 10)")]
    for _ in range(5):
        sizes = tuple(int(n) for n in rng.integers(1, 41, size=int(rng.integers(2, 6))))
        cases.append(Case((sizes,), f"layer sizes {sizes}"))
    cases.append(Case(([16, 20, 20, 5],), "layer sizes as a list [16, 20, 20, 5]"))
    return cases


def _elbow_cases(rng) -> list[Case]:
    return spectrum_cases(rng, minimum=3)


EXERCISES = (
    Exercise(
        id="ex01_1",
        title="the number of parameters P of an MLP with widths (n_0, ..., n_L)",
        solution=n_params,
        cases=_layer_size_cases,
        compare=Exact(),  # a count
        hint="every layer l has a weight matrix W_l of shape (n_{l-1}, n_l) and a bias b_l of length n_l.",
    ),
    Exercise(
        id="ex01_2",
        title="count the outliers above the largest gap between consecutive eigenvalues",
        solution=spectrum.outlier_count_gap,
        cases=spectrum_cases,
        compare=Exact(),  # a count
        hint="sort in decreasing order λ_1 ≥ λ_2 ≥ …; the count is 1 + argmax_j (λ_j − λ_{j+1}) "
        "(the input is not sorted).",
    ),
    Exercise(
        id="ex01_3",
        title="the elbow threshold of the ordered eigenvalues (a Kneedle-type rule)",
        solution=spectrum.elbow_threshold,
        cases=_elbow_cases,
        # The answer is one of the input eigenvalues, selected, not computed: returned as is, it is exact.
        # rtol = atol = 1e-12 leave room for a route that maps the elbow back from the unit square,
        # y_j (λ_1 − λ_m) + λ_m (a few ulps off), and stay far below the spacing of neighbouring
        # eigenvalues, so the wrong eigenvalue never passes.
        compare=Close(rtol=1e-12, atol=1e-12),
        hint="sort decreasing (λ_1 … λ_m); x_j = j/(m−1) for j = 0…m−1, y_j = (λ_j − λ_m)/(λ_1 − λ_m); "
        "return the eigenvalue at the j minimizing x_j + y_j.",
    ),
)

__all__ = ["EXERCISES", "spectrum_cases", "spectrum_with_outliers"]
