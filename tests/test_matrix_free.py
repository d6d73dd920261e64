"""Matrix-free curvature (issue #7): every product, eigenvalue, moment, density and trace is checked
against the dense route on networks small enough for both.

Dense references are built here, independently of the code under test:
H by ``autograd.hessian`` (``curvature.reference``), G as (1/N) Σ J_iᵀ A_i J_i from
``autograd.jacobian`` of the logits and the closed-form A_i of ``losses.logit_hessian``, and R as
H − G (the operator computes R by its own route, the Hessian of the frozen-residual objective).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from autograd import hessian as autograd_hessian
from autograd import jacobian
from scipy.linalg import eigh
from scipy.sparse.linalg import LinearOperator, aslinearoperator, cg, eigsh

from hessian_spectra import _checks, losses, mlp
from hessian_spectra.cli import main
from hessian_spectra.curvature import lanczos as lz
from hessian_spectra.curvature import matrix_free as mf
from hessian_spectra.curvature import reference
from hessian_spectra.objective import Objective

SIZES = (5, 8, 6, 3)  # two hidden layers, P = 48 + 54 + 21 = 123
N = 30

# Round-off level for products: each is a few BLAS passes in float64 (relative error measured
# ~4e-16); 1e-10 is the project's "exact" threshold.
PRODUCT_RTOL = 1e-10
# Lanczos eigenvalues: the solver is run with tol 1e-12 relative to ‖M‖, so errors are ~1e-12·‖M‖;
# the bound is relative 1e-8 per eigenvalue.
EIG_RTOL = 1e-8


def _problem(activation="tanh", loss="cross_entropy", seed=0, scale=0.7):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N, SIZES[0]))
    y = rng.integers(0, SIZES[-1], size=N)
    objective = Objective(X, y, SIZES, activation, loss)
    # scale 0.7 puts the tanh units in their nonlinear range: H, G and R all far from zero.
    params = mlp.init_params(SIZES, "normal", seed=seed + 1, scale=scale)
    return objective, params


def _dense_terms(objective, params):
    """H by autograd; G = (1/N) Σ J_iᵀ A_i J_i from the autograd Jacobian; R = H − G."""
    H = reference.hessian(objective, params)
    J = jacobian(objective.logits)(params)  # (N, C, P)
    A = losses.logit_hessian(objective.logits(params), objective.y, objective.loss)  # (N, C, C)
    G = np.einsum("ncp,ncd,ndq->pq", J, A, J) / objective.n_samples
    return {"H": H, "G": G, "R": H - G}


@pytest.fixture(scope="module")
def tanh_ce():
    objective, params = _problem("tanh", "cross_entropy")
    return objective, params, _dense_terms(objective, params)


def _rel(a, b):
    return np.linalg.norm(np.asarray(a) - np.asarray(b)) / np.linalg.norm(np.asarray(b))


# --------------------------------------------------------------------------------------------
# Products
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "activation,loss",
    [("tanh", "cross_entropy"), ("relu", "mse"), ("softplus", "cross_entropy"), ("sigmoid", "mse")],
)
def test_products_equal_dense_matrix_times_vector(activation, loss):
    """H v, G v and R v from the operators equal the dense H, G, R times v (relative ≤ 1e-10)."""
    objective, params = _problem(activation, loss)
    dense = _dense_terms(objective, params)
    rng = np.random.default_rng(5)
    V = rng.normal(size=(objective.n_params, 3))
    for term, M in dense.items():
        op = mf.curvature_operator(objective, params, term)
        for j in range(V.shape[1]):
            err = _rel(op.matvec(V[:, j]), M @ V[:, j])
            assert err <= PRODUCT_RTOL, f"{term} ({activation}, {loss}): relative error {err:.2e}"


def test_dense_references_are_consistent(tanh_ce):
    """The test's R = H − G equals autograd's Hessian of the frozen-residual objective (1/N) Σ r_iᵀ f_i."""
    objective, params, dense = tanh_ce
    r = losses.logit_gradient(objective.logits(params), objective.y, objective.loss)
    R_frozen = autograd_hessian(lambda w: np.sum(r * objective.logits(w)) / objective.n_samples)(params)
    err = np.abs(R_frozen - dense["R"]).max() / np.abs(dense["H"]).max()
    assert err <= 1e-12, err  # two dense autograd routes, round-off only


def test_h_equals_g_plus_r_operatorwise(tanh_ce):
    """Hv = Gv + Rv for the three independent operator routes (relative ≤ 1e-10)."""
    objective, params, _ = tanh_ce
    v = np.random.default_rng(1).normal(size=objective.n_params)
    H, G, R = (mf.curvature_operator(objective, params, t) for t in "HGR")
    assert _rel(G @ v + R @ v, H @ v) <= PRODUCT_RTOL


def test_operators_count_products_and_are_symmetric(tanh_ce):
    """n_products counts every vector (matmat columns included); rmatvec = matvec (symmetric)."""
    objective, params, dense = tanh_ce
    op = mf.gauss_newton_operator(objective, params)
    assert op.n_products == 0
    rng = np.random.default_rng(2)
    op.matvec(rng.normal(size=objective.n_params))
    Y = op.matmat(rng.normal(size=(objective.n_params, 4)))
    assert Y.shape == (objective.n_params, 4)
    v = rng.normal(size=objective.n_params)
    assert np.array_equal(op.rmatvec(v), op.matvec(v))
    assert op.n_products == 1 + 4 + 2
    assert _rel(op.H @ v, dense["G"] @ v) <= PRODUCT_RTOL


def test_operators_work_with_scipy_eigsh_and_cg(tanh_ce):
    """The operators are LinearOperators: eigsh gives the dense top eigenvalues, cg solves (G + δI)x = b."""
    objective, params, dense = tanh_ce
    H = mf.hessian_operator(objective, params)
    assert isinstance(H, LinearOperator) and H.shape == (objective.n_params,) * 2
    top = np.sort(eigsh(H, k=3, which="LA", tol=1e-12, return_eigenvectors=False))[::-1]
    exact = eigh(dense["H"], eigvals_only=True)[::-1][:3]
    np.testing.assert_allclose(top, exact, rtol=EIG_RTOL)

    G = mf.gauss_newton_operator(objective, params)
    delta = 1e-2 * np.abs(eigh(dense["G"], eigvals_only=True)).max()  # condition number ≤ 101
    b = np.random.default_rng(3).normal(size=objective.n_params)
    x, status = cg(G + delta * aslinearoperator(np.eye(objective.n_params)), b, rtol=1e-13, maxiter=2000)
    assert status == 0
    x_exact = np.linalg.solve(dense["G"] + delta * np.eye(objective.n_params), b)
    assert _rel(x, x_exact) <= 1e-9  # cond ≤ 101 times the 1e-13 residual, plus round-off


def test_product_memory_is_linear_not_quadratic():
    """One product of H, G or R allocates O(P + N·Σwidths) floats, far below one P×P matrix or one
    N·C×P Jacobian (measured with tracemalloc on a 400-50-10 network, P = 20,560)."""
    rng = np.random.default_rng(0)
    sizes, n = (400, 50, 10), 40
    objective = Objective(rng.normal(size=(n, 400)), rng.integers(0, 10, n), sizes, "tanh", "cross_entropy")
    params = mlp.init_params(sizes, "normal", seed=1)
    P = objective.n_params
    budget = 10 * 8 * (P + n * sum(sizes))  # 10 vectors of the working-set size: 3.0 MiB (measured ≤ 1.1)
    jacobian_bytes = 8 * n * sizes[-1] * P  # 66 MB: what forming J would cost
    assert budget < jacobian_bytes / 5 and budget < 8 * P * P / 100
    v = rng.normal(size=P)
    for term in "HGR":
        op = mf.curvature_operator(objective, params, term)
        op.matvec(v)  # warm-up (first-call caches)
        tracemalloc.start()
        op.matvec(v)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak <= budget, f"{term}: one product peaked at {peak / 2**20:.1f} MiB"


# --------------------------------------------------------------------------------------------
# Lanczos
# --------------------------------------------------------------------------------------------


def test_lanczos_vectors_orthonormal_and_tridiagonalize(tanh_ce):
    """With full reorthogonalization Q Qᵀ = I and Q H Qᵀ = T to round-off after 40 steps."""
    objective, params, dense = tanh_ce
    v0 = np.random.default_rng(4).normal(size=objective.n_params)
    alpha, beta, Q = mf.lanczos(mf.hessian_operator(objective, params), v0, 40)
    assert alpha.shape == (40,) and beta.shape == (39,) and Q.shape == (40, objective.n_params)
    T = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
    assert np.abs(Q @ Q.T - np.eye(40)).max() <= 1e-13
    assert np.abs(Q @ dense["H"] @ Q.T - T).max() <= 1e-12 * np.abs(alpha).max()
    np.testing.assert_allclose(Q[0], v0 / np.linalg.norm(v0), rtol=0, atol=1e-15)


def test_gauss_quadrature_exact_up_to_degree_2m_minus_1(tanh_ce):
    """Σ_j w_j θ_j^k = v̂ᵀHᵏv̂ for k ≤ 2m − 1 at round-off (Golub & Welsch, 1969; G19), and not at k = 2m."""
    objective, params, dense = tanh_ce
    m = 6
    v = np.random.default_rng(6).normal(size=objective.n_params)
    v_hat = v / np.linalg.norm(v)
    nodes, weights = mf.gauss_quadrature(*mf.lanczos(mf.hessian_operator(objective, params), v, m)[:2])
    x = v_hat.copy()
    for k in range(2 * m + 1):
        exact = v_hat @ x
        err = abs(np.sum(weights * nodes**k) - exact) / abs(exact)
        if k < 2 * m:
            assert err <= 1e-12, f"degree {k}: {err:.1e}"
        else:  # measured 5e-5: the degree bound is sharp
            assert err >= 1e-8, f"degree {k} should not be exact; error {err:.1e}"
        x = dense["H"] @ x


def test_lanczos_stops_on_invariant_subspace():
    """On diag with 4 distinct eigenvalues Lanczos stops after 4 steps; the quadrature nodes are the
    eigenvalues and the weights the squared projections of the start vector on the eigenspaces."""
    eigenvalues = np.repeat([-1.0, 0.0, 0.5, 2.0], [10, 20, 5, 15])
    rng = np.random.default_rng(7)
    v0 = rng.normal(size=eigenvalues.size)
    alpha, beta, Q = mf.lanczos(aslinearoperator(np.diag(eigenvalues)), v0, 30)
    assert alpha.size == 4 and Q.shape[0] == 4
    nodes, weights = mf.gauss_quadrature(alpha, beta)
    np.testing.assert_allclose(nodes, [-1.0, 0.0, 0.5, 2.0], atol=1e-13)
    projections = np.array([np.sum(v0[eigenvalues == lam] ** 2) for lam in [-1.0, 0.0, 0.5, 2.0]])
    np.testing.assert_allclose(weights, projections / np.sum(v0**2), atol=1e-13)


@pytest.mark.parametrize(
    "term,whiches", [("H", ("largest", "smallest")), ("G", ("largest",)), ("R", ("largest", "smallest"))]
)
def test_top_k_eigenvalues_equal_dense(tanh_ce, term, whiches):
    """Lanczos' k = 6 largest (descending) and smallest (ascending) eigenvalues equal the dense ones
    (relative ≤ 1e-8); info['n_products'] is the number of products the operator served."""
    objective, params, dense = tanh_ce
    exact = eigh(dense[term], eigvals_only=True)
    k = 6
    for which in whiches:
        vals, info = mf.top_eigenvalues(objective, params, k, which=which, term=term, tol=1e-12)
        want = exact[::-1][:k] if which == "largest" else exact[:k]
        assert vals.shape == (k,)
        assert np.all(np.diff(vals) <= 0) if which == "largest" else np.all(np.diff(vals) >= 0)
        np.testing.assert_allclose(vals, want, rtol=EIG_RTOL, err_msg=f"{term} {which}")
        assert info["n_products"] > 0 and info["n_converged"] == k

    op = mf.curvature_operator(objective, params, term)
    _, vecs, info = mf.extreme_eigenpairs(op, 3, tol=1e-12, return_eigenvectors=True, compute_residuals=True)
    assert info["n_products"] == op.n_products  # every product counted once
    assert info["n_products_residuals"] == 3
    assert np.all(info["residuals"] <= 1e-9 * np.abs(exact).max())
    np.testing.assert_allclose(vecs.T @ vecs, np.eye(3), atol=1e-10)


def test_nothing_converged_raises_arithmetic_error():
    """When none of the wanted pairs meets the tolerance within the budget (the 5 smallest of 2,000
    evenly spaced eigenvalues, tol 1e-14, 30 products), LanczosNoConvergenceError (an
    ArithmeticError, printed by the CLI as one line) says what to change."""
    op = aslinearoperator(np.diag(np.linspace(0.0, 1.0, 2000)))
    with pytest.raises(mf.LanczosNoConvergenceError, match="none of the 5.*max_products.*tol") as exc:
        mf.extreme_eigenpairs(op, 5, which="smallest", tol=1e-14, max_products=30)
    assert isinstance(exc.value, ArithmeticError)


def test_top_eigenvalues_reproducible_with_seed(tanh_ce):
    """The same seed gives bit-identical eigenvalues and product counts."""
    objective, params, _ = tanh_ce
    a, ia = mf.top_eigenvalues(objective, params, 4, seed=11)
    b, ib = mf.top_eigenvalues(objective, params, 4, seed=11)
    assert np.array_equal(a, b) and ia["n_products"] == ib["n_products"]


# --------------------------------------------------------------------------------------------
# Stochastic Lanczos quadrature
# --------------------------------------------------------------------------------------------


def test_slq_moments_match_traces_of_powers(tanh_ce):
    """The SLQ moments Σ_j w_j θ_j^k average to tr(Hᵏ)/P: exactly 1 for k = 0, within 4 standard
    errors (across 30 probes) for k = 1, 2, 3."""
    objective, params, dense = tanh_ce
    P = objective.n_params
    nodes, weights = mf.slq(mf.hessian_operator(objective, params), n_vectors=30, n_steps=20, rng=8)
    assert nodes.shape == weights.shape == (30, 20)
    exact_eigs = eigh(dense["H"], eigvals_only=True)
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-13)
    for k in (1, 2, 3):
        per_probe = np.sum(weights * nodes**k, axis=1)
        mean, se = per_probe.mean(), per_probe.std(ddof=1) / np.sqrt(per_probe.size)
        exact = np.sum(exact_eigs**k) / P
        assert abs(mean - exact) <= 4 * se, f"k={k}: {mean:.5g} vs {exact:.5g} (SE {se:.2g})"
        assert se <= 0.25 * abs(exact), f"k={k}: standard error {se:.2g} too large to test anything"


def test_slq_density_close_to_smoothed_exact_density(tanh_ce):
    """The SLQ density (20 probes, 30 steps, σ² = 1e-3, i.e. σ ≈ 1.4% of the spectral width)
    is within L1 distance 0.15 of the Gaussian-smoothed exact density; measured 0.06 on average
    (max 0.09) over 20 seeds. The smoothed density of G, a different matrix, is 0.80 away (checked
    ≥ 0.3), so the bound discriminates. The density integrates to 1 and its grid covers the spectrum."""
    objective, params, dense = tanh_ce
    P = objective.n_params
    sigma2 = 1e-3
    grid, density = mf.spectral_density(objective, params, rng=9, n_vectors=20, n_steps=30, sigma2=sigma2)
    exact_eigs = eigh(dense["H"], eigvals_only=True)
    assert grid[0] <= exact_eigs[0] and grid[-1] >= exact_eigs[-1]
    assert abs(np.trapezoid(density, grid) - 1.0) <= 1e-6

    def smoothed(eigs):
        return mf.density_from_nodes(eigs[None, :], np.full((1, P), 1.0 / P), grid=grid, sigma2=sigma2)[1]

    # the exact smoothed density, written out independently of density_from_nodes
    d = grid[:, None] - exact_eigs[None, :]
    by_hand = np.exp(-(d**2) / (2 * sigma2)).sum(axis=1) / (P * np.sqrt(2 * np.pi * sigma2))
    np.testing.assert_allclose(smoothed(exact_eigs), by_hand, rtol=1e-12, atol=1e-300)

    l1 = np.trapezoid(np.abs(density - by_hand), grid)
    assert l1 <= 0.15, f"L1 distance {l1:.3f}"
    l1_wrong = np.trapezoid(np.abs(density - smoothed(eigh(dense["G"], eigvals_only=True))), grid)
    assert l1_wrong >= 0.3, f"negative control only {l1_wrong:.3f} away"


def test_smoothing_rules_and_default_grid():
    """Default σ = 0.32% (√1e-5) of the range of the nodes; G19's σ² = 1e-5·max(1, λmax − λmin) on
    request; the grid spans the nodes ± 5σ, and the density at its end is the last Gaussian's tail."""
    nodes = np.array([[-0.2, 0.0, 3.0]])
    weights = np.array([[0.2, 0.5, 0.3]])
    assert mf.smoothing_variance(-0.2, 3.0) == pytest.approx(1e-5 * 3.2**2, rel=1e-12)
    assert mf.smoothing_variance(-0.2, 3.0, "g19") == pytest.approx(1e-5 * 3.2, rel=1e-15)
    assert mf.smoothing_variance(0.0, 0.5, "g19") == pytest.approx(1e-5, rel=1e-15)  # absolute below 1
    assert mf.smoothing_variance(0.0, 0.011) == pytest.approx(1e-5 * 0.011**2, rel=1e-12)
    for rule, sigma2 in (("relative", 1e-5 * 3.2**2), ("g19", 1e-5 * 3.2)):
        grid, density = mf.density_from_nodes(
            nodes, weights, n_points=2001, sigma2=None if rule == "relative" else rule
        )
        assert grid.size == 2001
        assert grid[0] == pytest.approx(-0.2 - 5 * np.sqrt(sigma2), rel=1e-12)
        assert grid[-1] == pytest.approx(3.0 + 5 * np.sqrt(sigma2), rel=1e-12)
        peak = 0.3 / np.sqrt(2 * np.pi * sigma2)  # the Gaussian at 3.0 alone, evaluated at its centre
        assert density[-1] == pytest.approx(peak * np.exp(-12.5), rel=1e-9)
    with pytest.raises(ValueError, match="sigma2"):
        mf.density_from_nodes(nodes, weights, sigma2="wide")


