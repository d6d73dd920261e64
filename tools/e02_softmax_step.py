r"""Side experiments of E2 (not part of its verdict): k or k − 1, and what the step cap changes.

**k or k − 1** (``loss``). Softmax cross-entropy's logit Hessian :math:`A_i = \mathrm{diag}\,p_i - p_i
p_i^\top` annihilates the all-ones direction of logit space. In the last layer, Papyan's class
vectors are :math:`\delta_c = \mathrm{Ave}_{i \in c}\, v_i \otimes \tilde h_i` with
:math:`\tilde h_i = [h_i, 1]` the last layer's input and
:math:`v_i = \frac{1}{C-1}\sum_{c' \ne y_i} \sqrt{p_{ic'}}\,(e_{c'} - p_i)`, a vector with
:math:`\mathbf 1^\top v_i = 0`. If :math:`v_i` and :math:`\tilde h_i` were constant within each
class (:math:`u_c`, :math:`m_c`), the C×C Gram of the :math:`\delta_c` would be the Hadamard product
:math:`U \circ M` of :math:`U_{cd} = u_c^\top u_d` (rank ≤ C − 1: all :math:`u_c \perp \mathbf 1`) and
:math:`M_{cd} = m_c^\top m_d`. For symmetric confusions (:math:`u_c \propto \mathbf 1 - C e_c`) and
:math:`M = a\,\mathbf 1\mathbf 1^\top + b\,I` (a common component shared by every class mean),
:math:`U \circ M` has C − 1 equal eigenvalues and one along :math:`\mathbf 1` smaller by the factor

.. math:: \rho = \frac{\lambda_C}{\lambda_{C-1}} = \frac{(1-f)(C-1)}{C-2+f}, \qquad
          f = \frac{\lVert \bar m \rVert^2}{\mathrm{Ave}_c \lVert m_c \rVert^2},\ \bar m = \mathrm{Ave}_c\, m_c,

so a large common fraction f (ReLU features are nonnegative, and the bias input is 1 for every
sample) leaves C − 1 large class eigenvalues and puts the Hessian's step after k − 1. Predictions
measured here on E2's own points (same data, initial points, training and cap):

(a) with the MSE loss (:math:`A_i = I`, no direction annihilated) the count is k, not k − 1;
(b) ReLU gives k − 1 more often than tanh (zero-centred features, smaller f);
(c) ρ of the class-mean Gram (:func:`hessian_spectra.curvature.papyan.g1_eigenvalues_from_gram`,
    all layers, and its last-layer block) tracks 1 − f and the formula above.

A more direct form of the same mechanism is measured beside them: the last layer's block of G,
:math:`G_L = \frac1N\sum_i \tilde h_i \tilde h_i^\top \otimes A_i`, and its common-mode part
:math:`\bar m \bar m^\top \otimes \bar A` (every :math:`\tilde h_i` replaced by the mean over all
samples), whose rank is C − 1 with cross-entropy and C with MSE: the step of :math:`G_L` and the
share of its top eigenvalues that the common-mode part carries.

**The step cap** (``converge``). E2 stops at a step cap where the authors stop at gradient norm
1e-4. This trains E2's GD-ReLU rows on until that criterion (at most ``--max-steps``), keeps the
parameters at E2's cap on the way (the same GD trajectory), and counts both ends against their
row thresholds.

Usage (``--out`` is a results folder; points of an E2 run in it are reused, missing ones computed)::

    python tools/e02_softmax_step.py loss --out results_full --seeds 3
    python tools/e02_softmax_step.py converge --out results_full --seed 0 --max-steps 60000
    python tools/e02_softmax_step.py converge --out results_full --activation tanh --ks 2 5 10
    (add --quick for E2's quick sizes)

Each writes ``<out>/E2-side/<part>.json``, ``<part>.md`` and a figure ``e02_side_<part>.png``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from hessian_spectra import io as _io
from hessian_spectra import losses, mlp, spectrum
from hessian_spectra.curvature import matrix_free, papyan
from hessian_spectra.experiments import e02_cluster_sweep as e02
from hessian_spectra.experiments import runner

LOSSES = ("cross_entropy", "mse")
ROWS = [["gd", "relu", 1.0], ["gd", "relu", 10.0], ["gd", "tanh", 1.0], ["gd", "tanh", 10.0]]


def predicted_ratio(f: float, C: int) -> float:
    """:math:`\\rho = (1-f)(C-1)/(C-2+f)`: λ_C/λ_C−1 of :math:`U \\circ M` in the symmetric model."""
    return (1.0 - f) * (C - 1) / (C - 2 + f)


def last_layer_class_structure(objective, params) -> dict:
    r"""The last layer's class structure at ``params`` (softmax cross-entropy).

    Returns ``f`` (common fraction of the class means :math:`m_c` of :math:`\tilde h = [h, 1]`), the
    C×C Gram ``gram`` of the last-layer blocks of Papyan's :math:`\delta_c` (computed from
    :math:`\delta_c = \mathrm{Ave}_{i\in c} v_i \otimes \tilde h_i`), its Hadamard model
    ``hadamard`` :math:`= U \circ M`, and ``delta_last`` (C, P_last) in the flat layout of the last
    layer's parameters (W then b).
    """
    C = objective.n_classes
    fp = mlp.forward_pass(params, objective.X, objective.layer_sizes, objective.activation)
    h = fp.hs[-1]
    ht = np.hstack([h, np.ones((h.shape[0], 1))])
    p = losses.softmax(fp.logits)
    S = objective.loss_function.hessian_factor(fp.logits)  # S[i, :, c'] = sqrt(p_c')(e_c' - p_i)
    own = np.eye(C, dtype=bool)[objective.y]  # (N, C): the sample's own class
    v = np.einsum("nac,nc->na", S, (~own).astype(float)) / (C - 1)
    y = objective.y
    m = np.stack([ht[y == c].mean(axis=0) for c in range(C)])
    u = np.stack([v[y == c].mean(axis=0) for c in range(C)])
    # delta_c(last) as a ((h + 1) x C) matrix Ave_i h~_i v_i^T; W_L is stored (n_in, C) row-major, then b_L.
    D = np.stack([np.einsum("nj,na->ja", ht[y == c], v[y == c]) / np.sum(y == c) for c in range(C)])
    delta_last = np.concatenate([D[:, :-1, :].reshape(C, -1), D[:, -1, :]], axis=1)
    mbar = m.mean(axis=0)
    return {
        "f": float(mbar @ mbar / np.mean(np.sum(m * m, axis=1))),
        "gram": delta_last @ delta_last.T,
        "hadamard": (u @ u.T) * (m @ m.T),
        "delta_last": delta_last,
        "mean_max_p": float(np.mean(p.max(axis=1))),
    }


def last_layer_gauss_newton(objective, params) -> dict:
    r"""The last layer's block of G and its common-mode part, both dense ((h+1)C)×((h+1)C).

    In the flat layout of the last layer's parameters (W then b, W stored input-major), the block is
    :math:`G_L = \frac1N \sum_i \tilde h_i \tilde h_i^\top \otimes A_i`. Replacing every
    :math:`\tilde h_i` by the mean :math:`\bar m` over all samples and :math:`A_i` by its mean
    :math:`\bar A` gives the common-mode part :math:`\bar m \bar m^\top \otimes \bar A`, whose rank
    is that of :math:`\bar A`: C − 1 for softmax cross-entropy (:math:`A_i \mathbf 1 = 0`), C for MSE.
    Returns both matrices and that rank ``r``.
    """
    fp = mlp.forward_pass(params, objective.X, objective.layer_sizes, objective.activation)
    h = fp.hs[-1]
    ht = np.hstack([h, np.ones((h.shape[0], 1))])
    A = objective.loss_function.hessian(fp.logits, objective.y)
    n, d, C = ht.shape[0], ht.shape[1], objective.n_classes
    G_last = np.einsum("nj,nk,nab->jakb", ht, ht, A, optimize=True).reshape(d * C, d * C) / n
    m, A_bar = ht.mean(axis=0), A.mean(axis=0)
    common = np.kron(np.outer(m, m), A_bar)
    r = C - 1 if objective.loss == "cross_entropy" else C
    return {"G_last": 0.5 * (G_last + G_last.T), "common": 0.5 * (common + common.T), "rank": r}


def last_layer_numbers(objective, params, window: int) -> dict:
    """Counts and step ratios of the last layer's block of G, and the share of its top ``r``
    eigenvalues (``r`` = rank of the mean logit Hessian) that the common-mode part carries."""
    s = last_layer_gauss_newton(objective, params)
    k, r = objective.n_classes, s["rank"]
    w = np.sort(np.linalg.eigvalsh(s["G_last"]))[::-1]
    wc = np.sort(np.linalg.eigvalsh(s["common"]))[::-1]
    top = w[:window]
    return {
        "last_count": spectrum.outlier_count_ratio(top, start=2),
        "last_k/k+1": float(w[k - 1] / w[k]),
        "last_k-1/k": float(w[k - 2] / w[k - 1]),
        "common_share": float(wc[:r].sum() / w[:r].sum()),
    }


def _ratio_smallest(gram) -> float:
    """λ_C/λ_C−1: the smallest eigenvalue of a C×C Gram over the second smallest."""
    w = np.sort(np.linalg.eigvalsh(0.5 * (gram + gram.T)))
    return float(w[0] / w[1])


def class_numbers(ctx, k: int, act: str, spread: float, trained) -> dict:
    """f, the class-mean ratios (all layers, last layer, Hadamard model) and the prediction."""
    obj, _ = e02.problem(ctx, k, act, spread)
    out = {}
    s = last_layer_class_structure(obj, trained)
    out["f"] = s["f"]
    out["mean_max_p"] = s["mean_max_p"]
    out["predicted"] = predicted_ratio(s["f"], k)
    out.update(last_layer_numbers(obj, trained, int(ctx.config["n_top"])))
    if obj.loss == "cross_entropy":
        means = papyan.class_means(obj, trained, weighting="classes")
        last = slice(obj.n_params - (obj.layer_sizes[-2] + 1) * k, obj.n_params)
        # independent routes to the last-layer class vectors: per-sample Jacobians (papyan) vs v_i ⊗ h~_i
        scale = np.max(np.abs(means.delta_c[:, last]))
        err = np.max(np.abs(means.delta_c[:, last] - s["delta_last"]))
        if err > 1e-10 * scale:
            raise AssertionError(f"last-layer class vectors disagree: {err:.3g} against {scale:.3g}")
        out["ratio_G1"] = _ratio_smallest(means.delta_c @ means.delta_c.T)
        out["ratio_G1_last"] = _ratio_smallest(s["gram"])
        out["ratio_hadamard"] = _ratio_smallest(s["hadamard"])
    return out


def _context(out, quick, seed, overrides):
    exp = e02.EXPERIMENT
    return runner.Context(exp, out, quick, seed, False, exp.config(quick, overrides))


def run_loss(out: str, quick: bool, seeds: list[int]) -> dict:
    """(a)-(c): E2's GD rows with cross-entropy and with MSE, counts and class structure per point."""
    cells = []
    for seed in seeds:
        for loss in LOSSES:
            ctx = _context(out, quick, seed, {"cells": ROWS, "loss": loss})
            raw = []
            for opt, act, spread in ROWS:
                for k in ctx.config["ks"]:
                    r = e02.run_point(ctx, int(k), opt, act, float(spread))
                    raw.append(
                        {
                            "k": int(k),
                            "optimizer": opt,
                            "activation": act,
                            "spread": float(spread),
                            "top": np.asarray(r["top"]),
                            "converged": bool(r["converged"]),
                            "final_loss": float(r["final_loss"]),
                            "final_accuracy": float(r["final_accuracy"]),
                            "params": r["params"],
                        }
                    )
            points, rows = e02.count_rows(raw, window=int(ctx.config["n_top"]))
            for p in points:
                extra = class_numbers(ctx, p["k"], p["activation"], p["spread"], p.pop("params"))
                p.update(extra, seed=seed, loss=loss, top=[float(x) for x in p["top"][:60]])
                cells.append(p)
    return {"quick": quick, "seeds": seeds, "cells": cells, "summary": summarize_loss(cells)}


