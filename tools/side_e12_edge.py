"""Side experiment of E12: where do the measurements outside the edge band come from?

Runs one of E12's MSE runs (the same data, initial point and GD as ``reproduce E12`` for that seed,
through the experiment's own ``gd_run``) with the step count and the measurement cadence changed,
and prints, from E12's ``run_summary``: the step of the first crossing of 2/η, the fraction of the
later measurements within ±20 % of 2/η (the edge check), that fraction over the measurements after
the first ``--skip`` steps past the crossing, the steps of the measurements outside the band with
their λ_max·η/2, and the median λ_max·η/2 after the crossing.

    python tools/side_e12_edge.py blobs --seed 0 --threshold 2.5 --steps 400 --every 20
    python tools/side_e12_edge.py blobs --seed 0 --threshold 2.5 --steps 1500 --every 5
    python tools/side_e12_edge.py mnist --seed 0 --threshold 8 --steps 1500 --every 100 --full --init-scale 0.1

(the last: the initial sharpness and the peak of small-step GD, far from its edge, at another
initialization scale).

Its output is quoted in docs/reproduce/E12.md.
"""

from __future__ import annotations

import argparse

import numpy as np

from hessian_spectra.experiments import e12_edge_of_stability as e12
from hessian_spectra.experiments.runner import Context


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset", choices=sorted(e12.DATASETS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threshold", type=float, required=True, help="2/η")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--every", type=int, required=True)
    parser.add_argument("--full", action="store_true", help="start from the full configuration")
    parser.add_argument("--mnist-samples", type=int, default=None)
    parser.add_argument("--init-scale", type=float, default=None, help="std of the initial weights")
    parser.add_argument("--skip", type=int, default=100, help="steps after the crossing left out")
    parser.add_argument("--out", default="/tmp/side_e12")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.every < 1:
        raise ValueError("--steps and --every: expected positive integers")

    exp = e12.EXPERIMENT
    overrides = {f"{args.dataset}_steps": args.steps, "every": args.every, "r_norm_every": 10**9}
    if args.mnist_samples is not None:
        overrides["mnist_samples"] = args.mnist_samples
    if args.init_scale is not None:
        overrides["init_scale"] = args.init_scale
    cfg = exp.config(not args.full, overrides)
    ctx = Context(exp, args.out, not args.full, args.seed, False, cfg)
    r = e12.gd_run(ctx, args.dataset, "mse", args.threshold)
    run = {
        "steps": np.asarray(r["steps"]).tolist(),
        "sharpness": np.asarray(r["h_top"]).tolist(),
        "g_top": np.asarray(r["g_top"]).tolist(),
        "r_top": np.asarray(r["r_top"]).tolist(),
        "r_bottom": np.asarray(r["r_bottom"]).tolist(),
        "loss_curve": np.asarray(r["loss"]).tolist(),
        "lr": 2.0 / args.threshold,
    }
    s = e12.run_summary(run)
    steps = np.asarray(run["steps"])
    ratio = np.asarray(run["sharpness"]) / args.threshold
    print(
        f"{args.dataset} seed {args.seed} 2/η={args.threshold:g} steps={args.steps} every={args.every} "
        f"init scale {cfg['init_scale']:g}"
    )
    lam = np.asarray(run["sharpness"])
    print(f"  λ_max at step 0: {lam[0]:.3f}; peak {lam.max():.3f} at step {int(steps[lam.argmax()])}")
    if not s["crossed"]:
        print(f"  never reaches 2/η; peak λ_max·η/2 = {s['peak_ratio']:.3f}")
        return 0
    i = s["crossing_index"]
    t_star = int(steps[i])
    after = np.arange(len(steps)) > i
    inside = np.abs(ratio - 1.0) <= e12.EDGE_BAND
    late = after & (steps > t_star + args.skip)
    print(f"  first reaches 2/η at step {t_star} (sharpening ×{s['sharpening']:.2f})")
    print(
        f"  fraction within ±{e12.EDGE_BAND:.0%}: {s['fraction_in_band']:.3f} of {s['n_after']} measurements"
    )
    print(f"  ... after step {t_star + args.skip}: {inside[late].mean():.3f} of {int(late.sum())}")
    outside = after & ~inside
    print(
        "  outside the band (step: λ_max·η/2):",
        ", ".join(f"{t}: {q:.2f}" for t, q in zip(steps[outside], ratio[outside], strict=True)),
    )
    print(f"  median λ_max·η/2 after the crossing: {s['median_ratio_after']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
