"""The Gauss-Newton / residual split H = G + R and its relatives, each checked against an independent route.

H is autograd's dense Hessian (curvature.reference); G comes from per-sample Jacobians (autograd on a
per-sample copy of the parameters, or the closed-form backward pass) or from the Hessian of the
linearized network's loss; R from the Hessian of the frozen-residual objective. No test recomputes an
expected value with the function it tests.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from autograd import hessian, jacobian

from hessian_spectra import Objective, mlp
from hessian_spectra._checks import DenseTooLargeError
from hessian_spectra.curvature import decomposition as D
from hessian_spectra.curvature import hessian_terms, reference

from .cases import ACTIVATIONS, EXACT, LOSSES, assert_close, build, layered, relative_error

# --------------------------------------------------------------------------------------------
# Per-sample Jacobians
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("depth", [1, 2, 4])
def test_per_sample_jacobians_both_routes_match_autograd_jacobian(activation, depth):
    """The vectorized autograd route and the closed-form backward pass both equal autograd.jacobian of
    the (N, C) logits (a third, loop-over-outputs route), entry by entry."""
    ob, w = build(layered(activation, depth=depth, n=7))
    J_ref = np.asarray(jacobian(ob.logits)(w))  # (N, C, P)
    for method in D.JACOBIAN_METHODS:
        J = D.per_sample_jacobians(ob, w, method=method)
        assert J.shape == (ob.n_samples, ob.n_classes, ob.n_params)
        np.testing.assert_allclose(J, J_ref, rtol=1e-12, atol=1e-14, err_msg=method)


@pytest.mark.parametrize("loss", LOSSES)
def test_logit_hessian_factor_squares_to_the_loss_hessian_in_logit_space(loss):
    """S_i S_iᵀ = ∇²_f ℓ(f_i, y_i), the latter by autograd's Hessian of the per-sample loss in the
    logits (diag p − ppᵀ for cross-entropy, I for MSE)."""
    from hessian_spectra.losses import get_loss, loss_function

    rng = np.random.default_rng(3)
    logits, y = 3 * rng.normal(size=(5, 4)), np.array([0, 3, 1, 1, 2])
    S = get_loss(loss).hessian_factor(logits)
    fn = loss_function(loss)
    for i in range(5):
        A = hessian(lambda f, i=i: fn(f[None, :], y[i : i + 1]))(logits[i])
        np.testing.assert_allclose(S[i] @ S[i].T, A, rtol=1e-12, atol=1e-15)


def test_per_sample_loss_gradients_average_to_the_gradient():
    """(1/N) Σ_i ∇ℓ_i equals ∇L from autograd's grad of the mean loss; each row is J_iᵀ r_i; with
    other labels y′ the rows are the gradients of ℓ(f_i, y′_i) (autograd's Jacobian of the per-sample
    losses), and labels of the wrong length are refused."""
    ob, w = build(layered("softplus"))
    g = D.per_sample_loss_gradients(ob, w)
    np.testing.assert_allclose(g.mean(axis=0), ob.gradient(w), rtol=1e-12, atol=1e-15)
    from hessian_spectra.losses import logit_gradient

    r = logit_gradient(ob.logits(w), ob.y, ob.loss)
    J = np.asarray(jacobian(ob.logits)(w))
    np.testing.assert_allclose(g, np.einsum("ncp,nc->np", J, r), rtol=1e-12, atol=1e-15)
    # other labels: the rows are autograd's Jacobian of the per-sample losses with those labels
    from hessian_spectra.losses import get_loss

    y2 = (ob.y + 1) % ob.n_classes
    per_sample = lambda v: get_loss(ob.loss).per_sample(ob.logits(v), y2)  # noqa: E731
    expected = np.asarray(jacobian(per_sample)(w))
    np.testing.assert_allclose(D.per_sample_loss_gradients(ob, w, y=y2), expected, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError, match="y must have shape"):
        D.per_sample_loss_gradients(ob, w, y=y2[:-1])


# --------------------------------------------------------------------------------------------
# The central identity H = G + R
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [1, 2, 3, 4])
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_hessian_equals_gauss_newton_plus_residual(activation, loss, depth):
    """H = G + R to round-off (relative Frobenius error ≤ 1e-10), at initialization and after 150 GD
    steps, with H from autograd.hessian, G from per-sample autograd Jacobians and R from the
    frozen-residual Hessian (never H − G)."""
    case = layered(activation, loss, depth)
    ob, w0 = build(case)
    for label, w in (("init", w0), ("trained", build(case.trained(150))[1])):
        H = reference.hessian(ob, w)
        G = D.reference_term(ob, w, "G")
        R = D.reference_term(ob, w, "R")
        assert np.linalg.norm(G) > 0
        assert_close(G + R, H, rtol=EXACT, what=f"{activation}/{loss}/depth {depth}/{label}: G + R vs H")
        if depth > 1 and activation != "linear":
            # R is a genuine term here: leaving it out would fail the identity by far more than EXACT
            assert relative_error(G, H) > 1e-6


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_gauss_newton_is_hessian_of_linearized_loss(activation, loss):
    """G (per-sample autograd Jacobians) equals the Hessian of the loss of the network linearized at w,
    f_lin(v) = f(w) + J(v − w) (autograd JVPs, no Jacobian formed), and the backprop-Jacobian G."""
    ob, w = build(layered(activation, loss, depth=3).trained(50))
    G = D.gauss_newton(ob, w, method="autograd")
    assert_close(D.gauss_newton_linearized(ob, w), G, rtol=EXACT, what="linearized-network Hessian vs G")
    assert_close(
        D.gauss_newton(ob, w, method="backprop"), G, rtol=EXACT, what="backprop-Jacobian G vs autograd G"
    )
    for chunk_size in (1, 5):
        assert_close(
            D.gauss_newton(ob, w, chunk_size=chunk_size),
            G,
            rtol=EXACT,
            what=f"G over blocks of {chunk_size} samples",
        )


def test_hessian_terms_reference_engine_returns_the_split():
    """The package contract hessian_terms(..., engine='reference') returns H, G, R with H = G + R."""
    ob, w = build(layered("sigmoid", depth=3))
    out = hessian_terms(ob.X, ob.y, w, ob.layer_sizes, ob.activation, ob.loss, terms=("H", "G", "R"))
    assert list(out) == ["H", "G", "R"]
    assert_close(out["G"] + out["R"], out["H"], rtol=EXACT, what="hessian_terms G + R vs H")


# --------------------------------------------------------------------------------------------
# Fisher, empirical Fisher, gradient covariance (cross-entropy)
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["tanh", "relu", "softplus"])
def test_fisher_identity_gauss_newton_is_fisher_of_model(activation):
    """G = E_{ŷ∼p}[∇ℓ_ŷ ∇ℓ_ŷᵀ] exactly: the class-weighted sum of outer products of per-sample loss
    gradients with every possible label equals the Gauss-Newton term built from A = diag p − ppᵀ."""
    case = layered(activation, depth=3)
    ob, w0 = build(case)
    for w in (w0, build(case.trained(60))[1]):
        assert_close(D.model_fisher(ob, w), D.gauss_newton(ob, w), rtol=EXACT, what="model Fisher vs G")


@pytest.mark.parametrize("activation", ["tanh", "relu"])
def test_s18_split_hessian_equals_empirical_fisher_plus_its_residual(activation):
    """S18's split of ℓ = −log p_y: H = G_emp + R_emp with G_emp = (1/N) Σ ∇ℓ_i∇ℓ_iᵀ and
    R_emp = −(1/N) Σ ∇²p_{y_i}/p_{y_i} (frozen-denominator Hessian), at init and after training."""
    case = layered(activation, depth=3)
    ob, w0 = build(case)
    for w in (w0, build(case.trained(60))[1]):
        H = reference.hessian(ob, w)
        assert_close(
            D.empirical_fisher(ob, w) + D.empirical_fisher_residual(ob, w),
            H,
            rtol=EXACT,
            what="G_emp + R_emp vs H",
        )


def test_gradient_covariance_is_centred_empirical_fisher():
    """Σ (from centred per-sample gradients) = G_emp − ḡḡᵀ with ḡ = ∇L from autograd's gradient."""
    ob, w = build(layered("tanh", depth=3))
    g_bar = ob.gradient(w)
    assert np.linalg.norm(g_bar) > 1e-3  # away from a stationary point the two differ
    assert_close(
        D.gradient_covariance(ob, w), D.empirical_fisher(ob, w) - np.outer(g_bar, g_bar), rtol=EXACT, what="Σ"
    )


