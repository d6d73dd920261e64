r"""E7 — small-batch and large-batch training from one initial point, and the line between them
(Sagun et al., 2018, Sec. 3.3, Figs. 4 and 6).

Data: 1,000 training examples of scikit-learn's 8×8 digits, the other 797 for testing. Network: an
MLP 64-30-30-10 with ReLU (P = 3,190; S18 used a small convnet on MNIST), :math:`\mathcal N(0, 0.1^2)`
initialization, mean cross-entropy. From one initial point: SGD with batch 10 (SB) and with batch
512 (LB), the same learning rate and number of steps, gradients averaged over the batch (S18).
At both ends: the exact Hessian's spectrum (outliers, their sizes, negative eigenvalues). Then the
line :math:`\theta(\alpha) = (1-\alpha)\,\theta_{SB} + \alpha\,\theta_{LB}`, :math:`\alpha \in [-1, 2]`:
training and test loss and accuracy, and the top Hessian eigenvalue along it.

S18's picture: the same number of outliers at both ends (≈ 10 above a threshold ≈ 1), LB's larger
(top ≈ 21 against ≈ 5.3); most negative ≈ −0.033 (SB) and ≈ −0.007 (LB); no barrier on the line
between them.

Our choices (the paper does not say): learning rate 0.1, 10,000 steps (quick: 3,000), batches drawn
from a fresh permutation every epoch (with sequential batches of 512 out of 1,000, the trainer would
reuse the same first 512 examples every step).
"""

from __future__ import annotations

import numpy as np

from .. import data as _data
from .. import mlp, spectrum
from ..landscape import barrier, loss_on_line
from ..objective import Objective
from .runner import Experiment, dense_spectra, single_thread_blas, top_eigenvalue, top_values

#: "The same number of outliers": elbow counts within this many of each other (our choice).
SAME_COUNT_TOLERANCE = 2

CONFIGS = {
    "quick": {
        "n_samples": 1000,
        "n_test": 797,
        "hidden": [30, 30],
        "activation": "relu",
        "lr": 0.1,
        "steps": 3000,
        "small_batch": 10,
        "large_batch": 512,
        "shuffle": True,
        "line_alphas": [-1.0, 2.0, 31],
        "top_alphas": [-1.0, 2.0, 13],
    },
    "full": {
        "n_samples": 1000,
        "n_test": 797,
        "hidden": [30, 30],
        "activation": "relu",
        "lr": 0.1,
        "steps": 10000,
        "small_batch": 10,
        "large_batch": 512,
        "shuffle": True,
        "line_alphas": [-1.0, 2.0, 61],
        "top_alphas": [-1.0, 2.0, 31],
    },
}


def grid(spec) -> np.ndarray:
    """``[start, stop, num]`` → ``numpy.linspace`` rounded to 10 decimals (so 0 and 1 are exact)."""
    a, b, n = spec
    return np.round(np.linspace(float(a), float(b), int(n)), 10)


def problem(ctx):
    """The data (train and test objectives) and the initial point shared by SB and LB."""
    cfg = ctx.config
    ds = _data.digits(n_samples=cfg["n_samples"], n_test=cfg["n_test"], seed=ctx.seed_for("data"))
    sizes = (ds.dim, *map(int, cfg["hidden"]), ds.n_classes)
    obj = Objective(ds.X, ds.y, sizes, cfg["activation"], "cross_entropy")
    test = obj.with_data(ds.X_test, ds.y_test) if ds.X_test.shape[0] else None
    p0 = mlp.init_params(sizes, "normal", seed=ctx.seed_for("init"))
    return obj, test, p0


def endpoint(ctx, which: str, prob=None) -> dict:
    """Train SB (``which="sb"``) or LB (``"lb"``) and return its parameters and spectrum (cached)."""
    cfg = ctx.config
    batch = cfg["small_batch"] if which == "sb" else cfg["large_batch"]
    keys = ("n_samples", "n_test", "hidden", "activation", "lr", "steps", "shuffle")
    params = {"which": which, "batch": batch, "seed": ctx.seed, **{k: cfg[k] for k in keys}}

    def compute():
        obj, test, p0 = problem(ctx) if prob is None else prob
        res = ctx.train(
            obj,
            p0,
            optimizer="sgd",
            lr=cfg["lr"],
            steps=cfg["steps"],
            batch_size=batch,
            shuffle=cfg["shuffle"],
            seed=ctx.seed_for("batches", which),
        )
        w = dense_spectra(obj, res.params)["H"]
        return {
            "params": res.params,
            "eigenvalues": w,
            "history_step": res.history["step"],
            "history_loss": res.history["loss"],
            "history_accuracy": res.history["accuracy"],
            "train_loss": float(obj.loss_value(res.params)),
            "train_accuracy": float(obj.accuracy(res.params)),
            "test_loss": float(test.loss_value(res.params)) if test is not None else None,
            "test_accuracy": float(test.accuracy(res.params)) if test is not None else None,
        }

    return ctx.point(f"endpoint_{which}", params, compute)


