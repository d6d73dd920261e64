"""Input validation shared by the whole package.

Every public function validates its arguments at the boundary with these helpers, so a user
mistake surfaces as one clear ``ValueError`` that names the argument and what was expected.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence

import numpy as np


class UserError(ValueError):
    """A value given to a command (a flag, a path, an input) that it cannot take. The message names
    the flag; the command line prints it as one line and exits with status 2. Raised only by the
    checks of the command-line entry points (``cli``, ``experiments.cmd_reproduce``), never for a
    library argument (those raise plain ``ValueError``), so that anything else stays a traceback."""


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


#: A cgroup v1 memory limit at or above this many bytes means "no limit" (the kernel reports
#: LONG_MAX rounded down to a page, 9223372036854771712, for an unlimited group).
CGROUP_V1_UNLIMITED = 2**62


def _read_text(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            return fh.read()
    except OSError:
        return None


def _read_int(path: str) -> int | None:
    text = _read_text(path)
    try:
        return None if text is None else int(text.strip())
    except ValueError:  # "max" (cgroup v2: no limit) or a garbled file
        return None


def meminfo_available(path: str = "/proc/meminfo") -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes (the kernel's estimate of the memory a new
    allocation can get without swapping), or ``None`` where the file or the line is absent."""
    text = _read_text(path)
    for line in (text or "").splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) * 1024
    return None


def address_space_room(limit: int | None = None, status_path: str = "/proc/self/status") -> int | None:
    """Bytes of address space the process may still map under ``ulimit -v``, or ``None`` without a limit.

    The room is the soft ``RLIMIT_AS`` (``limit``, by default read with :func:`resource.getrlimit`)
    minus the address space already mapped, ``VmSize`` of ``/proc/self/status`` (0 where that file
    is absent). Every allocation counts against it, touched or not, so a dense matrix that
    exceeds it fails with a MemoryError however much physical memory is free.
    """
    if limit is None:
        try:
            import resource
        except ImportError:  # pragma: no cover - not POSIX
            return None
        limit = resource.getrlimit(resource.RLIMIT_AS)[0]
        if limit == resource.RLIM_INFINITY:
            return None
    if limit < 0:  # RLIM_INFINITY is -1 on some platforms
        return None
    used = 0
    for line in (_read_text(status_path) or "").splitlines():
        if line.startswith("VmSize:"):
            used = int(line.split()[1]) * 1024
    return max(int(limit) - used, 0)


def _unescape_mount_path(field: str) -> str:
    """Undo the octal escapes of /proc/self/mountinfo (a space is written ``\\040``)."""
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), field)


def _memory_cgroup_dirs(proc_self: str) -> list[tuple[str, str, str]]:
    """``(version, folder of the process's cgroup, mount point)`` for each mounted memory hierarchy.

    The process's cgroup path comes from ``/proc/self/cgroup`` (``0::PATH`` for v2,
    ``N:...memory...:PATH`` for v1), the mounts from ``/proc/self/mountinfo``; the folder is the
    mount point joined with the path relative to the mount's root (inside a container the mount
    root is often the container's own cgroup, or ``/`` with a cgroup namespace).
    """
    groups = {}
    for line in (_read_text(os.path.join(proc_self, "cgroup")) or "").splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        hier, controllers, path = parts
        if hier == "0" and controllers == "":
            groups["v2"] = path
        elif "memory" in controllers.split(","):
            groups["v1"] = path
    out = []
    for line in (_read_text(os.path.join(proc_self, "mountinfo")) or "").splitlines():
        fields = line.split()
        if " - " not in line or len(fields) < 5:
            continue
        after = line.split(" - ", 1)[1].split()
        fstype, options = after[0], (after[2] if len(after) > 2 else "")
        if fstype == "cgroup2":
            version = "v2"
        elif fstype == "cgroup" and "memory" in options.split(","):
            version = "v1"
        else:
            continue
        if version not in groups:
            continue
        root, mount = _unescape_mount_path(fields[3]), _unescape_mount_path(fields[4])
        path = groups[version]
        if root != "/" and (path == root or path.startswith(root.rstrip("/") + "/")):
            path = path[len(root) :]
        elif root != "/":
            path = "/"  # the process's group lies outside the mounted part: the mount is its view
        folder = os.path.normpath(os.path.join(mount, path.lstrip("/")))
        out.append((version, folder, mount))
    return out


def _working_set(folder: str, usage: int, version: str) -> int:
    """``usage`` minus the inactive file cache of ``memory.stat`` (reclaimed before an OOM kill;
    the working set that ``docker stats`` and the kubelet count)."""
    key = "inactive_file" if version == "v2" else "total_inactive_file"
    for line in (_read_text(os.path.join(folder, "memory.stat")) or "").splitlines():
        name, _, value = line.partition(" ")
        if name == key and value.strip().isdigit():
            return max(usage - int(value), 0)
    return usage