def test_default_density_separates_outliers_from_bulk_on_a_narrow_spectrum():
    """On a spectrum of range 0.011 (a trained network's: a bulk at 0 and outliers at 0.004-0.011),
    the default kernel keeps the outliers apart: the density falls by more than 1e4 between the
    bulk and the first outlier. G19's absolute σ ≈ 0.0032 (29% of the range) merges them (the dip
    is less than a factor 10)."""
    rng = np.random.default_rng(0)
    eigs = np.concatenate(
        [rng.normal(0.0, 1e-5, 990), [0.004, 0.005, 0.006, 0.007, 0.008, 0.009, 0.01, 0.011]]
    )
    w = np.full((1, eigs.size), 1.0 / eigs.size)
    for rule, min_dip, max_dip in ((None, 1e4, np.inf), ("g19", 1.0, 10.0)):
        grid, density = mf.density_from_nodes(eigs[None, :], w, sigma2=rule)
        bulk = density[np.abs(grid) <= 1e-4].max()
        between = density[(grid > 0.0015) & (grid < 0.0025)].min()
        dip = bulk / max(between, 1e-300)
        assert min_dip <= dip <= max_dip, (rule, dip)


# --------------------------------------------------------------------------------------------
# Hutchinson
# --------------------------------------------------------------------------------------------


