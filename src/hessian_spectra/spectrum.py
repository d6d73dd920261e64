r"""Eigenvalues of dense symmetric matrices and what S18 reads off them.

- :func:`eigenvalues` / :func:`eigh`: ascending eigenvalues by ``scipy.linalg.eigh`` or, for
  eigenvalues only, LAPACK's two-stage ``dsyevd_2stage`` (faster at the sizes of this package).
- Outlier counts by S18's three rules (Table 1): the largest consecutive gap, the largest
  consecutive ratio and an elbow threshold (:func:`outlier_counts`).
- The number of eigenvalues that are zero to working precision (:func:`zero_tolerance`,
  :func:`count_zero`), negative eigenvalues (:func:`negative_stats`) and the bulk's right edge.
- Eigenvectors as subspaces: the fraction of a vector's squared norm in the span of the first k of
  a set of orthonormal directions (:func:`projection_fractions`) and how close two subspaces are
  (:func:`subspace_overlap`, from the principal angles).

Short names used here:

- S18: Sagun, Evci, Güney, Dauphin & Bottou (2018),
  *Empirical Analysis of the Hessian of Over-Parametrized Neural Networks*.
"""

from __future__ import annotations

import ctypes
import functools
import os

import numpy as np
import scipy.linalg

from ._checks import as_float_array, check_choice, check_positive_int

#: ``scipy.linalg.eigh`` drivers, and :data:`TWO_STAGE` (eigenvalues only).
DRIVERS = ("evd", "evr", "ev", "evx")
#: LAPACK's two-stage reduction to tridiagonal form (``dsyevd_2stage``, LAPACK 3.7): the matrix is
#: first reduced to a band by blocked, matrix-matrix operations, then the band to tridiagonal form,
#: instead of the one-stage Householder reduction whose matrix-vector half bounds the other drivers.
#: Eigenvalues only. SciPy does not wrap it; it is called from the OpenBLAS that NumPy's and SciPy's
#: wheels bundle (:func:`two_stage_available`).
TWO_STAGE = "evd_2stage"


@functools.lru_cache(maxsize=1)
def _two_stage_routine():
    """``(LAPACKE_dsyevd_2stage, its integer type)`` from a bundled OpenBLAS, or ``None``.

    Looks in the ``numpy.libs`` and ``scipy.libs`` folders of the installed wheels for the
    ``scipy_openblas`` libraries and their LAPACKE entry point: ``…dsyevd_2stage64_`` (64-bit
    integers, NumPy's build) or ``…dsyevd_2stage`` (32-bit, SciPy's build).
    """
    import glob
    import importlib

    for package in ("numpy", "scipy"):
        root = os.path.dirname(os.path.dirname(importlib.import_module(package).__file__))
        for path in sorted(glob.glob(os.path.join(root, f"{package}.libs", "libscipy_openblas*.so*"))):
            try:
                lib = ctypes.CDLL(path)
            except OSError:  # pragma: no cover - a library that does not load here
                continue
            for symbol, int_type in (
                ("scipy_LAPACKE_dsyevd_2stage64_", ctypes.c_int64),
                ("scipy_LAPACKE_dsyevd_2stage", ctypes.c_int32),
            ):
                routine = getattr(lib, symbol, None)
                if routine is None:
                    continue
                routine.restype = int_type
                routine.argtypes = [
                    ctypes.c_int,  # matrix layout
                    ctypes.c_char,  # jobz
                    ctypes.c_char,  # uplo
                    int_type,  # n
                    ctypes.c_void_p,  # a
                    int_type,  # lda
                    ctypes.c_void_p,  # w
                ]
                return routine, int_type
    return None


def two_stage_available() -> bool:
    """Whether the :data:`TWO_STAGE` driver can be used in this installation."""
    return _two_stage_routine() is not None


