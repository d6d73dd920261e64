"""Marchenko–Pastur, BBP, and the spectra of Hessians of models linear in their parameters (S18, App. B)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from autograd import hessian
from scipy import integrate

from hessian_spectra import rmt
from hessian_spectra.curvature import decomposition as D
from hessian_spectra.curvature import reference

ALPHAS = (0.25, 1.0, 2.0)


# --------------------------------------------------------------------------------------------
# The law itself, against quadrature and closed-form moments
# --------------------------------------------------------------------------------------------


def test_marchenko_pastur_edges():
    """λ± = σ²(1 ± √α)²: (0.25, 2.25) for α = 0.25 and (0, 2) for α = 1, σ² = 1/2."""
    np.testing.assert_allclose(rmt.marchenko_pastur_edges(0.25), (0.25, 2.25), rtol=1e-15)
    np.testing.assert_allclose(rmt.marchenko_pastur_edges(1.0, 0.5), (0.0, 2.0), rtol=1e-15)


@pytest.mark.parametrize("alpha", ALPHAS)
@pytest.mark.parametrize("sigma2", [1.0, 0.3])
def test_density_mass_and_moments(alpha, sigma2):
    """The density integrates to min(1, 1/α) (the rest is the point mass at 0), and the law's first two
    moments are σ² and σ⁴(1 + α) (moments of (1/N) X Xᵀ: E tr S/M = σ², E tr S²/M = σ⁴(1 + α))."""
    lo, hi = rmt.marchenko_pastur_edges(alpha, sigma2)

    def moment(k):
        return integrate.quad(
            lambda x: x**k * rmt.marchenko_pastur_density(x, alpha, sigma2), lo, hi, limit=200
        )[0]

    # quad on a square-root edge (or 1/√x at 0 for α = 1) converges to ~1e-9
    np.testing.assert_allclose(moment(0), min(1.0, 1.0 / alpha), rtol=1e-7)
    np.testing.assert_allclose(moment(1), sigma2, rtol=1e-7)
    np.testing.assert_allclose(moment(2), sigma2**2 * (1 + alpha), rtol=1e-7)
    assert rmt.marchenko_pastur_density(hi * 1.01, alpha, sigma2) == 0.0


@pytest.mark.parametrize("alpha", ALPHAS)
def test_closed_form_cdf_matches_quadrature(alpha):
    """F(x) (closed form) equals (1 − 1/α)₊ + ∫ρ by quadrature at interior points, is 0 below 0, 1 at
    λ₊, and jumps by 1 − 1/α at 0 when α > 1."""
    sigma2 = 0.7
    lo, hi = rmt.marchenko_pastur_edges(alpha, sigma2)
    xs = np.linspace(lo, hi, 9)[1:-1]
    mass0 = max(0.0, 1 - 1 / alpha)
    quad = [
        mass0 + integrate.quad(lambda t: rmt.marchenko_pastur_density(t, alpha, sigma2), lo, x, limit=200)[0]
        for x in xs
    ]
    np.testing.assert_allclose(rmt.marchenko_pastur_cdf(xs, alpha, sigma2), quad, atol=1e-9)
    assert rmt.marchenko_pastur_cdf(-1e-3, alpha, sigma2) == 0.0
    np.testing.assert_allclose(rmt.marchenko_pastur_cdf(hi, alpha, sigma2), 1.0, atol=1e-12)
    np.testing.assert_allclose(rmt.marchenko_pastur_cdf(0.0, alpha, sigma2), mass0, atol=1e-12)


def test_ks_distance_matches_scipy_and_sees_the_point_mass():
    """For α ≤ 1 (continuous law) ks_distance_to_mp equals scipy.stats.kstest's statistic; for α > 1
    the zeros are compared with the point mass: a sample with zeros replaced by positive values is
    far from the law."""
    rng = np.random.default_rng(0)
    M, N = 100, 400
    X = rng.standard_normal((M, N))
    w = np.linalg.eigvalsh(X @ X.T / N)
    ks_ref = scipy.stats.kstest(w, lambda x: rmt.marchenko_pastur_cdf(x, M / N)).statistic
    np.testing.assert_allclose(rmt.ks_distance_to_mp(w, M / N), ks_ref, rtol=1e-12)
    X = rng.standard_normal((200, 100))
    w = np.linalg.eigvalsh(X @ X.T / 100)  # 100 exact zeros
    assert rmt.ks_distance_to_mp(w, 2.0) < 0.05
    assert rmt.ks_distance_to_mp(np.abs(w) + 0.3, 2.0) > 0.4


# --------------------------------------------------------------------------------------------
# Linear models: R = 0, and H follows MP
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_softmax_regression_is_linear_in_parameters_so_residual_vanishes(loss):
    """Softmax/linear regression (layer sizes (d, C), linear activation): ∇²f = 0, so R is exactly zero
    (frozen-residual Hessian, bitwise) and autograd's H equals G to round-off, at a random w."""
    X = rmt.gaussian_inputs(30, 5, seed=1)
    ob = rmt.softmax_regression(X, n_classes=3, loss=loss, seed=1)
    w = np.random.default_rng(2).normal(size=ob.n_params)
    assert np.all(D.residual_term(ob, w) == 0.0)
    H = reference.hessian(ob, w)
    assert np.linalg.norm(H - D.gauss_newton(ob, w)) <= 1e-12 * np.linalg.norm(H)


