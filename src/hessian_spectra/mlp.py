r"""Multilayer perceptrons written from scratch, differentiable by autograd.

**Parameter layout.** A network with widths ``layer_sizes = (n_0, n_1, ..., n_L)`` has, for each
layer :math:`l = 1..L`, a weight matrix :math:`W_l` of shape ``(n_{l-1}, n_l)`` and a bias
:math:`b_l` of shape ``(n_l,)``. All parameters live in one flat float64 vector

.. code-block:: text

    w = [ vec(W_1), b_1, vec(W_2), b_2, ..., vec(W_L), b_L ]      (vec = C order, row-major)

so that ``W_l[a, p]`` sits at ``offset_l + a * n_l + p``. Every dense Hessian of this package is
indexed by this layout.

**Forward pass.**

.. math::

    h_0 = X,\qquad z_l = h_{l-1} W_l + b_l,\qquad h_l = \sigma(z_l)\ (l < L),\qquad f = z_L .

The logits :math:`f = z_L` are linear in the last layer (no activation on the output).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import autograd.numpy as anp
import numpy as np

from ._checks import as_float_array, check_choice, check_layer_sizes

# --------------------------------------------------------------------------------------------
# Activations: σ, σ′ and σ″ side by side (the fast engine needs all three in closed form).
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Activation:
    """An elementwise nonlinearity with its first two derivatives in closed form.

    ``fn`` is written with ``autograd.numpy`` so that autograd can differentiate it; ``d1`` and
    ``d2`` are :math:`\\sigma'` and :math:`\\sigma''` evaluated directly (used by the closed-form
    curvature engine and checked against autograd in the tests).
    """

    name: str
    fn: Callable
    d1: Callable
    d2: Callable


def _sigmoid(z):
    # 1 / (1 + e^{-z}) written through tanh: no overflow for large |z|.
    return 0.5 * (anp.tanh(0.5 * z) + 1.0)


def _relu(z):
    return anp.maximum(z, 0.0)


def _relu_d1(z):
    return (np.asarray(z) > 0).astype(np.float64)


def _zeros_like(z):
    return np.zeros(np.shape(z))


def _ones_like(z):
    return np.ones(np.shape(z))


def _tanh_d1(z):
    t = np.tanh(z)
    return 1.0 - t * t


def _tanh_d2(z):
    t = np.tanh(z)
    return -2.0 * t * (1.0 - t * t)


def _sigmoid_d1(z):
    s = _sigmoid(np.asarray(z))
    return s * (1.0 - s)


def _sigmoid_d2(z):
    s = _sigmoid(np.asarray(z))
    return s * (1.0 - s) * (1.0 - 2.0 * s)


def _softplus(z):
    # log(1 + e^z), stable for both signs.
    return anp.logaddexp(0.0, z)


ACTIVATIONS: dict[str, Activation] = {
    # σ(z) = max(z, 0);  σ′ = 1[z > 0];  σ″ = 0 (almost everywhere)
    "relu": Activation("relu", _relu, _relu_d1, _zeros_like),
    # σ = tanh z;  σ′ = 1 − tanh²z;  σ″ = −2 tanh z (1 − tanh²z)
    "tanh": Activation("tanh", anp.tanh, _tanh_d1, _tanh_d2),
    # σ = 1/(1+e^{−z});  σ′ = σ(1−σ);  σ″ = σ(1−σ)(1−2σ)
    "sigmoid": Activation("sigmoid", _sigmoid, _sigmoid_d1, _sigmoid_d2),
    # σ = log(1+e^z);  σ′ = sigmoid(z);  σ″ = sigmoid(z)(1 − sigmoid(z))
    "softplus": Activation("softplus", _softplus, _sigmoid, _sigmoid_d1),
    # σ = z;  σ′ = 1;  σ″ = 0
    "linear": Activation("linear", lambda z: z, _ones_like, _zeros_like),
}


def get_activation(name: str) -> Activation:
    """Look up an activation by name (``relu``, ``tanh``, ``sigmoid``, ``softplus``, ``linear``)."""
    return ACTIVATIONS[check_choice("activation", name, ACTIVATIONS)]


# --------------------------------------------------------------------------------------------
# The flat parameter layout
# --------------------------------------------------------------------------------------------


def layer_shapes(layer_sizes: Sequence[int]) -> list[tuple[tuple[int, int], tuple[int]]]:
    """Shapes ``[((n_0, n_1), (n_1,)), ((n_1, n_2), (n_2,)), ...]`` of each layer's ``(W, b)``."""
    sizes = check_layer_sizes(layer_sizes)
    return [((n_in, n_out), (n_out,)) for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True)]


