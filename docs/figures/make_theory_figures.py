"""Figures and numbers of docs/theory.md.

Run from the repository root (about a minute on two cores)::

    python docs/figures/make_theory_figures.py

Writes into docs/figures/:

- ``decomposition_spectra.png`` — ordered eigenvalues of H, G and R overlaid, at initialization and
  after training (S18 Sec. 2): at init R dominates and gives H its negative half; after training the
  outliers are G's and R is small next to them;
- ``theory_outliers_g1.png`` — the top of H against Papyan's G1 (C×C Gram) and G0+G1+G2 (C²×C²
  Gram), and what is left after knocking G1 out; on equidistant clusters and, for contrast, on
  randomly placed ones;
- ``theory_fisher.png`` — G (the model's Fisher), the empirical Fisher and the gradient covariance
  at initialization and after training;
- ``theory_mp.png`` — the Hessian of softmax regression on Gaussian data against Marchenko–Pastur,
  and a planted spike's outlier at the BBP location (S18 App. B).

Every number quoted in docs/theory.md is printed on stdout. All randomness is seeded.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hessian_spectra import Objective, blobs, mlp, plots, rmt, train  # noqa: E402
from hessian_spectra.curvature import decomposition as D  # noqa: E402
from hessian_spectra.curvature import papyan, reference  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
DPI = 90


def rel(a, b) -> float:
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def simplex_clusters(k, n_per_class, dim, separation, spread, seed):
    """k tight clusters centred at separation·e_j: every pair of classes at the same distance."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(k), n_per_class)
    return separation * np.eye(k, dim)[y] + spread * rng.standard_normal((y.size, dim)), y


def fit(X, y, sizes, activation, steps, lr, seed):
    ob = Objective(X, y, sizes, activation, "cross_entropy")
    w0 = mlp.init_params(sizes, "normal", seed=seed)
    res = train(ob, w0, lr=lr, steps=steps, progress=False)
    return ob, w0, res.params


# --------------------------------------------------------------------------------------------
# 1. H, G, R before and after training
# --------------------------------------------------------------------------------------------


def figure_decomposition():
    k = 5
    X, y = simplex_clusters(k, 20, 8, separation=3.0, spread=0.1, seed=0)
    sizes = (8, 32, k)
    ob, w0, w1 = fit(X, y, sizes, "tanh", steps=100, lr=0.5, seed=1)
    print(
        f"[1] equidistant clusters k={k}, N={ob.n_samples}, {sizes} tanh, P={ob.n_params}: loss "
        f"{ob.loss_value(w0):.3f} -> {ob.loss_value(w1):.2e}, accuracy {ob.accuracy(w1):.3f}"
    )
    fig, axes = plt.subplots(2, 2, figsize=(10, 7))
    for row, (label, w) in enumerate((("at initialization", w0), ("after 100 GD steps", w1))):
        H = reference.hessian(ob, w)
        G, R = D.reference_term(ob, w, "G"), D.reference_term(ob, w, "R")
        ev = {name: np.linalg.eigvalsh(M) for name, M in (("H", H), ("G", G), ("R", R))}
        print(
            f"    {label}: |H-(G+R)|/|H| = {rel(G + R, H):.1e}; top H {ev['H'][-1]:.4g}, top G "
            f"{ev['G'][-1]:.4g}, R in [{ev['R'][0]:.3g}, {ev['R'][-1]:.3g}], min H {ev['H'][0]:.3g}; "
            f"top-7 H {np.round(ev['H'][::-1][:7], 4)}; top-7 G {np.round(ev['G'][::-1][:7], 4)}"
        )
        plots.decomposition_figure(ev, title=label, top=30, axes=axes[row])
    fig.suptitle(f"H = G + R: ordered eigenvalues ({k} equidistant clusters, 8-32-5 tanh, P = {ob.n_params})")
    fig.tight_layout()
    plots.save_figure(fig, os.path.join(HERE, "decomposition_spectra.png"), dpi=DPI)


