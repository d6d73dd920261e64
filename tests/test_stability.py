"""GD stability (hessian_spectra.stability): the threshold 2/η, power iteration, the edge-of-stability
summary of a sharpness trace, and the sharpness and split H = G + R measured along GD.

Independent routes: GD iterated by hand on quadratics (and by autograd's gradient), matrices with a
spectrum chosen in advance, traces whose summary is worked out by hand in the test, dense
eigendecompositions of autograd's Hessian and of the Gauss-Newton term from autograd Jacobians, and
``hessian_spectra.train`` (autograd gradients) for the GD trajectory.
"""

from __future__ import annotations

import numpy as np
import pytest
from autograd import grad, jacobian
from autograd import numpy as anp
from scipy.sparse.linalg import aslinearoperator

import hessian_spectra as hs
from hessian_spectra import losses, stability
from hessian_spectra.curvature import reference
from hessian_spectra.training import TrainingDivergedError


def _gd_by_hand(lam, lr, x0, steps):
    x = float(x0)
    for _ in range(steps):
        x = x - lr * lam * x  # the gradient of ½λx² is λx
    return x


# --------------------------------------------------------------------------------------------
# The quadratic
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("lam", [0.3, 2.0, 17.0])
def test_gd_on_a_quadratic_is_stable_exactly_below_the_threshold(lam):
    """GD on ½λx² with η = 2/λ·(1 − 1%) shrinks the iterate, with η = 2/λ·(1 + 1%) it grows, and at
    η = 2/λ it flips sign with constant size: stability_threshold(η) = 2/η is where λ stops being
    stable, and 2/λ the step size where GD on that quadratic starts to diverge."""
    eta_star = 2.0 / lam
    assert stability.stability_threshold(eta_star) == pytest.approx(lam, rel=1e-15)
    below = _gd_by_hand(lam, 0.99 * eta_star, 1.0, 2000)
    above = _gd_by_hand(lam, 1.01 * eta_star, 1.0, 2000)
    at = _gd_by_hand(lam, eta_star, 1.0, 2001)
    assert abs(below) < 1e-6 and abs(above) > 1e6 and at == pytest.approx(-1.0, rel=1e-9)


def test_gd_on_quadratic_matches_gd_with_the_autograd_gradient():
    """gd_on_quadratic's closed form (1 − ηλ_j)^t x_0 equals GD run with autograd's gradient of
    ½ Σ λ_j x_j², curvatures of both signs and beyond 2/η included."""
    lam = np.array([0.5, 3.0, -0.2, 4.2, 0.0])
    x0 = np.array([1.0, -2.0, 0.5, 0.3, 0.7])
    lr = 0.45  # 2/η = 4.44: λ = 4.2 is stable (|1 − ηλ| = 0.89), λ = −0.2 grows
    g = grad(lambda x: 0.5 * anp.sum(lam * x**2))
    x, rows = x0.copy(), [x0.copy()]
    for _ in range(30):
        x = x - lr * g(x)
        rows.append(x.copy())
    np.testing.assert_allclose(
        stability.gd_on_quadratic(lam, lr, x0, 30), np.array(rows), rtol=1e-12, atol=1e-15
    )


def test_quadratic_helpers_reject_bad_input():
    """A zero or negative step size, or x0 of the wrong length, is a ValueError naming the argument."""
    with pytest.raises(ValueError, match="lr"):
        stability.stability_threshold(0.0)
    with pytest.raises(ValueError, match="lr"):
        stability.gd_on_quadratic([1.0], -0.1, [1.0], 3)
    with pytest.raises(ValueError, match="x0"):
        stability.gd_on_quadratic([1.0, 2.0], 0.1, [1.0], 3)


# --------------------------------------------------------------------------------------------
# Power iteration
# --------------------------------------------------------------------------------------------


def _matrix_with_spectrum(values, seed=0):
    Q, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((len(values), len(values))))
    return Q @ np.diag(values) @ Q.T