def test_hutchinson_error_matches_theory_and_shrinks_like_inverse_sqrt_n():
    """For Rademacher probes Var(t̂) = 2(‖A‖_F² − Σ A_ii²)/n: over 300 repetitions the mean squared
    error with n = 16 and n = 64 matches it (within 30%), so the error halves when n quadruples,
    and the reported standard error squared is unbiased for it (within 15%)."""
    rng = np.random.default_rng(10)
    B = rng.normal(size=(40, 40))
    A = (B + B.T) / 2 + np.diag(rng.uniform(0, 5, 40))
    op = aslinearoperator(A)
    var_one = 2 * (np.sum(A**2) - np.sum(np.diag(A) ** 2))
    reps = 300
    mse = {}
    for n in (16, 64):
        est, se = zip(*(mf.hutchinson_trace(op, n, rng=rng) for _ in range(reps)), strict=True)
        mse[n] = np.mean((np.array(est) - np.trace(A)) ** 2)
        # relative SE of a 300-sample mean square is ~8%; 30% is ~4 SE
        assert 0.7 <= mse[n] / (var_one / n) <= 1.3, (n, mse[n] / (var_one / n))
        assert 0.85 <= np.mean(np.square(se)) / (var_one / n) <= 1.15
    ratio = np.sqrt(mse[64] / mse[16])
    assert 0.4 <= ratio <= 0.6, ratio  # 1/√4 = 0.5


