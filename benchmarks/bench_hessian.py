"""Timings of exact dense Hessians: the closed-form engine against autograd, JAX and PyTorch.

Run as ``python benchmarks/bench_hessian.py`` or as ``hessian-spectra bench`` (the package's entry
point loads this file from the source checkout and hands it its arguments). It times, in one process
and on the same data and parameters:

- ``autograd.hessian`` — the package's reference route (:mod:`hessian_spectra.curvature.reference`);
- the closed-form engine (:mod:`hessian_spectra.curvature.fast`) for H alone and for H, G and R together;
- when the ``bench`` extra is installed: ``jax.hessian`` under ``jax.jit`` (compiled ahead of time,
  the compile time reported apart, then timed warm) and ``torch.func.hessian``, both in float64, on
  the package's own forward pass (:func:`hessian_spectra.mlp.forward` with the peer's arrays and its
  activation function);
- ``scipy.linalg.eigh`` (eigenvalues only) with each LAPACK driver and LAPACK's two-stage
  ``dsyevd_2stage`` (:data:`hessian_spectra.spectrum.TWO_STAGE`), and the share of a full
  "H + spectrum" run spent in the default one;
- the engine's peak memory, in a fresh subprocess: ``tracemalloc``'s peak (NumPy's own buffers) and
  the growth of the peak resident set (``VmHWM``, the whole process, BLAS buffers included) over the
  engine call.

Every route's H is checked against the engine's: the largest absolute difference, relative to
``max |H|``, is printed next to its time. Times are wall-clock medians over repeats; ratios are
``route time / engine time`` from the same run. The machine is whatever runs the command (a shared
machine makes them noisy: the load average is printed before and after). Results are recorded in
``docs/performance.md``.

Workloads (``--workload``):

- ``A``: N = 1,000 Gaussian-blob samples (10 clusters, one per class), d = 50, hidden 40-40, C = 10, tanh,
  cross-entropy (P = 4,090);
- ``B``: Sagun et al. (2018) Fig. 1 network 100-30-30-50 on 1,000 samples of 50 blobs in d = 100, ReLU,
  cross-entropy (P = 5,510), as in experiment E1;
- ``--quick`` shrinks both (N = 200 and narrower hidden layers: P = 1,650 and 1,670) so that the whole
  run takes about a minute; ``tiny`` is a seconds-long smoke workload.

Usage::

    python benchmarks/bench_hessian.py                      # both workloads, all routes
    python benchmarks/bench_hessian.py --quick              # shrunk workloads, about a minute
    python benchmarks/bench_hessian.py --workload A --no-peers --json bench-A.json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
import time
from dataclasses import asdict, dataclass

import numpy as np

from hessian_spectra import data as _data
from hessian_spectra import mlp
from hessian_spectra.objective import Objective

DRIVERS = ("evd", "evr", "ev")
_PEER_ROUTES = ("autograd.hessian", "jax.hessian (jit, warm)", "torch.func.hessian")
TARGET_VS_JAX = 5.0
TARGET_VS_AUTOGRAD = 30.0


@dataclass(frozen=True)
class Workload:
    """A data set and network to time (blob data from :func:`hessian_spectra.data.blobs`)."""

    name: str
    n_samples: int
    dim: int
    hidden: tuple
    n_classes: int
    activation: str
    loss: str = "cross_entropy"
    seed: int = 0

    @property
    def layer_sizes(self) -> tuple:
        """Widths ``(d, *hidden, C)``."""
        return (self.dim, *self.hidden, self.n_classes)

    @property
    def n_params(self) -> int:
        """Number of parameters P."""
        return mlp.n_params(self.layer_sizes)

    def describe(self) -> str:
        """One line naming the network, loss, N and P."""
        sizes = "-".join(map(str, self.layer_sizes))
        return (
            f"workload {self.name}: {sizes} {self.activation}, {self.loss}, N = {self.n_samples:,}, "
            f"P = {self.n_params:,}"
        )

    def build(self) -> tuple[Objective, np.ndarray]:
        """The objective on blob data (one cluster per class) and S18's N(0, 0.1²) initial point."""
        ds = _data.blobs(n_samples=self.n_samples, n_clusters=self.n_classes, dim=self.dim, seed=self.seed)
        objective = Objective(ds.X, ds.y, self.layer_sizes, self.activation, self.loss)
        params = mlp.init_params(self.layer_sizes, "normal", seed=self.seed + 1)
        return objective, params


