r"""Full-batch gradient descent and minibatch SGD with a constant learning rate.

Update: :math:`w_{t+1} = w_t - \eta\, g_t` with :math:`g_t = \nabla L(w_t)` (GD) or the gradient of
the mean loss over a minibatch :math:`B_t` (SGD, gradients averaged over the batch as in S18).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from autograd import value_and_grad
from tqdm.auto import tqdm

from ._checks import check_choice, check_positive_float, check_positive_int
from .objective import Objective

OPTIMIZERS = ("gd", "sgd")


class TrainingDivergedError(ArithmeticError):
    """The loss became NaN or infinite during training."""


@dataclass
class TrainResult:
    """What a training run produced.

    ``history`` maps ``"step"``, ``"loss"``, ``"accuracy"`` and ``"grad_norm"`` (full-batch values,
    recorded every ``record_every`` steps and at the end) to arrays; ``snapshots`` maps step
    numbers to parameter vectors.
    """

    params: np.ndarray
    history: dict[str, np.ndarray]
    snapshots: dict[int, np.ndarray] = field(default_factory=dict)
    steps_run: int = 0
    converged: bool = False


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
) -> TrainResult:
    """Train ``objective`` from ``params0`` by GD or SGD.

    Parameters
    ----------
    optimizer : ``"gd"`` (full batch) or ``"sgd"`` (minibatches of ``batch_size``).
    lr : constant learning rate η.
    steps : maximal number of updates.
    batch_size : SGD batch size (required for ``"sgd"``).
    shuffle : SGD batches from a fresh permutation each epoch (``True``; the last ``N mod B``
        samples of a permutation are skipped) or consecutive slices of the data in their stored
        order, wrapping around the end (``False``, as in the authors' code).
    grad_tol : stop once the full-batch gradient norm is ≤ ``grad_tol`` (checked at record points;
        S18's code used 1e-4).
    snapshot_steps : steps at which to keep a copy of the parameters (0 = the start).
    record_every : record full-batch loss, accuracy and gradient norm every so many steps
        (default: about 200 records per run).
    seed : randomness of the SGD batch order.
    progress : show a progress bar.

    Raises
    ------
    TrainingDivergedError
        When the loss becomes non-finite; the message names the learning rate.
    """
    check_choice("optimizer", optimizer, OPTIMIZERS)
    lr = check_positive_float("lr", lr)
    steps = check_positive_int("steps", steps, minimum=0)
    params = objective.check_params(params0).copy()
    n = objective.n_samples
    if optimizer == "sgd":
        if batch_size is None:
            raise ValueError("batch_size is required with optimizer='sgd'")
        batch_size = check_positive_int("batch_size", batch_size)
        if batch_size > n:
            raise ValueError(f"batch_size ({batch_size}) exceeds the number of samples ({n})")
    record_every = (
        max(1, steps // 200) if record_every is None else check_positive_int("record_every", record_every)
    )
    if grad_tol is not None:
        grad_tol = check_positive_float("grad_tol", grad_tol)
    snapshot_steps = {int(s) for s in snapshot_steps}
    rng = np.random.default_rng(seed)

    full_vg = value_and_grad(objective.loss_value)
    batch_vg = value_and_grad(objective.batch_loss)
    hist = {"step": [], "loss": [], "accuracy": [], "grad_norm": []}
    snapshots: dict[int, np.ndarray] = {}
    order = np.arange(n)
    cursor = n if shuffle else 0  # shuffled: forces a new epoch on the first step
    converged = False

    def record(step, loss, grad):
        if not np.isfinite(loss):
            raise TrainingDivergedError(
                f"training diverged at step {step} (loss = {loss}) with learning rate lr = {lr}; "
                "try a smaller lr"
            )
        hist["step"].append(step)
        hist["loss"].append(float(loss))
        hist["accuracy"].append(objective.accuracy(params))
        hist["grad_norm"].append(float(np.linalg.norm(grad)))
        return hist["grad_norm"][-1]

    bar = tqdm(total=steps, desc=f"train {optimizer}", disable=not progress, leave=False)
    step = 0
    try:
        for step in range(steps + 1):
            if step in snapshot_steps:
                snapshots[step] = params.copy()
            at_record = step % record_every == 0 or step == steps
            if optimizer == "gd" or at_record:
                loss, g_full = full_vg(params)
            if at_record:
                gnorm = record(step, loss, g_full)
                bar.set_postfix(loss=f"{loss:.4g}", grad=f"{gnorm:.2e}", refresh=False)
                if grad_tol is not None and gnorm <= grad_tol:
                    converged = True
                    break
            if step == steps:
                break
            if optimizer == "gd":
                if not np.isfinite(loss):
                    record(step, loss, g_full)
                update = g_full
            else:
                if shuffle:
                    # a fresh permutation whenever fewer than batch_size samples remain in the epoch
                    if cursor + batch_size > n:
                        order, cursor = rng.permutation(n), 0
                    idx = order[cursor : cursor + batch_size]
                else:
                    # sequential batches walk through the data cyclically: [0:B], [B:2B], ... wrapping
                    # around the end, so every sample is visited even when B does not divide N
                    idx = (cursor + np.arange(batch_size)) % n
                cursor = cursor + batch_size if shuffle else (cursor + batch_size) % n
                bloss, update = batch_vg(params, objective.X[idx], objective.y[idx])
                if not np.isfinite(bloss):
                    record(step, bloss, update)
            params = params - lr * update
            bar.update(1)
    finally:
        bar.close()
    if step in snapshot_steps and step not in snapshots:
        snapshots[step] = params.copy()
    history = {k: np.asarray(v) for k, v in hist.items()}
    history["step"] = history["step"].astype(np.int64)
    return TrainResult(params, history, snapshots, steps_run=step, converged=converged)
