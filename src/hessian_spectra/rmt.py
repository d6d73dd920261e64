r"""Random-matrix theory for Hessians of models linear in their parameters (S18, App. B).

**Marchenko–Pastur (MP).** Let :math:`x_1, \dots, x_N \in \mathbb R^M` be i.i.d. with independent
entries of mean 0 and variance :math:`\sigma^2`, and :math:`S = \frac1N \sum_i x_i x_i^\top` (M×M).
As :math:`M, N \to \infty` with :math:`M/N \to \alpha`, the eigenvalue distribution of S tends to

.. math::

    \mu_{\alpha,\sigma^2} = \Big(1 - \tfrac1\alpha\Big)_+ \delta_0 + \rho(x)\,dx, \qquad
    \rho(x) = \frac{\sqrt{(\lambda_+ - x)(x - \lambda_-)}}{2\pi\sigma^2 \alpha x}
    \ \text{on}\ [\lambda_-, \lambda_+], \qquad \lambda_\pm = \sigma^2 (1 \pm \sqrt\alpha)^2

(Marchenko & Pastur, 1967): for :math:`\alpha > 1` a fraction :math:`1 - 1/\alpha` of the eigenvalues
are exact zeros (S has rank N), the rest follow :math:`\rho`, whose mass is then :math:`1/\alpha`.

**BBP transition.** If the population covariance is :math:`\sigma^2\,\mathrm{diag}(\ell, 1, \dots, 1)`,
the top eigenvalue of S leaves the bulk when :math:`\ell > 1 + \sqrt\alpha` and converges to
:math:`\sigma^2\,\ell\,(1 + \alpha/(\ell - 1))`; below the threshold it sticks to :math:`\lambda_+`
(Baik, Ben Arous & Péché, 2005; Baik & Silverstein, 2006).

**Which normalization makes a Hessian follow MP** (``docs/theory.md``, Sec. "Random matrices"). For a
model linear in w the residual term vanishes (:math:`\nabla^2 f = 0`), so :math:`H = G`. With the mean
loss (the :math:`1/N` of :math:`L`) the :math:`1/N` of S comes for free; what remains is the logit-space
curvature :math:`A_i` and the bias:

- *Logistic regression* (one output, no bias), :math:`\ell = \log(1 + e^{-y\,w^\top x})`:
  :math:`H = \frac1N \sum_i s_i(1 - s_i)\, x_i x_i^\top` with :math:`s_i = \sigma(w^\top x_i)` — S18's
  :math:`\frac1N T X X^\top T^\top` with :math:`T = \mathrm{diag}\sqrt{s(1-s)}` acting on the samples.
  At :math:`w = 0`, :math:`s(1-s) = 1/4`, so :math:`H = S/4`: MP with :math:`\alpha = d/N`,
  :math:`\sigma^2 = \sigma_x^2/4`.
- *Softmax regression* (layer sizes ``(d, C)``, linear activation, with bias) at :math:`W = 0, b = 0`:
  :math:`p = \mathbf 1/C`, :math:`A_i = A_0 = \frac1C(I - \frac1C\mathbf 1\mathbf 1^\top)` for every
  sample, and :math:`H = \tilde S \otimes A_0` with :math:`\tilde S = \frac1N\sum_i \tilde x_i \tilde x_i^\top`,
  :math:`\tilde x = (x, 1)`. :math:`A_0` has eigenvalue :math:`1/C` (C−1 times) and 0 (along
  :math:`\mathbf 1`), so H has :math:`d+1` structural zeros and C−1 copies of the spectrum of
  :math:`\tilde S / C`: MP with :math:`\alpha = (d+1)/N` (features, not parameters, over samples) and
  :math:`\sigma^2 = 1/C` when :math:`x \sim \mathcal N(0, I_d)` (the constant feature has second
  moment 1, like the others; with :math:`\sigma_x^2 \ne 1` it is a spike of relative size
  :math:`1/\sigma_x^2`).
- *Linear regression* (the same network with MSE): :math:`A_i = I_C` at every w, so
  :math:`H = \tilde S \otimes I_C` everywhere: C copies of MP with :math:`\alpha = (d+1)/N`,
  :math:`\sigma^2 = 1`.

Short names used here:

- S18: Sagun, Evci, Güney, Dauphin & Bottou (2018),
  *Empirical Analysis of the Hessian of Over-Parametrized Neural Networks*.
"""

