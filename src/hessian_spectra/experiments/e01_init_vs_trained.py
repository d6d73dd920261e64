r"""E1 — the Hessian spectrum at a random initial point and after gradient descent (Sagun et al., 2018,
Fig. 1).

Data: ``k = 50`` Gaussian clusters in :math:`d = 100` dimensions (centres uniform in
:math:`[-10, 10]^{100}`, std 1, normalized globally; :func:`hessian_spectra.data.blobs`), one class
per cluster. Network: 100-30-30-50 (P = 5,510), weights and biases :math:`\mathcal N(0, 0.1^2)`,
mean cross-entropy, plain GD at learning rate 0.1 (the authors' code). We diagonalize the exact
Hessian at the initial point and at the end of training.

S18's picture: at the random initial point the eigenvalues have both signs with comparable sizes
(≈ −0.08 … 0.155); after training they collapse to a bulk at zero with a few positive outliers.

Our choices (the paper does not say): ReLU, N = 1,000 training points (20 per cluster) in the full
run and 500 in the quick run, 10,000 GD steps (quick: 2,000) or until the gradient norm is ≤ 1e-4.
"""

from __future__ import annotations

import numpy as np

from .. import data as _data
from .. import mlp
from ..objective import Objective
from .runner import Experiment, dense_spectra, outlier_summary

#: Verdict thresholds (fixed before any run). At the initial point S18's spectrum spans
#: ≈ −0.08 … 0.155, i.e. |λ_min|/λ_max ≈ 0.5; we ask for ≥ 0.2 ("both signs, comparable sizes").
#: After training we ask |λ_min|/λ_max ≤ 0.05 and ≥ 90 % of the eigenvalues within 1 % of λ_max
#: of zero ("collapsed near 0"), and at most ``k`` elbow outliers ("a few").
INIT_NEGATIVE_RATIO = 0.2
TRAINED_NEGATIVE_RATIO = 0.05
BULK_BAND = 0.01
BULK_FRACTION = 0.9

CONFIGS = {
    "quick": {
        "clusters": 50,
        "dim": 100,
        "hidden": [30, 30],
        "activation": "relu",
        "spread": 1.0,
        "n_samples": 500,
        "lr": 0.1,
        "steps": 2000,
        "grad_tol": 1e-4,
    },
    "full": {
        "clusters": 50,
        "dim": 100,
        "hidden": [30, 30],
        "activation": "relu",
        "spread": 1.0,
        "n_samples": 1000,
        "lr": 0.1,
        "steps": 10000,
        "grad_tol": 1e-4,
    },
}


def _spectrum_numbers(w) -> dict:
    w = np.asarray(w, dtype=float)
    s = outlier_summary(w)
    top = max(float(w.max()), 1e-300)
    s["negative_to_top"] = abs(min(float(w.min()), 0.0)) / top
    s["bulk_fraction"] = float(np.mean(np.abs(w) <= BULK_BAND * top))
    return s


def compute(ctx) -> dict:
    cfg = ctx.config
    k = int(cfg["clusters"])
    sizes = (int(cfg["dim"]), *map(int, cfg["hidden"]), k)

    def point():
        ds = _data.blobs(
            n_samples=cfg["n_samples"],
            n_clusters=k,
            dim=cfg["dim"],
            spread=cfg["spread"],
            seed=ctx.seed_for("data"),
        )
        obj = Objective(ds.X, ds.y, sizes, cfg["activation"], "cross_entropy")
        p0 = mlp.init_params(sizes, "normal", seed=ctx.seed_for("init"))
        res = ctx.train(obj, p0, optimizer="gd", lr=cfg["lr"], steps=cfg["steps"], grad_tol=cfg["grad_tol"])
        w0 = dense_spectra(obj, p0)["H"]
        w1 = dense_spectra(obj, res.params)["H"]
        return {
            "eig_init": w0,
            "eig_trained": w1,
            "steps_run": res.steps_run,
            "final_loss": float(res.history["loss"][-1]),
            "final_accuracy": float(res.history["accuracy"][-1]),
            "final_grad_norm": float(res.history["grad_norm"][-1]),
        }

    r = ctx.point(f"k={k}_{cfg['activation']}_n={cfg['n_samples']}", {**cfg, "seed": ctx.seed}, point)
    return {
        "layer_sizes": list(sizes),
        "n_params": mlp.n_params(sizes),
        "k": k,
        "training": {key: r[key] for key in ("steps_run", "final_loss", "final_accuracy", "final_grad_norm")},
        "init": _spectrum_numbers(r["eig_init"]),
        "trained": _spectrum_numbers(r["eig_trained"]),
        "eigenvalues_init": np.sort(r["eig_init"])[::-1],
        "eigenvalues_trained": np.sort(r["eig_trained"])[::-1],
    }


