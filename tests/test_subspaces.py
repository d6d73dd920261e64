"""Subspaces of parameter space: a vector's fraction in an eigenspace, the overlap of two subspaces, and
the span of Papyan's class means by vector-Jacobian products.

Each is compared with an independent route: an explicit P×P projector, SciPy's principal angles
(``scipy.linalg.subspace_angles``), Papyan's class means from per-sample Jacobians, and a closed form
(the gradient at uniform predictions is a combination of the class means).
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from hessian_spectra import Objective, mlp, spectrum
from hessian_spectra.curvature import papyan

# Sums of a few hundred products of float64 numbers of size ≤ 1, computed in another order: they agree
# to ~1e-15; 1e-12 leaves three orders of headroom and is far below any error of substance.
TIGHT = 1e-12


def _orthonormal(rng, P, k):
    Q, _ = np.linalg.qr(rng.standard_normal((P, k)))
    return Q


# --------------------------------------------------------------------------------------------
# projection_fractions
# --------------------------------------------------------------------------------------------


def test_projection_fractions_equal_the_explicit_projector(rng):
    """f_k = ‖P_k v‖²/‖v‖² with P_k = Q_k Q_kᵀ formed as a P×P matrix, for every k; the fractions
    grow with k and reach 1 when the columns span the whole space."""
    P, m = 30, 7
    Q = _orthonormal(rng, P, m)
    v = rng.standard_normal(P)
    f = spectrum.projection_fractions(v, Q)
    for k in range(1, m + 1):
        Pk = Q[:, :k] @ Q[:, :k].T
        assert f[k - 1] == pytest.approx(np.linalg.norm(Pk @ v) ** 2 / np.linalg.norm(v) ** 2, abs=TIGHT)
    assert np.all(np.diff(f) >= 0)
    full = spectrum.projection_fractions(v, _orthonormal(rng, P, P))
    assert full[-1] == pytest.approx(1.0, abs=TIGHT)


def test_projection_fraction_of_an_eigenvector_combination(rng):
    """For v = Σ_j a_j u_j in the eigenbasis of a symmetric matrix, the fraction in the top-k
    eigenvectors is Σ_{j≤k} a_j² / Σ_j a_j² (a closed form, no projector)."""
    P = 12
    U = _orthonormal(rng, P, P)
    lam = np.linspace(5.0, 0.1, P)
    A = U @ np.diag(lam) @ U.T
    a = rng.standard_normal(P)
    v = U @ a
    w, V = np.linalg.eigh(A)
    V = V[:, ::-1]  # largest first
    f = spectrum.projection_fractions(v, V)
    assert np.allclose(f, np.cumsum(a**2) / np.sum(a**2), atol=TIGHT)


def test_projection_fractions_reject_bad_input(rng):
    """A non-orthonormal Q, mismatched shapes and a zero vector are refused with one ValueError
    naming the argument."""
    Q = _orthonormal(rng, 10, 3)
    with pytest.raises(ValueError, match="Q must have orthonormal columns"):
        spectrum.projection_fractions(rng.standard_normal(10), 2.0 * Q)
    with pytest.raises(ValueError, match="Q must have one row per entry of v"):
        spectrum.projection_fractions(rng.standard_normal(9), Q)
    with pytest.raises(ValueError, match="v must be nonzero"):
        spectrum.projection_fractions(np.zeros(10), Q)


# --------------------------------------------------------------------------------------------
# subspace_overlap
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("dims", [(4, 4), (3, 6), (6, 2)])
def test_subspace_overlap_is_the_mean_squared_cosine_of_scipys_principal_angles(rng, dims):
    """overlap(A, B) = mean of cos² θ_j over the min(a, b) principal angles that
    scipy.linalg.subspace_angles computes (another algorithm: Knyazev & Argentati's sine/cosine
    split); bases that are not orthonormal give the same value."""
    a, b = dims
    P = 20
    A = rng.standard_normal((P, a))
    B = 0.7 * A[:, : min(a, b)] @ rng.standard_normal((min(a, b), b)) + rng.standard_normal((P, b))
    theta = scipy.linalg.subspace_angles(A, B)
    expected = float(np.mean(np.cos(theta) ** 2))
    assert spectrum.subspace_overlap(A, B) == pytest.approx(expected, abs=1e-10)
    R = rng.standard_normal((a, a)) + 3 * np.eye(a)  # another basis of the same span
    assert spectrum.subspace_overlap(A @ R, B) == pytest.approx(expected, abs=1e-10)


def test_subspace_overlap_limits(rng):
    """1 for a span inside another, 0 for orthogonal spans, symmetric in its arguments; a zero
    matrix is refused."""
    Q = _orthonormal(rng, 15, 6)
    assert spectrum.subspace_overlap(Q[:, :2], Q) == pytest.approx(1.0, abs=TIGHT)
    assert spectrum.subspace_overlap(Q[:, :3], Q[:, 3:]) == pytest.approx(0.0, abs=TIGHT)
    A, B = rng.standard_normal((15, 3)), rng.standard_normal((15, 3))
    assert spectrum.subspace_overlap(A, B) == pytest.approx(spectrum.subspace_overlap(B, A), abs=TIGHT)
    with pytest.raises(ValueError, match="at least one direction"):
        spectrum.subspace_overlap(np.zeros((15, 2)), B)
    with pytest.raises(ValueError, match="same number of rows"):
        spectrum.subspace_overlap(A[:10], B)


# --------------------------------------------------------------------------------------------
# Papyan's class means by vector-Jacobian products
# --------------------------------------------------------------------------------------------


def _problem(counts, activation, seed=0):
    rng = np.random.default_rng(seed)
    C = len(counts)
    y = rng.permutation(np.repeat(np.arange(C), counts))
    X = rng.normal(size=(y.size, 4)) + 1.5 * np.eye(C, 4)[y]
    sizes = (4, 5, 6, C)
    obj = Objective(X, y, sizes, activation, "cross_entropy")
    return obj, mlp.init_params(sizes, "normal", seed=seed + 1, scale=0.6)


@pytest.mark.parametrize("counts", [(5, 5, 5), (9, 4, 2, 6)])
@pytest.mark.parametrize("activation", ["relu", "tanh"])
@pytest.mark.parametrize("weighting", ["samples", "classes"])
def test_class_means_by_products_equal_the_per_sample_route(counts, activation, weighting):
    """δ_{c,c'}, δ_c and ν_{c,c'} by one backpropagation of C cotangents per class equal Papyan's
    means built from autograd's per-sample Jacobians, balanced or not, with either weighting."""
    obj, w = _problem(counts, activation)
    fast = papyan.class_means_by_products(obj, w, weighting)
    ref = papyan.class_means(obj, w, weighting, method="autograd")
    scale = np.abs(ref.delta_cc).max()
    for name in ("delta_cc", "delta_c", "nu", "class_weights"):
        assert np.allclose(getattr(fast, name), getattr(ref, name), rtol=0, atol=TIGHT * scale), name
    assert np.array_equal(fast.class_counts, ref.class_counts)


