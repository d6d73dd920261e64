"""Figures of spectra in the style of S18: ordered eigenvalues and log-count histograms.

All functions draw on a given matplotlib ``Axes`` (or create a figure) and never call ``show``;
:func:`save_figure` writes a PNG atomically.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .io import atomic_path  # noqa: E402


def plot_ordered_eigenvalues(ax, eigvals, label=None, top: int | None = None, **kwargs):
    """Eigenvalues sorted in decreasing order against their rank (S18 Figs 1-3).

    With ``top`` only the ``top`` largest are drawn.
    """
    w = np.sort(np.asarray(eigvals, dtype=float))[::-1]
    if top is not None:
        w = w[:top]
    ax.plot(np.arange(1, w.size + 1), w, marker=".", ms=3, lw=0.8, label=label, **kwargs)
    ax.set_xlabel("rank (largest first)")
    ax.set_ylabel("eigenvalue")
    ax.axhline(0.0, color="0.6", lw=0.5)
    return ax


def plot_histogram(ax, eigvals, bins: int = 100, label=None, **kwargs):
    """Histogram of the eigenvalues with a logarithmic count axis (bulk and outliers both visible)."""
    w = np.asarray(eigvals, dtype=float)
    ax.hist(w, bins=bins, log=True, histtype="stepfilled", alpha=0.5, label=label, **kwargs)
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("count (log scale)")
    return ax


def spectrum_figure(eigvals, title: str = "Hessian spectrum", top: int = 100, outliers: int | None = None):
    """Two panels: the ``top`` largest eigenvalues by rank, and the histogram of all of them."""
    w = np.asarray(eigvals, dtype=float)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    plot_ordered_eigenvalues(ax1, w, top=min(top, w.size))
    if outliers is not None and outliers > 0:
        ws = np.sort(w)[::-1]
        ax1.plot(
            np.arange(1, outliers + 1),
            ws[:outliers],
            "o",
            mfc="none",
            color="C3",
            label=f"{outliers} outliers (largest-ratio rule)",
        )
        ax1.legend()
    ax1.set_title(f"top {min(top, w.size)} of {w.size} eigenvalues")
    plot_histogram(ax2, w)
    ax2.set_title("all eigenvalues")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> None:
    """Save ``fig`` as a PNG atomically and close it."""
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=dpi, format="png")
    plt.close(fig)


def decomposition_figure(eigvals_by_term: dict, title: str = "H = G + R", top: int = 100):
    """Ordered eigenvalues of several matrices (e.g. H, G, R) overlaid: top ``top`` by rank (left)
    and all of them on a symmetric-log scale (right), so the bulk at zero and the negative
    eigenvalues of R stay visible next to the outliers."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for name, w in eigvals_by_term.items():
        w = np.asarray(w, dtype=float)
        plot_ordered_eigenvalues(ax1, w, label=name, top=min(top, w.size))
        ws = np.sort(w)[::-1]
        ax2.plot(np.arange(1, ws.size + 1), ws, lw=1.0, label=name)
    ax1.set_title(f"top {top} eigenvalues")
    ax1.legend()
    allw = np.concatenate([np.asarray(w, dtype=float) for w in eigvals_by_term.values()])
    linthresh = max(1e-8, 1e-6 * float(np.max(np.abs(allw))))
    ax2.set_yscale("symlog", linthresh=linthresh)
    ax2.set_xlabel("rank (largest first)")
    ax2.set_ylabel("eigenvalue (symlog)")
    ax2.set_title("all eigenvalues")
    ax2.legend()
    fig.suptitle(title)
    fig.tight_layout()
    return fig