def spectrum_numbers(w) -> dict:
    """Outliers, sizes and negative eigenvalues of one endpoint's spectrum."""
    w = np.asarray(w, dtype=float)
    tol = spectrum.zero_tolerance(w)
    return {
        "n_params": int(w.size),
        "top": top_values(w, 50),
        "bottom": [float(v) for v in np.sort(w)[:50]],
        "counts": spectrum.outlier_counts(w),
        "elbow_threshold": spectrum.elbow_threshold(w),
        "n_above_1": int(np.count_nonzero(w > 1.0)),
        "negative": spectrum.negative_stats(w, tol),
        "n_zero": spectrum.count_zero(w, tol),
    }


def compute(ctx) -> dict:
    cfg = ctx.config
    prob = problem(ctx)
    obj, test, _ = prob
    ends = {which: endpoint(ctx, which, prob) for which in ctx.bar(["sb", "lb"], "SB / LB training")}
    with single_thread_blas():  # small products: one BLAS thread
        line = loss_on_line(obj, ends["sb"]["params"], ends["lb"]["params"], grid(cfg["line_alphas"]), test)
    tops = []
    for a in ctx.bar(grid(cfg["top_alphas"]), "top eigenvalue on the line"):
        a = float(a)

        def point(a=a):
            theta = (1.0 - a) * ends["sb"]["params"] + a * ends["lb"]["params"]
            return {"alpha": a, "top": top_eigenvalue(obj, theta)}

        tops.append(
            ctx.point(f"line_top_alpha={a:+.4f}", {"alpha": a, "seed": ctx.seed, **cfg}, point)["top"]
        )
    out = {
        "endpoints": {},
        "line": line,
        "line_top": {"alpha": grid(cfg["top_alphas"]).tolist(), "top": tops},
        "barrier": barrier(line["alpha"], line["train_loss"]),
    }
    for which, r in ends.items():
        out["endpoints"][which] = {
            "batch": cfg["small_batch"] if which == "sb" else cfg["large_batch"],
            **spectrum_numbers(r["eigenvalues"]),
            **{k: r[k] for k in ("train_loss", "train_accuracy", "test_loss", "test_accuracy")},
            "history": {
                "step": np.asarray(r["history_step"]).tolist(),
                "loss": np.asarray(r["history_loss"]).tolist(),
                "accuracy": np.asarray(r["history_accuracy"]).tolist(),
            },
        }
    return out