def figure_decomposition_blobs():
    """The same overlay on S18-style blobs (random centres), printed only: see docs/theory.md."""
    ds = blobs(n_samples=200, n_clusters=5, dim=20, seed=0)
    sizes = (20, 16, 16, 5)
    ob, _, w = fit(ds.X, ds.y, sizes, "tanh", steps=400, lr=0.1, seed=1)
    H = reference.hessian(ob, w)
    G, R = D.reference_term(ob, w, "G"), D.reference_term(ob, w, "R")
    eH, eG, eR = (np.sort(np.linalg.eigvalsh(M))[::-1] for M in (H, G, R))
    print(
        f"[1b] blobs k=5 d=20 N=200, {sizes} tanh, 400 GD steps at lr 0.1, loss {ob.loss_value(w):.3g}: "
        f"top-8 H/λ1 {np.round(eH[:8] / eH[0], 3)}, top-8 G/λ1 {np.round(eG[:8] / eH[0], 3)}, "
        f"R in [{eR[-1] / eH[0]:.3f}, {eR[0] / eH[0]:.3f}]·λ1(H)"
    )


# --------------------------------------------------------------------------------------------
# 2. The top of H against G1
# --------------------------------------------------------------------------------------------


def outlier_panel(ax, ob, w, k, title):
    H = reference.hessian(ob, w)
    dec = papyan.class_mean_decomposition(ob, w)
    eH = np.sort(np.linalg.eigvalsh(H))[::-1]
    e1 = np.sort(papyan.g1_eigenvalues_from_gram(dec))[::-1]
    e012 = np.sort(papyan.g012_eigenvalues_from_gram(dec))[::-1]
    e2 = np.sort(papyan.g2_eigenvalues_from_gram(dec))[::-1]
    ko = np.sort(np.linalg.eigvalsh(papyan.knock_out(H, dec)))[::-1]
    kp = np.sort(np.linalg.eigvalsh(papyan.knock_out(H, dec, "project_class_means")))[::-1]
    m = 2 * k * k
    r = np.arange(1, m + 1)
    ax.semilogy(r, np.clip(eH[:m], 1e-12, None), "o", color="k", ms=4, label="H")
    ax.semilogy(np.arange(1, k + 1), e1, "s", mfc="none", color="C3", ms=9, label=f"G1 ({k}×{k} Gram)")
    ax.semilogy(
        r[: k * k],
        np.clip(e012, 1e-12, None),
        "x",
        color="C0",
        ms=6,
        label=f"G0+G1+G2 ({k * k}×{k * k} Gram)",
    )
    ax.semilogy(r, np.clip(ko[:m], 1e-12, None), "-", color="C2", lw=1.5, label="H − G1")
    ax.semilogy(
        r, np.clip(kp[:m], 1e-12, None), ":", color="C1", lw=1.5, label="H, class means projected out"
    )
    # the C near-zero eigenvalues of the C²×C² Gram (G0 ≈ 0 at convergence) fall below the frame
    ax.set_ylim(0.3 * min(eH[m - 1], ko[m - 1]), 2.0 * eH[0])
    ax.set_xlabel("rank (largest first)")
    ax.set_ylabel("eigenvalue (log)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="upper right")
    cmp = papyan.outliers_vs_g1(eH, e1)
    print(f"    {title.splitlines()[0]}: P={ob.n_params}, loss {ob.loss_value(w):.2e}")
    print(f"      top-{k} H      {np.round(eH[: k + 1], 5)}")
    print(f"      eig G1       {np.round(e1, 5)}   rel diff {np.round(cmp['rel_diff'], 3)}")
    print(
        f"      top G2 {e2[0]:.4g}  top G0 {np.linalg.eigvalsh(dec.G0)[-1]:.3g}  top G3 {np.linalg.eigvalsh(dec.G3)[-1]:.3g}"
        f"  |R| top {np.abs(np.linalg.eigvalsh(H - dec.total)).max():.3g}"
    )
    print(
        f"      knock-out: top(H-G1) = {ko[0]:.4g} = {ko[0] / eH[k]:.3f} λ_(k+1)(H) = {ko[0] / eH[k - 1]:.3f} λ_k(H);"
        f" projected: {kp[0]:.4g} = {kp[0] / eH[k]:.3f} λ_(k+1)(H)"
    )
    return cmp


def figure_outliers():
    k = 5
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.3), sharey=False)
    X, y = simplex_clusters(k, 20, 8, separation=3.0, spread=0.1, seed=0)
    ob, _, w = fit(X, y, (8, 32, k), "tanh", steps=100, lr=0.5, seed=1)
    print(f"[2] outliers vs G1, k = {k}")
    outlier_panel(
        axes[0], ob, w, k, "equidistant clusters (centres 3·e_j, std 0.1)\n8-32-5 tanh, 100 GD steps"
    )
    ds = blobs(n_samples=100, n_clusters=k, dim=8, spread=1.0, seed=0)
    ob, _, w = fit(ds.X, ds.y, (8, 32, k), "tanh", steps=100, lr=0.5, seed=1)
    outlier_panel(axes[1], ob, w, k, "random centres (data.blobs, d = 8)\n8-32-5 tanh, 100 GD steps")
    fig.suptitle("The top of H against Papyan's class-mean terms, and what a G1 knock-out leaves")
    fig.tight_layout()
    plots.save_figure(fig, os.path.join(HERE, "theory_outliers_g1.png"), dpi=DPI)