def _frac(xs) -> float:
    xs = list(xs)
    return float(np.mean(xs)) if xs else float("nan")


def summarize_loss(cells) -> dict:
    """Fractions of cells with count k and k − 1 per loss, activation and rule; Spearman correlations
    of the class-mean ratio with 1 − f and of the Hessian's λ_k/λ_k−1 with the class-mean ratio."""
    from scipy.stats import spearmanr

    out = {}
    for loss in LOSSES:
        for act in ("relu", "tanh"):
            sel = [c for c in cells if c["loss"] == loss and c["activation"] == act]
            for rule in ("row", "ratio"):
                out[f"{loss} {act} {rule} = k"] = _frac(c["counts"][rule] == c["k"] for c in sel)
                out[f"{loss} {act} {rule} = k-1"] = _frac(c["counts"][rule] == c["k"] - 1 for c in sel)
            out[f"{loss} {act} median f"] = float(np.median([c["f"] for c in sel])) if sel else float("nan")
            out[f"{loss} {act} last-layer G count = k"] = _frac(c["last_count"] == c["k"] for c in sel)
            out[f"{loss} {act} last-layer G count = k-1"] = _frac(c["last_count"] == c["k"] - 1 for c in sel)
            out[f"{loss} {act} median common share"] = (
                float(np.median([c["common_share"] for c in sel])) if sel else float("nan")
            )
    ce = [c for c in cells if c["loss"] == "cross_entropy"]
    if len(ce) >= 3:
        g1 = np.array([c["ratio_G1"] for c in ce])
        one_minus_f = np.array([1 - c["f"] for c in ce])
        h_ratio = np.array([1.0 / c["ratios"]["k-1/k"] for c in ce])
        out["spearman ratio_G1 vs 1-f"] = float(spearmanr(g1, one_minus_f).statistic)
        out["spearman ratio_G1_last vs 1-f"] = float(
            spearmanr([c["ratio_G1_last"] for c in ce], one_minus_f).statistic
        )
        out["spearman H lambda_k/lambda_k-1 vs ratio_G1"] = float(spearmanr(h_ratio, g1).statistic)
        out["median |log(ratio_G1_last / predicted)|"] = float(
            np.median([abs(np.log(c["ratio_G1_last"] / c["predicted"])) for c in ce])
        )
        out["n cells (CE)"] = len(ce)
    return out


