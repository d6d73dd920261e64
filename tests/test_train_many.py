"""GD on a stack of networks at once (training.train_many) against the library's one-network trainer."""

import numpy as np
import pytest

from hessian_spectra import data, mlp, training
from hessian_spectra.objective import Objective


def _problem(loss="cross_entropy", n=3):
    ds = data.two_blobs(n_samples=40, std=0.5, seed=0)
    sizes = (2, 5, 5, 2)
    obj = Objective(ds.X, ds.y, sizes, "relu", loss)
    stack0 = np.stack([mlp.init_params(sizes, "normal", seed=s, scale=0.5) for s in range(n)])
    return obj, stack0


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_train_many_follows_training_train(loss):
    """Each row follows the trajectory of training.train (autograd gradients) to round-off (1e-12
    relative after 100 GD steps), for both losses; the stacked losses equal the objective's."""
    obj, stack0 = _problem(loss)
    res = training.train_many(obj, stack0, lr=0.1, steps=100)
    for b in range(stack0.shape[0]):
        ref = training.train(obj, stack0[b], lr=0.1, steps=100, progress=False).params
        assert np.linalg.norm(res.params[b] - ref) <= 1e-12 * np.linalg.norm(ref)
    assert np.array_equal(res.steps_run, [100] * 3) and not res.converged.any()
    losses, _ = training.stacked_value_and_gradient(res.params, obj)
    assert np.allclose(losses, [obj.loss_value(p) for p in res.params], rtol=1e-13, atol=0)


def test_each_network_stops_at_its_own_gradient_norm():
    """With grad_tol, every network stops at the step where train(..., grad_tol, record_every=1)
    stops it, with the same parameters (1e-12) — networks that stop early are frozen while the
    others go on; networks that never reach the tolerance stop at the cap, unconverged."""
    obj, stack0 = _problem(n=4)
    tol = 2e-2
    res = training.train_many(obj, stack0, lr=0.5, steps=400, grad_tol=tol)
    for b in range(4):
        ref = training.train(obj, stack0[b], lr=0.5, steps=400, grad_tol=tol, record_every=1, progress=False)
        assert res.steps_run[b] == ref.steps_run and res.converged[b] == ref.converged
        assert np.linalg.norm(res.params[b] - ref.params) <= 1e-12 * np.linalg.norm(ref.params)
    assert len(set(res.steps_run.tolist())) > 1  # they do stop at different steps
    capped = training.train_many(obj, stack0, lr=0.5, steps=3, grad_tol=1e-12)
    assert np.array_equal(capped.steps_run, [3] * 4) and not capped.converged.any()


def test_train_many_refuses_a_stack_of_the_wrong_width():
    """A stack whose rows are not parameter vectors of the network is refused naming the shape."""
    obj, stack0 = _problem()
    with pytest.raises(ValueError, match="stack0 must have shape"):
        training.train_many(obj, stack0[:, :-1])
