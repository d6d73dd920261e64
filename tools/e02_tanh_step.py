r"""Side experiment of E2 (not part of its verdict): why the tanh rows have no step near k.

E2 (Sagun et al., 2018, Table 1) expects k outliers in the Hessian of 100-30-30-k networks on k
Gaussian blobs. ReLU rows show a step at k or k − 1; the tanh rows do not. This script starts from
E2's own data and initial points (``e02_cluster_sweep.problem``, GD, E2's quick sizes by default)
and changes one setting at a time from the tanh baseline:

- ``relu``: the activation (the reference with a step);
- ``x/4``: the inputs divided by 4 (fewer saturated first-layer units);
- ``init/4``: the initial weights divided by 4;
- ``lr 0.3`` and ``4x steps``: the learning rate and the training length.

At the end of training each run reports

- ``sat1``, ``sat2``: the fraction of hidden pre-activations with :math:`|z| > 2` in layers 1 and 2
  (:math:`\tanh'(2) = 0.07`: such a unit passes 7 % of a perturbation);
- the same for the diagonal block of H without the first layer (W_2 onwards): dividing the
  inputs by a divides the first layer's block of H by a² at the same function, so ``x/4`` also
  shrinks that block 16-fold;
- the ratio count (largest :math:`\lambda_j/\lambda_{j+1}`, :math:`j \ge 2`) and
  :math:`\lambda_k/\lambda_{k+1}`, :math:`\lambda_{k-1}/\lambda_k` of H and of the Gauss-Newton term G
  (top eigenvalues by Lanczos);
- Papyan's class-mean term :math:`G_1 = (C-1)\sum_c \pi_c \delta_c\delta_c^\top` (Papyan, 2020):
  its k-th eigenvalue against H's (k+1)-th (``G1_k/H_k+1`` < 1: the class-mean directions do not
  clear H's bulk), and its share of tr G (``trG1/trG``; the rest is the cross-class and within-class
  terms G0, G2, G3), with the within-class share ``trG3/trG``;
- ``λ1(G1)/λk(G1)``: the spread of the class-mean eigenvalues themselves;
- ``λ1(G2)/λk(G1)``: the largest cross-class eigenvalue (Papyan's :math:`G_2`) against the k-th
  class-mean one, and ``λk+1(H)/λk+1(G)``: how far the residual R lifts H's first bulk eigenvalue.

Usage::

    python tools/e02_tanh_step.py --seeds 3                      # std x1, every variant (E2.md's table)
    python tools/e02_tanh_step.py --seeds 3 --spread 10 --variants tanh relu x/4 init/4
    python tools/e02_tanh_step.py --variants tanh relu --full   # E2's full sizes (N = 500, 2,000 steps)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time

import numpy as np

from hessian_spectra import mlp, spectrum, training
from hessian_spectra.curvature import lanczos, matrix_free, papyan
from hessian_spectra.experiments import e02_cluster_sweep as e02
from hessian_spectra.experiments import runner
from hessian_spectra.objective import Objective

#: |z| above which a tanh unit counts as saturated: tanh'(2) = 1 - tanh(2)^2 = 0.071.
SATURATION = 2.0

#: One change each from the tanh baseline: (activation, input factor, init factor, lr factor, step factor).
VARIANTS = {
    "tanh": ("tanh", 1.0, 1.0, 1.0, 1),
    "relu": ("relu", 1.0, 1.0, 1.0, 1),
    "x/4": ("tanh", 0.25, 1.0, 1.0, 1),
    "init/4": ("tanh", 1.0, 0.25, 1.0, 1),
    "lr 0.3": ("tanh", 1.0, 1.0, 3.0, 1),
    "4x steps": ("tanh", 1.0, 1.0, 1.0, 4),
}


def saturated_fraction(z, threshold: float = SATURATION) -> float:
    """Fraction of the entries of ``z`` with :math:`|z| >` ``threshold``."""
    z = np.asarray(z, dtype=float)
    if z.size == 0:
        raise ValueError("z must not be empty")
    return float(np.mean(np.abs(z) > threshold))


def hidden_saturation(objective: Objective, params, threshold: float = SATURATION) -> list[float]:
    """:func:`saturated_fraction` of every hidden layer's pre-activations :math:`z_l` on the training set."""
    fp = mlp.forward_pass(params, objective.X, objective.layer_sizes, objective.activation)
    return [saturated_fraction(z, threshold) for z in fp.zs[:-1]]


