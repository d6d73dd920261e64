"""The benchmark (benchmarks/bench_hessian.py) and its entry point ``hessian-spectra bench``.

Timings themselves are not tested (they depend on the machine); what is tested is what the benchmark
reports about them and about the routes it times:

- its arithmetic on times, through a stub timer that gives every route known times, so that the
  expected medians, ratios, ceilings and targets are known in advance;
- the products-alone floor against the closed-form product count of a one-layer network;
- the JAX and PyTorch peers' Hessians against ``autograd.hessian`` (skipped without the ``bench`` extra);
- the command itself end to end on the tiny workload, through both entry points, and that the library
  neither imports the benchmark nor fails obscurely without it.
"""

import builtins
import json
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import hessian_spectra as hs
from hessian_spectra import bench as bench_entry
from hessian_spectra import cli, losses, mlp
from hessian_spectra.curvature import reference

from .conftest import relative_error

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_hessian.py"


@pytest.fixture(scope="module")
def bench():
    """The benchmark module, loaded from the checkout by the package's entry point."""
    return bench_entry.load_benchmark()


def _stub_timer(times: dict, seen: list):
    """A ``timer`` for the benchmark that calls ``fn`` once (for its result) and reports ``times[label]``
    (0.25 s for labels not listed) and 9 s for every warm-up call."""

    def timer(label, fn, repeats, warmup=0):
        seen.append(label)
        return fn(), list(times.get(label, [0.25])), [9.0] * warmup

    return timer


# --------------------------------------------------------------------------------------------
# What the benchmark computes from the times
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "autograd_times, ratio, ceiling, table_row, target_line",
    [
        # median 30 s: 30 / 2 and 30 / 0.5
        ([100.0, 25.0, 30.0], 15.0, 60.0, "15.00x  [ceiling   60.0x]", "autograd.hessian: 15.0x, MISSED"),
        # median 70 s: 70 / 2 and 70 / 0.5
        ([40.0, 90.0, 70.0], 35.0, 140.0, "35.00x  [ceiling  140.0x]", "autograd.hessian: 35.0x, met"),
    ],
    ids=["autograd-target-missed", "autograd-target-met"],
)
def test_ratios_ceilings_and_targets_follow_the_median_times(
    bench, monkeypatch, autograd_times, ratio, ceiling, table_row, target_line
):
    """With known times per route — engine H+G+R (7, 1.5, 2) s, engine H (1, 1, 4) s, products alone
    (3, 0.4, 0.5) s, every eigh driver 0.25 s — the benchmark reports each route's median and minimum,
    ratio = route median / engine median (autograd 15× or 35×, engine H 0.5×), ceiling = route median /
    products-alone median (60× or 140×), the autograd target (30×) missed or met, and the eigh share
    0.25 / (0.25 + 1) = 20 % of "engine H + spectrum". The times are chosen so that median, mean and
    minimum all differ. The tiny workload stands in for workload A so that the targets are stated."""
    times = {
        "fast H+G+R": [7.0, 1.5, 2.0],
        "fast H": [1.0, 1.0, 4.0],
        "autograd.hessian": autograd_times,
        "products alone": [3.0, 0.4, 0.5],
    }
    seen, printed = [], []
    monkeypatch.setitem(bench.WORKLOADS, "A", bench.TINY)
    result = bench.run_workload(
        bench.TINY, repeats=3, slow_repeats=3, peers=False, memory=False, echo=printed.append,
        timer=_stub_timer(times, seen),
    )  # fmt: skip
    routes = result["routes"]
    # Quotients of exactly representable numbers, correctly rounded: exact equality holds.
    assert routes["fast H+G+R"]["median"] == 2.0 and routes["fast H+G+R"]["min"] == 1.5
    assert routes["fast H+G+R"]["cold_seconds"] == 9.0
    assert routes["autograd.hessian"]["times"] == autograd_times
    assert result["ratios"] == {"fast H": 0.5, "autograd.hessian": ratio}
    assert result["product_floor"]["median"] == 0.5
    assert result["ceilings"] == {"autograd.hessian": ceiling}
    assert result["targets"] == {"vs_autograd": ratio}
    assert result["eigh"]["share"] == 0.2
    # The stub called every route once for real: autograd's H is the engine's to round-off.
    assert routes["autograd.hessian"]["max_rel_diff_H"] <= 1e-12
    text = "\n".join(printed)
    assert any(line.split() == ["autograd.hessian", *table_row.split()] for line in printed)
    assert target_line in text
    assert "share of 'fast H + spectrum' spent in eigh (evd): 20.0%" in text
    drivers = {"evd", "evr", "ev"} | ({hs.spectrum.TWO_STAGE} if hs.spectrum.two_stage_available() else set())
    assert set(seen) == {"fast H+G+R", "fast H", "autograd.hessian", "products alone"} | {
        f"eigh {d}" for d in drivers
    }