#: Default driver of :func:`eigenvalues`: ``scipy.linalg.eigh``'s ``"evd"``. For eigenvalues only the
#: one-stage drivers differ by less than 3 % at P = 4,000-5,500 (all run the same Householder
#: tridiagonalization, which dominates); :data:`TWO_STAGE` is 1.2-1.7× faster there (slower below
#: P ≈ 3,000) but is not SciPy's own routine, so it is opt-in. Medians on the 2-core reference
#: machine, drivers interleaved: see docs/performance.md.
DEFAULT_DRIVER = "evd"
#: Default driver of :func:`eigh` (eigenvectors too; the two-stage routine has no vectors).
DEFAULT_VECTORS_DRIVER = "evd"


def symmetrize(M: np.ndarray) -> np.ndarray:
    """:math:`(M + M^\\top)/2`: removes the round-off asymmetry of a product or of autograd's Hessian."""
    return 0.5 * (M + M.T)


#: Largest asymmetry :math:`\max|M - M^\top|` accepted, relative to :math:`\max|M|`, by
#: :func:`eigenvalues` and :func:`eigh` (our choice: a float64 computation of a symmetric matrix is
#: symmetric to round-off, ~1e-16; beyond 1e-8 the matrix is not symmetric, and reading one triangle
#: would silently answer for another matrix).
SYMMETRY_RTOL = 1e-8


def check_symmetric_matrix(name: str, M, rtol: float = SYMMETRY_RTOL) -> np.ndarray:
    """Return ``M`` as a real float64 array if it is square and symmetric to ``rtol`` (relative to
    its largest entry); otherwise a ``ValueError`` naming ``name``, the shape or the asymmetry."""
    M = as_float_array(name, M, ndim=2)
    if M.shape[0] != M.shape[1]:
        raise ValueError(f"{name} must be square; got shape {M.shape}")
    scale = float(np.max(np.abs(M))) if M.size else 0.0
    worst, step = 0.0, 512  # blockwise: no P×P temporary
    for i in range(0, M.shape[0], step):
        worst = max(worst, float(np.max(np.abs(M[i : i + step] - M[:, i : i + step].T), initial=0.0)))
    if worst > rtol * scale:
        raise ValueError(
            f"{name} must be symmetric: max|{name} - {name}ᵀ| = {worst:.3g} is {worst / scale:.2g} of "
            f"max|{name}| = {scale:.3g} (accepted: {rtol:g}); symmetrize it, e.g. ({name} + {name}.T) / 2, "
            "if the asymmetry is round-off"
        )
    return M


def eigenvalues(M, driver: str = DEFAULT_DRIVER) -> np.ndarray:
    """Eigenvalues of the symmetric matrix ``M`` in ascending order.

    ``driver`` is one of :data:`DRIVERS` (``scipy.linalg.eigh``) or :data:`TWO_STAGE`. ``M`` must be
    real and symmetric to :data:`SYMMETRY_RTOL` (:func:`check_symmetric_matrix`); LAPACK then reads
    its lower triangle. ``M`` is not modified.
    """
    M = check_symmetric_matrix("M", M)
    check_choice("driver", driver, (*DRIVERS, TWO_STAGE))
    if driver != TWO_STAGE:
        return scipy.linalg.eigh(M, eigvals_only=True, driver=driver, check_finite=False)
    found = _two_stage_routine()
    if found is None:
        raise ValueError(
            f"driver {TWO_STAGE!r} needs the OpenBLAS bundled with NumPy's or SciPy's wheels, which "
            f"was not found here; use one of {DRIVERS}"
        )
    routine, int_type = found
    n = M.shape[0]
    if n == 0:
        return np.empty(0)
    # A Fortran-ordered copy (LAPACK overwrites it); for a symmetric matrix its lower triangle is M's.
    a = np.array(M, dtype=np.float64, order="F", copy=True)
    w = np.empty(n)
    info = routine(102, b"N", b"L", int_type(n), a.ctypes.data, int_type(n), w.ctypes.data)
    if info != 0:
        raise np.linalg.LinAlgError(f"dsyevd_2stage failed (info = {info}) on a {n}×{n} matrix")
    return w


