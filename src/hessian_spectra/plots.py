"""Figures of spectra in the style of S18: ordered eigenvalues and log-count histograms.

All functions draw on a given matplotlib ``Axes`` (or create a figure) and never call ``show``;
:func:`save_figure` writes a PNG, PDF or SVG (as the file's extension says) atomically. Importing
this module leaves matplotlib's backend as the user chose it (``%matplotlib inline`` in a
notebook; without a display, matplotlib itself falls back to Agg).

Short names used here:

- S18: Sagun, Evci, Güney, Dauphin & Bottou (2018),
  *Empirical Analysis of the Hessian of Over-Parametrized Neural Networks*.
"""

from __future__ import annotations

import os

import matplotlib.pyplot as plt
import numpy as np

from .io import atomic_path


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


#: The figure formats :func:`save_figure` writes, named by the file's extension.
FIGURE_FORMATS = ("png", "pdf", "svg")


def figure_format(path: str | os.PathLike) -> str:
    """The format that ``path``'s extension names (``"png"``, ``"pdf"`` or ``"svg"``, any case);
    any other extension, or none, raises a ``ValueError`` listing the three."""
    ext = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if ext not in FIGURE_FORMATS:
        got = f"'.{ext}'" if ext else "no extension"
        raise ValueError(
            f"a figure file must end in .{', .'.join(FIGURE_FORMATS[:-1])} or .{FIGURE_FORMATS[-1]}; "
            f"{os.fspath(path)} has {got}"
        )
    return ext


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> None:
    """Save ``fig`` atomically in the format its extension names (:func:`figure_format`) and close it."""
    fmt = figure_format(path)
    with atomic_path(path, suffix="." + fmt) as tmp:
        fig.savefig(tmp, dpi=dpi, format=fmt)
    plt.close(fig)


def _symlog_decade_ticks(ax, linthresh: float, vmax: float, max_per_side: int = 5) -> None:
    """Ticks 0 and ±10^k for decades from ``linthresh`` up to ``vmax`` (every second or third decade
    when there are many), so that no labels pile up inside the linear zone around zero."""
    lo = int(np.ceil(np.log10(linthresh)))
    hi = int(np.ceil(np.log10(max(vmax, linthresh))))
    decades = np.arange(lo, hi + 1)
    step = max(1, int(np.ceil(decades.size / max_per_side)))
    decades = decades[::-1][::step][::-1]
    ticks = np.concatenate([-(10.0 ** decades[::-1]), [0.0], 10.0**decades])
    ax.set_yticks(ticks)


def decomposition_figure(eigvals_by_term: dict, title: str = "H = G + R", top: int = 100, axes=None):
    """Ordered eigenvalues of several matrices (e.g. H, G, R) overlaid: top ``top`` by rank (left)
    and all of them on a symmetric-log scale (right), so the bulk at zero and the negative
    eigenvalues of R stay visible next to the outliers.

    With ``axes`` (a pair of matplotlib Axes, e.g. one row of a larger grid) the two panels are drawn
    there, ``title`` prefixes their titles, and the figure holding them is returned.
    """
    if axes is None:
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    else:
        ax1, ax2 = axes
        fig = ax1.figure
    for name, w in eigvals_by_term.items():
        w = np.asarray(w, dtype=float)
        plot_ordered_eigenvalues(ax1, w, label=name, top=min(top, w.size))
        ws = np.sort(w)[::-1]
        ax2.plot(np.arange(1, ws.size + 1), ws, lw=1.0, label=name)
    allw = np.concatenate([np.asarray(w, dtype=float) for w in eigvals_by_term.values()])
    prefix = "" if axes is None else f"{title}: "
    ax1.set_title(f"{prefix}top {min(top, max(np.size(w) for w in eigvals_by_term.values()))} eigenvalues")
    ax1.legend()
    linthresh = max(1e-8, 1e-6 * float(np.max(np.abs(allw))))
    ax2.set_yscale("symlog", linthresh=linthresh)
    _symlog_decade_ticks(ax2, linthresh, float(np.max(np.abs(allw))))
    ax2.set_xlabel("rank (largest first)")
    ax2.set_ylabel("eigenvalue (symlog)")
    ax2.set_title(f"{prefix}all eigenvalues")
    ax2.legend()
    if axes is None:
        fig.suptitle(title)
        fig.tight_layout()
    return fig


def density_figure(grid, density, title: str = "spectral density", exact_grid=None, exact_density=None):
    """Smoothed spectral density on a logarithmic axis (Ghorbani et al., 2019, Fig. 1 style).

    ``density`` is drawn against ``grid``; an exact (e.g. dense, Gaussian-smoothed) density given as
    ``exact_density`` (on ``exact_grid``, default ``grid``) is overlaid dashed. The vertical axis
    spans ten decades below the highest value, so both the bulk at zero and the outliers show.
    """
    grid = np.asarray(grid, dtype=float)
    density = np.asarray(density, dtype=float)
    if grid.shape != density.shape or grid.ndim != 1:
        raise ValueError(
            f"grid and density must be 1-d of the same length; got {grid.shape}, {density.shape}"
        )
    fig, ax = plt.subplots(figsize=(7, 4))
    top = float(np.max(density))
    curves = [density]
    ax.semilogy(grid, density, lw=1.2, color="C0", label="SLQ estimate")
    if exact_density is not None:
        exact_density = np.asarray(exact_density, dtype=float)
        exact_grid = grid if exact_grid is None else np.asarray(exact_grid, dtype=float)
        if exact_grid.shape != exact_density.shape:
            raise ValueError(
                f"exact_grid and exact_density must have the same shape; got {exact_grid.shape}, "
                f"{exact_density.shape}"
            )
        ax.semilogy(exact_grid, exact_density, "--", lw=1.0, color="C3", label="exact (smoothed)")
        curves.append(exact_density)
        top = max(top, float(np.max(exact_density)))
    floor = top * 1e-10 if top > 0 else 1e-300
    ax.set_ylim(floor, top * 3 if top > 0 else 1.0)
    ax.set_xlabel("eigenvalue")
    ax.set_ylabel("density (log scale)")
    ax.set_title(title)
    if len(curves) > 1:
        ax.legend()
    fig.tight_layout()
    return fig
