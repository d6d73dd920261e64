r"""Stability of gradient descent: the threshold :math:`2/\eta` and the edge of stability.

**The quadratic.** Gradient descent with step size :math:`\eta` on :math:`q(x) = \tfrac12\lambda x^2`
updates :math:`x_{t+1} = x_t - \eta\lambda x_t = (1 - \eta\lambda)\,x_t`, so

.. math:: x_t = (1 - \eta\lambda)^t\, x_0 ,

which tends to 0 iff :math:`|1 - \eta\lambda| < 1`, i.e. (for :math:`\lambda > 0`) iff
:math:`0 < \eta < 2/\lambda`. At :math:`\eta = 2/\lambda` the iterates flip sign with constant
amplitude; beyond, they grow geometrically. On :math:`\tfrac12 x^\top A x` with A symmetric positive
semidefinite each eigendirection evolves on its own, so GD is stable iff
:math:`\eta < 2/\lambda_{\max}(A)`. Near a point :math:`w` a loss is approximately such a quadratic
with :math:`A = \nabla^2 L(w)`; its largest eigenvalue is called the *sharpness*.

**The edge of stability** (Cohen, Kaur, Li, Kolter & Talwalkar, 2021, *Gradient Descent on Neural
Networks Typically Occurs at the Edge of Stability*, ICLR). Along full-batch GD on a neural network
the sharpness first rises (*progressive sharpening*) until it reaches :math:`2/\eta`, then hovers
near :math:`2/\eta` while the loss keeps falling, non-monotonically. :func:`edge_of_stability`
reads those two phases off a sharpness trace.

:func:`power_iteration` is the simplest route to the sharpness from Hessian-vector products (the
one some peer libraries use); the library's own route is Lanczos
(:func:`hessian_spectra.curvature.matrix_free.top_eigenvalues`), which needs far fewer products
when the top two eigenvalues are close.

:func:`sharpness_along_gd` runs full-batch GD and measures, every few steps, the sharpness and the
split :math:`H = G + R` (Sagun et al., 2018): :math:`\lambda_{\max}(G)`, the extreme eigenvalues of R
and R's curvature along the top eigenvector of H — exactly (dense) when P is small, by Lanczos on
closed-form products (:mod:`hessian_spectra.curvature.fast_products`) otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import eigh, eigvalsh

from ._checks import as_float_array, check_choice, check_positive_float, check_positive_int
from .objective import Objective, check_objective
from .training import DIVERGENCE_FACTOR, TrainingDivergedError, stacked_value_and_gradient


def stability_threshold(lr: float) -> float:
    r""":math:`2/\eta`: GD with step size :math:`\eta` is stable on :math:`\tfrac12\lambda x^2` iff
    :math:`\lambda < 2/\eta` (module docstring); read the other way, :math:`2/\lambda` is the step size
    at which GD on that quadratic stops converging."""
    return 2.0 / check_positive_float("lr", lr)


def gd_on_quadratic(curvatures, lr: float, x0, steps: int) -> np.ndarray:
    r"""The GD iterates on :math:`q(x) = \tfrac12\sum_j \lambda_j x_j^2`: row t is
    :math:`x_t = (1 - \eta\lambda_j)^t\, x_{0,j}` for :math:`t = 0, \dots,` ``steps``.

    ``curvatures`` are the :math:`\lambda_j` (any sign), ``x0`` the start (same length); returns an
    array of shape ``(steps + 1, d)``. A direction with :math:`\lambda_j > 2/\eta` (or
    :math:`\lambda_j < 0`) grows without bound.
    """
    lam = as_float_array("curvatures", curvatures, ndim=1)
    x0 = as_float_array("x0", x0, ndim=1)
    if x0.shape != lam.shape:
        raise ValueError(f"x0 must have the length of curvatures ({lam.size}); got {x0.size}")
    lr = check_positive_float("lr", lr)
    steps = check_positive_int("steps", steps, minimum=0)
    t = np.arange(steps + 1)[:, None]
    return (1.0 - lr * lam)[None, :] ** t * x0[None, :]


def power_iteration(op, v0, n_iter: int) -> tuple[float, np.ndarray]:
    r"""The eigenvalue of largest magnitude of a symmetric operator by ``n_iter`` steps of the power
    method (von Mises, 1929): :math:`v_{k+1} = A v_k / \lVert A v_k\rVert` from
    :math:`v_0/\lVert v_0\rVert`, and the Rayleigh quotient :math:`\theta = v^\top A v` of the last vector.

    ``op`` is a matrix, a ``LinearOperator`` or a function ``v ↦ A v``. The error of
    :math:`\theta` shrinks like :math:`(\lambda_2/\lambda_1)^{2k}`: slowly when the two largest
    magnitudes are close. Returns ``(theta, v)`` with ``v`` of unit length.
    """
    apply = op if callable(op) and not hasattr(op, "matvec") else (lambda x: op @ x)
    v = as_float_array("v0", v0, ndim=1)
    norm = np.linalg.norm(v)
    if norm == 0:
        raise ValueError("v0 must be a nonzero vector")
    n_iter = check_positive_int("n_iter", n_iter)
    v = v / norm
    for _ in range(n_iter):
        w = np.asarray(apply(v), dtype=np.float64)
        norm = np.linalg.norm(w)
        if norm == 0:  # v is in the null space: the Rayleigh quotient is 0
            return 0.0, v
        v = w / norm
    return float(v @ np.asarray(apply(v), dtype=np.float64)), v


def edge_of_stability(steps, sharpness, lr: float, band: float, reach: float) -> dict:
    r"""The two phases of a sharpness trace :math:`\lambda(t)` under GD with step size :math:`\eta`
    (Cohen et al., 2021): progressive sharpening up to :math:`2/\eta`, then the edge.

    With :math:`\rho(t) = \lambda(t)\,\eta/2` (the sharpness in units of the threshold) measured at
    ``steps`` :math:`t_0 < t_1 < \dots`:

    - the **crossing** is the first measurement with :math:`\rho \ge 1 -` ``reach`` (the sharpness
      has reached :math:`2/\eta` up to the fraction ``reach``); ``crossed`` says whether there is one;
    - ``sharpening`` :math:`= \lambda(t_*)/\lambda(t_0)`, the factor by which the sharpness rose from
      the first measurement to the crossing :math:`t_*`;
    - ``fraction_in_band``: of the measurements after the crossing, the fraction with
      :math:`|\rho - 1| \le` ``band`` (NaN when there are none); ``n_after`` is their number;
    - ``peak_ratio`` :math:`= \max_t \rho(t)` and ``final_ratio`` :math:`= \rho` at the last measurement;
    - ``median_ratio_after``: the median of :math:`\rho` after the crossing (NaN when none).

    Returns a dict with these keys and ``threshold`` :math:`= 2/\eta`, ``crossing_step``
    (:math:`t_*`, or ``None``) and ``crossing_index``.
    """
    t = as_float_array("steps", steps, ndim=1)
    lam = as_float_array("sharpness", sharpness, ndim=1)
    if t.shape != lam.shape or t.size == 0:
        raise ValueError(
            f"steps and sharpness must be 1-d arrays of the same nonzero length; got {t.size} and {lam.size}"
        )
    if np.any(np.diff(t) <= 0):
        raise ValueError("steps must be strictly increasing")
    threshold = stability_threshold(lr)
    band = check_positive_float("band", band)
    reach = check_positive_float("reach", reach, allow_zero=True)
    if reach >= 1:
        raise ValueError(f"reach must be a fraction in [0, 1); got {reach}")
    rho = lam / threshold
    hits = np.flatnonzero(rho >= 1.0 - reach)
    out = {
        "threshold": threshold,
        "crossed": bool(hits.size),
        "crossing_index": int(hits[0]) if hits.size else None,
        "crossing_step": float(t[hits[0]]) if hits.size else None,
        "sharpening": float(lam[hits[0]] / lam[0]) if hits.size and lam[0] > 0 else float("nan"),
        "peak_ratio": float(rho.max()),
        "final_ratio": float(rho[-1]),
    }
    after = rho[hits[0] + 1 :] if hits.size else rho[:0]
    out["n_after"] = int(after.size)
    out["fraction_in_band"] = float(np.mean(np.abs(after - 1.0) <= band)) if after.size else float("nan")
    out["median_ratio_after"] = float(np.median(after)) if after.size else float("nan")
    return out


# --------------------------------------------------------------------------------------------
# The sharpness and the split H = G + R along GD
# --------------------------------------------------------------------------------------------

#: Networks with at most this many parameters get the exact route (dense H, G, R and their
#: eigendecompositions, a fraction of a second each at P = 1,500); larger ones get Lanczos on
#: products. At a measurement every few steps, the dense route's O(P³) eigendecompositions would
#: dominate the training itself beyond this size.
EXACT_MAX_PARAMS = 1500

#: The routes of :func:`curvature_extremes`.
ROUTES = ("exact", "lanczos")

#: Relative residual tolerance of the Lanczos route: each value returned is within
#: ``LANCZOS_TOL · ‖M‖`` of an eigenvalue of M (0.1 %, far below the spread that matters here).
LANCZOS_TOL = 1e-3


def choose_route(objective: Objective) -> str:
    """``"exact"`` when P ≤ :data:`EXACT_MAX_PARAMS`, else ``"lanczos"``."""
    return "exact" if check_objective(objective).n_params <= EXACT_MAX_PARAMS else "lanczos"


def curvature_extremes(
    objective: Objective, params, route: str = "exact", r_norm: bool = True, tol: float = LANCZOS_TOL, seed=0
) -> dict:
    r"""The sharpness and the size of each term of :math:`H = G + R` at ``params``.

    Returns ``h_top`` :math:`= \lambda_{\max}(H)`, ``g_top`` :math:`= \lambda_{\max}(G)`,
    ``r_along_top`` :math:`= u^\top R u` for the unit top eigenvector u of H (how much of the
    sharpness R supplies: :math:`\lambda_{\max}(H) = u^\top G u + u^\top R u`), and, with
    ``r_norm``, ``r_top`` :math:`= \lambda_{\max}(R)` and ``r_bottom`` :math:`= \lambda_{\min}(R)`
    (:math:`\lVert R\rVert_2 = \max(|r_{top}|, |r_{bottom}|)`; NaN without ``r_norm``).

    ``route="exact"``: the dense matrices of the ``fast`` engine and their eigendecompositions.
    ``route="lanczos"``: thick-restart Lanczos
    (:func:`hessian_spectra.curvature.lanczos.extreme_eigenpairs`, residual tolerance ``tol``
    relative to the norm, start vectors from ``seed``) on the closed-form products of
    :func:`hessian_spectra.curvature.fast_products.fast_curvature_operator`; about 20 products for
    each of :math:`\lambda_{\max}(H)`, :math:`\lambda_{\max}(R)`, :math:`\lambda_{\min}(R)`, 10-20 for G.
    """
    from .curvature import curvature_matrices
    from .curvature.fast_products import fast_curvature_operator
    from .curvature.lanczos import extreme_eigenpairs

    objective = check_objective(objective)
    params = objective.check_params(params)
    check_choice("route", route, ROUTES)
    P = objective.n_params
    nan = float("nan")
    if route == "exact":
        mats = curvature_matrices(objective, params, ("G", "R"), engine="fast")
        G, R = mats["G"], mats["R"]
        lam, u = eigh(G + R, subset_by_index=[P - 1, P - 1])
        u = u[:, 0]
        out = {
            "h_top": float(lam[0]),
            "g_top": float(eigvalsh(G, subset_by_index=[P - 1, P - 1])[0]),
            "r_along_top": float(u @ R @ u),
        }
        if r_norm:
            w = eigvalsh(R)
            out["r_top"], out["r_bottom"] = float(w[-1]), float(w[0])
        else:
            out["r_top"] = out["r_bottom"] = nan
        return out
    tol = check_positive_float("tol", tol)

    def extreme(term, which, vectors=False):
        op = fast_curvature_operator(objective, params, term)
        vals, vecs, _ = extreme_eigenpairs(
            op, 1, which=which, tol=tol, seed=seed, return_eigenvectors=vectors
        )
        return float(vals[0]), (None if vecs is None else vecs[:, 0])

    h_top, u = extreme("H", "largest", vectors=True)
    u = u / np.linalg.norm(u)
    out = {
        "h_top": h_top,
        "g_top": extreme("G", "largest")[0],
        "r_along_top": float(u @ (fast_curvature_operator(objective, params, "R") @ u)),
    }
    if r_norm:
        out["r_top"] = extreme("R", "largest")[0]
        out["r_bottom"] = extreme("R", "smallest")[0]
    else:
        out["r_top"] = out["r_bottom"] = nan
    return out


@dataclass
class SharpnessTrace:
    """What :func:`sharpness_along_gd` measured.

    ``loss`` holds the full-batch loss before every update (length ``steps + 1``); ``steps`` the
    measured steps, and ``h_top``, ``g_top``, ``r_along_top``, ``r_top``, ``r_bottom`` the numbers of
    :func:`curvature_extremes` there (NaN where R's extremes were not measured); ``params`` the
    final parameters; ``route`` the route used.
    """

    loss: np.ndarray
    steps: np.ndarray
    h_top: np.ndarray
    g_top: np.ndarray
    r_along_top: np.ndarray
    r_top: np.ndarray
    r_bottom: np.ndarray
    params: np.ndarray
    route: str
    accuracy: float = float("nan")
    extra: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """The arrays and the route as a plain dict (for a results file)."""
        keys = ("loss", "steps", "h_top", "g_top", "r_along_top", "r_top", "r_bottom")
        return {
            **{k: np.asarray(getattr(self, k)) for k in keys},
            "route": self.route,
            "accuracy": self.accuracy,
        }


def sharpness_along_gd(
    objective: Objective,
    params0,
    lr: float,
    steps: int,
    every: int,
    r_norm_every: int = 1,
    route: str | None = None,
    tol: float = LANCZOS_TOL,
    seed=0,
    progress: bool = False,
    desc: str = "GD",
) -> SharpnessTrace:
    r"""Full-batch GD :math:`w_{t+1} = w_t - \eta\nabla L(w_t)` for ``steps`` updates, with the loss at
    every step and :func:`curvature_extremes` at :math:`t = 0,` ``every``, ``2·every``, … and at the end.

    R's extreme eigenvalues are measured at every ``r_norm_every``-th measurement (they cost as much
    as the rest together on the Lanczos route). ``route`` defaults to :func:`choose_route`. The
    gradients come from :func:`hessian_spectra.training.stacked_value_and_gradient` (closed form,
    with the loss in the same pass). Training stops with
    :class:`~hessian_spectra.training.TrainingDivergedError` when the loss becomes non-finite or
    exceeds ``DIVERGENCE_FACTOR · max(L(w_0), 1)``, the rule of :func:`hessian_spectra.train`.
    """
    from tqdm.auto import tqdm

    objective = check_objective(objective)
    w = objective.check_params(params0).copy()
    lr = check_positive_float("lr", lr)
    steps = check_positive_int("steps", steps, minimum=0)
    every = check_positive_int("every", every)
    r_norm_every = check_positive_int("r_norm_every", r_norm_every)
    route = choose_route(objective) if route is None else check_choice("route", route, ROUTES)
    losses = np.empty(steps + 1)
    rows, at = [], []
    limit = None
    for t in tqdm(range(steps + 1), desc=desc, disable=not progress, leave=False):
        loss, g = stacked_value_and_gradient(w[None], objective)
        losses[t] = float(loss[0])
        if limit is None:
            limit = DIVERGENCE_FACTOR * max(losses[0], 1.0)
        if not np.isfinite(losses[t]) or losses[t] > limit:
            raise TrainingDivergedError(
                f"GD diverged at step {t}: the loss is {losses[t]:.4g}, from {losses[0]:.4g} at the start, "
                f"with learning rate lr = {lr:g}; try a smaller lr"
            )
        if t % every == 0 or t == steps:
            k = len(at)
            rows.append(
                curvature_extremes(objective, w, route, r_norm=k % r_norm_every == 0, tol=tol, seed=seed)
            )
            at.append(t)
        if t == steps:
            break
        w = w - lr * g[0]
    cols = {k: np.array([r[k] for r in rows]) for k in ("h_top", "g_top", "r_along_top", "r_top", "r_bottom")}
    return SharpnessTrace(
        losses, np.asarray(at, dtype=np.int64), params=w, route=route, accuracy=objective.accuracy(w), **cols
    )


__all__ = [
    "EXACT_MAX_PARAMS",
    "LANCZOS_TOL",
    "ROUTES",
    "SharpnessTrace",
    "choose_route",
    "curvature_extremes",
    "edge_of_stability",
    "gd_on_quadratic",
    "power_iteration",
    "sharpness_along_gd",
    "stability_threshold",
]