def test_power_iteration_finds_the_largest_magnitude_at_the_predicted_rate():
    """On a matrix with eigenvalues chosen in advance (λ1 = 5, λ2 = 4), the Rayleigh quotient after k
    steps converges to 5 with error below C (λ2/λ1)^{2k}; it accepts an array, a LinearOperator and a
    function, with the same answer."""
    values = np.array([5.0, 4.0, 1.0, 0.5, -3.0, 0.0, 2.0, -1.0])
    A = _matrix_with_spectrum(values)
    v0 = np.ones(values.size)
    errors = [5.0 - stability.power_iteration(A, v0, k)[0] for k in (10, 20, 40)]
    assert all(e >= -1e-12 for e in errors)  # a Rayleigh quotient never exceeds λ_max
    c = errors[0] / 0.8**20
    assert errors[1] <= 1.5 * c * 0.8**40 and errors[2] <= 1.5 * c * 0.8**80 + 1e-13
    theta, v = stability.power_iteration(A, v0, 200)
    assert theta == pytest.approx(5.0, rel=1e-12) and np.linalg.norm(v) == pytest.approx(1.0)
    assert stability.power_iteration(aslinearoperator(A), v0, 200)[0] == pytest.approx(theta, rel=1e-12)
    assert stability.power_iteration(lambda x: A @ x, v0, 200)[0] == pytest.approx(theta, rel=1e-12)
    # the largest magnitude wins, whatever its sign
    assert stability.power_iteration(-A, v0, 300)[0] == pytest.approx(-5.0, rel=1e-10)


def test_power_iteration_rejects_a_zero_start():
    """A zero start vector has no direction to iterate: ValueError naming v0."""
    with pytest.raises(ValueError, match="v0"):
        stability.power_iteration(np.eye(3), np.zeros(3), 5)


# --------------------------------------------------------------------------------------------
# The two phases of a sharpness trace
# --------------------------------------------------------------------------------------------


def test_edge_of_stability_summary_of_a_hand_made_trace():
    """η = 0.4 (2/η = 5), band 0.2, reach 0.05: ρ = λη/2 = 0.2, 0.4, 0.6, 0.98, 1.04, 0.82, 1.3, 1.0.
    The crossing is the 4th measurement (0.98 ≥ 0.95), the sharpening 4.9/1, and 3 of the 4 later
    measurements lie in [0.8, 1.2]."""
    steps = np.arange(0, 80, 10)
    lam = np.array([1.0, 2.0, 3.0, 4.9, 5.2, 4.1, 6.5, 5.0])
    s = stability.edge_of_stability(steps, lam, 0.4, band=0.2, reach=0.05)
    assert s["threshold"] == pytest.approx(5.0)
    assert s["crossed"] and s["crossing_index"] == 3 and s["crossing_step"] == 30.0
    assert s["sharpening"] == pytest.approx(4.9)
    assert s["n_after"] == 4 and s["fraction_in_band"] == pytest.approx(0.75)
    assert s["peak_ratio"] == pytest.approx(1.3) and s["final_ratio"] == pytest.approx(1.0)
    assert s["median_ratio_after"] == pytest.approx(np.median([1.04, 0.82, 1.3, 1.0]))
    # without the 5 % allowance the crossing moves to the 5th measurement
    assert stability.edge_of_stability(steps, lam, 0.4, band=0.2, reach=0.0)["crossing_index"] == 4


def test_edge_of_stability_without_a_crossing():
    """A trace that never reaches 2/η has no crossing, NaN sharpening and band fraction, n_after 0."""
    s = stability.edge_of_stability([0, 1, 2], [1.0, 1.5, 2.0], 0.5, band=0.2, reach=0.05)
    assert not s["crossed"] and s["crossing_step"] is None and s["n_after"] == 0
    assert np.isnan(s["fraction_in_band"]) and np.isnan(s["sharpening"])
    assert s["peak_ratio"] == pytest.approx(0.5)


def test_edge_of_stability_rejects_bad_traces():
    """Mismatched lengths, unordered steps and a reach of 1 or more are ValueErrors naming the argument."""
    with pytest.raises(ValueError, match="steps and sharpness"):
        stability.edge_of_stability([0, 1], [1.0], 0.5, band=0.2, reach=0.05)
    with pytest.raises(ValueError, match="increasing"):
        stability.edge_of_stability([0, 2, 1], [1.0, 2.0, 3.0], 0.5, band=0.2, reach=0.05)
    with pytest.raises(ValueError, match="reach"):
        stability.edge_of_stability([0, 1], [1.0, 2.0], 0.5, band=0.2, reach=1.0)


# --------------------------------------------------------------------------------------------
# Sharpness and the split along GD
# --------------------------------------------------------------------------------------------


def _problem(loss="mse", seed=0):
    ds = hs.blobs(n_samples=40, n_clusters=4, n_classes=2, dim=5, seed=seed)
    sizes = (5, 7, 6, 2)
    obj = hs.Objective(ds.X, ds.y, sizes, "tanh", loss)
    return obj, hs.init_params(sizes, "normal", seed=seed + 1, scale=0.5)


