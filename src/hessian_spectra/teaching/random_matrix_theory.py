r"""Exercises of notebook 5, *random matrices*: Marchenko–Pastur, BBP, and a Hessian that follows them.

For a sample covariance of N vectors in :math:`\mathbb R^M` with i.i.d. entries of variance
:math:`\sigma^2`, :math:`M/N \to \alpha`, the eigenvalues follow the Marchenko–Pastur law (Marchenko &
Pastur 1967) on :math:`[\lambda_-, \lambda_+]`, :math:`\lambda_\pm = \sigma^2(1 \pm \sqrt\alpha)^2`; a
spike :math:`\ell > 1 + \sqrt\alpha` in the population covariance pulls one eigenvalue out to
:math:`\sigma^2\ell(1 + \alpha/(\ell - 1))` (Baik, Ben Arous & Péché 2005). Sagun et al. (2018, App. B)
use both for the Hessian of logistic regression. The student writes:

- ex05_1: the edges :math:`\lambda_\pm`; ex05_2: the density :math:`\rho(x)`;
- ex05_3: the BBP position of the top eigenvalue; ex05_4: the logistic-regression Hessian
  :math:`\frac1N\sum_i s_i(1 - s_i)\, x_i x_i^\top`.
"""

from __future__ import annotations

import numpy as np

from .. import rmt
from .checking import Case, Close, Exercise

#: Relative distance of the test points placed just inside and just outside each bulk edge: there
#: :math:`\rho \propto \sqrt{|x - \lambda_\pm|}`, so an edge computed a few ulps differently (e.g. as
#: :math:`\sigma^2(1 \pm 2\sqrt\alpha + \alpha)`) changes :math:`\rho` by only ~1e-13 relative, whereas a
#: point within an ulp of an edge would make the answer depend on the formula chosen for the edge.
EDGE_OFFSET = 1e-3


def _mp_params(rng) -> list[tuple[float, float]]:
    return [
        (0.25, 1.0),
        (1.0, 1.0),
        (2.0, 0.5),
        (0.1, 3.0),
        (float(rng.uniform(0.05, 4.0)), float(rng.uniform(0.2, 2))),
    ]


def _edge_cases(rng) -> list[Case]:
    return [Case((a, s2), f"alpha = {a:.4g}, sigma2 = {s2:.4g}") for a, s2 in _mp_params(rng)]


def _density_cases(rng) -> list[Case]:
    """Per (α, σ²): x = −1 and 0, 36 grid midpoints on (0, 1.2 λ₊) (none on an edge), a point just
    inside and just outside each positive edge, and 5 random points in (0, 1.3 λ₊)."""
    cases = []
    for a, s2 in _mp_params(rng):
        lo, hi = s2 * (1 - np.sqrt(a)) ** 2, s2 * (1 + np.sqrt(a)) ** 2
        edges = [e for e in (lo, hi) if e > 0]
        near_edges = [e * (1 + s * EDGE_OFFSET) for e in edges for s in (-1.0, 1.0)]
        grid = (np.arange(36) + 0.5) * (1.2 * hi / 36)
        x = np.concatenate([[-1.0, 0.0], grid, near_edges, rng.uniform(0, 1.3 * hi, size=5)])
        cases.append(
            Case(
                (x, a, s2),
                f"{x.size} points x (among them points {EDGE_OFFSET:g} relative inside and outside each "
                f"edge), alpha = {a:.4g}, sigma2 = {s2:.4g}",
            )
        )
    return cases


def _bbp_cases(rng) -> list[Case]:
    cases = []
    # (1.5, 0.25) sits on the threshold 1 + √α, where both branches give the bulk edge
    for spike, a, s2 in [
        (3.0, 0.25, 1.0),
        (1.2, 0.25, 1.0),
        (1.5, 0.25, 1.0),
        (10.0, 2.0, 0.5),
        (2.0, 2.0, 1.0),
    ]:
        cases.append(Case((spike, a, s2), f"spike {spike:g}, alpha {a:g}, sigma2 {s2:g}"))
    spike, a = float(rng.uniform(1.0, 8.0)), float(rng.uniform(0.05, 3.0))
    cases.append(Case((spike, a, 1.0), f"spike {spike:.4g}, alpha {a:.4g}, sigma2 1"))
    return cases


