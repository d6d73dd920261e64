r"""Reference curvature: autograd's own dense Hessian.

:math:`H = \nabla^2 L(w)` computed as ``autograd.hessian(L)``, i.e. the Jacobian of the gradient,
one reverse pass per parameter. Slow and obviously correct: every faster route of the package is
tested against it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from autograd import hessian as _autograd_hessian

from .._checks import check_dense_fits
from ..objective import Objective
from . import decomposition


def hessian(objective: Objective, params) -> np.ndarray:
    """Exact :math:`H = \\nabla^2 L(w)` (P×P, float64) by ``autograd.hessian``.

    Refuses, with the size it would need, a P for which the dense matrix does not fit in memory.
    """
    params = objective.check_params(params)
    check_dense_fits(objective.n_params, n_matrices=2)
    H = np.asarray(_autograd_hessian(objective.loss_value)(params), dtype=np.float64)
    return H


def reference_engine(objective: Objective, params, terms: Sequence[str]) -> dict[str, np.ndarray]:
    """The ``"reference"`` engine of :func:`hessian_spectra.curvature.hessian_terms`.

    ``H`` by :func:`hessian` (autograd's dense Hessian); ``G`` and ``R`` by the decomposition's
    independent routes (:func:`hessian_spectra.curvature.decomposition.reference_term`).
    """
    return {
        term: hessian(objective, params)
        if term == "H"
        else decomposition.reference_term(objective, params, term)
        for term in terms
    }
