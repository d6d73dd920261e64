r"""The course exercises (``notebooks/exercises/``): checkers of a student's rewrite of the library.

Each exercise asks a student to write one function of this library from scratch: the softmax logit
Hessian :math:`A = \operatorname{diag}(p) - pp^\top`, the Gauss-Newton term
:math:`G = \frac1N\sum_i J_i^\top A_i J_i`, an outlier counter, the Marchenko–Pastur density, a Lanczos
iteration, ... ``check("ex02_3", fn)`` calls ``fn`` and the library's reference solution on fixed
random inputs and compares the answers: ``✔`` and ``True`` when they agree, otherwise what differs
and a hint, and ``False``.

One module per notebook holds that notebook's exercises as a table of rows (:class:`Exercise`: id,
reference solution, input generator, comparison with explicit tolerances, hint), and the one-line
adapters that serve as reference solutions where the library's function takes more arguments
(e.g. ``loss="cross_entropy"``): :mod:`.bulk_and_outliers` (ex01), :mod:`.gauss_newton_decomposition`
(ex02), :mod:`.why_outliers_track_classes` (ex03), :mod:`.data_vs_parameters` (ex04),
:mod:`.random_matrix_theory` (ex05), :mod:`.small_vs_large_batch` (ex06), :mod:`.matrix_free` (ex07),
:mod:`.gradient_subspace` (ex09).
:mod:`.checking` compares and runs. :data:`EXERCISES` maps every id to its row, in course order; it
also names the pytest markers (``pytest -m ex02_3``, ``tests/test_exercises.py``). See
``docs/teaching.md``.

This package sits on top of the library: it imports the library's modules, none of them imports it.
"""

from __future__ import annotations

from collections.abc import Callable

from . import (
    bulk_and_outliers,
    data_vs_parameters,
    edge_of_stability,
    gauss_newton_decomposition,
    gradient_subspace,
    matrix_free,
    random_matrix_theory,
    small_vs_large_batch,
    why_outliers_track_classes,
)
from .checking import Case, Close, CloseFields, Exact, Exercise, Registry, compare_arrays

#: Notebook number → the module holding its exercises (named after the notebook).
NOTEBOOK_MODULES = {
    1: bulk_and_outliers,
    2: gauss_newton_decomposition,
    3: why_outliers_track_classes,
    4: data_vs_parameters,
    5: random_matrix_theory,
    6: small_vs_large_batch,
    7: matrix_free,
    8: edge_of_stability,
    9: gradient_subspace,
}

#: Exercise id (``"ex02_3"``) → :class:`Exercise`, in course order.
EXERCISES = Registry(*(module.EXERCISES for module in NOTEBOOK_MODULES.values()))


def reference_solution(exercise_id: str) -> Callable:
    """The library's reference solution of exercise ``exercise_id`` (e.g. ``"ex02_3"``)."""
    return EXERCISES.lookup(exercise_id).solution


def check(exercise_id: str, student_fn: Callable, seed: int = 0, verbose: bool = True) -> bool:
    """Run the checker of exercise ``exercise_id`` on ``student_fn``; ``True`` when it is correct.

    The inputs are drawn from ``numpy.random.default_rng(seed)``; ``verbose=False`` prints nothing.
    """
    return EXERCISES.lookup(exercise_id).check(student_fn, seed=seed, verbose=verbose)


__all__ = [
    "EXERCISES",
    "NOTEBOOK_MODULES",
    "Case",
    "Close",
    "CloseFields",
    "Exact",
    "Exercise",
    "Registry",
    "check",
    "compare_arrays",
    "reference_solution",
]
