"""The closed-form engine (curvature/fast.py) against independent autograd routes.

Oracles, none of which goes through ``hessian_spectra.curvature.fast``:

- H: ``autograd.hessian`` of the mean loss (``curvature.reference.hessian``);
- G: ``(1/N) Σ_i J_iᵀ A_i J_i`` with ``J_i`` from ``autograd.jacobian`` of the logits and ``A_i`` the
  diagonal blocks of autograd's Hessian of ``F ↦ Σ_i ℓ(F_i, y_i)`` with respect to the logit matrix;
- R: autograd's Hessian of ``w ↦ (1/N) Σ_i r_i·f_i(w)`` with ``r_i = ∇_f ℓ`` (from autograd's gradient
  with respect to the logits) frozen at the current point.

"Exact" means agreement at round-off level: every comparison is a relative Frobenius error ≤ 1e-10
(the matrices have P ≤ ~150 entries per row and are sums of N ≤ 40 terms, so round-off is ~1e-15;
1e-10 leaves room for conditioning while still catching any missing or wrong term, which shows up at
order 1).
"""

import tracemalloc

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

import hessian_spectra as hs
from hessian_spectra import losses, mlp
from hessian_spectra.curvature import hessian_terms, reference
from hessian_spectra.curvature.fast import bytes_per_sample, fast_engine, hessian_gn_residual

from .conftest import relative_error

ACTIVATIONS = ["relu", "tanh", "sigmoid", "softplus", "linear"]
LOSSES = ["cross_entropy", "mse"]
EXACT = 1e-10  # relative Frobenius error of an exact route (see the module docstring)


def _uneven_widths(rng, depth: int) -> tuple[int, ...]:
    """Layer sizes ``(n_0, ..., n_depth)`` in [2, 6] with consecutive widths all different."""
    sizes = [int(rng.integers(2, 7))]
    for _ in range(depth):
        choices = [n for n in range(2, 7) if n != sizes[-1]]
        sizes.append(int(rng.choice(choices)))
    return tuple(sizes)


def _case(depth: int, activation: str, loss: str, trained: bool, seed: int):
    """A tiny network with uneven widths, at its initial point or after 25 GD steps (learning rate 0.03).

    For relu, the inputs are redrawn until no pre-activation lies within 1e-6 of the kink (where the
    Hessian does not exist); with continuous random data this is almost never needed.
    """
    rng = np.random.default_rng(seed)
    sizes = _uneven_widths(rng, depth)
    N = int(rng.integers(20, 41))
    for _ in range(100):
        X = rng.standard_normal((N, sizes[0]))
        y = rng.integers(0, sizes[-1], N)
        obj = hs.Objective(X, y, sizes, activation, loss)
        w = mlp.init_params(sizes, "normal", seed=rng, scale=0.6)
        if trained:
            w = hs.train(obj, w, lr=0.03, steps=25, progress=False).params
        zs, _ = mlp.forward_all(w, X, sizes, activation)
        if min((np.abs(z).min() for z in zs[:-1]), default=1.0) > 1e-6:
            return obj, w
    raise AssertionError("could not place the relu pre-activations away from 0")


def _logit_derivatives(obj, w):
    """``r_i = ∇_f ℓ`` and ``A_i = ∇²_f ℓ`` per sample, by autograd on the logit matrix."""
    logits = obj.logits(w)
    N, C = logits.shape
    total = lambda F: N * losses.loss_function(obj.loss)(F, obj.y)  # Σ_i ℓ(F_i, y_i)  # noqa: E731
    r = autograd.grad(total)(logits)
    full = autograd.hessian(total)(logits)  # (N, C, N, C), block diagonal in i
    A = full[np.arange(N), :, np.arange(N), :]
    return r, A


def gauss_newton_oracle(obj, w):
    """G = (1/N) Σ_i J_iᵀ A_i J_i with autograd's per-sample Jacobians of the logits."""
    J = autograd.jacobian(obj.logits)(w)  # (N, C, P)
    _, A = _logit_derivatives(obj, w)
    return np.einsum("icp,icd,idq->pq", J, A, J) / obj.n_samples


def residual_oracle(obj, w):
    """R = Hessian of v ↦ (1/N) Σ_i r_i·f_i(v), residuals r frozen at w."""
    r, _ = _logit_derivatives(obj, w)
    frozen = lambda v: anp.sum(r * obj.logits(v)) / obj.n_samples  # noqa: E731
    return np.asarray(autograd.hessian(frozen)(w))