from __future__ import annotations

import numpy as np

from . import mlp
from ._checks import as_float_array, check_choice, check_positive_float, check_positive_int
from .objective import Objective

# --------------------------------------------------------------------------------------------
# The Marchenko–Pastur law
# --------------------------------------------------------------------------------------------


def _check_alpha_sigma2(alpha, sigma2) -> tuple[float, float]:
    return check_positive_float("alpha", alpha), check_positive_float("sigma2", sigma2)


def marchenko_pastur_edges(alpha: float, sigma2: float = 1.0) -> tuple[float, float]:
    r"""Edges :math:`\lambda_\pm = \sigma^2 (1 \pm \sqrt\alpha)^2` of the MP bulk for ratio :math:`\alpha = M/N`."""
    alpha, sigma2 = _check_alpha_sigma2(alpha, sigma2)
    r = np.sqrt(alpha)
    return sigma2 * (1.0 - r) ** 2, sigma2 * (1.0 + r) ** 2


def marchenko_pastur_density(x, alpha: float, sigma2: float = 1.0) -> np.ndarray:
    r"""Density of the continuous part of the MP law, :math:`\rho(x)` (module docstring).

    :math:`\rho(x) = \sqrt{(\lambda_+ - x)(x - \lambda_-)} / (2\pi\sigma^2\alpha x)` on
    :math:`[\lambda_-, \lambda_+]`, 0 elsewhere. It integrates to :math:`\min(1, 1/\alpha)`: for
    :math:`\alpha > 1` the law also has a point mass :math:`1 - 1/\alpha` at 0, which a density
    cannot show (:func:`marchenko_pastur_cdf` includes it).
    """
    alpha, sigma2 = _check_alpha_sigma2(alpha, sigma2)
    x = np.asarray(x, dtype=np.float64)
    lo, hi = marchenko_pastur_edges(alpha, sigma2)
    inside = (x > lo) & (x < hi) & (x > 0)
    xs = np.where(inside, x, 0.5 * (lo + hi))
    rho = np.sqrt(np.maximum((hi - xs) * (xs - lo), 0.0)) / (2.0 * np.pi * sigma2 * alpha * xs)
    return np.where(inside, rho, 0.0)


def marchenko_pastur_cdf(x, alpha: float, sigma2: float = 1.0) -> np.ndarray:
    r"""Cumulative distribution function of the MP law, point mass at 0 included (right-continuous).

    Closed form of :math:`\int_{\lambda_-}^x \rho`: with :math:`c = (\lambda_+ + \lambda_-)/2`,
    :math:`r = (\lambda_+ - \lambda_-)/2` and :math:`x = c - r\cos\theta`,

    .. math::

        F(x) = \Big(1 - \tfrac1\alpha\Big)_+ + \frac{1}{2\pi\sigma^2\alpha}\Big[
            \sqrt{(\lambda_+ - x)(x - \lambda_-)} + c\,\theta
            - 2\sqrt{\lambda_+\lambda_-}\, \arctan\sqrt{\tfrac{\lambda_+ (x - \lambda_-)}
            {\lambda_- (\lambda_+ - x)}}\,\Big]

    for :math:`x \in [\lambda_-, \lambda_+]` (``docs/theory.md`` derives it); 0 below 0, 1 above
    :math:`\lambda_+`.
    """
    alpha, sigma2 = _check_alpha_sigma2(alpha, sigma2)
    x = np.asarray(x, dtype=np.float64)
    lo, hi = marchenko_pastur_edges(alpha, sigma2)
    c, r = 0.5 * (hi + lo), 0.5 * (hi - lo)
    xc = np.clip(x, lo, hi)
    theta = np.arccos(np.clip((c - xc) / r, -1.0, 1.0))
    root = np.sqrt(np.maximum((hi - xc) * (xc - lo), 0.0))
    atan = np.arctan2(np.sqrt(hi * (xc - lo)), np.sqrt(np.maximum(lo * (hi - xc), 0.0)))
    cont = (root + c * theta - 2.0 * np.sqrt(hi * lo) * atan) / (2.0 * np.pi * sigma2 * alpha)
    mass0 = max(0.0, 1.0 - 1.0 / alpha)
    F = np.where(x >= 0.0, mass0, 0.0) + np.where(x >= lo, cont, 0.0)
    return np.clip(np.where(x >= hi, 1.0, F), 0.0, 1.0)


