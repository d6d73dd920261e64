"""E13 — the gradient in the top-C Hessian subspace (Gur-Ari, Roberts & Dyer, 2018).

The measurements are checked against dense routes at small P (the exact Hessian assembled in closed
form and diagonalized by ``eigh``; Papyan's class means from per-sample Jacobians; a plain GD loop for
the checkpoints; the SGD update itself for the minibatch gradient), and the verdict against
fabricated numbers.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from hessian_spectra import Objective, mlp, spectrum, training
from hessian_spectra.curvature import curvature_matrices, papyan
from hessian_spectra.experiments import e13_gradient_subspace as e13
from hessian_spectra.experiments import get_experiment, runner

TINY = {
    "runs": [["blobs", "gd"], ["blobs", "sgd"], ["mnist", "sgd"]],
    "blobs": {"n_samples": 60, "n_classes": 3, "dim": 5, "spread": 1.0, "hidden": [6]},
    "mnist": {"n_samples": 40, "hidden": [2]},
    "steps": 40,
    "checkpoints": [0, 10, 20, 30, 40],
    "batch_size": 10,
    "record_every": 10,
    "from_step": 10,
    "delta": 10,
}


def _context(tmp_path, overrides=TINY, seed=0):
    exp = e13.EXPERIMENT
    return runner.Context(exp, str(tmp_path), True, seed, False, exp.config(True, overrides))


def _dense_top(obj, w, k):
    """Top-k eigenpairs (descending) of the exact H, assembled in closed form and diagonalized densely."""
    H = curvature_matrices(obj, w, ("H",), engine="fast")["H"]
    vals, vecs = np.linalg.eigh(H)
    return vals[::-1][: k + 1], vecs[:, ::-1][:, :k]


def _davis_kahan(vals_dense, k):
    """A bound on the error of a fraction or overlap in the top-k space computed from Lanczos pairs
    with residuals ≤ tol·‖H‖: sin θ ≤ √k · tol·‖H‖ / (λ_k − λ_{k+1}) (Davis & Kahan, 1970), and a
    squared-norm fraction moves by at most 2 sin θ; plus 1e-10 of round-off."""
    gap = vals_dense[k - 1] - vals_dense[k]
    return 2 * np.sqrt(k) * e13.LANCZOS_TOL * abs(vals_dense[0]) / max(gap, 1e-300) + 1e-10


def _trained_blobs(steps=150, seed=3):
    from hessian_spectra import data

    ds = data.blobs(n_samples=90, n_clusters=3, dim=4, seed=seed)
    sizes = (4, 6, 5, 3)
    obj = Objective(ds.X, ds.y, sizes, "tanh", "cross_entropy")
    w = mlp.init_params(sizes, "normal", seed=seed, scale=0.5)
    return obj, training.train(obj, w, lr=0.3, steps=steps, progress=False).params


# --------------------------------------------------------------------------------------------
# One checkpoint's measurements against dense routes
# --------------------------------------------------------------------------------------------


def test_measure_matches_dense_eigenvectors_and_per_sample_class_means():
    """At a trained point of a small network (P = 83): the Lanczos fractions f_k of the gradient
    equal those from the dense eigenvectors of the exact H within the Davis-Kahan bound of the
    Lanczos tolerance, at every k whose gap allows a bound below 1 %; the fraction in span{δ_c} and
    the overlap of the top-C space with it equal those from Papyan's per-sample route."""
    obj, w = _trained_blobs()
    C, k_max = obj.n_classes, 2 * obj.n_classes
    m = e13.measure(obj, w, k_max, seed=0)
    vals, vecs = _dense_top(obj, w, k_max)
    g = obj.gradient(w)
    dense_f = np.cumsum((vecs.T @ g) ** 2) / (g @ g)
    tested = 0
    for k in range(1, k_max + 1):
        bound = _davis_kahan(vals, k)
        if bound < 0.01:
            assert abs(m["fraction_H"][k - 1] - dense_f[k - 1]) <= bound, (k, bound)
            tested += 1
    assert tested >= 3 and _davis_kahan(vals, C) < 0.01  # k = C itself is among the tested
    assert np.allclose(m["eigenvalues"], vals[:k_max], rtol=0, atol=10 * e13.LANCZOS_TOL * vals[0])
    Q1 = scipy.linalg.orth(papyan.class_means(obj, w, method="autograd").delta_c.T)
    f_g1 = float(np.sum((Q1.T @ g) ** 2) / (g @ g))
    assert m["fraction_G1"] == pytest.approx(f_g1, abs=1e-10)
    assert m["overlap_H_G1"] == pytest.approx(
        float(np.linalg.norm(Q1.T @ vecs[:, :C]) ** 2 / min(C, Q1.shape[1])), abs=_davis_kahan(vals, C)
    )
    assert m["rank_G1"] == Q1.shape[1]


