r"""The Gauss-Newton / residual split of the Hessian, every term by its own route.

For :math:`L(w) = \frac1N \sum_i \ell(f_i(w), y_i)` with logits :math:`f_i = f(w, x_i) \in \mathbb R^C`
and per-sample Jacobians :math:`J_i = \partial f_i / \partial w \in \mathbb R^{C \times P}`, the chain
rule applied twice gives (Sagun et al., 2018, Sec. 2; ``docs/theory.md``, Eqs. T1-T3)

.. math::

    \nabla L = \frac1N \sum_i J_i^\top r_i, \qquad
    \nabla^2 L = \underbrace{\frac1N \sum_i J_i^\top A_i J_i}_{G}
               + \underbrace{\frac1N \sum_i \sum_c r_{ic}\, \nabla^2 f_{ic}}_{R},

with :math:`r_i = \nabla_f \ell(f_i, y_i)` and :math:`A_i = \nabla_f^2 \ell(f_i, y_i)`
(:func:`hessian_spectra.losses.logit_gradient`, :func:`hessian_spectra.losses.logit_hessian`).

Each matrix here is computed by a route that does not go through the others, so that the identities
between them are real tests:

- :func:`gauss_newton` — :math:`G` from per-sample Jacobians (:func:`per_sample_jacobians`: autograd on a
  per-sample copy of the parameters, or the closed-form backward pass of the MLP);
- :func:`gauss_newton_linearized` — :math:`G` as the Hessian of the loss of the network linearized at
  :math:`w`;
- :func:`residual_term` — :math:`R` as the Hessian of :math:`v \mapsto \frac1N \sum_i r_i^\top f_i(v)`
  with the residuals frozen at :math:`w` (never as :math:`H - G`);
- :func:`model_fisher` — the Fisher information :math:`\mathbb E_{\hat y \sim p}[\nabla\ell_{\hat y}
  \nabla\ell_{\hat y}^\top]` of the model's own predictive distribution, an exact sum over classes
  (equals :math:`G` for cross-entropy);
- :func:`empirical_fisher`, :func:`gradient_covariance`, :func:`empirical_fisher_residual` — S18's own
  split of the cross-entropy Hessian through :math:`\ell = -\log p_y`, from per-sample loss gradients.

All matrices are dense P×P float64 arrays in the flat layout of :mod:`hessian_spectra.mlp`, with the
:math:`1/N` of the mean loss included.

Short names used here:

- S18: Sagun, Evci, Güney, Dauphin & Bottou (2018),
  *Empirical Analysis of the Hessian of Over-Parametrized Neural Networks*.
"""

from __future__ import annotations

import warnings

import autograd.numpy as anp
import numpy as np
from autograd import hessian as _autograd_hessian
from autograd import make_vjp
from autograd.differential_operators import make_jvp_reversemode
from autograd.scipy.special import logsumexp

from .. import mlp
from .._checks import check_array_fits, check_choice, check_dense_fits, check_labels
from ..losses import softmax
from ..objective import Objective, check_objective
from ..spectrum import symmetrize

JACOBIAN_METHODS = ("autograd", "backprop")

#: Memory for one block of per-sample Jacobians when a matrix is accumulated over samples
#: (our choice: large enough that BLAS calls dominate, small enough to stay out of the way).
CHUNK_BYTES = 64 * 2**20


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _chunks(n_samples: int, bytes_per_sample: int, chunk_size: int | None):
    """Consecutive slices of the samples holding about :data:`CHUNK_BYTES` of Jacobians each."""
    if chunk_size is None:
        chunk_size = max(1, CHUNK_BYTES // max(1, bytes_per_sample))
    elif isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer) or chunk_size < 1:
        raise ValueError(f"chunk_size must be a positive integer or None; got {chunk_size!r}")
    for start in range(0, n_samples, int(chunk_size)):
        yield slice(start, min(n_samples, start + int(chunk_size)))