def test_product_floor_counts_the_closed_form_products(bench):
    """For a one-layer softmax regression the engine forms one block product, of the (d+1)(d+2)/2
    input pairs a ≤ b by the N samples by the C(C+1)/2 kernel columns p ≤ q: the floor reports one
    GEMM of 2·N·(d+1)(d+2)/2·C(C+1)/2 flops, timed by the timer under "products alone" (median of
    (3, 0.4, 0.5) s = 0.5 s), hence that many flops per 0.5 s."""
    rng = np.random.default_rng(0)
    N, d, C = 37, 6, 4
    obj = hs.Objective(rng.standard_normal((N, d)), rng.integers(0, C, N), (d, C), "tanh", "cross_entropy")
    w = mlp.init_params((d, C), "normal", seed=rng, scale=0.5)
    seen = []
    floor = bench.product_floor(
        obj, w, repeats=3, timer=_stub_timer({"products alone": [3.0, 0.4, 0.5]}, seen)
    )
    flops = 2 * N * (d + 1) * (d + 2) // 2 * C * (C + 1) // 2
    assert seen == ["products alone"]
    assert floor["products"] == 1
    assert floor["median"] == 0.5 and floor["times"] == [3.0, 0.4, 0.5]
    # flops / 1e9 and its quotient by 0.5: one rounding each, so a relative 1e-15 suffices
    assert floor["gflop"] == pytest.approx(flops / 1e9, rel=1e-15)
    assert floor["gflops_per_s"] == pytest.approx(flops / 1e9 / 0.5, rel=1e-15)


# --------------------------------------------------------------------------------------------
# The peers compute the same Hessian
# --------------------------------------------------------------------------------------------


def _peer_case(activation: str, loss: str):
    """A 3-4-3-3 network on 12 samples at a random point (scale 0.5): two hidden layers, so that
    H has cross terms between layers; continuous data keeps relu's pre-activations off 0."""
    rng = np.random.default_rng(7)
    sizes = (3, 4, 3, 3)
    obj = hs.Objective(rng.standard_normal((12, 3)), rng.integers(0, 3, 12), sizes, activation, loss)
    return obj, mlp.init_params(sizes, "normal", seed=rng, scale=0.5)


#: Every registered activation once, the registered losses in turn: each peer's tables are covered.
PEER_CASES = [
    (activation, sorted(losses.LOSSES)[i % len(losses.LOSSES)])
    for i, activation in enumerate(sorted(mlp.ACTIVATIONS))
]


@pytest.mark.parametrize("activation, loss", PEER_CASES)
@pytest.mark.parametrize("peer", ["jax", "torch"])
def test_peer_hessian_equals_autograd(bench, peer, activation, loss):
    """For every registered activation and every registered loss, ``jax.hessian`` (jit) and
    ``torch.func.hessian`` of the benchmark's peer loss equal ``autograd.hessian`` of the package's
    objective: relative Frobenius error ≤ 1e-12 (three float64 routes through P = 55 parameters and
    12 samples agree to ~1e-15; a wrong σ, loss or parameter layout shows up at order 1). Skipped
    without the ``bench`` extra."""
    pytest.importorskip(peer)
    obj, w = _peer_case(activation, loss)
    run = bench._jax_hessian(obj)[0] if peer == "jax" else bench._torch_hessian(obj)
    assert relative_error(run(w), reference.hessian(obj, w)) <= 1e-12


# --------------------------------------------------------------------------------------------
# The command, end to end
# --------------------------------------------------------------------------------------------


