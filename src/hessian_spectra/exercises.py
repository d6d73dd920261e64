r"""Checkers for the course exercises (``notebooks/exercises/``).

Each exercise asks a student to write one function of this library from scratch: the softmax
logit Hessian :math:`A = \operatorname{diag}(p) - pp^\top`, the Gauss-Newton term
:math:`G = \frac1N\sum_i J_i^\top A_i J_i`, an outlier counter, the Marchenko–Pastur density, a Lanczos
iteration, ... Its checker ``check_<name>(student_fn)`` calls the student's function on a fixed set of
random inputs (drawn from ``seed``), calls the library's own function on the same inputs, and compares:

- it prints one line starting with ``✔`` when every output agrees, and returns ``True``;
- otherwise it prints what differs on the first failing input — a wrong shape, non-finite entries, or
  the worst entries with their index, the student's value, the expected value and the difference
  (noticing a constant factor, a sign flip or a transpose when that explains the whole difference) —
  followed by a hint, and returns ``False``. A stub that still raises ``NotImplementedError`` is
  reported as "not implemented yet".

The **reference solutions are the library's functions** (for a few exercises, a one-line adapter that
fixes arguments, e.g. ``loss="cross_entropy"``). :data:`EXERCISES` maps an exercise id such as
``"ex02_3"`` to ``Exercise(checker, solution)``; ``pytest -m ex02_3`` runs that exercise's checker
against its solution and against a deliberately wrong one (``tests/test_exercises.py``). See
``docs/teaching.md``.

Tolerances are explicit in each checker: outputs that the library computes in closed form must agree
to about ``1e-10`` relative; counts must agree exactly.
"""

from __future__ import annotations

import copy
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from . import losses, mlp, rmt, spectrum
from .curvature import decomposition, lanczos, papyan
from .objective import Objective

# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------


class Exercise(NamedTuple):
    """One exercise: its checker and the library's reference solution.

    ``name`` is the name of the function the student writes (the solution's name); ``title`` is the
    first line of the checker's docstring, without the exercise id.
    """

    checker: Callable[..., bool]
    solution: Callable

    @property
    def name(self) -> str:
        return self.solution.__name__

    @property
    def title(self) -> str:
        first = (self.checker.__doc__ or "").strip().splitlines()[0]
        return first.split(" · ", 1)[-1]


#: exercise id -> :class:`Exercise`; filled at the bottom of this module.
EXERCISES: dict[str, Exercise] = {}


def reference_solution(exercise_id: str) -> Callable:
    """The library's reference solution of exercise ``exercise_id`` (e.g. ``"ex02_3"``)."""
    if exercise_id not in EXERCISES:
        raise ValueError(f"exercise_id must be one of {', '.join(EXERCISES)}; got {exercise_id!r}")
    return EXERCISES[exercise_id].solution


def check(exercise_id: str, student_fn: Callable, seed: int = 0, verbose: bool = True) -> bool:
    """Run the checker of exercise ``exercise_id`` on ``student_fn``; ``True`` when it is correct."""
    if exercise_id not in EXERCISES:
        raise ValueError(f"exercise_id must be one of {', '.join(EXERCISES)}; got {exercise_id!r}")
    return EXERCISES[exercise_id].checker(student_fn, seed=seed, verbose=verbose)


# --------------------------------------------------------------------------------------------
# Comparing outputs
# --------------------------------------------------------------------------------------------


def _fmt_index(idx) -> str:
    return str(tuple(int(i) for i in idx)) if len(idx) != 1 else str(int(idx[0]))


def compare_arrays(actual, expected, rtol: float, atol: float, name: str = "your output") -> str | None:
    """``None`` when ``actual`` matches ``expected`` entrywise, else a message saying what differs.

    Entries agree when :math:`|a - e| \\le \\text{atol} + \\text{rtol}\\,|e|` (NumPy's ``isclose`` rule).
    The message names a shape mismatch, non-finite entries, or the number of entries outside the
    tolerance and the three worst ones (index, your value, expected value, difference), and says so
    when the whole difference is a constant factor, a sign or a transpose.
    """
    try:
        a = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return f"{name} could not be read as an array of numbers (got a {type(actual).__name__})"
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        msg = f"{name} has shape {a.shape}, but the expected output has shape {e.shape}"
        if a.size == e.size:
            msg += " (same number of entries: a reshape or a missing axis?)"
        return msg
    if not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))
        where = f" e.g. at index {_fmt_index(bad[0])}" if a.ndim else ""
        return (
            f"{name} has {len(bad)} non-finite entries (NaN or inf){where}; the expected output is "
            "finite everywhere. Overflow in exp()? Subtract the maximum before exponentiating."
        )
    err = np.abs(a - e)
    bound = atol + rtol * np.abs(e)
    bad = err > bound
    if not np.any(bad):
        return None
    if a.ndim == 0:
        return (
            f"{name} is {float(a):.10g}, expected {float(e):.10g} (diff {float(err):.2e}; allowed "
            f"{float(bound):.1e})"
        )
    lines = [
        f"{int(bad.sum())} of {a.size} entries of {name} differ from the expected output "
        f"(allowed: |diff| ≤ {atol:.1e} + {rtol:.1e}·|expected|)."
    ]
    # a diagnosis that explains the whole difference at once
    scale = float(np.vdot(a, e) / np.vdot(e, e)) if np.vdot(e, e) > 0 else np.nan
    if np.isfinite(scale) and scale != 1.0 and np.all(np.abs(a - scale * e) <= bound):
        if abs(scale + 1.0) < 1e-9:
            lines.append("Your output is exactly minus the expected one: a sign error?")
        else:
            lines.append(
                f"Your output is the expected one times {scale:.6g} everywhere: a missing or extra factor?"
            )
    elif a.ndim == 2 and a.shape[0] == a.shape[1] and np.all(np.abs(a.T - e) <= bound):
        lines.append("Your output is the transpose of the expected one.")
    order = np.argsort((err / np.maximum(bound, 1e-300)).ravel())[::-1][:3]
    lines.append("worst entries:")
    for flat in order:
        idx = np.unravel_index(flat, a.shape)
        lines.append(
            f"  at index {_fmt_index(idx)}: yours {a[idx]:.10g}, expected {e[idx]:.10g} (diff {err[idx]:.2e})"
        )
    return "\n".join(lines)