def test_hutchinson_on_hessian_operator_covers_exact_trace(tanh_ce):
    """Hutchinson on the matrix-free H with 200 probes is within 4 standard errors of tr H."""
    objective, params, dense = tanh_ce
    est, se = mf.trace_estimate(objective, params, n_samples=200, rng=12)
    exact = np.trace(dense["H"])
    assert abs(est - exact) <= 4 * se, (est, exact, se)
    assert se <= 0.2 * abs(exact)


# --------------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------------


def test_bad_arguments_raise_value_errors(tanh_ce):
    """Bad arguments raise ValueError naming the argument."""
    objective, params, _ = tanh_ce
    P = objective.n_params
    op = mf.hessian_operator(objective, params)
    with pytest.raises(ValueError, match="term"):
        mf.curvature_operator(objective, params, "F")
    with pytest.raises(ValueError, match="params"):
        mf.hessian_operator(objective, params[:-1])
    with pytest.raises(ValueError, match="objective"):
        mf.hessian_operator("loss", params)
    with pytest.raises(ValueError, match="k must be smaller"):
        mf.top_eigenvalues(objective, params, P)
    with pytest.raises(ValueError, match="k must be an integer"):
        mf.top_eigenvalues(objective, params, 0)
    with pytest.raises(ValueError, match="which"):
        mf.top_eigenvalues(objective, params, 2, which="top")
    with pytest.raises(ValueError, match="ncv"):
        mf.top_eigenvalues(objective, params, 4, ncv=3)
    with pytest.raises(ValueError, match="v0"):
        mf.lanczos(op, np.zeros(P), 5)
    with pytest.raises(ValueError, match="v0"):
        mf.lanczos(op, np.ones(P + 1), 5)
    with pytest.raises(ValueError, match="n_steps"):
        mf.lanczos(op, np.ones(P), 0)
    with pytest.raises(ValueError, match="n_vectors"):
        mf.slq(op, n_vectors=0)
    with pytest.raises(ValueError, match="sigma2"):
        mf.density_from_nodes(np.zeros((1, 3)), np.ones((1, 3)) / 3, sigma2=-1.0)
    with pytest.raises(ValueError, match="n_samples"):
        mf.hutchinson_trace(op, 1)
    with pytest.raises(ValueError, match="square"):
        mf.lanczos(aslinearoperator(np.ones((3, 4))), np.ones(4), 2)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("mf") / "run.npz"
    code = main(
        ["train", "--data", "blobs", "--classes", "3", "--dim", "5", "--samples", "30", "--hidden", "6",
         "--activation", "tanh", "--steps", "200", "--lr", "0.5", "--no-progress", "--out", str(path)]
    )  # fmt: skip
    assert code == 0
    return path


