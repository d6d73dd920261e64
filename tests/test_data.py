"""Data sets: blobs, two blobs, random patterns, digits, IDX files."""

import gzip

import numpy as np
import pytest

from hessian_spectra import data


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
    ds = data.blobs(n_samples=300, n_clusters=3, dim=5, n_test=50, seed=2)
    assert abs(ds.X.mean()) < 1e-12 and abs(ds.X.std() - 1) < 1e-12
    raw = data.blobs(n_samples=300, n_clusters=3, dim=5, n_test=50, seed=2, standardize=False)
    m, s = ds.info["standardize_mean"], ds.info["standardize_std"]
    np.testing.assert_allclose(ds.X_test, (raw.X_test - m) / s, rtol=1e-13)


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
    with pytest.raises(ValueError, match="truncated or corrupt"):
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
    with pytest.raises(ValueError, match="exceeds the 50 examples"):
        data.mnist(tmp_path, n_samples=45, n_test=10)