def ks_distance_to_mp(eigvals, alpha: float, sigma2: float = 1.0, zero_tol: float | None = None) -> float:
    r"""Kolmogorov–Smirnov distance :math:`\sup_x |F_n(x) - F(x)|` between the empirical distribution of
    ``eigvals`` and the MP law (:func:`marchenko_pastur_cdf`).

    Eigenvalues with :math:`|\lambda| \le` ``zero_tol`` (default: the round-off scale
    :func:`hessian_spectra.spectrum.zero_tolerance`) count as exact zeros, so that the point mass of
    :math:`\alpha > 1` is compared with the number of zero eigenvalues. The supremum is attained at
    the sample points, on one side or the other: :math:`\max_i \max(i/n - F(\lambda_{(i)}),
    F(\lambda_{(i)}^-) - (i-1)/n)`.
    """
    from .spectrum import zero_tolerance

    w = np.sort(as_float_array("eigvals", eigvals, ndim=1))
    if w.size == 0:
        raise ValueError("eigvals must hold at least one eigenvalue")
    tol = zero_tolerance(w) if zero_tol is None else float(zero_tol)
    w = np.where(np.abs(w) <= tol, 0.0, w)
    n = w.size
    F = marchenko_pastur_cdf(w, alpha, sigma2)
    F_left = np.where(w == 0.0, 0.0, F)  # the only jump of F is at 0
    i = np.arange(1, n + 1)
    return float(max(np.max(i / n - F), np.max(F_left - (i - 1) / n)))


# --------------------------------------------------------------------------------------------
# BBP
# --------------------------------------------------------------------------------------------


def bbp_threshold(alpha: float) -> float:
    r"""Critical spike :math:`1 + \sqrt\alpha`: larger spikes produce an outlier (Baik et al., 2005)."""
    alpha = check_positive_float("alpha", alpha)
    return 1.0 + np.sqrt(alpha)


def bbp_outlier(spike: float, alpha: float, sigma2: float = 1.0) -> float:
    r"""Limit of the top eigenvalue of S for population covariance :math:`\sigma^2\mathrm{diag}(\ell,1,\dots,1)`.

    :math:`\sigma^2\,\ell\,(1 + \alpha/(\ell - 1))` for :math:`\ell > 1 + \sqrt\alpha`; below the
    threshold the top eigenvalue sticks to the bulk edge :math:`\sigma^2(1+\sqrt\alpha)^2`, which is
    returned then (the two agree at the threshold).
    """
    spike = check_positive_float("spike", spike)
    alpha, sigma2 = _check_alpha_sigma2(alpha, sigma2)
    if spike <= bbp_threshold(alpha):
        return marchenko_pastur_edges(alpha, sigma2)[1]
    return sigma2 * spike * (1.0 + alpha / (spike - 1.0))


# --------------------------------------------------------------------------------------------
# Problems on Gaussian data
# --------------------------------------------------------------------------------------------


def gaussian_inputs(
    n_samples: int, dim: int, spike: float | None = None, seed: int | np.random.Generator | None = 0
) -> np.ndarray:
    r"""Inputs :math:`x_i \sim \mathcal N(0, \Sigma)`, shape (N, d), :math:`\Sigma = \mathrm{diag}(\ell, 1, \dots, 1)`.

    ``spike`` = :math:`\ell` (default: none, :math:`\Sigma = I_d`) plants one population direction
    (the first coordinate) of variance :math:`\ell`.
    """
    n_samples = check_positive_int("n_samples", n_samples)
    dim = check_positive_int("dim", dim)
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, dim))
    if spike is not None:
        X[:, 0] *= np.sqrt(check_positive_float("spike", spike))
    return X


