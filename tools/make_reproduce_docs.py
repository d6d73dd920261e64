"""Regenerate the numbers of docs/reproduce.md from the runs' summaries, so that they never drift.

docs/reproduce.md is prose written by hand with generated blocks in it::

    <!-- begin generated: verdicts quick -->
    ...
    <!-- end generated: verdicts quick -->

Each block is rebuilt from ``docs/results/<mode>.json`` (a copy of the ``summary.json`` that
``hessian-spectra reproduce all [--quick]`` writes):

- ``verdicts <mode>``: one row per experiment (paper figure, data, claim, paper's number, ours,
  verdict);
- ``time``: the wall time of every experiment in both modes and of the whole run, and the CPU
  time of its points;
- ``numbers <ID>``: one experiment's checks (on how many seeds each holds) and values (median and
  range over the seeds), both modes side by side;
- ``section <ID>``: the experiment's section, ``docs/reproduce/<ID>.md`` (written by hand), with its
  line ``<!-- numbers -->`` replaced by its ``numbers <ID>`` table.

Usage::

    python tools/make_reproduce_docs.py            # rewrite docs/reproduce.md in place
    python tools/make_reproduce_docs.py --check    # exit 1 if it is not up to date
    python tools/make_reproduce_docs.py --copy-from results_quick results_full
        # first copy the two runs' summary.json into docs/results/ and their figures into
        # docs/figures/reproduce/ (the figures of the full run; the quick run's where the full one
        # has none)

tests/test_docs.py runs ``--check``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOC = os.path.join(ROOT, "docs", "reproduce.md")
RESULTS = os.path.join(ROOT, "docs", "results")
FIGURES = os.path.join(ROOT, "docs", "figures", "reproduce")
SECTIONS = os.path.join(ROOT, "docs", "reproduce")
MODES = ("quick", "full")

BLOCK = re.compile(
    r"(<!-- begin generated: (?P<name>[^>]+?) -->\n)(?P<body>.*?)(<!-- end generated: (?P=name) -->)", re.S
)


def _runner():
    sys.path.insert(0, os.path.join(ROOT, "src"))
    from hessian_spectra.experiments import runner

    return runner


def load_summaries(results_dir: str = RESULTS) -> dict:
    """``{mode: summary}`` for the modes whose ``<mode>.json`` exists."""
    out = {}
    for mode in MODES:
        path = os.path.join(results_dir, f"{mode}.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as fh:
                out[mode] = json.load(fh)
    return out


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def run_time(summary: dict) -> str:
    """The run's wall time, and, when it read points computed by earlier runs (a resumed or split
    run), the CPU time those points took, which is what the experiments cost."""
    records = summary["records"]
    cpu = sum(r.get("point_cpu_seconds", 0.0) for r in records) / 60
    loaded = sum(r.get("points_loaded", 0) for r in records)
    computed = sum(r.get("points_computed", 0) for r in records)
    text = f"{summary['seconds'] / 60:.1f} min wall in this run, {cpu:.1f} min of CPU in its points"
    if loaded:
        text += (
            f" ({loaded} of {loaded + computed} point reads came from the folder's cache: points of earlier "
            "runs, or of another experiment of this run; the CPU time counts each point once, as it was "
            "computed)"
        )
    return text


def verdicts_table(summary: dict) -> str:
    runner = _runner()
    seeds = summary["seeds"]
    lines = [f"Seeds {', '.join(map(str, seeds))}; {run_time(summary)}.", ""]
    lines += [
        "| id | paper figure | data | claim | paper's number | ours (median [range] over seeds) | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in summary["records"]:
        ours = runner.format_values(r.get("values", {}), runner.HEADLINE_VALUES) or r.get("ours", "")
        cells = (
            r["id"],
            r["source"],
            r.get("data", ""),
            r["claim"],
            r["paper_number"],
            ours,
            f"**{r['verdict']}**",
        )
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    counts = {}
    for r in summary["records"]:
        counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
    lines += ["", "Verdicts: " + ", ".join(f"{n} {v}" for v, n in counts.items()) + "."]
    return "\n".join(lines)


def time_table(summaries: dict) -> str:
    """Per experiment and mode: the wall time of the run that wrote the summary, and the CPU time
    its points took when they were computed (the same in a resumed run, or one split across
    processes, where the summary's wall time only covers reading the cached points back)."""
    ids = []
    for s in summaries.values():
        for r in s["records"]:
            if r["id"] not in ids:
                ids.append(r["id"])
    modes = [m for m in MODES if m in summaries]
    head = " | ".join(f"{m}: wall (s) | {m}: points' CPU (s)" for m in modes)
    lines = [f"| id | {head} |", "|---|" + "---|---|" * len(modes)]
    for i in ids:
        row = []
        for m in modes:
            rec = next((r for r in summaries[m]["records"] if r["id"] == i), None)
            if rec is None:
                row += ["–", "–"]
            else:
                cpu = rec.get("point_cpu_seconds")
                row += [f"{rec['seconds']:,.0f}", "–" if cpu is None else f"{cpu:,.0f}"]
        lines.append(f"| {i} | " + " | ".join(row) + " |")
    total = []
    for m in modes:
        recs = summaries[m]["records"]
        cpu = sum(r.get("point_cpu_seconds", 0.0) for r in recs)
        total += [
            f"**{summaries[m]['seconds'] / 60:.1f} min** ({len(summaries[m]['seeds'])} seeds)",
            f"{cpu / 60:.1f} min",
        ]
    lines.append("| all | " + " | ".join(total) + " |")
    return "\n".join(lines)


def numbers_table(summaries: dict, exp_id: str) -> str:
    runner = _runner()
    modes = [m for m in MODES if m in summaries]
    recs = {m: next((r for r in summaries[m]["records"] if r["id"] == exp_id), None) for m in modes}
    modes = [m for m in modes if recs[m] is not None]
    if not modes:
        return f"(no run of {exp_id} in docs/results/)"
    lines = ["| | " + " | ".join(modes) + " |", "|---|" + "---|" * len(modes)]
    lines.append("| verdict | " + " | ".join(f"**{recs[m]['verdict']}**" for m in modes) + " |")
    checks = []
    for m in modes:
        for name in recs[m].get("checks", {}):
            if name not in checks:
                checks.append(name)
    for name in checks:
        row = []
        for m in modes:
            c = recs[m]["checks"].get(name)
            if c is None:
                row.append("–")
            elif c.get("across_seeds"):
                row.append(("✓" if c["holds"] else "✗") + " (over the seeds)")
            else:
                row.append(f"{'✓' if c['holds'] else '✗'} {c['seeds_holding']}/{c['n_seeds']} seeds")
        lines.append(f"| check: {_cell(name)} | " + " | ".join(row) + " |")
    values = []
    for m in modes:
        for name in recs[m].get("values", {}):
            if name not in values:
                values.append(name)
    for name in values:
        row = []
        for m in modes:
            v = recs[m]["values"].get(name)
            row.append("–" if v is None else _cell(runner.format_values({"": v}).strip()))
        lines.append(f"| {_cell(name)} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def render_block(name: str, summaries: dict) -> str:
    name = name.strip()
    if name.startswith("verdicts "):
        mode = name.split()[1]
        return verdicts_table(summaries[mode]) if mode in summaries else f"(no {mode} run in docs/results/)"
    if name == "time":
        return time_table(summaries)
    if name.startswith("numbers "):
        return numbers_table(summaries, name.split()[1])
    if name.startswith("section "):
        exp_id = name.split()[1]
        path = os.path.join(SECTIONS, f"{exp_id}.md")
        with open(path, encoding="utf-8") as fh:
            text = fh.read().rstrip("\n")
        # links are relative to docs/reproduce/ in the section file, to docs/ in reproduce.md
        text = text.replace("](../", "](")
        return text.replace("<!-- numbers -->", numbers_table(summaries, exp_id))
    raise ValueError(f"unknown generated block {name!r}")


def render(text: str, summaries: dict) -> str:
    """``text`` with every generated block rebuilt from ``summaries``."""

    def repl(m):
        return m.group(1) + render_block(m.group("name"), summaries) + "\n" + m.group(4)

    return BLOCK.sub(repl, text)


def copy_runs(quick_dir: str, full_dir: str) -> None:
    os.makedirs(RESULTS, exist_ok=True)
    os.makedirs(FIGURES, exist_ok=True)
    for mode, folder in (("quick", quick_dir), ("full", full_dir)):
        if folder:
            shutil.copyfile(os.path.join(folder, "summary.json"), os.path.join(RESULTS, f"{mode}.json"))
    for folder in (quick_dir, full_dir):  # the full run's figures win
        if not folder:
            continue
        for exp in sorted(os.listdir(folder)):
            sub = os.path.join(folder, exp)
            if not os.path.isdir(sub):
                continue
            for name in sorted(os.listdir(sub)):
                if name.endswith(".png"):
                    shutil.copyfile(
                        os.path.join(sub, name), os.path.join(FIGURES, f"e{int(exp[1:]):02d}_{name}")
                    )


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/reproduce.md is not up to date")
    parser.add_argument("--copy-from", nargs=2, metavar=("QUICK_DIR", "FULL_DIR"), default=None)
    args = parser.parse_args(argv)
    if args.copy_from:
        copy_runs(*args.copy_from)
    with open(DOC, encoding="utf-8") as fh:
        text = fh.read()
    new = render(text, load_summaries())
    if args.check:
        if new != text:
            print(
                "docs/reproduce.md is out of date: run python tools/make_reproduce_docs.py", file=sys.stderr
            )
            return 1
        return 0
    with open(DOC, "w", encoding="utf-8") as fh:
        fh.write(new)
    return 0


if __name__ == "__main__":
    sys.exit(main())
