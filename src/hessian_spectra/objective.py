r"""The training objective :math:`L(w) = \frac1N \sum_i \ell(f(w, x_i), y_i)` as one object.

An :class:`Objective` bundles what defines the loss surface: the data ``(X, y)``, the network
(``layer_sizes``, ``activation``) and the loss. Every curvature routine takes one, so the data,
the model and the loss are validated once, here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from autograd import grad, value_and_grad

from . import losses as _losses
from . import mlp
from ._checks import as_float_array, check_labels, check_layer_sizes


@dataclass(frozen=True, eq=False)
class Objective:
    """Mean loss of an MLP on a fixed data set, as a function of the flat parameter vector.

    Parameters
    ----------
    X : array, shape (N, n_0)
        Inputs (float64, finite).
    y : array of int, shape (N,)
        Class labels in ``[0, C)`` where ``C = layer_sizes[-1]``.
    layer_sizes : sequence of int
        Widths ``(n_0, ..., n_L)``.
    activation : str
        Hidden nonlinearity (see :data:`hessian_spectra.mlp.ACTIVATIONS`).
    loss : str
        ``"cross_entropy"`` or ``"mse"``.
    """

    X: np.ndarray
    y: np.ndarray
    layer_sizes: tuple
    activation: str = "relu"
    loss: str = "cross_entropy"
    _grad: object = field(init=False, repr=False)

    def __post_init__(self):
        sizes = check_layer_sizes(self.layer_sizes)
        X = mlp.check_inputs(self.X, sizes)
        y = check_labels("y", self.y, X.shape[0], sizes[-1])
        if X.shape[0] == 0:
            raise ValueError("X must hold at least one sample; got N = 0")
        mlp.get_activation(self.activation)
        _losses.get_loss(self.loss)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "layer_sizes", sizes)
        object.__setattr__(self, "_grad", grad(self.loss_value))

    @property
    def loss_function(self) -> _losses.Loss:
        """The :class:`~hessian_spectra.losses.Loss` named by ``loss`` (its value, r, A, A·u, S)."""
        return _losses.get_loss(self.loss)

    # ---- sizes -------------------------------------------------------------------------------
    @property
    def n_samples(self) -> int:
        """N, the number of samples."""
        return self.X.shape[0]

    @property
    def n_classes(self) -> int:
        """C, the number of outputs (logits)."""
        return self.layer_sizes[-1]

    @property
    def n_params(self) -> int:
        """P, the length of the flat parameter vector."""
        return mlp.n_params(self.layer_sizes)

    # ---- evaluation ----------------------------------------------------------------------------
    def check_params(self, params) -> np.ndarray:
        """Validate a flat parameter vector of length P (float64, finite)."""
        p = as_float_array("params", params, ndim=1)
        if p.shape[0] != self.n_params:
            raise ValueError(
                f"params must have length P = {self.n_params} for layer sizes "
                f"{self.layer_sizes}; got {p.shape[0]}"
            )
        return p

    def logits(self, params, X=None):
        """Network outputs :math:`f(w, x_i)`, shape ``(N, C)``."""
        return mlp.forward(params, self.X if X is None else X, self.layer_sizes, self.activation)

    def batch_loss(self, params, X, y):
        """Mean loss on a batch ``(X, y)``; differentiable by autograd in ``params``."""
        return self.loss_function.mean(mlp.forward(params, X, self.layer_sizes, self.activation), y)

    def loss_value(self, params):
        """:math:`L(w) = \\frac1N\\sum_i \\ell(f(w,x_i), y_i)`; differentiable by autograd."""
        return self.batch_loss(params, self.X, self.y)

    def gradient(self, params) -> np.ndarray:
        """:math:`\\nabla L(w)`, by autograd's reverse mode."""
        return self._grad(params)

    def value_and_gradient(self, params):
        """``(L(w), ∇L(w))`` in one pass."""
        return value_and_grad(self.loss_value)(params)

    def accuracy(self, params, X=None, y=None) -> float:
        """Fraction of correctly classified samples (on the training set by default)."""
        X = self.X if X is None else X
        y = self.y if y is None else y
        return _losses.accuracy(self.logits(params, X), y)

    def with_data(self, X, y) -> Objective:
        """The same model and loss on other data (e.g. a test set or a minibatch)."""
        return Objective(X, y, self.layer_sizes, self.activation, self.loss)


def check_objective(objective) -> Objective:
    """Return ``objective`` if it is an :class:`Objective`; otherwise a ``ValueError`` saying what is expected."""
    if not isinstance(objective, Objective):
        raise ValueError(
            "objective must be a hessian_spectra.Objective (data, network and loss); "
            f"got {type(objective).__name__}"
        )
    return objective