def _logistic_cases(rng) -> list[Case]:
    cases = []
    for N, d, scale in [(10, 3, 0.0), (20, 5, 1.0), (7, 9, 3.0), (50, 4, 30.0)]:
        X = rng.standard_normal((N, d))
        w = rng.normal(0.0, scale, size=d) if scale else np.zeros(d)
        cases.append(Case((X, w), f"X of shape {(N, d)}, w of size ~{scale:g}"))
    return cases


EXERCISES = (
    Exercise(
        id="ex05_1",
        title="the edges λ± = σ²(1 ± √α)² of the Marchenko–Pastur bulk",
        solution=rmt.marchenko_pastur_edges,
        cases=_edge_cases,
        # A few flops; equivalent forms such as σ²(1 − 2√α + α) differ by a few ulps of λ₊, which is
        # a large relative error of λ₋ only where λ₋ ≈ 0 (α ≈ 1): atol = 1e-15 of λ₊ for that, and
        # rtol = 1e-12 otherwise. α instead of √α is an O(1) difference.
        compare=Close(rtol=1e-12, atol=1e-15, names=("lambda_minus", "lambda_plus")),
        hint="return the tuple (σ²(1 − √α)², σ²(1 + √α)²).",
    ),
    Exercise(
        id="ex05_2",
        title="the Marchenko–Pastur density ρ(x) = √((λ₊ − x)(x − λ₋)) / (2π σ² α x) on [λ₋, λ₊]",
        solution=rmt.marchenko_pastur_density,
        cases=_density_cases,
        # A closed form evaluated at points at least EDGE_OFFSET from an edge: an edge a few ulps off
        # changes ρ there by ~1e-13 relative; rtol = 1e-10 leaves three orders more, atol = 1e-12 of
        # the largest value covers the cancellation in (λ₊ − x)(x − λ₋). A missing α is O(1).
        compare=Close(rtol=1e-10, atol=1e-12),
        hint="ρ(x) = sqrt((λ₊ − x)(x − λ₋)) / (2π σ² α x) for λ₋ < x < λ₊ (and x > 0), 0 elsewhere; "
        "no point mass at 0 in the density.",
    ),
    Exercise(
        id="ex05_3",
        title="the BBP limit of the top eigenvalue for a spike ℓ: ℓ(1 + α/(ℓ−1)) above 1 + √α, else λ₊",
        solution=rmt.bbp_outlier,
        cases=_bbp_cases,
        # A single number from a closed form of a few flops: a relative test, rtol = 1e-12. Forgetting
        # the threshold is an O(1) difference below it.
        compare=Close(rtol=1e-12, atol=0.0),
        hint="if ℓ > 1 + √α return σ² ℓ (1 + α/(ℓ − 1)); otherwise the bulk edge σ² (1 + √α)².",
    ),
    Exercise(
        id="ex05_4",
        title="the Hessian of logistic regression, H = (1/N) Σ_i s_i(1 − s_i) x_i x_iᵀ",
        solution=rmt.logistic_regression_hessian,
        cases=_logistic_cases,
        # A sum of N outer products: rtol = 1e-10. Where |wᵀx| is large, s(1 − s) formed as written
        # (1 − s with s ≈ 1) is known only to ~ε in absolute terms, not relative: atol = 1e-13 of the
        # largest entry covers that for these inputs. Dropping the factor 1 − s is an O(1) difference.
        compare=Close(rtol=1e-10, atol=1e-13),
        hint="s = 1/(1 + exp(−X w)) (stable: 0.5·(tanh(X w / 2) + 1)); H = Xᵀ diag(s(1 − s)) X / N.",
    ),
)

__all__ = ["EDGE_OFFSET", "EXERCISES"]
