"""Shared fixtures. The test networks and the comparison helpers live in tests/cases.py;
``relative_error`` is re-exported here for the files that import it from conftest."""

import os

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")
os.environ.setdefault("MPLBACKEND", "Agg")

from .cases import relative_error  # noqa: E402, F401  (one helper for the whole suite)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def pytest_configure(config):
    """Register one marker per course exercise, generated from the registry, so that an instructor
    runs ``pytest -m ex02_3`` (``--strict-markers`` is on; see docs/teaching.md)."""
    from hessian_spectra.teaching import EXERCISES

    for exercise_id, exercise in EXERCISES.items():
        config.addinivalue_line("markers", f"{exercise_id}: course exercise — {exercise.title}")