def _dense_spectrum_of_run(path):
    raw = np.load(path)
    objective = Objective(
        raw["X"], raw["y"], tuple(raw["layer_sizes"]), str(raw["activation"]), str(raw["loss"])
    )
    return eigh(reference.hessian(objective, raw["params"]), eigvals_only=True)


@pytest.mark.parametrize("route_flag", [[], ["--matrix-free"]])
def test_cli_top_k_bottom_k_and_density_end_to_end(tiny_run, tmp_path, capsys, route_flag):
    """`hessian RUN --top-k 4 --bottom-k 3 --density --plot` on both routes (the dense one chosen for
    this P = 57, and the forced matrix-free one) writes the 4 largest eigenvalues descending and the
    3 smallest ascending, equal to autograd's dense spectrum, a density on its grid that integrates
    to 1, and a PNG; the first line of output names the route and why."""
    out, png = tmp_path / "mf.npz", tmp_path / "density.png"
    argv = ["hessian", str(tiny_run), "--out", str(out), "--top-k", "4", "--bottom-k", "3", "--density"]
    assert main([*argv, "--plot", str(png), *route_flag]) == 0
    first = capsys.readouterr().out.splitlines()[0]
    route = "matrix-free" if route_flag else "dense"
    assert first.startswith(f"route: {route} (") and ("--matrix-free" in first)
    res = np.load(out)
    assert str(res["route"]) == route
    for key in ("top_eigvals_H", "bottom_eigvals_H", "density_grid", "density_H", "params"):
        assert key in res.files, key
    top, bottom = res["top_eigvals_H"], res["bottom_eigvals_H"]
    assert top.shape == (4,) and bottom.shape == (3,)
    assert np.all(np.diff(top) <= 0) and np.all(np.diff(bottom) >= 0)
    exact = _dense_spectrum_of_run(tiny_run)
    scale = np.abs(exact).max()
    # tol = 1e-5 relative to ‖H‖ bounds every residual, hence every error, by 1e-5‖H‖ (measured
    # ~1e-15‖H‖: these isolated eigenvalues converge fully); the dense route is exact to round-off
    bound = lz.DEFAULT_TOL * scale
    np.testing.assert_allclose(top, exact[::-1][:4], rtol=0, atol=bound)
    np.testing.assert_allclose(bottom, exact[:3], rtol=0, atol=bound)
    if route_flag:
        assert {"n_products", "top_error_bounds_H", "bottom_converged_H"} <= set(res.files)
        assert np.all(res["top_converged_H"]) and np.all(res["bottom_converged_H"])
        assert np.all(np.abs(top - exact[::-1][:4]) <= res["top_error_bounds_H"])
    else:
        np.testing.assert_allclose(res["eigvals_H"], exact, rtol=0, atol=1e-12 * scale)
    grid, density = res["density_grid"], res["density_H"]
    assert grid.shape == density.shape and np.all(np.diff(grid) > 0)
    assert abs(np.trapezoid(density, grid) - 1.0) <= 1e-6
    assert grid[0] <= exact[0] and grid[-1] >= exact[-1]
    assert png.stat().st_size > 1000