def n_params(layer_sizes: Sequence[int]) -> int:
    """Number of parameters :math:`P = \\sum_l (n_{l-1} + 1)\\, n_l`."""
    return sum((w[0] + 1) * w[1] for w, _ in layer_shapes(layer_sizes))


def param_slices(layer_sizes: Sequence[int]) -> list[tuple[slice, slice]]:
    """For each layer, the slices of the flat vector holding ``vec(W_l)`` and ``b_l``."""
    out, offset = [], 0
    for (n_in, n_out), _ in layer_shapes(layer_sizes):
        w = slice(offset, offset + n_in * n_out)
        offset += n_in * n_out
        b = slice(offset, offset + n_out)
        offset += n_out
        out.append((w, b))
    return out


def unflatten(params, layer_sizes: Sequence[int]) -> list[tuple]:
    """Split the flat vector into ``[(W_1, b_1), ..., (W_L, b_L)]``.

    ``params`` of shape ``(P,)`` gives ``W_l`` of shape ``(n_{l-1}, n_l)`` and ``b_l`` of shape
    ``(n_l,)``. A stack of parameter vectors, shape ``(..., P)``, gives ``W_l`` of shape
    ``(..., n_{l-1}, n_l)`` and ``b_l`` of shape ``(..., 1, n_l)``, so that ``h @ W_l + b_l`` applies
    each network of the stack to inputs ``h`` of shape ``(..., N, n_{l-1})``. For a NumPy array the
    pieces are views (no copy); inside autograd they are traced slices. Only slicing and
    ``.reshape`` are used, so JAX and PyTorch arrays work too.
    """
    sizes = check_layer_sizes(layer_sizes)
    expected = n_params(sizes)
    shape = tuple(np.shape(params))
    if not shape or shape[-1] != expected:
        raise ValueError(
            f"params must be a flat vector of length {expected} for layer sizes {sizes} (or a stack "
            f"of them, shape (..., {expected})); got shape {shape}"
        )
    batch = shape[:-1]
    layers = []
    for (w_sl, b_sl), ((n_in, n_out), _) in zip(param_slices(sizes), layer_shapes(sizes), strict=True):
        W = params[..., w_sl].reshape((*batch, n_in, n_out))
        b = params[..., b_sl]
        layers.append((W, b.reshape((*batch, 1, n_out)) if batch else b))
    return layers


def flatten(layers: Sequence[tuple]) -> np.ndarray:
    """Inverse of :func:`unflatten`: concatenate ``vec(W_1), b_1, vec(W_2), ...`` (C order)."""
    pieces = []
    for W, b in layers:
        W = np.asarray(W, dtype=np.float64)
        b = np.asarray(b, dtype=np.float64)
        if W.ndim != 2 or b.shape != (W.shape[1],):
            raise ValueError(
                f"each layer must be (W, b) with W of shape (n_in, n_out) and b of shape "
                f"(n_out,); got W {W.shape}, b {b.shape}"
            )
        pieces += [W.ravel(), b]
    return np.concatenate(pieces)


# --------------------------------------------------------------------------------------------
# Initialization
# --------------------------------------------------------------------------------------------

INIT_SCHEMES = ("normal", "glorot", "he")


