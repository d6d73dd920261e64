"""Notebook 8's exercises (the edge of stability): an independent and a deliberately wrong solution for
each row, used by tests/test_exercises.py's checker tests (accepts the reference and the independent
solution, rejects the wrong one, reports a stub), and what their cases must cover."""

from __future__ import annotations

import numpy as np

from hessian_spectra.teaching import EXERCISES
from hessian_spectra.teaching import edge_of_stability as ex08

# --------------------------------------------------------------------------------------------
# Independent implementations (from the definitions, not from the library)
# --------------------------------------------------------------------------------------------


def ind_gd_on_quadratic(curvatures, lr, x0, steps):
    # GD itself, one step at a time: x ← x − η ∇(½ Σ λ_j x_j²) = x − η λ ⊙ x
    lam, x = np.asarray(curvatures, dtype=float), np.array(x0, dtype=float)
    rows = [x.copy()]
    for _ in range(steps):
        x = x - lr * lam * x
        rows.append(x.copy())
    return np.array(rows)


def ind_divergence_step_size(A):
    # the largest eigenvalue by SVD of the (positive semidefinite) matrix, not by eigvalsh
    return 2.0 / np.linalg.svd(np.asarray(A, dtype=float), compute_uv=False)[0]


def ind_sharpness_by_power_iteration(hvp, v0, n_iter):
    v = np.asarray(v0, dtype=float)
    for _ in range(n_iter):
        v = hvp(v / np.linalg.norm(v))  # normalize before the product instead of after
    v = v / np.linalg.norm(v)
    return float(v @ hvp(v))


def ind_edge_summary(steps, sharpness, lr, band, reach):
    threshold = 2.0 / lr
    crossing = -1
    for i, lam in enumerate(sharpness):
        if lam >= (1 - reach) * threshold:
            crossing = i
            break
    if crossing < 0:
        return {"crossing_index": -1, "sharpening": float("nan"), "fraction_in_band": float("nan")}
    later = [abs(lam / threshold - 1) <= band for lam in sharpness[crossing + 1 :]]
    return {
        "crossing_index": crossing,
        "sharpening": sharpness[crossing] / sharpness[0],
        "fraction_in_band": sum(later) / len(later) if later else float("nan"),
    }


INDEPENDENT_EX08 = {
    "ex08_1": ind_gd_on_quadratic,
    "ex08_2": ind_divergence_step_size,
    "ex08_3": ind_sharpness_by_power_iteration,
    "ex08_4": ind_edge_summary,
}

# --------------------------------------------------------------------------------------------
# Deliberately wrong implementations: one typical mistake each
# --------------------------------------------------------------------------------------------


def _wrong_gd_on_quadratic(curvatures, lr, x0, steps):  # a sign error: ascent, (1 + ηλ)^t
    t = np.arange(steps + 1)[:, None]
    return (1.0 + lr * np.asarray(curvatures))[None, :] ** t * np.asarray(x0)[None, :]


def _wrong_divergence_step_size(A):  # 1/λ_max: the step of Newton's method, not the stability limit
    return 1.0 / np.linalg.eigvalsh(np.asarray(A, dtype=float))[-1]


def _wrong_power_iteration(hvp, v0, n_iter):  # ‖Hv‖ of the unnormalized last iterate
    v = np.asarray(v0, dtype=float)
    for _ in range(n_iter - 1):
        v = hvp(v / np.linalg.norm(v))
    return float(np.linalg.norm(hvp(v)))


def _wrong_edge_summary(steps, sharpness, lr, band, reach):  # the crossing counted among the later points
    out = ind_edge_summary(steps, sharpness, lr, band, reach)
    i = out["crossing_index"]
    if i >= 0:
        rho = np.asarray(sharpness[i:]) * lr / 2
        out["fraction_in_band"] = float(np.mean(np.abs(rho - 1) <= band))
    return out


WRONG_EX08 = {
    "ex08_1": _wrong_gd_on_quadratic,
    "ex08_2": _wrong_divergence_step_size,
    "ex08_3": _wrong_power_iteration,
    "ex08_4": _wrong_edge_summary,
}


def test_notebook_8_tables_cover_its_exercises():
    """Every exercise of notebook 8 has an independent and a wrong solution here, named after it."""
    ids = [ex.id for ex in ex08.EXERCISES]
    assert ids == sorted(INDEPENDENT_EX08) == sorted(WRONG_EX08) == ["ex08_1", "ex08_2", "ex08_3", "ex08_4"]
    for eid in ids:
        assert INDEPENDENT_EX08[eid].__name__ == f"ind_{EXERCISES[eid].name}"


def test_the_cases_reach_the_regimes_the_exercises_are_about():
    """ex08_1's cases include curvatures beyond 2/η and below 0 (|1 − ηλ| > 1) and one exactly at 2/η; ex08_3's include
    a dominant negative eigenvalue; ex08_4's include a trace without a crossing and one whose crossing
    is its last measurement."""
    rng = np.random.default_rng(0)
    eta_lam = np.concatenate([c.args[1] * np.asarray(c.args[0]) for c in ex08._quadratic_cases(rng)])
    assert np.any(eta_lam > 2.0) and np.any(eta_lam < 0.0) and np.any(eta_lam == 2.0)
    descriptions = " | ".join(c.description for c in ex08._power_cases(np.random.default_rng(0)))
    assert "−6" in descriptions
    summaries = [ex08.edge_summary(*c.args) for c in ex08._trace_cases(np.random.default_rng(0))]
    assert any(s["crossing_index"] == -1 for s in summaries)
    assert any(s["crossing_index"] >= 0 and np.isnan(s["fraction_in_band"]) for s in summaries)
