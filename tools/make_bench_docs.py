"""Regenerate the benchmark tables of docs/matrix-free.md from the benchmarks' JSON, so they never drift.

docs/matrix-free.md is prose written by hand with generated blocks in it (the same markers as
docs/reproduce.md, see tools/make_reproduce_docs.py)::

    <!-- begin generated: routes -->
    ...
    <!-- end generated: routes -->

- ``routes``: the dense and the matrix-free route's times per P and the crossovers, from
  ``docs/results/bench_routes.json`` (``python benchmarks/bench_routes.py --json ...``);
- ``matrix-free``: every method and quantity per width (time, products, error against the dense
  spectrum, peak memory) and ``targets``: the ratios of the targets, from
  ``docs/results/bench_matrix_free.json`` (``python benchmarks/bench_matrix_free.py --json ...``).

Each block starts with the machine, its load and the versions the run recorded.

Usage::

    python tools/make_bench_docs.py            # rewrite docs/matrix-free.md in place
    python tools/make_bench_docs.py --check    # exit 1 if it is not up to date

tests/test_docs.py checks it, and that ``hessian_spectra.cli.DENSE_ROUTE_MAX_P`` holds the measured
crossovers.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from make_reproduce_docs import BLOCK, RESULTS, ROOT

DOC = os.path.join(ROOT, "docs", "matrix-free.md")
SOURCES = {
    "routes": "bench_routes.json",
    "matrix-free": "bench_matrix_free.json",
    "targets": "bench_matrix_free.json",
}
COMMANDS = {
    "bench_routes.json": "python benchmarks/bench_routes.py --json docs/results/bench_routes.json",
    "bench_matrix_free.json": (
        "python benchmarks/bench_matrix_free.py --peers-python PEERS/bin/python "
        "--json docs/results/bench_matrix_free.json"
    ),
}


def load(results_dir: str = RESULTS) -> dict:
    """``{file name: benchmark JSON}`` for the benchmark files that exist."""
    out = {}
    for name in set(SOURCES.values()):
        path = os.path.join(results_dir, name)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                out[name] = json.load(fh)
    return out


def machine_line(result: dict) -> str:
    """One sentence: when, on what, under what load and with which versions the run was measured."""
    b, a = result["machine_before"], result["machine_after"]
    s = result["settings"]
    return (
        f"Measured {b['date'][:10]} on {b['cpus']} CPUs, {s['threads']} BLAS thread(s) per subprocess, "
        f"load average {b['load_average_1min']:g} before and {a['load_average_1min']:g} after the run; "
        f"Python {b['python']}, NumPy {b['numpy']}, SciPy {b['scipy']}, hessian-spectra "
        f"{b['hessian_spectra']}; data {s['data']}, N = {s['samples']:,}, {s['steps']} GD steps at lr {s['lr']:g}."
    )


def routes_block(result: dict) -> str:
    k = result["settings"]["k"]
    lines = [
        machine_line(result),
        "",
        f"| P | dense: H + `eigh` (s) | top-{k} (s, products, error/‖H‖) | bottom-{k} (s, products, "
        f"error/‖H‖) | SLQ density (s) |",
        "|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        partial = "" if r["bottom_converged"] == k else f", {r['bottom_converged']}/{k} converged"
        lines.append(
            f"| {r['P']:,} | {r['dense_s']:.1f} ({r['dense_assemble_s']:.1f} + {r['dense_eigh_s']:.1f}) "
            f"| {r['top_s']:.1f} ({r['top_products']}, {r['top_max_err_over_norm']:.0e}) "
            f"| {r['bottom_s']:.1f} ({r['bottom_products']}, {r['bottom_max_err_over_norm']:.0e}{partial}) "
            f"| {r['density_s']:.1f} |"
        )
    lines.append("")
    for key, c in result["crossovers"].items():
        where = ", ".join(f"{p:,}" for p in c["dense_preferred"]) or "none"
        bad = ", ".join(f"{p:,}" for p in c["inaccurate"]) or "none"
        lines.append(
            f"- {key}: dense route preferred at P = {where} (matrix-free off by more than "
            f"{result['settings']['tol']:g}·‖H‖ at {bad}); crossover **{c['crossover']:,}**"
        )
    return "\n".join(lines)


def _cell(res: dict) -> str:
    if "error" in res or "skipped" in res:
        return str(res.get("error") or res.get("skipped")).split(":")[0]
    parts = [f"{res['seconds']:.1f} s", f"{res['products']:,} products"]
    if "converged" in res and res["converged"] != res["k"]:
        parts.append(f"{res['converged']}/{res['k']} converged")
    if "max_err_over_norm" in res:
        parts.append(f"error {res['max_err_over_norm']:.0e}·‖H‖")
    if "l1_to_exact" in res:
        parts.append(f"L1 {res['l1_to_exact']:.3f}")
    parts.append(f"{res['peak_rss_mib']:.0f} MiB")
    return ", ".join(parts)


def matrix_free_block(result: dict) -> str:
    lines = [
        machine_line(result),
        "",
        "| h | P | method | quantity | time, products, error against the dense spectrum, peak RSS |",
        "|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        dense = f" (dense route {row['dense_seconds']:.1f} s)" if "dense_seconds" in row else ""
        for res in row["results"]:
            q = res["quantity"] if res["quantity"] == "density" else f"{res['quantity']}-{res['k']}"
            lines.append(f"| {row['width']} | {row['P']:,}{dense} | {res['method']} | {q} | {_cell(res)} |")
            dense = ""
    return "\n".join(lines)


def targets_block(result: dict) -> str:
    t = result["targets"]
    lines = []
    if "top_vs_curvlinops" in t:
        x = t["top_vs_curvlinops"]
        lines.append(
            f"- top-{x['k']} at P = {x['P']:,}: curvlinops + `eigsh` took **{x['time_ratio']:.1f}×** our "
            f"time ({x['curvlinops_seconds']:.1f} s against {x['ours_seconds']:.1f} s; target ≥ 2×) and "
            f"{x['products_ratio']:.2f}× our products."
        )
    if "widest_top_and_density" in t:
        x = t["widest_top_and_density"]
        lines.append(
            f"- 784-70-10 (P = 55,660), top-{x['k']} and density: **{x['seconds']:.0f} s** "
            f"({x['top_seconds']:.0f} + {x['density_seconds']:.0f}; target ≤ 120 s), peak RSS "
            f"**{x['peak_rss_mib']:.0f} MiB** (target ≤ 1,024 MiB)."
        )
    if "small_top" in t:
        x = t["small_top"]
        lines.append(
            f"- P = 7,960, top-{x['k']}: largest error **{x['max_err_over_norm']:.0e}·‖H‖** (target ≤ 1e-8), "
            f"{x['seconds']:.1f} s against {x['dense_seconds']:.1f} s for the dense route."
        )
    return "\n".join(lines) if lines else "(this run measured none of the targets)"


RENDER = {"routes": routes_block, "matrix-free": matrix_free_block, "targets": targets_block}


def render(text: str, results: dict) -> str:
    """``text`` with every generated block rebuilt from ``results`` (:func:`load`)."""

    def repl(m):
        name = m.group("name").strip()
        source = SOURCES[name]
        body = (
            RENDER[name](results[source])
            if source in results
            else f"(not measured yet: `{COMMANDS[source]}` on an idle machine)"
        )
        return m.group(1) + body + "\n" + m.group(4)

    return BLOCK.sub(repl, text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if docs/matrix-free.md is not up to date"
    )
    args = parser.parse_args(argv)
    with open(DOC, encoding="utf-8") as fh:
        text = fh.read()
    new = render(text, load())
    if args.check:
        if new != text:
            print("docs/matrix-free.md is out of date: run python tools/make_bench_docs.py", file=sys.stderr)
            return 1
        return 0
    with open(DOC, "w", encoding="utf-8") as fh:
        fh.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
