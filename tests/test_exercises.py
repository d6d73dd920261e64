"""The course exercises' checkers (hessian_spectra.exercises) are trustworthy.

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

import importlib.util
import os

import autograd
import autograd.numpy as anp
import numpy as np
import pytest
from scipy.linalg import eigh_tridiagonal

from hessian_spectra import exercises
from hessian_spectra.exercises import EXERCISES

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
    V = np.asarray(vectors)
    return np.linalg.eigvalsh(V @ V.T)


def ind_g1_eigenvalues_from_gram(means):
    C = means.delta_c.shape[0]
    V = np.sqrt((C - 1) * means.class_weights)[:, None] * means.delta_c
    return np.linalg.eigvalsh(V @ V.T)


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
    return sigma2 * (1 - alpha**0.5) ** 2, sigma2 * (1 + alpha**0.5) ** 2


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
    if len(alpha) == 1:
        return np.array(alpha, dtype=float), np.ones(1)
    nodes, U = eigh_tridiagonal(alpha, beta)
    return nodes, U[0] ** 2


def ind_smoothed_density(nodes, weights, grid, sigma2):
    nodes, weights = np.atleast_2d(nodes), np.atleast_2d(weights)
    out = np.zeros_like(grid)
    for th_l, w_l in zip(nodes, weights, strict=True):
        for th, w in zip(th_l, w_l, strict=True):
            out += w * np.exp(-((grid - th) ** 2) / (2 * sigma2)) / np.sqrt(2 * np.pi * sigma2)
    return out / nodes.shape[0]


INDEPENDENT = {eid: globals()[f"ind_{ex.name}"] for eid, ex in EXERCISES.items()}

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
}


def _by_exercise(ids=None):
    return [pytest.param(eid, marks=getattr(pytest.mark, eid), id=eid) for eid in (ids or EXERCISES)]


def test_every_exercise_has_an_independent_and_a_wrong_solution():
    """The tables of this file cover the registry exactly (a new exercise needs both)."""
    assert set(INDEPENDENT) == set(EXERCISES) == set(WRONG)


@pytest.mark.parametrize("exercise_id", _by_exercise())
def test_checker_accepts_the_reference_solution(exercise_id, capsys):
    """The library's own function passes its exercise's checker, which prints a ✔ line."""
    ex = EXERCISES[exercise_id]
    assert ex.checker(ex.solution) is True
    assert capsys.readouterr().out.startswith(f"✔ {exercise_id} {ex.name}")


@pytest.mark.parametrize("exercise_id", _by_exercise())
def test_checker_accepts_an_independent_solution(exercise_id, capsys):
    """A from-scratch implementation (loops, autograd Jacobians, QR instead of SVD, ...) passes too:
    the checker's tolerances ask for the right answer, not for the library's arithmetic."""
    ok = EXERCISES[exercise_id].checker(INDEPENDENT[exercise_id])
    assert ok is True, capsys.readouterr().out


@pytest.mark.parametrize("exercise_id", _by_exercise())
def test_checker_rejects_a_wrong_solution(exercise_id, capsys):
    """A typical mistake (a forgotten factor, a sign, an off-by-one, no reorthogonalization, ...) is
    caught, and the message names the failing input and gives the hint."""
    ok = EXERCISES[exercise_id].checker(WRONG[exercise_id])
    out = capsys.readouterr().out
    assert ok is False
    assert out.startswith(f"✘ {exercise_id}") and "test input" in out and "Hint:" in out


@pytest.mark.parametrize("exercise_id", _by_exercise())
def test_checker_reports_a_stub_as_not_implemented(exercise_id, capsys):
    """A stub that raises NotImplementedError is reported as such (not as a crash) and fails."""

    def stub(*args):
        raise NotImplementedError

    assert EXERCISES[exercise_id].checker(stub) is False
    assert "not implemented yet" in capsys.readouterr().out


@pytest.mark.parametrize("exercise_id", _by_exercise())
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
    ok = EXERCISES[exercise_id].checker(getattr(module, name))
    assert ok, capsys.readouterr().out


# --------------------------------------------------------------------------------------------
# The comparison messages
# --------------------------------------------------------------------------------------------


def test_compare_arrays_names_shape_factor_sign_and_transpose():
    """compare_arrays explains the common whole-array mistakes in words and lists the worst entries."""
    rng = np.random.default_rng(0)
    e = rng.standard_normal((4, 4))
    assert exercises.compare_arrays(e + 1e-14, e, 1e-10, 0.0) is None
    assert "shape (4, 3)" in exercises.compare_arrays(e[:, :3], e, 1e-10, 0.0)
    assert "times 0.5" in exercises.compare_arrays(0.5 * e, e, 1e-10, 0.0)
    assert "minus the expected" in exercises.compare_arrays(-e, e, 1e-10, 0.0)
    assert "transpose" in exercises.compare_arrays(e.T, e, 1e-10, 0.0)
    bad = e.copy()
    bad[2, 1] += 1.0
    msg = exercises.compare_arrays(bad, e, 1e-10, 0.0)
    assert "1 of 16 entries" in msg and "at index (2, 1)" in msg
    nan = e.copy()
    nan[0, 3] = np.nan
    assert "non-finite" in exercises.compare_arrays(nan, e, 1e-10, 0.0)


def test_checker_reports_an_exception_with_the_failing_line(capsys):
    """A student function that crashes is reported with the exception and its line, not raised."""

    def broken(logits):
        return logits @ anp.ones(99)

    assert exercises.check_softmax_logit_hessian(broken) is False
    out = capsys.readouterr().out
    assert "raised ValueError" in out and "logits @ anp.ones(99)" in out


def test_registry_lookups():
    """check() and reference_solution() dispatch on the id and reject unknown ids with a ValueError."""
    assert exercises.reference_solution("ex02_3") is EXERCISES["ex02_3"].solution
    assert exercises.check("ex01_1", INDEPENDENT["ex01_1"], verbose=False) is True
    with pytest.raises(ValueError, match="exercise_id"):
        exercises.reference_solution("ex99_9")
    checker, solution = EXERCISES["ex05_2"]  # an Exercise unpacks as (checker, reference solution)
    assert (
        checker is exercises.check_marchenko_pastur_density
        and solution.__name__ == "marchenko_pastur_density"
    )
