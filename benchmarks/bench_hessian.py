"""Exact dense Hessian timings: the closed-form engine against autograd, JAX and PyTorch.

A thin wrapper around :func:`hessian_spectra.bench.main` (the same code as ``hessian-spectra bench``):
workloads A (50-40-40-10 tanh, N = 1,000, P = 4,090) and B (S18's Fig-1 network 100-30-30-50 relu,
N = 1,000, P = 5,510), medians over repeats in one process, ratios to the engine's H+G+R time, the
eigh drivers and the engine's peak memory. Results are recorded in ``docs/performance.md``.

Usage::

    python benchmarks/bench_hessian.py                      # both workloads, all routes
    python benchmarks/bench_hessian.py --quick              # shrunk workloads, about a minute
    python benchmarks/bench_hessian.py --workload A --no-peers --json bench-A.json
"""

import sys

from hessian_spectra.bench import main

if __name__ == "__main__":
    sys.exit(main())
