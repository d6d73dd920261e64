r"""E2 — the number of outliers tracks the number of clusters (Sagun et al., 2018, Fig. 2 and Table 1).

Data: ``k`` Gaussian clusters in :math:`d = 100` dimensions, one class per cluster, normalized globally
(:func:`hessian_spectra.data.blobs`); ``k ∈ {2, 5, 10, 20, 50}``. Network: 100-30-30-k
(P = 3,960 + 31k: 4,022 … 5,510), :math:`\mathcal N(0, 0.1^2)` initialization, mean cross-entropy,
learning rate 0.1. The grid of Table 1: GD or SGD × tanh or ReLU × cluster-std multiplier 1 or 10
(the quick run: GD with ReLU at std ×1 and ×10, the cells the verdict keys on).
After training we count the eigenvalues of the exact Hessian above the largest gap, the largest ratio
and the elbow threshold (:func:`hessian_spectra.spectrum.outlier_counts`, the library's rules, not
S18's hand-picked thresholds ≈ 0.002-0.003 at std 1 and ≈ 0.015 at std 10).

S18's claim: the count is k.

Our choices (the paper does not say): N = 1,000 training points (quick: 500), SGD batch 50 with
sequential batches (the authors' code), at most 10,000 steps (quick: 1,000) stopping at a full-batch
gradient norm ≤ 1e-4 (the authors' criterion). Points with the same ``(k, std)`` share the data;
points with the same ``(k, activation)`` share the initial parameters, so GD and SGD start together.
"""

from __future__ import annotations

import numpy as np

from .. import data as _data
from .. import mlp
from ..objective import Objective
from .runner import Experiment, dense_spectra, top_values

RULES = ("gap", "ratio", "elbow")

_CELLS_ALL = [
    [opt, act, spread] for spread in (1.0, 10.0) for opt in ("gd", "sgd") for act in ("relu", "tanh")
]

CONFIGS = {
    "quick": {
        "ks": [2, 5, 10, 20, 50],
        "dim": 100,
        "hidden": [30, 30],
        "n_samples": 500,
        "cells": [["gd", "relu", 1.0], ["gd", "relu", 10.0]],
        "lr": 0.1,
        "steps": 1000,
        "batch_size": 50,
        "shuffle": False,
        "grad_tol": 1e-4,
    },
    "full": {
        "ks": [2, 5, 10, 20, 50],
        "dim": 100,
        "hidden": [30, 30],
        "n_samples": 1000,
        "cells": _CELLS_ALL,
        "lr": 0.1,
        "steps": 10000,
        "batch_size": 50,
        "shuffle": False,
        "grad_tol": 1e-4,
    },
}

#: How many of the top eigenvalues each point keeps in ``numbers.json`` (Fig. 2 shows the top 60).
N_TOP_KEPT = 120


def cell_name(opt: str, act: str, spread: float) -> str:
    return f"{opt}_{act}_s{spread:g}"


def run_point(ctx, k: int, opt: str, act: str, spread: float) -> dict:
    """Train one cell of the grid and count the outliers of its Hessian (cached per point)."""
    cfg = ctx.config
    sizes = (int(cfg["dim"]), *map(int, cfg["hidden"]), int(k))
    params = {
        "k": k,
        "optimizer": opt,
        "activation": act,
        "spread": spread,
        "seed": ctx.seed,
        **{
            key: cfg[key]
            for key in ("dim", "hidden", "n_samples", "lr", "steps", "batch_size", "shuffle", "grad_tol")
        },
    }

    def compute():
        ds = _data.blobs(
            n_samples=cfg["n_samples"],
            n_clusters=k,
            dim=cfg["dim"],
            spread=spread,
            seed=ctx.seed_for("data", k, spread),
        )
        obj = Objective(ds.X, ds.y, sizes, act, "cross_entropy")
        p0 = mlp.init_params(sizes, "normal", seed=ctx.seed_for("init", k, act))
        res = ctx.train(
            obj,
            p0,
            optimizer=opt,
            lr=cfg["lr"],
            steps=cfg["steps"],
            batch_size=cfg["batch_size"] if opt == "sgd" else None,
            shuffle=cfg["shuffle"],
            grad_tol=cfg["grad_tol"],
            seed=ctx.seed_for("batches", k, act, spread),
        )
        w = dense_spectra(obj, res.params)["H"]
        from .. import spectrum

        return {
            "eigenvalues": w,
            "counts": spectrum.outlier_counts(w),
            "elbow_threshold": spectrum.elbow_threshold(w),
            "n_params": obj.n_params,
            "steps_run": res.steps_run,
            "final_loss": float(res.history["loss"][-1]),
            "final_accuracy": float(res.history["accuracy"][-1]),
            "final_grad_norm": float(res.history["grad_norm"][-1]),
        }

    return ctx.point(f"k={k}_{cell_name(opt, act, spread)}", params, compute)