def _dense_extremes(obj, w):
    """λ_max(H) and its eigenvector, λ_max(G), R's extremes from autograd's H and Jacobians."""
    H = reference.hessian(obj, w)
    J = jacobian(obj.logits)(w)
    A = losses.logit_hessian(obj.logits(w), obj.y, obj.loss)
    G = np.einsum("ncp,ncd,ndq->pq", J, A, J) / obj.n_samples
    R = H - G
    lam, U = np.linalg.eigh(H)
    return lam[-1], U[:, -1], np.linalg.eigvalsh(G)[-1], np.linalg.eigvalsh(R), R


@pytest.mark.parametrize("route", ["exact", "lanczos"])
def test_curvature_extremes_equal_the_dense_eigenvalues(route):
    """Both routes give λ_max(H), λ_max(G), λ_min(R), λ_max(R) and uᵀRu of the dense autograd
    matrices: to round-off on the exact route, within the Lanczos tolerance (relative residual 1e-9
    here, so eigenvalue errors ≲ 1e-9·‖M‖) on the other."""
    obj, w = _problem(loss="cross_entropy")
    h, u, g, r, R = _dense_extremes(obj, w)
    out = stability.curvature_extremes(obj, w, route, tol=1e-9, seed=3)
    rtol = 1e-10 if route == "exact" else 1e-7
    assert out["h_top"] == pytest.approx(h, rel=rtol)
    assert out["g_top"] == pytest.approx(g, rel=rtol)
    assert out["r_top"] == pytest.approx(r[-1], rel=rtol, abs=rtol * h)
    assert out["r_bottom"] == pytest.approx(r[0], rel=rtol, abs=rtol * h)
    # uᵀRu does not depend on the sign of u; the top eigenvalue is simple here
    assert out["r_along_top"] == pytest.approx(u @ R @ u, rel=1e-5, abs=1e-7 * h)
    skipped = stability.curvature_extremes(obj, w, route, r_norm=False, tol=1e-9)
    assert np.isnan(skipped["r_top"]) and np.isnan(skipped["r_bottom"])


def test_routes_are_chosen_by_size():
    """P ≤ EXACT_MAX_PARAMS takes the exact route, larger networks Lanczos; an unknown route is a
    ValueError."""
    obj, w = _problem()
    assert stability.choose_route(obj) == "exact"
    big = hs.Objective(np.zeros((3, 200)), np.array([0, 1, 0]), (200, 8, 2), "relu", "mse")
    assert big.n_params > stability.EXACT_MAX_PARAMS and stability.choose_route(big) == "lanczos"
    with pytest.raises(ValueError, match="route"):
        stability.curvature_extremes(obj, w, "dense")


def test_sharpness_along_gd_follows_the_gd_trajectory_and_measures_before_each_update():
    """The loss trace is train()'s (autograd gradients, recorded every step) to round-off, the final
    parameters are the same, the measurements sit at 0, every, 2·every, … and the last step, each the
    dense λ_max(H) at that step's parameters, and R's extremes only at every r_norm_every-th one."""
    obj, w0 = _problem()
    lr, steps, every = 0.3, 23, 5
    ref = hs.train(
        obj, w0, lr=lr, steps=steps, record_every=1, snapshot_steps=range(0, steps + 1), progress=False
    )
    tr = stability.sharpness_along_gd(obj, w0, lr, steps, every, r_norm_every=2, route="exact")
    np.testing.assert_allclose(tr.loss, ref.history["loss"], rtol=1e-12)
    np.testing.assert_allclose(tr.params, ref.params, rtol=1e-11, atol=1e-14)
    assert tr.steps.tolist() == [0, 5, 10, 15, 20, 23]
    for t, lam in zip(tr.steps, tr.h_top, strict=True):
        assert lam == pytest.approx(
            np.linalg.eigvalsh(reference.hessian(obj, ref.snapshots[int(t)]))[-1], rel=1e-9
        )
    measured = np.isfinite(tr.r_top)
    assert measured.tolist() == [True, False, True, False, True, False]
    d = tr.as_dict()
    assert d["route"] == "exact" and d["loss"].shape == (steps + 1,)


def test_sharpness_along_gd_stops_when_gd_diverges():
    """A step size far beyond 2/λ_max makes the loss explode: TrainingDivergedError naming lr."""
    obj, w0 = _problem()
    with pytest.raises(TrainingDivergedError, match="lr"):
        stability.sharpness_along_gd(obj, w0, 500.0, 200, 50)