# The family: every depth 1-4 × activation × loss; init or trained alternates so that every
# activation, every loss and every depth is checked at both points.
FAMILY = [
    (depth, act, loss, (depth + i + j) % 2 == 1)
    for depth in (1, 2, 3, 4)
    for i, act in enumerate(ACTIVATIONS)
    for j, loss in enumerate(LOSSES)
]


@pytest.mark.filterwarnings("ignore:Output seems independent of input")
@pytest.mark.parametrize(
    "depth, activation, loss, trained",
    FAMILY,
    ids=[f"L{d}-{a}-{l}-{'trained' if t else 'init'}" for d, a, l, t in FAMILY],
)
def test_fast_engine_matches_independent_routes(depth, activation, loss, trained):
    """H, G and R from the closed-form engine equal autograd's Hessian, the Jacobian Gauss-Newton
    sum and the frozen-residual Hessian to relative Frobenius error ≤ 1e-10; a depth-1 network
    (logits linear in w) has R exactly 0."""
    seed = 1000 * depth + 10 * ACTIVATIONS.index(activation) + LOSSES.index(loss)
    obj, w = _case(depth, activation, loss, trained, seed)
    out = hessian_gn_residual(obj, w, ("H", "G", "R"))
    H_ref = reference.hessian(obj, w)
    G_ref = gauss_newton_oracle(obj, w)
    assert relative_error(out["H"], H_ref) <= EXACT
    assert relative_error(out["G"], G_ref) <= EXACT
    if depth == 1:
        assert not np.any(out["R"])
    else:
        R_ref = residual_oracle(obj, w)
        assert relative_error(out["R"], R_ref) <= EXACT


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_hessian_alone_equals_g_plus_r_from_another_call(activation):
    """H computed alone (one product with the summed kernel) equals G + R computed in a separate
    call (separate products): two code paths, agreement to 1e-12 relative (round-off only)."""
    obj, w = _case(3, activation, "cross_entropy", True, seed=7)
    H = hessian_gn_residual(obj, w, ("H",))["H"]
    GR = hessian_gn_residual(obj, w, ("G", "R"))
    assert relative_error(H, GR["G"] + GR["R"]) <= 1e-12


def test_every_term_subset_gives_the_same_matrices():
    """Requesting any subset of terms, in any order, returns the same matrices as the full request
    (to 1e-12 relative: different subsets take different product plans)."""
    obj, w = _case(4, "softplus", "mse", True, seed=11)
    full = hessian_gn_residual(obj, w, ("H", "G", "R"))
    for terms in [("R",), ("G",), ("H", "G"), ("R", "H"), ("G", "R"), ("R", "G", "H")]:
        part = hessian_gn_residual(obj, w, terms)
        assert list(part) == list(terms)
        for t in terms:
            assert relative_error(part[t], full[t]) <= 1e-12


def test_output_is_dense_symmetric_c_contiguous_float64():
    """Every returned matrix is P×P float64, C-contiguous and exactly (bitwise) symmetric."""
    obj, w = _case(3, "tanh", "cross_entropy", False, seed=3)
    out = hessian_gn_residual(obj, w, ("H", "G", "R"))
    for M in out.values():
        assert M.shape == (obj.n_params, obj.n_params)
        assert M.dtype == np.float64
        assert M.flags.c_contiguous
        assert np.array_equal(M, M.T)


@pytest.mark.parametrize("chunk_size", [1, 7, 13])
def test_sample_chunks_give_the_same_result(chunk_size):
    """Summing over samples in chunks (accumulating products) gives the single-chunk matrices to
    1e-13 relative: only the order of the additions changes."""
    obj, w = _case(3, "sigmoid", "cross_entropy", True, seed=5)
    whole = hessian_gn_residual(obj, w, ("H", "G", "R"))
    chunked = hessian_gn_residual(obj, w, ("H", "G", "R"), chunk_size=chunk_size)
    for t in whole:
        assert relative_error(chunked[t], whole[t]) <= 1e-13


def test_small_workspace_strips_give_the_same_result():
    """With the smallest workspace (1 MiB), blocks are assembled in many row strips; the matrices are
    unchanged (1e-13 relative) and autograd's Hessian still agrees (1e-10)."""
    rng = np.random.default_rng(2)
    sizes = (30, 25, 20, 4)
    X = rng.standard_normal((60, sizes[0]))
    y = rng.integers(0, sizes[-1], 60)
    obj = hs.Objective(X, y, sizes, "tanh", "cross_entropy")
    w = mlp.init_params(sizes, "normal", seed=rng, scale=0.3)
    big = hessian_gn_residual(obj, w, ("H", "R"))
    small = hessian_gn_residual(obj, w, ("H", "R"), workspace_bytes=2**20)
    for t in big:
        assert relative_error(small[t], big[t]) <= 1e-13
    assert relative_error(small["H"], reference.hessian(obj, w)) <= EXACT


