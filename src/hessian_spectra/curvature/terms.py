"""The names of the curvature matrices: ``H = G + R`` (Sagun et al., 2018, Eq. 2).

- ``"H"``: the Hessian :math:`\\nabla^2 L(w)`;
- ``"G"``: the Gauss-Newton term :math:`\\frac1N\\sum_i J_i^\\top A_i J_i`;
- ``"R"``: the residual term :math:`\\frac1N\\sum_i\\sum_c r_{ic}\\nabla^2 f_{ic}`.
"""

from __future__ import annotations

from .._checks import check_choice

#: Every curvature term the engines and operators know, in the order of the decomposition.
TERMS = ("H", "G", "R")


def check_terms(terms) -> tuple[str, ...]:
    """Validate a request for curvature terms: a name or a sequence of distinct names among TERMS."""
    if isinstance(terms, str):
        terms = (terms,)
    terms = tuple(terms)
    if not terms:
        raise ValueError(f"terms must name at least one of {TERMS}")
    for t in terms:
        check_choice("terms", t, TERMS)
    if len(set(terms)) != len(terms):
        raise ValueError(f"terms must not repeat a term; got {terms}")
    return terms
