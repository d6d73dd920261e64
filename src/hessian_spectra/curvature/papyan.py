r"""Papyan's class/cross-class split of the Gauss-Newton term (cross-entropy).

Papyan (2019, 2020) writes the Gauss-Newton term of softmax cross-entropy through the vectors

.. math::

    \delta_{i,c'} = \sqrt{p_{c'}(x_i)}\; J_i^\top (e_{c'} - p(x_i)) \in \mathbb R^P,
    \qquad c' = 1..C,

for a sample i of class :math:`c = y_i` (written :math:`\delta_{i,c,c'}` in the papers). Because
:math:`\mathrm{diag}\,p - pp^\top = \sum_{c'} p_{c'} (e_{c'} - p)(e_{c'} - p)^\top`,
:math:`J_i^\top A_i J_i = \sum_{c'} \delta_{i,c'} \delta_{i,c'}^\top`. Averaging first within each class
and then over classes with weights :math:`\pi_c`, and splitting each within-class second moment into
mean and covariance (``docs/theory.md``, Eqs. T10-T14):

.. math::

    \delta_{c,c'} = \mathrm{Ave}_{i \in c}\, \delta_{i,c'}, \quad
    \delta_c = \frac{1}{C-1} \sum_{c' \ne c} \delta_{c,c'}, \quad
    \nu_{c,c'} = \delta_{c,c'} - \delta_c \ (c' \ne c),

    G_0 = \sum_c \pi_c\, \delta_{c,c} \delta_{c,c}^\top, \quad
    G_1 = (C-1) \sum_c \pi_c\, \delta_c \delta_c^\top, \quad
    G_2 = \sum_c \pi_c \sum_{c' \ne c} \nu_{c,c'} \nu_{c,c'}^\top,

    G_3 = \sum_c \pi_c\, \mathrm{Ave}_{i \in c} \sum_{c'} (\delta_{i,c'} - \delta_{c,c'})
          (\delta_{i,c'} - \delta_{c,c'})^\top,

and :math:`G_0 + G_1 + G_2 + G_3 = \sum_c \pi_c\, \mathrm{Ave}_{i\in c} J_i^\top A_i J_i` exactly (the
cross terms vanish because :math:`\sum_{c' \ne c} \nu_{c,c'} = 0` and deviations from a mean average to
zero).

**Averaging (our choice, stated).** ``weighting="samples"`` (default) uses :math:`\pi_c = N_c/N`, so the
sum is the Gauss-Newton term :math:`G = \frac1N \sum_i J_i^\top A_i J_i` of the training loss with any
class sizes. ``weighting="classes"`` uses :math:`\pi_c = 1/C`, Papyan's :math:`\mathrm{Ave}_{i,c}`
(average within classes, then over classes): with unbalanced classes its sum is the class-balanced
:math:`\frac1C\sum_c G^{(c)}` (the G of each class's samples, averaged), not G. Both agree for balanced
classes, where they reduce to the formulas in ``docs/theory.md``.

Papyan (2020) names this level structure in his "Traces of class/cross-class structure" paper; the
module is named after it as curvlinops names its ``papyan2020traces`` example.

Short names used here:

- P20: Papyan (2020),
  *Traces of Class/Cross-Class Structure Pervade Deep Learning Spectra*.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
from scipy.sparse.linalg import LinearOperator

from .._checks import as_float_array, check_array_fits, check_choice, check_dense_fits
from ..objective import Objective, check_objective
from ..spectrum import symmetrize
from .decomposition import JACOBIAN_METHODS, per_sample_jacobians

WEIGHTINGS = ("samples", "classes")
KNOCK_OUTS = ("subtract_G1", "project_class_means")


@dataclass
class ClassMeans:
    """Papyan's class means (:func:`class_means`).

    Attributes
    ----------
    delta_cc : (C, C, P) array, ``delta_cc[c, c2]`` = :math:`\\delta_{c,c'}` (mean over class c).
    delta_c : (C, P) array, :math:`\\delta_c = \\frac1{C-1}\\sum_{c'\\ne c}\\delta_{c,c'}`.
    nu : (C, C, P) array, :math:`\\nu_{c,c'} = \\delta_{c,c'} - \\delta_c` for :math:`c' \\ne c`
        (``nu[c, c]`` is set to zero: it enters no term).
    class_weights : (C,) the weights :math:`\\pi_c` (sum to 1).
    class_counts : (C,) the number of samples :math:`N_c` of each class.
    weighting : ``"samples"`` or ``"classes"``.
    trace_G : :math:`\\operatorname{tr}(G_0+G_1+G_2+G_3) = \\sum_c \\pi_c\\,\\mathrm{Ave}_{i\\in c}
        \\sum_{c'} \\lVert\\delta_{i,c'}\\rVert^2`, from the per-sample vectors (``None`` when not computed).
    trace_G3 : :math:`\\operatorname{tr} G_3 = \\sum_c \\pi_c\\,\\mathrm{Ave}_{i\\in c} \\sum_{c'}
        \\lVert\\delta_{i,c'} - \\delta_{c,c'}\\rVert^2`, the within-class spread, from the per-sample
        deviations (``None`` when not computed); see :func:`class_mean_traces`.
    """

    delta_cc: np.ndarray
    delta_c: np.ndarray
    nu: np.ndarray
    class_weights: np.ndarray
    class_counts: np.ndarray
    weighting: str
    trace_G: float | None = None
    trace_G3: float | None = None

    @property
    def n_classes(self) -> int:
        """C, the number of classes."""
        return self.delta_c.shape[0]


@dataclass
class ClassMeanDecomposition(ClassMeans):
    """:class:`ClassMeans` plus the dense P×P terms ``G0``, ``G1``, ``G2``, ``G3``."""

    G0: np.ndarray = None
    G1: np.ndarray = None
    G2: np.ndarray = None
    G3: np.ndarray = None

    @property
    def total(self) -> np.ndarray:
        """:math:`G_0 + G_1 + G_2 + G_3`."""
        return self.G0 + self.G1 + self.G2 + self.G3


# --------------------------------------------------------------------------------------------
# The per-sample vectors δ_{i,c'} and their class means
# --------------------------------------------------------------------------------------------


def _check_cross_entropy(objective: Objective) -> None:
    if not objective.loss_function.class_indexed_factor:
        raise ValueError(
            "Papyan's class-mean split is defined for softmax cross-entropy; got "
            f"loss={objective.loss!r} (use loss='cross_entropy')"
        )
    if objective.n_classes < 2:
        raise ValueError(f"the class-mean split needs at least 2 classes; got C = {objective.n_classes}")


def per_sample_deltas(objective: Objective, params, idx=None, method: str = "backprop") -> np.ndarray:
    r"""The vectors :math:`\delta_{i,c'} = \sqrt{p_{c'}(x_i)}\, J_i^\top (e_{c'} - p(x_i))`, shape (n, C, P).

    ``idx`` selects samples (default: all). :math:`J_i` from
    :func:`hessian_spectra.curvature.decomposition.per_sample_jacobians` (``method``; the closed-form
    backward pass by default, so the class-mean split does not share the reference G's route).
    """
    objective = check_objective(objective)
    params = objective.check_params(params)
    _check_cross_entropy(objective)
    check_choice("method", method, JACOBIAN_METHODS)
    idx = np.arange(objective.n_samples) if idx is None else np.asarray(idx, dtype=np.int64)
    C, P = objective.n_classes, params.size
    check_array_fits("the per-sample vectors delta", (idx.size, C, P))
    J = per_sample_jacobians(objective, params, method, idx=idx)
    # S[i, :, k] = sqrt(p_ik) (e_k − p_i): the factor of A_i = diag p_i − p_i p_iᵀ, so δ_{i,k} = J_iᵀ S[i, :, k]
    S = objective.loss_function.hessian_factor(objective.logits(params, objective.X[idx]))
    return np.einsum("ncp,nck->nkp", J, S)


def _class_weights(counts: np.ndarray, weighting: str) -> np.ndarray:
    check_choice("weighting", weighting, WEIGHTINGS)
    if weighting == "samples":
        return counts / counts.sum()
    if np.any(counts == 0):
        missing = np.flatnonzero(counts == 0).tolist()
        raise ValueError(
            f"weighting='classes' averages over every class, but class(es) {missing} have no samples; "
            "use weighting='samples'"
        )
    return np.full(counts.size, 1.0 / counts.size)


def _means_from_sums(
    sums: np.ndarray,
    counts: np.ndarray,
    weights: np.ndarray,
    weighting: str,
    trace_G: float | None = None,
    trace_G3: float | None = None,
) -> ClassMeans:
    delta_cc = sums / np.maximum(counts, 1)[:, None, None]  # an empty class (weight 0) keeps zeros
    return _means_from_deltas(delta_cc, counts, weights, weighting, trace_G, trace_G3)


def _means_from_deltas(delta_cc, counts, weights, weighting, trace_G=None, trace_G3=None) -> ClassMeans:
    C = counts.size
    off = ~np.eye(C, dtype=bool)
    delta_c = np.einsum("ckp,ck->cp", delta_cc, off.astype(float)) / (C - 1)
    nu = (delta_cc - delta_c[:, None, :]) * off[:, :, None]
    return ClassMeans(delta_cc, delta_c, nu, weights, counts, weighting, trace_G, trace_G3)


def class_means_from_deltas(delta_cc, counts, weighting: str = "samples") -> ClassMeans:
    r""":class:`ClassMeans` from given class means :math:`\delta_{c,c'}` (``(C, C, P)``) and class sizes
    :math:`N_c`: :math:`\delta_c`, :math:`\nu_{c,c'}` and the weights :math:`\pi_c` as in
    :func:`class_means` (for models and counterfactuals built outside it; no traces)."""
    delta_cc = as_float_array("delta_cc", delta_cc)
    counts = np.asarray(counts)
    if delta_cc.ndim != 3 or delta_cc.shape[:2] != (counts.size, counts.size):
        raise ValueError(f"delta_cc must have shape (C, C, P) with C = {counts.size}; got {delta_cc.shape}")
    return _means_from_deltas(delta_cc, counts, _class_weights(counts, weighting), weighting)


def class_means(
    objective: Objective, params, weighting: str = "samples", method: str = "backprop"
) -> ClassMeans:
    r"""Class means :math:`\delta_{c,c'}`, :math:`\delta_c`, :math:`\nu_{c,c'}` and the weights :math:`\pi_c`.

    Computed class by class (memory :math:`N_c \cdot C \cdot P` at a time); no P×P matrix is formed.
    See the module docstring for the definitions and for ``weighting``. The same pass gives
    ``trace_G`` and ``trace_G3`` (:class:`ClassMeans`), the within-class one from the deviations
    :math:`\delta_{i,c'} - \delta_{c,c'}` (not as a difference of traces).
    """
    objective = check_objective(objective)
    params = objective.check_params(params)
    _check_cross_entropy(objective)
    C, P = objective.n_classes, params.size
    counts = np.bincount(objective.y, minlength=C)
    weights = _class_weights(counts, weighting)
    sums = np.zeros((C, C, P))
    trace_G = trace_G3 = 0.0
    for c in range(C):
        idx = np.flatnonzero(objective.y == c)
        if idx.size:
            d = per_sample_deltas(objective, params, idx, method)  # (N_c, C, P)
            sums[c] = d.sum(axis=0)
            trace_G += weights[c] * float(np.einsum("nkp,nkp->", d, d)) / idx.size
            d -= sums[c] / idx.size  # deviations from the class means δ_{c,c'}
            trace_G3 += weights[c] * float(np.einsum("nkp,nkp->", d, d)) / idx.size
    return _means_from_sums(sums, counts, weights, weighting, trace_G, trace_G3)


def class_mean_decomposition(
    objective: Objective, params, weighting: str = "samples", method: str = "backprop"
) -> ClassMeanDecomposition:
    r"""Papyan's split :math:`G = G_0 + G_1 + G_2 + G_3` as dense P×P matrices (P20; theory Eqs. T11-T14).

    :math:`G_0, G_1, G_2` are built from the class means, :math:`G_3` from the per-sample deviations
    :math:`\delta_{i,c'} - \delta_{c,c'}` (never as a difference of matrices), so that the sum can be
    tested against an independently computed G. With ``weighting="samples"`` the sum is the G of the
    training loss for any class sizes; with ``"classes"`` it is the class-balanced G (module docstring).
    """
    objective = check_objective(objective)
    params = objective.check_params(params)
    _check_cross_entropy(objective)
    C, P = objective.n_classes, params.size
    check_dense_fits(P, n_matrices=5)
    counts = np.bincount(objective.y, minlength=C)
    weights = _class_weights(counts, weighting)
    sums = np.zeros((C, C, P))
    G3 = np.zeros((P, P))
    trace_G = 0.0
    for c in range(C):
        idx = np.flatnonzero(objective.y == c)
        if idx.size == 0:
            continue
        d = per_sample_deltas(objective, params, idx, method)  # (N_c, C, P)
        sums[c] = d.sum(axis=0)
        trace_G += weights[c] * float(np.einsum("nkp,nkp->", d, d)) / idx.size
        dev = (d - d.mean(axis=0)).reshape(-1, P)
        G3 += (weights[c] / idx.size) * (dev.T @ dev)
    means = _means_from_sums(sums, counts, weights, weighting, trace_G, float(np.trace(G3)))
    w = np.sqrt(weights)
    V0 = w[:, None] * means.delta_cc[np.arange(C), np.arange(C)]
    V1 = np.sqrt(C - 1.0) * w[:, None] * means.delta_c
    V2 = (w[:, None, None] * means.nu).reshape(-1, P)
    return ClassMeanDecomposition(
        **vars(means),
        G0=symmetrize(V0.T @ V0),
        G1=symmetrize(V1.T @ V1),
        G2=symmetrize(V2.T @ V2),
        G3=symmetrize(G3),
    )


def class_means_by_products(objective: Objective, params, weighting: str = "samples") -> ClassMeans:
    r"""The class means of :func:`class_means` by vector-Jacobian products, no per-sample Jacobian formed.

    Since :math:`\delta_{i,c'} = J_i^\top S_i e_{c'}` with :math:`S_i e_{c'} = \sqrt{p_{c'}(x_i)}\,(e_{c'} -
    p(x_i))` (the columns of the factor of :math:`A_i`), the class sums are vector-Jacobian products
    of the logits,

    .. math:: \sum_{i \in c} \delta_{i,c'} = \frac{\partial}{\partial w} \sum_{i \in c} u_{i,c'}^\top f_i(w),
              \qquad u_{i,c'} = S_i e_{c'} \ \text{held fixed},

    one backpropagation of the C cotangents :math:`u_{\cdot,c'}` at once through the samples of class
    c (:meth:`hessian_spectra.mlp.ForwardPass.backward` with a leading axis of C cotangents). The
    cost is about C gradient evaluations and the memory :math:`O(C \cdot P)`, against
    :math:`N \cdot C` Jacobian rows for :func:`class_means`; the result is the same (tested against
    it). The per-sample traces that :func:`class_means` can carry are not computed here.
    """
    from .. import mlp

    objective = check_objective(objective)
    params = objective.check_params(params)
    _check_cross_entropy(objective)
    C, P = objective.n_classes, params.size
    counts = np.bincount(objective.y, minlength=C)
    weights = _class_weights(counts, weighting)
    loss = objective.loss_function
    sums = np.zeros((C, C, P))
    for c in range(C):
        idx = np.flatnonzero(objective.y == c)
        if idx.size == 0:
            continue
        fp = mlp.forward_pass(params, objective.X[idx], objective.layer_sizes, objective.activation)
        S = loss.hessian_factor(fp.logits)  # (N_c, C, C): S[i, :, c'] = sqrt(p_ic') (e_c' − p_i)
        cotangents = np.moveaxis(S, -1, 0)  # (C, N_c, C): one cotangent per class c'
        sums[c] = fp.parameter_gradient(fp.backward(cotangents))
    return _means_from_sums(sums, counts, weights, weighting)


# --------------------------------------------------------------------------------------------
# Eigenvalues from the small Gram matrices
# --------------------------------------------------------------------------------------------


def gram_eigenvalues(vectors) -> np.ndarray:
    r"""Eigenvalues (ascending) of the Gram matrix :math:`V V^\top` of the rows of ``vectors`` (m × P).

    The nonzero eigenvalues of :math:`\sum_j v_j v_j^\top = V^\top V` (P×P) are those of
    :math:`V V^\top` (m×m): an m×m problem instead of a P×P one. The m returned values are the
    nonzero eigenvalues of :math:`V^\top V` padded with zeros (up to round-off) where the rows are
    linearly dependent.
    """
    V = as_float_array("vectors", vectors, ndim=2)
    return scipy.linalg.eigh(symmetrize(V @ V.T), eigvals_only=True)


def g0_eigenvalues_from_gram(means: ClassMeans) -> np.ndarray:
    r"""The C eigenvalues of :math:`G_0` from the Gram of :math:`\sqrt{\pi_c}\,\delta_{c,c}` (ascending)."""
    C = means.n_classes
    return gram_eigenvalues(
        np.sqrt(means.class_weights)[:, None] * means.delta_cc[np.arange(C), np.arange(C)]
    )


def g1_eigenvalues_from_gram(means: ClassMeans) -> np.ndarray:
    r"""The C eigenvalues of :math:`G_1` from the C×C Gram of :math:`\sqrt{(C-1)\pi_c}\,\delta_c`.

    :math:`G_1` has rank ≤ C: these are Papyan's C outliers (P20). Ascending.
    """
    C = means.n_classes
    return gram_eigenvalues(np.sqrt((C - 1.0) * means.class_weights)[:, None] * means.delta_c)


def g2_eigenvalues_from_gram(means: ClassMeans) -> np.ndarray:
    r"""The C(C−1) eigenvalues of :math:`G_2` from the Gram of :math:`\sqrt{\pi_c}\,\nu_{c,c'}`, :math:`c' \ne c`.

    Since :math:`\sum_{c'\ne c}\nu_{c,c'} = 0`, :math:`\mathrm{rank}\,G_2 \le C(C-2)`: at least C of these
    are zero up to round-off. Ascending.
    """
    C = means.n_classes
    off = ~np.eye(C, dtype=bool)
    V = (np.sqrt(means.class_weights)[:, None, None] * means.nu)[off]
    return gram_eigenvalues(V)


def g012_eigenvalues_from_gram(means: ClassMeans) -> np.ndarray:
    r"""The C² eigenvalues of :math:`G_0 + G_1 + G_2 = \sum_c \pi_c \sum_{c'} \delta_{c,c'}\delta_{c,c'}^\top`.

    From the C²×C² Gram of the vectors :math:`\sqrt{\pi_c}\,\delta_{c,c'}`: the nonzero eigenvalues of
    the between-class part (Papyan's C outliers plus the C(C−1) "mini-outliers" of the cross-class
    level), padded with zeros if C² > P or the means are dependent. Ascending.
    """
    C, P = means.n_classes, means.delta_c.shape[1]
    return gram_eigenvalues((np.sqrt(means.class_weights)[:, None, None] * means.delta_cc).reshape(C * C, P))


def class_mean_traces(means: ClassMeans) -> dict:
    r"""Traces of the four terms and of their sum, no P×P matrix formed.

    :math:`\operatorname{tr} G_0 = \sum_c \pi_c \lVert\delta_{c,c}\rVert^2`,
    :math:`\operatorname{tr} G_1 = (C-1)\sum_c \pi_c \lVert\delta_c\rVert^2`,
    :math:`\operatorname{tr} G_2 = \sum_c \pi_c \sum_{c'\ne c} \lVert\nu_{c,c'}\rVert^2` from the class
    means; ``"G3"`` and ``"G"`` are ``means.trace_G3`` and ``means.trace_G``, which :func:`class_means`
    computes from the per-sample vectors. :math:`\operatorname{tr} G_3 / \operatorname{tr} G_1` measures
    the within-class spread against the class-mean level (Papyan, 2020). Returns
    ``{"G0", "G1", "G2", "G3", "G"}``; a ``ValueError`` if ``means`` carries no per-sample traces.
    """
    if means.trace_G is None or means.trace_G3 is None:
        raise ValueError(
            "means must carry the per-sample traces trace_G and trace_G3: pass the result of "
            "class_means(...) or class_mean_decomposition(...)"
        )
    C = means.n_classes
    w = means.class_weights
    return {
        "G0": float(np.sum(w * np.sum(means.delta_cc[np.arange(C), np.arange(C)] ** 2, axis=1))),
        "G1": float((C - 1) * np.sum(w * np.sum(means.delta_c**2, axis=1))),
        "G2": float(np.sum(w[:, None] * np.sum(means.nu**2, axis=2))),
        "G3": float(means.trace_G3),
        "G": float(means.trace_G),
    }


def class_mean_eigenvalues(
    objective: Objective, params, weighting: str = "samples", method: str = "backprop"
) -> dict:
    """Eigenvalues of the class-mean terms from their Gram matrices, no P×P matrix formed.

    Returns ``{"eigvals_G1": (C,), "eigvals_G012": (C²,), "eigvals_G0": (C,), "eigvals_G2":
    (C(C−1),)}`` (ascending). Cross-entropy only (``ValueError`` otherwise). These are the keys the
    CLI's ``hessian --decompose`` writes (``docs/file-format.md``).
    """
    means = class_means(objective, params, weighting=weighting, method=method)
    return {
        "eigvals_G1": g1_eigenvalues_from_gram(means),
        "eigvals_G012": g012_eigenvalues_from_gram(means),
        "eigvals_G0": g0_eigenvalues_from_gram(means),
        "eigvals_G2": g2_eigenvalues_from_gram(means),
    }


# --------------------------------------------------------------------------------------------
# Knock-outs
# --------------------------------------------------------------------------------------------


def class_mean_basis(means: ClassMeans, rtol: float = 1e-10) -> np.ndarray:
    r"""Orthonormal basis (P × k) of :math:`\mathrm{span}\{\delta_c\}`, the range of :math:`G_1`.

    From a thin SVD of the stacked :math:`\delta_c`; singular values below ``rtol`` times the largest
    are dropped (round-off level for float64 means, our choice).
    """
    U, s, _ = np.linalg.svd(means.delta_c.T, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return U[:, :0]
    return U[:, s > rtol * s[0]]


def knock_out(M, means: ClassMeanDecomposition, method: str = "subtract_G1") -> np.ndarray:
    r"""Remove the class-mean level from a P×P matrix ``M`` (e.g. G or H), as P20 does.

    - ``"subtract_G1"``: :math:`M - G_1`;
    - ``"project_class_means"``: :math:`\Pi M \Pi` with :math:`\Pi = I - QQ^\top`, Q an orthonormal
      basis of :math:`\mathrm{span}\{\delta_c\}` (:func:`class_mean_basis`): M restricted to the
      orthogonal complement of the class means (the projected directions become exact zeros).
    """
    M = as_float_array("M", M, ndim=2)
    check_choice("method", method, KNOCK_OUTS)
    P = means.delta_c.shape[1]
    if M.shape != (P, P):
        raise ValueError(f"M must be P×P with P = {P} (the length of the class means); got {M.shape}")
    if method == "subtract_G1":
        if getattr(means, "G1", None) is None:  # ClassMeans (no dense terms) has no G1
            raise ValueError("method='subtract_G1' needs the dense G1: pass class_mean_decomposition(...)")
        return M - means.G1
    Q = class_mean_basis(means)
    MQ = M @ Q
    out = M - MQ @ Q.T - Q @ MQ.T + Q @ (Q.T @ MQ) @ Q.T
    return symmetrize(out)


def knock_out_operator(op, means: ClassMeans, method: str = "subtract_G1") -> LinearOperator:
    r"""The knock-outs of :func:`knock_out` applied to a matrix-free P×P operator ``op`` (e.g.
    :func:`hessian_spectra.curvature.matrix_free.gauss_newton_operator`), no P×P matrix formed.

    - ``"subtract_G1"``: :math:`v \mapsto Mv - V_1^\top (V_1 v)`, :math:`G_1 = V_1^\top V_1` with the C
      rows :math:`\sqrt{(C-1)\pi_c}\,\delta_c`;
    - ``"project_class_means"``: :math:`v \mapsto \Pi M \Pi v`, :math:`\Pi = I - QQ^\top` with Q the
      orthonormal basis of :math:`\mathrm{span}\{\delta_c\}` (:func:`class_mean_basis`).

    For :math:`M \succeq 0` and either knock-out, the largest eigenvalue of the result is at least
    :math:`\lambda_{k+1}(M)`, k = rank of the part removed (Weyl's inequality for the subtraction of a
    rank-k positive part; Cauchy interlacing for the compression to a subspace of codimension k), so
    :math:`\lambda_{C+1}(M)` is the level an exact knock-out of C outliers reaches.
    """
    check_choice("method", method, KNOCK_OUTS)
    P = means.delta_c.shape[1]
    if op.shape != (P, P):
        raise ValueError(f"op must be P×P with P = {P} (the length of the class means); got {op.shape}")
    if method == "subtract_G1":
        V1 = np.sqrt((means.n_classes - 1.0) * means.class_weights)[:, None] * means.delta_c

        def product(v):
            v = np.ravel(v)
            return np.ravel(op.matvec(v)) - V1.T @ (V1 @ v)

    else:
        Q = class_mean_basis(means)

        def project(v):
            return v - Q @ (Q.T @ v)

        def product(v):
            return project(np.ravel(op.matvec(project(np.ravel(v)))))

    return LinearOperator((P, P), matvec=product, rmatvec=product, dtype=np.float64)


def outliers_vs_g1(eigvals, eigvals_G1) -> dict:
    r"""Compare the top-k eigenvalues of a matrix (e.g. H) with the k eigenvalues of :math:`G_1`.

    Returns ``{"top": top-k of ``eigvals`` (descending), "G1": eig(G1) (descending), "rel_diff":
    |top − G1| / G1}`` with k = ``len(eigvals_G1)``.
    """
    w = np.sort(as_float_array("eigvals", eigvals, ndim=1))[::-1]
    g = np.sort(as_float_array("eigvals_G1", eigvals_G1, ndim=1))[::-1]
    if g.size > w.size:
        raise ValueError(f"eigvals has {w.size} values, fewer than the {g.size} of eigvals_G1")
    top = w[: g.size]
    return {"top": top, "G1": g, "rel_diff": np.abs(top - g) / np.abs(g)}
