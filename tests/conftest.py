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


def pytest_configure(config):
    """Register one marker per course exercise, generated from the registry, so that an instructor
    runs ``pytest -m ex02_3`` (``--strict-markers`` is on; see docs/teaching.md)."""
    from hessian_spectra.teaching import EXERCISES

    for exercise_id, exercise in EXERCISES.items():
        config.addinivalue_line("markers", f"{exercise_id}: course exercise — {exercise.title}")