# KS bounds: the largest distance seen over 100 seeds (observed max in brackets), times ~1.5.
# Eigenvalues of random matrices are rigid, so the KS distance is far below the 1/√M of i.i.d. samples.
MP_CASES = [
    # (dim, N, C, loss, bound)
    (49, 200, 2, "cross_entropy", 0.10),  # α = 0.25  [0.066]
    (79, 80, 2, "cross_entropy", 0.07),  # α = 1     [0.046]
    (119, 60, 2, "cross_entropy", 0.04),  # α = 2     [0.027]
    (39, 80, 3, "mse", 0.11),  # α = 0.5, three copies  [0.077]
]


@pytest.mark.parametrize("dim, n, C, loss, bound", MP_CASES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hessian_spectrum_of_softmax_regression_follows_marchenko_pastur(dim, n, C, loss, bound, seed):
    """On x ~ N(0, I_d), the Hessian (autograd, dense) of softmax regression at w = 0 (cross-entropy) or
    at a random w (MSE), with its n_structural_zeros smallest eigenvalues removed, follows MP with
    α = (d+1)/N and σ² = 1/C (cross-entropy) or 1 (MSE) — KS distance below the bound — while the
    naive ratio α = P/N (parameters over samples) is rejected (KS > 0.12; observed ≥ 0.149)."""
    X = rmt.gaussian_inputs(n, dim, seed=seed)
    ob = rmt.softmax_regression(X, n_classes=C, loss=loss, seed=seed)
    rng = np.random.default_rng(seed)
    w = np.zeros(ob.n_params) if loss == "cross_entropy" else rng.normal(size=ob.n_params)
    ev = np.linalg.eigvalsh(reference.hessian(ob, w))
    law = rmt.softmax_regression_mp(n, dim, C, loss)
    assert law["alpha"] == (dim + 1) / n
    n0 = law["n_structural_zeros"]
    kept = ev[n0:]
    assert np.all(np.abs(ev[:n0]) <= 1e-12 * ev[-1])
    assert rmt.ks_distance_to_mp(kept, law["alpha"], law["sigma2"]) <= bound
    assert rmt.ks_distance_to_mp(kept, ob.n_params / n, law["sigma2"]) > 0.12


def test_logistic_regression_hessian_matches_autograd_and_is_mp_at_zero():
    """S18 App. B's logistic regression: H = (1/N) Xᵀ diag(s(1−s)) X equals autograd's Hessian of
    (1/N) Σ log(1 + exp(−y wᵀx)) at a random w; at w = 0, 4H follows MP(α = d/N, σ² = 1)."""
    import autograd.numpy as anp

    X = rmt.gaussian_inputs(300, 60, seed=3)
    y = np.where(np.random.default_rng(3).random(300) < 0.5, -1.0, 1.0)
    w = np.random.default_rng(4).normal(scale=0.3, size=60)

    def loss(v):
        return anp.mean(anp.logaddexp(0.0, -y * anp.dot(X, v)))

    np.testing.assert_allclose(
        rmt.logistic_regression_hessian(X, w), hessian(loss)(w), rtol=1e-10, atol=1e-14
    )
    ev = np.linalg.eigvalsh(4 * rmt.logistic_regression_hessian(X, np.zeros(60)))
    assert rmt.ks_distance_to_mp(ev, 60 / 300) <= 0.10  # 60 eigenvalues; α = 0.2 as in S18 Fig. 9


# --------------------------------------------------------------------------------------------
# BBP
# --------------------------------------------------------------------------------------------


def test_bbp_formula_threshold_and_continuity():
    """Threshold 1 + √α; ℓ(1 + α/(ℓ − 1)) above it (4·(4/3) for ℓ = 4, α = 1); at the threshold the
    outlier location meets the bulk edge (1 + √α)², and below it the edge is returned."""
    assert rmt.bbp_threshold(0.25) == 1.5
    np.testing.assert_allclose(rmt.bbp_outlier(4.0, 1.0), 16 / 3, rtol=1e-15)
    for alpha in (0.1, 0.5, 2.0):
        thr = rmt.bbp_threshold(alpha)
        edge = rmt.marchenko_pastur_edges(alpha)[1]
        np.testing.assert_allclose(rmt.bbp_outlier(thr * (1 + 1e-9), alpha), edge, rtol=1e-7)
        assert rmt.bbp_outlier(0.9 * thr, alpha) == edge


def test_planted_spike_gives_outlier_at_bbp_location():
    """Logistic regression at w = 0 on x ~ N(0, diag(ℓ, 1, …, 1)), d = N = 1000: the top eigenvalue of
    4H sits at the BBP location ℓ(1 + α/(ℓ−1)) = 16/3 for ℓ = 4 (not at ℓ = 4, which is also the bulk
    edge), within 4 standard deviations of its Gaussian fluctuation √(2ℓ²(1 − α/(ℓ−1)²)/N) ≈ 0.17
    (Paul, 2007); a subcritical spike ℓ = 1.5 < 1 + √α = 2 leaves no outlier (top within 5% of the
    edge 4)."""
    import scipy.linalg

    n = d = 1000
    alpha, spike = d / n, 4.0
    sd = np.sqrt(2 * spike**2 * (1 - alpha / (spike - 1) ** 2) / n)
    for seed, ell, expected, tol in ((0, spike, rmt.bbp_outlier(spike, alpha), 4 * sd), (1, 1.5, 4.0, 0.2)):
        X = rmt.gaussian_inputs(n, d, spike=ell, seed=seed)
        H4 = 4 * rmt.logistic_regression_hessian(X, np.zeros(d))
        top = scipy.linalg.eigh(H4, eigvals_only=True, subset_by_index=[d - 1, d - 1])[0]
        assert abs(top - expected) <= tol, (ell, top, expected)


def test_rmt_functions_reject_bad_input():
    """Non-positive α, σ² or spike → ValueError naming the argument; w of the wrong length → ValueError."""
    with pytest.raises(ValueError, match="alpha"):
        rmt.marchenko_pastur_edges(0.0)
    with pytest.raises(ValueError, match="sigma2"):
        rmt.marchenko_pastur_cdf(1.0, 0.5, sigma2=-1)
    with pytest.raises(ValueError, match="spike"):
        rmt.bbp_outlier(-2.0, 0.5)
    with pytest.raises(ValueError, match="w must have length"):
        rmt.logistic_regression_hessian(np.ones((4, 3)), np.ones(2))
    with pytest.raises(ValueError, match="eigvals"):
        rmt.ks_distance_to_mp([], 0.5)


def test_rmt_errors_name_the_argument_and_the_law_counts_parameters():
    """Every bad argument's message starts with the argument's name (alpha, spike, X, n_classes), and
    softmax_regression_mp reports P = (d + 1)·C parameters (d = 5, C = 3: 18) with d + 1 structural
    zeros for cross-entropy."""
    for call, name in (
        (lambda: rmt.marchenko_pastur_edges(-1.0), "alpha"),
        (lambda: rmt.bbp_threshold(0.0), "alpha"),
        (lambda: rmt.bbp_outlier(0.0, 0.5), "spike"),
        (lambda: rmt.softmax_regression(np.ones(5)), "X"),
        (lambda: rmt.softmax_regression(np.ones((4, 2)), n_classes=1), "n_classes"),
        (lambda: rmt.softmax_regression_mp(10, 5, 1), "n_classes"),
    ):
        with pytest.raises(ValueError, match=f"^{name} must be"):
            call()
    law = rmt.softmax_regression_mp(40, 5, 3)
    assert law["n_params"] == 18 and law["n_structural_zeros"] == 6 and law["multiplicity"] == 2
