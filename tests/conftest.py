"""Shared fixtures: tiny problems that every curvature test can afford to differentiate densely."""

import os

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")


def relative_error(a, b) -> float:
    """Frobenius-norm relative error ‖a − b‖ / max(‖b‖, tiny)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