def test_minibatch_at_gives_the_batch_sgd_applied():
    """The minibatch the experiment attributes to step t is the one train() used: its gradient at
    w_t equals (w_t − w_{t+1}) / η, the update itself."""
    obj, w0 = _trained_blobs(steps=0)
    lr, batch, seed, steps = 0.2, 7, 123, 25
    res = training.train(
        obj, w0, optimizer="sgd", lr=lr, steps=steps, batch_size=batch, shuffle=True, seed=seed,
        snapshot_steps=range(steps + 1), progress=False,
    )  # fmt: skip
    batches = e13.minibatch_at(obj.n_samples, batch, seed, [0, 3, 13, 24])
    from autograd import grad

    for t, idx in batches.items():
        g_b = grad(obj.batch_loss)(res.snapshots[t], obj.X[idx], obj.y[idx])
        update = (res.snapshots[t] - res.snapshots[t + 1]) / lr
        assert np.allclose(g_b, update, rtol=1e-12, atol=1e-14), t


# --------------------------------------------------------------------------------------------
# The experiment at tiny sizes
# --------------------------------------------------------------------------------------------


def test_compute_at_tiny_sizes_follows_the_trajectory(tmp_path):
    """compute() at tiny sizes: the checkpoints are the GD iterates of a plain loop w ← w − η∇L
    (same data and initial point), the fractions lie in [0, 1] and grow with k, and the overlap of
    the top-C spaces Δ apart equals the one from dense eigenvectors at the two checkpoints (within
    the Davis-Kahan bound); the minibatch fractions are recorded for SGD only."""
    ctx = _context(tmp_path)
    numbers = e13.compute(ctx)
    assert set(numbers["runs"]) == {"blobs_gd", "blobs_sgd", "mnist_sgd"}
    r = numbers["runs"]["blobs_gd"]
    obj, w = e13.problem(ctx, "blobs")
    C = obj.n_classes
    snapshots = {0: w.copy()}
    for t in range(1, TINY["steps"] + 1):
        w = w - 0.1 * obj.gradient(w)
        snapshots[t] = w.copy()
    steps = r["steps"]
    assert steps == TINY["checkpoints"]
    for t, loss in zip(steps, r["loss"], strict=True):
        assert loss == pytest.approx(float(obj.loss_value(snapshots[t])), rel=1e-10)
    for run in numbers["runs"].values():
        f = np.asarray(run["fraction_H"])
        assert f.shape == (len(steps), 2 * run["n_classes"])
        assert np.all((f >= -1e-12) & (f <= 1 + 1e-12)) and np.all(np.diff(f, axis=1) >= -1e-12)
        assert ("fraction_H_batch" in run) == (run["optimizer"] == "sgd")
    assert r["pair_from"] == [0, 10, 20, 30] and r["pair_to"] == [10, 20, 30, 40]
    for a, b, overlap in zip(r["pair_from"], r["pair_to"], r["pair_overlap"], strict=True):
        (va, Va), (vb, Vb) = _dense_top(obj, snapshots[a], C), _dense_top(obj, snapshots[b], C)
        dense = spectrum.subspace_overlap(Va, Vb)
        assert overlap == pytest.approx(dense, abs=_davis_kahan(va, C) + _davis_kahan(vb, C)), (a, b)
    assert r["ref_steps"] == [10, 20, 30, 40] and r["ref_overlap"][0] == pytest.approx(1.0, abs=1e-10)


def test_compute_caches_each_run_and_plots(tmp_path):
    """A second compute() reads every run back from disk, with the same numbers; plot() writes the
    two figures."""
    ctx = _context(tmp_path, {**TINY, "runs": [["blobs", "gd"], ["blobs", "sgd"]]})
    first = e13.compute(ctx)
    assert len(ctx.computed) == 2
    ctx2 = _context(tmp_path, {**TINY, "runs": [["blobs", "gd"], ["blobs", "sgd"]]})
    second = e13.compute(ctx2)
    assert len(ctx2.loaded) == 2 and not ctx2.computed
    assert second["runs"]["blobs_sgd"]["fraction_H"] == first["runs"]["blobs_sgd"]["fraction_H"]
    e13.plot(ctx, first)
    for name in ("fig1_gradient_in_top_subspace", "fig_top_subspace_overlap"):
        assert (tmp_path / "E13" / f"{name}.png").stat().st_size > 10_000


def test_registered():
    """E13 is in the registry under its id and slug."""
    assert get_experiment("E13") is e13.EXPERIMENT and get_experiment("gradient_subspace").id == "E13"


# --------------------------------------------------------------------------------------------
# The verdict, on fabricated numbers
# --------------------------------------------------------------------------------------------


