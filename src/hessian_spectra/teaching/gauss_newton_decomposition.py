r"""Exercises of notebook 2, *the Gauss-Newton decomposition*: the chain rule twice, H = G + R.

For a loss :math:`\ell(f(w, x_i), y_i)` of the logits :math:`f_i`, the Hessian of the training loss is
:math:`H = G + R` (Sagun et al. 2018, Sec. 2) with the Gauss-Newton term
:math:`G = \frac1N \sum_i J_i^\top A_i J_i`, :math:`J_i = \partial f_i / \partial w`, and
:math:`A_i = \nabla_f^2 \ell` (for softmax cross-entropy :math:`A_i = \mathrm{diag}(p_i) - p_i p_i^\top`,
:math:`p_i = \mathrm{softmax}(f_i)`). The student writes:

- ex02_1: :math:`A_i` for every sample; ex02_2: the logit gradient :math:`r_i = p_i - e_{y_i}`;
- ex02_3: :math:`G` from the per-sample Jacobians; ex02_4: the empirical Fisher
  :math:`\frac1N\sum_i g_i g_i^\top` of the per-sample loss gradients, which is not :math:`G`.

The test problems (:func:`random_objective`) are tiny: N ≤ 9 samples, d ≤ 4 inputs, C ≤ 4
classes, with no hidden layer or one of 2 to 5 units.
"""

from __future__ import annotations

import numpy as np

from .. import Objective, init_params, losses
from ..curvature import decomposition
from .checking import Case, Close, Exercise


def softmax_logit_hessian(logits):
    r"""Reference for ex02_1: :math:`A_i = \operatorname{diag}(p_i) - p_ip_i^\top`, shape (N, C, C).

    :func:`hessian_spectra.losses.logit_hessian` with ``loss="cross_entropy"`` (it does not use the labels).
    """
    logits = np.asarray(logits, dtype=np.float64)
    return losses.logit_hessian(logits, np.zeros(logits.shape[0], dtype=np.int64), "cross_entropy")


def softmax_logit_gradient(logits, y):
    r"""Reference for ex02_2: :math:`r_i = p_i - e_{y_i}`, shape (N, C).

    :func:`hessian_spectra.losses.logit_gradient` with ``loss="cross_entropy"``.
    """
    return losses.logit_gradient(logits, y, "cross_entropy")


def random_objective(rng, loss: str = "cross_entropy", hidden: bool = True) -> tuple[Objective, np.ndarray]:
    """A tiny random problem and a parameter vector: N ≤ 9 samples of d ≤ 4 inputs, C ≤ 4 classes
    (all present), one hidden layer of 2 to 5 units with a random activation, or none."""
    d = int(rng.integers(2, 5))
    C = int(rng.integers(2, 5))
    N = int(rng.integers(C + 1, 10))
    act = str(rng.choice(["tanh", "sigmoid", "relu", "softplus"]))
    sizes = (d, int(rng.integers(2, 6)), C) if hidden else (d, C)
    X = rng.standard_normal((N, d))
    y = np.concatenate([np.arange(C), rng.integers(0, C, size=N - C)])  # every class present
    obj = Objective(X, rng.permutation(y), sizes, act if hidden else "linear", loss)
    params = init_params(sizes, "normal", seed=rng, scale=0.7)
    return obj, params


def describe(objective: Objective) -> str:
    """How a message names a test problem: N, layer sizes, activation, loss."""
    return (
        f"N = {objective.n_samples}, layer sizes {objective.layer_sizes}, {objective.activation}, "
        f"{objective.loss}"
    )


def objective_cases(rng, loss_names=("cross_entropy", "mse"), n: int = 4) -> list[Case]:
    """``n`` random problems ``(objective, params)``, the first without a hidden layer, the losses
    taken in turn from ``loss_names``."""
    cases = []
    for k in range(n):
        obj, w = random_objective(rng, loss=loss_names[k % len(loss_names)], hidden=k != 0)
        cases.append(Case((obj, w), describe(obj)))
    return cases