# --------------------------------------------------------------------------------------------
# 3. G, empirical Fisher, gradient covariance
# --------------------------------------------------------------------------------------------


def figure_fisher():
    k = 5
    X, y = simplex_clusters(k, 20, 8, separation=3.0, spread=0.1, seed=0)
    ob, w0, w1 = fit(X, y, (8, 32, k), "tanh", steps=100, lr=0.5, seed=1)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    print("[3] G vs empirical Fisher vs gradient covariance (equidistant clusters, 8-32-5)")
    for ax, (label, w) in zip(axes, (("at initialization", w0), ("after 100 GD steps", w1)), strict=True):
        mats = {
            "G (model Fisher)": D.gauss_newton(ob, w),
            "G_emp (empirical Fisher)": D.empirical_fisher(ob, w),
            "Σ (gradient covariance)": D.gradient_covariance(ob, w),
        }
        for name, M in mats.items():
            ev = np.sort(np.linalg.eigvalsh(M))[::-1][:40]
            ax.semilogy(np.arange(1, ev.size + 1), np.clip(ev, 1e-14, None), ".-", lw=0.8, label=name)
        g = ob.gradient(w)
        G, E, S = mats.values()
        print(
            f"    {label}: loss {ob.loss_value(w):.3g}; |G_emp|/|G| = {np.linalg.norm(E) / np.linalg.norm(G):.3g}, "
            f"|G_emp - Σ|/|G_emp| = {rel(S, E):.3g} (= |∇L|²/|G_emp| = {g @ g / np.linalg.norm(E):.3g}); "
            f"top eigenvalues G {np.linalg.eigvalsh(G)[-1]:.4g}, G_emp {np.linalg.eigvalsh(E)[-1]:.4g}, "
            f"Σ {np.linalg.eigvalsh(S)[-1]:.4g}"
        )
        ax.set_title(f"{label} (loss {ob.loss_value(w):.2g})", fontsize=10)
        ax.set_xlabel("rank (largest first)")
        ax.set_ylabel("eigenvalue (log)")
        ax.legend(fontsize=8)
    fig.suptitle("Three second-moment matrices of gradients: they agree nowhere but in special cases")
    fig.tight_layout()
    plots.save_figure(fig, os.path.join(HERE, "theory_fisher.png"), dpi=DPI)


# --------------------------------------------------------------------------------------------
# 4. Marchenko–Pastur and BBP
# --------------------------------------------------------------------------------------------


