"""The papers' experiments, one module each, run by ``hessian-spectra reproduce NAME|all``.

====  ==============================  ==================================================================
id    module                          reproduces
====  ==============================  ==================================================================
E1    ``e01_init_vs_trained``         Sagun et al. 2018, Fig. 1: spectrum at init vs after GD
E2    ``e02_cluster_sweep``           Sagun et al. 2018, Fig. 2 / Table 1: outlier count = k clusters
E3    ``e03_width_sweep``             Sagun et al. 2018, Fig. 3: width grows the bulk, not the edge
E4    ``e04_real_vs_random``          Sagun et al. 2016, Fig. 2: real vs random inputs
E5    ``e05_separability``            Sagun et al. 2016: two blobs, outliers grow with the overlap
E6    ``e06_random_inits``            Sagun et al. 2016: top eigenvalue over many initial points
E7    ``e07_small_vs_large_batch``    Sagun et al. 2018, Sec. 3.3, Figs. 4, 6: SB vs LB and the line
E8    ``e08_two_phase``               Sagun et al. 2018, Sec. 4, Figs. 7, 8: LB then SB, one basin
E9    ``e09_negative_eigenvalues``    Sagun et al. 2018, Figs. 5, 6: negative eigenvalues are tiny
E10   ``e10_random_matrix``           Sagun et al. 2018, App. B, Fig. 9: Marchenko-Pastur, BBP outlier
E11   ``e11_class_structure``         Papyan 2019/2020: H, G, R and the class-mean outliers G1
====  ==============================  ==================================================================

Each run writes ``<out>/<id>/`` (figures, ``numbers.json``, ``config.json``, cached points); ``all``
also writes ``<out>/summary.md`` and ``summary.json`` (see :mod:`.runner`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback

from .. import io as _io
from .runner import Context, Experiment, check_verdict, versions, write_summary

#: The experiment modules, in the order ``reproduce all`` runs them.
_MODULES = (
    "e01_init_vs_trained",
    "e02_cluster_sweep",
    "e03_width_sweep",
    "e04_real_vs_random",
    "e05_separability",
    "e06_random_inits",
    "e07_small_vs_large_batch",
    "e08_two_phase",
    "e09_negative_eigenvalues",
    "e10_random_matrix",
    "e11_class_structure",
)

#: The registry: id -> :class:`Experiment`, in the order ``reproduce all`` runs them.
EXPERIMENTS: dict[str, Experiment] = {
    m.EXPERIMENT.id: m.EXPERIMENT
    for m in (importlib.import_module(f".{name}", __name__) for name in _MODULES)
}


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name`` (``"E1"`` … ``"E11"``, case-insensitive, or its module slug)."""
    key = str(name).strip()
    for exp in EXPERIMENTS.values():
        if key.upper() == exp.id or key.lower() == exp.slug:
            return exp
    raise ValueError(f"unknown experiment {name!r}; expected one of {', '.join(EXPERIMENTS)} or 'all'")


