r"""E13 — beyond the two papers: gradient descent happens in a tiny subspace (Gur-Ari, Roberts & Dyer,
2018).

Gur-Ari et al.'s claim: after a short initial phase of training, the gradient :math:`g_t = \nabla L(w_t)`
lies mostly in the span of the top-k eigenvectors of the Hessian :math:`H(w_t)`, with k the number of
classes C, and that span changes slowly. Along GD and SGD training we measure at each checkpoint t:

- the fraction of the gradient in the top-k eigenspace, :math:`f_k(t) = \lVert P_k g_t\rVert^2 /
  \lVert g_t\rVert^2` with :math:`P_k` the projector on the eigenvectors of the k largest eigenvalues of
  :math:`H(w_t)` (:func:`hessian_spectra.spectrum.projection_fractions`), for every
  :math:`k \le 2C` (reported for :math:`k \in \{1, C-1, C, 2C\}`);
- the overlap of the top-C eigenspaces at times t and :math:`t + \Delta`, the mean squared cosine of
  their principal angles, :math:`\frac1C \lVert V_t^\top V_{t+\Delta}\rVert_F^2`
  (:func:`hessian_spectra.spectrum.subspace_overlap`), and the overlap of every later top-C space with
  the one at the step where the checks start (Gur-Ari et al. follow :math:`V_{\text{top}}(t_1)` against
  :math:`V_{\text{top}}(t)` this way);
- the link to the decomposition :math:`H = G + R`: the same fraction for the range of Papyan's
  class-mean term :math:`G_1`, :math:`\mathrm{span}\{\delta_c\}` (rank ≤ C;
  :func:`hessian_spectra.curvature.papyan.class_means_by_products`), and the overlap of the top-C
  eigenspace of H with that span.

For SGD the gradient whose fraction the checks use is the **full-batch** gradient :math:`\nabla L(w_t)`
at the SGD iterate (the Hessian too is the full-batch one); the fraction of the **minibatch** gradient
that SGD applied at that step is reported beside it.

Two data sets, each with the network the papers use on it:

- ``blobs``: C = 5 Gaussian clusters in d = 100 (S18's synthetic data, :func:`hessian_spectra.data.blobs`,
  standardized per feature as in the authors' code), 1,000 training points (quick: 500), S18's
  100-30-30-C ReLU network (P = 4,115);
- ``mnist``: 1,000 real MNIST images (:func:`hessian_spectra.data.mnist`, 100 per class), S18's
  784-h-10 ReLU network with h = 10 (P = 7,960).

Both: :math:`\mathcal N(0, 0.1^2)` initialization (the authors' code), mean cross-entropy, learning rate
0.1, GD and SGD from the same initial point on the same data.

**Eigenvectors.** The top 2C eigenpairs of the exact H come from thick-restart Lanczos on
Hessian-vector products (:func:`hessian_spectra.curvature.lanczos.extreme_eigenpairs`, residuals
:math:`\le 10^{-5}\lVert H\rVert`; the number of pairs that did not converge is reported). A dense
eigendecomposition with eigenvectors would be exact to round-off but costs 48 s of CPU at P = 4,115
(measured under load), against ≈ 0.5 s for Lanczos, at every one of the checkpoints; the test suite
checks the Lanczos fractions and overlaps against dense ``eigh`` at small P.

**Our choices** (Gur-Ari et al. train larger networks on all of MNIST and on CIFAR-10; sizes, steps
and batch sizes here are ours): C = 5 blobs (a class count other than MNIST's 10, so that the knee of
:math:`f_k` at k = C can be told apart from a fixed k); SGD batches of 50 from a fresh permutation every
epoch; a fixed number of steps (300, full: 2,000) instead of the authors' gradient-norm stop, since
the claim is about the trajectory; checkpoints at steps 0, 100, 200, 300 (full: 0, 10, 25, 50 and
every 100 steps to 2,000). The checks start at step :data:`FROM_STEP` = 100 and compare subspaces
:data:`DELTA` = 100 steps apart, in both modes.

Short names used here:

- S16: Sagun, Bottou & LeCun (2016),
  *Eigenvalues of the Hessian in Deep Learning: Singularity and Beyond*.
- S18: Sagun, Evci, Güney, Dauphin & Bottou (2018),
  *Empirical Analysis of the Hessian of Over-Parametrized Neural Networks*.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
from autograd import grad

from .. import data as _data
from .. import mlp, spectrum
from .. import training as _training
from ..curvature import lanczos, matrix_free, papyan
from ..objective import Objective
from .runner import Experiment, single_thread_blas

# ---- the rules, fixed before the runs ---------------------------------------------------------

#: "Mostly in the top-C subspace": the median over the checkpoints from :data:`FROM_STEP` on of
#: :math:`f_C(t)` (full-batch gradient) is at least this level, in every run of a data set (GD and
#: SGD). Our choice: Gur-Ari et al.'s fractions sit at ≈ 0.9 or more after the initial phase (PAPER.md);
#: 0.8 keeps "most of the squared norm" with room for the fluctuations of single checkpoints.
FRACTION_LEVEL = 0.8

#: The step from which the gradient should lie in the top subspace ("after a short initial phase").
#: Our choice: 100 steps at learning rate 0.1, a third of the quick run and a twentieth of the full
#: one (Gur-Ari et al.'s initial phase is a small part of training).
FROM_STEP = 100

#: Subspaces are compared Δ steps apart (our choice: 100 steps, the checkpoint spacing after
#: :data:`FROM_STEP`, a third of the quick run).
DELTA = 100

#: "The subspace changes slowly": the overlap of the top-C eigenspaces at t and t + Δ, the mean
#: squared cosine of their C principal angles, is at least this level at every t ≥ FROM_STEP of
#: every run. Our choice: more than half of the subspace is kept (Gur-Ari et al.: "mostly preserved");
#: two random C-dimensional subspaces of R^P overlap by C/P ≈ 10⁻³.
OVERLAP_LEVEL = 0.5

#: The top-kC eigenpairs are computed (k = 2: f_k for every k up to 2C).
K_MAX_FACTOR = 2

#: Lanczos residual tolerance relative to ‖H‖ (the library's default): the top-C subspace is then
#: accurate to about tol·‖H‖ / (λ_C − λ_{C+1}).
LANCZOS_TOL = 1e-5

RUNS = [["blobs", "gd"], ["blobs", "sgd"], ["mnist", "gd"], ["mnist", "sgd"]]

CONFIGS = {
    "quick": {
        "runs": RUNS,
        "blobs": {"n_samples": 500, "n_classes": 5, "dim": 100, "spread": 1.0, "hidden": [30, 30]},
        "mnist": {"n_samples": 1000, "hidden": [10]},
        "activation": "relu",
        "lr": 0.1,
        "batch_size": 50,
        "steps": 300,
        "checkpoints": [0, 100, 200, 300],
        "record_every": 10,
        "from_step": FROM_STEP,
        "delta": DELTA,
    },
    "full": {
        "runs": RUNS,
        "blobs": {"n_samples": 1000, "n_classes": 5, "dim": 100, "spread": 1.0, "hidden": [30, 30]},
        "mnist": {"n_samples": 1000, "hidden": [10]},
        "activation": "relu",
        "lr": 0.1,
        "batch_size": 50,
        "steps": 2000,
        "checkpoints": [0, 10, 25, 50, *range(100, 2001, 100)],
        "record_every": 20,
        "from_step": FROM_STEP,
        "delta": DELTA,
    },
}

DATA_LABELS = {"blobs": "blobs", "mnist": "MNIST"}


# --------------------------------------------------------------------------------------------
# Compute
# --------------------------------------------------------------------------------------------


def problem(ctx, data_name: str):
    """The objective and initial point of one data set (shared by its GD and SGD runs)."""
    cfg = ctx.config
    spec = cfg[data_name]
    if data_name == "blobs":
        ds = _data.blobs(
            n_samples=spec["n_samples"],
            n_clusters=spec["n_classes"],
            dim=spec["dim"],
            spread=spec["spread"],
            seed=ctx.seed_for("data", data_name),
        )
    elif data_name == "mnist":
        ds = ctx.images(spec["n_samples"], keys=("data", data_name))
    else:
        raise ValueError(f"runs: unknown data set {data_name!r}; expected 'blobs' or 'mnist'")
    sizes = (ds.dim, *map(int, spec["hidden"]), ds.n_classes)
    obj = Objective(ds.X, ds.y, sizes, cfg["activation"], "cross_entropy")
    p0 = mlp.init_params(sizes, "normal", seed=ctx.seed_for("init", data_name))
    return obj, p0


def minibatch_at(n_samples: int, batch_size: int, seed: int, steps) -> dict:
    """The minibatch :func:`hessian_spectra.training.train` draws at each of ``steps`` (shuffled
    epochs from ``seed``): the update from :math:`w_t` to :math:`w_{t+1}` uses the t-th batch."""
    wanted = sorted({int(t) for t in steps})
    out, stream = {}, _training.minibatches(n_samples, batch_size, shuffle=True, seed=seed)
    for t, idx in enumerate(itertools.islice(stream, wanted[-1] + 1 if wanted else 0)):
        if t in wanted:
            out[t] = idx
    return out


def top_eigenpairs(obj: Objective, w, k: int, seed: int):
    """The k largest eigenpairs of H(w) by Lanczos, and ``(n_products, n_converged, n_warnings)``."""
    op = matrix_free.hessian_operator(obj, w)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", lanczos.LanczosBudgetWarning)
        warnings.simplefilter("always", lanczos.LanczosClusterWarning)
        vals, vecs, info = lanczos.extreme_eigenpairs(
            op, k, which="largest", tol=LANCZOS_TOL, seed=seed, return_eigenvectors=True
        )
    order = np.argsort(vals)[::-1]
    return vals[order], vecs[:, order], (int(info["n_products"]), int(info["n_converged"]), len(caught))


def measure(obj: Objective, w, k_max: int, seed: int, batch=None) -> dict:
    """Everything one checkpoint contributes: the top eigenpairs of H, the gradient's fractions in
    them and in span{δ_c}, and (with ``batch``) the same for the minibatch gradient."""
    C = obj.n_classes
    vals, vecs, (n_products, n_converged, n_warn) = top_eigenpairs(obj, w, k_max, seed)
    g = obj.gradient(w)
    basis_g1 = papyan.class_mean_basis(papyan.class_means_by_products(obj, w))
    out = {
        "eigenvalues": vals,
        "fraction_H": spectrum.projection_fractions(g, vecs),
        "fraction_G1": float(spectrum.projection_fractions(g, basis_g1)[-1]),
        "overlap_H_G1": spectrum.subspace_overlap(vecs[:, :C], basis_g1),
        "rank_G1": int(basis_g1.shape[1]),
        "grad_norm": float(np.linalg.norm(g)),
        "n_products": n_products,
        "n_converged": n_converged,
        "n_warnings": n_warn,
        "top_C": vecs[:, :C],
    }
    if batch is not None:
        g_b = grad(obj.batch_loss)(w, obj.X[batch], obj.y[batch])
        out["fraction_H_batch"] = spectrum.projection_fractions(g_b, vecs)
        out["fraction_G1_batch"] = float(spectrum.projection_fractions(g_b, basis_g1)[-1])
    return out


def run_point(ctx, data_name: str, optimizer: str) -> dict:
    """Train one (data, optimizer) run and measure every checkpoint (cached per run)."""
    cfg = ctx.config
    keys = ("activation", "lr", "batch_size", "steps", "checkpoints", "record_every")
    params = {"data": data_name, "optimizer": optimizer, "seed": ctx.seed, data_name: cfg[data_name]}
    params.update({k: cfg[k] for k in keys})

    def compute():
        obj, p0 = problem(ctx, data_name)
        C = obj.n_classes
        checkpoints = sorted({int(t) for t in cfg["checkpoints"] if 0 <= int(t) <= int(cfg["steps"])})
        sgd = optimizer == "sgd"
        batch_seed = ctx.seed_for("batches", data_name)
        res = ctx.train(
            obj,
            p0,
            optimizer=optimizer,
            lr=cfg["lr"],
            steps=cfg["steps"],
            batch_size=cfg["batch_size"] if sgd else None,
            shuffle=True,
            seed=batch_seed,
            snapshot_steps=checkpoints,
            record_every=cfg["record_every"],
        )
        batches = minibatch_at(obj.n_samples, cfg["batch_size"], batch_seed, checkpoints) if sgd else {}
        rows = []
        with single_thread_blas():  # Hessian-vector products are small matrix products
            for t in ctx.bar(checkpoints, f"{data_name} {optimizer} checkpoints"):
                seed = ctx.seed_for("lanczos", data_name, optimizer, t)
                rows.append(measure(obj, res.snapshots[t], K_MAX_FACTOR * C, seed, batches.get(t)))
        top = {t: r.pop("top_C") for t, r in zip(checkpoints, rows, strict=True)}
        pairs = [(t, t + int(cfg["delta"])) for t in checkpoints if t + int(cfg["delta"]) in top]
        ref = int(cfg["from_step"])
        later = [t for t in checkpoints if t >= ref] if ref in top else []
        out = {
            "steps": np.asarray(checkpoints, dtype=np.int64),
            "n_classes": C,
            "n_params": obj.n_params,
            "loss": np.asarray([float(obj.loss_value(res.snapshots[t])) for t in checkpoints]),
            "accuracy": np.asarray([float(obj.accuracy(res.snapshots[t])) for t in checkpoints]),
            "pair_from": np.asarray([a for a, _ in pairs], dtype=np.int64),
            "pair_to": np.asarray([b for _, b in pairs], dtype=np.int64),
            "pair_overlap": np.asarray([spectrum.subspace_overlap(top[a], top[b]) for a, b in pairs]),
            "ref_steps": np.asarray(later, dtype=np.int64),
            "ref_overlap": np.asarray([spectrum.subspace_overlap(top[ref], top[t]) for t in later]),
            "history_step": res.history["step"],
            "history_loss": res.history["loss"],
        }
        for key in rows[0]:
            out[key] = np.asarray([r[key] for r in rows])
        return out

    return ctx.point(f"{data_name}_{optimizer}", params, compute)


def _plain(value):
    return value.tolist() if isinstance(value, np.ndarray) else value


def compute(ctx) -> dict:
    cfg = ctx.config
    runs = {}
    for data_name, optimizer in ctx.bar([tuple(r) for r in cfg["runs"]], "runs"):
        r = run_point(ctx, data_name, optimizer)
        runs[f"{data_name}_{optimizer}"] = {
            "data": data_name,
            "optimizer": optimizer,
            **{k: _plain(v) for k, v in r.items()},
        }
    return {
        "from_step": int(cfg["from_step"]),
        "delta": int(cfg["delta"]),
        "steps": int(cfg["steps"]),
        "runs": runs,
    }


# --------------------------------------------------------------------------------------------
# Judge
# --------------------------------------------------------------------------------------------


def fraction_after(run: dict, k: int, from_step: int, key: str = "fraction_H") -> float:
    """Median over the checkpoints t ≥ ``from_step`` of the fraction in the top-k subspace (NaN if
    there are none)."""
    steps = np.asarray(run["steps"])
    values = np.asarray(run[key], dtype=float)
    if values.ndim == 2:
        values = values[:, k - 1]
    later = values[steps >= from_step]
    return float(np.median(later)) if later.size else float("nan")


def g1_fraction_after(run: dict, from_step: int, key: str = "fraction_G1") -> float:
    """Median over t ≥ ``from_step`` of the gradient's fraction in span{δ_c}."""
    return fraction_after(run, 1, from_step, key)


