r"""Losses over the logits: one :class:`Loss` object per loss, with its logit-space derivatives.

For a sample with logits :math:`f \in \mathbb R^C` and label :math:`y`, a loss gives

- its value :math:`\ell(f, y)`, written with ``autograd.numpy`` so that autograd differentiates it;
- the logit gradient :math:`r = \nabla_f \ell` and the logit Hessian :math:`A = \nabla_f^2 \ell`;
- the product :math:`A u` without forming :math:`A`, for the matrix-free Gauss-Newton product;
- a factor :math:`S` with :math:`S S^\top = A`, from which the Gauss-Newton term is assembled as a
  sum of outer products (and, for softmax cross-entropy, Papyan's per-class vectors).

The registry :data:`LOSSES` maps a name to its object:

- ``"cross_entropy"``: :math:`\ell(f, y) = \operatorname{logsumexp}(f) - f_y`, with
  :math:`r = p - e_y` and :math:`A = \operatorname{diag}(p) - p p^\top`, :math:`p = \operatorname{softmax}(f)`;
- ``"mse"``: :math:`\ell(f, y) = \tfrac12 \lVert f - e_y \rVert^2`, with :math:`r = f - e_y` and
  :math:`A = I_C`.

The training loss is the mean over samples, :math:`L = \frac1N \sum_i \ell(f_i, y_i)`. ``r`` and ``A``
here are per sample (no :math:`1/N`); the decomposition
:math:`H = \frac1N\sum_i J_i^\top A_i J_i + \frac1N \sum_{i,c} r_{ic}\nabla^2 f_{ic}` carries the
:math:`1/N` itself (Sagun et al., 2018, Sec. 2). Every method accepts logits with leading axes
``(..., N, C)`` (e.g. a stack of networks), labels of shape ``(N,)``.

Adding a loss means adding one subclass of :class:`Loss` and one entry in :data:`LOSSES`; the
curvature engines, the matrix-free operators and the command line read everything from here.
"""

from __future__ import annotations

import autograd.numpy as anp
import numpy as np
from autograd.scipy.special import logsumexp

from ._checks import check_choice


def one_hot(y, n_classes: int) -> np.ndarray:
    """Rows :math:`e_{y_i}` of the identity: shape ``(N, n_classes)``."""
    y = np.asarray(y, dtype=np.int64)
    out = np.zeros((y.shape[0], n_classes))
    out[np.arange(y.shape[0]), y] = 1.0
    return out