def plot(ctx, numbers) -> None:
    import matplotlib.pyplot as plt

    e = numbers["endpoints"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for j, which in enumerate(("sb", "lb")):
        top = np.asarray(e[which]["top"])
        lab = f"{which.upper()} (batch {e[which]['batch']}): {e[which]['counts']['elbow']} elbow outliers"
        axes[0].semilogy(
            np.arange(1, top.size + 1), np.maximum(top, 1e-12), "o-", ms=3, lw=0.8, color=f"C{j}", label=lab
        )
        bottom = np.asarray(e[which]["bottom"])
        axes[1].plot(
            np.arange(1, bottom.size + 1),
            bottom,
            "o-",
            ms=3,
            lw=0.8,
            color=f"C{j}",
            label=f"{which.upper()}: most negative {e[which]['negative']['most_negative']:.2g}",
        )
        h = e[which]["history"]
        axes[2].semilogy(h["step"], h["loss"], color=f"C{j}", label=f"{which.upper()} train loss")
    axes[0].set_title("top 50 eigenvalues at the two ends", fontsize=10)
    axes[0].set_xlabel("rank")
    axes[0].legend(fontsize=8)
    axes[1].axhline(0, color="0.6", lw=0.5)
    axes[1].set_title("the 50 smallest eigenvalues", fontsize=10)
    axes[1].set_xlabel("rank (smallest first)")
    axes[1].legend(fontsize=8)
    axes[2].set_xlabel("step")
    axes[2].set_title("full-batch training loss", fontsize=10)
    axes[2].legend(fontsize=8)
    fig.suptitle(ctx.title("spectra at the SB and LB solutions (Fig. 4)"))
    fig.tight_layout()
    ctx.save_figure(fig, "fig4_sb_lb_spectra")

    line, lt = numbers["line"], numbers["line_top"]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 4))
    ax1.plot(line["alpha"], line["train_loss"], "C0-", label="train")
    if line["test_loss"]:
        ax1.plot(line["alpha"], line["test_loss"], "C1--", label="test")
    ax1.set_yscale("log")
    ax1.set_ylabel("loss")
    ax2.plot(line["alpha"], line["train_accuracy"], "C0-", label="train")
    if line["test_accuracy"]:
        ax2.plot(line["alpha"], line["test_accuracy"], "C1--", label="test")
    ax2.set_ylabel("accuracy")
    ax3.plot(lt["alpha"], lt["top"], "C2o-", ms=4)
    ax3.set_ylabel("top Hessian eigenvalue")
    for ax in (ax1, ax2, ax3):
        for a, name in ((0, "SB"), (1, "LB")):
            ax.axvline(a, color="0.6", lw=0.6, ls=":")
            ax.annotate(
                name, (a, 0.97), xycoords=("data", "axes fraction"), ha="center", va="top", fontsize=8
            )
        ax.set_xlabel("α  (θ = (1−α) θ_SB + α θ_LB)")
    ax1.legend(fontsize=8)
    ax2.legend(fontsize=8)
    b = numbers["barrier"]
    ax1.set_title(f"barrier on [0, 1]: {b['height']:+.2g} (margin {b['margin']:.2g})", fontsize=10)
    fig.suptitle(ctx.title("the line through the SB and LB solutions (Fig. 6)"))
    fig.tight_layout()
    ctx.save_figure(fig, "fig6_sb_lb_line")


def judge(numbers) -> tuple[str, dict, dict]:
    sb, lb = numbers["endpoints"]["sb"], numbers["endpoints"]["lb"]
    checks = {
        f"same outlier count (±{SAME_COUNT_TOLERANCE})": abs(sb["counts"]["elbow"] - lb["counts"]["elbow"])
        <= SAME_COUNT_TOLERANCE,
        "LB's top larger": lb["top"][0] > sb["top"][0],
        "SB's most negative larger in size": abs(sb["negative"]["most_negative"])
        > abs(lb["negative"]["most_negative"]),
        "no barrier on the line": bool(numbers["barrier"]["none"]),
    }
    ours = (
        f"elbow outliers SB {sb['counts']['elbow']} / LB {lb['counts']['elbow']}; top SB {sb['top'][0]:.3g} / "
        f"LB {lb['top'][0]:.3g}; most negative SB {sb['negative']['most_negative']:.2g} / LB "
        f"{lb['negative']['most_negative']:.2g}; barrier {numbers['barrier']['height']:+.2g}"
    )
    values = {
        "outliers SB": sb["counts"]["elbow"],
        "outliers LB": lb["counts"]["elbow"],
        "top SB": sb["top"][0],
        "top LB": lb["top"][0],
        "barrier": numbers["barrier"]["height"],
    }
    return ours, checks, values


EXPERIMENT = Experiment(
    id="E7",
    slug="small_vs_large_batch",
    source="Sagun et al. 2018, Sec. 3.3, Figs. 4, 6",
    claim="SB and LB reach points with the same number of outliers (LB's larger), and no barrier lies "
    "on the line between them",
    paper_number="≈ 10 outliers above ≈ 1; top LB ≈ 21, SB ≈ 5.3; most negative SB ≈ −0.033, LB ≈ −0.007",
    rule=f"reproduced if all four hold, partly if at least two: elbow counts within ±{SAME_COUNT_TOLERANCE}; "
    "LB's top eigenvalue > SB's; |most negative| SB > LB; no barrier (train loss on α ∈ [0, 1] ≤ the "
    "larger endpoint loss × 1.1 + 1e-3).",
    configs=CONFIGS,
    compute=compute,
    plot=plot,
    judge=judge,
    data="8×8 digits",
)