def test_class_means_by_products_refuse_mse():
    """The class-mean split is for cross-entropy: MSE is refused with a ValueError naming the loss."""
    obj, w = _problem((4, 4, 4), "tanh")
    with pytest.raises(ValueError, match="loss='mse'"):
        papyan.class_means_by_products(Objective(obj.X, obj.y, obj.layer_sizes, "tanh", "mse"), w)


def test_gradient_at_uniform_predictions_lies_in_the_span_of_the_class_means(rng):
    """At p(x_i) = 1/C for every sample, Σ_{c'≠c} √p_{c'}(e_{c'} − p) = −√(1/C)(e_c − p), so
    δ_c = g_c / ((C − 1)√C) with g_c the class-c mean of the loss gradients, and
    ∇L = (C − 1)√C Σ_c π_c δ_c (π_c = N_c/N): the gradient lies in span{δ_c}, the range of G1."""
    obj, w = _problem((7, 3, 5), "tanh")
    layers = mlp.unflatten(w, obj.layer_sizes)
    layers[-1] = (np.zeros_like(layers[-1][0]), np.zeros_like(layers[-1][1]))  # zero logits: p = 1/C
    w0 = mlp.flatten(layers)
    C = obj.n_classes
    means = papyan.class_means_by_products(obj, w0)
    g = obj.gradient(w0)
    combination = (C - 1) * np.sqrt(C) * means.class_weights @ means.delta_c
    assert np.allclose(combination, g, rtol=0, atol=TIGHT * np.abs(g).max())
    basis = papyan.class_mean_basis(means)
    assert spectrum.projection_fractions(g, basis)[-1] == pytest.approx(1.0, abs=1e-12)
