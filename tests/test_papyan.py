"""Papyan's class-mean split G = G0 + G1 + G2 + G3, its Gram eigenvalues, and the knock-outs.

G for comparison always comes from the reference route (autograd per-sample Jacobians); the split uses
the closed-form backward pass, and G3 is built from per-sample deviations, never as a difference.
"""

from __future__ import annotations

import numpy as np
import pytest

from hessian_spectra import Objective, mlp, train
from hessian_spectra.curvature import decomposition as D
from hessian_spectra.curvature import papyan, reference

from .cases import EXACT, assert_close, build, class_structured, relative_error


def simplex_clusters(k, n_per_class, dim, separation, spread, seed):
    """k tight Gaussian clusters centred at separation·e_j (pairwise equidistant), one class each."""
    rng = np.random.default_rng(seed)
    centres = separation * np.eye(k, dim)
    y = np.repeat(np.arange(k), n_per_class)
    return centres[y] + spread * rng.standard_normal((y.size, dim)), y


# --------------------------------------------------------------------------------------------
# The split
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("counts", [(6, 6, 6), (11, 5, 2)])
@pytest.mark.parametrize("activation", ["tanh", "relu"])
@pytest.mark.parametrize("steps", [0, 80])
def test_class_mean_split_sums_to_gauss_newton(counts, activation, steps):
    """With π_c = N_c/N (weighting='samples'), G0 + G1 + G2 + G3 equals the Gauss-Newton term
    (1/N) Σ J_iᵀ A_i J_i of the reference route to round-off, balanced or not, at init and trained."""
    ob, w = build(class_structured(counts, activation, trained_steps=steps))
    dec = papyan.class_mean_decomposition(ob, w)
    G = D.reference_term(ob, w, "G")
    assert_close(dec.total, G, rtol=EXACT, what="G0 + G1 + G2 + G3 vs reference G")
    for name in ("G0", "G1", "G2", "G3"):  # each term is a nonzero PSD matrix
        ev = np.linalg.eigvalsh(getattr(dec, name))
        assert ev[-1] > 0 and ev[0] >= -1e-12 * ev[-1], name


def test_class_balanced_weighting_decomposes_the_class_balanced_gauss_newton():
    """Papyan's Ave_{i,c} (π_c = 1/C): the four terms sum to (1/C) Σ_c G^(c), the G of each class's
    samples alone (reference route, one objective per class), which differs from G when the classes
    are unbalanced; the two weightings agree for balanced classes."""
    ob, w = build(class_structured((11, 5, 2)))
    dec = papyan.class_mean_decomposition(ob, w, weighting="classes")
    per_class = [D.reference_term(ob.with_data(ob.X[ob.y == c], ob.y[ob.y == c]), w, "G") for c in range(3)]
    assert_close(
        dec.total, sum(per_class) / 3, rtol=EXACT, what="class-balanced split vs mean of per-class G"
    )
    assert relative_error(dec.total, D.reference_term(ob, w, "G")) > 0.01
    ob_b, w_b = build(class_structured((6, 6, 6)))
    a = papyan.class_mean_decomposition(ob_b, w_b, weighting="classes")
    b = papyan.class_mean_decomposition(ob_b, w_b, weighting="samples")
    for name in ("G0", "G1", "G2", "G3"):
        assert_close(
            getattr(a, name), getattr(b, name), rtol=EXACT, what=f"{name}: classes vs samples weighting"
        )


def test_deltas_are_scaled_loss_gradients_with_every_label():
    """δ_{i,c′} = √p_{c′}(x_i) J_iᵀ(e_{c′} − p_i) = −√p_{c′} ∇_w ℓ(f_i, c′): checked against autograd's
    per-sample gradients of the loss with every sample relabelled c′."""
    from hessian_spectra.losses import softmax

    ob, w = build(class_structured((4, 3, 5)))
    delta = papyan.per_sample_deltas(ob, w)
    p = softmax(ob.logits(w))
    for c in range(3):
        g = D.per_sample_loss_gradients(ob, w, y=np.full(ob.n_samples, c))
        np.testing.assert_allclose(delta[:, c, :], -np.sqrt(p[:, c : c + 1]) * g, rtol=1e-11, atol=1e-15)


def test_class_means_structure():
    """δ_c is the mean of δ_{c,c′} over c′ ≠ c, the ν_{c,c′} sum to zero over c′ ≠ c, the class means
    are plain averages of δ_{i,c′} over the class, and the ranks are rank G1 ≤ C, rank G2 ≤ C(C−2)."""
    ob, w = build(class_structured((5, 7, 4), width=6))
    C = 3
    delta = papyan.per_sample_deltas(ob, w)
    means = papyan.class_means(ob, w)
    for c in range(C):
        np.testing.assert_allclose(means.delta_cc[c], delta[ob.y == c].mean(axis=0), rtol=1e-12, atol=1e-16)
        others = [k for k in range(C) if k != c]
        np.testing.assert_allclose(means.delta_c[c], means.delta_cc[c, others].mean(axis=0), atol=1e-16)
        assert np.abs(means.nu[c, others].sum(axis=0)).max() <= 1e-15
    np.testing.assert_allclose(means.class_weights, np.array([5, 7, 4]) / 16)
    dec = papyan.class_mean_decomposition(ob, w)
    for name, max_rank in (("G1", C), ("G2", C * (C - 2))):
        ev = np.linalg.eigvalsh(getattr(dec, name))
        assert np.sum(ev > 1e-10 * ev[-1]) == max_rank, name


