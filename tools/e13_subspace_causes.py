"""E13's side experiments: why the full-batch gradient of GD on MNIST leaves the top-C Hessian subspace.

E13 measures, along GD and SGD at learning rate 0.1, the fraction f_C = ‖P_C g‖² / ‖g‖² of the
full-batch gradient in the span of the top-C eigenvectors of the exact Hessian. This script reruns its
MNIST problem (the same data, network, initial points and seeds as ``reproduce E13 --quick``) with one
setting changed at a time, outside the verdict:

- ``lr``: GD at several learning rates. Along an eigenvector of H with eigenvalue λ, one GD step
  multiplies the gradient's component by about 1 − ηλ (the quadratic model), so while ηλ_max < 2 the
  components along the sharpest directions are damped fastest; at the edge of stability (λ_max ≈ 2/η,
  Cohen et al. 2021) GD oscillates along them instead. The prediction: f_C grows with η as
  η·λ_max approaches 2.
- ``batch``: SGD at learning rate 0.1 with several batch sizes. Minibatch noise has the covariance
  structure of the per-sample gradients, largest along the top (class-mean) directions, and keeps
  exciting them. The prediction: f_C falls as the batch grows towards the full batch (GD).

Each row is one run; the columns are medians over E13's checkpoints t ≥ 100 (steps 100, 200, 300) of
f_C, of η·λ_max and of the Rayleigh quotient gᵀHg / (gᵀg λ_C), a check of f_C by a route that needs no
eigenvectors (a gradient mostly in the top-C space has a quotient near or above 1).

Usage::

    python tools/e13_subspace_causes.py lr [--seeds 0 1 2]
    python tools/e13_subspace_causes.py batch [--seeds 0 1 2]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src"))

from hessian_spectra.curvature import matrix_free  # noqa: E402
from hessian_spectra.experiments import e13_gradient_subspace as e13  # noqa: E402
from hessian_spectra.experiments import get_experiment, runner  # noqa: E402

LRS = (0.05, 0.1, 0.3, 0.5, 1.0, 1.5)
BATCHES = (10, 50, 200, 500)
CHECKPOINTS = (100, 200, 300)


def one_run(ctx, optimizer: str, lr: float, batch: int | None) -> dict:
    obj, p0 = e13.problem(ctx, "mnist")
    C = obj.n_classes
    res = ctx.train(
        obj,
        p0,
        optimizer=optimizer,
        lr=lr,
        steps=max(CHECKPOINTS),
        batch_size=batch,
        shuffle=True,
        seed=ctx.seed_for("batches", "mnist"),
        snapshot_steps=CHECKPOINTS,
        record_every=50,
    )
    rows = []
    with runner.single_thread_blas():
        for t in CHECKPOINTS:
            w = res.snapshots[t]
            g = obj.gradient(w)
            vals, vecs, _ = e13.top_eigenpairs(obj, w, C + 1, ctx.seed_for("lanczos", "mnist", optimizer, t))
            f_C = float(np.sum((vecs[:, :C].T @ g) ** 2) / (g @ g))
            rayleigh = float(g @ matrix_free.hessian_operator(obj, w).matvec(g) / (g @ g))
            rows.append((f_C, lr * vals[0], rayleigh / vals[C - 1], float(obj.loss_value(w))))
    f, sharp, rq, loss = np.median(np.asarray(rows), axis=0)
    return {"f_C": f, "eta_lambda_max": sharp, "rayleigh_over_lambda_C": rq, "loss": loss}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweep", choices=("lr", "batch"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    args = parser.parse_args(argv)
    exp = get_experiment("E13")
    settings = [("gd", lr, None) for lr in LRS] if args.sweep == "lr" else [("sgd", 0.1, b) for b in BATCHES]
    print(f"{'setting':<18} {'seed':>4} {'f_C':>9} {'eta*lmax':>9} {'gHg/(gg lC)':>12} {'loss':>7} {'s':>5}")
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            ctx = runner.Context(exp, tmp, True, seed, False, exp.config(True))
            for optimizer, lr, batch in settings:
                t0 = time.process_time()
                r = one_run(ctx, optimizer, lr, batch)
                name = f"{optimizer} lr {lr:g}" + (f" batch {batch}" if batch else "")
                print(
                    f"{name:<18} {seed:>4} {r['f_C']:>9.3g} {r['eta_lambda_max']:>9.3f} "
                    f"{r['rayleigh_over_lambda_C']:>12.3g} {r['loss']:>7.3f} {time.process_time() - t0:>5.1f}",
                    flush=True,
                )
    return 0


if __name__ == "__main__":
    sys.exit(main())
