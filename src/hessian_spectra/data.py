"""Data sets: Gaussian blobs, random patterns, scikit-learn's digits and MNIST-format IDX files.

Every generator takes a ``seed`` (an int or a :class:`numpy.random.Generator`) and is
deterministic given it. All return a :class:`Dataset` with float64 inputs and int64 labels.
"""

from __future__ import annotations

import gzip
import os
from dataclasses import dataclass, field

import numpy as np

from ._checks import check_positive_float, check_positive_int


@dataclass
class Dataset:
    """Inputs and labels, with an optional held-out test split.

    Attributes
    ----------
    X, y : training inputs ``(N, d)`` and labels ``(N,)``.
    X_test, y_test : test inputs and labels (possibly empty).
    n_classes : number of classes C.
    name : a short description.
    info : extra facts (cluster centres, standardization constants, ...).
    """

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    n_classes: int
    name: str
    info: dict = field(default_factory=dict)

    @property
    def dim(self) -> int:
        """Input dimension d."""
        return self.X.shape[1]


def _split(X, y, n_test, rng, n_classes, name, info) -> Dataset:
    """Shuffle and split off ``n_test`` samples for testing."""
    order = rng.permutation(X.shape[0])
    X, y = X[order], y[order]
    n_train = X.shape[0] - n_test
    return Dataset(X[:n_train], y[:n_train], X[n_train:], y[n_train:], n_classes, name, info)


