"""The course exercises' checkers (hessian_spectra.teaching) are trustworthy.

For every exercise, with its own pytest marker (``pytest -m ex02_3``):

- the checker accepts the library's reference solution;
- it accepts an independent, from-scratch implementation written here (so the tolerances do not
  demand the library's exact arithmetic, only the right answer);
- it rejects a deliberately wrong implementation (a typical student mistake) and says why;
- it reports a stub that raises ``NotImplementedError`` as "not implemented yet".

With the environment variable ``HESSIAN_SPECTRA_STUDENT=path/to/solutions.py`` the
``test_student_solution`` tests grade a student's file: each function named like the exercise's
solution (``EXERCISES[id].name``) must pass its checker.
"""

import ast
import dataclasses
import importlib.util
import os
import pathlib
import re
import subprocess
import sys

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from scipy.linalg import eigh_tridiagonal

from hessian_spectra import rmt, teaching
from hessian_spectra.teaching import EXERCISES

ROOT = pathlib.Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------------------------
# Independent implementations (written from the definitions, not from the library's code)
# --------------------------------------------------------------------------------------------


def _softmax(f):
    z = np.exp(f - f.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


def _sorted_desc(w):
    return np.sort(np.asarray(w, dtype=float))[::-1]


def _tolerance(w):
    w = np.asarray(w, dtype=float)
    return w.size * np.finfo(float).eps * np.abs(w).max()


def _jacobians(objective, params):
    """J (N, C, P) by autograd's forward-mode Jacobian of all logits at once."""
    J = autograd.jacobian(lambda q: objective.logits(q))(params)  # (N, C, P)
    return np.asarray(J)


def _logit_hessians(objective, params):
    f = np.asarray(objective.logits(params))
    if objective.loss == "mse":
        return np.broadcast_to(np.eye(f.shape[1]), (f.shape[0], f.shape[1], f.shape[1]))
    p = _softmax(f)
    return np.stack([np.diag(pi) - np.outer(pi, pi) for pi in p])


def ind_n_params(layer_sizes):
    s = list(layer_sizes)
    return sum((a + 1) * b for a, b in zip(s[:-1], s[1:], strict=False))


def ind_outlier_count_gap(eigvals):
    top = _sorted_desc(eigvals)[:200]
    return int(np.argmax(-np.diff(top))) + 1


def ind_elbow_threshold(eigvals):
    top = _sorted_desc(eigvals)[:200]
    m = top.size
    x = np.linspace(0.0, 1.0, m)
    y = (top - top[-1]) / (top[0] - top[-1])
    return float(top[np.argmin(x + y)])


def ind_softmax_logit_hessian(logits):
    p = _softmax(np.asarray(logits, dtype=float))
    return np.stack([np.diag(pi) - np.outer(pi, pi) for pi in p])


def ind_softmax_logit_gradient(logits, y):
    p = _softmax(np.asarray(logits, dtype=float))
    p[np.arange(len(y)), y] -= 1.0
    return p


def ind_gauss_newton(objective, params):
    J = _jacobians(objective, params)
    A = _logit_hessians(objective, params)
    return sum(Ji.T @ Ai @ Ji for Ji, Ai in zip(J, A, strict=True)) / len(J)


def ind_empirical_fisher(objective, params):
    g = np.stack(
        [
            autograd.grad(
                lambda q, i=i: objective.batch_loss(q, objective.X[i : i + 1], objective.y[i : i + 1])
            )(params)
            for i in range(objective.n_samples)
        ]
    )
    return g.T @ g / len(g)


def ind_per_sample_deltas(objective, params):
    J = _jacobians(objective, params)
    p = _softmax(np.asarray(objective.logits(params)))
    N, C, P = J.shape
    out = np.empty((N, C, P))
    for i in range(N):
        for c in range(C):
            out[i, c] = np.sqrt(p[i, c]) * J[i].T @ (np.eye(C)[c] - p[i])
    return out


def ind_gram_eigenvalues(vectors):
    # squared singular values of V (an SVD, not a symmetric eigensolver), padded with the zeros of
    # V Vᵀ when there are more vectors than dimensions
    V = np.asarray(vectors)
    s2 = np.linalg.svd(V, compute_uv=False) ** 2
    return np.sort(np.concatenate([s2, np.zeros(V.shape[0] - s2.size)]))


def ind_g1_eigenvalues_from_gram(means):
    C = means.delta_c.shape[0]
    V = np.sqrt((C - 1) * means.class_weights)[:, None] * means.delta_c
    return ind_gram_eigenvalues(V)


def ind_knock_out_class_means(M, means):
    Q, R = np.linalg.qr(means.delta_c.T)
    keep = np.abs(np.diag(R)) > 1e-10 * np.abs(np.diag(R)).max()
    Q = Q[:, keep]
    Pi = np.eye(M.shape[0]) - Q @ Q.T
    return Pi @ M @ Pi


def ind_zero_tolerance(eigvals):
    return _tolerance(eigvals)


def ind_count_zero(eigvals):
    return int(np.sum(np.abs(eigvals) <= _tolerance(eigvals)))


def ind_bulk_edge(eigvals, n_outliers):
    return float(_sorted_desc(eigvals)[n_outliers])


def ind_marchenko_pastur_edges(alpha, sigma2=1.0):
    # expanded, σ²(1 ± 2√α + α): a few ulps away from the squared form
    return sigma2 * (1 - 2 * alpha**0.5 + alpha), sigma2 * (1 + 2 * alpha**0.5 + alpha)


def ind_marchenko_pastur_density(x, alpha, sigma2=1.0):
    lo, hi = ind_marchenko_pastur_edges(alpha, sigma2)
    out = np.zeros_like(x)
    for k, t in enumerate(x):
        if lo < t < hi and t > 0:
            out[k] = np.sqrt((hi - t) * (t - lo)) / (2 * np.pi * sigma2 * alpha * t)
    return out


def ind_bbp_outlier(spike, alpha, sigma2=1.0):
    if spike > 1 + np.sqrt(alpha):
        return sigma2 * spike * (1 + alpha / (spike - 1))
    return sigma2 * (1 + np.sqrt(alpha)) ** 2


def ind_logistic_regression_hessian(X, w):
    H = np.zeros((X.shape[1], X.shape[1]))
    for x in X:
        s = 1.0 / (1.0 + np.exp(-x @ w))
        H += s * (1 - s) * np.outer(x, x)
    return H / len(X)


def ind_barrier_height(alphas, losses):
    alphas, losses = np.asarray(alphas), np.asarray(losses)
    ends = max(losses[np.argmin(np.abs(alphas))], losses[np.argmin(np.abs(alphas - 1))])
    return losses[(alphas >= 0) & (alphas <= 1)].max() - ends


def ind_outlier_count_ratio(eigvals):
    top = _sorted_desc(eigvals)[:200]
    if top[0] <= 0:
        return 0
    ratios = [top[j] / top[j + 1] if top[j + 1] >= 1e-3 * top[0] else -np.inf for j in range(top.size - 1)]
    if all(r == -np.inf for r in ratios):
        return 1
    return int(np.argmax(ratios)) + 1


def ind_negative_stats(eigvals):
    w = np.asarray(eigvals, dtype=float)
    neg = w[w < -_tolerance(w)]
    most = float(neg.min()) if neg.size else 0.0
    return {
        "count": int(neg.size),
        "fraction": neg.size / w.size,
        "most_negative": most,
        "sum": float(neg.sum()),
        "ratio_to_top": abs(most) / w.max() if w.max() > 0 else float("nan"),
    }


def ind_gauss_newton_vector_product(objective, params, v):
    J = _jacobians(objective, params)
    A = _logit_hessians(objective, params)
    return np.einsum("icp,icd,idq,q->p", J, A, J, v) / len(J)


def ind_lanczos_tridiagonal(A, v0, n_steps):
    Q = [v0 / np.linalg.norm(v0)]
    alpha, beta = [], []
    for j in range(n_steps):
        w = A @ Q[j]
        alpha.append(Q[j] @ w)
        for _ in range(2):
            B = np.array(Q)
            w = w - B.T @ (B @ w)
        if j + 1 == n_steps:
            break
        beta.append(np.linalg.norm(w))
        Q.append(w / beta[-1])
    return np.array(alpha), np.array(beta)


def ind_gauss_quadrature(alpha, beta):
    # the dense T and numpy's symmetric eigensolver (not LAPACK's tridiagonal one)
    T = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
    nodes, U = np.linalg.eigh(T)
    return nodes, U[0] ** 2


def ind_smoothed_density(nodes, weights, grid, sigma2):
    nodes, weights = np.atleast_2d(nodes), np.atleast_2d(weights)
    out = np.zeros_like(grid)
    for th_l, w_l in zip(nodes, weights, strict=True):
        for th, w in zip(th_l, w_l, strict=True):
            out += w * np.exp(-((grid - th) ** 2) / (2 * sigma2)) / np.sqrt(2 * np.pi * sigma2)
    return out / nodes.shape[0]


from .test_ex08 import INDEPENDENT_EX08, WRONG_EX08  # noqa: E402 (notebook 8's rows: tests/test_ex08.py)
from .test_ex09 import INDEPENDENT_EX09, WRONG_EX09  # noqa: E402 (notebook 9's rows: tests/test_ex09.py)

_OWN_ROWS = {**INDEPENDENT_EX08, **INDEPENDENT_EX09}
INDEPENDENT = {eid: _OWN_ROWS.get(eid) or globals()[f"ind_{EXERCISES[eid].name}"] for eid in EXERCISES}

# --------------------------------------------------------------------------------------------
# Deliberately wrong implementations: one typical mistake each
# --------------------------------------------------------------------------------------------


def _wrong_elbow(eigvals):  # no normalization of the eigenvalue axis
    top = _sorted_desc(eigvals)[:200]
    x = np.linspace(0.0, 1.0, top.size)
    return float(top[np.argmin(x + top)])


def _wrong_empirical_fisher(objective, params):  # centred: that is the gradient covariance
    g = np.stack(
        [
            autograd.grad(
                lambda q, i=i: objective.batch_loss(q, objective.X[i : i + 1], objective.y[i : i + 1])
            )(params)
            for i in range(objective.n_samples)
        ]
    )
    d = g - g.mean(axis=0)
    return d.T @ d / len(g)


def _wrong_per_sample_deltas(objective, params):  # p instead of sqrt(p)
    out = ind_per_sample_deltas(objective, params)
    p = _softmax(np.asarray(objective.logits(params)))
    return out * np.sqrt(p)[:, :, None]


def _wrong_gram_eigenvalues(vectors):  # singular values instead of their squares
    return np.sort(np.linalg.svd(np.asarray(vectors), compute_uv=False))


def _wrong_knock_out(M, means):  # one-sided projection
    Q, _ = np.linalg.qr(means.delta_c.T)
    return (np.eye(M.shape[0]) - Q @ Q.T) @ M


def _wrong_count_zero(eigvals):  # forgot the absolute value: every negative eigenvalue counts
    return int(np.sum(np.asarray(eigvals) <= _tolerance(eigvals)))


def _wrong_marchenko_pastur_density(x, alpha, sigma2=1.0):  # forgot alpha in the denominator
    return ind_marchenko_pastur_density(x, alpha, sigma2) * alpha


def _wrong_barrier(alphas, losses):  # took the maximum over the whole line, not over [0, 1]
    alphas, losses = np.asarray(alphas), np.asarray(losses)
    return losses.max() - max(losses[np.argmin(np.abs(alphas))], losses[np.argmin(np.abs(alphas - 1))])


def _wrong_ratio(eigvals):  # no floor: ratios of round-off values decide
    top = _sorted_desc(eigvals)[:200]
    return int(np.argmax(top[:-1] / top[1:])) + 1


def _wrong_negative_stats(eigvals):  # round-off zeros counted as negative
    out = ind_negative_stats(eigvals)
    w = np.asarray(eigvals)
    out["count"] = int(np.sum(w < 0))
    out["fraction"] = out["count"] / w.size
    return out


def _wrong_gnvp(objective, params, v):  # forgot A_i: J^T J v / N
    J = _jacobians(objective, params)
    return np.einsum("icp,icq,q->p", J, J, v) / len(J)


def _wrong_lanczos(A, v0, n_steps):  # the plain three-term recurrence, no reorthogonalization
    q, q_prev, b = v0 / np.linalg.norm(v0), np.zeros_like(v0), 0.0
    alpha, beta = [], []
    for j in range(n_steps):
        w = A @ q - b * q_prev
        alpha.append(q @ w)
        w = w - alpha[-1] * q
        if j + 1 == n_steps:
            break
        b = np.linalg.norm(w)
        beta.append(b)
        q_prev, q = q, w / b
    return np.array(alpha), np.array(beta)


def _wrong_quadrature(alpha, beta):  # the first column of U instead of its first row
    if len(alpha) == 1:
        return np.array(alpha, dtype=float), np.ones(1)
    nodes, U = eigh_tridiagonal(alpha, beta)
    return nodes, U[:, 0] ** 2


WRONG = {
    "ex01_1": lambda sizes: sum(a * b for a, b in zip(list(sizes)[:-1], list(sizes)[1:], strict=False)),
    "ex01_2": lambda w: ind_outlier_count_gap(w) - 1,
    "ex01_3": _wrong_elbow,
    "ex02_1": lambda f: np.stack([np.diag(p) for p in _softmax(np.asarray(f, dtype=float))]),
    "ex02_2": lambda f, y: -ind_softmax_logit_gradient(f, y),
    "ex02_3": lambda obj, w: ind_gauss_newton(obj, w) * obj.n_samples,
    "ex02_4": _wrong_empirical_fisher,
    "ex03_1": _wrong_per_sample_deltas,
    "ex03_2": _wrong_gram_eigenvalues,
    "ex03_3": lambda means: ind_g1_eigenvalues_from_gram(means) / (means.delta_c.shape[0] - 1),
    "ex03_4": _wrong_knock_out,
    "ex04_1": lambda w: len(w) * np.finfo(float).eps * np.max(w),
    "ex04_2": _wrong_count_zero,
    "ex04_3": lambda w, k: float(_sorted_desc(w)[max(k - 1, 0)]),
    "ex05_1": lambda a, s2=1.0: (s2 * (1 - a) ** 2, s2 * (1 + a) ** 2),
    "ex05_2": _wrong_marchenko_pastur_density,
    "ex05_3": lambda spike, a, s2=1.0: s2 * spike * (1 + a / (spike - 1)),
    "ex05_4": lambda X, w: (X * (1 / (1 + np.exp(-X @ w)))[:, None]).T @ X / len(X),
    "ex06_1": _wrong_barrier,
    "ex06_2": _wrong_ratio,
    "ex06_3": _wrong_negative_stats,
    "ex07_1": _wrong_gnvp,
    "ex07_2": _wrong_lanczos,
    "ex07_3": _wrong_quadrature,
    "ex07_4": lambda nodes, weights, grid, s2: (
        ind_smoothed_density(nodes, weights, grid, s2) * np.atleast_2d(nodes).shape[0]
    ),
    **WRONG_EX08,
    **WRONG_EX09,
}


def _by_exercise(ids=None):
    return [pytest.param(eid, marks=getattr(pytest.mark, eid), id=eid) for eid in (ids or list(EXERCISES))]


def test_every_exercise_has_an_independent_and_a_wrong_solution():
    """The tables of this file (with notebooks 8's and 9's rows from tests/test_ex08.py and
    test_ex09.py) cover the registry exactly (a new exercise needs both)."""
    assert set(INDEPENDENT) == set(EXERCISES) == set(WRONG)


@pytest.mark.parametrize("exercise_id", _by_exercise())
def test_checker_accepts_the_reference_solution(exercise_id, capsys):
    """The library's own function passes its exercise's checker, which prints a ✔ line."""
    ex = EXERCISES[exercise_id]
    assert ex.check(ex.solution) is True
    assert capsys.readouterr().out.startswith(f"✔ {exercise_id} {ex.name}")


@pytest.mark.parametrize("exercise_id", _by_exercise())
def test_checker_accepts_an_independent_solution(exercise_id, capsys):
    """A from-scratch implementation (loops, autograd Jacobians, QR instead of SVD, ...) passes too:
    the checker's tolerances ask for the right answer, not for the library's arithmetic."""
    ok = EXERCISES[exercise_id].check(INDEPENDENT[exercise_id])
    assert ok is True, capsys.readouterr().out


@pytest.mark.parametrize("exercise_id", _by_exercise())
def test_checker_rejects_a_wrong_solution(exercise_id, capsys):
    """A typical mistake (a forgotten factor, a sign, an off-by-one, no reorthogonalization, ...) is
    caught, and the message names the failing input and gives the hint."""
    ok = EXERCISES[exercise_id].check(WRONG[exercise_id])
    out = capsys.readouterr().out
    assert ok is False
    assert out.startswith(f"✘ {exercise_id}") and "test input" in out and "Hint:" in out


@pytest.mark.parametrize("exercise_id", _by_exercise())
def test_checker_reports_a_stub_as_not_implemented(exercise_id, capsys):
    """A stub that raises NotImplementedError is reported as such (not as a crash) and fails."""

    def stub(*args):
        raise NotImplementedError

    assert EXERCISES[exercise_id].check(stub) is False
    assert "not implemented yet" in capsys.readouterr().out


@pytest.mark.parametrize("exercise_id", _by_exercise(list(EXERCISES)))
def test_student_solution(exercise_id, capsys):
    """Grading: the function named EXERCISES[id].name in $HESSIAN_SPECTRA_STUDENT passes its checker."""
    path = os.environ.get("HESSIAN_SPECTRA_STUDENT")
    if not path:
        pytest.skip("set HESSIAN_SPECTRA_STUDENT=path/to/solutions.py to grade a student's functions")
    spec = importlib.util.spec_from_file_location("student_solutions", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    name = EXERCISES[exercise_id].name
    assert hasattr(module, name), f"{path} defines no function {name}() for {exercise_id}"
    ok = EXERCISES[exercise_id].check(getattr(module, name))
    assert ok, capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# The comparison messages
# --------------------------------------------------------------------------------------------


def test_compare_arrays_names_shape_factor_sign_and_transpose():
    """compare_arrays explains the common whole-array mistakes in words and lists the worst entries."""
    rng = np.random.default_rng(0)
    e = rng.standard_normal((4, 4))
    assert teaching.compare_arrays(e + 1e-14, e, 1e-10, 0.0) is None
    assert "shape (4, 3)" in teaching.compare_arrays(e[:, :3], e, 1e-10, 0.0)
    assert "times 0.5" in teaching.compare_arrays(0.5 * e, e, 1e-10, 0.0)
    assert "minus the expected" in teaching.compare_arrays(-e, e, 1e-10, 0.0)
    assert "transpose" in teaching.compare_arrays(e.T, e, 1e-10, 0.0)
    bad = e.copy()
    bad[2, 1] += 1.0
    msg = teaching.compare_arrays(bad, e, 1e-10, 0.0)
    assert "1 of 16 entries" in msg and "at index (2, 1)" in msg
    nan = e.copy()
    nan[0, 3] = np.nan
    assert "non-finite" in teaching.compare_arrays(nan, e, 1e-10, 0.0)


def test_checker_reports_an_exception_with_the_failing_line(capsys):
    """A student function that crashes is reported with the exception and its line, not raised."""

    def broken(logits):
        return logits @ anp.ones(99)

    assert teaching.check("ex02_1", broken) is False
    out = capsys.readouterr().out
    assert "raised ValueError" in out and "logits @ anp.ones(99)" in out


def test_registry_lookups():
    """check() and reference_solution() dispatch on the id and reject unknown ids with a ValueError."""
    assert teaching.reference_solution("ex02_3") is EXERCISES["ex02_3"].solution
    assert teaching.check("ex01_1", INDEPENDENT["ex01_1"], verbose=False) is True
    with pytest.raises(ValueError, match="exercise_id"):
        teaching.reference_solution("ex99_9")
    with pytest.raises(ValueError, match="exercise_id"):
        teaching.check("ex99_9", INDEPENDENT["ex01_1"])
    ex = EXERCISES["ex05_2"]  # a row: its id, the reference solution, and the name the student writes
    assert ex.id == "ex05_2" and ex.solution is rmt.marchenko_pastur_density
    assert ex.name == "marchenko_pastur_density"


def test_close_tolerance_scales_with_the_largest_expected_magnitude():
    """Close allows |a − e| ≤ rtol·|e| + atol·s entrywise, s the largest |e| of the whole answer (all
    items of a tuple), so the verdict does not change when the inputs are rescaled."""
    close = teaching.Close(rtol=0.0, atol=1e-6)
    e = np.array([1000.0, 1e-3])
    for scale in (1.0, 1e-8, 1e8):  # s·atol = 1e-3·scale: half of it passes, twice it fails
        assert close(scale * (e + [0.0, 0.5e-3]), scale * e) is None
        assert "1 of 2 entries" in close(scale * (e + [0.0, 2e-3]), scale * e)
    pair = teaching.Close(rtol=0.0, atol=1e-6, names=("big", "small"))
    expected = (np.array([1000.0]), np.array([1e-3]))
    assert pair((np.array([1000.0]), np.array([1.5e-3])), expected) is None  # within 1e-6 of 1000
    assert "small" in pair((np.array([1000.0]), np.array([3e-3])), expected)
    assert "tuple (big, small)" in pair(np.array([1000.0, 1e-3]), expected)
    relative = teaching.Close(rtol=1e-10, atol=0.0)
    assert relative(3.0 * (1 + 0.5e-10), 3.0) is None and relative(3.0 * (1 + 2e-10), 3.0) is not None


def test_exact_and_close_fields_compare_counts_exactly():
    """Counts must be integers equal to the expected one; a dict must have the expected keys, equal
    integers and booleans, NaN where NaN is expected, and close floats."""
    exact = teaching.Exact()
    assert exact(3, 3) is None and exact(np.int64(3), 3) is None and exact(3.0, 3) is None
    assert "integer" in exact(3.5, 3) and "expected count is 3" in exact(4, 3)
    fields = teaching.CloseFields(rtol=1e-12, atol=0.0)
    expected = {"count": 2, "flag": True, "ratio": float("nan"), "value": -0.25}
    assert fields(dict(expected), expected) is None
    assert "'count' is 3" in fields({**expected, "count": 3}, expected)
    assert "'flag'" in fields({**expected, "flag": False}, expected)
    assert "expected nan" in fields({**expected, "ratio": 0.0}, expected)
    assert "'value'" in fields({**expected, "value": -0.25 * (1 + 1e-11)}, expected)
    assert "missing ['value']" in fields({k: v for k, v in expected.items() if k != "value"}, expected)


def test_registry_rejects_malformed_tables():
    """A table's ids look like exNN_M, are unique, and belong to one notebook; otherwise a ValueError."""
    row = EXERCISES["ex01_1"]
    other = EXERCISES["ex02_1"]
    assert list(teaching.Registry((row,), (other,))) == ["ex01_1", "ex02_1"]
    with pytest.raises(ValueError, match="appears twice"):
        teaching.Registry((row,), (row,))
    with pytest.raises(ValueError, match="one notebook"):
        teaching.Registry((row, other))
    with pytest.raises(ValueError, match="exercise id"):
        teaching.Registry((dataclasses.replace(row, id="ex1_1"),))


def test_each_exercise_lives_in_the_module_named_after_its_notebook():
    """notebooks/source/exercises/exNN_<name>.py is checked by hessian_spectra.teaching.<name>, whose
    table holds exactly the exercises of that notebook's stub cells, in order; the registry lists
    them all in course order."""
    sources = sorted((ROOT / "notebooks" / "source" / "exercises").glob("ex*.py"))
    assert [int(p.stem[2:4]) for p in sources] == sorted(teaching.NOTEBOOK_MODULES)
    for path in sources:
        module = teaching.NOTEBOOK_MODULES[int(path.stem[2:4])]
        assert module.__name__ == f"hessian_spectra.teaching.{path.stem[5:]}"
        stubs = re.findall(r"^# %% \[exercise (ex\d\d_\d+)\]", path.read_text(encoding="utf-8"), flags=re.M)
        assert [ex.id for ex in module.EXERCISES] == stubs, path.name
    assert list(EXERCISES) == [ex.id for m in teaching.NOTEBOOK_MODULES.values() for ex in m.EXERCISES]


def _imported_modules(path: pathlib.Path, package: str) -> set[str]:
    """Absolute names of the modules that ``path`` (a module of ``package``) imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{parent}.{base}" if base else parent
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def test_the_library_does_not_import_the_teaching_package():
    """The teaching package sits on top of the library: no module outside it imports it, neither in
    its source (any import statement, at any depth) nor at run time."""
    src = ROOT / "src" / "hessian_spectra"
    library, offenders = [], []
    for path in sorted(src.rglob("*.py")):
        parts = path.relative_to(src.parent).with_suffix("").parts
        if parts[1:2] == ("teaching",):
            continue
        module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        package = module if parts[-1] == "__init__" else module.rpartition(".")[0]
        library.append(module)
        imported = _imported_modules(path, package)
        if any(
            n == "hessian_spectra.teaching" or n.startswith("hessian_spectra.teaching.") for n in imported
        ):
            offenders.append(module)
    assert not offenders, f"these library modules import hessian_spectra.teaching: {offenders}"
    code = (
        "import importlib, sys\n"
        f"for name in {library!r}:\n"
        "    try:\n"
        "        importlib.import_module(name)\n"
        "    except ModuleNotFoundError as exc:  # an optional dependency that is not installed\n"
        "        if (exc.name or '').startswith('hessian_spectra'):\n"
        "            raise\n"
        "print('hessian_spectra.teaching' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "False", "importing the library imported hessian_spectra.teaching"