def softmax_regression(
    X, y=None, n_classes: int = 2, loss: str = "cross_entropy", seed: int | np.random.Generator | None = 0
) -> Objective:
    """Softmax (or, with ``loss="mse"``, linear) regression as an :class:`Objective`.

    Layer sizes ``(d, C)`` with the ``"linear"`` activation: logits :math:`f = x W + b`, linear in the
    parameters, so R = 0 and H = G. ``y`` defaults to labels drawn uniformly from ``seed`` (the
    Hessian at w = 0 does not depend on them for cross-entropy; for MSE it never does).
    """
    X = as_float_array("X", X, ndim=2)
    n_classes = check_positive_int("n_classes", n_classes, minimum=2)
    if y is None:
        y = np.random.default_rng(seed).integers(0, n_classes, size=X.shape[0])
    return Objective(X, y, (X.shape[1], n_classes), "linear", loss)


def softmax_regression_mp(n_samples: int, dim: int, n_classes: int, loss: str = "cross_entropy") -> dict:
    r"""The MP law the Hessian of :func:`softmax_regression` follows on :math:`\mathcal N(0, I_d)` inputs.

    At :math:`w = 0` for cross-entropy, at every w for MSE (module docstring):

    - ``alpha`` = :math:`(d+1)/N` (the bias is a constant feature);
    - ``sigma2`` = :math:`1/C` (cross-entropy) or 1 (MSE);
    - ``n_structural_zeros``: :math:`d+1` for cross-entropy (the direction :math:`\mathbf 1` of
      :math:`A_0`, i.e. adding a constant to all logits), 0 for MSE;
    - ``multiplicity``: the remaining :math:`P - n_{\rm zeros}` eigenvalues are ``multiplicity``
      copies of the spectrum of :math:`\tilde S\,\sigma^2`, C−1 (cross-entropy) or C (MSE).

    So, with the ``n_structural_zeros`` smallest eigenvalues of H removed, the rest follow
    :math:`\mathrm{MP}(\alpha, \sigma^2)` (its point mass at 0 included when :math:`\alpha > 1`).
    """
    n_samples = check_positive_int("n_samples", n_samples)
    dim = check_positive_int("dim", dim)
    n_classes = check_positive_int("n_classes", n_classes, minimum=2)
    check_choice("loss", loss, ("cross_entropy", "mse"))
    m = dim + 1
    ce = loss == "cross_entropy"
    return {
        "alpha": m / n_samples,
        "sigma2": 1.0 / n_classes if ce else 1.0,
        "n_structural_zeros": m if ce else 0,
        "multiplicity": n_classes - 1 if ce else n_classes,
        "n_params": mlp.n_params((dim, n_classes)),
    }


def logistic_regression_hessian(X, w) -> np.ndarray:
    r"""Hessian of binary logistic regression, :math:`H = \frac1N\sum_i s_i(1-s_i)\,x_i x_i^\top` (S18, App. B).

    Loss :math:`\frac1N\sum_i \log(1 + e^{-y_i w^\top x_i})` with :math:`y_i = \pm 1`, no bias, and
    :math:`s_i = \sigma(w^\top x_i)`; the labels drop out because :math:`s(1-s)` is even in
    :math:`w^\top x`. Written as :math:`\frac1N X^\top T^2 X`, :math:`T = \mathrm{diag}\sqrt{s(1-s)}`.
    At :math:`w = 0` it is :math:`S/4`: MP with :math:`\alpha = d/N`, :math:`\sigma^2 = \sigma_x^2/4`.
    """
    X = as_float_array("X", X, ndim=2)
    w = as_float_array("w", w, ndim=1)
    if w.shape[0] != X.shape[1]:
        raise ValueError(f"w must have length d = {X.shape[1]} (the columns of X); got {w.shape[0]}")
    s = 0.5 * (np.tanh(0.5 * (X @ w)) + 1.0)
    T2 = s * (1.0 - s)
    H = (X * T2[:, None]).T @ X / X.shape[0]
    return 0.5 * (H + H.T)