WORKLOADS = {
    "A": Workload("A", 1000, 50, (40, 40), 10, "tanh"),
    "B": Workload("B", 1000, 100, (30, 30), 50, "relu"),
}
QUICK_WORKLOADS = {
    "A": Workload("A-quick", 200, 50, (20, 20), 10, "tanh"),
    "B": Workload("B-quick", 200, 100, (10, 10), 50, "relu"),
}
TINY = Workload("tiny", 30, 5, (4, 3), 3, "tanh")


# --------------------------------------------------------------------------------------------
# Peers: the package's forward pass on JAX and PyTorch arrays, each peer's σ and loss
# --------------------------------------------------------------------------------------------


def _peer_loss(objective: Objective, peer: str, activations: dict, losses: dict, X, y):
    """The training loss ``w -> mean_i loss(f(w, X)_i, y_i)`` for one peer library.

    The logits are :func:`hessian_spectra.mlp.forward` applied to the peer's arrays (it uses only
    ``@``, ``+``, slicing and ``.reshape``) with the peer's own elementwise σ from ``activations``;
    ``losses`` maps a loss name to ``(logits, y, n_classes) -> mean loss`` written with the peer's
    operations. A name without a peer form raises a ValueError naming it.
    """
    for kind, name, table in (
        ("activation", objective.activation, activations),
        ("loss", objective.loss, losses),
    ):
        if name not in table:
            raise ValueError(f"{kind} {name!r} has no {peer} form here; expected one of {sorted(table)}")
    sigma, mean_loss = activations[objective.activation], losses[objective.loss]
    layer_sizes, n_classes = objective.layer_sizes, objective.n_classes

    def loss(w):
        return mean_loss(mlp.forward(w, X, layer_sizes, sigma), y, n_classes)

    return loss


