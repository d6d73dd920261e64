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
- :func:`extreme_eigenpairs`: the k largest or smallest eigenpairs by ARPACK's implicitly
  restarted Lanczos (``scipy.sparse.linalg.eigsh``), with a stopping rule relative to
  :math:`\lVert A\rVert`.
- :func:`hutchinson_trace`: :math:`\operatorname{tr} A` from Rademacher probes (Hutchinson, 1990).
"""

from __future__ import annotations

import time

import numpy as np
from scipy.linalg import eigh_tridiagonal
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, aslinearoperator, eigsh

from .._checks import as_float_array, check_choice, check_positive_float, check_positive_int

#: Smoothing variance of Ghorbani et al. (2019) before scaling by the spectral width (their code's
#: default ``sigma_squared = 1e-5``, multiplied by ``max(1, λ_max − λ_min)``).
G19_SIGMA2 = 1e-5

#: Number of grid points of the density when no grid is given (Ghorbani et al.'s code: 10,000).
DEFAULT_GRID_POINTS = 10_000

#: Default ARPACK tolerance relative to the spectral norm (see :func:`extreme_eigenpairs`).
DEFAULT_TOL = 1e-5

#: Default maximal number of ARPACK restarts.
DEFAULT_MAXITER = 50

#: Half-width of the default grid beyond the extreme nodes, in units of the smoothing σ: the
#: Gaussian mass left outside is below 3e-7.
GRID_MARGIN_SIGMAS = 5.0


class LanczosNoConvergenceError(ArithmeticError):
    """ARPACK stopped before the requested eigenpairs met the tolerance."""


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


def smoothing_variance(lambda_min: float, lambda_max: float, base: float = G19_SIGMA2) -> float:
    r"""G19's kernel variance :math:`\sigma^2 = 10^{-5}\max(1, \lambda_{\max} - \lambda_{\min})`."""
    return float(base) * max(1.0, float(lambda_max) - float(lambda_min))


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
    sigma2 : kernel variance :math:`\sigma^2`; default :func:`smoothing_variance` (G19's rule).

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
    sigma2 = smoothing_variance(lo, hi) if sigma2 is None else check_positive_float("sigma2", sigma2)
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
# Extreme eigenpairs (ARPACK)
# --------------------------------------------------------------------------------------------


def extreme_eigenpairs(
    op,
    k: int,
    which: str = "largest",
    tol: float = DEFAULT_TOL,
    seed=0,
    ncv: int | None = None,
    maxiter: int = DEFAULT_MAXITER,
    return_eigenvectors: bool = False,
    compute_residuals: bool = False,
    scale_steps: int = 20,
):
    r"""The ``k`` largest or smallest eigenvalues of a symmetric operator by implicitly restarted Lanczos.

    ARPACK (``scipy.sparse.linalg.eigsh``, Lehoucq, Sorensen & Yang, 1998) stops when every wanted
    Ritz pair :math:`(\theta, q)` of its operator has residual :math:`\lVert Bq - \theta q\rVert \le
    \text{tol}\cdot|\theta|`. That rule is relative to :math:`|\theta|` and stalls for eigenvalues
    near zero, which a Hessian's bulk is full of. We therefore hand ARPACK the shifted operator

    .. math:: B = A + s I \ (\text{largest}),\qquad B = A - s I\ (\text{smallest}),

    where :math:`s = \max_j |\theta_j|` is the spectral-norm estimate of a ``scale_steps``-step
    :func:`lanczos` run. The shift leaves the Krylov spaces, hence the convergence, unchanged, and
    makes the wanted :math:`|\theta_B| \ge s`: each returned eigenvalue has a residual below about
    :math:`2\,\text{tol}\,\lVert A\rVert`, so an eigenvalue of A lies within that distance (and, for
    a gap :math:`\delta` to the rest of the spectrum, within :math:`\lVert r\rVert^2/\delta`).

    The default ``tol = 1e-5`` bounds every residual by about :math:`2\cdot10^{-5}\lVert A\rVert`; in
    practice isolated eigenvalues come out far more accurate (relative error ~1e-12 on the E3 sweep,
    see docs/matrix-free.md) because ARPACK's first pass with ``ncv = 3k`` vectors already converges
    them. A Krylov method cannot resolve the multiplicity of a degenerate eigenvalue (e.g. the exact
    zeros of dead ReLU units): when the wanted end of the spectrum reaches such a cluster, the
    eigenvalues returned inside it are only as good as the residual bound, and a much smaller ``tol``
    may not converge within ``maxiter`` restarts.

    Parameters
    ----------
    op : symmetric ``LinearOperator`` of shape (P, P).
    k : number of eigenpairs, ``1 ≤ k < P``.
    which : ``"largest"`` (returned descending) or ``"smallest"`` (returned ascending).
    tol : ARPACK's relative tolerance on the shifted operator (see above).
    seed : seed or Generator of ARPACK's start vector (Gaussian) and of the scale run.
    ncv : number of Lanczos vectors ARPACK keeps; default ``max(3k, 20)`` capped at P, which in our
        benchmarks converged without restarts (memory ``ncv × P`` floats).
    maxiter : ARPACK's maximal number of restarts (default 50, i.e. at most about 50·(ncv − k)
        products; scipy's own default, 10·P restarts, is unbounded in practice).
    return_eigenvectors : also return the eigenvectors (P × k, columns in the same order).
    compute_residuals : compute :math:`\lVert A q_i - \lambda_i q_i\rVert` (k more products, included
        in ``n_products`` and given as ``info["n_products_residuals"]``); computes eigenvectors.

    Returns
    -------
    eigvals : (k,) array; eigvecs : (P, k) array or ``None``; info : dict with ``n_products`` (all
    products, scale run included), ``n_products_scale``, ``shift``, ``ncv``, ``tol``, ``seconds``
    and, with ``compute_residuals``, ``residuals`` and ``n_products_residuals``.

    Raises
    ------
    LanczosNoConvergenceError
        When ARPACK stops after ``maxiter`` restarts; the message gives how many pairs converged.
    """
    t0 = time.perf_counter()
    counted = CountingOperator(_square_operator(op))
    P = counted.shape[0]
    k = check_positive_int("k", k)
    if k >= P:
        raise ValueError(
            f"k must be smaller than the dimension P = {P} for Lanczos; got k = {k} "
            "(for all eigenvalues use the dense engine)"
        )
    check_choice("which", which, ("largest", "smallest"))
    tol = check_positive_float("tol", tol)
    maxiter = check_positive_int("maxiter", maxiter)
    ncv = min(P, max(3 * k, 20)) if ncv is None else check_positive_int("ncv", ncv)
    if not k < ncv <= P:
        raise ValueError(f"ncv must satisfy k < ncv <= P, i.e. {k} < ncv <= {P}; got {ncv}")
    rng = np.random.default_rng(seed)

    # Spectral-norm estimate: extreme Ritz values of a short Lanczos run are inside the spectrum.
    alpha, beta, _ = lanczos(counted, rng.standard_normal(P), min(P, scale_steps))
    theta = gauss_quadrature(alpha, beta)[0]
    scale = float(np.max(np.abs(theta)))
    if scale == 0.0:
        scale = 1.0  # A v = 0 on the whole Krylov space: any positive shift works
    n_scale = counted.n_products
    shift = scale if which == "largest" else -scale

    shifted = LinearOperator(
        (P, P), matvec=lambda v: counted.matvec(v) + shift * np.ravel(v), dtype=np.float64
    )
    want_vectors = return_eigenvectors or compute_residuals
    try:
        out = eigsh(
            shifted,
            k=k,
            which="LA" if which == "largest" else "SA",
            tol=tol,
            ncv=ncv,
            maxiter=maxiter,
            v0=rng.standard_normal(P),
            return_eigenvectors=want_vectors,
        )
    except ArpackNoConvergence as exc:
        raise LanczosNoConvergenceError(
            f"Lanczos (ARPACK) found {len(exc.eigenvalues)} of the {k} {which} eigenvalues to "
            f"tol = {tol:g} in {maxiter} restarts ({counted.n_products} products); the wanted end of "
            f"the spectrum is probably a degenerate cluster (see docs/matrix-free.md). Ask for fewer "
            f"eigenvalues, or pass a looser tol, a larger maxiter or ncv (now {ncv}) to "
            f"hessian_spectra.curvature.matrix_free.top_eigenvalues"
        ) from None
    vals, vecs = out if want_vectors else (out, None)
    vals = np.asarray(vals, dtype=np.float64) - shift
    order = np.argsort(vals)[::-1] if which == "largest" else np.argsort(vals)
    vals = vals[order]
    if vecs is not None:
        vecs = vecs[:, order]
    info = {
        "n_products": counted.n_products,
        "n_products_scale": n_scale,
        "shift": shift,
        "ncv": ncv,
        "tol": tol,
        "which": which,
    }
    if compute_residuals:
        before = counted.n_products
        AV = counted.matmat(vecs)
        info["residuals"] = np.linalg.norm(AV - vecs * vals[None, :], axis=0)
        info["n_products_residuals"] = counted.n_products - before
    info["n_products"] = counted.n_products
    info["seconds"] = time.perf_counter() - t0
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