def plot(ctx, numbers) -> None:
    import matplotlib.pyplot as plt

    from .. import plots

    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    for ax, key, label in (
        (axes[0], "eigenvalues_init", "at the random initial point"),
        (axes[1], "eigenvalues_trained", "after GD"),
    ):
        w = np.asarray(numbers[key])
        ax.plot(np.arange(1, w.size + 1), w, lw=1.2)
        ax.axhline(0, color="0.6", lw=0.5)
        ax.set_xlabel("rank (largest first)")
        ax.set_ylabel("eigenvalue")
        ax.set_title(f"{label}: {w.min():.3g} … {w.max():.3g}")
    w1 = np.asarray(numbers["eigenvalues_trained"])
    n_out = numbers["trained"]["outliers"]["elbow"]
    plots.plot_ordered_eigenvalues(axes[2], w1, top=min(100, w1.size), label="after GD")
    axes[2].plot(
        np.arange(1, n_out + 1), w1[:n_out], "o", mfc="none", color="C3", label=f"{n_out} elbow outliers"
    )
    axes[2].legend()
    axes[2].set_title("after GD, top 100")
    fig.suptitle(
        ctx.title(
            f"{'-'.join(map(str, numbers['layer_sizes']))} (P = {numbers['n_params']:,}), "
            f"k = {numbers['k']} clusters"
        )
    )
    fig.tight_layout()
    ctx.save_figure(fig, "fig1_init_vs_trained")


def judge(numbers) -> tuple[str, dict, dict]:
    init, trained = numbers["init"], numbers["trained"]
    checks = {
        "init has both signs": init["negative_to_top"] >= INIT_NEGATIVE_RATIO,
        "trained negatives small": trained["negative_to_top"] <= TRAINED_NEGATIVE_RATIO,
        "trained bulk at zero": trained["bulk_fraction"] >= BULK_FRACTION,
        "few outliers": trained["outliers"]["elbow"] <= numbers["k"],
    }
    ours = (
        f"init {init['min']:.3g} … {init['max']:.3g}; trained {trained['min']:.2g} … {trained['max']:.3g}, "
        f"{trained['bulk_fraction']:.1%} within 1% of top, {trained['outliers']['elbow']} elbow outliers"
    )
    values = {
        "init min": init["min"],
        "init max": init["max"],
        "trained max": trained["max"],
        "trained bulk fraction": trained["bulk_fraction"],
        "elbow outliers": trained["outliers"]["elbow"],
    }
    return ours, checks, values


EXPERIMENT = Experiment(
    id="E1",
    slug="init_vs_trained",
    source="Sagun et al. 2018, Fig. 1",
    claim="at a random init the spectrum has both signs; after GD it collapses to a bulk at 0 plus a few "
    "positive outliers",
    paper_number="init ≈ −0.08 … 0.155; trained: bulk at 0, a few outliers",
    rule=(
        f"reproduced if all four hold, partly if at least two: at init |λ_min|/λ_max ≥ {INIT_NEGATIVE_RATIO}; "
        f"after GD |λ_min|/λ_max ≤ {TRAINED_NEGATIVE_RATIO}, ≥ {BULK_FRACTION:.0%} of eigenvalues within "
        f"{BULK_BAND:.0%} of λ_max of zero, elbow outlier count ≤ k."
    ),
    configs=CONFIGS,
    compute=compute,
    plot=plot,
    judge=judge,
    data="Gaussian blobs (k = 50, d = 100)",
)
