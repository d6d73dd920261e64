r"""Side experiment of E2 (not part of its verdict): can one threshold per row count k in every cell?

A threshold t shared by a row of Table 1 counts k in every cell of the row exactly when
:math:`\max_k \lambda_{k+1}(k) < t \le \min_k \lambda_k(k)`, where :math:`\lambda_j(k)` is the j-th
largest Hessian eigenvalue of the row's point with k clusters. This reads the top eigenvalues of a
finished E2 run and reports, per seed and row, the lowest k-th outlier over the row
(:math:`\min_k \lambda_k`), the highest first bulk eigenvalue (:math:`\max_k \lambda_{k+1}`), the
cells they come from, and the same with k − 1 in place of k. A window exists when the first is
above the second.

Usage::

    python tools/e02_row_overlap.py results/E2

Prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os


def row_windows(points: list[dict], shift: int = 0) -> list[dict]:
    r"""For every row (optimizer, activation, std) of ``points`` (each with ``k`` and the descending
    ``top``): the lowest :math:`\lambda_{k-s}` and the highest :math:`\lambda_{k-s+1}` over the row's
    cells (``s`` = ``shift``), the k where each is reached, and whether a shared threshold between
    them exists (``lowest_outlier > highest_bulk``)."""
    rows: dict[tuple, list[dict]] = {}
    for p in points:
        rows.setdefault((p["optimizer"], p["activation"], float(p["spread"])), []).append(p)
    out = []
    for key, members in rows.items():
        use = [p for p in members if int(p["k"]) - shift >= 1]
        if not use:
            continue
        lows = [(float(p["top"][int(p["k"]) - shift - 1]), int(p["k"])) for p in use]
        highs = [(float(p["top"][int(p["k"]) - shift]), int(p["k"])) for p in use]
        low, high = min(lows), max(highs)
        out.append(
            {
                "row": key,
                "lowest_outlier": low[0],
                "lowest_at_k": low[1],
                "highest_bulk": high[0],
                "highest_at_k": high[1],
                "window": low[0] > high[0],
            }
        )
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", help="an E2 results folder (<out>/E2) with seed-<s>/numbers.json")
    args = ap.parse_args(argv)
    seeds = sorted(d for d in os.listdir(args.folder) if d.startswith("seed-"))
    if not seeds:
        raise SystemExit(f"folder: no seed-<s> folders in {args.folder!r}")
    print(
        "| seed | row | count | min_k λ_(count) (at k) | max_k λ_(count+1) (at k) | one threshold possible |"
    )
    print("|---|---|---|---|---|---|")
    for s in seeds:
        with open(os.path.join(args.folder, s, "numbers.json")) as f:
            points = json.load(f)["points"]
        for shift, name in ((0, "k"), (1, "k − 1")):
            for r in row_windows(points, shift):
                o, a, sp = r["row"]
                print(
                    f"| {s[5:]} | {o.upper()} {a} ×{sp:g} | {name} | {r['lowest_outlier']:.3g} "
                    f"({r['lowest_at_k']}) | {r['highest_bulk']:.3g} ({r['highest_at_k']}) | "
                    f"{'yes' if r['window'] else 'no'} |"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
