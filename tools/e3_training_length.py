"""Side experiment for E3 and E9: how the Hessian's scale at the end of training depends on how long
GD runs.

S18 report the top eigenvalue of 784-h-10 on 1,000 MNIST images at ≈ 0.06-0.08 and the most negative
at ≈ −4 … −7e-5, but give neither the learning rate nor the number of steps. This script trains E3's
network (same data draw, same initial point as ``reproduce E3`` for the seed given, lr 0.1) far
beyond E3's 2,000 steps and measures at a few steps along the run: the loss, the gradient norm, the
top eigenvalues and the smallest one by Lanczos, and, at the steps in ``--dense``, the whole spectrum
(the negative fraction and the number of eigenvalues above 0.01).

    python tools/e3_training_length.py --seed 0 --h 10 --steps 2000 10000 50000 --dense 2000 50000 \\
        --out results_side/e3_training_length.json

Prints one line per measured step and writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np

from hessian_spectra import mlp, spectrum
from hessian_spectra.curvature import matrix_free
from hessian_spectra.experiments import e03_width_sweep as e03
from hessian_spectra.experiments import runner
from hessian_spectra.objective import Objective
from hessian_spectra.training import train


def measure(obj, w, dense: bool, k_top: int = 30) -> dict:
    """Top-k and smallest eigenvalue by Lanczos; with ``dense`` also the full spectrum's counts."""
    with runner.single_thread_blas():
        top, _ = matrix_free.top_eigenvalues(obj, w, k_top, which="largest")
        bottom, _ = matrix_free.top_eigenvalues(
            obj, w, 1, which="smallest", tol=e03.BOTTOM_TOL, ncv=e03.BOTTOM_NCV
        )
    top = np.sort(np.asarray(top))[::-1]
    out = {
        "lambda_max": float(top[0]),
        "lambda_10": float(top[9]),
        "lambda_min": float(np.min(bottom)),
        "n_above_0.01_in_top": int(np.count_nonzero(top > e03.PAPER_LEVEL)),
    }
    if dense:
        ev = runner.dense_spectra(obj, w)["H"]
        neg = spectrum.negative_stats(ev)
        out.update(
            negative_fraction=neg["fraction"],
            dense_lambda_min=float(ev.min()),
            n_above_0_01=int(np.count_nonzero(ev > e03.PAPER_LEVEL)),
            n_near_zero=int(np.count_nonzero(np.abs(ev) <= e03.NEAR_ZERO_REL * ev.max())),
        )
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=0, help="E3's seed (data draw and initial point)")
    p.add_argument("--h", type=int, default=10, help="hidden width")
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--steps", type=int, nargs="+", default=[2000, 10000, 50000], help="steps to measure at")
    p.add_argument(
        "--dense", type=int, nargs="*", default=[2000, 50000], help="steps with the dense spectrum"
    )
    p.add_argument("--out", default=None, help="JSON file for the numbers")
    args = p.parse_args(argv)
    exp = e03.EXPERIMENT
    ctx = runner.Context(exp, "unused", False, args.seed, False, exp.config(False))
    ds = e03.load_data(ctx)
    sizes = (ds.dim, args.h, ds.n_classes)
    obj = Objective(ds.X, ds.y, sizes, "relu", "cross_entropy")
    p0 = mlp.init_params(sizes, "normal", seed=ctx.seed_for("init", args.h))
    steps = sorted(set(args.steps))
    t0 = time.process_time()
    with runner.single_thread_blas():
        res = train(obj, p0, lr=args.lr, steps=steps[-1], snapshot_steps=steps, progress=True)
    hist = res.history
    rows = []
    for s in steps:
        j = int(np.searchsorted(hist["step"], s))
        w = res.snapshots[s]
        row = {
            "step": s,
            "loss": float(obj.loss_value(w)),
            "accuracy": float(obj.accuracy(w)),
            "grad_norm": float(hist["grad_norm"][j])
            if j < hist["step"].size and hist["step"][j] == s
            else None,
            **measure(obj, w, s in args.dense),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    out = {
        "seed": args.seed,
        "h": args.h,
        "lr": args.lr,
        "n_params": obj.n_params,
        "data": ds.name,
        "cpu_seconds": time.process_time() - t0,
        "rows": rows,
        "history": {k: np.asarray(v).tolist() for k, v in hist.items()},
    }
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
