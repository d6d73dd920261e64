"""`hessian-spectra reproduce`: the papers' claims that must hold at small sizes, resume, verdicts, CLI.

Every experiment runs through the same code as `reproduce --quick`, with sizes overridden to keep
this file fast (the claims are checked at test sizes, stated in each test).
"""

import json
import os

import numpy as np
import pytest

from hessian_spectra import cli, landscape, mlp, training
from hessian_spectra import data as hs_data
from hessian_spectra.experiments import EXPERIMENTS, get_experiment, run, run_all, runner
from hessian_spectra.experiments import e03_width_sweep as e03
from hessian_spectra.experiments import e06_random_inits as e06
from hessian_spectra.experiments import e07_small_vs_large_batch as e07
from hessian_spectra.objective import Objective


def _context(exp, tmp_path, overrides, seed=0):
    return runner.Context(exp, str(tmp_path), True, seed, False, exp.config(True, overrides))


# --------------------------------------------------------------------------------------------
# The claims the issue asks to check (S18 Table 1, Fig. 3, Fig. 6)
# --------------------------------------------------------------------------------------------


def test_width_leaves_top_eigenvalues_and_grows_the_zeros(tmp_path):
    """S18 Fig. 3 on 300 digits, 64-h-10 for h = 10, 30, 50 (same lr 0.1, 1,000 GD steps): each of the
    top-10 eigenvalues varies across widths by less than ×2 (E3's TOP10_FACTOR), while the number of
    eigenvalues with |λ| ≤ 1e-3·λ_max strictly grows with P."""
    ctx = _context(e03.EXPERIMENT, tmp_path, {"widths": [10, 30, 50], "n_samples": 300, "steps": 1000})
    ds = e03.load_data(ctx)
    rows = [e03.width_point(ctx, h, ds) for h in (10, 30, 50)]
    spread = e03.top10_spread(rows)
    near = [r["n_near_zero"] for r in rows]
    assert spread < e03.TOP10_FACTOR, ([r["top"][:10] for r in rows], spread)
    assert near[0] < near[1] < near[2], near


@pytest.mark.xfail(
    strict=True,
    reason="measured: the training loss rises from 0.0116 (the worse endpoint) to 0.0144 between the two "
    "points at these sizes (+24 %, margin 10 % + 1e-3), and by +29 % in the quick E7 run; accuracy stays 100 %. "
    "See docs/reproduce.md, E7.",
)
def test_no_barrier_between_small_and_large_batch(tmp_path):
    """S18 Sec. 3.3: from one initial point, SGD with batch 10 and batch 100 (same lr 0.1, same 1,500
    steps; 300 digits, 64-16-16-10 ReLU) reach points whose connecting line has no barrier: the training
    loss on α ∈ [0, 1] never exceeds the larger endpoint loss by more than 10 % of it plus 1e-3."""
    ctx = _context(
        e07.EXPERIMENT,
        tmp_path,
        {"n_samples": 300, "n_test": 100, "hidden": [16, 16], "steps": 1500, "large_batch": 100},
    )
    prob = e07.problem(ctx)
    sb, lb = (e07.endpoint(ctx, w, prob) for w in ("sb", "lb"))
    alphas = np.linspace(0, 1, 21)
    line = landscape.loss_on_line(prob[0], sb["params"], lb["params"], alphas)
    worse = max(line["train_loss"][0], line["train_loss"][-1])
    assert max(line["train_loss"]) <= worse * (1 + landscape.NO_BARRIER_REL) + landscape.NO_BARRIER_ABS, line
    assert landscape.barrier(line["alpha"], line["train_loss"])["none"]


# --------------------------------------------------------------------------------------------
# Resume, caching, records
# --------------------------------------------------------------------------------------------

_E5_TINY = {"stds": [0.2, 0.6, 1.0], "widths": [4], "steps": 200}


