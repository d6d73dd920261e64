r"""E3 — with the data fixed, width grows the bulk but leaves the right edge where it is (Sagun et al.,
2018, Fig. 3).

Data: 1,000 examples of scikit-learn's 8×8 digits (64 inputs, 10 classes; MNIST cannot be downloaded
here), the same 1,000 for every width. Network: 64-h-10 with :math:`h \in \{10, 30, 50, 70\}`
(P = 75h + 10: 760 … 5,260), :math:`\mathcal N(0, 0.1^2)` initialization, mean cross-entropy, plain GD
with the same learning rate (0.1) and the same number of steps for every width, as in S18. We
diagonalize the exact Hessian at the end and overlay the top 120 eigenvalues (S18 Fig. 3).

With ``--mnist DIR`` (MNIST IDX files already on disk) the sizes are the paper's: 1,000 MNIST
examples, 784-h-10 (P = 795h + 10: 7,960 … 55,660). Widths whose P exceeds :data:`DENSE_LIMIT` (the
``dense_limit`` setting) use
the matrix-free path (:func:`hessian_spectra.curvature.matrix_free.top_eigenvalues`, Lanczos on
Hessian-vector products) for the top 120; their zero counts are then not available.

S18's claim: the top eigenvalues do not move with width (top ≈ 0.06-0.08, about 10 above ≈ 0.01)
while the number of eigenvalues at zero grows with P.

Our choices (the paper does not say): ReLU, 10,000 GD steps (quick: 2,000). "At zero" is counted two
ways: exactly zero to round-off (:func:`hessian_spectra.spectrum.count_zero`) and near zero,
:math:`|\lambda| \le 10^{-3}\lambda_{\max}` (:data:`NEAR_ZERO_REL`, our choice).
"""

from __future__ import annotations

import numpy as np

from .. import data as _data
from .. import mlp, spectrum
from ..objective import Objective
from .runner import Experiment, dense_spectra, single_thread_blas, top_values

#: Widths above this P use the matrix-free top eigenvalues instead of a dense eigendecomposition (our
#: choice: a dense eigendecomposition costs O(P³), ≈ 6 s at P = 5,510 and ≈ 60 s at 12,000 on 2 cores).
DENSE_LIMIT = 12_000

#: "Near zero": :math:`|\lambda| \le` NEAR_ZERO_REL · λ_max (our choice, three decades below the top).
NEAR_ZERO_REL = 1e-3

#: The right edge counts as invariant when each of the top 10 eigenvalues varies across widths by less
#: than this factor (max / min over widths; our choice: S18's top eigenvalue varies by ≈ ×1.3,
#: 0.06-0.08, and we allow ×2).
TOP10_FACTOR = 2.0

#: S18's reference level: "about 10 eigenvalues above ≈ 0.01".
PAPER_LEVEL = 0.01

N_TOP = 120

CONFIGS = {
    "quick": {
        "widths": [10, 30, 50, 70],
        "n_samples": 1000,
        "activation": "relu",
        "lr": 0.1,
        "steps": 2000,
        "dense_limit": DENSE_LIMIT,
    },
    "full": {
        "widths": [10, 30, 50, 70],
        "n_samples": 1000,
        "activation": "relu",
        "lr": 0.1,
        "steps": 10000,
        "dense_limit": DENSE_LIMIT,
    },
}


def load_data(ctx):
    """The fixed training set: 1,000 digits, or 1,000 MNIST examples with ``ctx.mnist``."""
    cfg = ctx.config
    if ctx.mnist:
        return _data.mnist(ctx.mnist, n_samples=cfg["n_samples"], seed=ctx.seed_for("data"))
    return _data.digits(n_samples=cfg["n_samples"], seed=ctx.seed_for("data"))


def width_point(ctx, h: int, ds=None) -> dict:
    """Train 64-h-10 (784-h-10 with MNIST) and return its spectrum numbers (cached per width)."""
    cfg = ctx.config
    source = "mnist" if ctx.mnist else "digits"
    params = {"h": h, "source": source, "seed": ctx.seed, **cfg}
    params.pop("widths")

    def compute():
        data = load_data(ctx) if ds is None else ds
        sizes = (data.dim, int(h), data.n_classes)
        obj = Objective(data.X, data.y, sizes, cfg["activation"], "cross_entropy")
        p0 = mlp.init_params(sizes, "normal", seed=ctx.seed_for("init", h))
        res = ctx.train(obj, p0, optimizer="gd", lr=cfg["lr"], steps=cfg["steps"])
        out = {
            "n_params": obj.n_params,
            "final_loss": float(res.history["loss"][-1]),
            "final_accuracy": float(res.history["accuracy"][-1]),
            "final_grad_norm": float(res.history["grad_norm"][-1]),
        }
        if obj.n_params <= cfg["dense_limit"]:
            w = dense_spectra(obj, res.params)["H"]
            tol = spectrum.zero_tolerance(w)
            out.update(
                method="dense",
                top=np.asarray(top_values(w, N_TOP)),
                bottom=np.sort(w)[:N_TOP].copy(),
                n_zero=spectrum.count_zero(w, tol),
                zero_tolerance=tol,
                n_near_zero=int(np.count_nonzero(np.abs(w) <= NEAR_ZERO_REL * w.max())),
                negative=spectrum.negative_stats(w, tol),
                counts=spectrum.outlier_counts(w),
                n_above_paper_level=int(np.count_nonzero(w > PAPER_LEVEL)),
                max=float(w.max()),
                min=float(w.min()),
            )
        else:
            from ..curvature import matrix_free

            with single_thread_blas():
                top, _ = matrix_free.top_eigenvalues(obj, res.params, N_TOP, which="largest")
                bottom, _ = matrix_free.top_eigenvalues(obj, res.params, N_TOP, which="smallest")
            top = np.sort(np.asarray(top, dtype=float))[::-1]
            bottom = np.sort(np.asarray(bottom, dtype=float))
            out.update(
                method="matrix-free",
                top=top,
                bottom=bottom,
                n_zero=None,
                zero_tolerance=None,
                n_near_zero=None,
                negative=None,
                counts=spectrum.outlier_counts(top),
                n_above_paper_level=int(np.count_nonzero(top > PAPER_LEVEL)),
                max=float(top[0]),
                min=float(bottom[0]),
            )
        return out

    return ctx.point(f"{source}_h={h}", params, compute)


