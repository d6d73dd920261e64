"""The objective's gradient and autograd's reference Hessian against independent routes."""

import numpy as np
import pytest

import hessian_spectra as hs
from hessian_spectra import losses, mlp
from hessian_spectra._checks import DenseTooLargeError, check_dense_fits
from hessian_spectra.curvature import reference

from .cases import Case, assert_close, build, relative_error


def _case(act="tanh", loss="cross_entropy"):
    """A 4-5-3-3 network on 12 samples with uniform labels (tests/cases.py)."""
    return Case((4, 5, 3, 3), act, loss, n_samples=12, labels="uniform")


@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid", "softplus", "linear"])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_gradient_matches_central_differences(act, loss, rng):
    """vᵀ∇L equals the central difference (L(w+hv) − L(w−hv))/2h along random unit directions.
    With h = 1e-5 the truncation error is O(h²‖∇³L‖) ≈ 1e-10 and the round-off O(ε/h) ≈ 1e-11, so
    agreement to 1e-7 relative to ‖∇L‖ is required."""
    obj, w = build(_case(act=act, loss=loss))
    g = obj.gradient(w)
    h = 1e-5
    for _ in range(3):
        v = rng.standard_normal(w.size)
        v /= np.linalg.norm(v)
        fd = (obj.loss_value(w + h * v) - obj.loss_value(w - h * v)) / (2 * h)
        assert abs(fd - g @ v) <= 1e-7 * max(np.linalg.norm(g), 1e-3)


@pytest.mark.parametrize("act", ["relu", "tanh", "sigmoid", "softplus"])
@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_hessian_matches_differences_of_the_gradient(act, loss, rng):
    """H v equals (∇L(w+hv) − ∇L(w−hv))/2h for random v (h = 1e-5: error ≈ 1e-9 relative to ‖H‖)."""
    obj, w = build(_case(act=act, loss=loss))
    H = reference.hessian(obj, w)
    h = 1e-5
    for _ in range(3):
        v = rng.standard_normal(w.size)
        v /= np.linalg.norm(v)
        fd = (obj.gradient(w + h * v) - obj.gradient(w - h * v)) / (2 * h)
        assert np.linalg.norm(fd - H @ v) <= 1e-7 * np.linalg.norm(H, 2)


def test_hessian_is_symmetric(rng):
    """autograd's Hessian is symmetric to round-off."""
    obj, w = build(_case(act="softplus"))
    H = reference.hessian(obj, w)
    assert relative_error(H, H.T) < 1e-13


def test_one_layer_mse_closed_form(rng):
    """A network with no hidden layer under MSE has H = (X̃ᵀX̃/N) ⊗ I_C with X̃ = [X, 1] in this
    layout (W row-major then b): its weight block is (XᵀX/N) ⊗ I_C. Exact to round-off."""
    N, d, C = 15, 4, 3
    X = rng.standard_normal((N, d))
    y = rng.integers(0, C, N)
    w = rng.standard_normal(mlp.n_params((d, C)))
    H = hs.hessian_terms(X, y, w, (d, C), "relu", "mse")["H"]
    Xt = np.hstack([X, np.ones((N, 1))])
    expected = np.kron(Xt.T @ Xt / N, np.eye(C))
    assert_close(H, expected, rtol=1e-13, what="H vs (X̃ᵀX̃/N) ⊗ I_C")
    assert_close(H[: d * C, : d * C], np.kron(X.T @ X / N, np.eye(C)), rtol=1e-13, what="weight block")


def test_softmax_regression_closed_form(rng):
    """Softmax regression (no hidden layer, cross-entropy): H = (1/N) Σ_i (x̃_i x̃_iᵀ) ⊗
    (diag p_i − p_i p_iᵀ), x̃_i = [x_i; 1]. Exact to round-off."""
    N, d, C = 20, 3, 4
    X = rng.standard_normal((N, d))
    y = rng.integers(0, C, N)
    w = rng.standard_normal(mlp.n_params((d, C)))
    H = hs.hessian_terms(X, y, w, (d, C), "linear", "cross_entropy")["H"]
    W, b = mlp.unflatten(w, (d, C))[0]
    p = losses.softmax(X @ W + b)
    Xt = np.hstack([X, np.ones((N, 1))])
    expected = sum(np.kron(np.outer(x, x), np.diag(q) - np.outer(q, q)) for x, q in zip(Xt, p, strict=True))
    assert_close(H, expected / N, rtol=1e-13, what="softmax-regression H vs its closed form")


