"""tools/e02_tanh_layers.py: the Gauss-Newton term and its per-class, per-layer factors from one
backward pass, against independent routes."""

from __future__ import annotations

import autograd
import autograd.numpy as anp
import numpy as np

from hessian_spectra import mlp
from hessian_spectra.curvature import decomposition
from hessian_spectra.objective import Objective

from .cases import load_tool


def _tool():
    return load_tool("e02_tanh_layers")


def _problem(activation="tanh", n=24, sizes=(4, 5, 3)):
    rng = np.random.default_rng(11)
    X = rng.standard_normal((n, sizes[0]))
    y = np.arange(n) % sizes[-1]
    obj = Objective(X, y, sizes, activation, "cross_entropy")
    return obj, mlp.init_params(sizes, "normal", seed=2, scale=0.8)


def test_gauss_newton_from_signals_is_the_hessian_of_the_linearized_loss():
    """G from the softmax-factor cotangents equals the Hessian of the loss of the network
    linearized at the point (autograd, no Jacobians, no factor S; theory Eq. T5) to round-off, and
    for a linear activation, where sigma' = 1 already, the 'ungated' G is the same matrix."""
    tool = _tool()
    obj, w = _problem("tanh")
    expected = decomposition.gauss_newton_linearized(obj, w)
    got = tool.gauss_newton_from_signals(obj, w)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
    lin, w_lin = _problem("linear")
    gated = tool.gauss_newton_from_signals(lin, w_lin)
    ungated = tool.gauss_newton_from_signals(lin, w_lin, gated=False)
    np.testing.assert_allclose(ungated, gated, rtol=0, atol=1e-14 * np.abs(gated).max())
    np.testing.assert_allclose(gated, decomposition.gauss_newton_linearized(lin, w_lin), atol=1e-12)


def test_class_factors_match_autograd_jacobians_and_softmax_hessians():
    """For a one-hidden-layer net, M_c of the hidden layer is the class mean of B_i^T A_i B_i with
    B_i = d f_i / d z_1 taken by autograd (the logits as a function of the pre-activations z_1) and
    A_i the autograd Hessian of the sample's cross-entropy in the logits; the logits' factor is the
    class mean of A_i. With gated=False the hidden layer's B_i is W_2^T (sigma' set to 1)."""
    tool = _tool()
    obj, w = _problem("tanh")
    (W1, b1), (W2, b2) = mlp.unflatten(w, obj.layer_sizes)
    Z1 = obj.X @ W1 + b1

    def logits_of_z(z):
        return anp.dot(anp.tanh(z), W2) + b2

    def loss_of_logits(f, label):
        return anp.log(anp.sum(anp.exp(f))) - f[label]

    jac = autograd.jacobian(logits_of_z)
    hess = autograd.hessian(loss_of_logits)
    factors = tool.class_factors(obj, w)
    ungated = tool.class_factors(obj, w, gated=False)
    for c in range(3):
        rows = np.flatnonzero(obj.y == c)
        A = [hess(logits_of_z(Z1[i]), obj.y[i]) for i in rows]
        B = [jac(Z1[i]) for i in rows]  # (C, n_1)
        M_hidden = np.mean([b.T @ a @ b for a, b in zip(A, B, strict=True)], axis=0)
        M_plain = np.mean([W2 @ a @ W2.T for a in A], axis=0)
        np.testing.assert_allclose(factors[0][c], M_hidden, rtol=0, atol=1e-13)
        np.testing.assert_allclose(factors[1][c], np.mean(A, axis=0), rtol=0, atol=1e-13)
        np.testing.assert_allclose(ungated[0][c], M_plain, rtol=0, atol=1e-13)