def fake_run(data, optimizer, C, f_C, overlaps, steps=(0, 10, 25, 50, 100, 200, 300)):
    """A run whose fraction in the top-C space at the checkpoints is ``f_C`` (smaller k get half of
    it, larger k slightly more) and whose top-C spaces 100 steps apart overlap by ``overlaps``."""
    steps = list(steps)
    f = np.zeros((len(steps), 2 * C))
    for i, v in enumerate(f_C):
        f[i, : C - 1] = np.linspace(0.1, 0.5, C - 1) * v
        f[i, C - 1 :] = np.minimum(1.0, v + np.linspace(0, 0.05, C + 1))
    run = {
        "data": data,
        "optimizer": optimizer,
        "n_classes": C,
        "n_params": 1000,
        "steps": steps,
        "fraction_H": f.tolist(),
        "fraction_G1": [0.9] * len(steps),
        "overlap_H_G1": [0.8] * len(steps),
        "n_converged": [2 * C] * len(steps),
        "pair_from": steps[:-1],
        "pair_to": steps[1:],
        "pair_overlap": list(overlaps),
        "ref_steps": steps[1:],
        "ref_overlap": [0.5] * (len(steps) - 1),
        "eigenvalues": np.tile(np.linspace(2, 0.1, 2 * C), (len(steps), 1)).tolist(),
    }
    if optimizer == "sgd":
        run["fraction_H_batch"] = (0.5 * f).tolist()
        run["fraction_G1_batch"] = [0.5] * len(steps)
    return run


def fake_numbers(**changes):
    good_f, good_o = [0.1] * 4 + [0.9, 0.95, 0.93], [0.1] * 4 + [0.9, 0.92]
    runs = {}
    for data, C in (("blobs", 5), ("mnist", 10)):
        for opt in ("gd", "sgd"):
            key = f"{data}_{opt}"
            f, o = changes.get(key, (good_f, good_o))
            runs[key] = fake_run(data, opt, C, f, o)
    return {"from_step": 100, "delta": 100, "steps": 300, "runs": runs}


def _check(checks, prefix):
    (name,) = [k for k in checks if k.startswith(prefix)]
    return checks[name]


def test_verdict_holds_on_good_numbers():
    """Fractions ≥ 0.8 after step 100 and overlaps ≥ 0.5 there: all three checks hold; what happens
    before step 100 (f = 0.1 at four checkpoints, overlaps 0.1) does not count."""
    ours, checks, values = e13.judge(fake_numbers())
    assert len(checks) == 3 and all(checks.values())
    assert runner.grade(checks) == "reproduced"
    assert list(values)[:4] == ["MNIST f_C, GD", "MNIST f_C, SGD", "blobs f_C, GD", "min overlap(t, t+Δ)"]
    assert values["min overlap(t, t+Δ)"] == pytest.approx(0.9)
    assert values["MNIST f_C, GD"] == pytest.approx(0.93)
    assert "MNIST" in ours and "blobs" in ours


def test_verdict_uses_the_median_after_the_stated_step():
    """One checkpoint below the level does not fail the fraction check (the median is the rule);
    a median below 0.8 in one run of a data set fails that data set's check only."""
    dip = ([0.1] * 4 + [0.3, 0.95, 0.93], [0.1] * 4 + [0.9, 0.92])  # median 0.93, mean 0.73
    _, checks, _ = e13.judge(fake_numbers(mnist_sgd=dip))
    assert all(checks.values())
    low = ([0.1] * 4 + [0.7, 0.75, 0.96], [0.1] * 4 + [0.9, 0.92])  # median 0.75
    for run in ("mnist_gd", "mnist_sgd"):  # either optimizer's run alone fails the data set's check
        _, checks, values = e13.judge(fake_numbers(**{run: low}))
        assert not _check(checks, "MNIST") and _check(checks, "blobs") and _check(checks, "overlap")
        assert values[f"MNIST f_C, {run[6:].upper()}"] == pytest.approx(0.75)
        assert runner.grade(checks) == "partly"


def test_verdict_overlap_must_stay_above_the_level_in_every_run():
    """A single pair (t, t + Δ) with t ≥ 100 below 0.5, in any run, fails the overlap check."""
    dip = ([0.1] * 4 + [0.9, 0.95, 0.93], [0.1] * 4 + [0.9, 0.45])
    _, checks, values = e13.judge(fake_numbers(blobs_sgd=dip))
    assert not _check(checks, "overlap") and _check(checks, "MNIST") and _check(checks, "blobs")
    assert values["min overlap(t, t+Δ)"] == pytest.approx(0.45)


def test_verdict_constants_are_the_stated_ones():
    """The rule's constants, fixed before the runs, are those the rule text and the configurations
    state (a change must be deliberate)."""
    assert (e13.FRACTION_LEVEL, e13.FROM_STEP, e13.DELTA, e13.OVERLAP_LEVEL) == (0.8, 100, 100, 0.5)
    for mode in ("quick", "full"):
        cfg = e13.EXPERIMENT.config(mode == "quick")
        assert cfg["from_step"] == e13.FROM_STEP and cfg["delta"] == e13.DELTA
        assert all(
            t + e13.DELTA in cfg["checkpoints"]
            for t in cfg["checkpoints"]
            if e13.FROM_STEP <= t < cfg["steps"]
        )
    assert "0.8" in e13.EXPERIMENT.rule and "0.5" in e13.EXPERIMENT.rule
