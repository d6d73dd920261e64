r"""Exercises of notebook 3, *why the outliers track the classes*: Papyan's vectors and class means.

For softmax cross-entropy, :math:`J_i^\top A_i J_i = \sum_{c'} \delta_{i,c'}\delta_{i,c'}^\top` with
:math:`\delta_{i,c'} = \sqrt{p_{c'}(x_i)}\, J_i^\top (e_{c'} - p(x_i))` (Papyan 2019, 2020). Averaged
within classes, the class means :math:`\delta_c` give the term
:math:`G_1 = (C-1)\sum_c \pi_c \delta_c\delta_c^\top` whose C eigenvalues are the outliers. The
student writes:

- ex03_1: the vectors :math:`\delta_{i,c'}`;
- ex03_2: the eigenvalues of :math:`\sum_j v_j v_j^\top` from the m×m Gram matrix :math:`VV^\top`;
- ex03_3: the eigenvalues of :math:`G_1` that way;
- ex03_4: the knock-out :math:`\Pi M \Pi`, :math:`\Pi` the projector onto the complement of the
  class means.
"""

from __future__ import annotations

import numpy as np

from ..curvature import papyan
from .checking import Case, Close, Exercise
from .gauss_newton_decomposition import describe, objective_cases, random_objective


def knock_out_class_means(M, means):
    r"""Reference for ex03_4: :math:`\Pi M \Pi` with :math:`\Pi = I - QQ^\top` projecting out the class means.

    :func:`hessian_spectra.curvature.papyan.knock_out` with ``method="project_class_means"``.
    """
    return papyan.knock_out(M, means, "project_class_means")


def symmetric_with_outliers(rng, P: int) -> np.ndarray:
    """A random symmetric P×P matrix: eigenvalues from N(0, 1), the top three raised by 5, 10 and 20,
    in a random orthonormal basis."""
    Q, _ = np.linalg.qr(rng.standard_normal((P, P)))
    lam = np.sort(rng.normal(0.0, 1.0, size=P))
    lam[-3:] += np.array([5.0, 10.0, 20.0])  # a few well-separated outliers
    return (Q * lam) @ Q.T


def class_means_cases(rng, n: int = 4) -> list[Case]:
    """The class means (:func:`hessian_spectra.curvature.papyan.class_means`) of ``n`` random
    cross-entropy problems, weighted by samples and by classes in turn."""
    cases = []
    for k in range(n):
        obj, w = random_objective(rng, hidden=k != 0)
        weighting = ("samples", "classes")[k % 2]
        means = papyan.class_means(obj, w, weighting=weighting)
        cases.append(
            Case((means,), f"class means of a random problem ({describe(obj)}), weighting={weighting!r}")
        )
    return cases


def _cross_entropy_cases(rng) -> list[Case]:
    return objective_cases(rng, loss_names=("cross_entropy",))


def _gram_cases(rng) -> list[Case]:
    cases = []
    for m, P in [(2, 5), (5, 30), (4, 4), (6, 3)]:
        V = rng.standard_normal((m, P))
        cases.append(
            Case((V,), f"{m} vectors in R^{P}" + (" (more vectors than dimensions)" if m > P else ""))
        )
    V = rng.standard_normal((5, 12))
    V[3] = V[0] + V[1]  # linearly dependent rows
    cases.append(Case((V,), "5 vectors in R^12, one the sum of two others (a zero eigenvalue)"))
    return cases


def _knock_out_cases(rng) -> list[Case]:
    cases = []
    for case in class_means_cases(rng, n=3):
        means = case.args[0]
        P = means.delta_c.shape[1]
        M = symmetric_with_outliers(rng, P)
        cases.append(Case((M, means), f"a random symmetric {P}×{P} matrix and the " + case.description))
    return cases


EXERCISES = (
    Exercise(
        id="ex03_1",
        title="Papyan's vectors δ_{i,c'} = √p_{c'}(x_i) · J_iᵀ (e_{c'} − p(x_i))",
        solution=papyan.per_sample_deltas,
        cases=_cross_entropy_cases,
        # Jacobian-vector products by another route than the library's backpropagation: the
        # tolerances of ex02_3 (rtol 1e-9, atol 1e-12 of the largest entry); p instead of √p is O(1).
        compare=Close(rtol=1e-9, atol=1e-12),
        hint="J = per_sample_jacobians(objective, params) (N, C, P), p = losses.softmax(objective.logits(params)); "
        "out[i, c'] = sqrt(p[i, c']) * J[i].T @ (e_{c'} − p[i]); shape (N, C, P).",
    ),
    Exercise(
        id="ex03_2",
        title="the eigenvalues of V Vᵀ: the nonzero eigenvalues of Σ_j v_j v_jᵀ from an m×m problem",
        solution=papyan.gram_eigenvalues,
        cases=_gram_cases,
        # A backward-stable eigensolver (eigvalsh, or squared singular values) errs by ~ε‖VVᵀ‖ in
        # absolute terms (Weyl), so a zero eigenvalue comes out as ±1e-15 of the largest: atol = 1e-10
        # of the largest absorbs it, rtol = 1e-10 covers the others. Singular values instead of their
        # squares are an O(1) difference.
        compare=Close(rtol=1e-10, atol=1e-10),
        hint="form the m×m Gram matrix V @ V.T and return its eigenvalues in ascending order (np.linalg.eigvalsh).",
    ),
    Exercise(
        id="ex03_3",
        title="the C eigenvalues of G1 = (C−1) Σ_c π_c δ_c δ_cᵀ from a C×C Gram matrix",
        solution=papyan.g1_eigenvalues_from_gram,
        cases=class_means_cases,
        # eigenvalues of a C×C Gram matrix, the small ones known only to ~ε of the largest: the
        # tolerances of ex03_2 for the same reasons; a missing factor C − 1 is an O(1) difference.
        compare=Close(rtol=1e-10, atol=1e-10),
        hint="the rows are v_c = sqrt((C − 1) π_c) δ_c with δ_c = means.delta_c[c] and π_c = means.class_weights[c]; "
        "return the eigenvalues of the C×C matrix V Vᵀ, ascending.",
    ),
    Exercise(
        id="ex03_4",
        title="the knock-out Π M Π, Π = I − QQᵀ projecting out the span of the class means δ_c",
        solution=knock_out_class_means,
        cases=_knock_out_cases,
        # Q from QR or SVD differs, the projector Π = I − QQᵀ does not (to ~ε); Π M Π then agrees to
        # ~1e-15 ‖M‖ in absolute terms, and its zero directions to the same: atol = 1e-11 of the
        # largest entry, rtol = 1e-9. A one-sided projection Π M is an O(1) difference.
        compare=Close(rtol=1e-9, atol=1e-11),
        hint="Q = an orthonormal basis of span{δ_c} (np.linalg.svd(means.delta_c.T, full_matrices=False); keep the "
        "columns of U whose singular value exceeds 1e-10 times the largest); Π = I − Q Qᵀ; return Π M Π.",
    ),
)

__all__ = ["EXERCISES", "class_means_cases", "knock_out_class_means", "symmetric_with_outliers"]