def test_cli_top_k_alone_computes_only_the_largest(tiny_run, tmp_path):
    """`--top-k K` means the K largest only: no bottom key, and on the matrix-free route only one
    eigensolver run (its products are all the file reports)."""
    out = tmp_path / "top.npz"
    assert main(["hessian", str(tiny_run), "--out", str(out), "--top-k", "3", "--matrix-free"]) == 0
    res = np.load(out)
    assert "top_eigvals_H" in res.files and "bottom_eigvals_H" not in res.files
    raw = np.load(tiny_run)
    objective = Objective(
        raw["X"], raw["y"], tuple(raw["layer_sizes"]), str(raw["activation"]), str(raw["loss"])
    )
    _, info = mf.top_eigenvalues(objective, raw["params"], 3)  # the same call, on its own
    assert int(res["n_products"]) == info["n_products"]


def test_route_choice(monkeypatch):
    """The dense route is taken when the dense H fits and P is at most the measured crossover of
    the quantities asked for (the largest of them: the dense route computes all at once), and for
    --bottom-k whenever H fits; --matrix-free, a P above the crossover, or too little memory give
    the matrix-free route; the reason names the cause."""
    import argparse

    from hessian_spectra import _checks, cli

    def ns(**kw):
        base = {"top_k": None, "bottom_k": None, "density": False, "matrix_free": False}
        return argparse.Namespace(**{**base, **kw})

    limits = cli.DENSE_ROUTE_MAX_P
    assert cli._choose_route(ns(density=True), limits["density"])[0] == "dense"
    assert cli._choose_route(ns(density=True), limits["density"] + 1)[0] == "matrix-free"
    assert cli._choose_route(ns(top_k=5), limits["top"] + 1)[0] == "matrix-free"
    both = max(limits["top"], limits["density"])
    assert cli._choose_route(ns(top_k=5, density=True), both)[0] == "dense"
    assert cli._choose_route(ns(top_k=5, density=True), both + 1)[0] == "matrix-free"
    route, why = cli._choose_route(ns(bottom_k=5), 5_000)
    assert route == "dense" and "null space" in why
    route, why = cli._choose_route(ns(density=True, bottom_k=3, matrix_free=True), 10)
    assert route == "matrix-free" and "--matrix-free" in why
    monkeypatch.setattr(_checks, "available_memory_bytes", lambda: 1024)
    route, why = cli._choose_route(ns(bottom_k=5), 100)
    assert route == "matrix-free" and "would need" in why