def _compare_exact(actual, expected, name: str = "your output") -> str | None:
    """Integers (counts) must agree exactly."""
    try:
        value = int(actual)
    except (TypeError, ValueError):
        return f"{name} should be an integer; got {actual!r}"
    if value != float(actual):
        return f"{name} should be an integer; got {actual!r}"
    if value != int(expected):
        return f"{name} is {value}, but the expected count is {int(expected)}"
    return None


def _compare_tuple(names: Sequence[str], rtol: float, atol: float):
    """Compare a tuple of arrays element by element (``names`` label them in the messages)."""

    def compare(actual, expected):
        if not isinstance(actual, tuple | list) or len(actual) != len(names):
            return f"your function should return a tuple ({', '.join(names)}) of {len(names)} items; got {type(actual).__name__}"
        for nm, a, e in zip(names, actual, expected, strict=True):
            scale = float(np.max(np.abs(e))) if np.size(e) else 1.0
            msg = compare_arrays(a, e, rtol, atol * max(scale, 1.0), name=f"{nm}")
            if msg:
                return msg
        return None

    return compare


def _compare_dict(rtol: float, atol: float):
    def compare(actual, expected):
        if not isinstance(actual, dict):
            return f"your function should return a dict with keys {sorted(expected)}; got {type(actual).__name__}"
        missing = sorted(set(expected) - set(actual))
        extra = sorted(set(actual) - set(expected))
        if missing or extra:
            return f"the dict's keys differ: missing {missing}, unexpected {extra}"
        for key, e in expected.items():
            a = actual[key]
            if isinstance(e, bool | np.bool_):
                if bool(a) != bool(e):
                    return f"{key!r} is {a!r}, expected {e!r}"
            elif isinstance(e, int | np.integer):
                msg = _compare_exact(a, e, name=repr(key))
                if msg:
                    return msg
            elif np.isnan(e):
                if not (isinstance(a, float | np.floating) and np.isnan(a)):
                    return f"{key!r} is {a!r}, expected nan"
            else:
                msg = compare_arrays(a, e, rtol, atol, name=repr(key))
                if msg:
                    return msg
        return None

    return compare


def _relative(rtol: float, atol_rel: float):
    """Compare arrays with an absolute tolerance relative to the largest expected entry."""

    def compare(actual, expected):
        scale = float(np.max(np.abs(expected))) if np.size(expected) else 1.0
        return compare_arrays(actual, expected, rtol, atol_rel * max(scale, 1e-300))

    return compare


# --------------------------------------------------------------------------------------------
# Running a checker
# --------------------------------------------------------------------------------------------


@dataclass
class _Case:
    args: tuple
    description: str


def _copy(arg):
    """Fresh copies of the inputs for every call (a student's function may modify them)."""
    if isinstance(arg, Objective):
        return arg  # immutable
    return copy.deepcopy(arg)


def _call(fn: Callable, args: tuple) -> tuple[bool, Any]:
    try:
        return True, fn(*(_copy(a) for a in args))
    except NotImplementedError:
        return False, None
    except Exception as exc:  # noqa: BLE001 - any error of the student's code is reported, not raised
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" (line {tb[-1].lineno}: {tb[-1].line})" if tb and tb[-1].line else ""
        return False, f"raised {type(exc).__name__}: {exc}{where}"