# --------------------------------------------------------------------------------------------
# Gram eigenvalues
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("counts", [(6, 6, 6), (11, 5, 2)])
def test_gram_eigenvalues_match_dense_eigenvalues(counts):
    """The C×C and C²×C² Gram matrices give the nonzero eigenvalues of G1, G0, G2 and G0 + G1 + G2:
    compared with scipy's eigenvalues of the dense P×P matrices (top C, C, C(C−1), C²)."""
    ob, w = build(class_structured(counts, width=6, trained_steps=40))
    dec = papyan.class_mean_decomposition(ob, w)
    C = 3
    dense = lambda M, k: np.linalg.eigvalsh(M)[-k:]  # noqa: E731
    scale = np.linalg.eigvalsh(dec.total)[-1]
    cases = [
        (papyan.g1_eigenvalues_from_gram(dec), dense(dec.G1, C)),
        (papyan.g0_eigenvalues_from_gram(dec), dense(dec.G0, C)),
        (papyan.g2_eigenvalues_from_gram(dec), dense(dec.G2, C * (C - 1))),
        (papyan.g012_eigenvalues_from_gram(dec), dense(dec.G0 + dec.G1 + dec.G2, C * C)),
    ]
    for gram, ref in cases:
        # eigenvalues of a matrix with norm ‖G‖ are accurate to ~ε‖G‖ absolutely
        np.testing.assert_allclose(gram, ref, rtol=1e-9, atol=1e-12 * scale)
    out = papyan.class_mean_eigenvalues(ob, w)
    np.testing.assert_array_equal(out["eigvals_G1"], cases[0][0])
    np.testing.assert_array_equal(out["eigvals_G012"], cases[3][0])
    assert np.all(np.diff(out["eigvals_G012"]) >= 0)


def test_class_mean_functions_reject_bad_input():
    """MSE → ValueError naming cross-entropy; weighting='classes' with an empty class → ValueError
    naming the class; an unknown knock-out → ValueError."""
    ob, w = build(class_structured())
    mse = Objective(ob.X, ob.y, ob.layer_sizes, ob.activation, "mse")
    with pytest.raises(ValueError, match="cross_entropy"):
        papyan.class_mean_eigenvalues(mse, w)
    with pytest.raises(ValueError, match="cross_entropy"):
        papyan.per_sample_deltas(mse, w)
    y = ob.y.copy()
    y[y == 2] = 0
    missing = Objective(ob.X, y, ob.layer_sizes, ob.activation, "cross_entropy")
    with pytest.raises(ValueError, match=r"\[2\]"):
        papyan.class_means(missing, w, weighting="classes")
    # with weighting='samples' an empty class has weight 0 and the split still sums to G
    dec = papyan.class_mean_decomposition(missing, w)
    assert_close(
        dec.total, D.reference_term(missing, w, "G"), rtol=EXACT, what="split with an empty class vs G"
    )
    with pytest.raises(ValueError, match="method"):
        papyan.knock_out(np.eye(w.size), dec, method="zap")
    with pytest.raises(ValueError, match="weighting"):
        papyan.class_means(ob, w, weighting="median")


# --------------------------------------------------------------------------------------------
# Knock-outs
# --------------------------------------------------------------------------------------------


def test_projecting_out_class_means_matches_explicit_projector():
    """knock_out(..., 'project_class_means') equals (I − QQᵀ) M (I − QQᵀ) with the projector formed
    densely from a QR basis of the δ_c, annihilates every δ_c, and 'subtract_G1' is M − G1."""
    ob, w = build(class_structured((6, 4, 5), width=6, trained_steps=30))
    dec = papyan.class_mean_decomposition(ob, w)
    H = reference.hessian(ob, w)
    Q, _ = np.linalg.qr(dec.delta_c.T)
    Pi = np.eye(w.size) - Q @ Q.T
    K = papyan.knock_out(H, dec, method="project_class_means")
    assert_close(K, Pi @ H @ Pi, rtol=1e-12, what="projected knock-out vs dense projector")
    assert np.abs(K @ dec.delta_c.T).max() <= 1e-12 * np.abs(H).max() * np.abs(dec.delta_c).max()
    np.testing.assert_array_equal(papyan.knock_out(H, dec), H - dec.G1)


