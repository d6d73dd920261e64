"""``hessian-spectra bench``: runs the benchmark of the source checkout, ``benchmarks/bench_hessian.py``.

The benchmark (workloads, the JAX and PyTorch peers, timing, memory probe, its flags) is not part
of the library: this entry point finds the file next to ``src/`` and hands it every argument after
``bench`` unchanged, so ``hessian-spectra bench ARGS`` and ``python benchmarks/bench_hessian.py ARGS``
are the same run. Nothing is loaded until the subcommand runs.
"""

from __future__ import annotations

import argparse
import importlib.util
import pathlib
import sys

#: Where the benchmark lives in a source checkout (``src/hessian_spectra/bench.py`` → repository root).
BENCHMARK_FILE = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "bench_hessian.py"


def load_benchmark(path: str | pathlib.Path | None = None):
    """The benchmark module, loaded from ``path`` (default :data:`BENCHMARK_FILE`).

    Raises FileNotFoundError, in one line, when the file is absent (a package installed without its
    source checkout).
    """
    path = pathlib.Path(BENCHMARK_FILE if path is None else path)
    if not path.is_file():
        raise FileNotFoundError(
            f"the bench command runs benchmarks/bench_hessian.py from the source checkout, which this "
            f"installation does not have (no file {path}); install the package from a clone "
            f"(pip install -e .) to run it"
        )
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def add_bench_parser(subparsers) -> argparse.ArgumentParser:
    """Attach ``bench`` to the CLI's subparsers: every argument after it goes to the benchmark's parser.

    The subparser has no option of its own (its prefix character ``+`` starts none of the
    benchmark's flags, so ``-h`` and ``--workload`` reach the benchmark verbatim).
    """
    p = subparsers.add_parser(
        "bench",
        help="time the exact Hessian: closed-form engine vs autograd, jax, torch; eigh drivers "
        "(benchmarks/bench_hessian.py of the source checkout; 'bench -h' lists its flags)",
        add_help=False,
        prefix_chars="+",
    )
    p.add_argument("bench_args", nargs="*")
    p.set_defaults(func=run_bench)
    return p


def run_bench(args) -> int:
    """Run the benchmark on the arguments collected by :func:`add_bench_parser`."""
    return load_benchmark().main(args.bench_args, prog="hessian-spectra bench")