def _cluster_sizes(n_total: int, n_clusters: int) -> np.ndarray:
    """Balanced sizes: ``n_total // k`` each, the remainder spread over the first clusters."""
    sizes = np.full(n_clusters, n_total // n_clusters)
    sizes[: n_total % n_clusters] += 1
    return sizes


def blobs(
    n_samples: int = 1000,
    n_clusters: int = 5,
    dim: int = 100,
    n_classes: int | None = None,
    spread: float = 1.0,
    center_box: tuple[float, float] = (-10.0, 10.0),
    standardize: bool = True,
    n_test: int = 0,
    seed: int | np.random.Generator | None = 0,
) -> Dataset:
    """``k`` Gaussian clusters in ``dim`` dimensions (S18's synthetic data).

    Cluster centres are drawn uniformly in ``center_box^dim`` (``[-10, 10]`` as in the code of
    Sagun et al., 2018); each cluster is :math:`\\mathcal N(\\mu_j, \\text{spread}^2 I)`. The
    ``n_samples + n_test`` points are split evenly over the clusters. Cluster ``j`` gets class
    ``j mod n_classes`` (round-robin), so with ``n_classes < n_clusters`` several clusters share a
    class; by default every cluster is its own class.

    With ``standardize`` the data are normalized *globally*: one scalar mean and one scalar
    standard deviation, computed over all training entries, are removed from every entry (train
    and test alike); this keeps the geometry of the clusters (our reading of "normalized
    globally" in S18).
    """
    n_samples = check_positive_int("n_samples", n_samples)
    n_clusters = check_positive_int("n_clusters", n_clusters)
    dim = check_positive_int("dim", dim)
    n_test = check_positive_int("n_test", n_test, minimum=0)
    n_classes = n_clusters if n_classes is None else check_positive_int("n_classes", n_classes)
    if n_classes > n_clusters:
        raise ValueError(
            f"n_classes ({n_classes}) must not exceed n_clusters ({n_clusters}): "
            "each class needs at least one cluster"
        )
    spread = check_positive_float("spread", spread)
    lo, hi = (float(v) for v in center_box)
    if not hi > lo:
        raise ValueError(f"center_box must be (low, high) with low < high; got {center_box}")
    rng = np.random.default_rng(seed)
    centers = rng.uniform(lo, hi, size=(n_clusters, dim))
    X, y = _sample_clusters(centers, spread, n_samples + n_test, n_classes, rng)
    ds = _split(X, y, n_test, rng, n_classes, f"blobs(k={n_clusters}, d={dim})", {})
    ds.info.update(centers=centers, spread=spread, n_clusters=n_clusters)
    if standardize:
        _standardize_globally(ds)
    return ds


def two_blobs(
    n_samples: int = 1000,
    std: float = 0.5,
    n_test: int = 0,
    seed: int | np.random.Generator | None = 0,
) -> Dataset:
    """S16's separability data: two Gaussian blobs at (1, 1) and (−1, −1) with std ``std``.

    No standardization (the geometry, i.e. how much the blobs overlap, is the point).
    """
    std = check_positive_float("std", std)
    n_samples = check_positive_int("n_samples", n_samples)
    n_test = check_positive_int("n_test", n_test, minimum=0)
    rng = np.random.default_rng(seed)
    centers = np.array([[1.0, 1.0], [-1.0, -1.0]])
    X, y = _sample_clusters(centers, std, n_samples + n_test, 2, rng)
    ds = _split(X, y, n_test, rng, 2, f"two_blobs(std={std})", {})
    ds.info.update(centers=centers, spread=std, n_clusters=2)
    return ds


def _sample_clusters(centers, spread, n_total, n_classes, rng):
    sizes = _cluster_sizes(n_total, centers.shape[0])
    X = np.concatenate(
        [c + spread * rng.standard_normal((m, centers.shape[1])) for c, m in zip(centers, sizes, strict=True)]
    )
    y = np.concatenate([np.full(m, j % n_classes) for j, m in enumerate(sizes)]).astype(np.int64)
    return X, y


def _standardize_globally(ds: Dataset) -> None:
    mean, std = float(ds.X.mean()), float(ds.X.std())
    std = std if std > 0 else 1.0
    ds.X = (ds.X - mean) / std
    ds.X_test = (ds.X_test - mean) / std
    ds.info.update(standardize_mean=mean, standardize_std=std)


def random_inputs(
    n_samples: int = 1000,
    dim: int = 100,
    n_classes: int = 10,
    n_test: int = 0,
    seed: int | np.random.Generator | None = 0,
) -> Dataset:
    """S16's "random patterns": inputs :math:`x_i \\sim \\mathcal N(0, I_d)`, labels uniform at random.

    There is no structure to learn: the labels are independent of the inputs.
    """
    n_samples = check_positive_int("n_samples", n_samples)
    dim = check_positive_int("dim", dim)
    n_classes = check_positive_int("n_classes", n_classes)
    n_test = check_positive_int("n_test", n_test, minimum=0)
    rng = np.random.default_rng(seed)
    n = n_samples + n_test
    X = rng.standard_normal((n, dim))
    y = rng.integers(0, n_classes, size=n).astype(np.int64)
    return _split(X, y, n_test, rng, n_classes, f"random_inputs(d={dim})", {})


def _subset(X, y, n_samples, n_test, rng, name, n_classes, info) -> Dataset:
    n_avail = X.shape[0]
    n_samples = n_avail - n_test if n_samples is None else n_samples
    if n_samples + n_test > n_avail:
        raise ValueError(
            f"n_samples + n_test = {n_samples + n_test} exceeds the {n_avail} examples available"
        )
    idx = rng.permutation(n_avail)[: n_samples + n_test]
    return Dataset(
        X[idx[:n_samples]],
        y[idx[:n_samples]],
        X[idx[n_samples:]],
        y[idx[n_samples:]],
        n_classes,
        name,
        info,
    )


def digits(
    n_samples: int | None = 1000,
    n_test: int = 0,
    seed: int | np.random.Generator | None = 0,
) -> Dataset:
    """scikit-learn's bundled 8×8 handwritten digits (1,797 images, 10 classes), scaled to [0, 1].

    ``n_samples`` training and ``n_test`` test images are drawn without replacement by ``seed``.
    Needs the ``data`` extra (``pip install 'hessian-spectra[data]'``).
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise ImportError(
            "the digits data set comes with scikit-learn: install the 'data' extra, "
            "pip install 'hessian-spectra[data]'"
        ) from None
    if n_samples is not None:
        n_samples = check_positive_int("n_samples", n_samples)
    n_test = check_positive_int("n_test", n_test, minimum=0)
    raw = load_digits()
    X = raw.data.astype(np.float64) / 16.0
    y = raw.target.astype(np.int64)
    return _subset(X, y, n_samples, n_test, np.random.default_rng(seed), "digits 8x8", 10, {})


# --------------------------------------------------------------------------------------------
# IDX files (the MNIST format)
# --------------------------------------------------------------------------------------------

_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into an array.

    Format: two zero bytes, a type code (0x08 ubyte, 0x09 byte, 0x0B int16, 0x0C int32, 0x0D
    float32, 0x0E float64), the number of dimensions, then each dimension as a big-endian
    uint32, then the data in C order. A bad magic number, an unknown type code or a file whose
    length does not match its header raises a ``ValueError`` naming the file.
    """
    path = os.fspath(path)
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path}: not an IDX file (the magic number must start with two zero bytes)")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES:
        raise ValueError(f"{path}: unknown IDX type code 0x{code:02x}")
    header = 4 + 4 * ndim
    if ndim == 0 or len(raw) < header:
        raise ValueError(f"{path}: truncated IDX header ({ndim} dimensions declared)")
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(dims)) * dtype.itemsize
    if len(raw) - header != expected:
        raise ValueError(
            f"{path}: IDX header declares shape {dims} ({expected} bytes of data) but the file "
            f"holds {len(raw) - header} bytes (truncated or corrupt)"
        )
    return np.frombuffer(raw, dtype=dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def write_idx(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (the inverse of :func:`read_idx`; used to make test files)."""
    array = np.asarray(array)
    matches = [c for c, dt in _IDX_DTYPES.items() if dt.newbyteorder("=") == array.dtype.newbyteorder("=")]
    if not matches:
        raise ValueError(f"array dtype {array.dtype} has no IDX type code")
    code = matches[0]
    dt = _IDX_DTYPES[code]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    with open(path, "wb") as fh:
        fh.write(header + array.astype(dt).tobytes())


def _find_idx(directory: str, stem: str) -> str:
    for cand in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        p = os.path.join(directory, cand)
        if os.path.exists(p):
            return p
    raise FileNotFoundError(f"no IDX file {stem}[.gz] in {directory!r}")


def mnist(
    directory: str | os.PathLike,
    n_samples: int | None = 1000,
    n_test: int = 0,
    seed: int | np.random.Generator | None = 0,
) -> Dataset:
    """MNIST from IDX files a user already has on disk (nothing is downloaded).

    Looks in ``directory`` for ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte``
    (optionally ``.gz``); images are flattened to 784 values scaled to [0, 1]. ``n_samples``
    training and ``n_test`` test examples are drawn from the training files by ``seed``.
    """
    directory = os.fspath(directory)
    images = read_idx(_find_idx(directory, "train-images-idx3-ubyte"))
    labels = read_idx(_find_idx(directory, "train-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"MNIST files in {directory!r} disagree: images {images.shape}, labels {labels.shape}"
        )
    X = images.reshape(images.shape[0], -1).astype(np.float64) / 255.0
    y = labels.astype(np.int64)
    if n_samples is not None:
        n_samples = check_positive_int("n_samples", n_samples)
    n_test = check_positive_int("n_test", n_test, minimum=0)
    n_classes = int(y.max()) + 1
    return _subset(X, y, n_samples, n_test, np.random.default_rng(seed), "MNIST", n_classes, {})
