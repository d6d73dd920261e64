r"""Losses over the logits, with their logit-space gradient ``r`` and Hessian ``A``.

For a sample with logits :math:`f \in \mathbb R^C` and label :math:`y`:

- cross-entropy: :math:`\ell(f, y) = \operatorname{logsumexp}(f) - f_y`, with
  :math:`r = \nabla_f \ell = p - e_y` and :math:`A = \nabla_f^2 \ell = \operatorname{diag}(p) - p p^\top`
  where :math:`p = \operatorname{softmax}(f)`;
- mean squared error: :math:`\ell(f, y) = \tfrac12 \lVert f - e_y \rVert^2`, with
  :math:`r = f - e_y` and :math:`A = I_C`.

The training loss is the mean over samples, :math:`L = \frac1N \sum_i \ell(f_i, y_i)`.
``r`` and ``A`` here are per sample (no :math:`1/N`); the decomposition
:math:`H = \frac1N\sum_i J_i^\top A_i J_i + \frac1N \sum_{i,c} r_{ic}\nabla^2 f_{ic}` carries the
:math:`1/N` itself (Sagun et al., 2018, Sec. 2).
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd.scipy.special import logsumexp

from ._checks import check_choice

LOSSES = ("cross_entropy", "mse")


def one_hot(y, n_classes: int) -> np.ndarray:
    """Rows :math:`e_{y_i}` of the identity: shape ``(N, n_classes)``."""
    y = np.asarray(y, dtype=np.int64)
    out = np.zeros((y.shape[0], n_classes))
    out[np.arange(y.shape[0]), y] = 1.0
    return out


def softmax(logits) -> np.ndarray:
    """Row-wise :math:`p = e^{f} / \\sum_c e^{f_c}`, shifted by the row maximum for stability."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def cross_entropy(logits, y):
    """Mean softmax cross-entropy :math:`\\frac1N\\sum_i [\\operatorname{logsumexp}(f_i) - f_{i,y_i}]`.

    Differentiable by autograd; stable for large logits (logsumexp shifts by the maximum).
    """
    n = logits.shape[0]
    return anp.mean(logsumexp(logits, axis=1) - logits[np.arange(n), y])


def mse(logits, y):
    """Mean squared error :math:`\\frac1N \\sum_i \\tfrac12 \\lVert f_i - e_{y_i}\\rVert^2`."""
    target = one_hot(y, logits.shape[1])
    return 0.5 * anp.mean(anp.sum((logits - target) ** 2, axis=1))


def loss_function(name: str):
    """The mean loss ``loss(logits, y)`` named ``name`` (``cross_entropy`` or ``mse``)."""
    check_choice("loss", name, LOSSES)
    return cross_entropy if name == "cross_entropy" else mse


def per_sample_loss(logits, y, loss: str) -> np.ndarray:
    """Per-sample losses :math:`\\ell(f_i, y_i)` as a length-N array."""
    check_choice("loss", loss, LOSSES)
    z = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if loss == "cross_entropy":
        m = z.max(axis=1)
        lse = m + np.log(np.exp(z - m[:, None]).sum(axis=1))
        return lse - z[np.arange(z.shape[0]), y]
    return 0.5 * ((z - one_hot(y, z.shape[1])) ** 2).sum(axis=1)


def logit_gradient(logits, y, loss: str) -> np.ndarray:
    """Per-sample :math:`r_i = \\nabla_f \\ell(f_i, y_i)`, shape ``(N, C)``.

    Cross-entropy: :math:`r_i = p_i - e_{y_i}`; MSE: :math:`r_i = f_i - e_{y_i}`.
    """
    check_choice("loss", loss, LOSSES)
    z = np.asarray(logits, dtype=np.float64)
    target = one_hot(y, z.shape[1])
    return (softmax(z) if loss == "cross_entropy" else z) - target


def logit_hessian(logits, y, loss: str) -> np.ndarray:
    """Per-sample :math:`A_i = \\nabla_f^2 \\ell(f_i, y_i)`, shape ``(N, C, C)``.

    Cross-entropy: :math:`A_i = \\operatorname{diag}(p_i) - p_i p_i^\\top` (independent of
    :math:`y_i`); MSE: :math:`A_i = I_C`.
    """
    check_choice("loss", loss, LOSSES)
    z = np.asarray(logits, dtype=np.float64)
    n, c = z.shape
    if loss == "mse":
        return np.broadcast_to(np.eye(c), (n, c, c)).copy()
    p = softmax(z)
    A = -p[:, :, None] * p[:, None, :]
    A[:, np.arange(c), np.arange(c)] += p
    return A


def accuracy(logits, y) -> float:
    """Fraction of samples whose largest logit is the label."""
    z = np.asarray(logits)
    if z.shape[0] == 0:
        return float("nan")
    return float(np.mean(np.argmax(z, axis=1) == np.asarray(y)))