def figure_mp():
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    print("[4] softmax regression at w = 0 on N(0, I) data vs Marchenko-Pastur (H by autograd)")
    for ax, (dim, n) in zip(axes[:2], ((99, 400), (299, 150)), strict=True):
        X = rmt.gaussian_inputs(n, dim, seed=0)
        ob = rmt.softmax_regression(X, n_classes=2, seed=0)
        ev = np.linalg.eigvalsh(reference.hessian(ob, np.zeros(ob.n_params)))
        law = rmt.softmax_regression_mp(n, dim, 2)
        kept = ev[law["n_structural_zeros"] :]
        a, s2 = law["alpha"], law["sigma2"]
        ks = rmt.ks_distance_to_mp(kept, a, s2)
        ks_naive = rmt.ks_distance_to_mp(kept, ob.n_params / n, s2)
        lo, hi = rmt.marchenko_pastur_edges(a, s2)
        pos = kept[kept > 1e-10 * kept[-1]]
        ax.hist(pos, bins=40, density=True, alpha=0.5, color="C0", label="eigenvalues of H (> 0)")
        x = np.linspace(lo, hi, 400)
        # the histogram shows only the nonzero eigenvalues: renormalize the density to mass 1
        ax.plot(x, rmt.marchenko_pastur_density(x, a, s2) / min(1.0, 1 / a), color="C3", label="MP density")
        n_zero = int(kept.size - pos.size)
        ax.set_title(
            f"d+1 = {dim + 1}, N = {n}: α = {a:.2f}, σ² = 1/2; KS = {ks:.3f}"
            + (f"\n(+{n_zero} zeros: mass 1 − 1/α)" if n_zero else ""),
            fontsize=9,
        )
        ax.set_xlabel("eigenvalue")
        ax.legend(fontsize=8)
        print(
            f"    d+1={dim + 1}, N={n}, alpha={a:.3f}: KS to MP(alpha, 1/2) = {ks:.4f}; with the naive "
            f"alpha = P/N = {ob.n_params / n:.2f}: KS = {ks_naive:.3f}; zeros beyond the structural "
            f"{law['n_structural_zeros']}: {n_zero} (MP predicts {max(0, dim + 1 - n)})"
        )
    n = d = 1000
    spike = 4.0
    X = rmt.gaussian_inputs(n, d, spike=spike, seed=0)
    ev = np.linalg.eigvalsh(4 * rmt.logistic_regression_hessian(X, np.zeros(d)))
    loc = rmt.bbp_outlier(spike, d / n)
    ax = axes[2]
    ax.hist(ev, bins=60, density=True, alpha=0.5, color="C0", label="eigenvalues of 4H")
    x = np.linspace(1e-3, 4, 400)
    ax.plot(x, rmt.marchenko_pastur_density(x, 1.0), color="C3", label="MP, α = 1")
    ax.axvline(loc, color="C2", ls="--", label=f"BBP ℓ(1+α/(ℓ−1)) = {loc:.2f}")
    ax.axvline(spike, color="0.5", ls=":", label=f"spike ℓ = {spike:g}")
    ax.plot([ev[-1]], [0.05], "v", color="k", ms=8, label=f"top eigenvalue {ev[-1]:.2f}")
    ax.set_ylim(0, 0.7)
    ax.set_title("logistic regression, w = 0, d = N = 1000, Σ = diag(4, 1, …)", fontsize=9)
    ax.set_xlabel("eigenvalue")
    ax.legend(fontsize=7)
    print(
        f"    BBP: spike {spike}, alpha 1: predicted {loc:.4f}, observed top {ev[-1]:.4f}, second {ev[-2]:.4f} "
        f"(bulk edge {rmt.marchenko_pastur_edges(1.0)[1]:.1f})"
    )
    fig.suptitle(
        "Models linear in w (R = 0): H follows Marchenko–Pastur; a planted spike sits at the BBP location"
    )
    fig.tight_layout()
    plots.save_figure(fig, os.path.join(HERE, "theory_mp.png"), dpi=DPI)


if __name__ == "__main__":
    figure_decomposition()
    figure_decomposition_blobs()
    figure_outliers()
    figure_fisher()
    figure_mp()
    for name in ("decomposition_spectra", "theory_outliers_g1", "theory_fisher", "theory_mp"):
        path = os.path.join(HERE, f"{name}.png")
        print(f"{path}: {os.path.getsize(path) / 1024:.0f} KiB")