def init_params(
    layer_sizes: Sequence[int],
    scheme: str = "normal",
    seed: int | np.random.Generator | None = 0,
    scale: float = 0.1,
) -> np.ndarray:
    """Draw a flat parameter vector.

    Schemes (all Gaussian):

    - ``"normal"``: every weight and bias :math:`\\sim \\mathcal N(0, \\text{scale}^2)`, with
      ``scale = 0.1`` as in the code accompanying Sagun et al. (2018);
    - ``"glorot"``: :math:`W_l \\sim \\mathcal N(0, 2/(n_{l-1}+n_l))`, :math:`b_l = 0`
      (Glorot & Bengio, 2010);
    - ``"he"``: :math:`W_l \\sim \\mathcal N(0, 2/n_{l-1})`, :math:`b_l = 0` (He et al., 2015).
    """
    check_choice("init", scheme, INIT_SCHEMES)
    rng = np.random.default_rng(seed)
    layers = []
    for (n_in, n_out), _ in layer_shapes(layer_sizes):
        if scheme == "normal":
            W = rng.normal(0.0, scale, size=(n_in, n_out))
            b = rng.normal(0.0, scale, size=n_out)
        else:
            var = 2.0 / (n_in + n_out) if scheme == "glorot" else 2.0 / n_in
            W = rng.normal(0.0, np.sqrt(var), size=(n_in, n_out))
            b = np.zeros(n_out)
        layers.append((W, b))
    return flatten(layers)


# --------------------------------------------------------------------------------------------
# Forward pass
# --------------------------------------------------------------------------------------------


def _elementwise(activation) -> Callable:
    """σ itself, from a registered name or a callable (e.g. ``jax.numpy.tanh`` for a peer library)."""
    return activation if callable(activation) else get_activation(activation).fn


def _layers(params, X, layer_sizes: Sequence[int], sigma: Callable):
    r"""Yield ``(h_{l-1}, z_l)`` for ``l = 1..L``: the one place the layers are applied.

    :math:`z_l = h_{l-1} W_l + b_l` with :math:`h_0 = X` and :math:`h_l = \sigma(z_l)` (module
    docstring); written with ``@``, ``+`` and ``.reshape`` only, for NumPy, autograd, JAX and PyTorch
    arrays alike, and for a stack of parameter vectors (see :func:`unflatten`).
    """
    layers = unflatten(params, layer_sizes)
    h = X
    for l, (W, b) in enumerate(layers):
        z = h @ W + b
        yield h, z
        if l < len(layers) - 1:
            h = sigma(z)


def forward(params, X, layer_sizes: Sequence[int], activation="relu"):
    """Logits :math:`f(w, X) = z_L` of the network for inputs ``X`` of shape ``(N, n_0)``.

    Differentiable by autograd with respect to ``params`` (and ``X``). ``activation`` is a name of
    :data:`ACTIVATIONS` or an elementwise callable. ``params`` may be a stack ``(..., P)`` of
    parameter vectors, one network each (:func:`unflatten`): ``X`` of shape ``(N, n_0)`` then gives
    logits ``(..., N, C)``, and per-sample parameters ``(N, P)`` with ``X[:, None, :]`` give each
    sample its own network (the per-example-gradient layout of
    :func:`hessian_spectra.curvature.jacobians.per_sample_jacobians`).
    """
    *_, (_, logits) = _layers(params, X, layer_sizes, _elementwise(activation))
    return logits


