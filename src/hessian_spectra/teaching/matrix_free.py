r"""Exercises of notebook 7, *matrix-free methods*: products with G, Lanczos, and the SLQ density.

When P is too large for a dense Hessian, its spectrum is read from matrix-vector products: Lanczos
with full reorthogonalization builds a tridiagonal :math:`T = U\,\mathrm{diag}(\theta)\,U^\top` whose
Gauss quadrature (nodes :math:`\theta_j`, weights :math:`U_{0j}^2`) approximates the spectral density,
and stochastic Lanczos quadrature smooths it with Gaussians (Ghorbani et al. 2019; Papyan 2019). The
student writes:

- ex07_1: :math:`Gv = \frac1N\sum_i J_i^\top A_i (J_i v)` without forming G;
- ex07_2: m Lanczos steps, the diagonal ``alpha`` and off-diagonal ``beta`` of T;
- ex07_3: the Gauss quadrature of T; ex07_4: the smoothed density
  :math:`\frac1{n_v}\sum_{l,j} w_{lj}\,\mathcal N(t; \theta_{lj}, \sigma^2)` on a grid.
"""

from __future__ import annotations

import numpy as np

from ..curvature import lanczos
from ..curvature.matrix_free import gauss_newton_operator
from .checking import Case, Close, Exercise
from .gauss_newton_decomposition import objective_cases
from .why_outliers_track_classes import symmetric_with_outliers


def gauss_newton_vector_product(objective, params, v):
    r"""Reference for ex07_1: :math:`Gv = \frac1N\sum_i J_i^\top A_i (J_i v)` without forming G.

    :func:`hessian_spectra.curvature.matrix_free.gauss_newton_operator` applied to ``v``.
    """
    return gauss_newton_operator(objective, params).matvec(v)


def lanczos_tridiagonal(A, v0, n_steps):
    r"""Reference for ex07_2: the diagonal ``alpha`` and off-diagonal ``beta`` of the Lanczos matrix T.

    :func:`hessian_spectra.curvature.lanczos.lanczos` with full reorthogonalization, without the Lanczos vectors.
    """
    alpha, beta, _ = lanczos.lanczos(A, v0, n_steps, reorthogonalize=True)
    return alpha, beta


def smoothed_density(nodes, weights, grid, sigma2):
    r"""Reference for ex07_4: :math:`\frac1{n_v}\sum_{l,j} w_{lj}\,\mathcal N(t; \theta_{lj}, \sigma^2)` on ``grid``.

    :func:`hessian_spectra.curvature.lanczos.density_from_nodes` with the grid and variance given.
    """
    return lanczos.density_from_nodes(nodes, weights, grid=grid, sigma2=sigma2)[1]


def _product_cases(rng) -> list[Case]:
    cases = []
    for case in objective_cases(rng):
        obj, w = case.args
        v = rng.standard_normal(w.size)
        cases.append(Case((obj, w, v), case.description + ", a random vector v"))
    return cases


def _lanczos_cases(rng) -> list[Case]:
    cases = []
    # (40, 40) runs to the full Krylov space, where the plain recurrence has lost orthogonality
    for P, m in [(10, 1), (12, 5), (30, 12), (60, 40), (40, 40)]:
        A = symmetric_with_outliers(rng, P)
        v0 = rng.standard_normal(P)
        cases.append(Case((A, v0, m), f"a symmetric {P}×{P} matrix, {m} steps"))
    return cases


def _tridiagonal_cases(rng) -> list[Case]:
    cases = [Case((np.array([0.7]), np.array([])), "a 1×1 matrix T")]
    for m in (2, 5, 12):
        alpha = rng.normal(0.0, 1.0, size=m)
        beta = rng.uniform(0.1, 1.0, size=m - 1)
        cases.append(Case((alpha, beta), f"a {m}×{m} tridiagonal matrix T"))
    return cases


