r"""Exercises of notebook 9, *the gradient in a tiny subspace*: eigenspaces, overlaps and the class means.

Gur-Ari, Roberts & Dyer (2018) measure how much of the gradient lies in the span of the top-k Hessian
eigenvectors, :math:`f_k = \lVert P_k g\rVert^2 / \lVert g\rVert^2`, and how much two such spans
share, the mean squared cosine of their principal angles; Papyan's (2020) class means
:math:`\delta_c` span the range of :math:`G_1`, which holds the same directions. The student writes:

- ex09_1: the fraction of a vector in the top-k eigenspace of a symmetric matrix;
- ex09_2: the overlap of two subspaces given by arbitrary bases;
- ex09_3: the fraction of an objective's gradient in the top-k eigenspace of its exact Hessian;
- ex09_4: Papyan's class means :math:`\delta_c = \frac{1}{C-1}\sum_{c'\ne c}
  \mathrm{Ave}_{i\in c}\sqrt{p_{c'}(x_i)}\,J_i^\top(e_{c'} - p(x_i))`.
"""

from __future__ import annotations

import numpy as np

from .. import spectrum
from ..curvature import curvature_matrices, papyan
from .checking import Case, Close, Exercise, compare_arrays
from .gauss_newton_decomposition import describe, objective_cases, random_objective
from .why_outliers_track_classes import symmetric_with_outliers


def top_eigenspace_fraction(A, v, k):
    r"""Reference for ex09_1: :math:`\lVert P_k v\rVert^2 / \lVert v\rVert^2`, :math:`P_k` the projector on the
    eigenvectors of the k largest eigenvalues of the symmetric matrix ``A``.

    :func:`hessian_spectra.spectrum.eigh`, then :func:`hessian_spectra.spectrum.projection_fractions`.
    """
    _, vecs = spectrum.eigh(np.asarray(A, dtype=np.float64))
    return float(spectrum.projection_fractions(v, vecs[:, ::-1][:, :k])[-1])


def gradient_top_fraction(objective, params, k):
    r"""Reference for ex09_3: the fraction of :math:`\nabla L(w)` in the top-k eigenspace of the exact :math:`H(w)`.

    The dense H of :func:`hessian_spectra.curvature.curvature_matrices` and :func:`top_eigenspace_fraction`.
    """
    H = curvature_matrices(objective, params, ("H",), engine="fast")["H"]
    return top_eigenspace_fraction(H, objective.gradient(params), k)


def class_mean_directions(objective, params):
    r"""Reference for ex09_4: Papyan's class means :math:`\delta_c`, shape (C, P).

    :func:`hessian_spectra.curvature.papyan.class_means_by_products`, its ``delta_c``.
    """
    return papyan.class_means_by_products(objective, params).delta_c


#: Fractions and overlaps lie in [0, 1], so their tolerance is absolute (``Close`` scales ``atol`` by the
#: expected answer, which is 0 for orthogonal subspaces): 1e-12 absolute, 1e-9 relative.
FRACTION_RTOL, FRACTION_ATOL = 1e-9, 1e-12


def close_in_unit_interval(actual, expected) -> str | None:
    """``None`` when a number in [0, 1] matches the expected one within |a − e| ≤ 1e-12 + 1e-9·|e|."""
    return compare_arrays(actual, expected, FRACTION_RTOL, FRACTION_ATOL)


# --------------------------------------------------------------------------------------------
# Test inputs
# --------------------------------------------------------------------------------------------


def _fraction_cases(rng) -> list[Case]:
    cases = []
    for P, k, tilt in [(6, 1, 0.0), (20, 3, 0.0), (30, 3, 3.0), (25, 10, 0.0), (12, 12, 0.0)]:
        A = symmetric_with_outliers(rng, P)
        vecs = np.linalg.eigh(A)[1][:, ::-1]
        v = rng.standard_normal(P) + tilt * vecs[:, :3] @ rng.standard_normal(3)
        what = "mostly in the top-3 eigenspace" if tilt else "a random vector"
        cases.append(Case((A, v, k), f"a symmetric {P}×{P} matrix with 3 outliers, {what}, k = {k}"))
    return cases


def _overlap_cases(rng) -> list[Case]:
    cases = []
    for P, a, b, shared in [(10, 2, 2, 0), (20, 3, 3, 2), (15, 2, 5, 2), (30, 6, 4, 1)]:
        common = rng.standard_normal((P, shared))
        A = np.hstack([common, rng.standard_normal((P, a - shared))]) @ (
            rng.standard_normal((a, a)) + 2 * np.eye(a)
        )
        B = np.hstack([common, rng.standard_normal((P, b - shared))])
        cases.append(
            Case(
                (A, B),
                f"bases of a {a}- and a {b}-dimensional subspace of R^{P} sharing {shared} direction(s)",
            )
        )
    Q, _ = np.linalg.qr(rng.standard_normal((8, 5)))
    cases.append(Case((Q[:, :2], Q[:, 2:]), "orthonormal bases of two orthogonal subspaces of R^8"))
    return cases