def test_how_gauss_newton_empirical_fisher_and_covariance_differ():
    """The three matrices are different objects, and the difference shows where it should:

    - at init G_emp and G differ by O(1) (observed labels vs labels drawn from the model);
    - G_emp − Σ is rank one, ḡḡᵀ, with eigenvalue ‖∇L‖²;
    - near an interpolating minimum G_emp ≪ G: r rᵀ = (p − e_y)(p − e_y)ᵀ is O((1 − p_y)²) while
      A = diag p − ppᵀ is O(1 − p_y), so ‖G_emp‖/‖G‖ falls with the loss.
    """
    case = layered("tanh", depth=2, n=12, n_classes=2)
    ob, w0 = build(case)
    G0, E0, S0 = D.gauss_newton(ob, w0), D.empirical_fisher(ob, w0), D.gradient_covariance(ob, w0)
    assert relative_error(E0, G0) > 0.1
    diff = np.linalg.eigvalsh(E0 - S0)
    g2 = float(ob.gradient(w0) @ ob.gradient(w0))
    np.testing.assert_allclose(diff[-1], g2, rtol=1e-9)
    assert np.max(np.abs(diff[:-1])) <= 1e-12 * max(1.0, g2)
    # train to a near-interpolating point (two classes, 12 points, P = 3·4+4+4·2+2 = 26)
    w = build(case.trained(600, lr=1.0))[1]
    loss = ob.loss_value(w)
    assert loss < 0.01
    ratio = np.linalg.norm(D.empirical_fisher(ob, w)) / np.linalg.norm(D.gauss_newton(ob, w))
    ratio0 = np.linalg.norm(E0) / np.linalg.norm(G0)
    # observed: ratio0 ≈ 1.08, ratio ≈ 0.017 at loss ≈ 0.006 (ratio ≈ 3 × loss)
    assert ratio < 0.05 * ratio0, (ratio, ratio0, loss)