def _logit_cases(rng, with_labels: bool) -> list[Case]:
    cases = []
    for N, C, scale in [(1, 2, 1.0), (5, 3, 1.0), (7, 4, 3.0), (4, 6, 10.0), (3, 5, 800.0)]:
        logits = rng.normal(0.0, scale, size=(N, C))
        desc = f"logits of shape {(N, C)}, entries of size ~{scale:g}"
        if scale > 100:
            desc += " (exp() overflows unless you shift the logits)"
        args = (logits, rng.integers(0, C, size=N)) if with_labels else (logits,)
        cases.append(Case(args, desc))
    return cases


def _logits(rng) -> list[Case]:
    return _logit_cases(rng, with_labels=False)


def _logits_and_labels(rng) -> list[Case]:
    return _logit_cases(rng, with_labels=True)


EXERCISES = (
    Exercise(
        id="ex02_1",
        title="the softmax logit Hessian A_i = diag(p_i) − p_i p_iᵀ for every sample",
        solution=softmax_logit_hessian,
        cases=_logits,
        # A is a few flops away from p, which any stable softmax gets to ~1e-16 relative: rtol = 1e-10
        # leaves six orders of headroom and is still far below a wrong sign or factor (O(1)). With
        # logits of size 800 some products p_c p_c' underflow to 0 by one route and to ~1e-300 by
        # another: atol = 1e-13 of the largest entry absorbs that.
        compare=Close(rtol=1e-10, atol=1e-13),
        hint="p = softmax(f) row by row (subtract the row maximum before exp); "
        "A[i] = diag(p[i]) − outer(p[i], p[i]); return an array of shape (N, C, C).",
    ),
    Exercise(
        id="ex02_2",
        title="the cross-entropy gradient in logit space r_i = p_i − e_{y_i}",
        solution=softmax_logit_gradient,
        cases=_logits_and_labels,
        # r = p − e_y is one subtraction away from p: the tolerances of ex02_1 for the same reasons.
        compare=Close(rtol=1e-10, atol=1e-13),
        hint="r = softmax(f) − onehot(y): ∂/∂f_c [logsumexp(f) − f_y] = p_c − [c = y].",
    ),
    Exercise(
        id="ex02_3",
        title="the Gauss-Newton term G = (1/N) Σ_i J_iᵀ A_i J_i of an objective",
        solution=decomposition.gauss_newton,
        cases=objective_cases,
        # G sums N products of Jacobians that a student gets by another route (forward instead of
        # reverse mode, einsum instead of loops): entries agree to ~1e-14 relative, entries that cancel
        # to near zero to ~1e-15 of the largest. rtol = 1e-9 and atol = 1e-12 of the largest entry hold
        # for any float64 route; a missing 1/N or A_i is an O(1) difference.
        compare=Close(rtol=1e-9, atol=1e-12),
        hint="J = per_sample_jacobians(objective, params) has shape (N, C, P); "
        "A = losses.logit_hessian(objective.logits(params), objective.y, objective.loss) has shape (N, C, C); "
        "G = Σ_i J_iᵀ A_i J_i / N (np.einsum('icp,icd,idq->pq', J, A, J) / N).",
    ),
    Exercise(
        id="ex02_4",
        title="the empirical Fisher (1/N) Σ_i g_i g_iᵀ of the per-sample loss gradients",
        solution=decomposition.empirical_fisher,
        cases=objective_cases,
        # sums of N outer products of per-sample gradients: the tolerances of ex02_3 for the same
        # reasons; centring the gradients (the covariance, not the Fisher) is an O(1) difference.
        compare=Close(rtol=1e-9, atol=1e-12),
        hint="g = per_sample_loss_gradients(objective, params) has shape (N, P); the empirical Fisher is "
        "gᵀ g / N — uncentred (do not subtract the mean gradient).",
    ),
)

__all__ = ["EXERCISES", "softmax_logit_gradient", "softmax_logit_hessian"]