def _dense_hessian(fun, x) -> np.ndarray:
    """``autograd.hessian(fun)(x)`` as a symmetrized float64 array.

    autograd warns "Output seems independent of input" when a gradient is constant (e.g. R of a
    model linear in its parameters, which is exactly zero); that zero is the right answer, so the
    warning is silenced here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Output seems independent of input")
        return symmetrize(np.asarray(_autograd_hessian(fun)(x), dtype=np.float64))


def _per_sample_logits(param_rows, X, objective: Objective):
    """Logits when sample ``i`` uses its own copy ``param_rows[i]`` of the parameters, shape (N, C).

    ``param_rows`` has shape ``(N, P)``; with every row equal to ``w`` this is ``forward(w, X)``,
    and the derivative of :math:`\\sum_i u_i^\\top f_i` with respect to row ``i`` is
    :math:`J_i^\\top u_i`: per-sample derivatives from one reverse pass (the "per-example gradient"
    trick). Each sample is a stack entry of :func:`hessian_spectra.mlp.forward` with one input row.
    """
    return mlp.forward(param_rows, X[:, None, :], objective.layer_sizes, objective.activation)[:, 0, :]


# --------------------------------------------------------------------------------------------
# Per-sample Jacobians J_i = ∂f_i/∂w  (N, C, P)
# --------------------------------------------------------------------------------------------


def _jacobians_autograd(objective: Objective, params: np.ndarray, X: np.ndarray) -> np.ndarray:
    """:math:`J_i` for the rows of ``X`` by autograd: one forward and C reverse passes in all."""
    n, c = X.shape[0], objective.n_classes
    rows = np.tile(params, (n, 1))
    vjp, _ = make_vjp(lambda W: _per_sample_logits(W, X, objective))(rows)
    J = np.empty((n, c, params.size))
    for k in range(c):
        e_k = np.zeros((n, c))
        e_k[:, k] = 1.0
        J[:, k, :] = vjp(e_k)  # row i: ∂f_ik/∂w = J_i[k, :]
    return J


def _jacobians_backprop(objective: Objective, params: np.ndarray, X: np.ndarray) -> np.ndarray:
    r""":math:`J_i` for the rows of ``X`` by the closed-form backward pass of the MLP (NumPy).

    :meth:`hessian_spectra.mlp.ForwardPass.backward` with the C one-hot cotangents gives
    :math:`B_{l,i} = \partial f_i / \partial z_{l,i}` (C × n_l; :math:`B_{L,i} = I_C`,
    :math:`B_{l-1,i} = (B_{l,i} W_l^\top)\,\mathrm{diag}\,\sigma'(z_{l-1,i})`); the rows of :math:`J_i`
    for layer l are :math:`\partial f_{ic}/\partial W_l[a,b] = h_{l-1,i,a} B_{l,i,c,b}` and
    :math:`\partial f_{ic}/\partial b_l[b] = B_{l,i,c,b}`.
    """
    fp = mlp.forward_pass(params, X, objective.layer_sizes, objective.activation)
    n, c = X.shape[0], objective.n_classes
    one_hot_cotangents = np.broadcast_to(np.eye(c)[:, None, :], (c, n, c))  # [k, i, :] = e_k
    J = np.empty((n, c, params.size))
    slices = mlp.param_slices(objective.layer_sizes)
    for h, B, (w_sl, b_sl) in zip(fp.hs, fp.backward(one_hot_cotangents), slices, strict=True):
        B = B.transpose(1, 0, 2)  # (n, C, n_l): B[i, k, b] = ∂f_ik/∂z_l[b]
        J[:, :, w_sl] = (h[:, None, :, None] * B[:, :, None, :]).reshape(n, c, -1)
        J[:, :, b_sl] = B
    return J


def per_sample_jacobians(objective: Objective, params, method: str = "autograd", idx=None) -> np.ndarray:
    r"""Per-sample Jacobians of the logits, :math:`J_i = \partial f(w, x_i)/\partial w`, shape (n, C, P).

    ``method="autograd"``: every sample gets its own copy of the parameters (an (n, P) array whose rows
    all equal ``params``); one forward pass and C reverse passes of
    :math:`\sum_i f_{ik}(w_i)` give all n·C rows at once — vectorized over samples, no loop over
    them. ``method="backprop"``: the closed-form backward pass of the MLP in NumPy,
    :math:`\partial f_i/\partial W_l = h_{l-1,i} \otimes B_{l,i}`. The two routes share no code
    beyond the forward pass's definition; the tests check they agree to round-off. ``idx`` selects
    samples (default: all N).
    """
    objective = check_objective(objective)
    params = objective.check_params(params)
    check_choice("method", method, JACOBIAN_METHODS)
    X = objective.X if idx is None else objective.X[np.asarray(idx, dtype=np.int64)]
    check_array_fits("the per-sample Jacobians", (X.shape[0], objective.n_classes, params.size))
    fn = _jacobians_autograd if method == "autograd" else _jacobians_backprop
    return fn(objective, params, X)


# --------------------------------------------------------------------------------------------
# G and R
# --------------------------------------------------------------------------------------------


def gauss_newton(
    objective: Objective, params, method: str = "autograd", chunk_size: int | None = None
) -> np.ndarray:
    r"""Gauss-Newton term :math:`G = \frac1N \sum_i J_i^\top A_i J_i` (S18, Sec. 2; theory Eq. T2).

    :math:`A_i` is the Hessian of the loss in logit space: :math:`\mathrm{diag}(p_i) - p_i p_i^\top`
    for cross-entropy, :math:`I_C` for MSE, used through its factor :math:`A_i = S_i S_i^\top`
    (:meth:`hessian_spectra.losses.Loss.hessian_factor`), so that :math:`G = \frac1N \sum_i M_i M_i^\top` with
    :math:`M_i = J_i^\top S_i`: a symmetric rank-k update (half the flops of a general product, and
    positive semidefinite by construction). :math:`J_i` come from :func:`per_sample_jacobians`
    (``method``), accumulated over blocks of ``chunk_size`` samples (default: ~64 MiB of Jacobians
    per block).
    """
    objective = check_objective(objective)
    params = objective.check_params(params)
    check_choice("method", method, JACOBIAN_METHODS)
    P, C, N = params.size, objective.n_classes, objective.n_samples
    check_dense_fits(P, n_matrices=2)
    fn = _jacobians_autograd if method == "autograd" else _jacobians_backprop
    logits = np.asarray(objective.logits(params))
    G = np.zeros((P, P))
    for sl in _chunks(N, 8 * C * P, chunk_size):
        J = fn(objective, params, objective.X[sl])
        S = objective.loss_function.hessian_factor(logits[sl])
        M = np.ascontiguousarray(np.einsum("ncp,nck->nkp", J, S).reshape(-1, P))
        G += M.T @ M  # NumPy calls BLAS syrk for a product of an array with its own transpose
    return symmetrize(G / N)


def residual_term(objective: Objective, params) -> np.ndarray:
    r"""Residual term :math:`R = \frac1N \sum_i \sum_c r_{ic} \nabla^2 f_{ic}` (S18, Sec. 2; Eq. T3).

    Computed as ``autograd.hessian`` of :math:`v \mapsto \frac1N \sum_i r_i^\top f(v, x_i)` with the
    residuals :math:`r_i = \nabla_f\ell(f_i(w), y_i)` frozen at ``params``: its Hessian at :math:`w`
    is exactly R, and no G or H enters. Symmetrized.
    """
    objective = check_objective(objective)
    params = objective.check_params(params)
    check_dense_fits(params.size, n_matrices=2)
    logits = np.asarray(objective.logits(params))
    r = objective.loss_function.gradient(logits, objective.y) / objective.n_samples

    def frozen_residual_objective(v):
        return anp.sum(objective.logits(v) * r)

    return _dense_hessian(frozen_residual_objective, params)


def gauss_newton_linearized(objective: Objective, params) -> np.ndarray:
    r"""G as the Hessian of the loss of the network linearized at ``params`` (theory Eq. T5).

    :math:`f^{\rm lin}_i(v) = f_i(w) + J_i (v - w)`, with :math:`J_i(v-w)` a Jacobian-vector product
    (autograd's reverse-on-reverse JVP, no Jacobian is formed), and
    :math:`L^{\rm lin}(v) = \frac1N\sum_i \ell(f^{\rm lin}_i(v), y_i)`. Since :math:`f^{\rm lin}` is
    linear in v, :math:`\nabla^2 L^{\rm lin}(w) = \frac1N\sum_i J_i^\top A_i J_i = G` exactly — the
    route curvlinops uses for its reference GGN. Costs P reverse passes through a doubled graph.
    """
    objective = check_objective(objective)
    params = objective.check_params(params)
    check_dense_fits(params.size, n_matrices=2)
    f0 = np.asarray(objective.logits(params))
    jvp = make_jvp_reversemode(objective.logits)(params)
    loss_fn = objective.loss_function.mean

    def linearized_loss(v):
        return loss_fn(f0 + jvp(v - params), objective.y)

    return _dense_hessian(linearized_loss, params)


# --------------------------------------------------------------------------------------------
# Per-sample loss gradients, the empirical Fisher, the gradient covariance, the model's Fisher
# --------------------------------------------------------------------------------------------


def _loss_gradients_rows(objective: Objective, params: np.ndarray, X, y) -> np.ndarray:
    """Rows :math:`\\nabla_w \\ell(f(w, x_i), y_i)` for the given samples, one reverse pass."""
    n = X.shape[0]
    loss_fn = objective.loss_function.mean  # mean over samples: multiply back by n
    rows = np.tile(params, (n, 1))
    vjp, _ = make_vjp(lambda W: n * loss_fn(_per_sample_logits(W, X, objective), y))(rows)
    return vjp(1.0)


def per_sample_loss_gradients(objective: Objective, params, y=None) -> np.ndarray:
    r"""Per-sample loss gradients :math:`g_i = \nabla_w \ell(f(w, x_i), y_i) = J_i^\top r_i`, shape (N, P).

    By autograd on a per-sample copy of the parameters (one reverse pass for all samples). ``y``
    replaces the labels (e.g. with a class :math:`\hat y` for every sample, see
    :func:`model_fisher`); the default is the objective's own labels. Their mean is
    :math:`\nabla L(w)`.
    """
    objective = check_objective(objective)
    params = objective.check_params(params)
    if y is None:
        y = objective.y
    else:
        y = check_labels("y", y, objective.n_samples, objective.n_classes)
    check_array_fits("the per-sample gradients", (objective.n_samples, params.size))
    return _loss_gradients_rows(objective, params, objective.X, y)


def empirical_fisher(objective: Objective, params) -> np.ndarray:
    r"""Empirical Fisher :math:`G_{\rm emp} = \frac1N \sum_i g_i g_i^\top`, :math:`g_i = \nabla_w\ell_i`.

    The uncentred second moment of the per-sample loss gradients (S18, Sec. 2, the first term of
    the split through :math:`\ell = -\log p_y`; theory Eq. T7). It uses the observed labels, where
    :math:`G` (:func:`model_fisher`) averages over labels drawn from the model.
    """
    g = per_sample_loss_gradients(objective, params)
    check_dense_fits(g.shape[1], n_matrices=2)
    return symmetrize(g.T @ g / g.shape[0])


def gradient_covariance(objective: Objective, params) -> np.ndarray:
    r"""Centred gradient covariance :math:`\Sigma = \frac1N \sum_i (g_i - \bar g)(g_i - \bar g)^\top`.

    :math:`\bar g = \frac1N\sum_i g_i = \nabla L(w)`; population normalization :math:`1/N` (not
    :math:`1/(N-1)`), so that :math:`\Sigma = G_{\rm emp} - \bar g \bar g^\top` (theory Eq. T9).
    Computed from the centred rows, not from that identity.
    """
    g = per_sample_loss_gradients(objective, params)
    check_dense_fits(g.shape[1], n_matrices=2)
    d = g - g.mean(axis=0)
    return symmetrize(d.T @ d / g.shape[0])


def model_fisher(objective: Objective, params) -> np.ndarray:
    r"""Fisher information of the model's predictive distribution, exact over the classes.

    .. math::

        F = \frac1N \sum_i \mathbb E_{\hat y \sim p(\cdot \mid x_i)}
            \big[\nabla_w \ell(f_i, \hat y)\, \nabla_w \ell(f_i, \hat y)^\top\big]
          = \frac1N \sum_i \sum_{\hat y=1}^{C} p_{\hat y}(x_i)\, g_{i,\hat y}\, g_{i,\hat y}^\top

    with :math:`g_{i,\hat y} = J_i^\top(p_i - e_{\hat y})` computed by autograd for every label
    :math:`\hat y` (C reverse passes). The expectation is a finite sum, so no sampling is involved.
    Since :math:`\mathrm{diag}\,p - pp^\top = \sum_c p_c (e_c - p)(e_c - p)^\top`, F equals the
    Gauss-Newton term G for cross-entropy (theory Eq. T6). Cross-entropy only.
    """
    objective = check_objective(objective)
    params = objective.check_params(params)
    if objective.loss != "cross_entropy":
        raise ValueError(
            f"model_fisher needs loss='cross_entropy' (a categorical model); got loss={objective.loss!r}"
        )
    P, N, C = params.size, objective.n_samples, objective.n_classes
    check_dense_fits(P, n_matrices=2)
    check_array_fits("the per-sample gradients", (N, P))
    p = softmax(objective.logits(params))
    F = np.zeros((P, P))
    for k in range(C):
        g = _loss_gradients_rows(objective, params, objective.X, np.full(N, k))
        F += (g * p[:, k : k + 1]).T @ g
    return symmetrize(F / N)


def empirical_fisher_residual(objective: Objective, params) -> np.ndarray:
    r"""S18's residual for cross-entropy written as :math:`\ell = -\log s`, :math:`s_i = p_{y_i}(x_i)`.

    :math:`\nabla^2\ell_i = \nabla\ell_i\nabla\ell_i^\top - \nabla^2 s_i / s_i`, so
    :math:`H = G_{\rm emp} + R_{\rm emp}` with :math:`R_{\rm emp} = -\frac1N\sum_i \nabla^2 s_i / s_i`
    (theory Eq. T8). Computed as the Hessian of :math:`v \mapsto -\frac1N\sum_i s_i(v)/s_i(w)` with the
    denominators frozen at ``params`` (by autograd; the ratio is evaluated as
    :math:`\exp(\log s_i(v) - \log s_i(w))` for stability).
    """
    objective = check_objective(objective)
    params = objective.check_params(params)
    if objective.loss != "cross_entropy":
        raise ValueError(
            "empirical_fisher_residual is the split of ℓ = -log p_y and needs loss='cross_entropy'; "
            f"got loss={objective.loss!r}"
        )
    check_dense_fits(params.size, n_matrices=2)
    idx = np.arange(objective.n_samples)

    def log_p_true(v):
        f = objective.logits(v)
        return f[idx, objective.y] - logsumexp(f, axis=1)

    log_s0 = np.asarray(log_p_true(params))

    def frozen_ratio(v):
        return -anp.mean(anp.exp(log_p_true(v) - log_s0))

    return _dense_hessian(frozen_ratio, params)


# --------------------------------------------------------------------------------------------
# Contracts used by curvature/__init__.py and the CLI
# --------------------------------------------------------------------------------------------


def reference_term(objective: Objective, params, term: str) -> np.ndarray:
    """The reference engine's independent route to ``term`` (``"G"`` or ``"R"``).

    ``"G"``: :func:`gauss_newton` with autograd per-sample Jacobians; ``"R"``: :func:`residual_term`
    (frozen-residual autograd Hessian). Refuses a P whose dense matrices would not fit in memory.
    """
    objective = check_objective(objective)
    params = objective.check_params(params)
    check_choice("term", term, ("G", "R"))
    check_dense_fits(objective.n_params, n_matrices=2)
    if term == "G":
        return gauss_newton(objective, params, method="autograd")
    return residual_term(objective, params)