def compute(ctx) -> dict:
    cfg = ctx.config
    todo = [(k, *cell) for cell in cfg["cells"] for k in cfg["ks"]]
    rows = []
    for k, opt, act, spread in ctx.bar(todo, "cluster sweep"):
        r = run_point(ctx, int(k), opt, act, float(spread))
        rows.append(
            {
                "k": int(k),
                "optimizer": opt,
                "activation": act,
                "spread": float(spread),
                "n_params": int(r["n_params"]),
                "counts": {rule: int(r["counts"][rule]) for rule in RULES},
                "elbow_threshold": float(r["elbow_threshold"]),
                "top": top_values(r["eigenvalues"], N_TOP_KEPT),
                "steps_run": int(r["steps_run"]),
                "final_loss": float(r["final_loss"]),
                "final_accuracy": float(r["final_accuracy"]),
                "final_grad_norm": float(r["final_grad_norm"]),
            }
        )
    return {
        "ks": [int(k) for k in cfg["ks"]],
        "cells": [list(c) for c in cfg["cells"]],
        "points": rows,
        "table1": table1_markdown(rows, cfg["ks"]),
    }


def table1_markdown(rows, ks) -> str:
    """S18's Table 1 from our counts: one row per (optimizer, activation, std), ``gap/ratio/elbow``
    per k, a ✓ where the elbow count equals k."""
    cells = []
    for r in rows:
        key = (r["optimizer"], r["activation"], r["spread"])
        if key not in cells:
            cells.append(key)
    head = "| optimizer | activation | std × | " + " | ".join(f"k = {k}" for k in ks) + " |"
    lines = [head, "|" + "---|" * (3 + len(ks))]
    for opt, act, spread in cells:
        vals = []
        for k in ks:
            hit = [
                r
                for r in rows
                if (r["optimizer"], r["activation"], r["spread"], r["k"]) == (opt, act, spread, k)
            ]
            if not hit:
                vals.append("–")
                continue
            c = hit[0]["counts"]
            mark = " ✓" if c["elbow"] == k else ""
            vals.append(f"{c['gap']}/{c['ratio']}/{c['elbow']}{mark}")
        lines.append(f"| {opt.upper()} | {act} | {spread:g} | " + " | ".join(vals) + " |")
    return (
        "\n".join(lines) + "\n\nEntries: outlier counts by largest gap / largest ratio / elbow threshold.\n"
    )


