"""The closed-form engine (curvature/fast.py) against independent autograd routes.

Oracles, none of which goes through ``hessian_spectra.curvature.fast``:

- H: ``autograd.hessian`` of the mean loss (``curvature.reference.hessian``);
- G: ``(1/N) Σ_i J_iᵀ A_i J_i`` with ``J_i`` from ``autograd.jacobian`` of the logits and ``A_i`` the
  diagonal blocks of autograd's Hessian of ``F ↦ Σ_i ℓ(F_i, y_i)`` with respect to the logit matrix;
- R: autograd's Hessian of ``w ↦ (1/N) Σ_i r_i·f_i(w)`` with ``r_i = ∇_f ℓ`` (from autograd's gradient
  with respect to the logits) frozen at the current point.

"Exact" means agreement at round-off level: every comparison is a relative Frobenius error ≤
``EXACT = 1e-10`` (tests/cases.py says why). The networks are the family of tests/cases.py
(:func:`uneven_family`: uneven widths, so that a transposed block changes a shape).
"""

import tracemalloc

import autograd
import autograd.numpy as anp
import numpy as np
import pytest

from hessian_spectra import losses
from hessian_spectra.curvature import hessian_terms, reference
from hessian_spectra.curvature.fast import bytes_per_sample, fast_engine, hessian_gn_residual

from .cases import ACTIVATIONS, EXACT, Case, assert_close, build, uneven, uneven_family


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


FAMILY = uneven_family()


@pytest.mark.filterwarnings("ignore:Output seems independent of input")
@pytest.mark.parametrize("case", FAMILY, ids=[c.name for c in FAMILY])
def test_fast_engine_matches_independent_routes(case):
    """H, G and R from the closed-form engine equal autograd's Hessian, the Jacobian Gauss-Newton
    sum and the frozen-residual Hessian to relative Frobenius error ≤ 1e-10; a depth-1 network
    (logits linear in w) has R exactly 0."""
    obj, w = build(case)
    out = hessian_gn_residual(obj, w, ("H", "G", "R"))
    H_ref = reference.hessian(obj, w)
    G_ref = gauss_newton_oracle(obj, w)
    assert_close(out["H"], H_ref, rtol=EXACT, what=f"{case.name}: H vs autograd")
    assert_close(out["G"], G_ref, rtol=EXACT, what=f"{case.name}: G vs Jacobian oracle")
    if len(case.sizes) == 2:
        assert not np.any(out["R"])
    else:
        R_ref = residual_oracle(obj, w)
        assert_close(out["R"], R_ref, rtol=EXACT, what=f"{case.name}: R vs frozen-residual oracle")


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_hessian_alone_equals_g_plus_r_from_another_call(activation):
    """H computed alone (one product with the summed kernel) equals G + R computed in a separate
    call (separate products): two code paths, agreement to 1e-12 relative (round-off only)."""
    obj, w = build(uneven(3, activation, "cross_entropy", True, seed=7))
    H = hessian_gn_residual(obj, w, ("H",))["H"]
    GR = hessian_gn_residual(obj, w, ("G", "R"))
    assert_close(H, GR["G"] + GR["R"], rtol=1e-12, what="H alone vs G + R")


def test_every_term_subset_gives_the_same_matrices():
    """Requesting any subset of terms, in any order, returns the same matrices as the full request
    (to 1e-12 relative: different subsets take different product plans)."""
    obj, w = build(uneven(4, "softplus", "mse", True, seed=11))
    full = hessian_gn_residual(obj, w, ("H", "G", "R"))
    for terms in [("R",), ("G",), ("H", "G"), ("R", "H"), ("G", "R"), ("R", "G", "H")]:
        part = hessian_gn_residual(obj, w, terms)
        assert list(part) == list(terms)
        for t in terms:
            assert_close(part[t], full[t], rtol=1e-12, what=f"{t} of {terms}")


def test_output_is_dense_symmetric_c_contiguous_float64():
    """Every returned matrix is P×P float64, C-contiguous and exactly (bitwise) symmetric."""
    obj, w = build(uneven(3, "tanh", "cross_entropy", False, seed=3))
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
    obj, w = build(uneven(3, "sigmoid", "cross_entropy", True, seed=5))
    whole = hessian_gn_residual(obj, w, ("H", "G", "R"))
    chunked = hessian_gn_residual(obj, w, ("H", "G", "R"), chunk_size=chunk_size)
    for t in whole:
        assert_close(chunked[t], whole[t], rtol=1e-13, what=f"{t}, chunks of {chunk_size}")


def test_small_workspace_strips_give_the_same_result():
    """With the smallest workspace (1 MiB), blocks are assembled in many row strips; the matrices are
    unchanged (1e-13 relative) and autograd's Hessian still agrees (1e-10)."""
    obj, w = build(Case((30, 25, 20, 4), n_samples=60, labels="uniform", init_scale=0.3, seed=2))
    big = hessian_gn_residual(obj, w, ("H", "R"))
    small = hessian_gn_residual(obj, w, ("H", "R"), workspace_bytes=2**20)
    for t in big:
        assert_close(small[t], big[t], rtol=1e-13, what=f"{t}, 1 MiB workspace")
    assert_close(small["H"], reference.hessian(obj, w), rtol=EXACT, what="H, 1 MiB workspace, vs autograd")


def test_peak_memory_is_outputs_plus_bounded_workspace():
    """Memory traced by tracemalloc (NumPy's own buffers; BLAS scratch is not visible) stays within
    the outputs (8 P² bytes per term) plus ``workspace_bytes``, even when N·(per-sample bytes) is far
    larger than the workspace, so that the samples must be processed in many chunks."""
    sizes, N = (30, 20, 20, 5), 500  # per-sample arrays: N · bytes_per_sample ≈ 15 MiB, against 1 MiB
    obj, w = build(Case(sizes, n_samples=N, labels="uniform", init_scale=0.3, seed=4))
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
    obj, w = build(uneven(2, "tanh", "mse", False, seed=9))
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
    obj, w = build(uneven(2, "tanh", "mse", False, seed=9))
    with pytest.raises(ValueError, match=match):
        hessian_gn_residual(obj, w, **kwargs)


def test_wrong_parameter_vector_is_rejected():
    """A parameter vector of the wrong length raises a ValueError naming ``params``."""
    obj, w = build(uneven(2, "tanh", "mse", False, seed=9))
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

    N, d, C = 37, 6, 4
    obj, w = build(Case((d, C), n_samples=N, labels="uniform"))
    shapes, again = [], []
    inside = hessian_gn_residual(obj, w, ("H", "G", "R"), products=shapes)
    outside = hessian_gn_residual(obj, w, ("H", "G", "R"))
    hessian_gn_residual(obj, w, ("H", "G", "R"), products=again)
    assert shapes == [(((d + 1) * (d + 2) // 2, N), (N, C * (C + 1) // 2))]
    assert fast.product_flops(shapes) == 2 * N * (d + 1) * (d + 2) // 2 * C * (C + 1) // 2
    assert again == shapes
    for t in inside:
        assert np.array_equal(inside[t], outside[t])