def eigh(M, driver: str = DEFAULT_VECTORS_DRIVER) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (ascending) and orthonormal eigenvectors (columns) of the symmetric ``M``."""
    M = check_symmetric_matrix("M", M)
    check_choice("driver", driver, DRIVERS)
    return scipy.linalg.eigh(M, driver=driver, check_finite=False)


# --------------------------------------------------------------------------------------------
# Zero and negative eigenvalues
# --------------------------------------------------------------------------------------------


def zero_tolerance(eigvals, size: int | None = None) -> float:
    r"""Round-off scale below which an eigenvalue is indistinguishable from zero.

    :math:`\tau = P\,\varepsilon\,\max_j |\lambda_j|` with :math:`\varepsilon = 2^{-52}`: a
    backward-stable symmetric eigensolver returns eigenvalues with absolute error of order
    :math:`\varepsilon \lVert H\rVert_2` times a modest function of P (Golub & Van Loan, Sec.
    8.4), and the matrix itself was accumulated from sums whose round-off scales the same way. The
    factor P is the same conservative choice as ``numpy.linalg.matrix_rank``'s default.
    """
    w = as_float_array("eigvals", eigvals, ndim=1)
    n = w.size if size is None else int(size)
    if w.size == 0:
        return 0.0
    return float(n * np.finfo(np.float64).eps * np.max(np.abs(w)))


def count_zero(eigvals, tol: float | None = None) -> int:
    """Number of eigenvalues with :math:`|\\lambda| \\le \\tau` (``tol``: :func:`zero_tolerance`)."""
    w = as_float_array("eigvals", eigvals, ndim=1)
    tol = zero_tolerance(w) if tol is None else float(tol)
    return int(np.count_nonzero(np.abs(w) <= tol))


def negative_stats(eigvals, tol: float | None = None) -> dict:
    """Negative eigenvalues beyond round-off: count, fraction, most negative value, and their sum.

    An eigenvalue counts as negative when :math:`\\lambda < -\\tau` (:func:`zero_tolerance`).
    ``ratio_to_top`` compares the most negative value with the largest eigenvalue.
    """
    w = as_float_array("eigvals", eigvals, ndim=1)
    tol = zero_tolerance(w) if tol is None else float(tol)
    neg = w[w < -tol]
    top = float(w.max()) if w.size else 0.0
    most = float(neg.min()) if neg.size else 0.0
    return {
        "count": int(neg.size),
        "fraction": float(neg.size / w.size) if w.size else 0.0,
        "most_negative": most,
        "sum": float(neg.sum()),
        "ratio_to_top": float(abs(most) / top) if top > 0 else float("nan"),
    }


# --------------------------------------------------------------------------------------------
# Outliers: S18's three counting rules
# --------------------------------------------------------------------------------------------


def _top_descending(eigvals, window: int | None) -> np.ndarray:
    w = np.sort(as_float_array("eigvals", eigvals, ndim=1))[::-1]
    window = min(w.size, 200) if window is None else check_positive_int("window", window, 2)
    return w[: min(window, w.size)]


def outlier_count_gap(eigvals, window: int | None = None) -> int:
    """Number of eigenvalues above the largest consecutive gap.

    With the eigenvalues sorted in decreasing order :math:`\\lambda_1 \\ge \\lambda_2 \\ge \\dots`,
    the count is :math:`\\arg\\max_{j} (\\lambda_j - \\lambda_{j+1})` over the top ``window``
    (default 200) eigenvalues; 0 when they are all equal (an all-zero spectrum has no outliers).
    """
    top = _top_descending(eigvals, window)
    if top.size < 2:
        return int(top.size)
    gaps = top[:-1] - top[1:]
    if gaps.max() <= 0:  # all equal: no gap, so nothing stands out
        return 0
    return int(np.argmax(gaps) + 1)


def outlier_count_ratio(eigvals, window: int | None = None, floor: float = 1e-3, start: int = 1) -> int:
    """Number of eigenvalues above the largest consecutive ratio :math:`\\lambda_j/\\lambda_{j+1}`, ``j ≥ start``.

    Ratios are only taken where :math:`\\lambda_{j+1} \\ge \\text{floor}\\cdot\\lambda_1`: near zero the
    ratio of two round-off-sized eigenvalues is meaningless. ``floor = 1e-3`` is our choice. With
    ``start = 2`` a largest eigenvalue that stands alone (a ratio :math:`\\lambda_1/\\lambda_2` larger
    than every other) does not hide a step further down: the count is then at least 2. The count
    is 0 when the top eigenvalues are all equal (no ratio exceeds 1: nothing stands out) or the
    largest is not positive.
    """
    start = check_positive_int("start", start)
    top = _top_descending(eigvals, window)
    if top.size < 2 or top[0] <= 0 or top[0] == top[-1]:  # all equal: nothing stands out
        return 0
    valid = top[1:] >= floor * top[0]
    valid[: start - 1] = False
    if not np.any(valid):  # no ratio to take: count what stands above the floor
        return int(np.count_nonzero(top >= floor * top[0]))
    ratios = np.where(valid, top[:-1] / np.where(valid, top[1:], 1.0), -np.inf)
    return int(np.argmax(ratios) + 1)


def row_threshold(spectra, window: int | None = None, floor: float = 1e-3) -> float:
    r"""One threshold for a row of spectra, placed in the widest relative gaps of all of them at once.

    Sagun et al. (2018) read each row of their Table 1 (one optimizer, activation and cluster std,
    every k) against one hand-chosen threshold. This places such a threshold automatically, without
    knowing k: for the top ``window`` eigenvalues :math:`\lambda^s_1 \ge \lambda^s_2 \ge \dots` of each
    spectrum s, and a candidate t with :math:`c_s(t) = \#\{j : \lambda^s_j > t\}`, the score is

    .. math:: \operatorname{score}(t) = \sum_s \log\frac{\lambda^s_{c_s(t)}}{\lambda^s_{c_s(t)+1}},

    the log of the gap each spectrum has where t cuts it (0 where t lies above a spectrum's top or
    below its ``floor``·λ₁ part, inside the round-off noise). The score only changes where t crosses
    an eigenvalue of some spectrum, so it is constant on each interval between consecutive values of
    the merged list of all spectra's eigenvalues; the candidates are the geometric midpoints of
    those intervals (every region of constant score has one, and it is the point of the region
    farthest, in ratio, from every eigenvalue of every spectrum). The threshold is the candidate of
    largest score (the larger one on a tie). Counting above it, :func:`outlier_count_elbow` with
    ``threshold=``, gives each spectrum's count.
    """
    tops = []
    for w in spectra:
        top = _top_descending(w, window)
        tops.append(top[top >= floor * top[0]] if top.size and top[0] > 0 else top[:0])
    merged = np.unique(np.concatenate(tops)) if tops else np.zeros(0)
    if not any(t.size >= 2 for t in tops) or merged.size < 2:
        raise ValueError(
            "spectra must hold at least one spectrum with two positive eigenvalues above the floor"
        )
    candidates = np.sqrt(merged[:-1] * merged[1:])  # ascending
    score = np.zeros(candidates.size)
    for top in tops:
        if top.size < 2:
            continue
        log_gaps = np.log(top[:-1] / top[1:])  # log_gaps[c - 1]: the gap below the c-th eigenvalue
        above = top.size - np.searchsorted(top[::-1], candidates, side="right")  # c_s(t)
        cut = (above > 0) & (above < top.size)
        score[cut] += log_gaps[above[cut] - 1]
    best = candidates.size - 1 - int(np.argmax(score[::-1]))  # the largest candidate among the best
    return float(candidates[best])


def elbow_threshold(eigvals, window: int | None = None) -> float:
    """Threshold at the elbow of the ordered top eigenvalues (a Kneedle-type rule).

    The top ``window`` eigenvalues, sorted in decreasing order, are put on the unit square:
    :math:`x_j = j/(m-1)`, :math:`y_j = (\\lambda_j - \\lambda_m)/(\\lambda_1 - \\lambda_m)`. The elbow
    is the point farthest below the chord from :math:`(0, 1)` to :math:`(1, 0)`, i.e. the
    :math:`j` minimizing :math:`x_j + y_j`; the threshold is that eigenvalue, so the elbow
    count is the number of eigenvalues strictly above it.
    """
    top = _top_descending(eigvals, window)
    if top.size < 3 or top[0] == top[-1]:
        return float(top[-1]) if top.size else 0.0
    m = top.size
    x = np.arange(m) / (m - 1)
    y = (top - top[-1]) / (top[0] - top[-1])
    j = int(np.argmin(x + y))
    return float(top[j])


def outlier_count_elbow(eigvals, threshold: float | None = None, window: int | None = None) -> int:
    """Number of eigenvalues above ``threshold`` (default: :func:`elbow_threshold`).

    S18 used hand-picked thresholds (≈0.002-0.003 at cluster std 1, ≈0.015 at std 10).
    """
    w = as_float_array("eigvals", eigvals, ndim=1)
    thr = elbow_threshold(w, window) if threshold is None else float(threshold)
    return int(np.count_nonzero(w > thr))


def outlier_counts(eigvals, threshold: float | None = None, window: int | None = None) -> dict:
    """All three counts: ``{"gap": ..., "ratio": ..., "elbow": ...}``."""
    return {
        "gap": outlier_count_gap(eigvals, window),
        "ratio": outlier_count_ratio(eigvals, window),
        "elbow": outlier_count_elbow(eigvals, threshold, window),
    }


def bulk_edge(eigvals, n_outliers: int) -> float:
    """Right edge of the bulk: the largest eigenvalue once the top ``n_outliers`` are removed."""
    w = np.sort(as_float_array("eigvals", eigvals, ndim=1))[::-1]
    n_outliers = check_positive_int("n_outliers", n_outliers, minimum=0)
    if n_outliers >= w.size:
        raise ValueError(f"n_outliers ({n_outliers}) must be below the number of eigenvalues ({w.size})")
    return float(w[n_outliers])


def summarize(eigvals, threshold: float | None = None) -> dict:
    """One dict of what S18 reports about a spectrum (all plain Python numbers)."""
    w = as_float_array("eigvals", eigvals, ndim=1)
    counts = outlier_counts(w, threshold)
    tol = zero_tolerance(w)
    return {
        "n": int(w.size),
        "max": float(w.max()),
        "min": float(w.min()),
        "outliers": counts,
        "elbow_threshold": elbow_threshold(w) if threshold is None else float(threshold),
        "bulk_edge": bulk_edge(w, counts["elbow"]) if counts["elbow"] < w.size else float("nan"),
        "zero_tolerance": tol,
        "n_zero": count_zero(w, tol),
        "negative": negative_stats(w, tol),
    }


# --------------------------------------------------------------------------------------------
# Subspaces
# --------------------------------------------------------------------------------------------

#: Largest entry of :math:`|Q^\top Q - I|` accepted as orthonormal columns: Ritz vectors of a
#: reorthogonalized Lanczos run and the eigenvectors of ``eigh`` are orthonormal to ~1e-13; a basis
#: that is off by more than 1e-8 was not meant to be orthonormal.
ORTHONORMAL_ATOL = 1e-8


def projection_fractions(v, Q) -> np.ndarray:
    r"""The fraction of :math:`\lVert v\rVert^2` in the span of the first k columns of ``Q``, for k = 1..m.

    For orthonormal columns :math:`q_1, \dots, q_m` (e.g. eigenvectors, largest eigenvalue first),
    the orthogonal projector on the span of the first k is :math:`P_k = \sum_{j \le k} q_j q_j^\top`, so

    .. math:: f_k = \frac{\lVert P_k v\rVert^2}{\lVert v\rVert^2}
              = \frac{\sum_{j=1}^{k} (q_j^\top v)^2}{\lVert v\rVert^2} \in [0, 1],

    non-decreasing in k. With ``v`` a gradient and ``Q`` the top Hessian eigenvectors this is
    Gur-Ari, Roberts & Dyer's (2018) :math:`f_{\text{top}}`; the fraction in a general span is the last
    entry with ``Q`` an orthonormal basis of it (``scipy.linalg.orth``). Returns an array of length m.
    ``ValueError`` when ``v`` is zero, the shapes disagree or the columns are not orthonormal (to
    :data:`ORTHONORMAL_ATOL`).
    """
    v = as_float_array("v", v, ndim=1)
    Q = as_float_array("Q", Q, ndim=2)
    if Q.shape[0] != v.size:
        raise ValueError(f"Q must have one row per entry of v ({v.size}); got shape {Q.shape}")
    deviation = np.max(np.abs(Q.T @ Q - np.eye(Q.shape[1]))) if Q.shape[1] else 0.0
    if deviation > ORTHONORMAL_ATOL:
        raise ValueError(
            f"Q must have orthonormal columns; max |QᵀQ − I| = {deviation:.2e} > {ORTHONORMAL_ATOL:g} "
            "(orthonormalize a general basis with scipy.linalg.orth)"
        )
    norm2 = float(v @ v)
    if norm2 == 0.0:
        raise ValueError("v must be nonzero: the fraction of a zero vector is undefined")
    return np.cumsum((Q.T @ v) ** 2) / norm2


def subspace_overlap(A, B) -> float:
    r"""Mean squared cosine of the principal angles between the column spans of ``A`` and ``B``.

    With orthonormal bases :math:`Q_A` (P × a) and :math:`Q_B` (P × b) of the spans, the cosines of
    the :math:`\min(a, b)` principal angles :math:`\theta_j` are the singular values of
    :math:`Q_A^\top Q_B` (Björck & Golub, 1973), so

    .. math:: \mathrm{overlap} = \frac{1}{\min(a, b)} \sum_{j=1}^{\min(a,b)} \cos^2\theta_j
              = \frac{\lVert Q_A^\top Q_B\rVert_F^2}{\min(a, b)}
              = \frac{\operatorname{tr}(P_A P_B)}{\min(a, b)}:

    1 when the smaller span lies in the larger, 0 when they are orthogonal, :math:`\max(a, b)/P` on
    average for random subspaces. For two k-dimensional eigenspaces this is Gur-Ari, Roberts & Dyer's
    (2018) overlap :math:`\frac1k\sum_i \lVert P_A\, b_i\rVert^2` of the top subspaces at two times.
    The bases come from ``scipy.linalg.orth`` (an SVD that drops singular values at round-off level),
    so the columns need not be orthonormal or independent; a span of dimension 0 raises ``ValueError``.
    Used for the top-C eigenvectors of G against the span of Papyan's class means (E11) and for the
    top-C Hessian eigenspaces at two times (E13).
    """
    A = as_float_array("A", A, ndim=2)
    B = as_float_array("B", B, ndim=2)
    if A.shape[0] != B.shape[0]:
        raise ValueError(f"A and B must have the same number of rows; got {A.shape[0]} and {B.shape[0]}")
    QA, QB = scipy.linalg.orth(A), scipy.linalg.orth(B)
    if QA.shape[1] == 0 or QB.shape[1] == 0:
        raise ValueError("A and B must each span at least one direction; got a zero matrix")
    return float(np.linalg.norm(QA.T @ QB) ** 2 / min(QA.shape[1], QB.shape[1]))
