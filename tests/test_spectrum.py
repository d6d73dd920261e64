"""Spectrum analysis: eigenvalues, outlier counts, zero and negative eigenvalues."""

import numpy as np
import pytest

from hessian_spectra import spectrum

from .cases import Case, build


def _planted(rng, outliers, n_bulk=300, bulk_scale=1e-3):
    """A symmetric matrix with known eigenvalues: `outliers` plus a bulk in [0, bulk_scale]."""
    w = np.concatenate([outliers, bulk_scale * rng.random(n_bulk)])
    Q, _ = np.linalg.qr(rng.standard_normal((w.size, w.size)))
    return (Q * w) @ Q.T, np.sort(w)


@pytest.mark.parametrize("driver", spectrum.DRIVERS)
def test_eigenvalues_match_a_planted_spectrum(driver, rng):
    """eigh of Q diag(w) Qᵀ returns w (ascending) to 1e-12 relative to the norm, for every driver."""
    M, w = _planted(rng, [1.0, 0.5, 0.2], n_bulk=150)
    np.testing.assert_allclose(spectrum.eigenvalues(M, driver), w, atol=1e-12)
    vals, vecs = spectrum.eigh(M, driver)
    # Orthogonality: MRRR (evr) guarantees O(Pε) only for well-separated eigenvalues; the tight
    # bulk here (300 values in [0, 1e-3]) costs it a few digits, so 1e-10 is the bound for all.
    np.testing.assert_allclose(vecs.T @ vecs, np.eye(w.size), atol=1e-10)
    np.testing.assert_allclose(M @ vecs, vecs * vals, atol=1e-10)


needs_two_stage = pytest.mark.skipif(
    not spectrum.two_stage_available(), reason="no bundled OpenBLAS with dsyevd_2stage here"
)


