r"""The loss along the straight line between two parameter vectors (Sagun et al. 2018, Sec. 3.3, 4).

:math:`\theta(\alpha) = (1-\alpha)\,\theta_0 + \alpha\,\theta_1`: S18 evaluate the training and test
loss on :math:`\alpha \in [-1, 2]` between a small-batch and a large-batch solution (Fig. 6) and
between the two phases of a run (Fig. 8), and find no barrier between the endpoints.

Short names used here:

- S18: Sagun, Evci, Güney, Dauphin & Bottou (2018),
  *Empirical Analysis of the Hessian of Over-Parametrized Neural Networks*.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

#: "No barrier" on a line between two trained points (S18 Sec. 3.3 and 4): the training loss on
#: :math:`\alpha \in [0, 1]` may exceed the larger endpoint loss by at most
#: ``NO_BARRIER_REL * max(L(0), L(1)) + NO_BARRIER_ABS`` (our choice, fixed before any run: 10 % of
#: the endpoint loss, plus 1e-3 nats so that losses at round-off level do not count as barriers).
NO_BARRIER_REL = 0.10
NO_BARRIER_ABS = 1e-3


def line_points(theta0, theta1, alphas) -> Iterable[tuple[float, np.ndarray]]:
    r"""Points :math:`\theta(\alpha) = (1-\alpha)\,\theta_0 + \alpha\,\theta_1` (S18 Sec. 3.3, Fig. 6)."""
    theta0, theta1 = np.asarray(theta0, dtype=float), np.asarray(theta1, dtype=float)
    for a in alphas:
        yield float(a), (1.0 - a) * theta0 + a * theta1


def loss_on_line(objective, theta0, theta1, alphas, test_objective=None) -> dict:
    """Training (and test) loss and accuracy at each :math:`\\theta(\\alpha)` of :func:`line_points`."""
    out = {"alpha": [], "train_loss": [], "train_accuracy": [], "test_loss": [], "test_accuracy": []}
    for a, theta in line_points(theta0, theta1, alphas):
        out["alpha"].append(a)
        out["train_loss"].append(float(objective.loss_value(theta)))
        out["train_accuracy"].append(float(objective.accuracy(theta)))
        if test_objective is not None:
            out["test_loss"].append(float(test_objective.loss_value(theta)))
            out["test_accuracy"].append(float(test_objective.accuracy(theta)))
    return out


def barrier(alphas, losses) -> dict:
    r"""Height of the loss barrier between :math:`\alpha = 0` and :math:`\alpha = 1`.

    ``height`` :math:`= \max_{\alpha\in[0,1]} L(\alpha) - \max(L(0), L(1))` (≤ 0 when the loss never
    rises above the worse endpoint); ``none`` is true when ``height`` is at most
    ``NO_BARRIER_REL * max(L(0), L(1)) + NO_BARRIER_ABS`` (:data:`NO_BARRIER_REL`).
    """
    a = np.asarray(alphas, dtype=float)
    L = np.asarray(losses, dtype=float)
    i0, i1 = int(np.argmin(np.abs(a))), int(np.argmin(np.abs(a - 1.0)))
    if abs(a[i0]) > 1e-12 or abs(a[i1] - 1.0) > 1e-12:
        raise ValueError("alphas must contain 0 and 1 (the two endpoints)")
    inside = (a >= 0.0) & (a <= 1.0)
    worse = max(L[i0], L[i1])
    height = float(L[inside].max() - worse)
    margin = NO_BARRIER_REL * worse + NO_BARRIER_ABS
    return {"height": height, "endpoint_max": float(worse), "margin": float(margin), "none": height <= margin}
