"""Benchmark of the matrix-free path at the paper's MNIST sizes (S18 Fig. 3, experiment E3).

For each width h of the 784-h-10 sweep (P = 795h + 10: 7,960 ... 55,660) a *fresh subprocess*:

1. builds 1,000 examples: MNIST from IDX files with ``--mnist DIR``, otherwise synthetic
   784-dimensional data of the same shape (10 Gaussian clusters, one per class, globally
   standardized: ``hessian_spectra.data.blobs``);
2. trains the ReLU network from S18's N(0, 0.1²) initialization by full-batch GD, the same step
   size and number of steps for every width (default lr 0.1, 500 steps);
3. computes the top-k (default 120) Hessian eigenvalues by Lanczos (``matrix_free.extreme_eigenpairs``,
   i.e. ``top_eigenvalues`` plus the eigenvectors), and the residual ‖Hq − λq‖ of every pair;
4. optionally the bottom-k eigenvalues (``--bottom``), the SLQ density (``--density``), and a dense
   check against ``scipy.linalg.eigh`` of autograd's Hessian for P ≤ ``--dense-max-p``.

Peak memory is the subprocess's ``ru_maxrss`` (resident set, whole process: interpreter, data,
training and solver) read *before* the optional dense check. Timings are wall-clock; the machine
is shared with other jobs, so they are noisy. BLAS threads are set by ``--threads`` (default 1).

Usage::

    python benchmarks/bench_matrix_free.py                       # widths 10,30,50,70, top-120
    python benchmarks/bench_matrix_free.py --widths 70 --bottom --density
    python benchmarks/bench_matrix_free.py --widths 10 --dense-max-p 10000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np


def _worker(args) -> dict:
    from hessian_spectra import data, mlp
    from hessian_spectra.curvature import matrix_free
    from hessian_spectra.objective import Objective
    from hessian_spectra.training import train

    h = args.width
    if args.mnist:
        ds = data.mnist(args.mnist, n_samples=args.samples, seed=args.seed)
    else:
        ds = data.blobs(n_samples=args.samples, n_clusters=10, dim=784, n_classes=10, seed=args.seed)
    sizes = (ds.dim, h, ds.n_classes)
    objective = Objective(ds.X, ds.y, sizes, "relu", "cross_entropy")
    params0 = mlp.init_params(sizes, "normal", seed=args.seed + 1)
    t0 = time.perf_counter()
    result = train(objective, params0, optimizer="gd", lr=args.lr, steps=args.steps, progress=False)
    train_s = time.perf_counter() - t0
    params = result.params
    row = {
        "width": h,
        "P": objective.n_params,
        "data": ds.name,
        "train_steps": result.steps_run,
        "train_seconds": train_s,
        "loss": float(result.history["loss"][-1]),
        "accuracy": float(result.history["accuracy"][-1]),
        "grad_norm": float(result.history["grad_norm"][-1]),
    }
    # cost of one product, measured on its own
    op = matrix_free.hessian_operator(objective, params)
    v = np.random.default_rng(0).standard_normal(objective.n_params)
    op.matvec(v)
    t0 = time.perf_counter()
    for _ in range(5):
        op.matvec(v)
    row["seconds_per_product"] = (time.perf_counter() - t0) / 5

    op = matrix_free.hessian_operator(objective, params)
    t0 = time.perf_counter()
    tol = {} if args.tol is None else {"tol": args.tol}
    top, _, info = matrix_free.extreme_eigenpairs(
        op, args.k, which="largest", ncv=args.ncv, compute_residuals=True, **tol
    )
    row["top_seconds"] = time.perf_counter() - t0
    row["top_products"] = info["n_products"] - info["n_products_residuals"]
    row["top_ncv"] = info["ncv"]
    row["tol"] = info["tol"]
    row["top_max_residual_rel"] = float(info["residuals"].max() / abs(top[0]))
    row["top"] = top.tolist()
    if args.bottom:
        t0 = time.perf_counter()
        bottom, info_b = matrix_free.top_eigenvalues(
            objective, params, args.k, which="smallest", ncv=args.ncv, **tol
        )
        row["bottom_seconds"] = time.perf_counter() - t0
        row["bottom_products"] = info_b["n_products"]
        row["bottom"] = bottom.tolist()
    if args.density:
        # what matrix_free.spectral_density does, in its two steps, so the dense check can reuse σ²
        t0 = time.perf_counter()
        op = matrix_free.hessian_operator(objective, params)
        nodes, weights = matrix_free.slq(op, n_vectors=10, n_steps=90, rng=np.random.default_rng(args.seed))
        grid, density = matrix_free.density_from_nodes(nodes, weights)
        row["density_seconds"] = time.perf_counter() - t0
        row["density_products"] = op.n_products
        sigma2 = matrix_free.smoothing_variance(nodes[weights > 0].min(), nodes[weights > 0].max())
        row["density_sigma2"] = sigma2
    row["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    if objective.n_params <= args.dense_max_p:
        from scipy.linalg import eigh

        from hessian_spectra.curvature import reference

        t0 = time.perf_counter()
        all_eigs = eigh(reference.hessian(objective, params), eigvals_only=True)
        exact = all_eigs[::-1][: args.k]
        row["dense_seconds"] = time.perf_counter() - t0
        row["dense_max_rel_err_top"] = float(np.max(np.abs(top - exact) / np.abs(exact)))
        row["dense_max_abs_err_over_lmax"] = float(np.max(np.abs(top - exact)) / abs(exact[0]))
        if args.bottom:
            exact_bottom = all_eigs[: args.k]
            err = np.abs(np.asarray(row["bottom"]) - exact_bottom)
            row["dense_bottom_max_abs_err_over_lmax"] = float(err.max() / abs(exact[0]))
            big = np.abs(exact_bottom) >= 1e-3 * abs(exact[0])  # outside the cluster at zero
            row["dense_bottom_n_outside_zero_cluster"] = int(big.sum())
            if big.any():
                row["dense_bottom_max_rel_err_outside"] = float(np.max(err[big] / np.abs(exact_bottom[big])))
        if args.density:
            P = objective.n_params
            _, exact_density = matrix_free.density_from_nodes(
                all_eigs[None, :], np.full((1, P), 1.0 / P), grid=grid, sigma2=sigma2
            )
            row["density_l1_to_exact"] = float(np.trapezoid(np.abs(density - exact_density), grid))
            if args.figure:
                from hessian_spectra import plots

                fig = plots.density_figure(
                    grid,
                    density,
                    title=f"784-{h}-10 (P = {P:,}): SLQ (10 probes × 90 steps) vs exact, σ² = {sigma2:.0e}",
                    exact_density=exact_density,
                )
                plots.save_figure(fig, args.figure)
    return row


def _table(rows, k) -> str:
    lines = [
        f"| h | P | train (s) | s/product | top-{k}: products | top-{k}: time (s) | peak RSS (MiB) "
        f"| λ₁ | λ₁₀ | λ_{k} | max residual/λ₁ |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        t = r["top"]
        lines.append(
            f"| {r['width']} | {r['P']:,} | {r['train_seconds']:.1f} | {r['seconds_per_product'] * 1e3:.1f} ms "
            f"| {r['top_products']} | {r['top_seconds']:.1f} | {r['peak_rss_mib']:.0f} | {t[0]:.4g} "
            f"| {t[min(9, len(t) - 1)]:.3g} | {t[-1]:.3g} | {r['top_max_residual_rel']:.1e} |"
        )
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--widths", default="10,30,50,70")
    p.add_argument("--k", type=int, default=120, help="number of top eigenvalues")
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--steps", type=int, default=500, help="GD steps (same for every width)")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--tol", type=float, default=None, help="Lanczos tolerance relative to ‖H‖ (default 1e-5)")
    p.add_argument(
        "--ncv", type=int, default=None, help="Lanczos vectors kept by ARPACK (default max(3k, 20))"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mnist", default=None, help="folder with MNIST IDX files (default: synthetic data)")
    p.add_argument("--bottom", action="store_true", help="also the bottom-k eigenvalues")
    p.add_argument("--density", action="store_true", help="also the SLQ density (10 probes × 90 steps)")
    p.add_argument("--dense-max-p", type=int, default=0, help="dense check of the top-k when P <= this")
    p.add_argument("--figure", default=None, help="PNG of SLQ vs exact density (with --density, dense check)")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads of each subprocess")
    p.add_argument("--json", default=None, help="write all results to this JSON file")
    p.add_argument("--width", type=int, default=None, help=argparse.SUPPRESS)  # worker mode
    args = p.parse_args(argv)

    if args.width is not None:
        print(json.dumps(_worker(args)))
        return 0

    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    rows = []
    child = ["--k", str(args.k), "--samples", str(args.samples), "--steps", str(args.steps)]
    child += ["--lr", repr(args.lr), "--seed", str(args.seed)]
    child += ["--tol", repr(args.tol)] if args.tol is not None else []
    child += ["--dense-max-p", str(args.dense_max_p)]
    child += ["--ncv", str(args.ncv)] if args.ncv is not None else []
    child += ["--mnist", args.mnist] if args.mnist else []
    child += ["--bottom"] if args.bottom else []
    child += ["--density"] if args.density else []
    child += ["--figure", os.path.abspath(args.figure)] if args.figure else []
    for h in (int(s) for s in args.widths.split(",")):
        cmd = [sys.executable, os.path.abspath(__file__), *child, "--width", str(h)]
        t0 = time.perf_counter()
        out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(out.stderr, file=sys.stderr)
            return out.returncode
        row = json.loads(out.stdout.strip().splitlines()[-1])
        row["process_seconds"] = time.perf_counter() - t0
        rows.append(row)
        extra = ""
        if "bottom_seconds" in row:
            extra += f"; bottom-{args.k}: {row['bottom_products']} products, {row['bottom_seconds']:.1f} s"
        if "density_seconds" in row:
            extra += f"; SLQ density: {row['density_seconds']:.1f} s"
        if "density_l1_to_exact" in row:
            extra += f"; L1(SLQ, exact smoothed) = {row['density_l1_to_exact']:.3f}"
        if "dense_bottom_max_abs_err_over_lmax" in row:
            extra += (
                f"; bottom vs dense: max |error|/λ₁ {row['dense_bottom_max_abs_err_over_lmax']:.1e}, "
                f"max relative error of the {row['dense_bottom_n_outside_zero_cluster']} with |λ| ≥ 1e-3 λ₁ "
                f"{row.get('dense_bottom_max_rel_err_outside', float('nan')):.1e}"
            )
        if "dense_max_rel_err_top" in row:
            extra += (
                f"; dense check ({row['dense_seconds']:.0f} s): max relative error of the top-{args.k} "
                f"{row['dense_max_rel_err_top']:.1e}"
            )
        print(
            f"h = {h:3d}, P = {row['P']:6,}: trained {row['train_steps']} steps in "
            f"{row['train_seconds']:.1f} s (loss {row['loss']:.3g}, acc {row['accuracy']:.3f}); top-{args.k} "
            f"in {row['top_seconds']:.1f} s with {row['top_products']} products; peak RSS "
            f"{row['peak_rss_mib']:.0f} MiB{extra}",
            flush=True,
        )
    print()
    print(_table(rows, args.k))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