def step_numbers(top, k: int) -> dict:
    """Ratio count (j ≥ 2) and the step ratios at k and k − 1 of descending eigenvalues ``top``."""
    top = np.sort(np.asarray(top, dtype=float))[::-1]
    r = e02.step_ratios(top, k)
    return {"count": spectrum.outlier_count_ratio(top, start=2), "k/k+1": r["k/k+1"], "k-1/k": r["k-1/k"]}


def block_top_eigenvalues(objective: Objective, params, start: int, n_top: int, term: str = "H"):
    r"""The ``n_top`` largest eigenvalues (descending) of the diagonal block ``[start:, start:]`` of H
    (or G): the operator :math:`u \mapsto (M [0; u])_{start:}`, by the package's Lanczos."""
    from scipy.sparse.linalg import LinearOperator

    full = matrix_free.curvature_operator(objective, params, term)
    P = objective.n_params
    if not 0 <= start < P - n_top:
        raise ValueError(f"start must satisfy 0 <= start < n_params - n_top = {P - n_top}; got {start}")

    def matvec(u):
        v = np.zeros(P)
        v[start:] = np.ravel(u)
        return full.matvec(v)[start:]

    op = LinearOperator((P - start, P - start), matvec=matvec, dtype=float)
    w = lanczos.extreme_eigenpairs(op, n_top, which="largest", seed=0)[0]
    return np.sort(np.asarray(w))[::-1]


def run_variant(ctx, k: int, name: str, n_top: int, spread: float = 1.0) -> dict:
    act, x_factor, init_factor, lr_factor, step_factor = VARIANTS[name]
    cfg = ctx.config
    base, p0 = e02.problem(ctx, k, act, spread)
    obj = Objective(base.X * x_factor, base.y, base.layer_sizes, act, cfg["loss"])
    p0 = np.asarray(p0) * init_factor
    sat0 = hidden_saturation(obj, p0)
    res = training.train(
        obj,
        p0,
        optimizer="gd",
        lr=cfg["lr"] * lr_factor,
        steps=int(cfg["steps"]) * step_factor,
        grad_tol=cfg["grad_tol"],
        progress=False,
    )
    w = res.params
    with runner.single_thread_blas():
        top_H, _ = matrix_free.top_eigenvalues(obj, w, n_top, term="H")
        top_G, _ = matrix_free.top_eigenvalues(obj, w, n_top, term="G")
        upper = mlp.param_slices(obj.layer_sizes)[1][0].start  # layers 2..L: W_2 onwards
        top_up = block_top_eigenvalues(obj, w, upper, n_top)
    top_H, top_G = np.sort(top_H)[::-1], np.sort(top_G)[::-1]
    means = papyan.class_means(obj, w, weighting="samples")
    g1 = np.sort(papyan.g1_eigenvalues_from_gram(means))[::-1]
    g2 = np.sort(papyan.g2_eigenvalues_from_gram(means))[::-1]
    tr = papyan.class_mean_traces(means)
    return {
        "variant": name,
        "seed": ctx.seed,
        "spread": float(spread),
        "k": k,
        "sat0": sat0,
        "sat": hidden_saturation(obj, w),
        "steps": res.steps_run,
        "grad_norm": float(res.history["grad_norm"][-1]),
        "accuracy": float(res.history["accuracy"][-1]),
        "H": step_numbers(top_H, k),
        "G": step_numbers(top_G, k),
        "H_up": step_numbers(top_up, k),
        "H1": float(top_H[0]),
        "G1_k/H_k+1": float(g1[k - 1] / top_H[k]),
        "G1_1/H_1": float(g1[0] / top_H[0]),
        "trG1/trG": float(tr["G1"] / tr["G"]),
        "trG3/trG": float(tr["G3"] / tr["G"]),
        "G2_1/G1_k": float(g2[0] / g1[k - 1]),
        "G1_1/G1_k": float(g1[0] / g1[k - 1]),
        "H_k+1/G_k+1": float(top_H[k] / top_G[k]),
    }


