"""Input validation shared by the whole package.

Every public function validates its arguments at the boundary with these helpers, so a user
mistake surfaces as one clear ``ValueError`` that names the argument and what was expected.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence

import numpy as np


class DenseTooLargeError(MemoryError):
    """A dense P×P matrix was requested that would not fit in the memory available."""


def check_choice(name: str, value: str, options: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``options``; otherwise raise a ``ValueError`` listing them."""
    options = tuple(options)
    if value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; got {value!r}")
    return value


def as_float_array(name: str, value, ndim: int | None = None) -> np.ndarray:
    """Convert ``value`` to a float64 array, checking that it is real, its number of dimensions and
    its finiteness (complex input is refused, never cast: the cast would drop the imaginary part)."""
    if np.iscomplexobj(value):
        raise ValueError(f"{name} must be real; got a complex array (dtype {np.asarray(value).dtype})")
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be an array of real numbers ({exc})") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must be a {ndim}-d array; got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} non-finite value(s) (NaN or inf)")
    return arr


def check_positive_int(name: str, value, minimum: int = 1) -> int:
    """Return ``value`` as an int if it is an integer ≥ ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{name} must be an integer ≥ {minimum}; got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer ≥ {minimum}; got {value}")
    return int(value)


def check_positive_float(name: str, value, allow_zero: bool = False) -> float:
    """Return ``value`` as a float if it is finite and > 0 (or ≥ 0 with ``allow_zero``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number; got {value!r}") from None
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        bound = "≥ 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {bound}; got {value!r}")
    return v


def check_labels(name: str, y, n_samples: int, n_classes: int) -> np.ndarray:
    """Check integer class labels in ``[0, n_classes)`` with one label per sample."""
    arr = np.asarray(y)
    if arr.ndim != 1 or arr.shape[0] != n_samples:
        raise ValueError(f"{name} must have shape ({n_samples},) to match X; got {arr.shape}")
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
            raise ValueError(f"{name} must hold integer class labels; got dtype {arr.dtype}")
    arr = arr.astype(np.int64)
    if arr.size and (arr.min() < 0 or arr.max() >= n_classes):
        raise ValueError(
            f"{name} must hold labels in [0, {n_classes}) (the last layer has {n_classes} "
            f"outputs); got labels from {arr.min()} to {arr.max()}"
        )
    return arr


def check_layer_sizes(layer_sizes: Sequence[int]) -> tuple[int, ...]:
    """Check a list of layer widths ``(n_0, n_1, ..., n_L)`` with L ≥ 1 and every width ≥ 1."""
    try:
        sizes = tuple(int(s) for s in np.asarray(layer_sizes).ravel())
    except (TypeError, ValueError):
        raise ValueError(f"layer_sizes must be a list of integers; got {layer_sizes!r}") from None
    if len(sizes) < 2:
        raise ValueError(
            f"layer_sizes must list at least an input and an output width, e.g. (100, 30, 5); got {sizes}"
        )
    if any(s < 1 for s in sizes):
        raise ValueError(f"layer_sizes must be positive integers; got {sizes}")
    return sizes


def available_memory_bytes() -> int:
    """Memory the process may still allocate: ``MemAvailable`` from /proc/meminfo when present."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - exotic platforms
        return 2**62


def format_bytes(n: float) -> str:
    """Human-readable size: ``format_bytes(3e9) == '2.79 GiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.2f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def dense_bytes(n_params: int, n_matrices: int = 1) -> int:
    """Bytes taken by ``n_matrices`` dense float64 P×P matrices: ``8·P²`` each."""
    return 8 * int(n_params) ** 2 * int(n_matrices)


def check_dense_fits(
    n_params: int, n_matrices: int = 1, available_bytes: int | None = None, headroom: float = 0.8
) -> None:
    """Refuse a dense allocation of ``n_matrices`` P×P float64 matrices that would not fit.

    The estimate is ``8·P²·n_matrices`` bytes (plus nothing else: the caller's working memory is
    covered by ``headroom``, the fraction of the available memory we allow ourselves to use).
    """
    needed = dense_bytes(n_params, n_matrices)
    available = available_memory_bytes() if available_bytes is None else int(available_bytes)
    if needed > headroom * available:
        raise DenseTooLargeError(
            f"{n_matrices} dense {n_params}×{n_params} float64 matrix(es) (P = {n_params:,}) "
            f"need {format_bytes(needed)}, but only {format_bytes(available)} of memory is "
            f"available; use the matrix-free path instead (hessian_spectra.curvature.matrix_free, "
            f"or `hessian-spectra hessian RUN --top-k K --density`)"
        )


def check_array_fits(what: str, shape: tuple[int, ...], headroom: float = 0.8) -> None:
    """Refuse to allocate a float64 array of ``shape`` that would not fit in memory (``what`` names it)."""
    needed = 8 * int(np.prod(shape, dtype=np.float64))
    available = available_memory_bytes()
    if needed > headroom * available:
        raise DenseTooLargeError(
            f"{what} of shape {shape} needs {format_bytes(needed)}, but only "
            f"{format_bytes(available)} of memory is available"
        )
