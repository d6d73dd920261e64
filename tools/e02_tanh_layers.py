r"""Side experiment of E2 (not part of its verdict): which layer's block of the Gauss-Newton term G
loses tanh's step near k, and what in that layer makes a class contribute several directions.

E2's tanh rows have no step near k in H, and ``tools/e02_tanh_step.py`` found that at std ×1 and
k ≥ 5 the Gauss-Newton term G itself has none. G splits by layer and by class. Its diagonal block of
layer l (the parameters of :math:`W_l, b_l`) is

.. math::  G_{ll} = \frac1N \sum_i (\tilde h_{l-1,i} \tilde h_{l-1,i}^\top) \otimes
           (B_{l,i}^\top A_i B_{l,i}),

with :math:`\tilde h = [h; 1]`, :math:`B_{l,i} = \partial f_i/\partial z_{l,i}` (C × n_l, the
Jacobian of the logits with respect to the pre-activations of layer l) and :math:`A_i` the softmax
Hessian. On E2's blobs the inputs of a class are nearly one point (the within-class spread is 3 % of
the variance after standardization), so each class c contributes about
:math:`\pi_c\, \bar h_c \bar h_c^\top \otimes M_c^{(l)}`, with the per-class factor

.. math::  M_c^{(l)} = \frac{1}{N_c} \sum_{i \in c} B_{l,i}^\top A_i B_{l,i}
           \qquad (n_l \times n_l,\ \text{rank} \le C - 1).

A block has one outlier per class (a step at k) only if each :math:`M_c^{(l)}` is dominated by one
direction. This script measures, for E2's GD points (quick sizes by default, std ×1), per layer:

- the ratio count (largest :math:`\lambda_j/\lambda_{j+1}`, :math:`j \ge 2`) and
  :math:`\lambda_k/\lambda_{k+1}`, :math:`\lambda_{k-1}/\lambda_k` of the whole G and of each
  diagonal block :math:`G_{ll}` (dense, the ``fast`` engine, ``scipy.linalg.eigh``);
- the per-class factor's second-to-first eigenvalue ratio :math:`\lambda_2(M_c)/\lambda_1(M_c)`
  (median over the classes): near 0, one direction per class; near 1, several;
- the same for :math:`\bar A_c = \frac1{N_c}\sum_{i\in c} A_i` alone (layer L's factor, B = I),
  so that the effect of the backpropagation :math:`B_{l,i}` is separated from the softmax's;
- the same with the activation's derivatives taken out of the backward pass (:math:`\sigma' = 1`,
  "ungated"; same features and weights), for the factors and for the whole G, and the "gate
  alignment" (:func:`gate_alignment`): whether the units of the last hidden layer that carry a
  class's margin are the ones whose derivative is large on that class (ReLU) or small (tanh).

Usage::

    python tools/e02_tanh_layers.py --seeds 3                # tanh and ReLU, k = 5, 10, std x1
    python tools/e02_tanh_layers.py --seeds 3 --spread 10
    python tools/e02_tanh_layers.py --seeds 3 --loss mse --activations relu --ks 2 5
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time

import numpy as np
import scipy.linalg

from hessian_spectra import losses, mlp, spectrum, training
from hessian_spectra.curvature import hessian_terms
from hessian_spectra.experiments import e02_cluster_sweep as e02
from hessian_spectra.experiments import runner
from hessian_spectra.objective import Objective


def step_numbers(eigvals, k: int) -> dict:
    """Ratio count (j ≥ 2) and the step ratios at k and k − 1 of the eigenvalues ``eigvals``."""
    top = np.sort(np.asarray(eigvals, dtype=float))[::-1]
    r = e02.step_ratios(top, k)
    return {
        "count": spectrum.outlier_count_ratio(top[:80], start=2),
        "k/k+1": r["k/k+1"],
        "k-1/k": r["k-1/k"],
    }


def class_factors(objective: Objective, params, gated: bool = True) -> list[np.ndarray]:
    r"""Per layer l = 1..L, the per-class factors :math:`M_c^{(l)}` stacked as ``(C, n_l, n_l)``.

    :math:`B_{l,i}^\top S_i` (n_l × C) comes from one backward pass with the columns of the softmax
    factor :math:`S_i` (:math:`S_i S_i^\top = A_i`) as cotangents, so
    :math:`M_c^{(l)} = \operatorname{mean}_{i\in c} (B_{l,i}^\top S_i)(B_{l,i}^\top S_i)^\top`;
    for the logits (l = L) it is :math:`\bar A_c`. ``gated=False`` sets every :math:`\sigma'(z)` of
    the backward pass to 1 (B without the activation's derivatives, the same weights): what the
    per-class factor would be if the activation passed every unit's signal unchanged.
    """
    fp = mlp.forward_pass(params, objective.X, objective.layer_sizes, objective.activation)
    if not gated:
        fp = dataclasses.replace(fp, d1=[np.ones_like(d) for d in fp.d1])
    S = losses.get_loss(objective.loss).hessian_factor(fp.logits)  # (N, C, C), column j: sqrt(p_j)(e_j - p)
    cot = np.moveaxis(S, -1, 0)  # (C, N, C): cotangent j of sample i is column j of S_i
    deltas = fp.backward(cot)  # per layer (C, N, n_l): row j = (B_l^T S e_j)^T
    y = np.asarray(objective.y)
    out = []
    for d in deltas:
        per_sample = np.einsum("jni,jnk->nik", d, d)  # (N, n_l, n_l) = B^T A B
        out.append(np.stack([per_sample[y == c].mean(axis=0) for c in range(S.shape[-1])]))
    return out


def gauss_newton_from_signals(objective: Objective, params, gated: bool = True) -> np.ndarray:
    r""":math:`G = \frac1N \sum_i J_i^\top A_i J_i = \frac1N V^\top V`, with the rows of V the
    parameter gradients of :math:`(S_i e_j)^\top f_i` (one backward pass with the columns of the
    softmax factor as cotangents). ``gated=True`` is the Gauss-Newton term (the caller checks it
    against the fast engine); ``gated=False`` sets :math:`\sigma'(z) = 1` in the backward pass: the
    same features and weights, with the activation's derivatives taken out of the Jacobian."""
    fp = mlp.forward_pass(params, objective.X, objective.layer_sizes, objective.activation)
    if not gated:
        fp = dataclasses.replace(fp, d1=[np.ones_like(d) for d in fp.d1])
    S = losses.get_loss(objective.loss).hessian_factor(fp.logits)
    deltas = fp.backward(np.moveaxis(S, -1, 0))  # per layer (C, N, n_l)
    pieces = []
    for h, d in zip(fp.hs, deltas, strict=True):
        pieces += [np.einsum("ni,jnk->jnik", h, d).reshape(d.shape[0], d.shape[1], -1), d]
    V = np.concatenate(pieces, axis=-1).reshape(-1, objective.n_params)
    return V.T @ V / objective.X.shape[0]


def factor_ratios(factors: np.ndarray) -> float:
    """Median over the classes of :math:`\\lambda_2(M_c)/\\lambda_1(M_c)`."""
    r = []
    for M in factors:
        w = np.sort(scipy.linalg.eigvalsh(M))[::-1]
        r.append(w[1] / w[0])
    return float(np.median(r))


def run_cell(ctx, k: int, act: str, spread: float) -> dict:
    cfg = ctx.config
    obj, p0 = e02.problem(ctx, k, act, spread)
    res = training.train(
        obj,
        p0,
        optimizer="gd",
        lr=cfg["lr"],
        steps=int(cfg["steps"]),
        grad_tol=cfg["grad_tol"],
        progress=False,
    )
    w = res.params
    with runner.single_thread_blas():
        G = hessian_terms(obj.X, obj.y, w, obj.layer_sizes, act, obj.loss, terms=("G",), engine="fast")["G"]
    G_signals = gauss_newton_from_signals(obj, w)
    scale = np.abs(G).max()
    if np.abs(G_signals - G).max() > 1e-10 * scale:  # two routes to the same G: a bug if they differ
        raise AssertionError(
            f"G from the signals differs from the fast engine's by {np.abs(G_signals - G).max()}"
        )
    row = {
        "seed": ctx.seed,
        "act": act,
        "k": k,
        "spread": spread,
        "G": step_numbers(scipy.linalg.eigvalsh(G), k),
    }
    row["G ungated"] = step_numbers(scipy.linalg.eigvalsh(gauss_newton_from_signals(obj, w, gated=False)), k)
    for l, (ws, bs) in enumerate(mlp.param_slices(obj.layer_sizes), start=1):
        block = slice(ws.start, bs.stop)
        row[f"G{l}{l}"] = step_numbers(scipy.linalg.eigvalsh(G[block, block]), k)
    row["M ratio"] = [factor_ratios(M) for M in class_factors(obj, w)]
    row["M ratio, ungated"] = [factor_ratios(M) for M in class_factors(obj, w, gated=False)]
    row["gate alignment"] = gate_alignment(obj, w)
    return row


def gate_alignment(objective: Objective, params) -> float:
    r"""How the last hidden layer's derivatives treat the units that carry a class's margin.

    For class c, :math:`u_c` is the top eigenvector of :math:`\bar A_c` (the softmax's leading
    direction, about :math:`e_c - p`), :math:`a_j = |(W_L u_c)_j|` how much hidden unit j of the last
    hidden layer feeds it, and :math:`g_j` the mean of :math:`\sigma'(z_j)^2` over the class: returns the
    median over the classes of the Pearson correlation of :math:`a` and :math:`g` over the units.
    Positive: the units that carry the margin pass their signal (ReLU's gates are open exactly where a
    unit is active); negative: they are the damped ones (a tanh unit driven hard is saturated).
    """
    fp = mlp.forward_pass(params, objective.X, objective.layer_sizes, objective.activation)
    A = losses.get_loss(objective.loss).hessian(fp.logits, objective.y)
    W_last = fp.layers[-1][0]  # (n_{L-1}, C)
    y = np.asarray(objective.y)
    corr = []
    for c in range(A.shape[-1]):
        u = np.linalg.eigh(A[y == c].mean(axis=0))[1][:, -1]
        a = np.abs(W_last @ u)
        g = (fp.d1[-1][y == c] ** 2).mean(axis=0)
        corr.append(np.corrcoef(a, g)[0, 1] if g.std() > 0 else np.nan)
    return float(np.nanmedian(corr))


def table(rows) -> str:
    n_layers = len(rows[0]["M ratio"])
    blocks = [f"G{l}{l}" for l in range(1, n_layers + 1)]
    head = ["seed", "std ×", "act", "k", "G: count, λk/λk+1, λk−1/λk", "G ungated: count, λk/λk+1, λk−1/λk"]
    head += [f"{b}: count, λk/λk+1, λk−1/λk" for b in blocks]
    head += [f"λ2/λ1 of M_c, layer {l}" for l in range(1, n_layers)] + ["λ2/λ1 of Ā_c"]
    head += [f"λ2/λ1 ungated, layer {l}" for l in range(1, n_layers)] + ["gate alignment"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [str(r["seed"]), f"{r['spread']:g}", r["act"], str(r["k"])]
        for key in ["G", "G ungated", *blocks]:
            s = r[key]
            cells.append(f"{s['count']}, {s['k/k+1']:.2f}, {s['k-1/k']:.2f}")
        cells += [f"{x:.2f}" for x in r["M ratio"]]
        cells += [f"{x:.2f}" for x in r["M ratio, ungated"][:-1]] + [f"{r['gate alignment']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def summary(rows) -> str:
    """Per activation: cells whose count is k or k − 1 (G and each block), and the median of the
    step max(λk/λk+1, λk−1/λk) and of the per-class factors' λ2/λ1."""
    n_layers = len(rows[0]["M ratio"])
    blocks = ["G", "G ungated"] + [f"G{l}{l}" for l in range(1, n_layers + 1)]
    head = ["act", "cells"] + [f"{b}: k or k − 1 (median step)" for b in blocks]
    head += [f"median λ2/λ1, M_c layer {l}" for l in range(1, n_layers)] + ["median λ2/λ1, Ā_c"]
    head += [f"median λ2/λ1 ungated, layer {l}" for l in range(1, n_layers)] + ["median gate alignment"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for act in dict.fromkeys(r["act"] for r in rows):
        sel = [r for r in rows if r["act"] == act]
        cells = [act, str(len(sel))]
        for b in blocks:
            near = sum(r[b]["count"] in (r["k"] - 1, r["k"]) for r in sel)
            step = np.median([max(r[b]["k/k+1"], r[b]["k-1/k"]) for r in sel])
            cells.append(f"{near} ({step:.2f})")
        cells += [f"{np.median([r['M ratio'][j] for r in sel]):.2f}" for j in range(n_layers)]
        cells += [f"{np.median([r['M ratio, ungated'][j] for r in sel]):.2f}" for j in range(n_layers - 1)]
        cells.append(f"{np.median([r['gate alignment'] for r in sel]):.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=0, help="first E2 seed (data and initial points)")
    ap.add_argument("--seeds", type=int, default=1, help="number of seeds")
    ap.add_argument("--ks", type=int, nargs="+", default=[5, 10], help="numbers of clusters")
    ap.add_argument("--activations", nargs="+", default=["tanh", "relu"], choices=sorted(mlp.ACTIVATIONS))
    ap.add_argument("--full", action="store_true", help="E2's full sizes (default: quick, N = 250)")
    ap.add_argument("--spread", type=float, default=1.0, help="cluster std multiplier (E2: 1 or 10)")
    ap.add_argument(
        "--loss", default="cross_entropy", choices=["cross_entropy", "mse"], help="E2's loss or MSE"
    )
    args = ap.parse_args(argv)
    if args.seeds < 1:
        raise SystemExit("--seeds must be a positive integer")
    if args.spread <= 0:
        raise SystemExit("--spread must be positive")
    if any(k < 2 for k in args.ks):
        raise SystemExit("--ks must be >= 2")
    t0 = time.process_time()
    exp = e02.EXPERIMENT
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for seed in range(args.seed, args.seed + args.seeds):
            ctx = runner.Context(
                exp, out, not args.full, seed, False, exp.config(not args.full, {"loss": args.loss})
            )
            rows += [run_cell(ctx, k, a, args.spread) for a in args.activations for k in args.ks]
            print(table(rows[-len(args.ks) * len(args.activations) :]), file=sys.stderr, flush=True)
    print(table(rows))
    print(summary(rows))
    print(f"CPU time {time.process_time() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