@dataclass(frozen=True)
class ForwardPass:
    r"""Every per-sample quantity of one forward pass, for the closed-form routes (plain NumPy).

    Attributes
    ----------
    layers : ``[(W_1, b_1), ..., (W_L, b_L)]`` (:func:`unflatten`).
    zs : pre-activations ``[z_1, ..., z_L]``, each ``(..., N, n_l)``; ``zs[-1]`` are the logits.
    hs : layer inputs ``[h_0 = X, h_1, ..., h_{L-1}]``, :math:`h_l = \sigma(z_l)`.
    d1 : :math:`\sigma'(z_l)` for the hidden layers ``l = 1..L-1``.
    activation : the :class:`Activation`.
    """

    layers: list
    zs: list
    hs: list
    d1: list
    activation: Activation

    @property
    def logits(self) -> np.ndarray:
        """:math:`f = z_L`."""
        return self.zs[-1]

    def d2(self) -> list:
        r""":math:`\sigma''(z_l)` for the hidden layers (computed on request)."""
        return [self.activation.d2(z) for z in self.zs[:-1]]

    def backward(self, cotangent) -> list:
        r"""Error signals :math:`\delta_l = \partial (u^\top f)/\partial z_l`, ``l = 1..L``, for ``u = cotangent``.

        Backpropagation (Rumelhart et al., 1986): :math:`\delta_L = u`,
        :math:`\delta_l = (\delta_{l+1} W_{l+1}^\top) \odot \sigma'(z_l)`. ``cotangent`` has the shape
        of the logits ``(..., N, C)``, with any number of extra leading axes that broadcast against
        them: ``u = r/N`` gives the loss gradient's signals, and a stack of C one-hot cotangents
        ``(C, N, C)`` gives :math:`B_l = \partial f/\partial z_l` for every sample (the Jacobians).
        """
        deltas = [np.asarray(cotangent, dtype=np.float64)]
        for l in range(len(self.layers) - 1, 0, -1):
            W = self.layers[l][0]
            deltas.append((deltas[-1] @ np.swapaxes(W, -1, -2)) * self.d1[l - 1])
        return deltas[::-1]

    def parameter_gradient(self, deltas) -> np.ndarray:
        r""":math:`\nabla_w (u^\top f)`, summed over samples, from the signals of :meth:`backward`.

        :math:`\partial/\partial W_l = h_{l-1}^\top \delta_l`, :math:`\partial/\partial b_l = \sum_i
        \delta_{l,i}`, concatenated in the flat layout; shape ``(..., P)`` for signals ``(..., N, n_l)``.
        """
        pieces = []
        for h, delta in zip(self.hs, deltas, strict=True):
            dW = np.swapaxes(h, -1, -2) @ delta
            pieces += [dW.reshape((*dW.shape[:-2], -1)), delta.sum(axis=-2)]
        return np.concatenate(pieces, axis=-1)


def forward_pass(params, X, layer_sizes: Sequence[int], activation: str = "relu") -> ForwardPass:
    r"""All pre-activations, layer inputs and :math:`\sigma'` of the network (plain NumPy, not for autograd).

    ``params`` may be a stack ``(..., P)`` (:func:`unflatten`).
    """
    act = get_activation(activation)
    params = np.asarray(params, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    hs, zs = map(list, zip(*_layers(params, X, layer_sizes, act.fn), strict=True))
    return ForwardPass(unflatten(params, layer_sizes), zs, hs, [act.d1(z) for z in zs[:-1]], act)


def forward_all(params, X, layer_sizes: Sequence[int], activation: str = "relu"):
    """All pre-activations and layer inputs: ``(zs, hs)`` with ``hs[0] = X``, ``zs[l-1] = z_l``.

    Plain NumPy; :func:`forward_pass` gives these with the derivatives and backpropagation.
    """
    fp = forward_pass(params, X, layer_sizes, activation)
    return fp.zs, fp.hs


def check_inputs(X, layer_sizes: Sequence[int]) -> np.ndarray:
    """Validate inputs ``X`` of shape ``(N, n_0)`` against the network's input width."""
    sizes = check_layer_sizes(layer_sizes)
    X = as_float_array("X", X, ndim=2)
    if X.shape[1] != sizes[0]:
        raise ValueError(
            f"X has {X.shape[1]} features but the network's input width is {sizes[0]} (layer_sizes={sizes})"
        )
    return X