def _jax_hessian(objective: Objective):
    """``(compiled, compile_seconds)``: ``jax.jit(jax.hessian(loss))`` compiled ahead of time."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    activations = {
        "relu": jax.nn.relu,
        "tanh": jnp.tanh,
        "sigmoid": jax.nn.sigmoid,
        "softplus": jax.nn.softplus,
        "linear": lambda z: z,
    }
    losses = {
        # logsumexp(f) − f_y
        "cross_entropy": lambda f, y, C: jnp.mean(jax.nn.logsumexp(f, axis=1) - f[jnp.arange(f.shape[0]), y]),
        # ½‖f − e_y‖²
        "mse": lambda f, y, C: (
            0.5 * jnp.mean(jnp.sum((f - jax.nn.one_hot(y, C, dtype=f.dtype)) ** 2, axis=1))
        ),
    }
    X, y = jnp.asarray(objective.X), jnp.asarray(objective.y)
    loss = _peer_loss(objective, "jax", activations, losses, X, y)

    w0 = jnp.zeros(objective.n_params, dtype=jnp.float64)
    t0 = time.perf_counter()
    compiled = jax.jit(jax.hessian(loss)).lower(w0).compile()
    compile_seconds = time.perf_counter() - t0

    def run(params):
        return np.asarray(compiled(jnp.asarray(params)).block_until_ready())

    return run, compile_seconds


def _torch_hessian(objective: Objective, threads: int | None = None):
    """A function ``params -> H`` by ``torch.func.hessian`` in float64."""
    import torch

    if threads is not None:
        torch.set_num_threads(threads)

    F = torch.nn.functional
    activations = {
        "relu": torch.relu,
        "tanh": torch.tanh,
        "sigmoid": torch.sigmoid,
        # beta = 1 and no linear cut-off: exactly log(1 + e^z)
        "softplus": lambda z: torch.logaddexp(torch.zeros_like(z), z),
        "linear": lambda z: z,
    }
    losses = {
        # logsumexp(f) − f_y, averaged over the samples
        "cross_entropy": lambda f, y, C: F.cross_entropy(f, y),
        # ½‖f − e_y‖²
        "mse": lambda f, y, C: 0.5 * torch.mean(torch.sum((f - F.one_hot(y, C).to(f.dtype)) ** 2, dim=1)),
    }
    X = torch.from_numpy(np.ascontiguousarray(objective.X, dtype=np.float64))
    y = torch.from_numpy(objective.y.astype(np.int64))
    hess = torch.func.hessian(_peer_loss(objective, "torch", activations, losses, X, y))

    def run(params):
        with torch.no_grad():
            return hess(torch.from_numpy(np.asarray(params, dtype=np.float64))).numpy()

    return run


def peer_versions() -> dict:
    """Installed versions of the peers (``None`` when absent), from the package metadata: reading
    them imports neither library, so a run with ``--no-peers`` loads neither."""
    from importlib import metadata

    out = {}
    for name in ("jax", "jaxlib", "torch"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


# --------------------------------------------------------------------------------------------
# Timing helpers
# --------------------------------------------------------------------------------------------


def time_calls(label: str, fn, repeats: int, warmup: int = 0):
    """Call ``fn`` ``warmup`` times, then ``repeats`` times, timing each call by wall clock.

    Returns ``(result of the last call, [seconds per timed call], [seconds per warm-up call])``.
    ``label`` names what is timed (a route of :func:`run_workload`, ``"products alone"`` or
    ``"eigh <driver>"``); this timer ignores it, a replacement passed as ``timer=`` may use it.
    """
    cold = []
    for _ in range(warmup):
        t0 = time.perf_counter()
        fn()
        cold.append(time.perf_counter() - t0)
    result, times = None, []
    for _ in range(repeats):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return result, times, cold


def product_floor(objective: Objective, params, repeats: int, seed: int = 0, timer=time_calls) -> dict:
    """Time the engine's block products alone: the same GEMM shapes, on random operands.

    The shapes come from one engine call under
    :func:`hessian_spectra.curvature.fast.hessian_gn_residual` (``products=``). Their time is the floor of the
    algorithm on this machine (everything else the engine does — per-sample quantities, copies into
    place, page faults of the outputs — comes on top), so ``route time / floor`` is the best ratio
    any implementation of this closed form could show against that route. ``timer`` times the
    products under the label ``"products alone"`` (:func:`time_calls`).
    """
    from hessian_spectra.curvature import fast

    shapes = []
    fast.hessian_gn_residual(objective, params, ("H", "G", "R"), products=shapes)
    rng = np.random.default_rng(seed)
    operands = [(rng.standard_normal(a), rng.standard_normal(b)) for a, b in shapes]
    outs = [np.empty((a[0], b[1])) for a, b in shapes]

    def run():
        for (x, y), out in zip(operands, outs, strict=True):
            np.matmul(x, y, out=out)

    _, times, _ = timer("products alone", run, repeats, 1)
    flops = fast.product_flops(shapes)
    return {
        "products": len(shapes),
        "gflop": flops / 1e9,
        "median": float(np.median(times)),
        "times": times,
        "gflops_per_s": flops / 1e9 / float(np.median(times)),
    }


def _rel_diff(H, H_ref) -> float:
    return float(np.max(np.abs(H - H_ref)) / max(np.max(np.abs(H_ref)), 1e-300))


def machine_info() -> dict:
    """CPU model, cores, library versions, BLAS environment and thread settings."""
    import scipy

    model = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info = {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        **peer_versions(),
        "env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(("OPENBLAS", "OMP_", "MKL_"))},
    }
    try:
        from threadpoolctl import threadpool_info

        info["blas"] = [
            {k: d.get(k) for k in ("internal_api", "version", "num_threads", "architecture")}
            for d in threadpool_info()
            if d.get("user_api") == "blas"
        ]
    except ImportError:  # pragma: no cover - threadpoolctl is optional
        pass
    return info


# --------------------------------------------------------------------------------------------
# Memory, in a fresh subprocess
# --------------------------------------------------------------------------------------------


def memory_probe(workload: Workload, terms=("H", "G", "R"), threads: int | None = None) -> dict:
    """Run the engine once in a fresh interpreter; report its peak memory (bytes).

    ``rss_growth``: peak resident set of the whole process during the engine call (BLAS buffers
    included) minus the resident set just before it (Linux ``VmHWM``, reset before the call).
    ``traced_peak``: ``tracemalloc``'s peak over a second call (NumPy's buffers only),
    ``workspace`` = ``traced_peak`` − the outputs. The subprocess imports this file as a module.
    """
    folder, module = os.path.split(os.path.splitext(os.path.abspath(__file__))[0])
    code = (
        f"import json, sys; sys.path.insert(0, {folder!r}); import {module} as bench; "
        f"w = bench.Workload(**json.loads(sys.argv[1])); print(json.dumps(bench._memory_worker(w, {list(terms)!r})))"
    )
    payload = json.dumps({**asdict(workload), "hidden": list(workload.hidden)})
    env = dict(os.environ)
    if threads is not None:
        env["OPENBLAS_NUM_THREADS"] = str(threads)
    proc = subprocess.run(
        [sys.executable, "-c", code, payload],
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
        env=env,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"memory probe failed: {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _proc_status_bytes(field: str) -> int | None:
    """``VmRSS`` / ``VmHWM`` of this process from /proc/self/status (Linux), in bytes."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _memory_worker(workload: Workload, terms) -> dict:
    import tracemalloc

    from hessian_spectra.curvature.fast import DEFAULT_WORKSPACE_BYTES, hessian_gn_residual

    objective, params = workload.build()
    # Peak RSS of this process image: VmHWM, reset just before the call (Linux: writing 5 to
    # clear_refs). ru_maxrss is a fallback only: Linux carries it over from the parent across exec.
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        rss_before, source = _proc_status_bytes("VmRSS"), "VmHWM"
    except OSError:
        rss_before, source = None, "ru_maxrss"
    if rss_before is None:
        rss_before, source = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, "ru_maxrss"
    out = hessian_gn_residual(objective, params, tuple(terms))
    rss_after = _proc_status_bytes("VmHWM") if source == "VmHWM" else None
    if rss_after is None:
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    outputs = sum(M.nbytes for M in out.values())
    del out
    tracemalloc.start()
    out = hessian_gn_residual(objective, params, tuple(terms))
    _, traced = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del out
    return {
        "terms": list(terms),
        "outputs": outputs,
        "rss_growth": rss_after - rss_before,
        "rss_source": source,
        "traced_peak": traced,
        "workspace": traced - outputs,
        "workspace_bound": DEFAULT_WORKSPACE_BYTES,
    }