def test_cross_entropy_only_functions_reject_mse():
    """model_fisher and the −log p_y split are defined for cross-entropy only: ValueError naming the loss."""
    ob, w = build(layered("tanh", "mse", depth=2))
    for fn in (D.model_fisher, D.empirical_fisher_residual):
        with pytest.raises(ValueError, match="cross_entropy"):
            fn(ob, w)


# --------------------------------------------------------------------------------------------
# Structure
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("loss, per_sample_rank", [("cross_entropy", 2), ("mse", 3)])
def test_gauss_newton_is_psd_with_rank_at_most_n_times_c_minus_one(loss, per_sample_rank):
    """G ⪰ 0 and rank G = N(C−1) for cross-entropy (A_i has the null vector 1), N·C for MSE, when P is
    larger: so at least P − rank eigenvalues are exact zeros. Eigenvalues count as zero below
    P·ε·λ_max (spectrum.zero_tolerance)."""
    from hessian_spectra.spectrum import zero_tolerance

    case = layered("tanh", loss, depth=3, n=8, n_in=3, width=6, n_classes=3)
    ob, w0 = build(case)
    P = ob.n_params
    expected_rank = ob.n_samples * per_sample_rank
    assert P > expected_rank + 10
    for w in (w0, build(case.trained(50))[1]):
        ev = np.linalg.eigvalsh(D.gauss_newton(ob, w))
        tol = zero_tolerance(ev)
        assert ev[0] >= -tol
        assert int(np.sum(ev > tol)) == expected_rank
        assert int(np.sum(np.abs(ev) <= tol)) == P - expected_rank


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_residual_vanishes_on_last_layer_block(activation):
    """The logits are linear in (W_L, b_L): R's block for the last layer is exactly zero (bitwise),
    while the full R is not."""
    ob, w0 = build(layered(activation, depth=3))
    R = D.residual_term(ob, w0)
    w_sl, b_sl = mlp.param_slices(ob.layer_sizes)[-1]
    last = np.r_[w_sl.start : b_sl.stop]
    assert np.all(R[np.ix_(last, last)] == 0.0)
    if activation != "linear":
        assert np.abs(R).max() > 1e-8


def test_relu_residual_vanishes_within_hidden_layers_but_not_across():
    """ReLU: σ″ = 0, so f is piecewise linear in each layer's (W_l, b_l): every within-layer block of R
    is exactly zero, but cross-layer blocks are not. With tanh (σ″ ≠ 0) the within-layer blocks are
    nonzero, so the check can fail."""
    for activation, within_zero in (("relu", True), ("tanh", False)):
        ob, w0 = build(layered(activation, depth=4))
        R = D.residual_term(ob, w0)
        blocks = [np.r_[w.start : b.stop] for w, b in mlp.param_slices(ob.layer_sizes)]
        within = max(np.abs(R[np.ix_(b, b)]).max() for b in blocks[:-1])
        across = max(np.abs(R[np.ix_(b1, b2)]).max() for b1, b2 in zip(blocks[:-1], blocks[1:], strict=True))
        assert across > 1e-6
        assert (within == 0.0) if within_zero else (within > 1e-6), (activation, within)


