"""`hessian-spectra reproduce`: the papers' claims that must hold at small sizes, resume, verdicts, CLI.

E3's, E4's and E9's tests are in tests/test_e03_width_sweep.py, test_e04_real_vs_random.py and
test_e09_negative_eigenvalues.py.

Every experiment runs through the same code as `reproduce --quick`, with sizes overridden to keep
this file fast (the claims are checked at test sizes, stated in each test).
"""

import json
import os

import numpy as np
import pytest

from hessian_spectra import cli, landscape
from hessian_spectra.experiments import EXPERIMENTS, get_experiment, run, run_all, runner


def _context(exp, tmp_path, overrides, seed=0):
    return runner.Context(exp, str(tmp_path), True, seed, False, exp.config(True, overrides))


# --------------------------------------------------------------------------------------------
# The claims the issue asks to check (S18 Table 1, Fig. 3, Fig. 6)
# --------------------------------------------------------------------------------------------


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
    assert any(c.get("across_seeds") for c in rec["checks"].values())  # E5's median-growth check
    for c in rec["checks"].values():
        if c.get("across_seeds"):
            continue
        assert c["n_seeds"] == 2 and len(c["per_seed"]) == 2
        assert c["holds"] == (sum(c["per_seed"]) >= runner.SEED_QUORUM * 2)
    for v in rec["values"].values():
        if v.get("across_seeds"):
            continue
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


def test_point_time_is_measured_once_and_read_back_with_the_point(tmp_path):
    """A computed point stores the wall and CPU seconds its compute took (busy-waiting 0.2 s of CPU
    here, timed independently by the test with time.process_time); a point computed inside another
    point's compute is counted once, in the outer one; reading the points back from the cache in a
    new context adds the stored times again, so a resumed run reports what its points cost."""
    import time

    def burn(seconds):
        end = time.process_time() + seconds
        while time.process_time() < end:
            pass

    def outer():
        burn(0.1)
        ctx.point("inner", {"b": 1}, lambda: burn(0.1) or {"y": 1})
        return {"y": 2}

    ctx = _context(get_experiment("E5"), tmp_path, _E5_TINY)
    c0 = time.process_time()
    ctx.point("outer", {"a": 1}, outer)
    spent = time.process_time() - c0
    assert 0.2 <= ctx.point_time["cpu_seconds"] <= spent
    assert ctx.point_time["seconds"] >= 0.2 * 0.5  # wall time: at least part of the CPU time
    stored = json.loads(open(ctx.point_paths("outer")[0]).read())["time"]
    assert stored["cpu_seconds"] == pytest.approx(ctx.point_time["cpu_seconds"], abs=1e-3)
    again = _context(get_experiment("E5"), tmp_path, _E5_TINY)
    again.point("outer", {"a": 1}, outer)  # cached: not recomputed, its stored time counted
    assert again.loaded == ["outer"] and again.point_time["cpu_seconds"] == stored["cpu_seconds"]


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
# Registry and command line
# --------------------------------------------------------------------------------------------


def test_registry_names_every_experiment():
    """E1 … E13 (E12 and E13 beyond the papers, issue 15) are registered in order; names are
    case-insensitive."""
    assert list(EXPERIMENTS) == [f"E{i}" for i in range(1, 14)]
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


def test_run_all_in_two_processes_gives_the_sequential_records(tmp_path):
    """run_all(jobs=2) runs the experiments in worker processes and returns the records of a
    sequential run (same verdicts, checks and values, in the registry's order); E9, which reads E3's
    and E7's points, starts after them and computes none of its own."""
    e3 = {"data": "digits", "widths": [3, 6], "n_samples": 100, "steps": 60, "n_top": 12, "dense_limit": 300}
    e7 = {"data": "digits", "n_samples": 100, "n_test": 20, "hidden": [4], "steps": 40, "large_batch": 50}
    e7.update(line_alphas=[-1.0, 2.0, 7], top_alphas=[0.0, 1.0, 2])
    overrides = {"E3": e3, "E7": e7, "E9": {"E3": e3, "E7": e7}}
    names = ["E9", "E3", "E7"]  # E9 first: the scheduler must hold it back
    kwargs = {"quick": True, "progress": False, "names": names, "overrides": overrides, "n_seeds": 1}
    sequential = run_all(tmp_path / "seq", **{**kwargs, "names": ["E3", "E7", "E9"]})
    parallel = run_all(tmp_path / "par", jobs=2, **kwargs)
    assert [r["id"] for r in parallel] == names
    by_id = {r["id"]: r for r in sequential}
    for rec in parallel:
        ref = by_id[rec["id"]]
        assert rec["verdict"] == ref["verdict"] and rec["checks"] == ref["checks"], rec["id"]
        assert rec["values"].keys() == ref["values"].keys(), rec["id"]
        for name, v in rec["values"].items():
            # the workers use one BLAS thread, the sequential run the default: sums may be ordered
            # differently, so round-off (far below 1e-8 relative on these float64 numbers) may differ
            np.testing.assert_allclose(v["per_seed"], ref["values"][name]["per_seed"], rtol=1e-8, atol=1e-12)
    assert next(r for r in parallel if r["id"] == "E9")["points_computed"] == 0


def test_run_all_refuses_a_bad_number_of_jobs(tmp_path):
    """jobs must be a positive integer (0, -1, 1.5 and True are refused before anything runs)."""
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="jobs"):
            run_all(tmp_path, names=["E5"], jobs=bad, progress=False)
    assert not (tmp_path / "E5").exists()


def test_cli_jobs_must_be_positive(capsys, tmp_path):
    """`reproduce all --jobs 0` exits with status 2 and one line naming --jobs; nothing is written."""
    assert cli.main(["reproduce", "all", "--jobs", "0", "--out", str(tmp_path / "r"), "--no-progress"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "--jobs" in err
    assert not (tmp_path / "r").exists()
