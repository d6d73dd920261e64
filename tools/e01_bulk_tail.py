r"""Side experiment of E1 (not part of its verdict): what sets the eigenvalues just after the step.

E1's check "trained bulk at zero" asks :math:`\lambda_{2k+1} \le 0.05\,\lambda_{\max}` after training.
This follows E1's own run (same data, initial point and GD) past its step cap and, at several
steps, compares the top ``2k + 1`` eigenvalues of the Hessian H with those of its Gauss-Newton term
G (matrix-free Lanczos for both): whether :math:`\lambda_{2k+1}/\lambda_{\max}` falls with longer
training (the cap) and whether the eigenvalues after the step belong to G (S18's claim 4) or to the
residual R = H − G.

Usage::

    python tools/e01_bulk_tail.py --out results_side [--quick] [--seed 0] --steps 1000 5000 20000

Writes ``<out>/E1-side/tail-seed-<s>.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from hessian_spectra import io as _io
from hessian_spectra import spectrum
from hessian_spectra.curvature import matrix_free
from hessian_spectra.experiments import e01_init_vs_trained as e01
from hessian_spectra.experiments import runner


def run(out: str, quick: bool, seed: int, steps: list[int]) -> dict:
    exp = e01.EXPERIMENT
    ctx = runner.Context(exp, out, quick, seed, False, exp.config(quick))
    cfg = ctx.config
    k = int(cfg["clusters"])
    m = e01.BULK_RANK_FACTOR * k + 1
    obj, p0 = e01.problem(ctx)
    steps = sorted(int(s) for s in steps)
    res = ctx.train(obj, p0, optimizer="gd", lr=cfg["lr"], steps=steps[-1], snapshot_steps=steps)
    h = res.history
    rows = []
    for s in steps:
        w = res.snapshots.get(s)
        if w is None:
            continue
        with runner.single_thread_blas():
            top_h, _ = matrix_free.top_eigenvalues(obj, w, m, term="H")
            top_g, _ = matrix_free.top_eigenvalues(obj, w, m, term="G")
        top_h, top_g = np.sort(top_h)[::-1], np.sort(top_g)[::-1]
        rows.append(
            {
                "step": s,
                "grad_norm": float(np.interp(s, h["step"], h["grad_norm"])),
                "loss": float(np.interp(s, h["step"], h["loss"])),
                "H_top": float(top_h[0]),
                "H_tail_ratio": float(top_h[m - 1] / top_h[0]),
                "G_tail_ratio": float(top_g[m - 1] / top_g[0]),
                "H_count": spectrum.outlier_count_ratio(top_h, start=2),
                "G_count": spectrum.outlier_count_ratio(top_g, start=2),
                "max_rel_diff_H_G": float(np.max(np.abs(top_h - top_g)) / top_h[0]),
                "H_k_plus_1_over_top": float(top_h[k] / top_h[0]),
            }
        )
    return {"quick": quick, "seed": seed, "k": k, "m": m, "n_samples": cfg["n_samples"], "rows": rows}


def markdown(result) -> str:
    m = result["m"]
    lines = [
        f"E1's run (seed {result['seed']}, N = {result['n_samples']}) followed past its cap; top {m} = 2k + 1 "
        "eigenvalues of H and G by Lanczos.",
        "",
        f"| step | grad norm | loss | λ_max(H) | λ_k+1/λ_max (H) | λ_{m}/λ_max (H) | λ_{m}/λ_max (G) | "
        "count H | count G | max |λ_j(H) − λ_j(G)| / λ_max |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        lines.append(
            f"| {r['step']} | {r['grad_norm']:.2g} | {r['loss']:.3g} | {r['H_top']:.3g} | "
            f"{r['H_k_plus_1_over_top']:.3f} | {r['H_tail_ratio']:.3f} | {r['G_tail_ratio']:.3f} | "
            f"{r['H_count']} | {r['G_count']} | {r['max_rel_diff_H_G']:.2g} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("--quick", action="store_true", help="E1's quick sizes")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--steps", type=int, nargs="+", default=[1000, 5000, 20000])
    args = ap.parse_args(argv)
    if min(args.steps) < 1:
        raise SystemExit("--steps must be positive integers")
    t0 = time.process_time()
    result = run(args.out, args.quick, args.seed, args.steps)
    name = f"tail-{'quick' if args.quick else 'full'}-seed-{args.seed}"
    folder = os.path.join(args.out, "E1-side")
    _io.save_json(os.path.join(folder, f"{name}.json"), result)
    md = markdown(result)
    _io.save_text(os.path.join(folder, f"{name}.md"), md)
    print(md)
    print(f"CPU time {time.process_time() - t0:.0f} s -> {folder}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