def _run(
    exercise_id: str,
    student_fn: Callable,
    cases: list[_Case],
    compare: Callable[[Any, Any], str | None],
    hint: str,
    verbose: bool,
) -> bool:
    solution = EXERCISES[exercise_id].solution
    name = getattr(student_fn, "__name__", repr(student_fn))
    label = f"{exercise_id} {name}"

    def say(text: str) -> None:
        if verbose:
            print(text)

    if not callable(student_fn):
        say(f"✘ {label}: expected a function, got {type(student_fn).__name__}")
        return False
    for k, case in enumerate(cases, start=1):
        expected = solution(*(_copy(a) for a in case.args))
        ok, out = _call(student_fn, case.args)
        if not ok and out is None:
            say(
                f"✘ {label}: not implemented yet (it raises NotImplementedError). Write it in the cell "
                "above, run that cell, then run this one again."
            )
            return False
        if not ok:
            say(f"✘ {label} {out}\n  on test input {k} of {len(cases)}: {case.description}")
            return False
        msg = compare(out, expected)
        if msg:
            body = "\n".join("  " + line for line in msg.splitlines())
            say(
                f"✘ {label}: wrong on test input {k} of {len(cases)} ({case.description}):\n{body}\n"
                f"  Hint: {hint}"
            )
            return False
    say(f"✔ {label}: correct on all {len(cases)} test inputs.")
    return True


# --------------------------------------------------------------------------------------------
# Random inputs
# --------------------------------------------------------------------------------------------


def _spectrum(
    rng, n_outliers: int, n_bulk: int, dominant: bool = False, negatives: bool = True
) -> np.ndarray:
    """A synthetic spectrum: a bulk near zero and a few separated outliers, in random order."""
    bulk = rng.normal(0.0, 1e-3, size=n_bulk)
    if not negatives:
        bulk = np.abs(bulk)
    out = rng.uniform(0.02, 0.1, size=n_outliers)
    if dominant and n_outliers:
        out[0] *= 20
    w = np.concatenate([bulk, out])
    return rng.permutation(w)


def _spectrum_cases(rng, minimum: int = 2) -> list[_Case]:
    cases = []
    for n_out, n_bulk, dominant in [
        (3, 40, False),
        (1, 20, False),
        (7, 120, False),
        (4, 60, True),
        (5, 140, False),
    ]:
        w = _spectrum(rng, n_out, max(n_bulk, minimum), dominant)
        cases.append(_Case((w,), f"{w.size} eigenvalues in random order, {n_out} outliers"))
    w = np.sort(_spectrum(rng, 2, 30))
    cases.append(_Case((w,), f"{w.size} eigenvalues in ascending order (as eigh returns them)"))
    return cases


def _random_objective(rng, loss: str = "cross_entropy", hidden: bool = True) -> tuple[Objective, np.ndarray]:
    """A tiny random problem: N ≤ 9 samples, d ≤ 4 inputs, one hidden layer or none, C ≤ 4 classes."""
    d = int(rng.integers(2, 5))
    C = int(rng.integers(2, 5))
    N = int(rng.integers(C + 1, 10))
    act = str(rng.choice(["tanh", "sigmoid", "relu", "softplus"]))
    sizes = (d, int(rng.integers(2, 6)), C) if hidden else (d, C)
    X = rng.standard_normal((N, d))
    y = np.concatenate([np.arange(C), rng.integers(0, C, size=N - C)])  # every class present
    obj = Objective(X, rng.permutation(y), sizes, act if hidden else "linear", loss)
    params = mlp.init_params(sizes, "normal", seed=rng, scale=0.7)
    return obj, params


def _describe(obj: Objective) -> str:
    return f"N = {obj.n_samples}, layer sizes {obj.layer_sizes}, {obj.activation}, {obj.loss}"


def _objective_cases(rng, losses_=("cross_entropy", "mse"), n: int = 4) -> list[_Case]:
    cases = []
    for k in range(n):
        obj, w = _random_objective(rng, loss=losses_[k % len(losses_)], hidden=k != 0)
        cases.append(_Case((obj, w), _describe(obj)))
    return cases


def _symmetric(rng, P: int, spread: float = 1.0) -> np.ndarray:
    Q, _ = np.linalg.qr(rng.standard_normal((P, P)))
    lam = np.sort(rng.normal(0.0, 1.0, size=P)) * spread
    lam[-3:] += np.array([5.0, 10.0, 20.0]) * spread  # a few well-separated outliers
    return (Q * lam) @ Q.T


# ============================================================================================
# Notebook 1 — the bulk and the outliers
# ============================================================================================