def softmax(logits) -> np.ndarray:
    """:math:`p = e^{f} / \\sum_c e^{f_c}` along the last axis, shifted by the maximum for stability."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class Loss:
    """A per-sample loss :math:`\\ell(f, y)` of the logits and its logit-space derivatives.

    Subclasses implement :meth:`per_sample`, :meth:`gradient`, :meth:`hessian_vector_product` and
    :meth:`hessian_factor`; :meth:`hessian` and :meth:`mean` follow from them.
    """

    #: Registry name.
    name: str = ""
    #: Whether the columns of :meth:`hessian_factor` are indexed by the classes, as Papyan's
    #: class/cross-class split of the Gauss-Newton term needs (softmax cross-entropy only).
    class_indexed_factor: bool = False

    def per_sample(self, logits, y):
        """:math:`\\ell(f_i, y_i)` for every sample, shape ``(..., N)``; differentiable by autograd."""
        raise NotImplementedError

    def mean(self, logits, y):
        """The training loss :math:`\\frac1N \\sum_i \\ell(f_i, y_i)` (mean over the last sample axis)."""
        return anp.mean(self.per_sample(logits, y), axis=-1)

    def gradient(self, logits, y) -> np.ndarray:
        """:math:`r_i = \\nabla_f \\ell(f_i, y_i)`, shape ``(..., N, C)``."""
        raise NotImplementedError

    def hessian_vector_product(self, logits, u) -> np.ndarray:
        """:math:`A_i u_i` for vectors ``u`` of the shape of the logits, without forming :math:`A_i`."""
        raise NotImplementedError

    def hessian_factor(self, logits) -> np.ndarray:
        """Factors :math:`S_i` of shape ``(..., N, C, C)`` with :math:`S_i S_i^\\top = A_i`."""
        raise NotImplementedError

    def hessian(self, logits, y) -> np.ndarray:
        """:math:`A_i = \\nabla_f^2 \\ell(f_i, y_i)`, shape ``(..., N, C, C)``, as :math:`S_i S_i^\\top`."""
        S = self.hessian_factor(logits)
        return S @ np.swapaxes(S, -1, -2)

    def __repr__(self) -> str:
        return f"<loss {self.name!r}>"


class CrossEntropy(Loss):
    r"""Softmax cross-entropy :math:`\ell(f, y) = \operatorname{logsumexp}(f) - f_y = -\log p_y`.

    :math:`r = p - e_y`; :math:`A = \operatorname{diag}(p) - pp^\top` (independent of y), with the
    factor :math:`S = (I - p\mathbf 1^\top)\operatorname{diag}\sqrt p`, whose column c is
    :math:`\sqrt{p_c}\,(e_c - p)`, since
    :math:`\operatorname{diag}p - pp^\top = \sum_c p_c (e_c - p)(e_c - p)^\top` (docs/theory.md, Eq. T6).
    These columns are Papyan's per-class directions: :math:`\delta_{i,c} = J_i^\top S_i e_c`.
    """

    name = "cross_entropy"
    class_indexed_factor = True

    def per_sample(self, logits, y):
        n = logits.shape[-2]
        # logsumexp shifts by the maximum: stable for large logits
        return logsumexp(logits, axis=-1) - logits[..., np.arange(n), y]

    def gradient(self, logits, y) -> np.ndarray:
        z = np.asarray(logits, dtype=np.float64)
        return softmax(z) - one_hot(y, z.shape[-1])

    def hessian_vector_product(self, logits, u) -> np.ndarray:
        p = softmax(logits)
        return p * u - p * np.sum(p * u, axis=-1, keepdims=True)  # (diag p − p pᵀ) u

    def hessian_factor(self, logits) -> np.ndarray:
        p = softmax(logits)
        c = p.shape[-1]
        return (np.eye(c) - p[..., :, None]) * np.sqrt(p)[..., None, :]

    def hessian(self, logits, y) -> np.ndarray:
        # Written out (not S Sᵀ): diag p − p pᵀ exactly, symmetric to the last bit.
        p = softmax(logits)
        c = p.shape[-1]
        A = -p[..., :, None] * p[..., None, :]
        A[..., np.arange(c), np.arange(c)] += p
        return A


class MeanSquaredError(Loss):
    r"""Squared error to the one-hot target, :math:`\ell(f, y) = \tfrac12\lVert f - e_y\rVert^2`.

    :math:`r = f - e_y`; :math:`A = I_C` (so :math:`S = I_C`): the Gauss-Newton term is the uncentred
    second moment of the output gradients (Sagun et al., 2018, Sec. 2).
    """

    name = "mse"

    def per_sample(self, logits, y):
        target = one_hot(y, logits.shape[-1])
        return 0.5 * anp.sum((logits - target) ** 2, axis=-1)

    def gradient(self, logits, y) -> np.ndarray:
        z = np.asarray(logits, dtype=np.float64)
        return z - one_hot(y, z.shape[-1])

    def hessian_vector_product(self, logits, u) -> np.ndarray:
        return np.array(u, dtype=np.float64)

    def hessian_factor(self, logits) -> np.ndarray:
        shape = np.shape(logits)
        return np.broadcast_to(np.eye(shape[-1]), (*shape, shape[-1]))

    def hessian(self, logits, y) -> np.ndarray:
        return np.array(self.hessian_factor(logits))


#: name -> :class:`Loss`, the losses every part of the package knows.
LOSSES: dict[str, Loss] = {loss.name: loss for loss in (CrossEntropy(), MeanSquaredError())}


def get_loss(name: str) -> Loss:
    """The :class:`Loss` called ``name`` (one of :data:`LOSSES`)."""
    return LOSSES[check_choice("loss", name, LOSSES)]


# --------------------------------------------------------------------------------------------
# Functional access by name (the registry's methods)
# --------------------------------------------------------------------------------------------


def cross_entropy(logits, y):
    """Mean softmax cross-entropy :math:`\\frac1N\\sum_i [\\operatorname{logsumexp}(f_i) - f_{i,y_i}]`."""
    return LOSSES["cross_entropy"].mean(logits, y)


def mse(logits, y):
    """Mean squared error :math:`\\frac1N \\sum_i \\tfrac12 \\lVert f_i - e_{y_i}\\rVert^2`."""
    return LOSSES["mse"].mean(logits, y)


def loss_function(name: str):
    """The mean loss ``loss(logits, y)`` named ``name``, differentiable by autograd."""
    return get_loss(name).mean


def per_sample_loss(logits, y, loss: str) -> np.ndarray:
    """Per-sample losses :math:`\\ell(f_i, y_i)` as an array of shape ``(..., N)``."""
    return np.asarray(get_loss(loss).per_sample(np.asarray(logits, dtype=np.float64), np.asarray(y)))


def logit_gradient(logits, y, loss: str) -> np.ndarray:
    """Per-sample :math:`r_i = \\nabla_f \\ell(f_i, y_i)`, shape ``(N, C)`` (:meth:`Loss.gradient`)."""
    return get_loss(loss).gradient(logits, y)


def logit_hessian(logits, y, loss: str) -> np.ndarray:
    """Per-sample :math:`A_i = \\nabla_f^2 \\ell(f_i, y_i)`, shape ``(N, C, C)`` (:meth:`Loss.hessian`)."""
    return get_loss(loss).hessian(logits, y)


def accuracy(logits, y) -> float:
    """Fraction of samples whose largest logit is the label."""
    z = np.asarray(logits)
    if z.shape[0] == 0:
        return float("nan")
    return float(np.mean(np.argmax(z, axis=1) == np.asarray(y)))