# --------------------------------------------------------------------------------------------
# The benchmark
# --------------------------------------------------------------------------------------------


def run_workload(
    workload: Workload,
    repeats: int = 5,
    slow_repeats: int = 3,
    peers: bool = True,
    reference: bool = True,
    eigh: bool = True,
    memory: bool = True,
    threads: int | None = None,
    echo=print,
    timer=time_calls,
) -> dict:
    """Time every route on one workload; return the numbers (and print them as they come).

    ``timer(label, fn, repeats, warmup)`` times each route under its name (:func:`time_calls`,
    the default, by wall clock). Per route the median and minimum are recorded; the ratio of a
    route is its median over the median of ``"fast H+G+R"``, its ceiling its median over the
    median of the products alone (:func:`product_floor`).
    """
    from hessian_spectra import spectrum
    from hessian_spectra.curvature import reference as _reference
    from hessian_spectra.curvature.fast import hessian_gn_residual

    objective, params = workload.build()
    echo(f"\n{workload.describe()}")
    routes: dict[str, dict] = {}

    def record(name, times, H=None, H_ref=None, **extra):
        entry = {"median": float(np.median(times)), "min": float(np.min(times)), "times": times, **extra}
        if H is not None and H_ref is not None:
            entry["max_rel_diff_H"] = _rel_diff(H, H_ref)
        routes[name] = entry
        diff = f"  max|ΔH|/max|H| = {entry['max_rel_diff_H']:.1e}" if "max_rel_diff_H" in entry else ""
        note = f"  (first call {extra['cold_seconds']:.3f} s)" if "cold_seconds" in extra else ""
        echo(
            f"  {name:<24s} median {entry['median']:9.4f} s, min {entry['min']:9.4f} s (n = {len(times)})"
            f"{diff}{note}"
        )

    # Two warm-up calls: the first dense allocations of a fresh process fault their pages in
    # (hundreds of ms); the timed calls are the steady state. The first call is reported as "cold".
    def engine(terms):
        return lambda: hessian_gn_residual(objective, params, terms)

    out, t, cold = timer("fast H+G+R", engine(("H", "G", "R")), repeats, 2)
    H_fast = out["H"]
    record("fast H+G+R", t, cold_seconds=cold[0])
    out, t, cold = timer("fast H", engine(("H",)), repeats, 2)
    record("fast H", t, out["H"], H_fast, cold_seconds=cold[0])
    del out
    if reference:
        H, t, _ = timer("autograd.hessian", lambda: _reference.hessian(objective, params), slow_repeats)
        record("autograd.hessian", t, H, H_fast)
        del H
    if peers:
        try:
            run, compile_s = _jax_hessian(objective)
        except ImportError as exc:
            echo(f"  jax.hessian: skipped ({exc}; install the 'bench' extra)")
        else:
            H, t, cold = timer("jax.hessian (jit, warm)", lambda: run(params), slow_repeats, 1)
            record("jax.hessian (jit, warm)", t, H, H_fast, compile_seconds=compile_s, cold_seconds=cold[0])
            echo(f"    jax compile (apart): {compile_s:.4f} s")
            del H
        try:
            run = _torch_hessian(objective, threads)
        except ImportError as exc:
            echo(f"  torch.func.hessian: skipped ({exc}; install the 'bench' extra)")
        else:
            H, t, _ = timer("torch.func.hessian", lambda: run(params), slow_repeats)
            record("torch.func.hessian", t, H, H_fast)
            del H
    floor = product_floor(objective, params, repeats, timer=timer)
    echo(
        f"  engine's block products alone (random operands, same shapes): {floor['median']:.4f} s "
        f"= {floor['products']} GEMMs, {floor['gflop']:.1f} GFLOP at {floor['gflops_per_s']:.0f} GFLOP/s"
    )
    ratios = {
        name: routes[name]["median"] / routes["fast H+G+R"]["median"]
        for name in routes
        if name != "fast H+G+R"
    }
    ceilings = {name: routes[name]["median"] / floor["median"] for name in routes if name in _PEER_ROUTES}
    result = {
        "workload": asdict(workload),
        "n_params": workload.n_params,
        "routes": routes,
        "ratios": ratios,
        "product_floor": floor,
        "ceilings": ceilings,
    }
    echo("  ratios (route median / fast H+G+R median) [ceiling: route median / products alone]:")
    for name, r in ratios.items():
        ceiling = f"  [ceiling {ceilings[name]:6.1f}x]" if name in ceilings else ""
        echo(f"    {name:<28s} {r:8.2f}x{ceiling}")
    targets = {}
    if workload not in WORKLOADS.values():
        echo("  (the targets are stated for the full workloads A and B)")
    elif "jax.hessian (jit, warm)" in ratios:
        targets["vs_jax"] = ratios["jax.hessian (jit, warm)"]
        met = "met" if targets["vs_jax"] >= TARGET_VS_JAX else "MISSED"
        echo(
            f"  target: H+G+R >= {TARGET_VS_JAX:.0f}x faster than jax.hessian (H alone): {targets['vs_jax']:.1f}x, {met}"
        )
    if workload in WORKLOADS.values() and "autograd.hessian" in ratios:
        targets["vs_autograd"] = ratios["autograd.hessian"]
        met = "met" if targets["vs_autograd"] >= TARGET_VS_AUTOGRAD else "MISSED"
        echo(
            f"  target: H+G+R >= {TARGET_VS_AUTOGRAD:.0f}x faster than autograd.hessian: "
            f"{targets['vs_autograd']:.1f}x, {met} (products-alone ceiling {ceilings['autograd.hessian']:.1f}x)"
        )
    result["targets"] = targets

    if eigh:
        timings = {}
        drivers = (*DRIVERS, spectrum.TWO_STAGE) if spectrum.two_stage_available() else DRIVERS
        for driver in drivers:
            _, t, _ = timer(
                f"eigh {driver}", lambda d=driver: spectrum.eigenvalues(H_fast, driver=d), slow_repeats
            )
            timings[driver] = {"median": float(np.median(t)), "times": t}
        best = min(timings, key=lambda d: timings[d]["median"])
        default = spectrum.DEFAULT_DRIVER
        t_eigh = timings.get(default, timings[best])["median"]
        share = t_eigh / (t_eigh + routes["fast H"]["median"])
        echo(
            "  eigh (eigenvalues only): "
            + ", ".join(f"{d} {v['median']:.2f} s" for d, v in timings.items())
            + f"; fastest {best}, default {default}"
        )
        echo(f"  share of 'fast H + spectrum' spent in eigh ({default}): {share:.1%}")
        result["eigh"] = {"drivers": timings, "fastest": best, "default": default, "share": share}
    if memory:
        mem = memory_probe(workload, threads=threads)
        mib = 2**20
        echo(
            f"  memory (fresh process, H+G+R): outputs {mem['outputs'] / mib:.0f} MiB; tracemalloc peak "
            f"{mem['traced_peak'] / mib:.0f} MiB = outputs + workspace {mem['workspace'] / mib:.0f} MiB "
            f"(bound {mem['workspace_bound'] / mib:.0f} MiB); peak-RSS growth {mem['rss_growth'] / mib:.0f} MiB"
        )
        result["memory"] = mem
    return result