def test_interrupted_sweep_recomputes_only_the_missing_point(tmp_path):
    """A sweep whose point files are all present recomputes nothing; after deleting one point file,
    the rerun computes exactly that point, reads the others back, and gives the same numbers."""
    rec1 = run("E5", tmp_path, quick=True, progress=False, overrides=_E5_TINY, n_seeds=1)
    assert (rec1["points_computed"], rec1["points_loaded"]) == (3, 0)
    first = json.loads((tmp_path / "E5" / "seed-0" / "numbers.json").read_text())
    rec2 = run("E5", tmp_path, quick=True, progress=False, overrides=_E5_TINY, n_seeds=1)
    assert (rec2["points_computed"], rec2["points_loaded"]) == (0, 3)
    ctx = _context(get_experiment("E5"), tmp_path, _E5_TINY)
    jpath, npath = ctx.point_paths("h=4_std=0.6")
    os.remove(jpath)
    mtimes = {p: os.path.getmtime(p) for p in (tmp_path / "E5" / "seed-0" / "points").glob("*.json")}
    rec3 = run("E5", tmp_path, quick=True, progress=False, overrides=_E5_TINY, n_seeds=1)
    assert (rec3["points_computed"], rec3["points_loaded"]) == (1, 2)
    assert all(os.path.getmtime(p) == t for p, t in mtimes.items())  # the others were not rewritten
    again = json.loads((tmp_path / "E5" / "seed-0" / "numbers.json").read_text())
    assert again["points"] == first["points"]


