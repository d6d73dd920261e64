"""tools/e02_tanh_step.py: the saturation fraction of hidden pre-activations."""

from __future__ import annotations

import numpy as np
from scipy.stats import norm

from hessian_spectra.objective import Objective

from .cases import load_tool


def _tool():
    return load_tool("e02_tanh_step")


def test_first_layer_saturation_matches_the_gaussian_closed_form():
    """With every parameter equal to c and inputs x ~ N(0, I_d), each first-layer unit has
    z = c (sum_j x_j + 1) ~ N(c, c^2 d), so the fraction of |z| > t is
    Phi((-t - c)/s) + 1 - Phi((t - c)/s) with s = c sqrt(d) (a closed form that needs no knowledge
    of the parameter layout); the tool's first-layer fraction over N samples must match it."""
    tool = _tool()
    rng = np.random.default_rng(7)
    d, n, c, t = 100, 20000, 0.2, tool.SATURATION
    X = rng.standard_normal((n, d))
    y = np.arange(n) % 3
    obj = Objective(X, y, (d, 8, 3), "tanh", "cross_entropy")
    params = np.full(obj.n_params, c)
    s = c * np.sqrt(d)
    expected = norm.cdf((-t - c) / s) + norm.sf((t - c) / s)
    measured = tool.hidden_saturation(obj, params)[0]
    # all units of the layer are identical, so the estimate is a binomial mean over n samples:
    # five of its standard deviations (about 0.017 at p = 0.33)
    tol = 5 * np.sqrt(expected * (1 - expected) / n)
    assert abs(measured - expected) < tol, (measured, expected, tol)


def test_block_eigenvalues_match_the_dense_hessian_block():
    """The Lanczos eigenvalues of H's diagonal block without the first layer equal the top
    eigenvalues of that block of autograd's dense Hessian (a second route: no Hessian-vector
    products, no restriction operator)."""
    from hessian_spectra import mlp
    from hessian_spectra.curvature import reference

    tool = _tool()
    rng = np.random.default_rng(3)
    sizes = (4, 5, 3)
    X = rng.standard_normal((30, 4))
    y = np.arange(30) % 3
    obj = Objective(X, y, sizes, "tanh", "cross_entropy")
    params = mlp.init_params(sizes, "normal", seed=1, scale=0.7)
    start = mlp.param_slices(sizes)[1][0].start
    H = reference.hessian(obj, params)
    dense = np.sort(np.linalg.eigvalsh(H[start:, start:]))[::-1][:6]
    lanczos = tool.block_top_eigenvalues(obj, params, start, 6)
    # both are float64 eigenvalues of the same 18 x 18 matrix; the Lanczos residual tolerance is
    # far below 1e-8 of the largest eigenvalue
    np.testing.assert_allclose(lanczos, dense, rtol=0, atol=1e-8 * abs(dense[0]))
