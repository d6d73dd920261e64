r"""Full-batch gradient descent and minibatch SGD with a constant learning rate.

Update: :math:`w_{t+1} = w_t - \eta\, g_t` with :math:`g_t = \nabla L(w_t)` (GD) or the gradient of
the mean loss over a minibatch :math:`B_t` (SGD, gradients averaged over the batch as in Sagun et
al., 2018):

.. math:: g_t = \frac{1}{|B_t|} \sum_{i \in B_t} \nabla_w \ell(f(w_t, x_i), y_i).

**Weight decay.** With ``weight_decay`` :math:`\lambda > 0` the update is
:math:`w_{t+1} = w_t - \eta\,(g_t + \lambda w_t)`: GD/SGD on the penalized objective
:math:`L(w) + \frac\lambda2\lVert w\rVert^2` (an L2 penalty on every parameter, biases included, as
PyTorch's ``SGD(weight_decay=λ)`` applies it to all the parameters it is given; Papyan (2019, 2020)
trains his networks with weight decay). Only the update sees the penalty: the recorded ``loss`` and
every curvature routine of the package (H, G, R, the class-mean split) are those of the data loss
:math:`L` alone, the Hessian of the penalized objective being :math:`\nabla^2 L + \lambda I`.

:func:`minibatches` says which samples :math:`B_t` are; :func:`train` runs the updates, records the
full-batch loss, accuracy and gradient norm along the way (:class:`TrainResult`), stops at a
gradient-norm tolerance when asked, and stops with :class:`TrainingDivergedError` when the loss
leaves any sensible range.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
from autograd import value_and_grad
from tqdm.auto import tqdm

from . import mlp
from ._checks import check_choice, check_positive_float, check_positive_int
from .objective import Objective

OPTIMIZERS = ("gd", "sgd")

#: A recorded full-batch loss above ``DIVERGENCE_FACTOR · max(L(w_0), 1)`` stops training as diverged
#: (our choice: a loss a hundred times its starting value, or above 100 when it started below 1, is
#: not the progress of a descent method; the starting loss of cross-entropy is about log C).
DIVERGENCE_FACTOR = 100.0


class TrainingDivergedError(ArithmeticError):
    """The loss became NaN or infinite, or grew far beyond its starting value."""


@dataclass
class TrainResult:
    """What a training run produced.

    ``history`` maps ``"step"``, ``"loss"``, ``"accuracy"`` and ``"grad_norm"`` (full-batch values,
    recorded every ``record_every`` steps and at the end) to arrays; ``snapshots`` maps step
    numbers to parameter vectors. ``converged`` says whether the gradient-norm tolerance was met
    (otherwise the run stopped at the step cap, ``steps_run == steps``).
    """

    params: np.ndarray
    history: dict[str, np.ndarray]
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)
    steps_run: int = 0
    converged: bool = False


def minibatches(
    n_samples: int, batch_size: int, shuffle: bool = True, seed: int | np.random.Generator | None = 0
) -> Iterator[np.ndarray]:
    """The index arrays of successive SGD minibatches, endlessly.

    - ``shuffle=True``: epochs of a fresh permutation each (drawn from ``seed``), cut into
      ``n_samples // batch_size`` consecutive batches; each epoch visits every sample at most once,
      and the last ``n_samples mod batch_size`` samples of a permutation are skipped.
    - ``shuffle=False``: consecutive slices of the stored order ``[0:B], [B:2B], ...`` walking
      through the data cyclically (wrapping around the end), so every sample is visited even when
      ``batch_size`` does not divide ``n_samples`` (the authors' code takes sequential slices).
    """
    n_samples = check_positive_int("n_samples", n_samples)
    batch_size = check_positive_int("batch_size", batch_size)
    if batch_size > n_samples:
        raise ValueError(f"batch_size ({batch_size}) exceeds the number of samples ({n_samples})")
    if shuffle:
        rng = np.random.default_rng(seed)
        while True:
            order = rng.permutation(n_samples)
            for start in range(0, n_samples - batch_size + 1, batch_size):
                yield order[start : start + batch_size]
    else:
        cursor = 0
        while True:
            yield (cursor + np.arange(batch_size)) % n_samples
            cursor = (cursor + batch_size) % n_samples


class _History:
    """The full-batch records of a run, and the divergence test on them."""

    def __init__(self, objective: Objective, lr: float):
        self.objective = objective
        self.lr = lr
        self.columns = {"step": [], "loss": [], "accuracy": [], "grad_norm": []}

    def record(self, step: int, params, loss, gradient) -> float:
        """Append the full-batch values at ``step``; return the gradient norm."""
        self.check_loss(step, loss)
        self.columns["step"].append(step)
        self.columns["loss"].append(float(loss))
        self.columns["accuracy"].append(self.objective.accuracy(params))
        self.columns["grad_norm"].append(float(np.linalg.norm(gradient)))
        return self.columns["grad_norm"][-1]

    def check_loss(self, step: int, loss, what: str = "loss") -> None:
        """Raise :class:`TrainingDivergedError` for a non-finite loss or one far above the start.

        At step 0 no update has happened yet, so the learning rate cannot be the cause: the
        message then names the data and the initial point instead.
        """
        loss = float(loss)
        if step == 0 and not np.isfinite(loss):
            scale = float(np.max(np.abs(self.objective.X)))
            raise TrainingDivergedError(
                f"the {what} is {loss} at the initial parameters, before any update: the inputs reach "
                f"|x| = {scale:.3g} (standardize the data) or the initial parameters are too large"
            )
        start = self.columns["loss"][0] if self.columns["loss"] else None
        limit = None if start is None else DIVERGENCE_FACTOR * max(start, 1.0)
        if not np.isfinite(loss) or (limit is not None and loss > limit):
            grew = "" if not np.isfinite(loss) else f" (more than {DIVERGENCE_FACTOR:g}× max(start, 1))"
            raise TrainingDivergedError(
                f"training diverged at step {step}: the {what} is {loss:.4g}{grew}, from "
                f"{start if start is not None else float('nan'):.4g} at the start, with learning rate "
                f"lr = {self.lr:g}; try a smaller lr"
            )

    def arrays(self) -> dict[str, np.ndarray]:
        out = {k: np.asarray(v) for k, v in self.columns.items()}
        out["step"] = out["step"].astype(np.int64)
        return out


def train(
    objective: Objective,
    params0,
    optimizer: str = "gd",
    lr: float = 0.1,
    steps: int = 1000,
    batch_size: int | None = None,
    shuffle: bool = True,
    grad_tol: float | None = None,
    snapshot_steps: Iterable[int] = (),
    record_every: int | None = None,
    seed: int | np.random.Generator | None = 0,
    progress: bool = True,
    weight_decay: float = 0.0,
) -> TrainResult:
    r"""Train ``objective`` from ``params0`` by GD or SGD.

    Parameters
    ----------
    optimizer : ``"gd"`` (full batch) or ``"sgd"`` (minibatches of ``batch_size``).
    lr : constant learning rate η.
    steps : maximal number of updates (the step cap).
    batch_size : SGD batch size (required for ``"sgd"``; not allowed with ``"gd"``).
    shuffle : SGD batch order (:func:`minibatches`).
    grad_tol : stop once the full-batch gradient norm is ≤ ``grad_tol`` (checked at record points;
        the authors' code stops at 1e-4). With weight decay it is the norm of
        :math:`\nabla L(w) + \lambda w`, the gradient of the objective being minimized.
    snapshot_steps : steps at which to keep a copy of the parameters (0 = the start).
    record_every : record full-batch loss, accuracy and gradient norm every so many steps
        (default: about 200 records per run).
    seed : randomness of the SGD batch order.
    progress : show a progress bar.
    weight_decay : λ ≥ 0 of the L2 penalty :math:`\frac\lambda2\lVert w\rVert^2` added to the loss
        in the update (module docstring; default 0, no penalty). ``history["loss"]`` stays the data
        loss :math:`L`; ``history["grad_norm"]`` is the norm of :math:`\nabla L + \lambda w`.

    Raises
    ------
    TrainingDivergedError
        When the loss becomes non-finite or exceeds :data:`DIVERGENCE_FACTOR` times its start; the
        message names the learning rate (or, at the initial point, the data).
    """
    check_choice("optimizer", optimizer, OPTIMIZERS)
    lr = check_positive_float("lr", lr)
    steps = check_positive_int("steps", steps, minimum=0)
    weight_decay = check_positive_float("weight_decay", weight_decay, allow_zero=True)
    params = objective.check_params(params0).copy()
    if optimizer == "sgd":
        if batch_size is None:
            raise ValueError("batch_size is required with optimizer='sgd'")
        batches = minibatches(objective.n_samples, batch_size, shuffle, seed)
    elif batch_size is not None:
        raise ValueError(f"batch_size is only used with optimizer='sgd' (full-batch GD); got {batch_size!r}")
    record_every = (
        max(1, steps // 200) if record_every is None else check_positive_int("record_every", record_every)
    )
    if grad_tol is not None:
        grad_tol = check_positive_float("grad_tol", grad_tol)
    snapshot_steps = {int(s) for s in snapshot_steps}

    full_value_and_grad = value_and_grad(objective.loss_value)
    batch_value_and_grad = value_and_grad(objective.batch_loss)
    history = _History(objective, lr)
    snapshots: dict[int, np.ndarray] = {}
    converged = False
    step = 0
    with tqdm(total=steps, desc=f"train {optimizer}", disable=not progress, leave=False) as bar:
        for step in range(steps + 1):
            if step in snapshot_steps:
                snapshots[step] = params.copy()
            at_record = step % record_every == 0 or step == steps
            if optimizer == "gd" or at_record:
                loss, full_gradient = full_value_and_grad(params)
            if at_record:
                grad_norm = history.record(step, params, loss, full_gradient + weight_decay * params)
                bar.set_postfix(loss=f"{loss:.4g}", grad=f"{grad_norm:.2e}", refresh=False)
                if grad_tol is not None and grad_norm <= grad_tol:
                    converged = True
                    break
            if step == steps:
                break
            if optimizer == "gd":
                history.check_loss(step, loss)
                update = full_gradient
            else:
                idx = next(batches)
                batch_loss, update = batch_value_and_grad(params, objective.X[idx], objective.y[idx])
                history.check_loss(step, batch_loss, what="minibatch loss")
            params = params - lr * (update + weight_decay * params)
            bar.update(1)
    if step in snapshot_steps and step not in snapshots:
        snapshots[step] = params.copy()
    return TrainResult(params, history.arrays(), snapshots, steps_run=step, converged=converged)


# --------------------------------------------------------------------------------------------
# Many networks at once
# --------------------------------------------------------------------------------------------


def stacked_value_and_gradient(stack, objective: Objective, with_loss: bool = True):
    r"""Losses :math:`L(w_b)` and gradients :math:`\nabla L(w_b)` of every row ``w_b`` of ``stack`` (B × P).

    Returns ``(losses, gradients)`` of shapes (B,) and (B, P); ``losses`` is ``None`` with
    ``with_loss=False``. One forward pass and one backpropagation of the whole stack
    (:func:`hessian_spectra.mlp.forward_pass` with a leading network axis): with the logit
    gradients :math:`r_i = \nabla_f \ell(f_i, y_i)` of the objective's loss,
    :math:`\nabla L = \frac1N \sum_i J_i^\top r_i` is the parameter gradient of :math:`u^\top f`
    for the cotangent :math:`u = r/N`.
    """
    fp = mlp.forward_pass(stack, objective.X, objective.layer_sizes, objective.activation)
    loss = objective.loss_function
    r = loss.gradient(fp.logits, objective.y)
    grad = fp.parameter_gradient(fp.backward(r / objective.n_samples))
    return (loss.mean(fp.logits, objective.y) if with_loss else None), grad


@dataclass
class StackResult:
    """What :func:`train_many` produced: the final stack (B × P), each network's number of updates
    and whether it met the gradient-norm tolerance (else it stopped at the step cap)."""

    params: np.ndarray
    steps_run: np.ndarray
    converged: np.ndarray


def train_many(
    objective: Objective,
    stack0,
    lr: float = 0.1,
    steps: int = 1000,
    grad_tol: float | None = None,
    progress: bool = False,
) -> StackResult:
    r"""Full-batch GD, :math:`w_b \leftarrow w_b - \eta \nabla L(w_b)`, on every row of ``stack0`` at once.

    Each network follows the trajectory :func:`train` (``optimizer="gd"``, ``record_every=1``) gives
    it: with ``grad_tol`` a network stops, before its next update, at the first step where
    :math:`\lVert\nabla L(w_b)\rVert \le` ``grad_tol``, and the others go on; ``steps`` caps every
    network. The gradients come from :func:`stacked_value_and_gradient` (one batched backpropagation
    for the networks still running), which for thousands of tiny networks is far faster than one
    autograd call per network and step.
    """
    lr = check_positive_float("lr", lr)
    steps = check_positive_int("steps", steps, minimum=0)
    if grad_tol is not None:
        grad_tol = check_positive_float("grad_tol", grad_tol)
    stack = np.array(stack0, dtype=np.float64)
    if stack.ndim != 2 or stack.shape[1] != objective.n_params:
        raise ValueError(f"stack0 must have shape (B, {objective.n_params}); got {stack.shape}")
    B = stack.shape[0]
    steps_run = np.full(B, steps, dtype=np.int64)
    converged = np.zeros(B, dtype=bool)
    active = np.arange(B)
    with tqdm(total=steps, desc="train many", disable=not progress, leave=False) as bar:
        for step in range(steps + 1):
            if active.size == 0:
                break
            _, g = stacked_value_and_gradient(stack[active], objective, with_loss=False)
            if grad_tol is not None:
                done = np.linalg.norm(g, axis=1) <= grad_tol
                if np.any(done):
                    steps_run[active[done]] = step
                    converged[active[done]] = True
                    active, g = active[~done], g[~done]
            if step == steps:
                break
            stack[active] -= lr * g
            bar.update(1)
    return StackResult(stack, steps_run, converged)