def test_bench_command_runs_on_the_tiny_workload(tmp_path, monkeypatch, capsys):
    """``hessian-spectra bench --workload tiny`` runs every in-package route, finds the same H from
    autograd and from the engine (max |ΔH| ≤ 1e-12·max|H|), times every eigh driver, measures the
    engine's memory in a subprocess, and — with JAX and PyTorch made unimportable — says that it
    skipped them instead of failing."""
    real_import = builtins.__import__

    def no_peers(name, *args, **kwargs):
        if name.split(".")[0] in ("jax", "torch"):
            raise ImportError(f"No module named {name!r} (hidden by the test)")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_peers)
    out = tmp_path / "bench.json"
    args = ["bench", "--workload", "tiny", "--repeats", "2", "--slow-repeats", "1", "--json", str(out)]
    assert cli.main(args) == 0
    printed = capsys.readouterr().out
    assert "jax.hessian: skipped" in printed and "torch.func.hessian: skipped" in printed
    result = json.loads(out.read_text())["results"][0]
    routes = result["routes"]
    assert set(routes) == {"fast H+G+R", "fast H", "autograd.hessian"}
    assert routes["autograd.hessian"]["max_rel_diff_H"] <= 1e-12
    assert all(len(r["times"]) >= 1 and r["median"] > 0 for r in routes.values())
    two_stage = {hs.spectrum.TWO_STAGE} if hs.spectrum.two_stage_available() else set()
    assert set(result["eigh"]["drivers"]) == {"evd", "evr", "ev"} | two_stage
    assert result["eigh"]["default"] == hs.spectrum.DEFAULT_DRIVER
    mem = result["memory"]
    assert mem["outputs"] == 3 * 8 * result["n_params"] ** 2
    assert 0 <= mem["workspace"] <= mem["workspace_bound"]
    floor = result["product_floor"]
    assert floor["products"] > 0 and floor["median"] > 0


def test_script_and_subcommand_take_the_same_flags(tmp_path, monkeypatch, capsys):
    """``python benchmarks/bench_hessian.py`` runs the tiny workload with the flags of
    ``hessian-spectra bench`` (only the engine's routes when the others are switched off), and both
    print the same help apart from the program name."""
    out = tmp_path / "bench.json"
    flags = ["--workload", "tiny", "--repeats", "1", "--slow-repeats", "1", "--no-peers", "--no-reference"]
    flags += ["--no-eigh", "--no-memory", "--json", str(out)]
    proc = subprocess.run([sys.executable, str(SCRIPT), *flags], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "workload tiny: 5-4-3-3 tanh, cross_entropy, N = 30, P = 51" in proc.stdout
    assert set(json.loads(out.read_text())["results"][0]["routes"]) == {"fast H+G+R", "fast H"}

    def normalized(text, prog):
        return " ".join(text.replace(prog, "PROG").split())

    script_help = subprocess.run(
        [sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, check=True
    ).stdout
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", "--help"])
    assert exit_info.value.code == 0
    command_help = capsys.readouterr().out
    assert "--no-memory" in command_help
    assert normalized(command_help, "hessian-spectra bench") == normalized(script_help, "bench_hessian.py")


def test_bad_flag_is_reported_with_its_name(capsys):
    """``hessian-spectra bench --repeats 0`` exits with status 2 and names the flag and what it expects."""
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["bench", "--repeats", "0"])
    assert exit_info.value.code == 2
    assert "argument --repeats: must be a positive integer; got 0" in capsys.readouterr().err


def test_missing_source_checkout_is_one_clear_error(tmp_path, monkeypatch, capsys):
    """Installed without its source checkout, ``hessian-spectra bench`` exits with status 2 and one
    error line naming benchmarks/bench_hessian.py and where it was looked for."""
    missing = tmp_path / "elsewhere" / "bench.py"
    monkeypatch.setattr(bench_entry, "BENCHMARK_FILE", missing)
    assert cli.main(["bench", "--workload", "tiny"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("hessian-spectra: error:")
    assert "benchmarks/bench_hessian.py" in err and "source checkout" in err and str(missing) in err


def test_library_does_not_import_the_benchmark():
    """Importing the package and building its command line (every subcommand registered) loads no
    benchmark code: neither the benchmark file nor JAX or PyTorch."""
    code = (
        "import sys, hessian_spectra, hessian_spectra.cli as cli; cli.build_parser(); "
        "print(sorted(m for m in ('bench_hessian', 'jax', 'torch') if m in sys.modules))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"