def min_pair_overlap(run: dict, from_step: int) -> float:
    """The smallest overlap of top-C eigenspaces Δ apart, over the pairs starting at t ≥ ``from_step``."""
    start = np.asarray(run["pair_from"])
    values = np.asarray(run["pair_overlap"], dtype=float)[start >= from_step]
    return float(values.min()) if values.size else float("nan")


def _runs_of(numbers, data_name):
    return [r for r in numbers["runs"].values() if r["data"] == data_name]


def judge(numbers) -> tuple[str, dict, dict]:
    t0 = numbers["from_step"]
    checks, fractions, ours = {}, {}, []
    for data_name in ("mnist", "blobs"):
        runs = _runs_of(numbers, data_name)
        if not runs:
            continue
        label = DATA_LABELS[data_name]
        meds = {r["optimizer"]: fraction_after(r, r["n_classes"], t0) for r in runs}
        name = f"{label}: median f_C after step {t0} ≥ {FRACTION_LEVEL:g} ({', '.join(meds).upper()})"
        checks[name] = all(np.isfinite(m) and m >= FRACTION_LEVEL for m in meds.values())
        fractions.update({f"{label} f_C, {opt.upper()}": m for opt, m in meds.items()})
        ours.append(f"{label} f_C " + ", ".join(f"{o.upper()} {m:.2f}" for o, m in meds.items()))
    overlaps = {key: min_pair_overlap(r, t0) for key, r in numbers["runs"].items()}
    worst = min(overlaps.values()) if overlaps else float("nan")
    name = (
        f"overlap of top-C spaces Δ = {numbers['delta']} apart ≥ {OVERLAP_LEVEL:g} from step {t0} (every run)"
    )
    checks[name] = bool(overlaps) and all(np.isfinite(v) and v >= OVERLAP_LEVEL for v in overlaps.values())
    ours.append(f"min overlap(t, t+Δ) {worst:.2f}")
    # the summary's headline: the MNIST fractions, blobs GD, the worst overlap; then the rest
    values = {
        k: fractions.pop(k) for k in ("MNIST f_C, GD", "MNIST f_C, SGD", "blobs f_C, GD") if k in fractions
    }
    values["min overlap(t, t+Δ)"] = worst
    values.update(fractions)
    # reported beside the checks
    for r in numbers["runs"].values():
        label = f"{DATA_LABELS[r['data']]} {r['optimizer'].upper()}"
        C = r["n_classes"]
        if "fraction_H_batch" in r:
            values[f"{label}: f_C of the minibatch gradient"] = fraction_after(r, C, t0, "fraction_H_batch")
        values[f"{label}: fraction in span(G1)"] = g1_fraction_after(r, t0)
        if r["optimizer"] == "gd":
            values[f"{label}: overlap top-C(H) vs span(G1)"] = fraction_after(r, 1, t0, "overlap_H_G1")
            values[f"{label}: f_1"] = fraction_after(r, 1, t0)
            values[f"{label}: f_(C-1)"] = fraction_after(r, C - 1, t0)
            values[f"{label}: f_(2C)"] = fraction_after(r, 2 * C, t0)
            if len(r["ref_overlap"]):
                values[f"{label}: overlap V(t0) vs V(end)"] = float(r["ref_overlap"][-1])
    values["Lanczos pairs not converged"] = float(
        sum(
            int(np.sum(K_MAX_FACTOR * r["n_classes"] - np.asarray(r["n_converged"])))
            for r in numbers["runs"].values()
        )
    )
    return "; ".join(ours), checks, values


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def _mark_rules(ax, t0, level):
    ax.axvline(t0, color="0.5", lw=0.7, ls=":")
    if level is not None:
        ax.axhline(level, color="0.3", lw=0.8, ls="--")