def test_trained_on_separated_clusters_top_outliers_are_g1_and_knock_out_removes_them():
    """After 100 GD steps on k = 4 tight, pairwise-equidistant clusters (6-32-4 tanh, N = 60), the top
    k eigenvalues of H are within 10% of the k eigenvalues of G1 (C×C Gram), and knocking G1 out
    (H − G1, or H with span{δ_c} projected out) leaves a top eigenvalue within 10% of λ_{k+1}(H),
    below 0.8·λ_k(H): the k outliers are gone. (Weyl: λ_1(H − G1) ≥ λ_{k+1}(H) always.)

    Observed over 20 seeds: max relative difference 0.027-0.059; λ_1(H − G1)/λ_{k+1}(H) 1.000-1.073;
    λ_1(H − G1)/λ_k(H) 0.54-0.72. Tolerances 0.10, 1.10 and 0.80 are ours. (With randomly placed
    blob centres each class has one dominant confuser, G2 outweighs G1 and the match fails:
    docs/theory.md explains why.)"""
    k = 4
    X, y = simplex_clusters(k, 15, 6, separation=3.0, spread=0.1, seed=0)
    sizes = (6, 32, k)
    ob = Objective(X, y, sizes, "tanh", "cross_entropy")
    w = train(ob, mlp.init_params(sizes, "normal", seed=1), lr=0.5, steps=100, progress=False).params
    H = reference.hessian(ob, w)
    dec = papyan.class_mean_decomposition(ob, w)
    eig_H = np.sort(np.linalg.eigvalsh(H))[::-1]
    cmp = papyan.outliers_vs_g1(eig_H, papyan.g1_eigenvalues_from_gram(dec))
    assert np.max(cmp["rel_diff"]) <= 0.10, cmp
    for method in papyan.KNOCK_OUTS:
        top = np.linalg.eigvalsh(papyan.knock_out(H, dec, method=method))[-1]
        assert top >= eig_H[k] * (1 - 1e-9)  # Weyl, up to round-off
        assert top <= 1.10 * eig_H[k], (method, top, eig_H[: k + 1])
        assert top <= 0.80 * eig_H[k - 1], (method, top, eig_H[: k + 1])


def test_knock_out_and_outlier_comparison_contracts():
    """knock_out refuses a matrix that is not 2-d, an unknown method (message starting with the
    argument), and 'subtract_G1' on class means without the dense G1; outliers_vs_g1 returns the top k
    eigenvalues (descending) next to G1's; a one-class network is refused by the split."""
    ob, w = build(class_structured((4, 3, 5)))
    dec = papyan.class_mean_decomposition(ob, w)
    with pytest.raises(ValueError, match="^M must be a 2-d array"):
        papyan.knock_out(np.ones(ob.n_params), dec)
    with pytest.raises(ValueError, match="^method must be one of"):
        papyan.knock_out(np.eye(ob.n_params), dec, method="zap")
    with pytest.raises(ValueError, match="needs the dense G1"):
        papyan.knock_out(np.eye(ob.n_params), papyan.class_means(ob, w))
    cmp = papyan.outliers_vs_g1([0.1, 5.0, 3.0, 0.2], [2.0, 4.0])
    np.testing.assert_array_equal(cmp["top"], [5.0, 3.0])
    np.testing.assert_array_equal(cmp["G1"], [4.0, 2.0])
    np.testing.assert_allclose(cmp["rel_diff"], [0.25, 0.5])
    one_class = Objective(ob.X, np.zeros(ob.n_samples, int), (3, 5, 5, 1), "tanh", "cross_entropy")
    with pytest.raises(ValueError, match="at least 2 classes; got C = 1"):
        papyan.class_means(one_class, mlp.init_params((3, 5, 5, 1), seed=0))


def test_class_means_from_deltas_equals_class_means_and_refuses_bad_shapes():
    """Given class_means' own delta_cc and class sizes, class_means_from_deltas returns the same
    delta_c, nu and weights (both weightings); a delta_cc whose first two axes are not (C, C) is
    refused with a message naming delta_cc."""
    rng = np.random.default_rng(4)
    X = rng.standard_normal((18, 3))
    y = np.repeat([0, 1, 2], [8, 6, 4])  # unbalanced: the two weightings differ
    obj = Objective(X, y, (3, 4, 3), "tanh", "cross_entropy")
    w = mlp.init_params((3, 4, 3), "normal", seed=1, scale=0.7)
    for weighting in ("samples", "classes"):
        ref = papyan.class_means(obj, w, weighting=weighting)
        got = papyan.class_means_from_deltas(ref.delta_cc, ref.class_counts, weighting)
        np.testing.assert_array_equal(got.delta_c, ref.delta_c)
        np.testing.assert_array_equal(got.nu, ref.nu)
        np.testing.assert_array_equal(got.class_weights, ref.class_weights)
    with pytest.raises(ValueError, match="delta_cc"):
        papyan.class_means_from_deltas(ref.delta_cc[:2], ref.class_counts)
