r"""E12 — the edge of stability in exact spectra (Cohen, Kaur, Li, Kolter & Talwalkar, 2021).

(The setup and the computation are added with the configuration; this first part fixes the rule.)
"""

from __future__ import annotations

import numpy as np

from .. import stability

# --------------------------------------------------------------------------------------------
# The rule (fixed before any run of this experiment)
# --------------------------------------------------------------------------------------------

#: "Reaching 2/η": the first measurement with λ_max ≥ (1 − REACH)·2/η. The sharpness hovers around
#: 2/η, above and below it, once it gets there; a measurement taken every few steps can fall on a
#: moment just below, so 5 % below the threshold counts as reached (Lanczos errors are ~1e-4 of it).
REACH = 0.05

#: Progressive sharpening: the sharpness at the crossing is at least this factor times its value at
#: step 0. A factor of 2 asks for a rise that is not an artefact of starting near 2/η, and it is
#: far above the run-to-run spread of the initial sharpness; Cohen et al. show rises by several times.
SHARPENING_FACTOR = 2.0

#: The edge: after the crossing, λ_max stays within ±EDGE_BAND of 2/η ...
EDGE_BAND = 0.2
#: ... for at least this fraction of the remaining measurements ("hovers at 2/η" for most of the
#: time; a fifth of the measurements may fall in the short excursions that accompany loss spikes).
EDGE_FRACTION = 0.8
#: ... and there must be at least this many measurements after the crossing for the edge to be
#: judged at all (a run that crosses at its end shows no edge phase).
MIN_EDGE_POINTS = 10

#: The data sets of the experiment and how the summary names them.
DATASETS = {"mnist": "MNIST", "blobs": "blobs"}


def run_summary(run: dict) -> dict:
    """:func:`hessian_spectra.stability.edge_of_stability` of one run's sharpness trace with the rule's
    constants, plus the split H = G + R at the crossing and after it.

    ``share_of_sharpening_in_G`` is :math:`(\\lambda_G(t_*) - \\lambda_G(t_0)) / (\\lambda_H(t_*) -
    \\lambda_H(t_0))`, the part of the rise of λ_max(H) that λ_max(G) accounts for;
    ``gap_over_sharpness_after`` and ``r_norm_over_sharpness_after`` are the medians, over the
    measurements after the crossing, of :math:`(\\lambda_{\\max}(H) - \\lambda_{\\max}(G))/\\lambda_{\\max}(H)`
    and :math:`\\lVert R\\rVert_2/\\lambda_{\\max}(H)`.
    """
    s = stability.edge_of_stability(run["steps"], run["sharpness"], run["lr"], EDGE_BAND, REACH)
    lam_h = np.asarray(run["sharpness"], dtype=float)
    lam_g = np.asarray(run["g_top"], dtype=float)
    r_norm = np.maximum(np.abs(run["r_top"]), np.abs(run["r_bottom"]))
    i = s["crossing_index"]
    if i is None:
        i_rise, after = len(lam_h) - 1, slice(len(lam_h), None)
    else:
        i_rise, after = i, slice(i + 1, None)
    rise = lam_h[i_rise] - lam_h[0]
    s["share_of_sharpening_in_G"] = float((lam_g[i_rise] - lam_g[0]) / rise) if rise > 0 else float("nan")
    s["gap_over_sharpness_after"] = (
        float(np.median((lam_h[after] - lam_g[after]) / lam_h[after])) if lam_h[after].size else float("nan")
    )
    s["r_norm_over_sharpness_after"] = (
        float(np.median(r_norm[after] / lam_h[after])) if lam_h[after].size else float("nan")
    )
    return s


def sharpened(s: dict) -> bool:
    """The sharpening check of one run: it reaches 2/η, after rising by ``SHARPENING_FACTOR``."""
    return bool(s["crossed"] and s["sharpening"] >= SHARPENING_FACTOR)


def at_the_edge(s: dict) -> bool:
    """The edge check of one run: after the crossing, at least ``MIN_EDGE_POINTS`` measurements, of
    which at least ``EDGE_FRACTION`` lie within ``EDGE_BAND`` of 2/η."""
    return bool(s["crossed"] and s["n_after"] >= MIN_EDGE_POINTS and s["fraction_in_band"] >= EDGE_FRACTION)


def _runs(numbers, dataset: str, loss: str) -> list[dict]:
    return sorted(
        (r for r in numbers["runs"] if r["dataset"] == dataset and r["loss"] == loss), key=lambda r: r["lr"]
    )


def _median(xs) -> float:
    xs = np.asarray([x for x in xs if np.isfinite(x)], dtype=float)
    return float(np.median(xs)) if xs.size else float("nan")


def judge(numbers) -> tuple[str, dict, dict]:
    checks, values, ours = {}, {}, []
    for key, label in DATASETS.items():
        mse = [(r, run_summary(r)) for r in _runs(numbers, key, "mse")]
        if not mse:
            continue
        sums = [s for _, s in mse]
        checks[f"{label}: sharpening ×{SHARPENING_FACTOR:g} up to 2/η at every η (MSE)"] = all(
            sharpened(s) for s in sums
        )
        checks[f"{label}: at the edge (±{EDGE_BAND:.0%} of 2/η) at every η (MSE)"] = all(
            at_the_edge(s) for s in sums
        )
        fractions = [s["fraction_in_band"] if s["crossed"] else 0.0 for s in sums]
        values[f"{label} MSE: least fraction at the edge over η"] = float(min(fractions))
        values[f"{label} MSE: least sharpening over η"] = float(
            min(s["sharpening"] if s["crossed"] else 0.0 for s in sums)
        )
        values[f"{label} MSE: share of the sharpening in λ_max(G)"] = _median(
            s["share_of_sharpening_in_G"] for s in sums
        )
        values[f"{label} MSE: (λ_max(H) − λ_max(G))/λ_max(H) at the edge"] = _median(
            s["gap_over_sharpness_after"] for s in sums
        )
        values[f"{label} MSE: ‖R‖/λ_max(H) at the edge"] = _median(
            s["r_norm_over_sharpness_after"] for s in sums
        )
        values[f"{label} MSE: median λ_max·η/2 at the edge"] = _median(s["median_ratio_after"] for s in sums)
        ours.append(
            f"{label} MSE: "
            + ", ".join(
                f"η={r['lr']:g}: ×{s['sharpening']:.2g} to 2/η, {s['fraction_in_band']:.0%} at the edge"
                if s["crossed"]
                else f"η={r['lr']:g}: peak {s['peak_ratio']:.2f}·2/η"
                for r, s in mse
            )
        )
        ce = [(r, run_summary(r)) for r in _runs(numbers, key, "cross_entropy")]
        if ce:
            values[f"{label} CE: final / peak sharpness"] = _median(
                s["final_ratio"] / s["peak_ratio"] for _, s in ce
            )
            values[f"{label} CE: peak λ_max·η/2"] = _median(s["peak_ratio"] for _, s in ce)
            ours.append(
                f"{label} CE: "
                + ", ".join(
                    f"η={r['lr']:g}: peak {s['peak_ratio']:.2f}·2/η, end {s['final_ratio']:.2f}·2/η"
                    for r, s in ce
                )
            )
    return "; ".join(ours), checks, values