def _density_cases(rng) -> list[Case]:
    cases = []
    for n_v, m, s2 in [(1, 4, 0.01), (3, 10, 0.001), (5, 20, 0.05)]:
        nodes = np.sort(rng.normal(0.0, 1.0, size=(n_v, m)), axis=1)
        weights = rng.dirichlet(np.ones(m), size=n_v)
        grid = np.linspace(nodes.min() - 1, nodes.max() + 1, 101)
        cases.append(
            Case((nodes, weights, grid, s2), f"{n_v} probe(s) × {m} nodes, σ² = {s2:g}, 101 grid points")
        )
    return cases


EXERCISES = (
    Exercise(
        id="ex07_1",
        title="the Gauss-Newton product G v = (1/N) Σ_i J_iᵀ A_i (J_i v), without forming G",
        solution=gauss_newton_vector_product,
        cases=_product_cases,
        # G v by another route (dense J, or jvp then vjp): the tolerances of ex02_3 (rtol 1e-9, atol
        # 1e-12 of the largest entry) for the same reasons; a missing A_i is an O(1) difference.
        compare=Close(rtol=1e-9, atol=1e-12),
        hint="u = J v for every sample (autograd.make_jvp(lambda q: objective.logits(q))(params)(v)[1], shape (N, C)); "
        "s_i = A_i u_i; Gv = Σ_i J_iᵀ s_i / N (autograd.make_vjp of the logits, applied to s).",
    ),
    Exercise(
        id="ex07_2",
        title="m steps of Lanczos with full reorthogonalization: the tridiagonal (alpha, beta)",
        solution=lanczos_tridiagonal,
        cases=_lanczos_cases,
        # Two reorthogonalized implementations round differently at every step; over 40 steps they agree
        # to a few ulps of the largest |α|, |β| (and ~1e-12 relative on the smallest β's). rtol = atol =
        # 1e-8 (of the largest coefficient) is loose on purpose, so that any reorthogonalized variant
        # passes (one or two Gram-Schmidt passes, modified Gram-Schmidt); without reorthogonalization
        # the coefficients depart by O(1) of the largest once a Ritz value has converged (ghosts).
        compare=Close(rtol=1e-8, atol=1e-8, names=("alpha", "beta")),
        hint="q_1 = v0/‖v0‖; w = A q_j − α_j q_j − β_{j−1} q_{j−1} with α_j = q_jᵀ A q_j; orthogonalize w against "
        "all previous q (twice); β_j = ‖w‖; q_{j+1} = w/β_j. Return alpha (m,) and beta (m−1,).",
    ),
    Exercise(
        id="ex07_3",
        title="Gauss quadrature from a Lanczos matrix: nodes θ_j and weights (first row of U)²",
        solution=lanczos.gauss_quadrature,
        cases=_tridiagonal_cases,
        # Eigenvalues and eigenvector entries of a small, well-separated tridiagonal matrix by another
        # eigensolver: ~1e-15 of ‖T‖ apart. rtol = 1e-10 and atol = 1e-12 of the largest number of the
        # answer hold for any backward-stable route; the first column instead of the first row is O(1).
        compare=Close(rtol=1e-10, atol=1e-12, names=("nodes", "weights")),
        hint="T = diag(alpha) + diag(beta, 1) + diag(beta, −1) = U diag(θ) Uᵀ; nodes = θ ascending, "
        "weights = U[0, :]**2 (they sum to 1).",
    ),
    Exercise(
        id="ex07_4",
        title="the Gaussian-smoothed SLQ density (1/n_v) Σ_{l,j} w_lj N(t; θ_lj, σ²) on a grid",
        solution=smoothed_density,
        cases=_density_cases,
        # A sum of Gaussians, each exact to a few ulps: rtol = 1e-10. Far from every node the density
        # underflows differently by different routes: atol = 1e-13 of its maximum. Forgetting the
        # average over the probes (1/n_v) is a factor n_v.
        compare=Close(rtol=1e-10, atol=1e-13),
        hint="density(t) = mean over probes l of Σ_j w[l, j] · exp(−(t − θ[l, j])² / (2σ²)) / sqrt(2π σ²).",
    ),
)

__all__ = ["EXERCISES", "gauss_newton_vector_product", "lanczos_tridiagonal", "smoothed_density"]