def run_benchmark(
    workloads=("A", "B"),
    quick: bool = False,
    repeats: int | None = None,
    slow_repeats: int | None = None,
    peers: bool = True,
    reference: bool = True,
    eigh: bool = True,
    memory: bool = True,
    threads: int | None = None,
    echo=print,
) -> dict:
    """Run :func:`run_workload` on each named workload (``"A"``, ``"B"``, ``"tiny"``).

    ``threads`` caps the threads of every route: OpenBLAS (through threadpoolctl), PyTorch
    (``torch.set_num_threads``) and XLA (``XLA_FLAGS``, effective only if JAX is not imported yet).
    ``None`` leaves each library's default (all cores).
    """
    limiter = contextlib.nullcontext()
    if threads is not None:
        if "jax" not in sys.modules:
            multi = "true" if threads > 1 else "false"
            os.environ["XLA_FLAGS"] = (
                os.environ.get("XLA_FLAGS", "")
                + f" --xla_cpu_multi_thread_eigen={multi} intra_op_parallelism_threads={threads}"
            ).strip()
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:  # pragma: no cover
            echo("threadpoolctl is not installed: BLAS threads left at their default")
        else:
            limiter = threadpool_limits(limits=threads, user_api="blas")
    with limiter:
        return _run_benchmark(
            workloads, quick, repeats, slow_repeats, peers, reference, eigh, memory, threads, echo
        )


