"""What a benchmark's numbers depend on besides the code: the machine, its load and the versions.

Every benchmark's ``--json`` output carries :func:`record` taken before and after the run, so that a
table generated from it (tools/make_bench_docs.py) can say on what machine and under what load its
times were measured.
"""

from __future__ import annotations

import os
import platform
import time


def record() -> dict:
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