def check_n_params(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex01_1 · the number of parameters P of an MLP with widths (n_0, ..., n_L)."""
    rng = np.random.default_rng(seed)
    cases = [_Case(((3, 2),), "layer sizes (3, 2)"), _Case(((784, 10),), "layer sizes (784, 10)")]
    for _ in range(5):
        sizes = tuple(int(n) for n in rng.integers(1, 41, size=int(rng.integers(2, 6))))
        cases.append(_Case((sizes,), f"layer sizes {sizes}"))
    cases.append(_Case(([16, 20, 20, 5],), "layer sizes as a list [16, 20, 20, 5]"))
    return _run(
        "ex01_1",
        student_fn,
        cases,
        _compare_exact,
        "every layer l has a weight matrix W_l of shape (n_{l-1}, n_l) and a bias b_l of length n_l.",
        verbose,
    )


def check_outlier_count_gap(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex01_2 · count the outliers above the largest gap between consecutive eigenvalues."""
    rng = np.random.default_rng(seed)
    return _run(
        "ex01_2",
        student_fn,
        _spectrum_cases(rng),
        _compare_exact,
        "sort in decreasing order λ_1 ≥ λ_2 ≥ …; the count is 1 + argmax_j (λ_j − λ_{j+1}) "
        "(the input is not sorted).",
        verbose,
    )


def check_elbow_threshold(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex01_3 · the elbow threshold of the ordered eigenvalues (a Kneedle-type rule)."""
    rng = np.random.default_rng(seed)
    return _run(
        "ex01_3",
        student_fn,
        _spectrum_cases(rng, minimum=3),
        _relative(1e-12, 1e-12),
        "sort decreasing (λ_1 … λ_m); x_j = j/(m−1) for j = 0…m−1, y_j = (λ_j − λ_m)/(λ_1 − λ_m); "
        "return the eigenvalue at the j minimizing x_j + y_j.",
        verbose,
    )


# ============================================================================================
# Notebook 2 — the Gauss-Newton decomposition
# ============================================================================================


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


def _logit_cases(rng, with_labels: bool) -> list[_Case]:
    cases = []
    for N, C, scale in [(1, 2, 1.0), (5, 3, 1.0), (7, 4, 3.0), (4, 6, 10.0), (3, 5, 800.0)]:
        logits = rng.normal(0.0, scale, size=(N, C))
        desc = f"logits of shape {(N, C)}, entries of size ~{scale:g}"
        if scale > 100:
            desc += " (exp() overflows unless you shift the logits)"
        args = (logits, rng.integers(0, C, size=N)) if with_labels else (logits,)
        cases.append(_Case(args, desc))
    return cases


def check_softmax_logit_hessian(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex02_1 · the softmax logit Hessian A_i = diag(p_i) − p_i p_iᵀ for every sample."""
    rng = np.random.default_rng(seed)
    return _run(
        "ex02_1",
        student_fn,
        _logit_cases(rng, with_labels=False),
        _relative(1e-10, 1e-13),
        "p = softmax(f) row by row (subtract the row maximum before exp); "
        "A[i] = diag(p[i]) − outer(p[i], p[i]); return an array of shape (N, C, C).",
        verbose,
    )


def check_softmax_logit_gradient(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex02_2 · the cross-entropy gradient in logit space r_i = p_i − e_{y_i}."""
    rng = np.random.default_rng(seed)
    return _run(
        "ex02_2",
        student_fn,
        _logit_cases(rng, with_labels=True),
        _relative(1e-10, 1e-13),
        "r = softmax(f) − onehot(y): ∂/∂f_c [logsumexp(f) − f_y] = p_c − [c = y].",
        verbose,
    )


def check_gauss_newton(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex02_3 · the Gauss-Newton term G = (1/N) Σ_i J_iᵀ A_i J_i of an objective."""
    rng = np.random.default_rng(seed)
    return _run(
        "ex02_3",
        student_fn,
        _objective_cases(rng),
        _relative(1e-9, 1e-12),
        "J = per_sample_jacobians(objective, params) has shape (N, C, P); "
        "A = losses.logit_hessian(objective.logits(params), objective.y, objective.loss) has shape (N, C, C); "
        "G = Σ_i J_iᵀ A_i J_i / N (np.einsum('icp,icd,idq->pq', J, A, J) / N).",
        verbose,
    )


def check_empirical_fisher(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex02_4 · the empirical Fisher (1/N) Σ_i g_i g_iᵀ of the per-sample loss gradients."""
    rng = np.random.default_rng(seed)
    return _run(
        "ex02_4",
        student_fn,
        _objective_cases(rng),
        _relative(1e-9, 1e-12),
        "g = per_sample_loss_gradients(objective, params) has shape (N, P); the empirical Fisher is "
        "gᵀ g / N — uncentred (do not subtract the mean gradient).",
        verbose,
    )


# ============================================================================================
# Notebook 3 — why the outliers track the classes
# ============================================================================================


def knock_out_class_means(M, means):
    r"""Reference for ex03_4: :math:`\Pi M \Pi` with :math:`\Pi = I - QQ^\top` projecting out the class means.

    :func:`hessian_spectra.curvature.papyan.knock_out` with ``method="project_class_means"``.
    """
    return papyan.knock_out(M, means, "project_class_means")


def _class_means_cases(rng, n: int = 4) -> list[_Case]:
    cases = []
    for k in range(n):
        obj, w = _random_objective(rng, hidden=k != 0)
        weighting = ("samples", "classes")[k % 2]
        means = papyan.class_means(obj, w, weighting=weighting)
        cases.append(
            _Case((means,), f"class means of a random problem ({_describe(obj)}), weighting={weighting!r}")
        )
    return cases


def check_per_sample_deltas(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex03_1 · Papyan's vectors δ_{i,c'} = √p_{c'}(x_i) · J_iᵀ (e_{c'} − p(x_i))."""
    rng = np.random.default_rng(seed)
    return _run(
        "ex03_1",
        student_fn,
        _objective_cases(rng, losses_=("cross_entropy",)),
        _relative(1e-9, 1e-12),
        "J = per_sample_jacobians(objective, params) (N, C, P), p = losses.softmax(objective.logits(params)); "
        "out[i, c'] = sqrt(p[i, c']) * J[i].T @ (e_{c'} − p[i]); shape (N, C, P).",
        verbose,
    )


def check_gram_eigenvalues(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex03_2 · the eigenvalues of V Vᵀ: the nonzero eigenvalues of Σ_j v_j v_jᵀ from an m×m problem."""
    rng = np.random.default_rng(seed)
    cases = []
    for m, P in [(2, 5), (5, 30), (4, 4), (6, 3)]:
        V = rng.standard_normal((m, P))
        cases.append(
            _Case((V,), f"{m} vectors in R^{P}" + (" (more vectors than dimensions)" if m > P else ""))
        )
    V = rng.standard_normal((5, 12))
    V[3] = V[0] + V[1]  # linearly dependent rows
    cases.append(_Case((V,), "5 vectors in R^12, one the sum of two others (a zero eigenvalue)"))
    return _run(
        "ex03_2",
        student_fn,
        cases,
        _relative(1e-10, 1e-10),
        "form the m×m Gram matrix V @ V.T and return its eigenvalues in ascending order (np.linalg.eigvalsh).",
        verbose,
    )


def check_g1_eigenvalues_from_gram(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex03_3 · the C eigenvalues of G1 = (C−1) Σ_c π_c δ_c δ_cᵀ from a C×C Gram matrix."""
    rng = np.random.default_rng(seed)
    return _run(
        "ex03_3",
        student_fn,
        _class_means_cases(rng),
        _relative(1e-10, 1e-10),
        "the rows are v_c = sqrt((C − 1) π_c) δ_c with δ_c = means.delta_c[c] and π_c = means.class_weights[c]; "
        "return the eigenvalues of the C×C matrix V Vᵀ, ascending.",
        verbose,
    )


def check_knock_out_class_means(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex03_4 · the knock-out Π M Π, Π = I − QQᵀ projecting out the span of the class means δ_c."""
    rng = np.random.default_rng(seed)
    cases = []
    for case in _class_means_cases(rng, n=3):
        means = case.args[0]
        P = means.delta_c.shape[1]
        M = _symmetric(rng, P)
        cases.append(_Case((M, means), f"a random symmetric {P}×{P} matrix and the " + case.description))
    return _run(
        "ex03_4",
        student_fn,
        cases,
        _relative(1e-9, 1e-11),
        "Q = an orthonormal basis of span{δ_c} (np.linalg.svd(means.delta_c.T, full_matrices=False); keep the "
        "columns of U whose singular value exceeds 1e-10 times the largest); Π = I − Q Qᵀ; return Π M Π.",
        verbose,
    )


# ============================================================================================
# Notebook 4 — data vs parameters
# ============================================================================================


def _zero_cases(rng) -> list[_Case]:
    cases = []
    for P, n_zero, n_out, negative_top in [
        (50, 20, 3, False),
        (120, 60, 5, False),
        (40, 10, 2, True),
        (80, 0, 4, False),
    ]:
        w = _spectrum(rng, n_out, P - n_zero - n_out)
        if negative_top:
            w[np.argmax(np.abs(w))] *= -1  # the largest |λ| is negative
            w = np.concatenate([w, [-5.0]])
        tau = spectrum.zero_tolerance(np.concatenate([w, np.zeros(n_zero)]))
        zeros = rng.uniform(-0.5, 0.5, size=n_zero) * tau  # round-off "zeros" of both signs
        full = rng.permutation(np.concatenate([w, zeros]))
        cases.append(
            _Case(
                (full,),
                f"{full.size} eigenvalues, {n_zero} of them at round-off level"
                + (", the largest in magnitude negative" if negative_top else ""),
            )
        )
    return cases


def check_zero_tolerance(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex04_1 · the round-off scale τ = P ε max_j |λ_j| below which an eigenvalue counts as zero."""
    rng = np.random.default_rng(seed)
    return _run(
        "ex04_1",
        student_fn,
        _zero_cases(rng),
        _relative(1e-12, 0.0),
        "τ = P · ε · max_j |λ_j| with P the number of eigenvalues and ε = np.finfo(np.float64).eps; "
        "mind the absolute value.",
        verbose,
    )


def check_count_zero(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex04_2 · the number of eigenvalues that are zero to round-off, |λ| ≤ τ."""
    rng = np.random.default_rng(seed)
    return _run(
        "ex04_2",
        student_fn,
        _zero_cases(rng),
        _compare_exact,
        "count the λ with |λ| ≤ τ, τ = P · ε · max_j |λ_j| (ex04_1); small negative eigenvalues count too.",
        verbose,
    )


def check_bulk_edge(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex04_3 · the right edge of the bulk: the largest eigenvalue once the top n_outliers are removed."""
    rng = np.random.default_rng(seed)
    cases = []
    for case in _spectrum_cases(rng)[:5]:
        w = case.args[0]
        k = int(rng.integers(0, 8))
        cases.append(_Case((w, k), f"{case.description}; n_outliers = {k}"))
    return _run(
        "ex04_3",
        student_fn,
        cases,
        _relative(0.0, 0.0),
        "sort in decreasing order and return the entry right after the top n_outliers (index n_outliers).",
        verbose,
    )


# ============================================================================================
# Notebook 5 — random matrices
# ============================================================================================


def _mp_params(rng) -> list[tuple[float, float]]:
    return [
        (0.25, 1.0),
        (1.0, 1.0),
        (2.0, 0.5),
        (0.1, 3.0),
        (float(rng.uniform(0.05, 4.0)), float(rng.uniform(0.2, 2))),
    ]


def check_marchenko_pastur_edges(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex05_1 · the edges λ± = σ²(1 ± √α)² of the Marchenko–Pastur bulk."""
    rng = np.random.default_rng(seed)
    cases = [_Case((a, s2), f"alpha = {a:.4g}, sigma2 = {s2:.4g}") for a, s2 in _mp_params(rng)]
    return _run(
        "ex05_1",
        student_fn,
        cases,
        _compare_tuple(("lambda_minus", "lambda_plus"), 1e-12, 1e-15),
        "return the tuple (σ²(1 − √α)², σ²(1 + √α)²).",
        verbose,
    )


def check_marchenko_pastur_density(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex05_2 · the Marchenko–Pastur density ρ(x) = √((λ₊ − x)(x − λ₋)) / (2π σ² α x) on [λ₋, λ₊]."""
    rng = np.random.default_rng(seed)
    cases = []
    for a, s2 in _mp_params(rng):
        hi = s2 * (1 + np.sqrt(a)) ** 2
        x = np.concatenate(
            [[-1.0, 0.0], np.linspace(0.0, 1.2 * hi, 37)[1:], rng.uniform(0, 1.3 * hi, size=5)]
        )
        cases.append(_Case((x, a, s2), f"{x.size} points x, alpha = {a:.4g}, sigma2 = {s2:.4g}"))
    return _run(
        "ex05_2",
        student_fn,
        cases,
        _relative(1e-10, 1e-12),
        "ρ(x) = sqrt((λ₊ − x)(x − λ₋)) / (2π σ² α x) for λ₋ < x < λ₊ (and x > 0), 0 elsewhere; "
        "no point mass at 0 in the density.",
        verbose,
    )


def check_bbp_outlier(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex05_3 · the BBP limit of the top eigenvalue for a spike ℓ: ℓ(1 + α/(ℓ−1)) above 1 + √α, else λ₊."""
    rng = np.random.default_rng(seed)
    cases = []
    for spike, a, s2 in [
        (3.0, 0.25, 1.0),
        (1.2, 0.25, 1.0),
        (1.5, 0.25, 1.0),
        (10.0, 2.0, 0.5),
        (2.0, 2.0, 1.0),
    ]:
        cases.append(_Case((spike, a, s2), f"spike {spike:g}, alpha {a:g}, sigma2 {s2:g}"))
    spike, a = float(rng.uniform(1.0, 8.0)), float(rng.uniform(0.05, 3.0))
    cases.append(_Case((spike, a, 1.0), f"spike {spike:.4g}, alpha {a:.4g}, sigma2 1"))
    return _run(
        "ex05_3",
        student_fn,
        cases,
        _relative(1e-12, 1e-15),
        "if ℓ > 1 + √α return σ² ℓ (1 + α/(ℓ − 1)); otherwise the bulk edge σ² (1 + √α)².",
        verbose,
    )


def check_logistic_regression_hessian(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex05_4 · the Hessian of logistic regression, H = (1/N) Σ_i s_i(1 − s_i) x_i x_iᵀ."""
    rng = np.random.default_rng(seed)
    cases = []
    for N, d, scale in [(10, 3, 0.0), (20, 5, 1.0), (7, 9, 3.0), (50, 4, 30.0)]:
        X = rng.standard_normal((N, d))
        w = rng.normal(0.0, scale, size=d) if scale else np.zeros(d)
        cases.append(_Case((X, w), f"X of shape {(N, d)}, w of size ~{scale:g}"))
    return _run(
        "ex05_4",
        student_fn,
        cases,
        _relative(1e-10, 1e-13),
        "s = 1/(1 + exp(−X w)) (stable: 0.5·(tanh(X w / 2) + 1)); H = Xᵀ diag(s(1 − s)) X / N.",
        verbose,
    )


# ============================================================================================
# Notebook 6 — small vs large batch
# ============================================================================================


def barrier_height(alphas, losses_on_line):
    r"""Reference for ex06_1: :math:`\max_{\alpha\in[0,1]} L(\alpha) - \max(L(0), L(1))`.

    The ``"height"`` of :func:`hessian_spectra.landscape.barrier` (Sagun et al. 2018, Sec. 3.3).
    """
    from .landscape import barrier

    return barrier(alphas, losses_on_line)["height"]


def check_barrier_height(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex06_1 · the height of the loss barrier on the line between two points (α = 0 and α = 1)."""
    rng = np.random.default_rng(seed)
    cases = []
    for kind in ("bump", "convex", "monotone", "shuffled"):
        alphas = np.round(np.linspace(-1.0, 2.0, 31), 10)
        if kind == "bump":
            L = 0.1 + 0.5 * np.exp(-((alphas - 0.5) ** 2) / 0.02) + 0.3 * (alphas - 0.5) ** 2
        elif kind == "convex":
            L = (alphas - 0.4) ** 2 + 0.01
        elif kind == "monotone":
            L = np.exp(-alphas)
        else:
            L = rng.uniform(0, 1, size=alphas.size)
            order = rng.permutation(alphas.size)
            alphas, L = alphas[order], L[order]
        cases.append(_Case((alphas, L), f"31 points α ∈ [−1, 2], a {kind} loss curve"))
    return _run(
        "ex06_1",
        student_fn,
        cases,
        _relative(1e-12, 1e-15),
        "find L at α = 0 and α = 1; the height is max of L over the α in [0, 1] minus max(L(0), L(1)) "
        "(≤ 0 when there is no barrier). The alphas may come in any order and extend beyond [0, 1].",
        verbose,
    )


def check_outlier_count_ratio(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex06_2 · count the outliers above the largest ratio λ_j / λ_{j+1} of consecutive eigenvalues."""
    rng = np.random.default_rng(seed)
    return _run(
        "ex06_2",
        student_fn,
        _spectrum_cases(rng),
        _compare_exact,
        "sort decreasing; only use the ratios λ_j/λ_{j+1} where λ_{j+1} ≥ 1e-3·λ_1 (others are round-off); "
        "the count is 1 + argmax_j of those ratios (1 if there are none).",
        verbose,
    )


def check_negative_stats(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex06_3 · the negative eigenvalues beyond round-off: count, fraction, most negative, sum, ratio to top."""
    rng = np.random.default_rng(seed)
    cases = []
    for case in _zero_cases(rng):
        cases.append(case)
    w = np.abs(_spectrum(rng, 3, 30))
    cases.append(_Case((w,), "30 eigenvalues, none negative"))
    return _run(
        "ex06_3",
        student_fn,
        cases,
        _compare_dict(1e-12, 1e-15),
        "with τ = P·ε·max|λ| (ex04_1) the negatives are the λ < −τ; return {'count', 'fraction' (of all), "
        "'most_negative' (0.0 if none), 'sum', 'ratio_to_top' (|most negative| / λ_max)}.",
        verbose,
    )


# ============================================================================================
# Notebook 7 — matrix-free methods
# ============================================================================================


def gauss_newton_vector_product(objective, params, v):
    r"""Reference for ex07_1: :math:`Gv = \frac1N\sum_i J_i^\top A_i (J_i v)` without forming G.

    :func:`hessian_spectra.curvature.matrix_free.gauss_newton_operator` applied to ``v``.
    """
    from .curvature import matrix_free

    return matrix_free.gauss_newton_operator(objective, params).matvec(v)


def lanczos_tridiagonal(A, v0, n_steps):
    r"""Reference for ex07_2: the diagonal ``alpha`` and off-diagonal ``beta`` of the Lanczos matrix T.

    :func:`hessian_spectra.curvature.lanczos.lanczos` with full reorthogonalization, without the Lanczos vectors.
    """
    alpha, beta, _ = lanczos.lanczos(A, v0, n_steps, reorthogonalize=True)
    return alpha, beta


def smoothed_density(nodes, weights, grid, sigma2):
    r"""Reference for ex07_4: :math:`\frac1{n_v}\sum_{l,j} w_{lj}\,\mathcal N(t; \theta_{lj}, \sigma^2)` on ``grid``.

    :func:`hessian_spectra.curvature.lanczos.density_from_nodes` with the grid and variance given.
    """
    return lanczos.density_from_nodes(nodes, weights, grid=grid, sigma2=sigma2)[1]


def check_gauss_newton_vector_product(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex07_1 · the Gauss-Newton product G v = (1/N) Σ_i J_iᵀ A_i (J_i v), without forming G."""
    rng = np.random.default_rng(seed)
    cases = []
    for case in _objective_cases(rng):
        obj, w = case.args
        v = rng.standard_normal(w.size)
        cases.append(_Case((obj, w, v), case.description + ", a random vector v"))
    return _run(
        "ex07_1",
        student_fn,
        cases,
        _relative(1e-9, 1e-12),
        "u = J v for every sample (autograd.make_jvp(lambda q: objective.logits(q))(params)(v)[1], shape (N, C)); "
        "s_i = A_i u_i; Gv = Σ_i J_iᵀ s_i / N (autograd.make_vjp of the logits, applied to s).",
        verbose,
    )


def check_lanczos_tridiagonal(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex07_2 · m steps of Lanczos with full reorthogonalization: the tridiagonal (alpha, beta)."""
    rng = np.random.default_rng(seed)
    cases = []
    for P, m in [(10, 1), (12, 5), (30, 12), (60, 40), (40, 40)]:
        A = _symmetric(rng, P)
        v0 = rng.standard_normal(P)
        cases.append(_Case((A, v0, m), f"a symmetric {P}×{P} matrix, {m} steps"))
    return _run(
        "ex07_2",
        student_fn,
        cases,
        _compare_tuple(("alpha", "beta"), 1e-8, 1e-8),
        "q_1 = v0/‖v0‖; w = A q_j − α_j q_j − β_{j−1} q_{j−1} with α_j = q_jᵀ A q_j; orthogonalize w against "
        "all previous q (twice); β_j = ‖w‖; q_{j+1} = w/β_j. Return alpha (m,) and beta (m−1,).",
        verbose,
    )


def check_gauss_quadrature(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex07_3 · Gauss quadrature from a Lanczos matrix: nodes θ_j and weights (first row of U)²."""
    rng = np.random.default_rng(seed)
    cases = [_Case((np.array([0.7]), np.array([])), "a 1×1 matrix T")]
    for m in (2, 5, 12):
        alpha = rng.normal(0.0, 1.0, size=m)
        beta = rng.uniform(0.1, 1.0, size=m - 1)
        cases.append(_Case((alpha, beta), f"a {m}×{m} tridiagonal matrix T"))
    return _run(
        "ex07_3",
        student_fn,
        cases,
        _compare_tuple(("nodes", "weights"), 1e-10, 1e-12),
        "T = diag(alpha) + diag(beta, 1) + diag(beta, −1) = U diag(θ) Uᵀ; nodes = θ ascending, "
        "weights = U[0, :]**2 (they sum to 1).",
        verbose,
    )


def check_smoothed_density(student_fn, seed: int = 0, verbose: bool = True) -> bool:
    """ex07_4 · the Gaussian-smoothed SLQ density (1/n_v) Σ_{l,j} w_lj N(t; θ_lj, σ²) on a grid."""
    rng = np.random.default_rng(seed)
    cases = []
    for n_v, m, s2 in [(1, 4, 0.01), (3, 10, 0.001), (5, 20, 0.05)]:
        nodes = np.sort(rng.normal(0.0, 1.0, size=(n_v, m)), axis=1)
        weights = rng.dirichlet(np.ones(m), size=n_v)
        grid = np.linspace(nodes.min() - 1, nodes.max() + 1, 101)
        cases.append(
            _Case((nodes, weights, grid, s2), f"{n_v} probe(s) × {m} nodes, σ² = {s2:g}, 101 grid points")
        )
    return _run(
        "ex07_4",
        student_fn,
        cases,
        _relative(1e-10, 1e-13),
        "density(t) = mean over probes l of Σ_j w[l, j] · exp(−(t − θ[l, j])² / (2σ²)) / sqrt(2π σ²).",
        verbose,
    )


# --------------------------------------------------------------------------------------------
# The registry (id -> checker, reference solution)
# --------------------------------------------------------------------------------------------

EXERCISES.update(
    {
        "ex01_1": Exercise(check_n_params, mlp.n_params),
        "ex01_2": Exercise(check_outlier_count_gap, spectrum.outlier_count_gap),
        "ex01_3": Exercise(check_elbow_threshold, spectrum.elbow_threshold),
        "ex02_1": Exercise(check_softmax_logit_hessian, softmax_logit_hessian),
        "ex02_2": Exercise(check_softmax_logit_gradient, softmax_logit_gradient),
        "ex02_3": Exercise(check_gauss_newton, decomposition.gauss_newton),
        "ex02_4": Exercise(check_empirical_fisher, decomposition.empirical_fisher),
        "ex03_1": Exercise(check_per_sample_deltas, papyan.per_sample_deltas),
        "ex03_2": Exercise(check_gram_eigenvalues, papyan.gram_eigenvalues),
        "ex03_3": Exercise(check_g1_eigenvalues_from_gram, papyan.g1_eigenvalues_from_gram),
        "ex03_4": Exercise(check_knock_out_class_means, knock_out_class_means),
        "ex04_1": Exercise(check_zero_tolerance, spectrum.zero_tolerance),
        "ex04_2": Exercise(check_count_zero, spectrum.count_zero),
        "ex04_3": Exercise(check_bulk_edge, spectrum.bulk_edge),
        "ex05_1": Exercise(check_marchenko_pastur_edges, rmt.marchenko_pastur_edges),
        "ex05_2": Exercise(check_marchenko_pastur_density, rmt.marchenko_pastur_density),
        "ex05_3": Exercise(check_bbp_outlier, rmt.bbp_outlier),
        "ex05_4": Exercise(check_logistic_regression_hessian, rmt.logistic_regression_hessian),
        "ex06_1": Exercise(check_barrier_height, barrier_height),
        "ex06_2": Exercise(check_outlier_count_ratio, spectrum.outlier_count_ratio),
        "ex06_3": Exercise(check_negative_stats, spectrum.negative_stats),
        "ex07_1": Exercise(check_gauss_newton_vector_product, gauss_newton_vector_product),
        "ex07_2": Exercise(check_lanczos_tridiagonal, lanczos_tridiagonal),
        "ex07_3": Exercise(check_gauss_quadrature, lanczos.gauss_quadrature),
        "ex07_4": Exercise(check_smoothed_density, smoothed_density),
    }
)

__all__ = [
    "EXERCISES",
    "Exercise",
    "check",
    "compare_arrays",
    "reference_solution",
    *sorted(ex.checker.__name__ for ex in EXERCISES.values()),
    "softmax_logit_hessian",
    "softmax_logit_gradient",
    "knock_out_class_means",
    "barrier_height",
    "gauss_newton_vector_product",
    "lanczos_tridiagonal",
    "smoothed_density",
]
