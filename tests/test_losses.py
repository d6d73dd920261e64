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
