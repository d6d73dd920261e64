r"""Lanczos algorithms on any symmetric ``scipy.sparse.linalg.LinearOperator``.

Nothing here knows about networks: every function sees a symmetric operator :math:`A` only
through products :math:`v \mapsto A v`, so the same code runs on the matrix-free curvature
operators of :mod:`hessian_spectra.curvature.matrix_free` and, in the tests, on dense matrices.

- :func:`lanczos`: m steps of the Lanczos process with full reorthogonalization, giving
  :math:`Q A Q^\top = T` tridiagonal (Golub & Van Loan, 2013, Ch. 10, with complete
  reorthogonalization).
- :func:`gauss_quadrature`, :func:`slq`, :func:`density_from_nodes`: stochastic Lanczos
  quadrature (SLQ) of the spectral density :math:`\phi(t) = \frac1P\sum_j \delta(t-\lambda_j)`,
  smoothed by a Gaussian (Ghorbani, Krishnan & Xiao, 2019).
- :func:`extreme_eigenpairs`: the k largest or smallest eigenpairs with residuals and error
  bounds, within a budget of products; by default :func:`thick_restart_lanczos` (Wu & Simon,
  2000; also with blocks), or :func:`lobpcg_eigenpairs` (Knyazev, 2001) or
  :func:`arpack_eigenpairs` (``scipy.sparse.linalg.eigsh``); convergence is judged relative to
  :math:`\lVert A\rVert` for all of them.
- :func:`hutchinson_trace`: :math:`\operatorname{tr} A` from Rademacher probes (Hutchinson, 1990).

Short names used here:

- G19: Ghorbani, Krishnan & Xiao (2019),
  *An Investigation into Neural Net Optimization via Hessian Eigenvalue Density*.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from scipy.linalg import eigh, eigh_tridiagonal
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, aslinearoperator, eigsh, lobpcg

from .._checks import as_float_array, check_choice, check_positive_float, check_positive_int

#: Smoothing variance of Ghorbani et al. (2019) before scaling by the spectral width (their code's
#: default ``sigma_squared = 1e-5``, multiplied by ``max(1, λ_max − λ_min)``).
G19_SIGMA2 = 1e-5

#: Default kernel width of the density relative to the spectral range, σ = c·(λ_max − λ_min):
#: √(1e-5) ≈ 0.32%, the value at which G19's rule gives the same σ for a range of 1.
SIGMA_FRACTION = float(np.sqrt(G19_SIGMA2))

#: Rules of :func:`smoothing_variance`.
SIGMA2_RULES = ("relative", "g19")

#: Number of grid points of the density when no grid is given (Ghorbani et al.'s code: 10,000).
DEFAULT_GRID_POINTS = 10_000

#: Default residual tolerance of the eigensolvers, relative to the spectral norm
#: (see :func:`extreme_eigenpairs`).
DEFAULT_TOL = 1e-5

#: Default budget of operator products of one eigensolver run.
DEFAULT_MAX_PRODUCTS = 5000

#: Smallest default basis of :func:`thick_restart_lanczos` (memory 200·P floats, 89 MB at P = 55,660).
MIN_BASIS = 200

#: The eigensolvers of :func:`extreme_eigenpairs`.
EIGENSOLVERS = ("lanczos", "block", "lobpcg", "arpack")

#: Default eigensolver (docs/matrix-free.md, "Choosing the eigensolver", has the comparison).
DEFAULT_EIGENSOLVER = "lanczos"

#: Default block size of ``method="block"``.
DEFAULT_BLOCK_SIZE = 4

#: Half-width of the default grid beyond the extreme nodes, in units of the smoothing σ: the
#: Gaussian mass left outside is below 3e-7.
GRID_MARGIN_SIGMAS = 5.0


class LanczosNoConvergenceError(ArithmeticError):
    """None of the requested eigenpairs met the tolerance within the budget."""


class CountingOperator(LinearOperator):
    """Wrap a square ``LinearOperator`` and count the matrix-vector products it serves.

    ``n_products`` grows by one per vector: a ``matmat`` with ``m`` columns counts ``m``.
    """

    def __init__(self, op):
        op = aslinearoperator(op)
        if op.shape[0] != op.shape[1]:
            raise ValueError(f"op must be a square operator; got shape {op.shape}")
        super().__init__(dtype=np.float64, shape=op.shape)
        self.inner = op
        self.n_products = 0

    def _matvec(self, x):
        self.n_products += 1
        return self.inner.matvec(x)

    def _rmatvec(self, x):
        self.n_products += 1
        return self.inner.rmatvec(x)

    def _matmat(self, X):
        self.n_products += X.shape[1]
        return self.inner.matmat(X)


def _square_operator(op) -> LinearOperator:
    op = aslinearoperator(op)
    if len(op.shape) != 2 or op.shape[0] != op.shape[1]:
        raise ValueError(f"op must be a square (symmetric) operator; got shape {op.shape}")
    return op


# --------------------------------------------------------------------------------------------
# The Lanczos process
# --------------------------------------------------------------------------------------------


def lanczos(op, v0, n_steps: int, reorthogonalize: bool = True):
    r"""m steps of the symmetric Lanczos process started at ``v0``.

    With :math:`q_1 = v_0/\lVert v_0\rVert` and :math:`\beta_0 q_0 = 0`,

    .. math::

        w_j = A q_j - \alpha_j q_j - \beta_{j-1} q_{j-1},\quad \alpha_j = q_j^\top A q_j,\quad
        \beta_j = \lVert w_j\rVert,\quad q_{j+1} = w_j / \beta_j ,

    so that :math:`Q A Q^\top = T = \operatorname{tridiag}(\beta, \alpha, \beta)` with orthonormal
    rows :math:`Q = [q_1; \dots; q_m]`. In floating point the three-term recurrence loses
    orthogonality as Ritz values converge (Paige, 1976); with ``reorthogonalize`` every new
    vector is orthogonalized twice against all stored ones (classical Gram-Schmidt, twice), which
    keeps :math:`\lVert QQ^\top - I\rVert` at round-off and is what Ghorbani et al. (2019) use.
    Cost: m products plus :math:`O(m^2 P)` flops; memory :math:`m \times P` (only two vectors without
    reorthogonalization).

    The process stops early when :math:`\beta_j \le 100\,\epsilon\,\lVert T\rVert` (the Krylov space
    is invariant: then the quadrature of :func:`gauss_quadrature` is exact for every function).

    Parameters
    ----------
    op : symmetric ``LinearOperator`` (or array) of shape (P, P).
    v0 : array (P,), nonzero starting vector (normalized here).
    n_steps : number of steps m (≤ P; larger values are capped at P).
    reorthogonalize : full reorthogonalization (default) or the plain three-term recurrence.

    Returns
    -------
    alpha : (m',) diagonal of T; ``m' ≤ m`` when the process stopped early.
    beta : (m'-1,) off-diagonal of T.
    Q : (m', P) Lanczos vectors as rows, or ``None`` without reorthogonalization.
    """
    op = _square_operator(op)
    P = op.shape[0]
    v0 = as_float_array("v0", v0, ndim=1)
    if v0.shape[0] != P:
        raise ValueError(f"v0 must have length {P} to match op; got {v0.shape[0]}")
    norm0 = np.linalg.norm(v0)
    if norm0 == 0:
        raise ValueError("v0 must be a nonzero vector")
    m = min(check_positive_int("n_steps", n_steps), P)
    eps = np.finfo(np.float64).eps

    alpha = np.zeros(m)
    beta = np.zeros(m)
    Q = np.empty((m, P)) if reorthogonalize else None
    q = v0 / norm0
    q_prev = np.zeros(P)
    t_norm = 0.0  # Gershgorin bound of ‖T‖, ≤ ‖A‖
    n_done = m
    for j in range(m):
        if reorthogonalize:
            Q[j] = q
        w = np.asarray(op.matvec(q), dtype=np.float64).reshape(P)
        alpha[j] = q @ w
        w = w - alpha[j] * q - (beta[j - 1] * q_prev if j > 0 else 0.0)
        if reorthogonalize:
            basis = Q[: j + 1]
            for _ in range(2):  # "twice is enough" (Kahan; Parlett, 1998)
                w -= basis.T @ (basis @ w)
        beta[j] = np.linalg.norm(w)
        t_norm = max(t_norm, abs(alpha[j]) + beta[j] + (beta[j - 1] if j > 0 else 0.0))
        if j + 1 == m:
            break
        if beta[j] <= 100 * eps * t_norm:
            n_done = j + 1
            break
        q_prev, q = q, w / beta[j]
    alpha = alpha[:n_done]
    beta = beta[: n_done - 1]
    if reorthogonalize:
        Q = Q[:n_done]
    return alpha, beta, Q


def gauss_quadrature(alpha, beta):
    r"""Nodes and weights of the Gauss quadrature defined by a Lanczos tridiagonal matrix.

    With :math:`T = U\operatorname{diag}(\theta)U^\top`, the nodes are the Ritz values
    :math:`\theta_j` and the weights :math:`w_j = U_{1j}^2` (Golub & Welsch, 1969); for
    a unit start vector :math:`v`,

    .. math:: v^\top g(A)\, v \approx \sum_j w_j\, g(\theta_j),

    exact for polynomials :math:`g` of degree ≤ 2m − 1 (Golub & Welsch, 1969; used so by Ghorbani et al., 2019).
    Returns ``(nodes, weights)``, nodes ascending, weights summing to 1.
    """
    alpha = as_float_array("alpha", alpha, ndim=1)
    beta = as_float_array("beta", beta, ndim=1)
    if alpha.size == 0 or beta.size != alpha.size - 1:
        raise ValueError(
            f"beta must have one entry fewer than alpha (nonempty); got {alpha.size} and {beta.size}"
        )
    if alpha.size == 1:
        return alpha.copy(), np.ones(1)
    nodes, U = eigh_tridiagonal(alpha, beta)
    return nodes, U[0] ** 2


# --------------------------------------------------------------------------------------------
# Stochastic Lanczos quadrature and the smoothed density
# --------------------------------------------------------------------------------------------


def slq(op, n_vectors: int = 10, n_steps: int = 90, rng=None):
    r"""Stochastic Lanczos quadrature nodes and weights (Ghorbani et al., 2019).

    For ``n_vectors`` independent probes :math:`v_l = z_l/\sqrt P` with Rademacher entries
    :math:`z_{li} = \pm 1` (so :math:`\mathbb E\, v v^\top = I/P`), run ``n_steps`` Lanczos steps
    with full reorthogonalization from :math:`v_l` and take the Gauss quadrature
    :math:`(\theta_{lj}, w_{lj})` of :func:`gauss_quadrature`. Then for any polynomial ``g`` of
    degree ≤ 2m − 1

    .. math:: \mathbb E \sum_j w_{lj}\, g(\theta_{lj}) = \frac1P \operatorname{tr} g(A)
              = \int g\, d\phi ,

    and the estimate of :math:`\phi` is the average over probes of :math:`\sum_j w_{lj}\delta(t-\theta_{lj})`.
    The defaults (10 probes, 90 steps) follow G19, who found 80–90 steps enough.

    Returns ``(nodes, weights)``, both of shape ``(n_vectors, m)``; a probe whose Lanczos process
    stopped early (invariant subspace) is padded with zero weights at its last node.
    """
    op = _square_operator(op)
    P = op.shape[0]
    n_vectors = check_positive_int("n_vectors", n_vectors)
    n_steps = min(check_positive_int("n_steps", n_steps), P)
    rng = np.random.default_rng(rng)
    nodes = np.zeros((n_vectors, n_steps))
    weights = np.zeros((n_vectors, n_steps))
    for l in range(n_vectors):
        z = rng.choice(np.array([-1.0, 1.0]), size=P)
        alpha, beta, _ = lanczos(op, z / np.sqrt(P), n_steps, reorthogonalize=True)
        theta, w = gauss_quadrature(alpha, beta)
        m = theta.size
        nodes[l, :m], weights[l, :m] = theta, w
        nodes[l, m:] = theta[-1]
    return nodes, weights


def smoothing_variance(lambda_min: float, lambda_max: float, rule: str = "relative") -> float:
    r"""Kernel variance of the smoothed density from the spectral range :math:`w = \lambda_{\max} - \lambda_{\min}`.

    - ``"relative"`` (default): :math:`\sigma = c\,w` with :math:`c` = :data:`SIGMA_FRACTION`
      :math:`= \sqrt{10^{-5}} \approx 0.32\%`, so the kernel covers the same fraction of every
      spectrum, however small its range (a trained network's may be 0.01);
    - ``"g19"``: Ghorbani et al. (2019)'s code, :math:`\sigma^2 = 10^{-5}\max(1, w)`, which is
      absolute (:math:`\sigma \approx 0.0032`) once :math:`w < 1`.

    The two agree at :math:`w = 1`.
    """
    check_choice("rule", rule, SIGMA2_RULES)
    width = float(lambda_max) - float(lambda_min)
    if rule == "g19":
        return G19_SIGMA2 * max(1.0, width)
    if width <= 0.0:
        width = max(abs(float(lambda_max)), abs(float(lambda_min)), 1.0)  # one node: any positive width
    return (SIGMA_FRACTION * width) ** 2


def default_grid(lambda_min: float, lambda_max: float, sigma2: float, n_points: int = DEFAULT_GRID_POINTS):
    r"""Evenly spaced grid on :math:`[\lambda_{\min} - 5\sigma, \lambda_{\max} + 5\sigma]`."""
    sigma = np.sqrt(check_positive_float("sigma2", sigma2))
    n_points = check_positive_int("n_points", n_points, minimum=2)
    margin = GRID_MARGIN_SIGMAS * sigma
    return np.linspace(float(lambda_min) - margin, float(lambda_max) + margin, n_points)


def density_from_nodes(nodes, weights, grid=None, sigma2=None, n_points: int = DEFAULT_GRID_POINTS):
    r"""Gaussian-smoothed density of weighted nodes, averaged over probes.

    .. math:: \hat\phi_\sigma(t) = \frac1{n_v}\sum_{l=1}^{n_v}\sum_j w_{lj}\,
              \frac{1}{\sqrt{2\pi\sigma^2}} e^{-(t-\theta_{lj})^2/(2\sigma^2)}

    (Ghorbani et al., 2019). With weights summing to 1 per probe it integrates to 1 over
    the real line; nothing is renormalized on the grid. Exact eigenvalues ``λ`` give the exact
    smoothed density with ``nodes = λ[None]`` and ``weights = 1/P``.

    Parameters
    ----------
    nodes, weights : arrays of shape ``(n_v, m)`` (or ``(m,)`` for one probe).
    grid : points at which to evaluate; default :func:`default_grid` over the nodes with nonzero
        weight, ``n_points`` points.
    sigma2 : kernel variance :math:`\sigma^2` (a positive number), or the name of a rule of
        :func:`smoothing_variance` applied to the extreme nodes: ``"relative"`` (default, σ = 0.32% of
        the range) or ``"g19"``.

    Returns ``(grid, density)``.
    """
    nodes = np.atleast_2d(as_float_array("nodes", nodes))
    weights = np.atleast_2d(as_float_array("weights", weights))
    if nodes.shape != weights.shape or nodes.ndim != 2:
        raise ValueError(f"nodes and weights must have the same shape; got {nodes.shape}, {weights.shape}")
    if np.any(weights < 0):
        raise ValueError("weights must be nonnegative")
    used = nodes[weights > 0]
    if used.size == 0:
        raise ValueError("weights must not all be zero")
    lo, hi = float(used.min()), float(used.max())
    if sigma2 is None or isinstance(sigma2, str):
        rule = "relative" if sigma2 is None else check_choice("sigma2", sigma2, SIGMA2_RULES)
        sigma2 = smoothing_variance(lo, hi, rule)
    else:
        sigma2 = check_positive_float("sigma2", sigma2)
    if grid is None:
        grid = default_grid(lo, hi, sigma2, n_points)
    grid = as_float_array("grid", grid, ndim=1)
    theta, w = nodes.ravel(), weights.ravel() / nodes.shape[0]
    keep = w > 0
    theta, w = theta[keep], w[keep]
    density = np.zeros(grid.size)
    coeff = 1.0 / np.sqrt(2.0 * np.pi * sigma2)
    chunk = max(1, 2_000_000 // max(1, grid.size))  # bound the (grid × nodes) temporary to ~16 MB
    for s in range(0, theta.size, chunk):
        d = grid[:, None] - theta[None, s : s + chunk]
        density += np.exp(-(d * d) / (2.0 * sigma2)) @ w[s : s + chunk]
    return grid, coeff * density


# --------------------------------------------------------------------------------------------
# Extreme eigenpairs
# --------------------------------------------------------------------------------------------


class LanczosClusterWarning(RuntimeWarning):
    """The wanted eigenvalues reach a cluster at zero that a small block may not resolve.

    Several wanted Ritz values lie within the tolerance of zero, and the wanted set goes beyond
    them. A Krylov method sees at most ``block_size`` directions of a cluster tighter than the
    tolerance, so copies may be missing and larger eigenvalues returned in their place; each value
    still has an eigenvalue within its residual.
    """


class LanczosBudgetWarning(RuntimeWarning):
    """The product budget (or restart limit) ran out before every wanted eigenpair converged.

    The message is one line; the partial result is returned, each value with its residual and
    error bound, and ``info["converged"]`` marks the converged ones.
    """


def _orthonormalize_block(Z, V, rng, scale: float):
    r"""Orthonormalize the rows of ``Z`` against the rows of ``V`` and among themselves.

    One pass of classical Gram-Schmidt against ``V`` (rows assumed orthonormal) and a second one
    if any row lost more than a factor :math:`1/\sqrt2` of its norm in the first (the criterion
    of Daniel, Gragg, Kaufman & Stewart, 1976: "twice is enough"), then row by row within the
    block (twice). Returns ``(F, R, C)`` with ``Z = C^\top V + R^\top F`` where the rows of ``F`` are
    orthonormal and orthogonal to ``V``, ``R`` (b × b) is upper triangular and ``C`` (n × b) holds
    the coefficients on ``V``. A row whose remainder is below :math:`10^3\,\epsilon\,\text{scale}`
    (the block has met an invariant subspace) is replaced by a random unit vector orthogonal to
    everything, with coupling zero; if none can be found (the basis spans the whole space) that
    row of ``F`` is zero.
    """
    eps = np.finfo(np.float64).eps
    Z = np.array(Z, dtype=np.float64, copy=True)
    n, b = V.shape[0], Z.shape[0]
    C = np.zeros((n, b))
    for _ in range(2):
        if not n:
            break
        before = np.linalg.norm(Z, axis=1)
        c = V @ Z.T
        Z -= c.T @ V
        C += c
        if np.all(np.linalg.norm(Z, axis=1) >= before / np.sqrt(2.0)):
            break
    R = np.zeros((b, b))
    F = np.zeros_like(Z)
    threshold = 1e3 * eps * max(scale, np.finfo(np.float64).tiny)
    for i in range(b):
        z = Z[i]
        for _ in range(2):
            if i:
                c = F[:i] @ z
                z = z - c @ F[:i]
                R[:i, i] += c
        norm = np.linalg.norm(z)
        if norm > threshold:
            R[i, i] = norm
            F[i] = z / norm
            continue
        # invariant subspace: continue with a fresh random direction (coupling zero)
        for _attempt in range(3):
            z = rng.standard_normal(Z.shape[1])
            z /= np.linalg.norm(z)
            for _ in range(2):
                if n:
                    z -= (V @ z) @ V
                if i:
                    z -= (F[:i] @ z) @ F[:i]
            norm = np.linalg.norm(z)
            if norm > 0.5:
                F[i] = z / norm
                break
    return F, R, C


def error_bounds(
    theta, residuals, ritz_values, ritz_residuals, which: str = "largest", roundoff: float = 0.0
):
    r"""Error bounds of Ritz values: the residual bound and, with a gap estimate, the quadratic one.

    For a symmetric operator, a unit vector q with Rayleigh quotient θ and residual
    :math:`r = \lVert Aq - \theta q\rVert`, some eigenvalue lies in :math:`[\theta - r, \theta + r]`;
    if no other eigenvalue lies within δ of θ, the eigenvalue nearest θ is within :math:`r^2/\delta`
    (Parlett, 1998, Thms 4.5.1 and 11.7.1). δ is estimated from the other Ritz values of the same
    Rayleigh-Ritz step, each within its residual of an eigenvalue:
    :math:`\hat\delta = \min_{j}(|\theta-\theta_j| - r_j)` over ``ritz_values`` other than θ itself
    (one copy of θ is left out). The quadratic bound is used only when some Ritz value lies on the
    interior side of θ (below it for ``which="largest"``, above for ``"smallest"``), so that the
    gap towards the rest of the spectrum is seen at all; it is as good as δ̂ and can fail if an
    eigenvalue that the basis has not seen lies closer than δ̂.

    Returns ``min(r, r²/δ̂) + roundoff`` per value (``r + roundoff`` where δ̂ ≤ r or no gap is seen).
    """
    check_choice("which", which, ("largest", "smallest"))
    theta = np.atleast_1d(np.asarray(theta, dtype=np.float64))
    residuals = np.atleast_1d(np.asarray(residuals, dtype=np.float64))
    ritz_values = np.atleast_1d(np.asarray(ritz_values, dtype=np.float64))
    ritz_residuals = np.atleast_1d(np.asarray(ritz_residuals, dtype=np.float64))
    bounds = residuals.copy()
    for i, (t, r) in enumerate(zip(theta, residuals, strict=True)):
        if not (np.isfinite(t) and np.isfinite(r)) or ritz_values.size < 2:
            continue
        d = np.abs(ritz_values - t)
        keep = np.ones(d.size, bool)
        keep[int(np.argmin(d))] = False  # θ itself
        inner = ritz_values[keep] < t if which == "largest" else ritz_values[keep] > t
        if not inner.any():
            continue
        gap = float(np.min(d[keep] - ritz_residuals[keep]))
        if gap > r:
            bounds[i] = min(r, r * r / gap)
    return bounds + roundoff


def thick_restart_lanczos(
    op,
    k: int,
    which: str = "largest",
    tol: float = DEFAULT_TOL,
    block_size: int = 1,
    n_basis: int | None = None,
    n_keep: int | None = None,
    max_products: int | None = None,
    maxiter: int | None = None,
    seed=0,
    return_eigenvectors: bool = False,
):
    r"""The ``k`` largest or smallest eigenpairs by thick-restart (block) Lanczos with full reorthogonalization.

    Wu & Simon (2000)'s thick restart, with blocks of ``b = block_size`` vectors (b = 1 is plain
    Lanczos). The basis :math:`V_n` (n ≤ ``n_basis`` orthonormal vectors) satisfies

    .. math:: A V_n = V_n T_n + F^\top S, \qquad T_n = V_n^\top A V_n ,

    with F the next block (orthogonal to :math:`V_n`) and S its b × n coupling. Each step multiplies
    the newest block by A, orthogonalizes the result twice against the whole basis (classical
    Gram-Schmidt; the coefficients fill :math:`T_n`) and orthonormalizes the rest into the next
    block. When the basis is full, the Rayleigh-Ritz pairs :math:`(\theta_i, V_n y_i)` of
    :math:`T_n = Y\Theta Y^\top` have residuals

    .. math:: \lVert A V_n y_i - \theta_i V_n y_i\rVert = \lVert S y_i\rVert

    (exact up to round-off because the basis stays orthonormal), and the restart keeps the
    ``n_keep`` Ritz vectors nearest the wanted end, for which :math:`T` becomes
    :math:`\operatorname{diag}(\theta)` and :math:`S \leftarrow S Y_{\text{keep}}`, then goes on
    from F. Nothing of the Krylov information in the kept vectors is lost (unlike a restart
    from one vector), and converged vectors stay in the basis, so the others are orthogonalized
    against them. When the process meets an invariant subspace it continues from a random vector
    orthogonal to the basis, which is how a repeated eigenvalue's further copies are found.

    A wanted pair has converged when :math:`\lVert S y_i\rVert \le \text{tol}\cdot\lVert A\rVert_{\text{est}}`,
    with :math:`\lVert A\rVert_{\text{est}} = \max|\theta|` over every Ritz value seen (a lower bound
    of :math:`\lVert A\rVert`, so the test is at least as strict as ``tol`` relative to the spectral
    norm). The process stops when all k have converged, or when the next block would exceed
    ``max_products`` products, or after ``maxiter`` restarts; then it returns the current Ritz
    values, with ``info["converged"]`` marking the converged ones.

    Parameters
    ----------
    op : symmetric ``LinearOperator`` of shape (P, P).
    k : number of eigenpairs, ``1 ≤ k``, ``k + 2b ≤ P``.
    which : ``"largest"`` (returned descending) or ``"smallest"`` (ascending).
    tol : residual tolerance relative to the spectral-norm estimate.
    block_size : b, the number of vectors multiplied together (1: Lanczos; > 1: block Lanczos, which
        can see up to b copies of a repeated eigenvalue at once).
    n_basis : basis size (memory ``n_basis × P`` floats); default ``max(3k, MIN_BASIS)`` (MIN_BASIS
        = 200) rounded up to a multiple of b, capped at P − b.
    n_keep : Ritz vectors kept at a restart; default ``k + (n_basis − k) // 4`` (the wanted ones
        plus a quarter of the free space), at most ``n_basis − b``.
    max_products : budget of products; default :data:`DEFAULT_MAX_PRODUCTS`.
    maxiter : maximal number of restarts (default: no limit but the budget).
    seed : seed or Generator of the random start block.
    return_eigenvectors : also return the Ritz vectors (P × k).

    Returns
    -------
    eigvals (k,), eigvecs (P × k) or ``None``, info : dict with ``n_products``, ``n_restarts``,
    ``residuals`` (:math:`\lVert Aq_i - \theta_i q_i\rVert` from the recurrence), ``converged``
    (bool per value), ``norm_estimate``, ``ritz_values`` and ``ritz_residuals`` (the whole last
    Rayleigh-Ritz step, for gap estimates), ``n_basis``, ``n_keep``, ``block_size``,
    ``budget_exhausted``.
    """
    counted = CountingOperator(_square_operator(op))
    P = counted.shape[0]
    k = check_positive_int("k", k)
    check_choice("which", which, ("largest", "smallest"))
    tol = check_positive_float("tol", tol)
    b = check_positive_int("block_size", block_size)
    if k + 2 * b > P:
        raise ValueError(
            f"k + 2·block_size must not exceed the dimension P = {P}; got k = {k}, block_size = {b} "
            "(for all eigenvalues use the dense engine)"
        )
    if n_basis is None:
        m = max(3 * k, MIN_BASIS)
        m = -(-m // b) * b
        m = min(m, P - b)
    else:
        m = check_positive_int("n_basis", n_basis)
        if not k + b <= m <= P - b:
            raise ValueError(
                f"n_basis must satisfy k + block_size <= n_basis <= P - block_size, i.e. "
                f"{k + b} <= n_basis <= {P - b}; got {m}"
            )
    if n_keep is None:
        n_keep = min(k + (m - k) // 4, m - b)
    else:
        n_keep = check_positive_int("n_keep", n_keep)
        if not k <= n_keep <= m - b:
            raise ValueError(
                f"n_keep must satisfy k <= n_keep <= n_basis - block_size = {m - b}; got {n_keep}"
            )
    max_products = (
        DEFAULT_MAX_PRODUCTS if max_products is None else check_positive_int("max_products", max_products)
    )
    if max_products < b:
        raise ValueError(f"max_products must be at least block_size = {b}; got {max_products}")
    maxiter = None if maxiter is None else check_positive_int("maxiter", maxiter, minimum=0)
    rng = np.random.default_rng(seed)
    eps = np.finfo(np.float64).eps

    def apply(F):
        if F.shape[0] == 1:
            return np.asarray(counted.matvec(F[0]), dtype=np.float64).reshape(1, P)
        return np.asarray(counted.matmat(F.T), dtype=np.float64).T

    V = np.empty((m, P))
    T = np.zeros((m, m))
    F, _, _ = _orthonormalize_block(rng.standard_normal((b, P)), V[:0], rng, 1.0)
    S = np.zeros((b, m))  # coupling of F to the basis: A V_n = V_n T_n + Fᵀ S[:, :n]
    n = 0
    scale = 0.0  # max ‖A f‖ over the products so far (≤ ‖A‖), for the invariant-subspace test
    norm_est = 0.0
    n_restarts = 0
    budget_exhausted = False
    s_lo, s_hi = 0, 0  # S is nonzero only in columns [s_lo, s_hi)
    last_check = 0
    while True:
        while n + b <= m:
            if counted.n_products + b > max_products:
                budget_exhausted = True
                break
            V[n : n + b] = F
            coupling = S[:, s_lo:s_hi]
            T[n : n + b, s_lo:s_hi] = coupling
            T[s_lo:s_hi, n : n + b] = coupling.T
            Z = apply(F)
            scale = max(scale, float(np.linalg.norm(Z, axis=1).max()))
            # the known part first: A F = Sᵀ-coupled vectors + F·(FᵀAF) + new directions
            Z -= coupling @ V[s_lo:s_hi]
            diag_block = F @ Z.T
            Z -= diag_block.T @ F
            # then full reorthogonalization against the whole basis (round-off corrections)
            F, R, C = _orthonormalize_block(Z, V[: n + b], rng, scale)
            T[:n, n : n + b] += C[:n]
            T[n : n + b, :n] += C[:n].T
            block = diag_block + C[n : n + b]
            T[n : n + b, n : n + b] = (block + block.T) / 2
            S[:, s_lo:s_hi] = 0.0
            S[:, n : n + b] = R
            s_lo, s_hi = n, n + b
            n += b
            if n < m and n >= k and n - last_check >= max(10 * b, n // 8):
                break  # look at the Ritz values before the basis is full
        if n == 0:
            raise ValueError(f"max_products = {max_products} leaves no room for a single block product")
        last_check = n
        theta, Y = eigh(T[:n, :n])
        res_all = np.linalg.norm(S[:, s_lo:s_hi] @ Y[s_lo:s_hi], axis=0)
        norm_est = max(norm_est, float(np.abs(theta).max()))
        order = np.argsort(theta)[::-1] if which == "largest" else np.argsort(theta)
        wanted = order[: min(k, n)]
        converged = res_all[wanted] <= tol * norm_est
        done = wanted.size == k and bool(np.all(converged))
        if done or budget_exhausted or (maxiter is not None and n_restarts >= maxiter):
            break
        if n + b <= m:
            continue  # basis not full yet: go on filling it
        # thick restart: keep the n_keep Ritz vectors nearest the wanted end
        keep = order[:n_keep]
        Yk = Y[:, keep]
        chunk = 8192
        for c0 in range(0, P, chunk):  # V[:l] ← Ykᵀ V[:n], column chunk by column chunk (in place)
            V[: keep.size, c0 : c0 + chunk] = Yk.T @ V[:n, c0 : c0 + chunk]
        l = keep.size
        T[:] = 0.0
        T[np.arange(l), np.arange(l)] = theta[keep]
        S_new = S[:, s_lo:s_hi] @ Y[s_lo:s_hi][:, keep]
        S[:] = 0.0
        S[:, :l] = S_new
        s_lo, s_hi = 0, l
        n = last_check = l
        n_restarts += 1

    vals = theta[wanted]
    residuals = res_all[wanted]
    vecs = (V[:n].T @ Y[:, wanted]) if return_eigenvectors else None
    missing = k - wanted.size  # the budget stopped the basis below k vectors: pad with NaN
    if missing:
        vals = np.concatenate([vals, np.full(missing, np.nan)])
        residuals = np.concatenate([residuals, np.full(missing, np.inf)])
        converged = np.concatenate([converged, np.zeros(missing, bool)])
        if vecs is not None:
            vecs = np.concatenate([vecs, np.full((P, missing), np.nan)], axis=1)
    info = {
        "method": "lanczos" if b == 1 else "block",
        "n_products": counted.n_products,
        "n_restarts": n_restarts,
        "n_basis": m,
        "n_keep": n_keep,
        "block_size": b,
        "tol": tol,
        "which": which,
        "norm_estimate": norm_est,
        "residuals": residuals,
        "converged": converged,
        "ritz_values": theta,
        "ritz_residuals": res_all,
        "roundoff": 10.0 * np.sqrt(n) * eps * norm_est,
        "budget_exhausted": budget_exhausted or not done,
        "max_products": max_products,
    }
    return vals, vecs, info


def _norm_estimate(counted, rng, scale_steps: int) -> float:
    """max |θ| of a ``scale_steps``-step Lanczos run: a lower bound of ‖A‖, usually within a few percent."""
    P = counted.shape[0]
    alpha, beta, _ = lanczos(counted, rng.standard_normal(P), min(P, scale_steps))
    scale = float(np.max(np.abs(gauss_quadrature(alpha, beta)[0])))
    return scale if scale > 0.0 else 1.0  # A v = 0 on the whole Krylov space


def _explicit_residuals(counted, vecs, vals):
    """‖A q_i − θ_i q_i‖ by k more products."""
    AV = np.asarray(counted.matmat(vecs), dtype=np.float64)
    return np.linalg.norm(AV - vecs * vals[None, :], axis=0)


def lobpcg_eigenpairs(
    op,
    k: int,
    which: str = "largest",
    tol: float = DEFAULT_TOL,
    block_size: int | None = None,
    max_products: int | None = None,
    maxiter: int | None = None,
    seed=0,
    return_eigenvectors: bool = False,
    scale_steps: int = 20,
):
    r"""The ``k`` largest or smallest eigenpairs by LOBPCG (Knyazev, 2001; ``scipy.sparse.linalg.lobpcg``).

    Locally optimal block preconditioned conjugate gradient without a preconditioner: each
    iteration does Rayleigh-Ritz on the span of the current block X, its residuals and the previous
    directions (3b vectors) and multiplies only the residuals of the unconverged columns by A.
    The block of ``block_size`` ≥ k vectors (default ``k + max(5, k // 2)``) should be larger than
    any cluster at the wanted end. The tolerance passed to scipy is absolute,
    ``tol · ‖A‖_est`` with ``‖A‖_est`` from a ``scale_steps``-step Lanczos run; at the end the
    residuals of the k wanted pairs are computed explicitly (k products), and a pair has converged
    when its residual is at most ``tol · ‖A‖_est``. ``maxiter`` iterations, by default as many as
    ``max_products`` allows.

    Returns ``(eigvals, eigvecs or None, info)`` as :func:`thick_restart_lanczos`.
    """
    counted = CountingOperator(_square_operator(op))
    P = counted.shape[0]
    k = check_positive_int("k", k)
    check_choice("which", which, ("largest", "smallest"))
    tol = check_positive_float("tol", tol)
    if 3 * k > P:
        raise ValueError(f"LOBPCG needs 3·k <= P = {P}; got k = {k}")
    if block_size is None:
        b = min(k + max(5, k // 2), P // 3)
    else:
        b = check_positive_int("block_size", block_size)
        if not k <= b <= P // 3:
            raise ValueError(
                f"block_size must satisfy k <= block_size <= P / 3, i.e. {k} <= b <= {P // 3}; got {b}"
            )
    max_products = (
        DEFAULT_MAX_PRODUCTS if max_products is None else check_positive_int("max_products", max_products)
    )
    rng = np.random.default_rng(seed)
    norm_est = _norm_estimate(counted, rng, scale_steps)
    n_scale = counted.n_products
    iters = (max_products - n_scale - k - b) // b
    if maxiter is not None:
        iters = min(iters, check_positive_int("maxiter", maxiter))
    if iters < 1:
        raise ValueError(f"max_products = {max_products} is too small for one LOBPCG iteration with b = {b}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # scipy warns when maxiter is reached; we report
        theta, X = lobpcg(
            counted,
            rng.standard_normal((P, b)),
            largest=which == "largest",
            tol=tol * norm_est,
            maxiter=iters,
        )
    order = np.argsort(theta)[::-1] if which == "largest" else np.argsort(theta)
    theta, X = theta[order], X[:, order]
    vals, vecs = theta[:k].astype(np.float64), X[:, :k]
    residuals = _explicit_residuals(counted, vecs, vals)
    info = {
        "method": "lobpcg",
        "n_products": counted.n_products,
        "n_products_scale": n_scale,
        "block_size": b,
        "maxiter": iters,
        "tol": tol,
        "which": which,
        "norm_estimate": norm_est,
        "residuals": residuals,
        "converged": residuals <= tol * norm_est,
        "ritz_values": vals,
        "ritz_residuals": residuals,
        "roundoff": 10.0 * np.sqrt(b) * np.finfo(np.float64).eps * norm_est,
        "max_products": max_products,
    }
    return vals, (vecs if return_eigenvectors else None), info


def arpack_eigenpairs(
    op,
    k: int,
    which: str = "largest",
    tol: float = DEFAULT_TOL,
    ncv: int | None = None,
    max_products: int | None = None,
    maxiter: int | None = None,
    seed=0,
    return_eigenvectors: bool = False,
    scale_steps: int = 20,
):
    r"""The ``k`` largest or smallest eigenpairs by ARPACK's implicitly restarted Lanczos (``eigsh``).

    ARPACK (Lehoucq, Sorensen & Yang, 1998) stops when every wanted Ritz pair of its operator has
    :math:`\lVert Bq - \theta q\rVert \le \text{tol}_B\,|\theta|`, a rule relative to
    :math:`|\theta|` that stalls for eigenvalues near zero. It is therefore given the shifted
    operator :math:`B = A \pm sI` (+ for the largest, − for the smallest end) with
    :math:`s = \lVert A\rVert_{\text{est}}` from a ``scale_steps``-step Lanczos run, so that
    :math:`s \le |\theta_B| \lesssim 2s`, and :math:`\text{tol}_B = \text{tol}/2`: then every pair
    ARPACK accepts has a residual below about ``tol · ‖A‖``. ``ncv`` Lanczos vectors (default
    ``max(3k, 20)``); ``maxiter`` restarts, by default as many as ``max_products`` allows at
    ``ncv − k`` products each. When ARPACK stops early it returns only its converged pairs: the
    others are NaN with an infinite bound. Residuals are computed explicitly (k products).

    Returns ``(eigvals, eigvecs or None, info)`` as :func:`thick_restart_lanczos`.
    """
    counted = CountingOperator(_square_operator(op))
    P = counted.shape[0]
    k = check_positive_int("k", k)
    check_choice("which", which, ("largest", "smallest"))
    tol = check_positive_float("tol", tol)
    ncv = min(P, max(3 * k, 20)) if ncv is None else check_positive_int("ncv", ncv)
    if not k < ncv <= P:
        raise ValueError(f"ncv must satisfy k < ncv <= P, i.e. {k} < ncv <= {P}; got {ncv}")
    max_products = (
        DEFAULT_MAX_PRODUCTS if max_products is None else check_positive_int("max_products", max_products)
    )
    rng = np.random.default_rng(seed)
    norm_est = _norm_estimate(counted, rng, scale_steps)
    n_scale = counted.n_products
    if maxiter is None:
        maxiter = max(1, (max_products - n_scale - k - ncv) // (ncv - k))
    maxiter = check_positive_int("maxiter", maxiter)
    shift = norm_est if which == "largest" else -norm_est
    shifted = LinearOperator(
        (P, P), matvec=lambda v: counted.matvec(v) + shift * np.ravel(v), dtype=np.float64
    )
    try:
        vals, vecs = eigsh(
            shifted,
            k=k,
            which="LA" if which == "largest" else "SA",
            tol=tol / 2,
            ncv=ncv,
            maxiter=maxiter,
            v0=rng.standard_normal(P),
        )
    except ArpackNoConvergence as exc:
        vals, vecs = exc.eigenvalues, exc.eigenvectors
    vals = np.asarray(vals, dtype=np.float64).real - shift
    vecs = np.asarray(vecs, dtype=np.float64).reshape(P, -1)
    order = np.argsort(vals)[::-1] if which == "largest" else np.argsort(vals)
    vals, vecs = vals[order], vecs[:, order]
    residuals = _explicit_residuals(counted, vecs, vals) if vals.size else np.zeros(0)
    missing = k - vals.size
    info = {
        "method": "arpack",
        "n_products": counted.n_products,
        "n_products_scale": n_scale,
        "ncv": ncv,
        "maxiter": maxiter,
        "shift": shift,
        "tol": tol,
        "which": which,
        "norm_estimate": norm_est,
        "residuals": np.concatenate([residuals, np.full(missing, np.inf)]),
        "converged": np.concatenate([residuals <= tol * norm_est, np.zeros(missing, bool)]),
        "ritz_values": vals,
        "ritz_residuals": residuals,
        "roundoff": 10.0 * np.sqrt(ncv) * np.finfo(np.float64).eps * norm_est,
        "max_products": max_products,
    }
    vals = np.concatenate([vals, np.full(missing, np.nan)])
    vecs = np.concatenate([vecs, np.full((P, missing), np.nan)], axis=1)
    return vals, (vecs if return_eigenvectors else None), info


def largest_k(P: int, method: str = "lanczos", block_size: int | None = None) -> int:
    """The largest number of extreme eigenpairs ``method`` computes of a P×P operator.

    The limits the solvers check: Lanczos ``k + 2 ≤ P`` (a basis of at least k + 1 vectors plus
    the next one), block Lanczos ``k + 2·block_size ≤ P``, LOBPCG ``3k ≤ P`` (its block, the residuals
    and the search directions), ARPACK ``k < P``. The command line calls this before any work so
    that its message names the flag.
    """
    P = check_positive_int("P", P)
    check_choice("method", method, EIGENSOLVERS)
    if method == "lanczos":
        return P - 2
    if method == "block":
        b = DEFAULT_BLOCK_SIZE if block_size is None else check_positive_int("block_size", block_size)
        return P - 2 * b
    if method == "lobpcg":
        return P // 3
    return P - 1


def extreme_eigenpairs(
    op,
    k: int,
    which: str = "largest",
    tol: float = DEFAULT_TOL,
    seed=0,
    ncv: int | None = None,
    maxiter: int | None = None,
    return_eigenvectors: bool = False,
    compute_residuals: bool = False,
    scale_steps: int = 20,
    method: str = DEFAULT_EIGENSOLVER,
    block_size: int | None = None,
    max_products: int | None = None,
):
    r"""The ``k`` largest or smallest eigenvalues of a symmetric operator, each with an error bound.

    ``method`` picks the solver (docs/matrix-free.md compares them):

    - ``"lanczos"`` (default): :func:`thick_restart_lanczos` with one vector per block;
    - ``"block"``: the same with ``block_size`` vectors per block (default 4);
    - ``"lobpcg"``: :func:`lobpcg_eigenpairs` (block ``k + max(5, k // 2)`` by default);
    - ``"arpack"``: :func:`arpack_eigenpairs` (ARPACK's implicitly restarted Lanczos).

    Convergence is judged by one rule for all: the residual :math:`\lVert Aq_i - \theta_i q_i\rVert`
    of a Ritz pair is at most ``tol · ‖A‖_est``, with ``‖A‖_est ≤ ‖A‖`` the largest Ritz value in
    magnitude seen. Each returned value comes with its residual (``info["residuals"]``: some eigenvalue
    of A lies within it) and an error bound (``info["error_bounds"]``: the quadratic bound
    :math:`r^2/\hat\delta` where the estimated gap δ̂ allows, see :func:`error_bounds`). Jointly,
    the k Ritz vectors being orthonormal, there are k eigenvalues (counted with multiplicity) within
    :math:`\lVert [r_1 \dots r_k]\rVert_2 \le (\sum_i r_i^2)^{1/2}` of the k values (Kahan, 1967;
    Parlett, 1998, Thm 11.5.1). A Krylov method can miss a copy of a repeated eigenvalue that its
    start vectors do not reach: the bounds then still hold for the values returned, which are not
    the k extreme ones; block methods see up to ``block_size`` copies.

    The work is capped by ``max_products`` (default :data:`DEFAULT_MAX_PRODUCTS`) and ``maxiter``
    restarts (iterations for LOBPCG). When a cap stops the solver, the values that converged are
    returned with the others (their bounds larger than the tolerance), ``info["converged"]`` marks
    which is which, and a :class:`LanczosBudgetWarning` says so in one line; only when none of the
    k converged is :class:`LanczosNoConvergenceError` raised.

    Parameters
    ----------
    op : symmetric ``LinearOperator`` of shape (P, P).
    k : number of eigenpairs, ``1 ≤ k < P``.
    which : ``"largest"`` (returned descending) or ``"smallest"`` (returned ascending).
    tol : residual tolerance relative to the spectral norm (default 1e-5).
    seed : seed or Generator of the random start vectors.
    ncv : basis size (``n_basis`` of :func:`thick_restart_lanczos`, ARPACK's ``ncv``); memory
        ``ncv × P`` floats.
    maxiter : maximal number of restarts (LOBPCG: iterations); default: the budget alone.
    return_eigenvectors : also return the eigenvectors (P × k, columns in the same order).
    compute_residuals : recompute the residuals explicitly (k more products, in ``n_products`` and
        ``info["n_products_residuals"]``) instead of the Lanczos recurrence's values.
    scale_steps : steps of the norm-estimate run of LOBPCG and ARPACK.
    method, block_size, max_products : see above.

    Returns
    -------
    eigvals : (k,) array; eigvecs : (P, k) array or ``None``; info : dict with ``n_products``,
    ``residuals``, ``error_bounds``, ``converged``, ``n_converged``, ``norm_estimate``, ``method``,
    ``tol``, ``which``, ``seconds`` and the solver's own entries (``n_restarts``, ``n_basis``, ...).

    Raises
    ------
    LanczosNoConvergenceError
        When none of the k pairs converged within the caps.
    """
    t0 = time.perf_counter()
    counted = CountingOperator(_square_operator(op))
    P = counted.shape[0]
    k = check_positive_int("k", k)
    if k >= P:
        raise ValueError(
            f"k must be smaller than the dimension P = {P}; got k = {k} "
            "(for all eigenvalues use the dense engine)"
        )
    check_choice("which", which, ("largest", "smallest"))
    check_choice("method", method, EIGENSOLVERS)
    common = {"which": which, "tol": tol, "max_products": max_products, "maxiter": maxiter, "seed": seed}
    want_vectors = return_eigenvectors or compute_residuals
    if method in ("lanczos", "block"):
        b = 1 if method == "lanczos" else (DEFAULT_BLOCK_SIZE if block_size is None else block_size)
        if method == "lanczos" and block_size not in (None, 1):
            raise ValueError(f"block_size must be 1 (or None) for method 'lanczos'; got {block_size}")
        b = check_positive_int("block_size", b)
        if ncv is not None and not k + b <= check_positive_int("ncv", ncv) <= P - b:
            raise ValueError(
                f"ncv (the basis size) must satisfy k + block_size <= ncv <= P - block_size, i.e. "
                f"{k + b} <= ncv <= {P - b}; got {ncv}"
            )
        vals, vecs, info = thick_restart_lanczos(
            counted, k, block_size=b, n_basis=ncv, return_eigenvectors=want_vectors, **common
        )
        info["n_products_scale"] = 0
    elif method == "lobpcg":
        vals, vecs, info = lobpcg_eigenpairs(
            counted, k, block_size=block_size, return_eigenvectors=True, scale_steps=scale_steps, **common
        )
    else:
        vals, vecs, info = arpack_eigenpairs(
            counted, k, ncv=ncv, return_eigenvectors=True, scale_steps=scale_steps, **common
        )
    if compute_residuals and method in ("lanczos", "block"):
        before = counted.n_products
        info["recurrence_residuals"] = info["residuals"]
        info["residuals"] = _explicit_residuals(counted, vecs, vals)
        info["converged"] = info["residuals"] <= info["tol"] * info["norm_estimate"]
        info["n_products_residuals"] = counted.n_products - before
    elif compute_residuals:
        info["n_products_residuals"] = k  # computed explicitly by the solver
    info["error_bounds"] = error_bounds(
        vals, info["residuals"], info["ritz_values"], info["ritz_residuals"], which, info["roundoff"]
    )
    info["error_bounds"][~np.isfinite(vals)] = np.inf
    info["n_converged"] = int(np.count_nonzero(info["converged"]))
    info["n_products"] = counted.n_products
    info["seconds"] = time.perf_counter() - t0
    if info["n_converged"] == 0:
        raise LanczosNoConvergenceError(
            f"none of the {k} {which} eigenvalues converged to tol = {info['tol']:g} (relative to "
            f"‖A‖ ≈ {info['norm_estimate']:.3g}) within {info['n_products']} products ({method}); the "
            f"smallest residual is {np.nanmin(info['residuals']) / info['norm_estimate']:.1e}·‖A‖. "
            "Raise max_products, or loosen tol"
        )
    zero = np.abs(vals) <= info["tol"] * info["norm_estimate"]
    n_zero = int(np.count_nonzero(zero))
    info["n_at_zero"] = n_zero
    block = info.get("block_size", 1)
    if method in ("lanczos", "block", "arpack") and n_zero >= 1 and not zero[-1] and n_zero >= block:
        warnings.warn(
            f"the {k} {which} eigenvalues reach the cluster at zero ({n_zero} within tol·‖A‖ of 0): "
            f"{method} sees at most {block if method != 'arpack' else 1} direction(s) of such a cluster, so "
            "copies may be missing and larger eigenvalues returned in their place; method='block' with "
            "block_size above the cluster's size, or the dense route, resolves them",
            LanczosClusterWarning,
            stacklevel=2,
        )
    if info["n_converged"] < k:
        worst = float(np.max(info["error_bounds"]))
        warnings.warn(
            f"{info['n_converged']} of the {k} {which} eigenvalues converged to tol = {info['tol']:g}·‖A‖ "
            f"within {info['n_products']} products ({method}); the other {k - info['n_converged']} are "
            f"returned with error bounds up to {worst:.2g} (info['converged'], info['error_bounds'])",
            LanczosBudgetWarning,
            stacklevel=2,
        )
    return vals, (vecs if return_eigenvectors else None), info


# --------------------------------------------------------------------------------------------
# Trace
# --------------------------------------------------------------------------------------------


def hutchinson_trace(op, n_samples: int = 100, rng=None):
    r"""Hutchinson's estimate of :math:`\operatorname{tr} A` with its standard error.

    With Rademacher probes :math:`z_s \in \{\pm1\}^P` (Hutchinson, 1990),

    .. math:: \hat t = \frac1n \sum_{s=1}^n z_s^\top A z_s,\qquad
              \mathbb E\,\hat t = \operatorname{tr} A,\qquad
              \operatorname{Var}\hat t = \frac2n\Big(\lVert A\rVert_F^2 - \sum_i A_{ii}^2\Big),

    and the standard error reported is the sample standard deviation of the :math:`z_s^\top A z_s`
    over :math:`\sqrt n`, so it shrinks like :math:`1/\sqrt n`. Costs ``n_samples`` products.

    Returns ``(estimate, stderr)``.
    """
    op = _square_operator(op)
    P = op.shape[0]
    n_samples = check_positive_int("n_samples", n_samples, minimum=2)
    rng = np.random.default_rng(rng)
    quad = np.empty(n_samples)
    for s in range(n_samples):
        z = rng.choice(np.array([-1.0, 1.0]), size=P)
        quad[s] = z @ np.asarray(op.matvec(z), dtype=np.float64).reshape(P)
    return float(quad.mean()), float(quad.std(ddof=1) / np.sqrt(n_samples))