def test_peak_memory_is_outputs_plus_bounded_workspace():
    """Memory traced by tracemalloc (NumPy's own buffers; BLAS scratch is not visible) stays within
    the outputs (8 P² bytes per term) plus ``workspace_bytes``, even when N·(per-sample bytes) is far
    larger than the workspace, so that the samples must be processed in many chunks."""
    rng = np.random.default_rng(4)
    sizes = (30, 20, 20, 5)
    N = 500  # per-sample arrays: N · bytes_per_sample ≈ 15 MiB, against a 1 MiB workspace
    X = rng.standard_normal((N, sizes[0]))
    y = rng.integers(0, sizes[-1], N)
    obj = hs.Objective(X, y, sizes, "tanh", "cross_entropy")
    w = mlp.init_params(sizes, "normal", seed=rng, scale=0.3)
    workspace = 2**20
    assert N * bytes_per_sample(sizes) > 10 * workspace
    tracemalloc.start()
    try:
        out = hessian_gn_residual(obj, w, ("H", "G", "R"), workspace_bytes=workspace)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    outputs = sum(M.nbytes for M in out.values())
    assert peak - outputs <= workspace


def test_hessian_terms_uses_the_fast_engine():
    """``hessian_terms(..., engine="fast")`` returns exactly what the engine function returns."""
    obj, w = _case(2, "tanh", "mse", False, seed=9)
    via_contract = hessian_terms(
        obj.X, obj.y, w, obj.layer_sizes, obj.activation, obj.loss, terms=("G", "H"), engine="fast"
    )
    direct = fast_engine(obj, w, ("G", "H"))
    assert list(via_contract) == ["G", "H"]
    for t in via_contract:
        assert np.array_equal(via_contract[t], direct[t])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"terms": ()}, "terms must name"),
        ({"terms": ("H", "X")}, "terms must be one of"),
        ({"terms": ("H", "H")}, "must not repeat"),
        ({"chunk_size": 0}, "chunk_size"),
        ({"chunk_size": 2.5}, "chunk_size"),
        ({"workspace_bytes": 1000}, "workspace_bytes"),
    ],
)
def test_bad_arguments_raise_clear_errors(kwargs, match):
    """Bad ``terms``, ``chunk_size`` or ``workspace_bytes`` raise a ValueError naming the argument."""
    obj, w = _case(2, "tanh", "mse", False, seed=9)
    with pytest.raises(ValueError, match=match):
        hessian_gn_residual(obj, w, **kwargs)


def test_wrong_parameter_vector_is_rejected():
    """A parameter vector of the wrong length raises a ValueError naming ``params``."""
    obj, w = _case(2, "tanh", "mse", False, seed=9)
    with pytest.raises(ValueError, match="params"):
        hessian_gn_residual(obj, w[:-1])


def test_recorded_products_are_the_closed_form_cost():
    """The products recorded with ``products=`` are those of the closed form: for a one-layer
    softmax regression (only the diagonal block, kernels G = A_i and R = 0) the single product has
    the sample count as inner dimension, the pairs a ≤ b of the d+1 inputs as rows and the C(C+1)/2
    kernel columns p ≤ q, so its flops are 2·N·(d+1)(d+2)/2·C(C+1)/2; the engine's result is the same
    with and without recording, and a second call records the same products again (no state is
    kept between calls)."""
    from hessian_spectra.curvature import fast

    rng = np.random.default_rng(0)
    N, d, C = 37, 6, 4
    obj = hs.Objective(rng.standard_normal((N, d)), rng.integers(0, C, N), (d, C), "tanh", "cross_entropy")
    w = mlp.init_params((d, C), "normal", seed=rng, scale=0.5)
    shapes, again = [], []
    inside = hessian_gn_residual(obj, w, ("H", "G", "R"), products=shapes)
    outside = hessian_gn_residual(obj, w, ("H", "G", "R"))
    hessian_gn_residual(obj, w, ("H", "G", "R"), products=again)
    assert shapes == [(((d + 1) * (d + 2) // 2, N), (N, C * (C + 1) // 2))]
    assert fast.product_flops(shapes) == 2 * N * (d + 1) * (d + 2) // 2 * C * (C + 1) // 2
    assert again == shapes
    for t in inside:
        assert np.array_equal(inside[t], outside[t])