def cgroup_memory_room(proc_self: str = "/proc/self") -> int | None:
    """Bytes the process's memory cgroup still allows, or ``None`` where no cgroup limit applies.

    For each level from the process's group up to the mount point (a parent's limit binds its
    children): the limit (v2 ``memory.max``, v1 ``memory.limit_in_bytes``) minus the working set
    (v2 ``memory.current``, v1 ``memory.usage_in_bytes``, each minus the inactive file cache of
    ``memory.stat``). The smallest room is returned. Beyond it the kernel's OOM killer ends the
    process (in a container: without a traceback), so this limit must be respected before
    allocating, not after.
    """
    rooms = []
    for version, folder, mount in _memory_cgroup_dirs(proc_self):
        limit_file, usage_file = (
            ("memory.max", "memory.current")
            if version == "v2"
            else ("memory.limit_in_bytes", "memory.usage_in_bytes")
        )
        level = folder
        while True:
            limit = _read_int(os.path.join(level, limit_file))
            if limit is not None and not (version == "v1" and limit >= CGROUP_V1_UNLIMITED):
                usage = _read_int(os.path.join(level, usage_file)) or 0
                rooms.append(max(limit - _working_set(level, usage, version), 0))
            if os.path.normpath(level) == os.path.normpath(mount) or os.path.dirname(level) == level:
                break
            level = os.path.dirname(level)
    return min(rooms) if rooms else None


def memory_limits(proc_self: str = "/proc/self", meminfo: str = "/proc/meminfo") -> dict[str, int]:
    """The memory the process may still allocate, by source (sources that set no limit are absent):

    - ``"MemAvailable"``: :func:`meminfo_available` (free and reclaimable physical memory);
    - ``"ulimit -v"``: :func:`address_space_room` (``RLIMIT_AS`` minus the mapped address space);
    - ``"cgroup"``: :func:`cgroup_memory_room` (the container's or systemd unit's memory limit).
    """
    out = {
        "MemAvailable": meminfo_available(meminfo),
        "ulimit -v": address_space_room(status_path=os.path.join(proc_self, "status")),
        "cgroup": cgroup_memory_room(proc_self),
    }
    return {k: v for k, v in out.items() if v is not None}


def available_memory_bytes() -> int:
    """Memory the process may still allocate: the smallest of :func:`memory_limits` (falling back to
    the free physical pages where /proc is absent)."""
    limits = memory_limits()
    if limits:
        return min(limits.values())
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - exotic platforms
        return 2**62


def _binding_limit(available: int) -> str:
    """Which source of :func:`memory_limits` sets ``available`` (empty when none matches)."""
    names = [k for k, v in memory_limits().items() if v == available]
    return f" ({names[0]})" if names else ""


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


def check_bytes_fit(
    what: str, needed: int, available_bytes: int | None = None, headroom: float = 0.8
) -> None:
    """Refuse an allocation of ``needed`` bytes (``what`` names it) above ``headroom`` times the memory
    available (:func:`available_memory_bytes`: the least of MemAvailable, ``ulimit -v`` and the
    cgroup limit), with a :class:`DenseTooLargeError` naming both sizes and the binding limit."""
    available = available_memory_bytes() if available_bytes is None else int(available_bytes)
    if needed > headroom * available:
        source = "" if available_bytes is not None else _binding_limit(available)
        raise DenseTooLargeError(
            f"{what} need {format_bytes(needed)}, but only {format_bytes(available)} of memory is "
            f"available{source}"
        )


def check_dense_fits(
    n_params: int, n_matrices: int = 1, available_bytes: int | None = None, headroom: float = 0.8
) -> None:
    """Refuse a dense allocation of ``n_matrices`` P×P float64 matrices that would not fit.

    The estimate is ``8·P²·n_matrices`` bytes (plus nothing else: the caller's working memory is
    covered by ``headroom``, the fraction of the available memory we allow ourselves to use).
    """
    try:
        check_bytes_fit(
            f"{n_matrices} dense {n_params}×{n_params} float64 matrix(es) (P = {n_params:,})",
            dense_bytes(n_params, n_matrices),
            available_bytes,
            headroom,
        )
    except DenseTooLargeError as exc:
        raise DenseTooLargeError(
            f"{exc}; use the matrix-free path instead (hessian_spectra.curvature.matrix_free, "
            f"or `hessian-spectra hessian RUN --top-k K --density`)"
        ) from None


def check_array_fits(what: str, shape: tuple[int, ...], headroom: float = 0.8) -> None:
    """Refuse to allocate a float64 array of ``shape`` that would not fit in memory (``what`` names it)."""
    check_bytes_fit(f"{what} of shape {shape}", 8 * int(np.prod(shape, dtype=np.float64)), headroom=headroom)


class NonFiniteResultError(ArithmeticError):
    """A computed result holds NaN or infinite entries (the inputs were finite: the computation
    overflowed float64, typically at parameters or inputs of enormous size)."""


def non_finite_result(what: str, n_bad: int, objective, params: np.ndarray) -> NonFiniteResultError:
    """The :class:`NonFiniteResultError` for ``n_bad`` NaN or infinite entries in ``what``, computed
    at finite ``params`` on ``objective``'s finite inputs: it names the sizes that overflowed."""
    with np.errstate(all="ignore"):
        top_logit = float(np.max(np.abs(objective.logits(params))))
    return NonFiniteResultError(
        f"{what} has {n_bad:,} non-finite entries (NaN or inf): the network overflows float64 at these "
        f"parameters (largest |w| = {np.max(np.abs(params)):.3g}, inputs up to "
        f"|x| = {np.max(np.abs(objective.X)):.3g}, logits up to {top_logit:.3g}); "
        "overflowing parameters, e.g. from a diverged run"
    )
