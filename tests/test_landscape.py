"""The loss on the line between two points (S18 Sec. 3.3) and the barrier height."""

import numpy as np
import pytest

import hessian_spectra as hs
from hessian_spectra import landscape


def test_line_points_interpolate_and_extrapolate():
    """θ(α) = (1−α)θ0 + αθ1: the endpoints at α = 0 and 1, the midpoint at ½, and α = −1, 2 beyond."""
    t0, t1 = np.array([0.0, 2.0]), np.array([4.0, -2.0])
    pts = dict(landscape.line_points(t0, t1, [-1.0, 0.0, 0.5, 1.0, 2.0]))
    np.testing.assert_array_equal(pts[0.0], t0)
    np.testing.assert_array_equal(pts[1.0], t1)
    np.testing.assert_array_equal(pts[0.5], [2.0, 0.0])
    np.testing.assert_array_equal(pts[-1.0], [-4.0, 6.0])
    np.testing.assert_array_equal(pts[2.0], [8.0, -6.0])


def test_loss_on_line_matches_the_objective():
    """Each recorded loss is the objective's loss at θ(α), on the training and the test data."""
    ds = hs.blobs(n_samples=30, n_clusters=2, dim=3, n_test=10, seed=0)
    obj = hs.Objective(ds.X, ds.y, (3, 4, 2), "tanh")
    test = obj.with_data(ds.X_test, ds.y_test)
    t0, t1 = hs.init_params((3, 4, 2), seed=1), hs.init_params((3, 4, 2), seed=2)
    line = landscape.loss_on_line(obj, t0, t1, [0.0, 0.25, 1.0], test)
    assert line["train_loss"][1] == pytest.approx(obj.loss_value(0.75 * t0 + 0.25 * t1), rel=1e-14)
    assert line["test_loss"][2] == pytest.approx(test.loss_value(t1), rel=1e-14)
    assert len(line["train_accuracy"]) == 3


def test_barrier_height_is_measured_on_the_segment_only():
    """A bump inside [0, 1] is a barrier of its height above the worse endpoint; values outside
    [0, 1] (the extrapolated ends) do not count; missing endpoints are an error."""
    a = np.linspace(-1, 2, 31)
    flat = np.where((a >= 0) & (a <= 1), 1.0, 5.0)
    assert landscape.barrier(a, flat)["height"] == pytest.approx(0.0, abs=1e-15)
    assert landscape.barrier(a, flat)["none"]
    bump = flat + 0.5 * np.exp(-((a - 0.5) ** 2) / 0.01)
    b = landscape.barrier(a, bump)
    # the bump adds 0.5·e^{-25} ≈ 7e-12 at the endpoints themselves, hence abs=1e-10
    assert b["height"] == pytest.approx(0.5, abs=1e-10) and not b["none"]
    with pytest.raises(ValueError, match="must contain 0 and 1"):
        landscape.barrier([0.1, 0.5], [1.0, 2.0])


def test_loss_on_line_records_alpha_and_accuracies_at_each_point():
    """The record holds, for every α in the order given, α itself and the accuracy (fraction of argmax
    hits, from the objective) of θ(α) on the training and the test data."""
    ds = hs.blobs(n_samples=30, n_clusters=2, dim=3, n_test=10, seed=0)
    obj = hs.Objective(ds.X, ds.y, (3, 4, 2), "tanh")
    test = obj.with_data(ds.X_test, ds.y_test)
    t0, t1 = hs.init_params((3, 4, 2), seed=1), hs.init_params((3, 4, 2), seed=2)
    alphas = [1.0, -0.5, 0.25]
    line = landscape.loss_on_line(obj, t0, t1, alphas, test)
    assert line["alpha"] == alphas
    for k, a in enumerate(alphas):
        theta = (1 - a) * t0 + a * t1
        for key, data in (("train_accuracy", ds), ("test_accuracy", None)):
            X, y = (ds.X, ds.y) if data is not None else (ds.X_test, ds.y_test)
            hits = np.argmax(hs.mlp.forward(theta, X, (3, 4, 2), "tanh"), axis=1) == y
            assert line[key][k] == hits.mean(), (key, a)
    # without a test objective the test columns stay empty
    assert landscape.loss_on_line(obj, t0, t1, alphas)["test_loss"] == []


def test_barrier_on_monotone_lines_and_its_margin():
    """On a line whose loss only falls (or only rises) the worse endpoint is the maximum over [0, 1],
    so the height is exactly 0; the margin is 10 % of the worse endpoint loss plus 1e-3 (for a worse
    endpoint of 2.0: 0.201), and a bump just below it is no barrier while one just above is."""
    a = np.linspace(-1, 2, 31)
    falling = 3.0 - a
    rising = 1.0 + a
    for L in (falling, rising):
        b = landscape.barrier(a, L)
        assert b["height"] == 0.0 and b["none"], b
    b = landscape.barrier(a, rising)
    assert b["endpoint_max"] == 2.0
    assert b["margin"] == pytest.approx(0.201, rel=1e-12)
    flat = np.where((a >= 0) & (a <= 1), 2.0, 0.0)
    for height, none in ((0.19, True), (0.21, False)):
        L = flat + np.where(np.isclose(a, 0.5), height, 0.0)
        out = landscape.barrier(a, L)
        assert out["height"] == pytest.approx(height, rel=1e-12) and out["none"] == none, out


def test_barrier_needs_both_endpoints():
    """Missing either endpoint (only 0, or only 1, or neither within 1e-12) is an error."""
    for alphas in ([0.0, 0.5, 0.9], [0.1, 0.5, 1.0], [0.5, 0.7]):
        with pytest.raises(ValueError, match="must contain 0 and 1"):
            landscape.barrier(alphas, np.ones(len(alphas)))