def loss_markdown(result) -> str:
    lines = [
        "| seed | loss | act | std × | k | row count | ratio count | λ_k/λ_k+1 | λ_k−1/λ_k | f | ρ G1 | "
        "ρ G1 last layer | ρ U∘M | ρ predicted | last-layer G: count | its λ_k−1/λ_k | common share |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in result["cells"]:
        g = [f"{c[key]:.3g}" if key in c else "–" for key in ("ratio_G1", "ratio_G1_last", "ratio_hadamard")]
        lines.append(
            f"| {c['seed']} | {c['loss']} | {c['activation']} | {c['spread']:g} | {c['k']} | {c['counts']['row']} | "
            f"{c['counts']['ratio']} | {c['ratios']['k/k+1']:.2f} | {c['ratios']['k-1/k']:.2f} | {c['f']:.3f} | "
            + " | ".join(g)
            + f" | {c['predicted']:.3g} | {c['last_count']} | {c['last_k-1/k']:.2f} | {c['common_share']:.2f} |"
        )
    lines += ["", "| summary | value |", "|---|---|"]
    lines += [f"| {k} | {v:.3g} |" for k, v in result["summary"].items()]
    return "\n".join(lines) + "\n"


def plot_loss(result, path: str) -> None:
    import matplotlib.pyplot as plt

    from hessian_spectra import plots

    cells = result["cells"]
    fig, axes = plt.subplots(1, 4, figsize=(18, 4))
    ks = sorted({c["k"] for c in cells})
    pos = {k: i for i, k in enumerate(ks)}
    combos = [(lo, a) for lo in LOSSES for a in ("relu", "tanh")]
    for ax, key, label in (
        (axes[0], lambda c: c["counts"]["ratio"], "Hessian: count − k (largest ratio, j ≥ 2)"),
        (axes[1], lambda c: c["last_count"], "last-layer block of G: count − k"),
    ):
        for j, (loss, act) in enumerate(combos):
            sel = [c for c in cells if c["loss"] == loss and c["activation"] == act]
            x = [pos[c["k"]] + 0.07 * (j - 1.5) for c in sel]
            ax.plot(
                x,
                [key(c) - c["k"] for c in sel],
                "o" if loss == "mse" else "x",
                ms=4,
                color=f"C{j}",
                label=f"{loss}, {act}",
            )
        ax.axhline(0, color="k", lw=0.6)
        ax.axhline(-1, color="k", lw=0.6, ls=":")
        ax.set_xticks(range(len(ks)), [str(k) for k in ks])
        ax.set_xlabel("k")
        ax.set_ylim(-3.5, 3.5)
        ax.set_title(label, fontsize=9)
    axes[0].set_ylabel("count − k (clipped to ±3.5)")
    axes[0].legend(fontsize=7)
    ce = [c for c in cells if c["loss"] == "cross_entropy"]
    ff = np.linspace(0, 1, 101)
    for act, mk in (("relu", "o"), ("tanh", "s")):
        sel = [c for c in ce if c["activation"] == act]
        axes[2].plot(
            [1 - c["f"] for c in sel],
            [c["ratio_G1"] for c in sel],
            mk,
            ms=4,
            mfc="none",
            label=f"{act}: all layers",
        )
        axes[2].plot(
            [1 - c["f"] for c in sel], [c["ratio_G1_last"] for c in sel], mk, ms=3, label=f"{act}: last layer"
        )
    for C, ls in ((5, "--"), (50, ":")):
        axes[2].plot(1 - ff, [predicted_ratio(f, C) for f in ff], lw=0.7, color="0.4", ls=ls)
    axes[2].set_xscale("log")
    axes[2].set_yscale("log")
    axes[2].set_xlabel("1 − f (specific fraction of the class means)")
    axes[2].set_ylabel("λ_C / λ_C−1 of the class-mean Gram")
    axes[2].legend(fontsize=7)
    axes[2].set_title("(c) against 1 − f; lines: closed form, C = 5 (--), 50 (:)", fontsize=9)
    for act, mk in (("relu", "o"), ("tanh", "s")):
        sel = [c for c in ce if c["activation"] == act]
        axes[3].plot(
            [c["ratio_G1"] for c in sel], [1 / c["ratios"]["k-1/k"] for c in sel], mk, ms=4, label=act
        )
    axes[3].set_xscale("log")
    axes[3].set_xlabel("λ_C / λ_C−1 of the class-mean Gram (G1)")
    axes[3].set_ylabel("λ_k / λ_k−1 of the Hessian")
    axes[3].legend(fontsize=7)
    axes[3].set_title("the Hessian's k-th outlier against G1's", fontsize=9)
    fig.suptitle(
        "E2 side experiment — Sagun et al. 2018, Table 1: k or k − 1 (cross-entropy vs MSE)", fontsize=10
    )
    fig.tight_layout()
    plots.save_figure(fig, path, dpi=runner.FIGURE_DPI)


def run_converge(
    out: str, quick: bool, seed: int, max_steps: int, spreads=(1.0,), activation: str = "relu", ks=None
) -> dict:
    """E2's GD rows with ``activation`` (the cells ``ks``, default E2's) trained to gradient norm 1e-4
    (at most ``max_steps``), counted at E2's cap (a snapshot of the same trajectory) and at the end."""
    rows = [["gd", activation, float(s)] for s in spreads]
    overrides = {"cells": rows} if ks is None else {"cells": rows, "ks": [int(k) for k in ks]}
    ctx = _context(out, quick, seed, overrides)
    cfg = ctx.config
    cap = int(cfg["steps"])
    ends = {"cap": [], "end": []}
    for _, act, spread in rows:
        for k in cfg["ks"]:
            k = int(k)
            params = {"k": k, "act": act, "spread": spread, "seed": seed, "max_steps": max_steps, "cap": cap}
            params.update(
                {key: cfg[key] for key in ("dim", "hidden", "n_samples", "lr", "grad_tol", "n_top")}
            )

            def compute(k=k, act=act, spread=spread):
                obj, p0 = e02.problem(ctx, k, act, spread)
                res = ctx.train(
                    obj,
                    p0,
                    optimizer="gd",
                    lr=cfg["lr"],
                    steps=max_steps,
                    grad_tol=cfg["grad_tol"],
                    snapshot_steps=[cap],
                    record_every=max(1, cap // 200),
                )
                h = res.history
                at_cap = res.snapshots.get(cap, res.params)
                g_cap = float(np.interp(cap, h["step"], h["grad_norm"]))
                with runner.single_thread_blas():
                    top_cap, _ = matrix_free.top_eigenvalues(obj, at_cap, int(cfg["n_top"]))
                    top_end, _ = matrix_free.top_eigenvalues(obj, res.params, int(cfg["n_top"]))
                return {
                    "top_cap": np.sort(top_cap)[::-1],
                    "top_end": np.sort(top_end)[::-1],
                    "params_cap": at_cap,
                    "grad_norm_cap": g_cap,
                    "grad_norm_end": float(h["grad_norm"][-1]),
                    "loss_end": float(h["loss"][-1]),
                    "steps_end": res.steps_run,
                    "converged": bool(res.converged),
                }

            r = ctx.point(
                f"converge_k={k}_{e02.cell_name('gd', act, spread)}_max={max_steps}", params, compute
            )
            e2 = e02.run_point(ctx, k, "gd", act, spread)
            same = float(np.max(np.abs(np.asarray(r["params_cap"]) - np.asarray(e2["params"]))))
            for when, top in (("cap", r["top_cap"]), ("end", r["top_end"])):
                ends[when].append(
                    {
                        "k": k,
                        "optimizer": "gd",
                        "activation": act,
                        "spread": spread,
                        "top": np.asarray(top),
                        "grad_norm": r[f"grad_norm_{when}"],
                        "steps": cap if when == "cap" else int(r["steps_end"]),
                        "converged": bool(r["converged"]) if when == "end" else False,
                        "cap_point_matches_e2": same,
                    }
                )
    result = {"quick": quick, "seed": seed, "max_steps": max_steps, "step_cap": cap}
    for when, pts in ends.items():
        counted, thr = e02.count_rows(pts, window=int(cfg["n_top"]))
        for p in counted:
            p["top"] = [float(x) for x in p["top"][:60]]
        result[when] = {"points": counted, "rows": thr}
    return result


def converge_markdown(result) -> str:
    lines = [
        f"Seed {result['seed']}: E2's cap {result['step_cap']} steps against the authors' stop (grad norm ≤ 1e-4, "
        f"at most {result['max_steps']} steps).",
        "",
        "| std × | k | at | steps | grad norm | λ_1 | threshold | row count | ratio count | λ_k/λ_k+1 | λ_k−1/λ_k |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for when in ("cap", "end"):
        for p in result[when]["points"]:
            lines.append(
                f"| {p['spread']:g} | {p['k']} | {when} | {p['steps']}{'' if when == 'cap' or p['converged'] else ' (max)'} | "
                f"{p['grad_norm']:.2g} | {p['top'][0]:.3g} | {p['row_threshold']:.3g} | {p['counts']['row']} | "
                f"{p['counts']['ratio']} | {p['ratios']['k/k+1']:.2f} | {p['ratios']['k-1/k']:.2f} |"
            )
    worst = max(p["cap_point_matches_e2"] for p in result["cap"]["points"])
    lines += ["", f"Largest parameter difference between the cap snapshots and E2's points: {worst:.2g}."]
    return "\n".join(lines) + "\n"


def plot_converge(result, path: str) -> None:
    import matplotlib.pyplot as plt

    from hessian_spectra import plots

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8), sharey=True)
    for ax, when in zip(axes, ("cap", "end"), strict=True):
        thr = result[when]["rows"]
        for j, p in enumerate(result[when]["points"]):
            top = np.maximum(np.asarray(p["top"]), 1e-12)
            ax.semilogy(
                np.arange(1, top.size + 1),
                top,
                lw=1,
                color=f"C{j}",
                label=f"k={p['k']}: {p['counts']['row']}",
            )
            c = p["counts"]["row"]
            if 0 < c <= top.size:
                ax.semilogy([c], [top[c - 1]], "o", mfc="none", color=f"C{j}")
        for r in thr:
            ax.axhline(r["threshold"], color="0.3", ls="--", lw=0.8)
        label = (
            f"E2's cap, {result['step_cap']} steps" if when == "cap" else "grad norm ≤ 1e-4 (authors' stop)"
        )
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("rank")
        ax.legend(fontsize=7, title="k: count", title_fontsize=7)
    axes[0].set_ylabel("eigenvalue (log)")
    fig.suptitle(
        f"E2 side experiment — Sagun et al. 2018, Fig. 2: GD, ReLU, std ×1, seed {result['seed']}; "
        "dashed = row threshold",
        fontsize=10,
    )
    fig.tight_layout()
    plots.save_figure(fig, path, dpi=runner.FIGURE_DPI)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("part", choices=("loss", "converge"))
    ap.add_argument("--out", required=True, help="results folder (E2's points there are reused)")
    ap.add_argument("--quick", action="store_true", help="E2's quick sizes")
    ap.add_argument("--seed", type=int, default=0, help="first seed")
    ap.add_argument("--seeds", type=int, default=3, help="number of seeds (loss)")
    ap.add_argument("--max-steps", type=int, default=60000, help="step limit of the run to 1e-4 (converge)")
    ap.add_argument("--spreads", type=float, nargs="+", default=[1.0], help="cluster stds (converge)")
    ap.add_argument(
        "--activation", choices=("relu", "tanh"), default="relu", help="the rows' activation (converge)"
    )
    ap.add_argument(
        "--ks", type=int, nargs="+", default=None, help="numbers of clusters (converge; default E2's)"
    )
    args = ap.parse_args(argv)
    if args.seeds < 1:
        raise SystemExit("--seeds must be a positive integer")
    if args.max_steps < 1:
        raise SystemExit("--max-steps must be a positive integer")
    t0 = time.process_time()
    folder = os.path.join(args.out, "E2-side")
    if args.part == "loss":
        result = run_loss(args.out, args.quick, list(range(args.seed, args.seed + args.seeds)))
        md, plot = loss_markdown(result), plot_loss
    else:
        result = run_converge(
            args.out, args.quick, args.seed, args.max_steps, tuple(args.spreads), args.activation, args.ks
        )
        md, plot = converge_markdown(result), plot_converge
    name = args.part if args.part == "loss" else f"converge-{args.activation}-seed-{args.seed}"
    _io.save_json(os.path.join(folder, f"{name}.json"), result)
    _io.save_text(os.path.join(folder, f"{name}.md"), md)
    plot(result, os.path.join(folder, f"e02_side_{name}.png"))
    print(md)
    print(f"CPU time {time.process_time() - t0:.0f} s -> {folder}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
