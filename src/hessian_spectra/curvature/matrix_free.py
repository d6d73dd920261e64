r"""Matrix-free curvature: H, G and R as products, never as P×P matrices.

For the loss :math:`L(w) = \frac1N\sum_i \ell(f_i(w), y_i)` with logits :math:`f_i \in \mathbb R^C`
and Jacobians :math:`J_i = \partial f_i/\partial w`, the three curvature operators of the
decomposition :math:`H = G + R` (Sagun et al., 2018, Sec. 2) act on a vector :math:`v \in \mathbb R^P` as

.. math::

    Hv &= \frac{d}{d\varepsilon}\nabla L(w + \varepsilon v)\Big|_{\varepsilon=0}
          &&\text{(forward mode over reverse mode, Pearlmutter, 1994)}\\
    Gv &= \frac1N\sum_i J_i^\top A_i (J_i v)
          &&\text{(one JVP, a C×C product per sample, one VJP; Schraudolph, 2002)}\\
    Rv &= \nabla^2\Big[\,w' \mapsto \frac1N \sum_i r_i^\top f_i(w')\Big]\, v
          &&\text{(the residuals } r_i = \nabla_f\ell(f_i(w), y_i) \text{ frozen at } w)

with :math:`A_i = \nabla_f^2\ell` (``diag p − p pᵀ`` for softmax cross-entropy, ``I`` for MSE).
R gets its own route (it is *not* computed as ``Hv − Gv``), so ``H = G + R`` is a check, not an
identity of the code.

Each product costs a few forward/backward passes and keeps only O(P + N·Σ widths) floats: the
data, the activations of one pass, their tangents and a few P-vectors. The operators are
``scipy.sparse.linalg.LinearOperator`` objects, so ``eigsh``, ``cg`` and the algorithms of
:mod:`hessian_spectra.curvature.lanczos` run on them directly; each records the number of
products it has served in ``n_products``.

Short names used here:

- G19: Ghorbani, Krishnan & Xiao (2019),
  *An Investigation into Neural Net Optimization via Hessian Eigenvalue Density*.
"""

from __future__ import annotations

import numpy as np
from autograd import grad, make_jvp, make_vjp
from scipy.sparse.linalg import LinearOperator

from .. import mlp
from .._checks import check_choice, check_positive_int, non_finite_result
from ..objective import Objective, check_objective
from .lanczos import (
    DEFAULT_EIGENSOLVER,
    DEFAULT_TOL,
    CountingOperator,
    LanczosBudgetWarning,
    LanczosClusterWarning,
    LanczosNoConvergenceError,
    density_from_nodes,
    extreme_eigenpairs,
    gauss_quadrature,
    hutchinson_trace,
    lanczos,
    slq,
    smoothing_variance,
)
from .terms import TERMS

__all__ = [
    "CurvatureOperator",
    "CountingOperator",
    "LanczosBudgetWarning",
    "LanczosClusterWarning",
    "LanczosNoConvergenceError",
    "curvature_operator",
    "density_from_nodes",
    "extreme_eigenpairs",
    "gauss_newton_operator",
    "gauss_quadrature",
    "hessian_operator",
    "hutchinson_trace",
    "lanczos",
    "residual_operator",
    "slq",
    "smoothing_variance",
    "spectral_density",
    "top_eigenvalues",
    "trace_estimate",
]


class CurvatureOperator(LinearOperator):
    """A symmetric P×P curvature operator given by its product ``v ↦ M v``.

    Attributes
    ----------
    term : ``"H"``, ``"G"`` or ``"R"``.
    n_products : number of vectors multiplied so far (a ``matmat`` with m columns counts m).

    A product of a finite vector that comes out with NaN or infinite entries raises
    :class:`hessian_spectra.NonFiniteResultError` (the network overflows float64 at ``params``)
    instead of handing the eigensolver a vector it cannot use.
    """

    def __init__(self, product, n_params: int, term: str, objective: Objective, params: np.ndarray):
        super().__init__(dtype=np.float64, shape=(n_params, n_params))
        self._product = product
        self._at = (objective, params)
        self.term = term
        self.n_products = 0

    def _apply(self, x):
        x = np.asarray(x)
        if np.iscomplexobj(x):  # the operator is real: act on both parts
            return self._apply(x.real) + 1j * self._apply(x.imag)
        x = np.asarray(x, dtype=np.float64).reshape(self.shape[1])
        self.n_products += 1
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused just below
            y = np.asarray(self._product(x), dtype=np.float64)
        finite = np.isfinite(y)
        if not finite.all() and np.isfinite(x).all():
            raise non_finite_result(f"the product {self.term}·v", y.size - int(finite.sum()), *self._at)
        return y

    def _matvec(self, x):
        return self._apply(x)

    def _rmatvec(self, x):  # symmetric
        return self._apply(x)

    def _matmat(self, X):
        return np.column_stack([self._apply(X[:, j]) for j in range(X.shape[1])])

    def _adjoint(self):
        return self

    def __repr__(self):
        P = self.shape[0]
        return f"<{P}×{P} matrix-free {self.term} operator, {self.n_products} products so far>"


