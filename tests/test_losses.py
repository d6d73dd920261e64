"""Losses over the logits and their logit-space gradient r and Hessian A."""

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad, hessian

from hessian_spectra import losses


def _single(loss, y, C):
    fn = losses.loss_function(loss)
    return lambda f: fn(anp.reshape(f, (1, C)), np.array([y]))


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_r_and_A_match_autograd(loss, rng):
    """Per-sample r_i = ∇_f ℓ and A_i = ∇²_f ℓ in closed form equal autograd's gradient and
    Hessian of ℓ(·, y_i) at each sample's logits (round-off agreement, 1e-12)."""
    N, C = 6, 4
    Z = 3 * rng.standard_normal((N, C))
    y = rng.integers(0, C, N)
    r = losses.logit_gradient(Z, y, loss)
    A = losses.logit_hessian(Z, y, loss)
    for i in range(N):
        f = _single(loss, y[i], C)
        np.testing.assert_allclose(r[i], grad(f)(Z[i]), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(A[i], hessian(f)(Z[i]), rtol=1e-12, atol=1e-14)


def test_softmax_hessian_is_a_covariance(rng):
    """diag p − ppᵀ = Σ_c p_c (e_c − p)(e_c − p)ᵀ (the identity behind G = Fisher), and its rows sum
    to zero so rank A ≤ C − 1."""
    Z = rng.standard_normal((5, 4))
    A = losses.logit_hessian(Z, np.zeros(5, int), "cross_entropy")
    p = losses.softmax(Z)
    E = np.eye(4)
    for i in range(5):
        cov = sum(p[i, c] * np.outer(E[c] - p[i], E[c] - p[i]) for c in range(4))
        np.testing.assert_allclose(A[i], cov, rtol=1e-13, atol=1e-15)
        np.testing.assert_allclose(A[i].sum(axis=1), 0, atol=1e-15)


def test_cross_entropy_closed_form_and_stability():
    """CE of logits (0, log 3) with label 1 is log(1 + 3) − log 3 = log(4/3); adding 1000 to every
    logit changes nothing (shift invariance, no overflow)."""
    Z = np.array([[0.0, np.log(3.0)]])
    assert np.isclose(losses.cross_entropy(Z, np.array([1])), np.log(4 / 3), rtol=1e-15)
    assert np.isclose(losses.cross_entropy(Z + 1000.0, np.array([1])), np.log(4 / 3), rtol=1e-12)
    np.testing.assert_allclose(losses.per_sample_loss(Z + 1000, [1], "cross_entropy"), [np.log(4 / 3)])


def test_mse_closed_form():
    """MSE = mean_i ½‖f_i − e_{y_i}‖²: for f = 0 and any labels it is ½."""
    Z = np.zeros((3, 4))
    assert losses.mse(Z, np.array([0, 1, 3])) == 0.5
    np.testing.assert_allclose(losses.per_sample_loss(Z, [0, 1, 3], "mse"), 0.5)


def test_mean_of_per_sample_losses(rng):
    """The autograd losses are the mean of the per-sample losses."""
    Z = rng.standard_normal((9, 3))
    y = rng.integers(0, 3, 9)
    for name in losses.LOSSES:
        assert np.isclose(losses.loss_function(name)(Z, y), losses.per_sample_loss(Z, y, name).mean())


def test_accuracy_and_unknown_loss():
    """Accuracy counts argmax hits; an unknown loss name is a clear error."""
    assert losses.accuracy(np.array([[1.0, 0.0], [0.0, 1.0]]), np.array([0, 0])) == 0.5
    with pytest.raises(ValueError, match="loss must be one of"):
        losses.loss_function("hinge")


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_hessian_vector_product_is_autograd_hessian_times_u(loss, rng):
    """A_i u_i without forming A_i equals autograd's Hessian of ℓ(·, y_i) at f_i applied to u_i (1e-12)."""
    N, C = 5, 4
    Z = 3 * rng.standard_normal((N, C))
    y = rng.integers(0, C, N)
    U = rng.standard_normal((N, C))
    Au = losses.get_loss(loss).hessian_vector_product(Z, U)
    for i in range(N):
        np.testing.assert_allclose(
            Au[i], hessian(_single(loss, y[i], C))(Z[i]) @ U[i], rtol=1e-12, atol=1e-14
        )


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_every_method_acts_per_network_on_stacked_logits(loss, rng):
    """The documented contract "logits (..., N, C)": on a stack (K, N, C) of K networks' logits every
    method (value, r, A·u, S, A, and the generic A = S Sᵀ of the base class) gives, for entry k, what it
    gives on that network's (N, C) logits alone, which the tests above check against autograd. Shapes
    K = 2, N = 3, C = 4 all differ, so a reduction over the wrong axis changes the result."""
    K, N, C = 2, 3, 4
    Z = 2 * rng.standard_normal((K, N, C))
    y = rng.integers(0, C, N)
    U = rng.standard_normal((K, N, C))
    L = losses.get_loss(loss)
    stacked = {
        "per_sample": L.per_sample(Z, y),
        "mean": L.mean(Z, y),
        "gradient": L.gradient(Z, y),
        "hvp": L.hessian_vector_product(Z, U),
        "factor": L.hessian_factor(Z),
        "hessian": L.hessian(Z, y),
        "generic_hessian": losses.Loss.hessian(L, Z, y),
    }
    for k in range(K):
        one = {
            "per_sample": [_single(loss, y[i], C)(Z[k, i]) for i in range(N)],
            "mean": np.mean([_single(loss, y[i], C)(Z[k, i]) for i in range(N)]),
            "gradient": [grad(_single(loss, y[i], C))(Z[k, i]) for i in range(N)],
            "hvp": [hessian(_single(loss, y[i], C))(Z[k, i]) @ U[k, i] for i in range(N)],
            "hessian": [hessian(_single(loss, y[i], C))(Z[k, i]) for i in range(N)],
        }
        one["generic_hessian"] = one["hessian"]
        for key, expected in one.items():
            np.testing.assert_allclose(stacked[key][k], expected, rtol=1e-12, atol=1e-14, err_msg=key)
        S = stacked["factor"][k]
        np.testing.assert_allclose(S @ np.swapaxes(S, -1, -2), one["hessian"], rtol=1e-12, atol=1e-14)
        # the generic A = S Sᵀ on one network's (N, C) logits too
        np.testing.assert_allclose(losses.Loss.hessian(L, Z[k], y), one["hessian"], rtol=1e-12, atol=1e-14)


def test_softmax_is_stable_row_by_row():
    """softmax shifts each row by its own maximum: logits of 800 (e^800 overflows) give the same
    probabilities as logits of 0, and a row at 0 next to a row at 2000 keeps its own probabilities
    (a shift by the global maximum would underflow it to 0/0)."""
    Z = np.array([[0.0, np.log(3.0)], [2000.0, 2000.0 + np.log(3.0)]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        p = losses.softmax(Z)
        shifted = losses.softmax(Z[:1] + 800.0)
    # 800 + log 3 and 2000 + log 3 are rounded to ulp(2000) ≈ 2e-13: probabilities to 1e-12
    np.testing.assert_allclose(shifted, [[0.25, 0.75]], rtol=1e-12)
    np.testing.assert_allclose(p, [[0.25, 0.75], [0.25, 0.75]], rtol=1e-12)


def test_accuracy_of_one_and_of_no_sample():
    """One sample is classified right (1.0) or wrong (0.0); no sample has no accuracy (NaN)."""
    assert losses.accuracy(np.array([[0.0, 2.0]]), np.array([1])) == 1.0
    assert losses.accuracy(np.array([[0.0, 2.0]]), np.array([0])) == 0.0
    assert np.isnan(losses.accuracy(np.zeros((0, 3)), np.zeros(0, int)))
