"""Curvature of the training loss: H, and (by the decomposition) G and R.

One contract for every engine::

    hessian_terms(X, y, params, layer_sizes, activation, loss, terms=("H",), engine="reference")

returns a dict mapping each requested term name to a dense P×P float64 array indexed by the flat
parameter layout of :mod:`hessian_spectra.mlp`.

Engines:

- ``"reference"``: autograd's dense Hessian for ``H``; the decomposition's independent routes
  for ``G`` and ``R`` (see :mod:`hessian_spectra.curvature.decomposition`).
- ``"fast"``: closed-form assembly (see :mod:`hessian_spectra.curvature.fast`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .._checks import check_choice, check_dense_fits, non_finite_result
from ..objective import Objective
from . import fast, reference
from .terms import TERMS, check_terms

#: engine name -> function(objective, params, terms) -> dict[str, ndarray]
ENGINES: dict[str, Callable] = {"reference": reference.reference_engine, "fast": fast.fast_engine}


def hessian_terms(
    X,
    y,
    params,
    layer_sizes: Sequence[int],
    activation: str = "relu",
    loss: str = "cross_entropy",
    terms: Sequence[str] = ("H",),
    engine: str = "reference",
) -> dict[str, np.ndarray]:
    """Dense curvature matrices of :math:`L(w) = \\frac1N\\sum_i \\ell(f(w,x_i), y_i)` at ``params``.

    ``H = G + R`` (Sagun et al., 2018, Eq. 2): ``"H"`` the Hessian, ``"G"`` the Gauss-Newton term
    :math:`\\frac1N\\sum_i J_i^\\top A_i J_i`, ``"R"`` the residual term
    :math:`\\frac1N\\sum_i\\sum_c r_{ic}\\nabla^2 f_{ic}`.

    Returns a dict ``{term: P×P float64 array}`` in the order requested. A P too large for dense
    matrices raises :class:`hessian_spectra.DenseTooLargeError` naming the memory it would need; a
    matrix with NaN or infinite entries (float64 overflow at enormous parameters or inputs) raises
    :class:`hessian_spectra.NonFiniteResultError` instead of being returned.
    """
    objective = Objective(X, y, tuple(layer_sizes), activation, loss)
    return curvature_matrices(objective, params, terms, engine)


def curvature_matrices(
    objective: Objective, params, terms: Sequence[str] = ("H",), engine: str = "reference"
) -> dict[str, np.ndarray]:
    """:func:`hessian_terms` for an :class:`~hessian_spectra.Objective` that is already built."""
    params = objective.check_params(params)
    terms = check_terms(terms)
    check_choice("engine", engine, ENGINES)
    check_dense_fits(objective.n_params, n_matrices=len(terms) + 1)
    out = ENGINES[engine](objective, params, terms)
    for t in terms:
        _check_finite_matrix(t, out[t], objective, params)
    return {t: out[t] for t in terms}


def _check_finite_matrix(term: str, M: np.ndarray, objective: Objective, params: np.ndarray) -> None:
    """Raise :class:`NonFiniteResultError` when ``M`` has NaN or infinite entries, naming the sizes
    that overflowed (the inputs and parameters are finite, :class:`Objective` checks them)."""
    finite = np.isfinite(M)
    if not finite.all():
        raise non_finite_result(term, M.size - int(np.count_nonzero(finite)), objective, params)


__all__ = ["ENGINES", "TERMS", "check_terms", "curvature_matrices", "hessian_terms"]
