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
"""

from __future__ import annotations

import numpy as np

from ._checks import as_float_array, check_positive_float, check_positive_int


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


__all__ = ["edge_of_stability", "gd_on_quadratic", "power_iteration", "stability_threshold"]
