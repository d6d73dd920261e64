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
    for kwargs, name in (
        ({"steps": -1}, "steps"),
        ({"record_every": 0}, "record_every"),
        ({"grad_tol": 0}, "grad_tol"),
    ):
        with pytest.raises(ValueError, match=f"^{name} must be"):
            train(obj, w0, progress=False, **kwargs)


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


def _diverging_linear_regression():
    """Linear regression (MSE, no hidden layer) with lr = 2.6/λ_max: the error along the top eigenvector
    of H is multiplied by 1 − 2.6 = −1.6 each GD step, so the loss grows about 2.6× per step from ½."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((20, 3)), rng.integers(0, 2, 20)
    obj = hs.Objective(X, y, (3, 2), "linear", "mse")
    w0 = np.zeros(obj.n_params)
    lam = np.linalg.eigvalsh(hs.hessian_terms(X, y, w0, (3, 2), "linear", "mse")["H"])[-1]
    return obj, w0, 2.6 / lam


def test_a_finite_loss_growing_past_the_divergence_limit_stops_training():
    """Divergence is a loss above DIVERGENCE_FACTOR · max(L(w_0), 1) = 100 (L(w_0) = ½ here), finite or
    not: training stops at the first iterate beyond it, found here by a GD loop of the test's own
    (w ← w − η∇L with autograd's gradient), and the message names that step, the loss and lr."""
    from hessian_spectra.training import DIVERGENCE_FACTOR

    obj, w0, lr = _diverging_linear_regression()
    assert DIVERGENCE_FACTOR == 100.0
    w, losses = w0.copy(), []
    for _ in range(30):
        losses.append(float(obj.loss_value(w)))
        w = w - lr * obj.gradient(w)
    assert losses[0] == 0.5 and np.isfinite(losses).all()
    first = next(t for t, L in enumerate(losses) if L > 100 * max(losses[0], 1.0))
    # a limit of 100·L(w_0) = 50 would stop a step earlier, one of 200 (max(L0, 2)) a step later
    assert losses[first - 1] > 50 and losses[first] < 200, losses
    pattern = rf"at step {first}: the loss is .*more than 100.*from 0.5 at"
    for record_every in (1, 500):  # checked at the records and, between them, before every update
        with pytest.raises(TrainingDivergedError, match=pattern):
            train(obj, w0, lr=lr, steps=200, record_every=record_every, progress=False)
    # SGD between records (here only at steps 0 and 200): the minibatch loss is checked at every step
    with pytest.raises(TrainingDivergedError, match=rf"at step {first}: the minibatch loss is"):
        train(
            obj, w0, "sgd", lr=lr, steps=200, batch_size=20, shuffle=False, record_every=500, progress=False
        )


def test_a_non_finite_loss_at_the_start_names_the_data_not_the_learning_rate():
    """A loss that is already infinite at w_0 (inputs of 1e200 overflow the logits) is reported before
    any update, naming the size of the inputs instead of the learning rate."""
    X = np.full((4, 2), 1e200)
    obj = hs.Objective(X, np.array([0, 1, 0, 1]), (2, 2), "linear", "mse")
    with pytest.raises(TrainingDivergedError, match=r"initial parameters, before any update.*1e\+200"):
        with np.errstate(all="ignore"):
            train(obj, np.ones(obj.n_params), lr=0.1, steps=5, progress=False)


def test_history_is_recorded_every_k_steps_and_at_the_end(problem):
    """record_every = 3 over 10 steps records steps 0, 3, 6, 9 and 10, each with the full-batch loss,
    accuracy and gradient norm of that iterate (iterates from a GD loop of the test's own); the
    result reports 10 steps run and not converged."""
    obj, w0 = problem
    res = train(obj, w0, lr=0.3, steps=10, record_every=3, progress=False)
    np.testing.assert_array_equal(res.history["step"], [0, 3, 6, 9, 10])
    assert res.history["step"].dtype == np.int64
    iterates = [w0]
    for _ in range(10):
        iterates.append(iterates[-1] - 0.3 * obj.gradient(iterates[-1]))
    for k, s in enumerate(res.history["step"]):
        w = iterates[s]
        np.testing.assert_allclose(res.history["loss"][k], obj.loss_value(w), rtol=1e-12)
        np.testing.assert_allclose(res.history["grad_norm"][k], np.linalg.norm(obj.gradient(w)), rtol=1e-12)
        assert res.history["accuracy"][k] == obj.accuracy(w)
    np.testing.assert_allclose(res.params, iterates[-1], rtol=1e-12)
    assert res.steps_run == 10 and res.converged is False
    default = train(obj, w0, lr=0.3, steps=1000, progress=False)  # about 200 records: every 5 steps
    np.testing.assert_array_equal(default.history["step"], np.arange(0, 1001, 5))
    short = train(obj, w0, lr=0.3, steps=10, snapshot_steps=(2,), progress=False)  # < 200 steps: all
    np.testing.assert_array_equal(short.history["step"], np.arange(11))
    assert list(short.snapshots) == [2]  # only the steps asked for
    np.testing.assert_allclose(short.snapshots[2], iterates[2], rtol=1e-12)
    none = train(obj, w0, lr=0.3, steps=0, progress=False)  # no update: the start, recorded once
    np.testing.assert_array_equal(none.params, w0)
    np.testing.assert_array_equal(none.history["step"], [0])
    assert none.steps_run == 0


def test_minibatches_shuffle_by_default_and_name_bad_arguments():
    """minibatches(n, B) shuffles unless told not to: its first epoch is a permutation of range(n) in
    another order; bad counts name the argument."""
    from hessian_spectra.training import minibatches

    batches = minibatches(10, 5, seed=3)
    epoch = np.concatenate([next(batches), next(batches)])
    np.testing.assert_array_equal(np.sort(epoch), np.arange(10))
    assert not np.array_equal(epoch, np.arange(10))
    with pytest.raises(ValueError, match="^n_samples must be"):
        next(minibatches(0, 1))
    with pytest.raises(ValueError, match="^batch_size must be"):
        next(minibatches(5, 0))