def test_dense_memory_guard_names_the_size_and_the_alternative():
    """A dense request beyond the memory available is refused with P, the bytes needed and the
    matrix-free alternative in the message (8·P² bytes per matrix)."""
    with pytest.raises(DenseTooLargeError) as info:
        check_dense_fits(55660, n_matrices=1, available_bytes=2 * 1024**3)
    msg = str(info.value)
    assert "55,660" in msg and "23.08 GiB" in msg and "matrix-free" in msg
    check_dense_fits(1000, n_matrices=3, available_bytes=10**9)  # 24 MB: fits


def test_hessian_terms_bad_inputs(rng):
    """hessian_terms validates at the boundary: wrong params length, NaN inputs, labels out of
    range or of the wrong length, X of the wrong width, unknown term or engine."""
    X = rng.standard_normal((5, 3))
    y = np.array([0, 1, 0, 1, 1])
    sizes = (3, 2)
    w = np.zeros(mlp.n_params(sizes))
    with pytest.raises(ValueError, match="params must have length P = 8"):
        hs.hessian_terms(X, y, w[:-1], sizes)
    Xn = X.copy()
    Xn[0, 0] = np.nan
    with pytest.raises(ValueError, match="X contains 1 non-finite"):
        hs.hessian_terms(Xn, y, w, sizes)
    with pytest.raises(ValueError, match=r"labels in \[0, 2\)"):
        hs.hessian_terms(X, y + 1, w, sizes)
    with pytest.raises(ValueError, match=r"y must have shape \(5,\)"):
        hs.hessian_terms(X, y[:4], w, sizes)
    with pytest.raises(ValueError, match="X has 3 features"):
        hs.hessian_terms(X, y, np.zeros(mlp.n_params((4, 2))), (4, 2))
    with pytest.raises(ValueError, match="terms must be one of"):
        hs.hessian_terms(X, y, w, sizes, terms=("K",))
    with pytest.raises(ValueError, match="engine must be one of"):
        hs.hessian_terms(X, y, w, sizes, engine="gpu")
    wn = w.copy()
    wn[0] = np.inf
    with pytest.raises(ValueError, match="params contains 1 non-finite"):
        hs.hessian_terms(X, y, wn, sizes)


def test_dense_guard_counts_the_matrices_each_route_holds(monkeypatch):
    """With the available memory pinned (monkeypatched), reference.hessian needs room for 2 P×P
    matrices (autograd's and the result) and hessian_terms for one per requested term plus one: a
    request that fits runs, one matrix more is refused, at 80 % of the available memory."""
    from hessian_spectra import _checks
    from hessian_spectra.curvature import curvature_matrices

    obj, w = build(_case())
    one = 8 * obj.n_params**2  # bytes of one dense matrix
    for n_fit, call in (
        (2, lambda: reference.hessian(obj, w)),
        (2, lambda: curvature_matrices(obj, w, ("H",))),
        (3, lambda: curvature_matrices(obj, w, ("H", "G"))),
    ):
        monkeypatch.setattr(_checks, "available_memory_bytes", lambda n=n_fit: int(n * one / 0.8) + 8)
        call()  # exactly n_fit matrices fit
        monkeypatch.setattr(_checks, "available_memory_bytes", lambda n=n_fit: int(n * one / 0.8) - 8)
        with pytest.raises(DenseTooLargeError):
            call()


def test_curvature_matrices_defaults_and_a_single_term_name():
    """curvature_matrices(objective, params) is H by the reference engine (autograd's Hessian), and a
    single term may be named by a string: terms="G" returns {"G": ...}."""
    from hessian_spectra.curvature import curvature_matrices, decomposition

    obj, w = build(_case())
    out = curvature_matrices(obj, w)
    assert list(out) == ["H"]
    np.testing.assert_array_equal(out["H"], reference.hessian(obj, w))
    g = curvature_matrices(obj, w, "G")
    assert list(g) == ["G"]
    assert_close(g["G"], decomposition.gauss_newton_linearized(obj, w), rtol=1e-10, what="G, one name")
