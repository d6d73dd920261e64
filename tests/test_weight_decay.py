"""Weight decay in `training.train`: GD/SGD on L(w) + λ/2 ‖w‖², checked against autograd's gradient
of a penalized loss written out here (not the update formula of training.py)."""

import autograd.numpy as anp
import numpy as np
import pytest
from autograd import grad

import hessian_spectra as hs
from hessian_spectra.training import train

LAM = 0.05


@pytest.fixture
def problem():
    ds = hs.blobs(n_samples=40, n_clusters=3, dim=4, seed=2)
    sizes = (4, 5, 3)
    return hs.Objective(ds.X, ds.y, sizes, "tanh"), hs.init_params(sizes, seed=3)


def _penalized(obj, lam, X=None, y=None):
    """w ↦ mean loss on (X, y) + λ/2 ‖w‖², as autograd differentiates it."""
    X = obj.X if X is None else X
    y = obj.y if y is None else y
    return lambda w: obj.batch_loss(w, X, y) + 0.5 * lam * anp.sum(w * w)


def test_gd_step_follows_the_gradient_of_the_penalized_loss(problem):
    """Three GD steps with weight decay λ are w ← w − η ∇(L + λ/2‖w‖²)(w), the gradient taken by
    autograd on the penalized loss (round-off only: rtol 1e-12 on O(1) parameters)."""
    obj, w0 = problem
    g = grad(_penalized(obj, LAM))
    w = w0.copy()
    for _ in range(3):
        w = w - 0.4 * g(w)
    res = train(obj, w0, lr=0.4, steps=3, weight_decay=LAM, progress=False)
    np.testing.assert_allclose(res.params, w, rtol=1e-12, atol=1e-14)


def test_sgd_steps_follow_the_penalized_minibatch_gradient(problem):
    """Sequential SGD (batches [0:10], [10:20], ...) with weight decay takes the autograd gradient of
    the penalized minibatch loss at each step: the penalty is added once per update, not per sample."""
    obj, w0 = problem
    w = w0.copy()
    for t in range(6):
        idx = (10 * t + np.arange(10)) % obj.n_samples
        w = w - 0.3 * grad(_penalized(obj, LAM, obj.X[idx], obj.y[idx]))(w)
    res = train(
        obj, w0, "sgd", lr=0.3, steps=6, batch_size=10, shuffle=False, weight_decay=LAM, progress=False
    )
    np.testing.assert_allclose(res.params, w, rtol=1e-12, atol=1e-14)


def test_history_records_the_data_loss_and_the_penalized_gradient_norm(problem):
    """With weight decay the recorded loss is the data loss L (not L + λ/2‖w‖²) and the recorded
    gradient norm is ‖∇(L + λ/2‖w‖²)‖, both at the recorded steps' parameters (snapshots)."""
    obj, w0 = problem
    res = train(
        obj, w0, lr=0.4, steps=4, record_every=2, snapshot_steps=[0, 2, 4], weight_decay=LAM, progress=False
    )
    g = grad(_penalized(obj, LAM))
    for k, step in enumerate(res.history["step"]):
        w = res.snapshots[int(step)]
        assert res.history["loss"][k] == pytest.approx(float(obj.loss_value(w)), rel=1e-13)
        assert res.history["grad_norm"][k] == pytest.approx(float(np.linalg.norm(g(w))), rel=1e-12)


def test_grad_tol_stops_at_a_stationary_point_of_the_penalized_loss(problem):
    """Trained to grad_tol with λ > 0, the end point satisfies ∇L(w) = −λw (the penalized gradient is
    below the tolerance) while ∇L itself is far from zero: the run minimized L + λ/2‖w‖², not L. The
    weights end smaller than without the penalty after the same number of steps."""
    obj, w0 = problem
    res = train(obj, w0, lr=0.5, steps=20000, grad_tol=1e-6, weight_decay=LAM, progress=False)
    assert res.converged
    w = res.params
    assert np.linalg.norm(obj.gradient(w) + LAM * w) <= 1e-6
    assert np.linalg.norm(obj.gradient(w)) > 100 * 1e-6
    free = train(obj, w0, lr=0.5, steps=res.steps_run, progress=False)
    assert np.linalg.norm(w) < np.linalg.norm(free.params)


def test_zero_weight_decay_is_plain_gd(problem):
    """weight_decay=0 (the default) takes the plain steps w − η∇L exactly."""
    obj, w0 = problem
    a = train(obj, w0, lr=0.3, steps=5, progress=False)
    b = train(obj, w0, lr=0.3, steps=5, weight_decay=0.0, progress=False)
    np.testing.assert_array_equal(a.params, b.params)


@pytest.mark.parametrize("bad", [-0.1, float("nan"), float("inf"), "a"])
def test_bad_weight_decay_is_one_value_error_naming_it(problem, bad):
    """A negative, non-finite or non-numeric weight decay is a ValueError naming `weight_decay`."""
    obj, w0 = problem
    with pytest.raises(ValueError, match="weight_decay"):
        train(obj, w0, steps=1, weight_decay=bad, progress=False)