def _setup(objective: Objective, params):
    params = check_objective(objective).check_params(params)

    def logits_fn(w):
        return mlp.forward(w, objective.X, objective.layer_sizes, objective.activation)

    return params, logits_fn


def hessian_operator(objective: Objective, params) -> CurvatureOperator:
    r"""The Hessian :math:`H = \nabla^2 L(w)` as a matrix-free operator.

    :math:`Hv` is the directional derivative of the gradient, computed by autograd's forward mode
    over its reverse mode: ``make_jvp(grad(L))(w)(v)`` (Pearlmutter, 1994). Cost per product about
    two gradient evaluations; no P×P matrix is formed.
    """
    params, _ = _setup(objective, params)
    grad_L = grad(objective.loss_value)

    def product(v):
        return make_jvp(grad_L)(params)(v)[1]

    return CurvatureOperator(product, objective.n_params, "H", objective, params)


def gauss_newton_operator(objective: Objective, params) -> CurvatureOperator:
    r"""The Gauss-Newton term :math:`G = \frac1N\sum_i J_i^\top A_i J_i` as a matrix-free operator.

    Per product (Schraudolph, 2002; Sagun et al., 2018, Eq. 2):

    1. :math:`u_i = J_i v` for all samples by one forward-mode pass through the logits (N×C);
    2. :math:`s_i = A_i u_i` in closed form: :math:`s_i = p_i\odot u_i - p_i (p_i^\top u_i)` for
       softmax cross-entropy (:math:`A_i = \operatorname{diag}p_i - p_ip_i^\top`), :math:`s_i = u_i`
       for MSE (:math:`A_i = I`);
    3. :math:`Gv = \frac1N\sum_i J_i^\top s_i` by one reverse-mode pass (the forward trace of the
       logits is recorded once, when the operator is built, and reused).

    Never forms J (N·C×P) nor G.
    """
    params, logits_fn = _setup(objective, params)
    vjp, logits = make_vjp(logits_fn)(params)
    logits = np.asarray(logits, dtype=np.float64)
    n = objective.n_samples
    loss = objective.loss_function

    def product(v):
        u = np.asarray(make_jvp(logits_fn)(params)(v)[1])  # J v, shape (N, C)
        s = loss.hessian_vector_product(logits, u)  # A_i u_i per sample, A_i never formed
        return np.asarray(vjp(s)) / n  # (1/N) Σ_i J_iᵀ s_i

    return CurvatureOperator(product, objective.n_params, "G", objective, params)


def residual_operator(objective: Objective, params) -> CurvatureOperator:
    r"""The residual term :math:`R = \frac1N\sum_i\sum_c r_{ic}\nabla^2 f_{ic}` as a matrix-free operator.

    With the logit gradients :math:`r_i = \nabla_f\ell(f_i(w), y_i)` (``p_i − e_{y_i}`` for
    cross-entropy, ``f_i − e_{y_i}`` for MSE) computed once at ``w`` and then held fixed, R is the
    Hessian of the scalar :math:`\psi(w') = \frac1N\sum_i r_i^\top f_i(w')`, so :math:`Rv` is the
    forward-over-reverse product of :math:`\psi` at ``w``. This is an independent route: R is not
    obtained as ``Hv − Gv``.
    """
    params, logits_fn = _setup(objective, params)
    logits = np.asarray(logits_fn(params), dtype=np.float64)
    r = objective.loss_function.gradient(logits, objective.y)  # (N, C), frozen
    n = objective.n_samples

    def frozen_residual_objective(w):
        return np.sum(r * logits_fn(w)) / n

    grad_psi = grad(frozen_residual_objective)

    def product(v):
        return make_jvp(grad_psi)(params)(v)[1]

    return CurvatureOperator(product, objective.n_params, "R", objective, params)


_BUILDERS = {"H": hessian_operator, "G": gauss_newton_operator, "R": residual_operator}