def plot(ctx, numbers) -> None:
    import matplotlib.pyplot as plt

    from .. import io as _io

    rows, ks = numbers["points"], numbers["ks"]
    cells = [tuple(c) for c in numbers["cells"]]
    ncol = min(4, len(cells))
    nrow = int(np.ceil(len(cells) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 3.2 * nrow), squeeze=False)
    for ax, (opt, act, spread) in zip(axes.ravel(), cells, strict=False):
        for j, k in enumerate(ks):
            hit = [
                r
                for r in rows
                if (r["optimizer"], r["activation"], r["spread"], r["k"]) == (opt, act, spread, k)
            ]
            if not hit:
                continue
            top = np.maximum(np.asarray(hit[0]["top"][:60]), 1e-12)
            ax.semilogy(np.arange(1, top.size + 1), top, lw=1, color=f"C{j}", label=f"k={k}")
            e = hit[0]["counts"]["elbow"]
            if 0 < e <= top.size:
                ax.semilogy([e], [top[e - 1]], "o", mfc="none", color=f"C{j}")
            ax.axvline(k + 0.5, color=f"C{j}", lw=0.5, ls=":")
        ax.set_title(f"{opt.upper()}, {act}, std ×{spread:g}", fontsize=9)
        ax.set_xlabel("rank")
        ax.set_ylabel("eigenvalue (log)")
    for ax in axes.ravel()[len(cells) :]:
        ax.axis("off")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(ctx.title("top 60 Hessian eigenvalues; ○ = elbow count, dotted = k"))
    fig.tight_layout()
    ctx.save_figure(fig, "fig2_top_eigenvalues")

    fig, axes = plt.subplots(1, 3, figsize=(12, 3.8), sharey=True)
    pos = {k: i for i, k in enumerate(ks)}
    for ax, rule in zip(axes, RULES, strict=True):
        for j, cell in enumerate(cells):
            pts = sorted(
                (r["k"], r["counts"][rule])
                for r in rows
                if (r["optimizer"], r["activation"], r["spread"]) == cell
            )
            if pts:
                x, y = zip(*pts, strict=True)
                ax.plot([pos[k] for k in x], y, "o-", ms=4, lw=0.8, color=f"C{j}", label=cell_name(*cell))
        ax.plot(range(len(ks)), ks, "k--", lw=0.8, label="count = k")
        ax.set_yscale("log")
        ax.set_yticks([1, 2, 5, 10, 20, 50, 100], ["1", "2", "5", "10", "20", "50", "100"])
        ax.set_xticks(range(len(ks)), [str(k) for k in ks])
        ax.set_title(f"{rule} rule")
        ax.set_xlabel("number of clusters k")
    axes[0].set_ylabel("outlier count")
    axes[-1].legend(fontsize=7)
    fig.suptitle(ctx.title("Table 1, outlier counts against k"))
    fig.tight_layout()
    ctx.save_figure(fig, "table1_counts")
    _io.save_text(f"{ctx.dir}/table1.md", numbers["table1"])


def judge(numbers) -> tuple[str, dict, dict]:
    rows = numbers["points"]
    relu_gd = [r for r in rows if r["optimizer"] == "gd" and r["activation"] == "relu"]
    elbow_ok = [r["counts"]["elbow"] == r["k"] for r in relu_gd]
    any_rule = [any(r["counts"][rule] == r["k"] for rule in RULES) for r in rows]
    checks = {
        "elbow = k in every ReLU-GD cell": bool(relu_gd) and all(elbow_ok),
        "≥ half of all cells match k by some rule": bool(rows) and 2 * sum(any_rule) >= len(rows),
    }
    by_rule = {rule: sum(r["counts"][rule] == r["k"] for r in rows) for rule in RULES}
    ours = (
        f"ReLU-GD elbow = k in {sum(elbow_ok)}/{len(relu_gd)} cells; all cells: gap {by_rule['gap']}, "
        f"ratio {by_rule['ratio']}, elbow {by_rule['elbow']} of {len(rows)} equal k; "
        f"some rule in {sum(any_rule)}/{len(rows)}"
    )
    values = {f"{rule} = k (cells)": by_rule[rule] for rule in RULES}
    return ours, checks, values


EXPERIMENT = Experiment(
    id="E2",
    slug="cluster_sweep",
    source="Sagun et al. 2018, Fig. 2 / Table 1",
    claim="the number of outliers equals the number of clusters k",
    paper_number="count = k for k ∈ {2, 5, 10, 20, 50} (GD/SGD × tanh/ReLU × std ×1/×10)",
    rule="reproduced if the elbow count equals k in every ReLU-GD cell; partly if at least half of all "
    "(cell, k) points equal k by at least one of the gap, ratio and elbow rules; not otherwise.",
    configs=CONFIGS,
    compute=compute,
    plot=plot,
    judge=judge,
    data="Gaussian blobs (k clusters, d = 100)",
)