def _gradient_cases(rng) -> list[Case]:
    """Tiny problems, each with a k after which the Hessian's spectrum has a clear gap (so that the
    top-k eigenspace, and with it the answer, is well defined for any eigensolver)."""
    cases = []
    for case in objective_cases(rng, n=4):
        obj, w = case.args
        H = curvature_matrices(obj, w, ("H",), engine="fast")["H"]
        lam = np.sort(np.linalg.eigvalsh(H))[::-1]
        gaps = (lam[:-1] - lam[1:])[: max(1, min(6, lam.size - 1))]
        k = int(np.argmax(gaps)) + 1
        cases.append(Case((obj, w, k), f"{case.description}, k = {k}"))
    return cases


def _class_means_cases(rng) -> list[Case]:
    cases = []
    for k in range(4):
        obj, w = random_objective(rng, hidden=k != 0)
        cases.append(Case((obj, w), describe(obj)))
    return cases


EXERCISES = (
    Exercise(
        id="ex09_1",
        title="the fraction ‖P_k v‖²/‖v‖² of a vector in the top-k eigenspace of a symmetric matrix",
        solution=top_eigenspace_fraction,
        cases=_fraction_cases,
        # The eigenvectors of a matrix whose eigenvalues are ≥ ~0.01 apart are defined to ~1e-14 by any
        # backward-stable solver; the fraction, a sum of k squares, agrees to ~1e-13. 1e-9 relative and
        # 1e-12 absolute leave room for any route and stay far below the bottom-k eigenvectors or a
        # missing ‖v‖² (O(1) differences).
        compare=close_in_unit_interval,
        hint="numpy.linalg.eigh returns eigenvalues in ascending order: the top k eigenvectors are the last k "
        "columns; the fraction is Σ_j (q_jᵀ v)² / (vᵀ v) over those columns.",
    ),
    Exercise(
        id="ex09_2",
        title="the overlap of two subspaces: the mean squared cosine of their principal angles",
        solution=spectrum.subspace_overlap,
        cases=_overlap_cases,
        # Orthonormal bases by QR or SVD and the singular values of Q_Aᵀ Q_B differ by ~1e-15; 1e-9
        # relative and 1e-12 absolute (0 is the answer for orthogonal subspaces) hold for any route.
        # Bases left unnormalized, cosines not squared, or the mean over max(a, b) angles are O(0.1)
        # off on these inputs.
        compare=close_in_unit_interval,
        hint="orthonormalize each basis (numpy.linalg.qr or scipy.linalg.orth); the cosines of the principal "
        "angles are the singular values of Q_Aᵀ Q_B; return the mean of their squares, "
        "‖Q_Aᵀ Q_B‖_F² / min(a, b).",
    ),
    Exercise(
        id="ex09_3",
        title="the fraction of an objective's gradient in the top-k eigenspace of its exact Hessian",
        solution=gradient_top_fraction,
        cases=_gradient_cases,
        # H by autograd or by the library agree to ~1e-14 relative; k sits at the largest of the first
        # gaps of the spectrum, so the top-k space moves by ~1e-13 and the fraction by as much: 1e-9
        # relative and 1e-12 absolute hold for any exact route. The bottom-k eigenvectors, or those of
        # G instead of H, are O(0.1) off.
        compare=close_in_unit_interval,
        hint="H = autograd.hessian(objective.loss_value)(params) (or hessian_spectra.hessian_terms); "
        "g = objective.gradient(params); then exercise 9.1 with H, g and k.",
    ),
    Exercise(
        id="ex09_4",
        title="Papyan's class means δ_c = (1/(C−1)) Σ_{c'≠c} Ave_{i∈c} √p_c'(x_i) J_iᵀ (e_c' − p(x_i))",
        solution=class_mean_directions,
        cases=_class_means_cases,
        # Averages of per-sample Jacobian products by another route (per-sample Jacobians instead of
        # vector-Jacobian products): ~1e-15 of the largest entry apart. rtol = 1e-9, atol = 1e-12 of the
        # largest entry hold for any float64 route; averaging over all C labels instead of the C − 1
        # wrong ones, or p instead of √p, is an O(1) difference.
        compare=Close(rtol=1e-9, atol=1e-12),
        hint="for each class c: take the samples i with y_i = c, their Jacobians J_i (per_sample_jacobians) "
        "and p_i = softmax(f_i); average √p_ic' J_iᵀ (e_c' − p_i) over i, then over the C − 1 labels c' ≠ c.",
    ),
)

__all__ = ["EXERCISES", "class_mean_directions", "gradient_top_fraction", "top_eigenspace_fraction"]