def test_cli_budget_returns_partial_results_with_one_warning_line(tmp_path, capsys):
    """With a product budget too small for all K, the CLI still writes the K values (exit 0), marks
    the unconverged ones in `bottom_converged_H`, gives each an error bound that holds against the
    dense spectrum, and says so in one warning line."""
    run = tmp_path / "run.npz"
    assert (
        main(
            [
                "train",
                "--data",
                "blobs",
                "--classes",
                "3",
                "--dim",
                "12",
                "--samples",
                "40",
                "--hidden",
                "10",
                "--activation",
                "tanh",
                "--steps",
                "300",
                "--lr",
                "0.5",
                "--no-progress",
                "--out",
                str(run),
            ]
        )  # fmt: skip
        == 0
    )
    capsys.readouterr()
    out = tmp_path / "b.npz"
    argv = [
        "hessian",
        str(run),
        "--out",
        str(out),
        "--bottom-k",
        "8",
        "--matrix-free",
        "--max-products",
        "40",
    ]
    assert main([*argv, "--tol", "1e-10"]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert (
        len(err) == 1 and err[0].startswith("hessian-spectra: warning: --bottom-k:") and "converged" in err[0]
    )
    res = np.load(out)
    conv = res["bottom_converged_H"]
    assert conv.shape == (8,) and conv.any() and not conv.all()
    exact = _dense_spectrum_of_run(run)
    vals, bounds = res["bottom_eigvals_H"], res["bottom_error_bounds_H"]
    # each value has some eigenvalue within its residual (rigorous in exact arithmetic; the dense
    # reference eigenvalues and the residuals themselves carry round-off of order P·ε·‖H‖)
    dist = np.abs(vals[:, None] - exact[None, :]).min(axis=1)
    roundoff = exact.size * np.finfo(float).eps * np.abs(exact).max()
    assert np.all(dist <= res["bottom_residuals_H"] * (1 + 1e-8) + roundoff)
    assert np.all(np.abs(vals[conv] - exact[:8][conv]) <= bounds[conv])


def test_dense_refusal_names_the_matrix_free_path(tiny_run, tmp_path, monkeypatch, capsys):
    """When dense matrices do not fit, check_dense_fits and the dense CLI point to the matrix-free
    path, and that path then works on the same run."""
    with pytest.raises(_checks.DenseTooLargeError, match="matrix_free.*--top-k K --density"):
        _checks.check_dense_fits(55_660, n_matrices=2, available_bytes=2 * 2**30)
    monkeypatch.setattr(_checks, "available_memory_bytes", lambda: 1024)  # "too big" for 1 KiB
    code = main(["hessian", str(tiny_run), "--engine", "reference", "--out", str(tmp_path / "d.npz")])
    assert code == 2
    assert "--top-k K --density" in capsys.readouterr().err
    out = tmp_path / "mf.npz"
    assert (
        main(["hessian", str(tiny_run), "--out", str(out), "--top-k", "2", "--bottom-k", "2", "--density"])
        == 0
    )
    assert "route: matrix-free (a dense H would need" in capsys.readouterr().out
    assert {"top_eigvals_H", "bottom_eigvals_H", "density_grid", "density_H"} <= set(np.load(out).files)


def test_density_figure_draws_both_curves(tanh_ce, tmp_path):
    """plots.density_figure draws the estimate and the exact overlay on a log axis."""
    from hessian_spectra import plots

    grid = np.linspace(-1, 1, 201)
    est = np.exp(-(grid**2) / 0.02)
    fig = plots.density_figure(grid, est, title="t", exact_density=est * 1.1)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and len(ax.get_lines()) == 2
    plots.save_figure(fig, tmp_path / "d.png")
    with pytest.raises(ValueError, match="grid and density"):
        plots.density_figure(grid, est[:-1])