def compute(ctx) -> dict:
    ds = load_data(ctx)
    rows = []
    for h in ctx.bar(ctx.config["widths"], "width sweep"):
        r = width_point(ctx, int(h), ds)
        rows.append(
            {
                "h": int(h),
                **{k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in r.items()},
            }
        )
    return {"data": ds.name, "n_samples": int(ds.X.shape[0]), "dim": int(ds.dim), "widths": rows}


def plot(ctx, numbers) -> None:
    import matplotlib.pyplot as plt

    rows = numbers["widths"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.2))
    for j, r in enumerate(rows):
        top = np.asarray(r["top"])
        ax1.plot(
            np.arange(1, top.size + 1),
            top,
            ".-",
            ms=3,
            lw=0.8,
            color=f"C{j}",
            label=f"h = {r['h']} (P = {r['n_params']:,})",
        )
    ax1.axhline(PAPER_LEVEL, color="0.5", lw=0.6, ls="--", label=f"{PAPER_LEVEL} (S18's level)")
    ax1.set_xlabel("rank (largest first)")
    ax1.set_ylabel("eigenvalue")
    ax1.set_title(f"top {N_TOP} eigenvalues overlaid")
    ax1.legend(fontsize=8)
    dense = [r for r in rows if r.get("n_near_zero") is not None]
    if dense:
        P = [r["n_params"] for r in dense]
        x = np.arange(len(dense))
        ax2.bar(x - 0.27, P, 0.27, color="0.8", label="P")
        ax2.bar(
            x, [r["n_near_zero"] for r in dense], 0.27, color="C0", label=f"|λ| ≤ {NEAR_ZERO_REL:g}·λ_max"
        )
        ax2.bar(x + 0.27, [r["n_zero"] for r in dense], 0.27, color="C3", label="zero to round-off")
        ax2.set_xticks(x, [f"h = {r['h']}" for r in dense])
        ax2.set_ylabel("number of eigenvalues")
        ax2.set_title("eigenvalues at zero grow with P")
        ax2.legend(fontsize=8)
    else:
        ax2.axis("off")
    fig.suptitle(ctx.title(f"{numbers['data']}, N = {numbers['n_samples']}, {numbers['dim']}-h-10"))
    fig.tight_layout()
    ctx.save_figure(fig, "fig3_width_sweep")


def top10_spread(rows) -> float:
    """max over ranks r ≤ 10 of (max over widths of λ_r) / (min over widths of λ_r)."""
    tops = np.array([r["top"][:10] for r in rows], dtype=float)
    if tops.shape[0] < 2 or np.any(tops <= 0):
        return float("inf")
    return float(np.max(tops.max(axis=0) / tops.min(axis=0)))


def judge(numbers) -> tuple[str, dict, dict]:
    rows = numbers["widths"]
    spread = top10_spread(rows)
    dense = [r for r in rows if r.get("n_near_zero") is not None]
    near = [r["n_near_zero"] for r in dense]
    checks = {
        f"top-10 vary < ×{TOP10_FACTOR:g}": spread < TOP10_FACTOR,
        "near-zero count grows with P": len(near) >= 2
        and all(b > a for a, b in zip(near, near[1:], strict=False)),
    }
    tops = ", ".join(f"{r['max']:.3g}" for r in rows)
    hs = ", ".join(str(r["h"]) for r in rows)
    above = ", ".join(str(r["n_above_paper_level"]) for r in rows)
    ours = (
        f"top eigenvalue {tops} (h = {hs}); top-10 vary ×{spread:.2f}; near-zero counts "
        f"{', '.join(map(str, near))}; above {PAPER_LEVEL}: {above}"
    )
    values = {f"top (h = {r['h']})": r["max"] for r in rows}
    values["top-10 spread"] = spread
    return ours, checks, values


EXPERIMENT = Experiment(
    id="E3",
    slug="width_sweep",
    source="Sagun et al. 2018, Fig. 3",
    claim="with the data fixed, the right edge (top eigenvalues) is invariant to width while the number of "
    "eigenvalues at zero grows with P",
    paper_number="top ≈ 0.06-0.08 at every width, ~10 above ≈ 0.01",
    rule=f"reproduced if each of the top-10 eigenvalues varies across widths by less than ×{TOP10_FACTOR:g} "
    f"and the near-zero count (|λ| ≤ {NEAR_ZERO_REL:g}·λ_max) strictly grows with P; partly if one holds.",
    configs=CONFIGS,
    compute=compute,
    plot=plot,
    judge=judge,
    data="8×8 digits",
)