def _run_benchmark(workloads, quick, repeats, slow_repeats, peers, reference, eigh, memory, threads, echo):
    table = QUICK_WORKLOADS if quick else WORKLOADS
    repeats = (3 if quick else 5) if repeats is None else repeats
    slow_repeats = (1 if quick else 3) if slow_repeats is None else slow_repeats
    info = machine_info()
    info["threads"] = threads
    info["loadavg_start"] = os.getloadavg()
    echo(
        f"{info['cpu']} ({info['cores']} cores); numpy {info['numpy']}, scipy {info['scipy']}, "
        f"jax {info['jax']}, torch {info['torch']}; env {info['env']}"
    )
    echo(f"threads: {threads or 'library defaults'}; BLAS: {info.get('blas')}")
    echo(f"load average at start: {', '.join(f'{x:.2f}' for x in info['loadavg_start'])}")
    results = []
    for name in workloads:
        w = TINY if name == "tiny" else table[name]
        results.append(
            run_workload(w, repeats, slow_repeats, peers, reference, eigh, memory, threads, echo=echo)
        )
    info["loadavg_end"] = os.getloadavg()
    echo(f"\nload average at end: {', '.join(f'{x:.2f}' for x in info['loadavg_end'])}")
    return {
        "machine": info,
        "quick": quick,
        "repeats": repeats,
        "slow_repeats": slow_repeats,
        "results": results,
    }


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer; got {text}")
    return value


