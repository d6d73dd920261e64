"""Crossover P between the dense and the matrix-free route of ``hessian-spectra hessian``.

For each width h of 784-h-10 networks (P = 795h + 10) trained on N examples (default 1,000), a
*fresh subprocess* times, on the same network and in the same run:

- the dense route: ``curvature_matrices(objective, w, ("H",), engine="fast")`` plus
  ``spectrum.eigenvalues`` (``scipy.linalg.eigh``, driver evd), which gives the top-k, the bottom-k
  and the exact density at once;
- the matrix-free route: ``matrix_free.top_eigenvalues`` for the top-k and for the bottom-k (default
  solver and settings, k = ``--k``), and ``matrix_free.spectral_density`` (10 probes × 90 steps).

It prints both routes' times per P and, for each quantity, the largest P at which the dense route
is preferred (it was faster, or the matrix-free eigenvalues missed ``--tol``·‖H‖ against the dense
spectrum): the constants ``DENSE_ROUTE_MAX_P`` of ``hessian_spectra.cli`` come from this script
(docs/matrix-free.md, "Route choice"). BLAS threads per subprocess: ``--threads`` (default 1, as
in the other benchmarks; run on an idle machine for final numbers).

Usage::

    python benchmarks/bench_routes.py                      # h = 2,3,4,6,8,10 (P = 1,600 ... 7,960)
    python benchmarks/bench_routes.py --widths 2,4 --steps 100
    python benchmarks/bench_routes.py --data mnist --mnist DIR
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import common
import numpy as np


def _network(args):
    from hessian_spectra import mlp
    from hessian_spectra.objective import Objective
    from hessian_spectra.training import train

    ds = common.load_data(args)
    sizes = (ds.dim, args.width, ds.n_classes)
    objective = Objective(ds.X, ds.y, sizes, args.activation, "cross_entropy")
    params0 = mlp.init_params(sizes, "normal", seed=args.seed + 1)
    result = train(objective, params0, optimizer="gd", lr=args.lr, steps=args.steps, progress=False)
    return objective, result.params


def _worker(args) -> dict:
    import warnings

    from hessian_spectra import spectrum
    from hessian_spectra.curvature import curvature_matrices, matrix_free

    objective, params = _network(args)
    row = {"width": args.width, "P": objective.n_params}
    t0 = time.perf_counter()
    H = curvature_matrices(objective, params, ("H",), engine="fast")["H"]
    row["dense_assemble_s"] = time.perf_counter() - t0
    t1 = time.perf_counter()
    eigs = spectrum.eigenvalues(H)
    row["dense_eigh_s"] = time.perf_counter() - t1
    row["dense_s"] = time.perf_counter() - t0
    del H
    for key, which in (("top", "largest"), ("bottom", "smallest")):
        t0 = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            vals, info = matrix_free.top_eigenvalues(objective, params, args.k, which=which)
        row[f"{key}_s"] = time.perf_counter() - t0
        row[f"{key}_products"] = info["n_products"]
        row[f"{key}_converged"] = info["n_converged"]
        row[f"{key}_warnings"] = len(caught)
        exact = eigs[::-1][: args.k] if which == "largest" else eigs[: args.k]
        row[f"{key}_max_err_over_norm"] = float(np.max(np.abs(vals - exact)) / np.abs(eigs).max())
    t0 = time.perf_counter()
    matrix_free.spectral_density(objective, params, rng=args.seed)
    row["density_s"] = time.perf_counter() - t0
    return row


def _crossovers(rows: list[dict], tol: float) -> dict:
    """Per quantity, the P at which the dense route is preferred and the crossover, the largest of them.

    The dense route is preferred at a P where it was faster, or (top-k, bottom-k) where the
    matrix-free values missed the accuracy asked, tol·‖H‖, against the dense spectrum (e.g. copies
    of a repeated zero eigenvalue that a single-vector Krylov method does not see).
    """
    out = {}
    for key in ("top", "bottom", "density"):
        inaccurate = [] if key == "density" else [r["P"] for r in rows if r[f"{key}_max_err_over_norm"] > tol]
        dense = [r["P"] for r in rows if r["dense_s"] < r[f"{key}_s"] or r["P"] in inaccurate]
        out[key] = {
            "dense_preferred": dense,
            "inaccurate": inaccurate,
            "crossover": max(dense) if dense else 0,
        }
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--widths", default="2,3,4,6,8,10")
    p.add_argument("--k", type=int, default=20, help="number of eigenvalues of --top-k / --bottom-k")
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--steps", type=int, default=500, help="full-batch GD steps")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--activation", default="relu")
    common.add_data_arguments(p)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--tol", type=float, default=1e-5, help="accuracy asked, relative to ||H|| (the default tol)"
    )
    p.add_argument("--threads", type=int, default=1, help="BLAS threads of each subprocess")
    p.add_argument("--json", default=None, help="write all rows to this JSON file")
    p.add_argument("--width", type=int, default=None, help=argparse.SUPPRESS)  # worker mode
    args = p.parse_args(argv)
    if args.width is not None:
        print(json.dumps(_worker(args)))
        return 0

    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    child = ["--k", str(args.k), "--samples", str(args.samples), "--steps", str(args.steps)]
    child += ["--lr", repr(args.lr), "--activation", args.activation, "--data", args.data]
    child += ["--seed", str(args.seed)] + (["--mnist", args.mnist] if args.mnist else [])
    rows = []
    before = common.machine_record()
    print(
        f"| P | dense: H + eigh (s) | top-{args.k} (s, products) | bottom-{args.k} (s, products) | density (s) |"
    )
    print("|---|---|---|---|---|")
    for h in (int(s) for s in args.widths.split(",")):
        cmd = [sys.executable, os.path.abspath(__file__), *child, "--width", str(h)]
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(out.stderr, file=sys.stderr)
            return out.returncode
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(r)
        partial = "" if r["bottom_converged"] == args.k else f", {r['bottom_converged']}/{args.k} converged"
        print(
            f"| {r['P']:,} | {r['dense_s']:.1f} ({r['dense_assemble_s']:.1f} + {r['dense_eigh_s']:.1f}) "
            f"| {r['top_s']:.1f} ({r['top_products']}, err {r['top_max_err_over_norm']:.0e}) "
            f"| {r['bottom_s']:.1f} ({r['bottom_products']}, err {r['bottom_max_err_over_norm']:.0e}"
            f"{partial}) "
            f"| {r['density_s']:.1f} |",
            flush=True,
        )
    print()
    crossovers = _crossovers(rows, args.tol)
    for key, c in crossovers.items():
        print(
            f"{key}: dense route preferred at P = {c['dense_preferred'] or 'none'} (matrix-free inaccurate "
            f"at {c['inaccurate'] or 'none'}); crossover (largest such P): {c['crossover']}"
        )
    if args.json:
        common.write_json(args.json, "routes", args, ("width",), before, rows, crossovers=crossovers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
