"""tools/e11_cross_class.py: Papyan's class means with given probabilities, the evened wrong mass and
its effective number of classes."""

from __future__ import annotations

import numpy as np

from hessian_spectra import losses, mlp
from hessian_spectra.curvature import decomposition
from hessian_spectra.objective import Objective

from .cases import load_tool


def _tool():
    return load_tool("e11_cross_class")


def _problem():
    rng = np.random.default_rng(5)
    sizes = (4, 6, 4)
    X = rng.standard_normal((20, 4))
    y = np.arange(20) % 4
    obj = Objective(X, y, sizes, "relu", "cross_entropy")
    return obj, mlp.init_params(sizes, "normal", seed=3, scale=0.9)


def _delta_cc_from_jacobians(obj, w, p):
    """delta_{c,c'} = mean over class c of sqrt(p_{i,c'}) J_i^T (e_{c'} - p_i), J_i by autograd."""
    J = decomposition.per_sample_jacobians(obj, w, method="autograd")  # (N, C, P)
    C = p.shape[1]
    out = np.zeros((C, C, J.shape[-1]))
    for c in range(C):
        rows = np.flatnonzero(obj.y == c)
        for k in range(C):
            out[c, k] = np.mean([np.sqrt(p[i, k]) * J[i].T @ (np.eye(C)[k] - p[i]) for i in rows], axis=0)
    return out


def test_class_means_match_autograd_jacobians_with_any_probabilities():
    """With the network's probabilities and with evened ones, the class means from the stacked
    backward pass equal the sums over autograd's per-sample Jacobians (round-off), and delta_c is
    the mean of delta_{c,c'} over the wrong classes."""
    tool = _tool()
    obj, w = _problem()
    p = losses.softmax(obj.logits(w))
    for probs in (None, tool.evened_probabilities(p, obj.y)):
        means = tool.class_means_with(obj, w, probs)
        expected = _delta_cc_from_jacobians(obj, w, p if probs is None else probs)
        np.testing.assert_allclose(means.delta_cc, expected, rtol=0, atol=1e-13)
        for c in range(4):
            wrong = [k for k in range(4) if k != c]
            np.testing.assert_allclose(means.delta_c[c], expected[c, wrong].mean(axis=0), atol=1e-13)


def test_evened_probabilities_and_wrong_mass_closed_forms():
    """Evening keeps p_y and the row sums and makes the wrong entries equal; the effective number
    of wrong classes is C - 1 for an even share and 1 when one class takes all of it."""
    tool = _tool()
    p = np.array([[0.7, 0.2, 0.05, 0.05], [0.1, 0.6, 0.3, 0.0]])
    y = np.array([0, 1])
    even = tool.evened_probabilities(p, y)
    np.testing.assert_allclose(even.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(even[[0, 1], y], p[[0, 1], y], rtol=0, atol=0)
    np.testing.assert_allclose(even[0, 1:], 0.1, atol=1e-15)
    np.testing.assert_allclose(even[1, [0, 2, 3]], 0.4 / 3, atol=1e-15)
    y4 = np.arange(4)
    concentrated = np.full((4, 4), 0.0)
    concentrated[y4, y4] = 0.9
    concentrated[y4, (y4 + 1) % 4] = 0.1  # all of each class's wrong mass on one other class
    mass = tool.wrong_mass(concentrated, y4)
    np.testing.assert_allclose(mass["n_eff"], 1.0)
    np.testing.assert_allclose(mass["top_share"], 1.0)
    mass = tool.wrong_mass(tool.evened_probabilities(concentrated, y4), y4)
    np.testing.assert_allclose(mass["n_eff"], 3.0)
    np.testing.assert_allclose(mass["top_share"], 1 / 3)


def test_common_fraction_is_one_for_identical_class_features_and_zero_when_centred():
    """With the last hidden layer's incoming weights zero, every sample has the same features
    (relu(b)), so the class means coincide and the common fraction is 1; the collapsed model's
    centred class features are then all zero, and so are its class means."""
    tool = _tool()
    obj, w = _problem()
    w = w.copy()
    ws, _ = mlp.param_slices(obj.layer_sizes)[0]
    w[ws] = 0.0
    np.testing.assert_allclose(tool.common_fraction(obj, w), 1.0, rtol=1e-14)
    centred = tool.collapsed_last_layer_means(obj, w, centred=True)
    assert np.abs(centred.delta_cc).max() < 1e-15