def table(rows) -> str:
    lines = [
        "| seed | std × | variant | k | sat1, sat2 at init | sat1, sat2 at end | grad norm | H: count, λk/λk+1, λk−1/λk | "
        "G: count, λk/λk+1, λk−1/λk | H without layer 1: count, λk/λk+1, λk−1/λk | λ1(H) | λk(G1)/λk+1(H) | λ1(G1)/λ1(H) | "
        "λ1(G1)/λk(G1) | λ1(G2)/λk(G1) | trG1/trG | trG3/trG | λk+1(H)/λk+1(G) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        h, g, u = r["H"], r["G"], r["H_up"]
        lines.append(
            f"| {r['seed']} | {r['spread']:g} | {r['variant']} | {r['k']} | {r['sat0'][0]:.2f}, {r['sat0'][1]:.2f} | "
            f"{r['sat'][0]:.2f}, {r['sat'][1]:.2f} | {r['grad_norm']:.1e} | "
            f"{h['count']}, {h['k/k+1']:.2f}, {h['k-1/k']:.2f} | {g['count']}, {g['k/k+1']:.2f}, {g['k-1/k']:.2f} | "
            f"{u['count']}, {u['k/k+1']:.2f}, {u['k-1/k']:.2f} | "
            f"{r['H1']:.3g} | {r['G1_k/H_k+1']:.2f} | {r['G1_1/H_1']:.2f} | "
            f"{r['G1_1/G1_k']:.1f} | {r['G2_1/G1_k']:.2f} | {r['trG1/trG']:.3f} | {r['trG3/trG']:.3f} | {r['H_k+1/G_k+1']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def summary(rows) -> str:
    """Per variant, over its cells with k ≥ 5 (at k = 2 the ratio rule with j ≥ 2 returns 2 for any
    spectrum whose λ1 stands alone): how many have a count of k or k − 1 in H, G and H without the
    first layer, the median of max(λk/λk+1, λk−1/λk) of H, the median tr G1 / tr G and the median
    end-of-training saturation of layer 1."""
    lines = [
        "| variant | cells (k ≥ 5) | H: count k or k − 1 | G: count k or k − 1 | H without layer 1: k or k − 1 | "
        "median step of H | median trG1/trG | median sat1 at end |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(r["variant"] for r in rows):
        sel = [r for r in rows if r["variant"] == name and r["k"] >= 5]
        if not sel:
            continue

        def near(key, sel=sel):
            return sum(r[key]["count"] in (r["k"] - 1, r["k"]) for r in sel)

        step = np.median([max(r["H"]["k/k+1"], r["H"]["k-1/k"]) for r in sel])
        lines.append(
            f"| {name} | {len(sel)} | {near('H')} | {near('G')} | {near('H_up')} | {step:.2f} | "
            f"{np.median([r['trG1/trG'] for r in sel]):.3f} | {np.median([r['sat'][0] for r in sel]):.2f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0, help="first E2 seed (data and initial points)")
    ap.add_argument("--seeds", type=int, default=1, help="number of seeds")
    ap.add_argument("--ks", type=int, nargs="+", default=[2, 5, 10], help="numbers of clusters")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), help=f"among {list(VARIANTS)}")
    ap.add_argument("--full", action="store_true", help="E2's full sizes (default: quick, N = 250)")
    ap.add_argument("--spread", type=float, default=1.0, help="cluster std multiplier (E2: 1 or 10)")
    ap.add_argument("--n-top", type=int, default=40, help="top eigenvalues computed (> max k)")
    args = ap.parse_args(argv)
    bad = [v for v in args.variants if v not in VARIANTS]
    if bad:
        raise SystemExit(f"--variants: unknown {bad}; expected some of {list(VARIANTS)}")
    if args.seeds < 1:
        raise SystemExit("--seeds must be a positive integer")
    if args.spread <= 0:
        raise SystemExit("--spread must be positive")
    if any(k < 2 for k in args.ks) or args.n_top <= max(args.ks):
        raise SystemExit("--ks must be >= 2 and --n-top larger than every k")
    t0 = time.process_time()
    exp = e02.EXPERIMENT
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for seed in range(args.seed, args.seed + args.seeds):
            ctx = runner.Context(exp, out, not args.full, seed, False, exp.config(not args.full, {}))
            rows += [run_variant(ctx, k, v, args.n_top, args.spread) for v in args.variants for k in args.ks]
    print(table(rows))
    print(summary(rows))
    print(f"CPU time {time.process_time() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