def run(
    experiment: str | Experiment,
    out_dir: str = "results",
    quick: bool = True,
    seed: int = 0,
    progress: bool = True,
    overrides: dict | None = None,
    mnist: str | None = None,
) -> dict:
    """Run ``experiment`` (an id such as ``"E3"``, a module slug, or an :class:`Experiment`) into
    ``<out_dir>/<id>/`` and return its summary record.

    The record holds ``id``, ``source``, ``claim``, ``paper_number``, ``ours``, ``verdict``,
    ``checks``, ``rule``, ``seconds`` and how many points were computed or read back from disk.
    """
    if not isinstance(experiment, Experiment):
        experiment = get_experiment(experiment)
    t0 = time.perf_counter()
    ctx = Context(
        experiment,
        os.fspath(out_dir),
        bool(quick),
        int(seed),
        bool(progress),
        experiment.config(quick, overrides),
        mnist=None if mnist is None else os.fspath(mnist),
    )
    os.makedirs(ctx.dir, exist_ok=True)
    _io.save_json(
        os.path.join(ctx.dir, "config.json"),
        {
            "id": experiment.id,
            "source": experiment.source,
            "mode": ctx.mode,
            "seed": ctx.seed,
            "engine": ctx.engine,
            "mnist": ctx.mnist,
            "config": ctx.config,
            "overrides": overrides or {},
            "versions": versions(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )
    numbers = experiment.compute(ctx)
    experiment.plot(ctx, numbers)
    verdict, ours, checks = experiment.judge(numbers)
    check_verdict(verdict)
    _io.save_json(os.path.join(ctx.dir, "numbers.json"), numbers)
    record = {
        "id": experiment.id,
        "source": experiment.source,
        "claim": experiment.claim,
        "paper_number": experiment.paper_number,
        "ours": ours,
        "verdict": verdict,
        "checks": {k: bool(v) for k, v in checks.items()},
        "rule": experiment.rule,
        "mode": ctx.mode,
        "seed": ctx.seed,
        "engine": ctx.engine,
        "points_computed": len(ctx.computed),
        "points_loaded": len(ctx.loaded),
        "seconds": round(time.perf_counter() - t0, 1),
    }
    _io.save_json(os.path.join(ctx.dir, "record.json"), record)
    return record


def run_all(
    out_dir: str = "results",
    quick: bool = True,
    seed: int = 0,
    progress: bool = True,
    mnist: str | None = None,
    names=None,
    overrides: dict | None = None,
) -> list[dict]:
    """Run every experiment (or those in ``names``) and write ``summary.md`` / ``summary.json``.

    An experiment that raises is recorded with the verdict ``error`` (and its message) and the
    others still run. ``overrides`` maps an experiment id to its overrides (tests use tiny sizes).
    """
    exps = list(EXPERIMENTS.values()) if names is None else [get_experiment(n) for n in names]
    overrides = overrides or {}
    t0 = time.perf_counter()
    records = []
    for exp in exps:
        t1 = time.perf_counter()
        try:
            rec = run(exp, out_dir, quick, seed, progress, overrides.get(exp.id), mnist)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - one failing experiment must not stop the others
            traceback.print_exc(file=sys.stderr)
            rec = {
                "id": exp.id,
                "source": exp.source,
                "claim": exp.claim,
                "paper_number": exp.paper_number,
                "ours": f"failed: {type(exc).__name__}: {exc}",
                "verdict": "error",
                "checks": {},
                "rule": exp.rule,
                "seconds": round(time.perf_counter() - t1, 1),
            }
        records.append(rec)
        if progress:
            print(f"{rec['id']}: {rec['verdict']} — {rec['ours']} ({rec['seconds']} s)", file=sys.stderr)
    write_summary(out_dir, records, "quick" if quick else "full", seed, time.perf_counter() - t0)
    return records


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def add_reproduce_parser(subparsers) -> argparse.ArgumentParser:
    """Attach ``reproduce NAME|all [--quick] [--out DIR] [--seed S] [--no-progress] [--mnist DIR]``."""
    p = subparsers.add_parser(
        "reproduce",
        help="reproduce the papers' experiments (E1-E11, or all)",
        description="Run one experiment of the papers (E1 ... E11, see docs/reproduce.md) or all of them. "
        "Each writes <out>/<id>/ with its figures, numbers.json and config.json; 'all' also "
        "writes <out>/summary.md. Interrupted sweeps resume from their finished points.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("name", help=f"experiment id ({', '.join(EXPERIMENTS)}) or 'all'")
    p.add_argument("--quick", action="store_true", help="smaller sizes (the whole set in about 10 minutes)")
    p.add_argument("--out", default="results", help="results folder")
    p.add_argument("--seed", type=int, default=0, help="seed of data, initializations and batch orders")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.add_argument(
        "--mnist",
        default=None,
        metavar="DIR",
        help="folder with MNIST IDX files: E3 then runs 784-h-10 on MNIST instead of 64-h-10 on digits",
    )
    p.set_defaults(func=cmd_reproduce)
    return p


def cmd_reproduce(args) -> int:
    if args.mnist is not None and not os.path.isdir(args.mnist):
        raise ValueError(f"--mnist must be a folder holding MNIST IDX files; {args.mnist!r} is not a folder")
    progress = not args.no_progress
    if str(args.name).strip().lower() == "all":
        records = run_all(args.out, args.quick, args.seed, progress, args.mnist)
        print(f"summary -> {os.path.join(args.out, 'summary.md')}")
        for r in records:
            print(f"{r['id']:>4}  {r['verdict']:<10}  {r['ours']}")
        return 1 if any(r["verdict"] == "error" for r in records) else 0
    rec = run(args.name, args.out, args.quick, args.seed, progress, mnist=args.mnist)
    print(
        f"{rec['id']}: {rec['verdict']} — {rec['ours']} ({rec['seconds']} s) -> {os.path.join(args.out, rec['id'])}"
    )
    return 0


__all__ = ["EXPERIMENTS", "Experiment", "add_reproduce_parser", "get_experiment", "run", "run_all"]