@needs_two_stage
@pytest.mark.parametrize("n", [1, 2, 7, 64, 600])
def test_two_stage_eigenvalues_match_a_planted_spectrum(n, rng):
    """The two-stage driver returns the planted eigenvalues of Q diag(w) Qᵀ (ascending) to
    1e-13 relative to the largest (backward-stable reduction: error O(n ε ‖M‖)), refuses a matrix
    that is not symmetric (instead of reading one triangle of it), and leaves its input unchanged;
    C- and Fortran-ordered inputs agree bitwise."""
    w = np.sort(np.concatenate([rng.standard_normal(n - n // 3), 1e-6 * rng.random(n // 3)]))
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    M = (Q * w) @ Q.T
    M = np.tril(M) + np.tril(M, -1).T  # exactly symmetric
    before = M.copy()
    got = spectrum.eigenvalues(M, spectrum.TWO_STAGE)
    assert np.array_equal(M, before)
    np.testing.assert_allclose(got, w, rtol=0, atol=1e-13 * np.abs(w).max())
    if n > 1:
        upper_garbage = M + np.triu(np.full_like(M, 7.0), 1)
        with pytest.raises(ValueError, match="must be symmetric"):
            spectrum.eigenvalues(upper_garbage, spectrum.TWO_STAGE)
    assert np.array_equal(spectrum.eigenvalues(np.asfortranarray(M), spectrum.TWO_STAGE), got)


@needs_two_stage
def test_two_stage_agrees_with_scipy_on_a_hessian():
    """On an exact Hessian (P = 87, a trained tanh network) the two-stage eigenvalues equal
    scipy's evd ones to 1e-12 of the largest."""
    import hessian_spectra as hs

    obj, w = build(Case((5, 8, 3, 3), n_samples=40, labels="uniform", train_steps=50, lr=0.1))
    H = hs.hessian_terms(obj.X, obj.y, w, obj.layer_sizes, obj.activation, obj.loss, ("H",))["H"]
    ref = spectrum.eigenvalues(H, "evd")
    np.testing.assert_allclose(
        spectrum.eigenvalues(H, spectrum.TWO_STAGE), ref, rtol=0, atol=1e-12 * np.abs(ref).max()
    )


def test_two_stage_driver_is_refused_for_eigenvectors():
    """``eigh`` (eigenvectors) does not accept the eigenvalues-only two-stage driver."""
    with pytest.raises(ValueError, match="driver must be one of"):
        spectrum.eigh(np.eye(3), spectrum.TWO_STAGE)


@pytest.mark.parametrize("k", [1, 2, 5, 10, 50])
def test_outlier_counts_find_planted_outliers(k, rng):
    """k outliers in [0.05, 0.2] above a bulk in [0, 1e-3]: all three rules count k... except that
    the gap rule counts only down to the largest gap, so here the outliers are evenly spaced and the
    gap to the bulk (≥ 0.049) is the largest."""
    outliers = np.linspace(0.2, 0.05, k) if k > 1 else np.array([0.2])
    if k > 1 and (0.2 - 0.05) / (k - 1) > 0.049:
        outliers = np.linspace(0.2, 0.2 - 0.04 * (k - 1), k)
    w = np.concatenate([outliers, 1e-3 * rng.random(400)])
    counts = spectrum.outlier_counts(w)
    assert counts == {"gap": k, "ratio": k, "elbow": k}


def test_gap_and_ratio_can_disagree():
    """Outliers (10, 1, 0.9) over a bulk at ≤ 0.01: the largest gap is after 10 (count 1), the
    largest ratio after 0.9 (count 3): the rules measure different things, as in S18's Table 1."""
    w = np.concatenate([[10.0, 1.0, 0.9], np.linspace(0.01, 0.001, 50)])
    assert spectrum.outlier_count_gap(w) == 1
    assert spectrum.outlier_count_ratio(w) == 3
    assert spectrum.outlier_count_elbow(w, threshold=0.5) == 3


def test_zero_count_of_a_low_rank_gram_matrix(rng):
    """B Bᵀ with B of shape P×r has exactly P − r zero eigenvalues; the round-off tolerance
    P·ε·max|λ| separates them from the r positive ones."""
    P, r = 120, 17
    B = rng.standard_normal((P, r))
    w = spectrum.eigenvalues(B @ B.T)
    assert spectrum.count_zero(w) == P - r
    tol = spectrum.zero_tolerance(w)
    assert np.isclose(tol, P * np.finfo(float).eps * w.max())
    assert np.sort(w)[::-1][r - 1] > 1e6 * tol


def test_negative_stats():
    """Counts, fraction and most negative value beyond round-off; round-off negatives are ignored."""
    w = np.array([-0.5, -0.1, -1e-18, 0.0, 2.0])
    s = spectrum.negative_stats(w)
    assert s["count"] == 2 and s["fraction"] == 0.4 and s["most_negative"] == -0.5
    assert np.isclose(s["ratio_to_top"], 0.25) and np.isclose(s["sum"], -0.6)


def test_bulk_edge_and_summary(rng):
    """The bulk edge is the (k+1)-th largest eigenvalue; summarize gathers every statistic."""
    w = np.concatenate([[3.0, 2.0], 0.01 * rng.random(100)])
    assert spectrum.bulk_edge(w, 2) == np.sort(w)[-3]
    s = spectrum.summarize(w)
    assert s["outliers"]["elbow"] == 2 and s["max"] == 3.0 and s["n"] == 102


def test_bad_inputs():
    """Non-square or non-finite matrices and unknown drivers are refused with clear messages."""
    with pytest.raises(ValueError, match="must be square"):
        spectrum.eigenvalues(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="non-finite"):
        spectrum.eigenvalues(np.array([[np.nan, 0], [0, 1.0]]))
    with pytest.raises(ValueError, match="driver must be one of"):
        spectrum.eigenvalues(np.eye(2), driver="qr")
    with pytest.raises(ValueError, match="n_outliers"):
        spectrum.bulk_edge(np.ones(3), 3)


def _stepped(k, n=300, top=1.0, step=8.0, rng=None, noise=0.05):
    """A spectrum with k eigenvalues near ``top`` (spread ±20 %), a drop by ``step``, then a decaying bulk."""
    rng = np.random.default_rng(0) if rng is None else rng
    outliers = top * (1 + 0.2 * rng.uniform(-1, 1, k))
    bulk = (top / step) * np.geomspace(1, 1e-4, n - k) * (1 + noise * rng.uniform(-1, 1, n - k))
    return np.concatenate([outliers, bulk])


def test_row_threshold_recovers_planted_steps_without_knowing_k():
    """One threshold for a row of spectra with steps after k = 2, 5, 10, 20 eigenvalues (every step a
    drop by ×8 from outliers spread ±20 %; a bulk decaying smoothly below): counting above it gives
    exactly 2, 5, 10, 20 — the rule is not told k."""
    rng = np.random.default_rng(1)
    ks = [2, 5, 10, 20]
    row = [_stepped(k, rng=rng) for k in ks]
    t = spectrum.row_threshold(row)
    assert [spectrum.outlier_count_elbow(w, threshold=t) for w in row] == ks


def test_row_threshold_is_not_captured_by_one_isolated_top_eigenvalue():
    """In a row of five spectra with a ×8 step after k, one spectrum also has its λ₁ isolated by ×20
    above λ₂: the summed log-gaps still put the threshold in the common step (score 5·log 8 ≈ 10.4
    against log 20 ≈ 3.0), and every count is k."""
    rng = np.random.default_rng(2)
    row = [_stepped(k, rng=rng) for k in (3, 4, 5, 6, 7)]
    row[2][0] = 20 * row[2][1:].max()
    t = spectrum.row_threshold(row)
    assert [spectrum.outlier_count_elbow(w, threshold=t) for w in row] == [3, 4, 5, 6, 7]


def test_row_threshold_finds_a_joint_gap_that_no_single_spectrum_brackets():
    """Spectrum A: 3 outliers in [0.9, 1.2] over a bulk at ≤ 0.1; spectrum B: 5 outliers in
    [0.15, 0.2] over a bulk at ≤ 0.02. Only thresholds in (0.1, 0.15) cut both at their steps, and
    no geometric midpoint of one spectrum's own consecutive eigenvalues lies there (A's step
    midpoint ≈ 0.3, B's ≈ 0.055), so candidates must come from the merged list of both spectra:
    the threshold lands in (0.1, 0.15) and the counts are 3 and 5 (taking candidates from each
    spectrum alone put it at 0.156, inside B's outliers, and counted 4 there)."""
    a = np.concatenate([[1.2, 1.0, 0.9], 0.1 * np.geomspace(1, 1e-3, 60)])
    b = np.concatenate([np.linspace(0.2, 0.15, 5), 0.02 * np.geomspace(1, 1e-2, 60)])
    t = spectrum.row_threshold([a, b])
    assert 0.1 < t < 0.15, t
    assert [spectrum.outlier_count_elbow(w, threshold=t) for w in (a, b)] == [3, 5]


def test_row_threshold_refuses_a_row_without_two_positive_eigenvalues():
    """A row whose spectra have no two positive eigenvalues above the floor has no gap to place a
    threshold in: a ValueError naming the spectra."""
    with pytest.raises(ValueError, match="spectra"):
        spectrum.row_threshold([np.array([1.0]), np.array([-1.0, -2.0])])


def test_ratio_count_from_j_2_looks_past_an_isolated_top():
    """λ₁ alone ×50 above λ₂ and a ×6 step after 5: the plain ratio rule counts 1, the rule over
    j ≥ 2 counts 5; on a spectrum with nothing above the floor but λ₁ both count 1."""
    w = np.concatenate([[50.0], 1 + 0.1 * np.arange(4), np.geomspace(0.15, 1e-3, 100)])
    assert spectrum.outlier_count_ratio(w) == 1
    assert spectrum.outlier_count_ratio(w, start=2) == 5
    lone = np.concatenate([[1.0], np.full(50, 1e-6)])
    assert spectrum.outlier_count_ratio(lone) == 1 and spectrum.outlier_count_ratio(lone, start=2) == 1


def test_negative_stats_with_an_explicit_tolerance_and_a_small_top():
    """An explicit tol replaces the round-off tolerance (only λ < −tol count), and ratio_to_top is
    |most negative| / λ_max whatever the size of λ_max (here 0.5); a 2-d input is refused."""
    w = np.array([-0.3, -0.1, -0.05, 0.2, 0.5])
    s = spectrum.negative_stats(w, tol=0.08)
    assert s["count"] == 2 and s["fraction"] == 0.4 and np.isclose(s["sum"], -0.4)
    assert np.isclose(s["ratio_to_top"], 0.6)
    assert spectrum.negative_stats(w)["count"] == 3
    with pytest.raises(ValueError, match="eigvals must be a 1-d array"):
        spectrum.negative_stats(w[None, :], tol=0.08)


def test_outlier_rules_respect_the_window_and_summarize_the_threshold():
    """The ratio rule looks only at the top `window` eigenvalues: over the top 5 of (10, 9, 8, 7, 6,
    0.01, ...) the largest ratio is 7/6 (count 4), over all of them 6/0.01 (count 5). summarize with a
    threshold counts the eigenvalues above it and reports it, its min and max; a window below 2, a
    negative n_outliers or a 2-d spectrum is refused naming the argument; one eigenvalue is one outlier
    by the gap rule."""
    w = np.concatenate([[10.0, 9.0, 8.0, 7.0, 6.0], np.linspace(0.01, 0.009, 20)])
    assert spectrum.outlier_count_ratio(w) == 5
    assert spectrum.outlier_counts(w, window=5)["ratio"] == 4
    s = spectrum.summarize(w, threshold=7.5)
    assert s["outliers"]["elbow"] == 3 and s["elbow_threshold"] == 7.5
    assert s["min"] == 0.009 and s["max"] == 10.0 and s["bulk_edge"] == 7.0
    with pytest.raises(ValueError, match="^window must be"):
        spectrum.outlier_count_gap(w, window=1)
    assert spectrum.outlier_count_gap(w, window=2) == 1
    with pytest.raises(ValueError, match="^n_outliers must be"):
        spectrum.bulk_edge(w, -1)
    for fn in (spectrum.count_zero, spectrum.bulk_edge, spectrum.outlier_count_gap):
        with pytest.raises(ValueError, match="^eigvals must be a 1-d array"):
            fn(w[None, :], *([1] if fn is spectrum.bulk_edge else []))
    assert spectrum.outlier_count_gap([3.0]) == 1
