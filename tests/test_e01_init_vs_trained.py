"""E1 (S18 Fig. 1): the spectrum at init and after GD, its checks, and the two spectrum routes."""

import json

import numpy as np
import pytest

from hessian_spectra.experiments import e01_init_vs_trained as e01
from hessian_spectra.experiments import runner

#: Tiny sizes (seconds): 3 clusters in 10 dimensions, 10-6-6-3 (P = 129) on 30 points, 60 GD steps.
TINY = {"clusters": 3, "dim": 10, "hidden": [6, 6], "n_samples": 30, "steps": 60}


def _context(tmp_path, overrides, seed=0):
    exp = e01.EXPERIMENT
    return runner.Context(exp, str(tmp_path), True, seed, False, exp.config(True, overrides))


def _numbers(init=(-0.1, 0.2), trained_min=-1e-4, top=None, k=5):
    """Fabricated E1 numbers around a trained top spectrum (default: k outliers ×5 above a bulk)."""
    if top is None:
        top = np.concatenate([np.linspace(1.0, 0.6, k), np.geomspace(0.1, 1e-3, 2 * k + 5)])
    trained = {"top": list(top), "bottom": [trained_min], "max": float(top[0]), "min": trained_min}
    trained.update(e01.trained_outliers(top, k))
    return {
        "k": k,
        "init": {"top": [init[1]], "bottom": [init[0]], "max": init[1], "min": init[0]},
        "trained": trained,
        "training": {"steps_run": 100, "converged": False},
    }


def test_trained_outliers_on_a_planted_spectrum():
    """Five outliers in [0.6, 1] above a bulk starting at 0.1: the ratio count (j ≥ 2) and the
    threshold count are 5, λ_k/λ_k+1 = 0.6/0.1, and λ_2k+1/λ_max is the 11th value over the first;
    fewer than 2k + 1 eigenvalues are refused."""
    top = np.concatenate([np.linspace(1.0, 0.6, 5), np.geomspace(0.1, 1e-3, 15)])
    out = e01.trained_outliers(top, 5)
    assert out["count_ratio"] == 5 and out["count_threshold"] == 5
    assert out["ratio_k"] == pytest.approx(6.0)
    assert out["bulk_rank_to_top"] == pytest.approx(top[10] / top[0])
    with pytest.raises(ValueError, match="2k"):
        e01.trained_outliers(top[:10], 5)


def test_e1_verdict_follows_the_numbers():
    """All four checks hold on the planted numbers → reproduced; an init without comparable negatives
    and a trained count of 1 (one isolated λ₁ ×20 above a smooth tail) → partly; a trained spectrum
    with large negatives and a bulk above 5 % of λ_max as well → not."""
    assert runner.grade(e01.judge(_numbers())[1]) == "reproduced"
    smooth = np.concatenate([[20.0], np.geomspace(1.0, 0.9, 15)])
    checks = e01.judge(_numbers(init=(-0.01, 0.2), top=smooth))[1]
    assert checks == {
        "init has both signs": False,
        "trained negatives small": True,
        "trained bulk at zero": True,
        "outlier count k or k − 1": False,
    }
    assert runner.grade(checks) == "partly"
    flat = np.concatenate([[1.0], np.geomspace(0.8, 0.5, 15)])
    assert runner.grade(e01.judge(_numbers(init=(-0.01, 0.2), trained_min=-0.2, top=flat))[1]) == "not"


def test_dense_and_lanczos_routes_give_the_same_checked_numbers(tmp_path):
    """The full run's dense spectra (fast engine + eigh) and the quick run's matrix-free Lanczos
    extremes are two routes to the same numbers: at tiny sizes every number the checks read (the
    extremes at init, the top 2k + 1 and the minimum after training) agrees to 1e-8 of λ_max
    (Lanczos residuals ≈ 2·1e-5·‖H‖, an isolated eigenvalue's error below residual²/gap)."""
    dense = e01.compute(_context(tmp_path / "d", {**TINY, "spectra": "dense"}))
    mf = e01.compute(_context(tmp_path / "l", {**TINY, "spectra": "lanczos"}))
    assert len(dense["eigenvalues_init"]) == dense["n_params"] == 129
    for when in ("init", "trained"):
        scale = dense[when]["max"]
        n = len(mf[when]["top"])
        np.testing.assert_allclose(mf[when]["top"], dense[when]["top"][:n], rtol=0, atol=1e-8 * scale)
        np.testing.assert_allclose(mf[when]["bottom"], dense[when]["bottom"], rtol=0, atol=1e-8 * scale)
    assert e01.judge(mf)[1] == e01.judge(dense)[1]
    json.dumps(dense)


def test_compute_plots_both_modes(tmp_path):
    """At tiny sizes compute() and plot() run for both spectrum routes and write the figure; an
    unknown route is refused naming the setting."""
    for how in ("lanczos", "dense"):
        ctx = _context(tmp_path / how, {**TINY, "spectra": how})
        e01.plot(ctx, e01.compute(ctx))
        assert (tmp_path / how / "E1" / "fig1_init_vs_trained.png").exists()
    with pytest.raises(ValueError, match="spectra"):
        e01.compute(_context(tmp_path / "x", {**TINY, "spectra": "slq"}))
