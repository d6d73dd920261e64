"""Closed-form products Hv, Gv, Rv (curvature.fast_products) against dense matrices built independently.

References, built here without the code under test: H by ``autograd.hessian`` of the loss
(``curvature.reference``), G as (1/N) Σ J_iᵀ A_i J_i from ``autograd.jacobian`` of the logits and the
closed-form A_i of ``losses.logit_hessian``, and R = H − G (the closed form computes R from its own
terms, so H = G + R is a check).
"""

from __future__ import annotations

import numpy as np
import pytest
from autograd import jacobian

from hessian_spectra import losses, mlp
from hessian_spectra.curvature import matrix_free, reference
from hessian_spectra.curvature.fast_products import fast_curvature_operator
from hessian_spectra.objective import Objective

# Each product is a few BLAS passes in float64; the worst relative error measured is ~5e-16.
# 1e-10 is the project's threshold for "the same number by another route".
PRODUCT_RTOL = 1e-10


def _problem(sizes, activation, loss, n=25, seed=0, scale=0.7):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, sizes[0]))
    y = rng.integers(0, sizes[-1], size=n)
    # scale 0.7 puts tanh/sigmoid units in their curved range, so σ'' terms matter
    return Objective(X, y, sizes, activation, loss), mlp.init_params(
        sizes, "normal", seed=seed + 1, scale=scale
    )


def _dense(objective, params):
    H = reference.hessian(objective, params)
    J = jacobian(objective.logits)(params)
    A = losses.logit_hessian(objective.logits(params), objective.y, objective.loss)
    G = np.einsum("ncp,ncd,ndq->pq", J, A, J) / objective.n_samples
    return {"H": H, "G": G, "R": H - G}


def _rel(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300)


@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid", "softplus"])
@pytest.mark.parametrize("loss", ["mse", "cross_entropy"])
@pytest.mark.parametrize(
    "sizes", [(4, 6, 3), (5, 7, 6, 3), (3, 4, 5, 4, 2)], ids=["1 hidden", "2 hidden", "3 hidden"]
)
def test_products_equal_the_dense_matrices_times_v(activation, loss, sizes):
    """For every activation, loss and depth, Hv, Gv and Rv equal the dense H, G, R (autograd routes)
    applied to random vectors, to round-off."""
    objective, params = _problem(sizes, activation, loss)
    dense = _dense(objective, params)
    rng = np.random.default_rng(7)
    for term in "HGR":
        op = fast_curvature_operator(objective, params, term)
        for _ in range(2):
            v = rng.standard_normal(objective.n_params)
            assert _rel(op @ v, dense[term] @ v) < PRODUCT_RTOL, (term, activation, loss, sizes)


def test_a_linear_model_has_no_residual_term():
    """With no hidden layer the logits are linear in w: Rv = 0 exactly and Hv = Gv."""
    objective, params = _problem((4, 3), "relu", "cross_entropy")
    v = np.random.default_rng(1).standard_normal(objective.n_params)
    assert np.all(fast_curvature_operator(objective, params, "R") @ v == 0.0)
    dense = _dense(objective, params)
    assert _rel(fast_curvature_operator(objective, params, "H") @ v, dense["G"] @ v) < PRODUCT_RTOL


def test_same_products_as_the_autograd_operators():
    """The closed form and matrix_free's autograd operators (forward over reverse) agree product by
    product on a network with the shapes E12 uses (784 inputs, two hidden layers)."""
    rng = np.random.default_rng(3)
    sizes = (784, 4, 4, 10)
    X = rng.uniform(0, 1, size=(40, 784)) - 0.5
    y = rng.integers(0, 10, size=40)
    objective = Objective(X, y, sizes, "relu", "mse")
    params = mlp.init_params(sizes, "normal", seed=2, scale=0.05)
    v = rng.standard_normal(objective.n_params)
    for term in "HGR":
        a = fast_curvature_operator(objective, params, term) @ v
        b = matrix_free.curvature_operator(objective, params, term) @ v
        assert _rel(a, b) < PRODUCT_RTOL, term


def test_operator_counts_products_and_rejects_an_unknown_term():
    """The operator is a CurvatureOperator (counts its products, symmetric, P×P); a wrong term is a
    ValueError naming the argument."""
    objective, params = _problem((4, 5, 3), "tanh", "mse")
    op = fast_curvature_operator(objective, params, "G")
    assert op.shape == (objective.n_params, objective.n_params) and op.term == "G"
    rng = np.random.default_rng(0)
    u, w = rng.standard_normal((2, objective.n_params))
    gw, gu = op @ w, op @ u
    assert abs(u @ gw - w @ gu) < 1e-12 * np.linalg.norm(gw) * np.linalg.norm(u)
    op.matmat(np.stack([u, w], axis=1))
    assert op.n_products == 4
    with pytest.raises(ValueError, match="term"):
        fast_curvature_operator(objective, params, "K")