def curvature_operator(objective: Objective, params, term: str = "H") -> CurvatureOperator:
    """The operator of ``term`` (``"H"``, ``"G"`` or ``"R"``) at ``params``."""
    check_choice("term", term, TERMS)
    return _BUILDERS[term](objective, params)


# --------------------------------------------------------------------------------------------
# Spectral quantities of an objective
# --------------------------------------------------------------------------------------------


def top_eigenvalues(
    objective: Objective,
    params,
    k: int,
    which: str = "largest",
    term: str = "H",
    tol: float = DEFAULT_TOL,
    seed=0,
    ncv: int | None = None,
    maxiter: int | None = None,
    method: str = DEFAULT_EIGENSOLVER,
    block_size: int | None = None,
    max_products: int | None = None,
):
    r"""The ``k`` largest (descending) or smallest (ascending) eigenvalues of H, G or R, matrix-free.

    Runs :func:`hessian_spectra.curvature.lanczos.extreme_eigenpairs` on the operator of ``term``:
    by default thick-restart Lanczos with full reorthogonalization (Wu & Simon, 2000), stopped when
    every wanted Ritz pair has a residual :math:`\lVert Mq - \theta q\rVert \le \text{tol}\cdot
    \lVert M\rVert` (default ``tol = 1e-5``), or when ``max_products`` products (default 5,000) or
    ``maxiter`` restarts are spent. ``seed`` fixes the start vectors, so the result is reproducible.
    If the budget runs out, the converged values and the others are returned, marked in
    ``info["converged"]``, with a one-line
    :class:`~hessian_spectra.curvature.lanczos.LanczosBudgetWarning`; if none converged,
    :class:`~hessian_spectra.curvature.lanczos.LanczosNoConvergenceError` (an ``ArithmeticError``).

    Returns ``(eigvals, info)``; ``info`` has ``n_products``, ``residuals`` (some eigenvalue lies
    within each), ``error_bounds`` (the quadratic bound where a gap estimate allows),
    ``converged``, ``n_converged``, ``norm_estimate``, ``method``, ``term`` and ``seconds``.
    """
    op = curvature_operator(objective, params, term)
    vals, _, info = extreme_eigenpairs(
        op,
        k,
        which=which,
        tol=tol,
        seed=seed,
        ncv=ncv,
        maxiter=maxiter,
        method=method,
        block_size=block_size,
        max_products=max_products,
    )
    info["term"] = term
    return vals, info


def spectral_density(
    objective: Objective,
    params,
    rng=None,
    n_vectors: int = 10,
    n_steps: int = 90,
    grid=None,
    sigma2=None,
    term: str = "H",
):
    r"""Gaussian-smoothed spectral density of H, G or R by stochastic Lanczos quadrature.

    Estimates :math:`\phi_\sigma(t) = \frac1P\sum_j \mathcal N(t;\lambda_j,\sigma^2)` from
    ``n_vectors`` Rademacher probes and ``n_steps`` Lanczos steps each with full
    reorthogonalization (Ghorbani, Krishnan & Xiao, 2019): nodes and weights from :func:`slq`, the
    density from :func:`density_from_nodes`. Defaults: 10 probes, 90 steps, a kernel width
    relative to the spectrum, :math:`\sigma = 0.32\%\,(\lambda_{\max}-\lambda_{\min})` of the extreme
    nodes (``sigma2="g19"`` for G19's :math:`\sigma^2 = 10^{-5}\max(1, \lambda_{\max}-\lambda_{\min})`,
    or a number), and a 10,000-point grid over the extreme nodes ± 5σ. Costs ``n_vectors · n_steps``
    products and memory ``n_steps × P`` floats.

    Returns ``(grid, density)``.
    """
    op = curvature_operator(objective, params, term)
    n_vectors = check_positive_int("n_vectors", n_vectors)
    n_steps = check_positive_int("n_steps", n_steps)
    nodes, weights = slq(op, n_vectors=n_vectors, n_steps=n_steps, rng=rng)
    return density_from_nodes(nodes, weights, grid=grid, sigma2=sigma2)


def trace_estimate(objective: Objective, params, n_samples: int = 100, rng=None, term: str = "H"):
    r"""Hutchinson's estimate of :math:`\operatorname{tr} M` (M = H, G or R) and its standard error.

    See :func:`hessian_spectra.curvature.lanczos.hutchinson_trace`. Returns ``(estimate, stderr)``.
    """
    return hutchinson_trace(curvature_operator(objective, params, term), n_samples=n_samples, rng=rng)