def _configure(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--workload",
        default="all",
        choices=["A", "B", "all", "tiny"],
        help="A: 50-40-40-10 tanh, N=1000 (P=4,090); B: S18 Fig-1 100-30-30-50 relu, N=1000 (P=5,510); "
        "tiny: a seconds-long smoke run (default: all = A and B)",
    )
    p.add_argument(
        "--repeats", type=_positive, default=None, help="repeats of the fast routes (default 5; quick 3)"
    )
    p.add_argument(
        "--slow-repeats",
        type=_positive,
        default=None,
        help="repeats of autograd, jax, torch and eigh (default 3; quick 1)",
    )
    p.add_argument("--quick", action="store_true", help="shrunk workloads (P ≈ 1,650), about a minute")
    p.add_argument("--no-peers", action="store_true", help="skip jax.hessian and torch.func.hessian")
    p.add_argument(
        "--no-reference", action="store_true", help="skip autograd.hessian (the slowest in-package route)"
    )
    p.add_argument("--no-eigh", action="store_true", help="skip the eigh driver timings")
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocess")
    p.add_argument(
        "--threads",
        type=_positive,
        default=None,
        help="threads for every route (BLAS, torch, XLA); default: each library's own (all cores). "
        "On a machine shared with other jobs, 1 avoids BLAS threads waiting on each other",
    )
    p.add_argument("--json", default=None, help="also write all numbers (every repeat) to this JSON file")


def cmd_bench(args) -> int:
    """Run the benchmark with parsed arguments; print the tables (and write the JSON file)."""
    names = ("A", "B") if args.workload == "all" else (args.workload,)
    result = run_benchmark(
        names,
        quick=args.quick,
        repeats=args.repeats,
        slow_repeats=args.slow_repeats,
        peers=not args.no_peers,
        reference=not args.no_reference,
        eigh=not args.no_eigh,
        memory=not args.no_memory,
        threads=args.threads,
    )
    if args.json:
        from hessian_spectra import io as _io

        _io.save_json(args.json, result)
        print(f"numbers -> {args.json}")
    return 0


def main(argv=None, prog: str = "bench_hessian.py") -> int:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run the benchmark.

    ``hessian-spectra bench ARGS`` calls ``main(ARGS, prog="hessian-spectra bench")``
    (:mod:`hessian_spectra.bench`).
    """
    parser = argparse.ArgumentParser(
        prog=prog,
        description=__doc__.split("\n\n")[0]
        + " Same data, one process, medians over repeats, ratios to the engine's H+G+R time.",
    )
    _configure(parser)
    args = parser.parse_args(argv)
    if args.json:  # checked before the benchmark runs, not after it
        from hessian_spectra import io as _io

        try:
            _io.check_output_path(args.json, f"--json {args.json}")
        except _io.UnsafeOutputError as exc:
            parser.error(str(exc))
    return cmd_bench(args)


if __name__ == "__main__":
    sys.exit(main())
