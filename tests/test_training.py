"""Training by GD and SGD."""

import numpy as np
import pytest

import hessian_spectra as hs
from hessian_spectra.training import TrainingDivergedError, train


@pytest.fixture
def problem():
    ds = hs.blobs(n_samples=60, n_clusters=3, dim=4, seed=0)
    sizes = (4, 6, 3)
    return hs.Objective(ds.X, ds.y, sizes, "tanh"), hs.init_params(sizes, seed=1)


def test_gd_step_is_w_minus_lr_grad(problem):
    """One GD step gives w − η∇L(w) (∇L checked independently against finite differences elsewhere)."""
    obj, w0 = problem
    res = train(obj, w0, lr=0.3, steps=1, progress=False)
    np.testing.assert_allclose(res.params, w0 - 0.3 * obj.gradient(w0), rtol=1e-14, atol=1e-16)


def test_gd_decreases_the_loss_on_blobs(problem):
    """GD with a small step on separable blobs lowers the loss and reaches full accuracy."""
    obj, w0 = problem
    res = train(obj, w0, lr=0.5, steps=300, progress=False)
    assert res.history["loss"][-1] < 0.2 * res.history["loss"][0]
    assert res.history["accuracy"][-1] == 1.0
    assert res.history["step"][-1] == 300


def test_sgd_with_full_sequential_batches_is_gd(problem):
    """SGD whose batch is the whole data set in order takes the GD steps exactly."""
    obj, w0 = problem
    gd = train(obj, w0, lr=0.2, steps=5, progress=False)
    sgd = train(obj, w0, "sgd", lr=0.2, steps=5, batch_size=obj.n_samples, shuffle=False, progress=False)
    np.testing.assert_allclose(sgd.params, gd.params, rtol=1e-13)


def test_sgd_sequential_batches_walk_through_the_data(problem):
    """Sequential SGD with batch B uses samples [0:B], [B:2B], ...: two steps equal two manual
    minibatch gradient steps."""
    obj, w0 = problem
    res = train(obj, w0, "sgd", lr=0.1, steps=2, batch_size=20, shuffle=False, progress=False)
    w = w0.copy()
    for sl in (slice(0, 20), slice(20, 40)):
        sub = obj.with_data(obj.X[sl], obj.y[sl])
        w = w - 0.1 * sub.gradient(w)
    np.testing.assert_allclose(res.params, w, rtol=1e-13)


def test_sequential_batches_wrap_around_when_b_does_not_divide_n(problem):
    """With N = 60 and B = 25, sequential batches are [0:25], [25:50], [50:60] + [0:15], ...: every
    sample is used (three manual minibatch steps give the same parameters)."""
    obj, w0 = problem
    res = train(obj, w0, "sgd", lr=0.1, steps=3, batch_size=25, shuffle=False, progress=False)
    w = w0.copy()
    for idx in (np.arange(0, 25), np.arange(25, 50), np.r_[50:60, 0:15]):
        w = w - 0.1 * obj.with_data(obj.X[idx], obj.y[idx]).gradient(w)
    np.testing.assert_allclose(res.params, w, rtol=1e-13)


def test_sgd_is_reproducible_given_seed(problem):
    """Shuffled SGD: same seed, same parameters; another seed, other parameters."""
    obj, w0 = problem
    a = train(obj, w0, "sgd", lr=0.1, steps=10, batch_size=7, seed=3, progress=False).params
    b = train(obj, w0, "sgd", lr=0.1, steps=10, batch_size=7, seed=3, progress=False).params
    c = train(obj, w0, "sgd", lr=0.1, steps=10, batch_size=7, seed=4, progress=False).params
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_grad_tol_stops_and_snapshots_are_kept(problem):
    """Training stops once ‖∇L‖ ≤ tol; snapshots hold the parameters at the chosen steps."""
    obj, w0 = problem
    res = train(
        obj, w0, lr=0.5, steps=5000, grad_tol=0.05, snapshot_steps=(0, 3), record_every=1, progress=False
    )
    assert res.converged and res.history["grad_norm"][-1] <= 0.05 < res.history["grad_norm"][-2]
    np.testing.assert_array_equal(res.snapshots[0], w0)
    three = train(obj, w0, lr=0.5, steps=3, progress=False).params
    np.testing.assert_allclose(res.snapshots[3], three, rtol=1e-14)