def plot(ctx, numbers) -> None:
    import matplotlib.pyplot as plt

    t0 = numbers["from_step"]
    datasets = [d for d in ("blobs", "mnist") if _runs_of(numbers, d)]
    fig, axes = plt.subplots(len(datasets), 3, figsize=(15, 4.0 * len(datasets)), squeeze=False)
    for row, data_name in enumerate(datasets):
        runs = _runs_of(numbers, data_name)
        C = runs[0]["n_classes"]
        ks = [1, C - 1, C, 2 * C]
        ax = axes[row, 0]
        for r in runs:
            frac = np.asarray(r["fraction_H"])
            ls = "-" if r["optimizer"] == "gd" else "--"
            for j, k in enumerate(ks):
                ax.plot(
                    r["steps"],
                    frac[:, k - 1],
                    ls,
                    marker="o",
                    ms=3,
                    color=f"C{j}",
                    label=f"k = {k}" + (" = C" if k == C else "") if r["optimizer"] == "gd" else None,
                )
        _mark_rules(ax, t0, FRACTION_LEVEL)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("step")
        ax.set_ylabel("‖P_k g‖² / ‖g‖²")
        ax.set_title(
            f"{DATA_LABELS[data_name]} (P = {runs[0]['n_params']:,}, C = {C}): full-batch gradient in the "
            f"top-k space of H\nGD solid, SGD dashed; check: median f_C after step {t0} ≥ {FRACTION_LEVEL:g}",
            fontsize=9,
        )
        ax.legend(fontsize=8, loc="lower right")
        ax = axes[row, 1]
        for r in runs:
            frac = np.asarray(r["fraction_H"])
            steps = np.asarray(r["steps"])
            ls = "-" if r["optimizer"] == "gd" else "--"
            later = steps >= t0
            median_later = np.median(frac[later], axis=0) if np.any(later) else frac[-1]
            ax.plot(
                np.arange(1, frac.shape[1] + 1),
                frac[0],
                ls,
                color="0.6",
                lw=0.8,
                label=f"{r['optimizer'].upper()}, step 0",
            )
            ax.plot(
                np.arange(1, frac.shape[1] + 1),
                median_later,
                ls,
                marker="o",
                ms=3,
                color="C3",
                label=f"{r['optimizer'].upper()}, median over steps ≥ {t0}",
            )
        ax.axvline(C, color="0.3", lw=0.8, ls="--")
        ax.annotate("k = C ", (C, 0.03), fontsize=8, ha="right")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("k")
        ax.set_title("fraction in the top-k space against k", fontsize=9)
        ax.legend(fontsize=7)
        ax = axes[row, 2]
        for r in runs:
            ls = "-" if r["optimizer"] == "gd" else "--"
            name = r["optimizer"].upper()
            ax.plot(
                r["steps"], np.asarray(r["fraction_H"])[:, C - 1], ls, color="C2", label=f"f_C(H), {name}"
            )
            ax.plot(r["steps"], r["fraction_G1"], ls, color="C3", label=f"fraction in span(G1), {name}")
            if "fraction_H_batch" in r:
                ax.plot(
                    r["steps"],
                    np.asarray(r["fraction_H_batch"])[:, C - 1],
                    ":",
                    color="C2",
                    label=f"f_C(H) of the minibatch gradient, {name}",
                )
            if r["optimizer"] == "gd":
                ax.plot(
                    r["steps"], r["overlap_H_G1"], ls, color="C7", label="overlap top-C(H) / span(G1), GD"
                )
        _mark_rules(ax, t0, None)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("step")
        ax.set_title("the link to G1 = (C−1) Σ π_c δ_c δ_cᵀ (Papyan's class means)", fontsize=9)
        ax.legend(fontsize=7)
    fig.suptitle(ctx.title("the gradient lies in the top-C Hessian subspace (cf. their Fig. 1)"))
    fig.tight_layout()
    ctx.save_figure(fig, "fig1_gradient_in_top_subspace")

    fig, axes = plt.subplots(len(datasets), 2, figsize=(12, 3.8 * len(datasets)), squeeze=False)
    for row, data_name in enumerate(datasets):
        runs = _runs_of(numbers, data_name)
        C = runs[0]["n_classes"]
        ax = axes[row, 0]
        for r in runs:
            ls = "-" if r["optimizer"] == "gd" else "--"
            ax.plot(
                r["pair_from"],
                r["pair_overlap"],
                ls,
                marker="o",
                ms=3,
                color="C0",
                label=f"V(t) vs V(t + {numbers['delta']}), {r['optimizer'].upper()}",
            )
            if len(r["ref_steps"]):
                ax.plot(
                    r["ref_steps"],
                    r["ref_overlap"],
                    ls,
                    marker="s",
                    ms=3,
                    color="C1",
                    label=f"V({t0}) vs V(t), {r['optimizer'].upper()}",
                )
        _mark_rules(ax, t0, OVERLAP_LEVEL)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("t (step)")
        ax.set_ylabel("mean cos² of the principal angles")
        ax.set_title(
            f"{DATA_LABELS[data_name]}: overlap of top-{C} eigenspaces of H; check ≥ {OVERLAP_LEVEL:g}",
            fontsize=9,
        )
        ax.legend(fontsize=8)
        ax = axes[row, 1]
        gd = next((r for r in runs if r["optimizer"] == "gd"), runs[0])
        ev = np.asarray(gd["eigenvalues"])
        for j in range(ev.shape[1]):
            ax.semilogy(
                gd["steps"],
                np.maximum(ev[:, j], 1e-12),
                "-",
                lw=1.4 if j < C else 0.7,
                color="C3" if j < C else "0.6",
            )
        ax.set_xlabel("step")
        ax.set_title(
            f"{gd['optimizer'].upper()}: top {ev.shape[1]} eigenvalues of H (top {C} red)", fontsize=9
        )
    fig.suptitle(ctx.title("the top-C subspace changes slowly"))
    fig.tight_layout()
    ctx.save_figure(fig, "fig_top_subspace_overlap")


EXPERIMENT = Experiment(
    id="E13",
    slug="gradient_subspace",
    source="Gur-Ari, Roberts & Dyer 2018 (beyond S16/S18)",
    claim="after a short initial phase the gradient lies mostly in the span of the top-C Hessian "
    "eigenvectors (C = number of classes), and that span changes slowly",
    paper_number="‖P_C g‖²/‖g‖² ≈ 0.9 or more after the initial phase; top subspace mostly preserved",
    rule=f"reproduced if all hold, partly if at least half: for each data set, the median over checkpoints "
    f"t ≥ {FROM_STEP} of f_C = ‖P_C g‖²/‖g‖² (full-batch gradient, top-C eigenvectors of the exact H) "
    f"is ≥ {FRACTION_LEVEL:g} in its GD and its SGD run; the overlap (mean cos² of the principal angles) "
    f"of the top-C eigenspaces at t and t + {DELTA} is ≥ {OVERLAP_LEVEL:g} for every t ≥ {FROM_STEP} in "
    "every run.",
    configs=CONFIGS,
    compute=compute,
    plot=plot,
    judge=judge,
    data="real MNIST (1,000 images) and blobs",
)