def test_mse_residual_vanishes_at_interpolating_solution():
    """MSE: R = (1/N) Σ r_ic ∇²f_ic is linear in the residuals, so at a network that interpolates the
    targets (last layer solved by least squares on N ≤ width + 1 hidden features) R = 0 to round-off
    and H = G, while at the same hidden layer with a perturbed last layer R is O(1)."""
    ob, w0 = build(layered("tanh", "mse", depth=2, n=6, n_in=3, width=8, n_classes=3))
    layers = mlp.unflatten(w0.copy(), ob.layer_sizes)
    _, hs = mlp.forward_all(w0, ob.X, ob.layer_sizes, ob.activation)
    features = np.c_[hs[-1], np.ones(ob.n_samples)]  # (6, 9): underdetermined, exact solution
    Y = np.eye(3)[ob.y]
    sol = np.linalg.lstsq(features, Y, rcond=None)[0]
    w = mlp.flatten([layers[0], (sol[:-1], sol[-1])])
    assert ob.loss_value(w) < 1e-25
    H, R = reference.hessian(ob, w), D.residual_term(ob, w)
    assert np.linalg.norm(R) <= 1e-10 * np.linalg.norm(H)
    assert_close(D.gauss_newton(ob, w), H, rtol=EXACT, what="G vs H at interpolation")
    R0 = D.residual_term(ob, w0)
    assert np.linalg.norm(R0) > 1e-3 * np.linalg.norm(reference.hessian(ob, w0))


# --------------------------------------------------------------------------------------------
# Contracts, errors, the CLI file
# --------------------------------------------------------------------------------------------


def test_reference_term_rejects_bad_input():
    """Unknown term or method → ValueError naming it; non-Objective → ValueError; a P whose dense
    matrices cannot fit → DenseTooLargeError before any work."""
    ob, w = build(layered())
    with pytest.raises(ValueError, match="term"):
        D.reference_term(ob, w, "H")
    with pytest.raises(ValueError, match="method"):
        D.gauss_newton(ob, w, method="finite-differences")
    with pytest.raises(ValueError, match="objective"):
        D.gauss_newton("not an objective", w)
    with pytest.raises(ValueError, match="chunk_size"):
        D.gauss_newton(ob, w, chunk_size=0)
    big = Objective(np.zeros((2, 2000)), np.array([0, 1]), (2000, 120, 2), "tanh")  # P = 240,362
    with pytest.raises(DenseTooLargeError):
        D.reference_term(big, np.zeros(big.n_params), "G")


def test_cli_decompose_writes_g_and_r_checkable_from_the_file_alone(tmp_path):
    """`hessian-spectra hessian run.npz --decompose` stores G, R, eigvals_G/R (ascending) and the
    class-mean eigenvalues; from the file alone, another route (the linearized-network Hessian for G,
    autograd's Hessian for H) reproduces them and H = G + R holds."""
    from hessian_spectra import cli
    from hessian_spectra import io as hio
    from hessian_spectra.curvature import papyan

    ob, w0 = build(layered("tanh", depth=3))
    run = tmp_path / "run.npz"
    hio.save_npz(
        run,
        X=ob.X,
        y=ob.y,
        layer_sizes=np.asarray(ob.layer_sizes),
        activation=np.array(ob.activation),
        loss=np.array(ob.loss),
        params=w0,
        config=np.array(json.dumps({})),
    )
    out = tmp_path / "hess.npz"
    assert cli.main(["hessian", str(run), "--out", str(out), "--engine", "reference", "--decompose"]) == 0
    f = hio.load_npz(out)
    for key in ("H", "G", "R", "eigvals_H", "eigvals_G", "eigvals_R", "eigvals_G1", "eigvals_G012"):
        assert key in f, key
    P = ob.n_params
    assert f["G"].shape == f["R"].shape == (P, P)
    assert np.all(np.diff(f["eigvals_G"]) >= 0) and np.all(np.diff(f["eigvals_R"]) >= 0)
    ob2 = Objective(f["X"], f["y"], tuple(f["layer_sizes"]), str(f["activation"]), str(f["loss"]))
    assert_close(f["G"] + f["R"], f["H"], rtol=EXACT, what="file: G + R vs H")
    assert_close(
        D.gauss_newton_linearized(ob2, f["params"]),
        f["G"],
        rtol=EXACT,
        what="file: G by the linearized route",
    )
    assert_close(reference.hessian(ob2, f["params"]), f["H"], rtol=EXACT, what="file: H")
    np.testing.assert_allclose(f["eigvals_G"], np.linalg.eigvalsh(f["G"]), atol=1e-12)
    C = ob.n_classes
    assert f["eigvals_G1"].shape == (C,) and f["eigvals_G012"].shape == (C * C,)
    dec = papyan.class_mean_decomposition(ob2, f["params"])
    np.testing.assert_allclose(f["eigvals_G1"], np.linalg.eigvalsh(dec.G1)[-C:], rtol=1e-9, atol=1e-14)