def test_divergence_names_the_learning_rate(problem):
    """A huge learning rate on MSE diverges; the error says so and names lr."""
    obj, w0 = problem
    obj = hs.Objective(obj.X * 50, obj.y, obj.layer_sizes, "relu", "mse")
    with pytest.raises(TrainingDivergedError, match="lr = 1000"), np.errstate(all="ignore"):
        train(obj, w0, lr=1000.0, steps=200, progress=False)


def test_bad_arguments(problem):
    """Unknown optimizer, SGD without batch size or with a batch larger than N, negative lr."""
    obj, w0 = problem
    with pytest.raises(ValueError, match="optimizer must be one of"):
        train(obj, w0, "adam", progress=False)
    with pytest.raises(ValueError, match="batch_size is required"):
        train(obj, w0, "sgd", progress=False)
    with pytest.raises(ValueError, match="exceeds the number of samples"):
        train(obj, w0, "sgd", batch_size=1000, progress=False)
    with pytest.raises(ValueError, match="lr must be"):
        train(obj, w0, lr=-1, progress=False)


def _batches_seen(res, n):
    """The minibatch of every step, read off the updates of a one-layer network on one-hot inputs:
    with x_i = e_i, the update of W's row i is −η (1/|B|) r_iᵀ for i in the batch and exactly 0
    otherwise, so the rows that moved are the batch (the bias moves every step and is ignored)."""
    steps = sorted(res.snapshots)
    out = []
    for s0, s1 in zip(steps[:-1], steps[1:], strict=True):
        dW = (res.snapshots[s1] - res.snapshots[s0])[: n * 3].reshape(n, 3)
        out.append(np.flatnonzero(np.any(dW != 0, axis=1)))
    return out


@pytest.mark.parametrize("n, batch", [(12, 3), (12, 5)])
def test_shuffled_sgd_visits_every_sample_once_per_epoch(n, batch):
    """Shuffled SGD: each epoch is n // B consecutive steps whose batches are disjoint, of size B,
    and (when B divides n) together hold every sample exactly once; a new epoch draws a new order.
    The batches are read off the parameter updates (:func:`_batches_seen`), not from the sampler."""
    X, y = np.eye(n), np.arange(n) % 3
    obj = hs.Objective(X, y, (n, 3), "linear", "cross_entropy")
    per_epoch, epochs = n // batch, 4
    steps = per_epoch * epochs
    res = train(
        obj, hs.init_params((n, 3), seed=0), "sgd", lr=0.1, steps=steps, batch_size=batch,
        snapshot_steps=range(steps + 1), seed=1, progress=False,
    )  # fmt: skip
    seen = _batches_seen(res, n)
    assert len(seen) == steps and all(b.size == batch for b in seen), seen
    orders = []
    for e in range(epochs):
        epoch = np.concatenate(seen[e * per_epoch : (e + 1) * per_epoch])
        assert np.unique(epoch).size == per_epoch * batch, (e, seen)  # no sample twice in an epoch
        if n % batch == 0:
            assert np.array_equal(np.sort(epoch), np.arange(n)), (e, seen)
        orders.append(tuple(epoch))
    assert len(set(orders)) == epochs  # every epoch its own permutation


def test_sequential_sgd_batches_walk_through_the_data_cyclically():
    """Sequential SGD (shuffle=False) takes [0:B], [B:2B], ... wrapping around the end: with n = 10
    and B = 4 the batches are {0..3}, {4..7}, {8, 9, 0, 1}, {2..5}."""
    n = 10
    X, y = np.eye(n), np.arange(n) % 3
    obj = hs.Objective(X, y, (n, 3), "linear", "cross_entropy")
    res = train(
        obj, hs.init_params((n, 3), seed=0), "sgd", lr=0.1, steps=4, batch_size=4, shuffle=False,
        snapshot_steps=range(5), progress=False,
    )  # fmt: skip
    got = [set(b.tolist()) for b in _batches_seen(res, n)]
    assert got == [{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9, 0, 1}, {2, 3, 4, 5}]