@pytest.mark.parametrize("damage", ["empty npz", "truncated npz", "flipped byte", "empty json"])
def test_a_corrupt_cached_point_is_recomputed_with_a_warning(tmp_path, damage):
    """A cached point whose files are empty, truncated or corrupt (BadZipFile, EOFError, a bad JSON)
    is recomputed with a warning naming the file, not a crash on every rerun; the numbers are the
    same as before the damage."""
    ctx = _context(get_experiment("E5"), tmp_path, _E5_TINY)
    value = {"x": np.arange(5.0), "y": 2}
    ctx.point("p", {"a": 1}, lambda: value)
    jpath, npath = ctx.point_paths("p")
    if damage == "empty npz":
        open(npath, "wb").close()
    elif damage == "truncated npz":
        data = open(npath, "rb").read()
        open(npath, "wb").write(data[: len(data) // 2])
    elif damage == "flipped byte":
        data = bytearray(open(npath, "rb").read())
        data[len(data) // 2] ^= 0xFF
        open(npath, "wb").write(bytes(data))
    else:
        open(jpath, "w").close()
    calls = []
    with pytest.warns(UserWarning, match="recomputing"):
        out = ctx.point("p", {"a": 1}, lambda: calls.append(1) or value)
    assert calls == [1] and out["y"] == 2 and np.array_equal(out["x"], value["x"])
    out = ctx.point("p", {"a": 1}, lambda: calls.append(1) or value)  # repaired: read back
    assert calls == [1] and np.array_equal(out["x"], value["x"])


def test_seeds_run_apart_and_the_verdict_counts_them(tmp_path):
    """Each seed has its own folder, data and numbers; the record gives, per check, on how many
    seeds it holds, and per value the median and range over the seeds."""
    rec = run("E5", tmp_path, quick=True, progress=False, overrides=_E5_TINY, n_seeds=2)
    a, b = (json.loads((tmp_path / "E5" / f"seed-{s}" / "numbers.json").read_text()) for s in (0, 1))
    assert a["points"] != b["points"]  # each seed draws its own data and initial points
    assert rec["seeds"] == [0, 1]
    for c in rec["checks"].values():
        assert c["n_seeds"] == 2 and len(c["per_seed"]) == 2
        assert c["holds"] == (sum(c["per_seed"]) >= runner.SEED_QUORUM * 2)
    for v in rec["values"].values():
        xs = v["per_seed"]
        assert v["min"] == min(xs) and v["max"] == max(xs) and v["median"] == pytest.approx(np.median(xs))


def test_another_mode_into_the_same_folder_is_refused(tmp_path):
    """A full run into a folder that holds a quick run of the same experiment would mix the two:
    it is refused with a message naming the folder and --out, and nothing is overwritten."""
    run("E5", tmp_path, quick=True, progress=False, overrides=_E5_TINY, n_seeds=1)
    before = (tmp_path / "E5" / "config.json").read_text()
    with pytest.raises(ValueError, match="--out"):
        run("E5", tmp_path, quick=False, progress=False, overrides=_E5_TINY, n_seeds=1)
    assert (tmp_path / "E5" / "config.json").read_text() == before


def test_aggregate_seeds_applies_the_quorum():
    """A per-seed check holds when it holds on ≥ 80 % of the seeds (4 of 5, 3 of 3); checks across
    seeds count as computed; the verdict grades the held checks."""
    seeds = [{"checks": {"a": i < 4, "b": i < 3}, "values": {"v": float(i)}} for i in range(5)]
    agg = runner.aggregate_seeds(seeds)
    assert agg["checks"]["a"]["holds"] and not agg["checks"]["b"]["holds"]
    assert agg["verdict"] == "partly"
    assert agg["values"]["v"]["median"] == 2.0 and agg["values"]["v"]["max"] == 4.0
    agg = runner.aggregate_seeds(seeds[:3], ({"c": True}, {"w": 1.5}))
    assert agg["checks"]["a"]["holds"] and agg["checks"]["b"]["holds"] and agg["checks"]["c"]["holds"]
    assert agg["verdict"] == "reproduced" and agg["values"]["w"]["median"] == 1.5


def test_cached_point_is_not_reused_when_its_settings_change(tmp_path):
    """A point file is reused only for the settings it was computed with."""
    ctx = _context(get_experiment("E5"), tmp_path, _E5_TINY)
    calls = []
    ctx.point("p", {"a": 1}, lambda: calls.append(1) or {"x": np.arange(3.0), "y": 1})
    out = ctx.point("p", {"a": 1}, lambda: calls.append(1) or {"x": np.arange(3.0), "y": 1})
    assert len(calls) == 1 and out["y"] == 1 and np.array_equal(out["x"], np.arange(3.0))
    ctx.point("p", {"a": 2}, lambda: calls.append(1) or {"x": np.arange(3.0), "y": 2})
    assert len(calls) == 2


def test_experiment_folder_holds_figure_numbers_and_config(tmp_path):
    """Each run writes its PNG figure(s), numbers.json, config.json and record.json; the figure
    is a PNG and the config records the sizes used."""
    run("E5", tmp_path, quick=True, progress=False, overrides=_E5_TINY, n_seeds=1)
    folder = tmp_path / "E5"
    pngs = list(folder.glob("*.png"))
    assert pngs and all(p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for p in pngs)
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["config"]["stds"] == _E5_TINY["stds"] and cfg["mode"] == "quick"
    rec = json.loads((folder / "record.json").read_text())
    assert rec["verdict"] in runner.VERDICTS


# --------------------------------------------------------------------------------------------
# Verdicts come from the numbers
# --------------------------------------------------------------------------------------------


def test_e3_verdict_follows_the_numbers():
    """E3: top-10 within ×2 and growing near-zero counts → reproduced; a width whose top eigenvalues
    are 3 times larger → partly; additionally shrinking zero counts → not."""
    top = list(np.linspace(1.0, 0.1, 10))
    rows = [
        {"h": h, "top": top, "n_near_zero": z, "max": 1.0, "n_above_paper_level": 10}
        for h, z in ((10, 100), (30, 300))
    ]
    assert runner.grade(e03.judge({"widths": rows})[1]) == "reproduced"
    rows[1]["top"] = [3 * v for v in top]
    assert runner.grade(e03.judge({"widths": rows})[1]) == "partly"
    rows[1]["n_near_zero"] = 50
    assert runner.grade(e03.judge({"widths": rows})[1]) == "not"


def test_grade_and_summary_table():
    """grade(): all checks → reproduced, at least half → partly, else not; summary.md lists each
    record's verdict and rule in a Markdown table."""
    assert runner.grade({"a": True, "b": True}) == "reproduced"
    assert runner.grade({"a": True, "b": False}) == "partly"
    assert runner.grade({"a": False, "b": False, "c": True}) == "not"
    with pytest.raises(ValueError, match="checks"):
        runner.grade({})
    rec = {
        "id": "E2",
        "source": "S18 Fig. 2",
        "claim": "count = k",
        "paper_number": "k",
        "ours": "3 of 5",
        "verdict": runner.grade({"x": True, "y": False}),
        "checks": {
            "x": {"holds": True, "seeds_holding": 3, "n_seeds": 3},
            "y": {"holds": False, "seeds_holding": 1, "n_seeds": 3},
        },
        "rule": "the rule",
        "seconds": 1.0,
    }
    text = runner.summary_markdown([rec], "quick", [0, 1, 2], 60.0)
    row = next(line for line in text.splitlines() if line.startswith("| E2 "))
    assert "**partly**" in row and "3 of 5" in row and "the rule" in text
    assert "x ✓ 3/3" in text and "y ✗ 1/3" in text


def test_barrier_detects_a_bump():
    """barrier(): a loss profile rising 50 % above both endpoints between them is a barrier; a convex
    profile is not."""
    a = np.linspace(-1, 2, 31)
    assert landscape.barrier(a, 1.0 + (a - 0.5) ** 2)["none"]
    bump = 1.0 + 0.5 * np.exp(-((a - 0.5) ** 2) / 0.01)
    b = landscape.barrier(a, bump)
    assert not b["none"] and b["height"] == pytest.approx(0.5, rel=1e-6)


# --------------------------------------------------------------------------------------------
# E6's stacked trainer against the library's trainer
# --------------------------------------------------------------------------------------------


def test_train_many_follows_training_train():
    """E6 trains many networks at once with closed-form batched backprop; each row must follow the
    trajectory of hessian_spectra.training.train (autograd gradients) to round-off (1e-12 relative
    after 100 GD steps)."""
    ds = hs_data.two_blobs(n_samples=40, std=0.5, seed=0)
    sizes = (2, 5, 5, 2)
    obj = Objective(ds.X, ds.y, sizes, "relu", "cross_entropy")
    stack0 = np.stack([mlp.init_params(sizes, "normal", seed=s, scale=0.5) for s in range(3)])
    stack = e06.train_many(obj, stack0, lr=0.1, steps=100)
    for b in range(3):
        ref = training.train(obj, stack0[b], lr=0.1, steps=100, progress=False).params
        assert np.linalg.norm(stack[b] - ref) <= 1e-12 * np.linalg.norm(ref)
    losses, _ = e06.stacked_value_and_gradient(stack, obj)
    assert np.allclose(losses, [obj.loss_value(p) for p in stack], rtol=1e-13, atol=0)


# --------------------------------------------------------------------------------------------
# Registry and command line
# --------------------------------------------------------------------------------------------


def test_registry_names_every_experiment():
    """E1 … E11 are registered in order; names are case-insensitive."""
    assert list(EXPERIMENTS) == [f"E{i}" for i in range(1, 12)]
    assert get_experiment("e7").id == "E7" and get_experiment("width_sweep").id == "E3"


def test_cli_unknown_experiment_is_a_one_line_error(capsys):
    """`reproduce E99` exits with status 2 and one line naming the valid experiments."""
    assert cli.main(["reproduce", "E99", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "E99" in err and "E11" in err


def test_run_all_writes_summary_and_records_failures(tmp_path):
    """run_all writes summary.md/json with one row per experiment; a failing experiment is recorded
    as 'error' and the others still run."""
    recs = run_all(
        tmp_path,
        quick=True,
        progress=False,
        names=["E5", "E6"],
        overrides={"E5": _E5_TINY, "E6": {"n_inits": 4, "chunk": 2, "steps": 50, "h": 0}},
        n_seeds=1,
    )
    assert [r["id"] for r in recs] == ["E5", "E6"]
    assert recs[0]["verdict"] in runner.VERDICTS and recs[1]["verdict"] == "error"
    summary = (tmp_path / "summary.md").read_text()
    assert "| E5 " in summary and "| E6 " in summary and "**error**" in summary
    assert json.loads((tmp_path / "summary.json").read_text())["records"][0]["id"] == "E5"


def test_e3_with_mnist_files_uses_matrix_free_above_the_dense_limit(tmp_path):
    """With MNIST IDX files (`--mnist DIR`; here 80 random 28×28 images written in the IDX format),
    E3 trains 784-h-10. A width whose P exceeds `dense_limit` gets its top eigenvalues from the
    matrix-free Lanczos path; they agree with the dense eigendecomposition of the same trained
    network to 1e-6 relative (ARPACK's residual tolerance is 1e-10·‖H‖; 1e-6 leaves room for
    clustered eigenvalues)."""
    rng = np.random.default_rng(0)
    mnist_dir = tmp_path / "mnist"
    mnist_dir.mkdir()
    hs_data.write_idx(
        mnist_dir / "train-images-idx3-ubyte", rng.integers(0, 256, (80, 28, 28)).astype(np.uint8)
    )
    hs_data.write_idx(mnist_dir / "train-labels-idx1-ubyte", (np.arange(80) % 10).astype(np.uint8))
    base = {"widths": [2], "n_samples": 80, "steps": 20}
    dense_ctx = _context(e03.EXPERIMENT, tmp_path / "dense", {**base, "dense_limit": 10_000})
    free_ctx = _context(e03.EXPERIMENT, tmp_path / "free", {**base, "dense_limit": 1_000})
    dense_ctx.mnist = free_ctx.mnist = str(mnist_dir)
    dense = e03.width_point(dense_ctx, 2)
    free = e03.width_point(free_ctx, 2)
    assert dense["n_params"] == 784 * 2 + 2 + 2 * 10 + 10
    assert (dense["method"], free["method"]) == ("dense", "matrix-free")
    assert free["n_near_zero"] is None
    np.testing.assert_allclose(free["top"][:20], dense["top"][:20], rtol=1e-6, atol=1e-9 * dense["top"][0])
