"""Side experiment for E4: the span of the Hessian spectrum at the initial point, real MNIST images
against random inputs of several scales, for several hidden widths.

E4 (S16 Fig. 2) compares λ_max − λ_min at the initial point for real images and random inputs; S16
give neither the widths of the two hidden layers nor the random inputs' scale. This script measures,
for one seed of E4 (the same draw of images and the same initial-point seed as ``reproduce E4``), the
span for: the real images; Gaussian inputs N(0, σ²I) for each σ in ``--scales``; Gaussian inputs with
the images' per-pixel mean and standard deviation ("matched"); and the images standardized per pixel
("real-standardized") or by one mean and standard deviation over all pixels ("real-global", mean
squared norm 784), both to be compared with σ = 1. Only the two extreme eigenvalues are computed
(Lanczos), nothing is trained.

    python tools/e4_init_span.py --seed 0 --hidden 10 30 100 --scales 0.3 1 \\
        --out results_side/e4_init_span.json

Prints one line per (width, inputs) and writes the numbers as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time

from hessian_spectra import mlp
from hessian_spectra.experiments import e04_real_vs_random as e04
from hessian_spectra.experiments import runner
from hessian_spectra.objective import Objective


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seed", type=int, default=0, help="E4's seed (data draw and initial point)")
    p.add_argument("--n-samples", type=int, default=1000)
    p.add_argument("--hidden", type=int, nargs="+", default=[10, 30, 100], help="width of both hidden layers")
    p.add_argument("--scales", type=float, nargs="+", default=[0.3, 1.0], help="σ of the random inputs")
    p.add_argument("--out", default=None, help="JSON file for the numbers")
    args = p.parse_args(argv)
    exp = e04.EXPERIMENT
    rows = []
    t0 = time.process_time()
    for h in args.hidden:
        cfg = exp.config(False, {"n_samples": args.n_samples, "hidden": [h, h]})
        ctx = runner.Context(exp, "unused", False, args.seed, False, cfg)
        real = e04.real_data(ctx)
        sets = {"real": real}
        sets.update({f"random σ={s:g}": e04.random_data(ctx, real.dim, s) for s in args.scales})
        sets["matched"] = e04.matched_data(ctx, real)
        sets["real-standardized"] = e04.standardized_data(real)
        sets["real-global"] = e04.globally_standardized_data(real)
        spans = {}
        for name, ds in sets.items():
            sizes = (ds.dim, h, h, ds.n_classes)
            obj = Objective(ds.X, ds.y, sizes, cfg["activation"], "cross_entropy")
            p0 = mlp.init_params(sizes, "normal", seed=ctx.seed_for("init"))
            e = e04._extremes(obj, p0, 1, 1, 1e-5)
            spans[name] = e["span"]
            row = {"hidden": h, "n_params": obj.n_params, "inputs": name, "min": e["min"], "max": e["max"]}
            row.update(span=e["span"], real_over_this=spans["real"] / e["span"])
            rows.append(row)
            print(json.dumps(row), flush=True)
    out = {
        "seed": args.seed,
        "n_samples": args.n_samples,
        "cpu_seconds": time.process_time() - t0,
        "rows": rows,
    }
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
