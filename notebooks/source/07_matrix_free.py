# %% [markdown]
# # 7 · Matrix-free: Lanczos and stochastic Lanczos quadrature
#
# Everything so far diagonalized a dense $P \times P$ Hessian: $8P^2$ bytes of memory and $O(P^3)$
# time. That stops at a few tens of thousands of parameters. Beyond, one can still compute
# **Hessian-vector products** $v \mapsto Hv$ at the cost of a couple of gradients, and get
#
# - the extreme eigenvalues (the outliers) by the **Lanczos** method, and
# - the whole spectral density, smoothed, by **stochastic Lanczos quadrature** (SLQ; Ghorbani,
#   Krishnan & Xiao 2019).
#
# Here the network is small enough for the exact spectrum, so we can hold every matrix-free answer
# against it.

# %%
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's notebook widget is not needed

import matplotlib.pyplot as plt
import numpy as np

import hessian_spectra as hs
from hessian_spectra import spectrum
from hessian_spectra.curvature import lanczos, matrix_free

# %matplotlib inline

SEED = 0
rng = np.random.default_rng(SEED)

# The closed-form "fast" engine; engine="reference" gives the same matrices through autograd, slowly.
ENGINE = "fast"

# %% [markdown]
# A ReLU network $64 \to 16 \to 10$ ($P = 1{,}210$) trained by gradient descent on 300 digits, and
# its exact Hessian for reference.

# %%
digits = hs.digits(n_samples=300, seed=SEED)
sizes = (64, 16, 10)
objective = hs.Objective(digits.X, digits.y, sizes, activation="relu", loss="cross_entropy")
w = hs.train(
    objective, hs.init_params(sizes, "normal", seed=SEED), optimizer="gd", lr=0.3, steps=1000, progress=False
).params
P = objective.n_params
dense = hs.hessian_terms(digits.X, digits.y, w, sizes, "relu", terms=("H", "G", "R"), engine=ENGINE)
H = dense["H"]
eig = spectrum.eigenvalues(H)
print(f"P = {P}, loss {objective.loss_value(w):.4f}; exact spectrum in [{eig[0]:.2e}, {eig[-1]:.3f}]")

# %% [markdown]
# ## Hessian-vector products
#
# $Hv$ is the derivative of the gradient in the direction $v$ (Pearlmutter 1994):
#
# $$ Hv = \frac{d}{d\varepsilon}\,\nabla L(w + \varepsilon v)\Big|_{\varepsilon = 0} , $$
#
# one forward-mode derivative of the reverse-mode gradient: about the cost of two gradients, and no
# $P \times P$ matrix. The same works for each term of $H = G + R$: $Gv = \frac1N\sum_i J_i^\top
# A_i (J_i v)$ is a Jacobian-vector product, a $C \times C$ product per sample, and a
# vector-Jacobian product; $Rv$ is the Hessian-vector product of $\frac1N\sum_i r_i^\top f_i$ with the
# residuals frozen. The library wraps each as a `scipy.sparse.linalg.LinearOperator`.

# %%
H_op = matrix_free.hessian_operator(objective, w)
G_op = matrix_free.gauss_newton_operator(objective, w)
R_op = matrix_free.residual_operator(objective, w)
v = rng.standard_normal(P)
Hv, Gv, Rv = H_op @ v, G_op @ v, R_op @ v
print("‖Hv - H_dense v‖ / ‖H_dense v‖ =", np.linalg.norm(Hv - H @ v) / np.linalg.norm(H @ v))
print(
    "‖Gv - G_dense v‖ / ‖G_dense v‖ =", np.linalg.norm(Gv - dense["G"] @ v) / np.linalg.norm(dense["G"] @ v)
)
print("‖Hv - (Gv + Rv)‖ / ‖Hv‖       =", np.linalg.norm(Hv - (Gv + Rv)) / np.linalg.norm(Hv))
print(H_op)

# %% [markdown]
# ## The Lanczos process
#
# Start from a unit vector $q_1$ and build an orthonormal basis of the Krylov space
# $\mathrm{span}\{q_1, Hq_1, H^2q_1, \dots\}$ one product at a time:
#
# $$ w_j = H q_j - \alpha_j q_j - \beta_{j-1} q_{j-1}, \qquad \alpha_j = q_j^\top H q_j, \qquad
#    \beta_j = \lVert w_j\rVert, \qquad q_{j+1} = w_j/\beta_j . $$
#
# In the basis $Q_m = [q_1, \dots, q_m]$, $H$ becomes the $m \times m$ tridiagonal matrix $T_m$ with
# $\alpha$ on the diagonal and $\beta$ beside it. Its eigenvalues, the **Ritz values**, approximate
# those of $H$ — the extreme ones first, because the Krylov space is built by powers of $H$, which
# amplify the largest eigenvalues.

# %%
q1 = rng.standard_normal(P)
ms = [5, 10, 20, 40, 80]
ritz = {}
for m in ms:
    alpha, beta, _ = lanczos.lanczos(H_op, q1, m)
    ritz[m] = np.linalg.eigvalsh(np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1))
    err = np.abs(ritz[m][::-1][:3] - eig[::-1][:3]) / eig[-1]
    print(f"m = {m:3d}: top 3 Ritz values {np.round(ritz[m][::-1][:3], 6)}, relative errors {err}")
print("exact top 3:               ", np.round(eig[::-1][:3], 6))

fig, ax = plt.subplots(figsize=(7, 3.8))
for m in ms:
    ax.plot(np.full(ritz[m].size, m), ritz[m], "_", ms=12, color="C0")
ax.plot(np.full(10, 90), eig[::-1][:10], "_", ms=12, color="C3", label="exact top 10")
ax.set_xlabel("Lanczos steps m")
ax.set_ylabel("Ritz values")
ax.set_xticks(ms + [90])
ax.set_xticklabels([str(m) for m in ms] + ["exact"])
ax.legend(loc="center right")
plt.show()

# %% [markdown]
# After 10 steps — 10 Hessian-vector products — the largest eigenvalue is exact to round-off and the
# next two to 7 digits; after 20 steps all three are exact. The outliers converge fast because they
# are well separated; the interior of the bulk converges much later.
#
# **Loss of orthogonality.** In floating point the three-term recurrence forgets that the $q_j$ must
# be orthogonal as soon as a Ritz value converges (Paige 1976), and converged eigenvalues come back
# as spurious copies ("ghosts"). The library therefore reorthogonalizes every new vector against
# all previous ones (Ghorbani et al. do the same). Without it:

# %%
for reorth in (True, False):
    alpha, beta, _ = lanczos.lanczos(H_op, q1, 150, reorthogonalize=reorth)
    theta = np.linalg.eigvalsh(np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1))
    copies = int(np.sum(np.abs(theta - eig[-1]) < 1e-8 * eig[-1]))
    print(f"reorthogonalize={reorth}: {copies} Ritz value(s) equal to λ_max after 150 steps")

# %% [markdown]
# ## The top eigenvalues, matrix-free
#
# For the outliers one uses an implicitly restarted Lanczos method (ARPACK, via
# `scipy.sparse.linalg.eigsh`), which keeps memory bounded and stops when every requested eigenpair
# has a small residual.

# %%
top, info = matrix_free.top_eigenvalues(objective, w, 10)
print("top 10 by Lanczos:", np.round(top, 5))
print("top 10 exact:     ", np.round(eig[::-1][:10], 5))
print(f"Hessian-vector products used: {info['n_products']} (a dense Hessian costs the equivalent of P = {P})")

# %% [markdown]
# ## The whole density: stochastic Lanczos quadrature
#
# The spectral density is $\phi(t) = \frac1P\sum_j \delta(t - \lambda_j)$. For a random vector $v$
# with $\mathbb E\,vv^\top = I/P$ (random signs over $\sqrt P$) and any function $g$,
#
# $$ \mathbb E\, v^\top g(H)\, v = \frac1P \operatorname{tr} g(H) = \int g\, d\phi . $$
#
# And $m$ Lanczos steps started at $v$ turn $v^\top g(H) v$ into a Gauss quadrature: with
# $T_m = U\,\mathrm{diag}(\theta)\,U^\top$,
#
# $$ v^\top g(H)\, v \approx \sum_{j=1}^m U_{1j}^2\, g(\theta_j), $$
#
# **exact** when $g$ is a polynomial of degree $\le 2m - 1$. So each probe gives $m$ nodes
# $\theta_j$ with weights $U_{1j}^2$; averaging over probes and replacing each node by a narrow
# Gaussian gives a smooth estimate of $\phi$ (Ghorbani et al. 2019).
#
# First the exactness, for one probe and $g(t) = t^k$:

# %%
m = 12
z = rng.choice([-1.0, 1.0], size=P) / np.sqrt(P)
alpha, beta, _ = lanczos.lanczos(H_op, z, m)
nodes, weights = lanczos.gauss_quadrature(alpha, beta)
quad_errors = []
Hk_z = z.copy()
for k in range(1, 2 * m):
    Hk_z = H @ Hk_z  # H^k z with the dense matrix: an independent route
    exact = z @ Hk_z
    quad_errors.append(abs(np.sum(weights * nodes**k) - exact) / (np.linalg.norm(z) ** 2 * eig[-1] ** k))
print(f"relative error of the quadrature for t^k, k = 1..{2 * m - 1}: max {max(quad_errors):.1e}")

# %%
nodes_slq, weights_slq = matrix_free.slq(H_op, n_vectors=10, n_steps=80, rng=SEED)
sigma2 = 1e-5 * (eig[-1] - eig[0])  # Ghorbani et al.'s width: 1e-5 times the spectral range
grid = np.linspace(eig[0] - 0.02, eig[-1] + 0.02, 4000)
_, density_slq = lanczos.density_from_nodes(nodes_slq, weights_slq, grid=grid, sigma2=sigma2)
_, density_exact = lanczos.density_from_nodes(
    eig[None, :], np.full((1, P), 1.0 / P), grid=grid, sigma2=sigma2
)

fig, ax = plt.subplots(figsize=(8, 3.8))
ax.semilogy(grid, density_exact + 1e-8, color="0.3", lw=2, label="exact eigenvalues, smoothed")
ax.semilogy(grid, density_slq + 1e-8, color="C1", lw=1, label="SLQ: 10 probes × 80 steps")
ax.set_ylim(1e-5, None)
ax.set_xlabel("eigenvalue")
ax.set_ylabel("density (log scale)")
ax.legend()
plt.show()

# %% [markdown]
# With 800 Hessian-vector products in all, SLQ draws the bulk at zero and places the outliers
# where the exact spectrum has them: the Ritz values converge to the extreme eigenvalues, so an
# outlier shows up as a sharp peak at the right place, with a weight that is noisy (it is estimated
# from 10 random probes). Between the outliers the estimate is zero, as is the truth. This is how
# the spectra of networks with millions of parameters are drawn.

# %% [markdown]
# ## The trace, by Hutchinson's estimator
#
# The simplest matrix-free quantity: with random-sign vectors $z$, $\mathbb E\, z^\top H z =
# \operatorname{tr} H$ (Hutchinson 1990), with a standard error that shrinks like $1/\sqrt n$.

# %%
trace_est, trace_se = matrix_free.trace_estimate(objective, w, n_samples=200, rng=SEED)
print(f"Hutchinson: {trace_est:.4f} ± {trace_se:.4f};  exact trace {np.trace(H):.4f}")

# %% [markdown]
# ## Verifying results
#
# - Products: $Hv$, $Gv$ match the dense matrices at round-off, and $Hv = Gv + Rv$ (three separate
#   routes).
# - Lanczos/ARPACK: the top 10 eigenvalues match the dense ones to $10^{-8}$ relative; without
#   reorthogonalization the largest eigenvalue comes back as ghost copies, with it exactly once.
# - Quadrature: $\sum_j w_j\theta_j^k = v^\top H^k v$ for every $k \le 2m - 1$ at round-off.
# - SLQ: the smoothed densities agree in their mass near zero, and every one of the 10 largest
#   eigenvalues is an SLQ node (a converged Ritz value) to $10^{-6}$ relative; Hutchinson's estimate is
#   within 4 standard errors of the exact trace.


# %%
def rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


assert rel(Hv, H @ v) < 1e-10 and rel(Gv, dense["G"] @ v) < 1e-10 and rel(Gv + Rv, Hv) < 1e-10
assert np.abs(top - eig[::-1][:10]).max() < 1e-8 * eig[-1]
ghosts = {}
for reorth in (True, False):
    alpha, beta, _ = lanczos.lanczos(H_op, q1, 150, reorthogonalize=reorth)
    theta = np.linalg.eigvalsh(np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1))
    ghosts[reorth] = int(np.sum(np.abs(theta - eig[-1]) < 1e-8 * eig[-1]))
assert ghosts[True] == 1 and ghosts[False] > 1
# the quadrature is exact in exact arithmetic; in floating point the error of degree-k moments grows
# slowly with k, and 1e-8 leaves room for it up to k = 23
assert max(quad_errors) < 1e-8
dt = grid[1] - grid[0]
near_zero = np.abs(grid) < 0.01 * eig[-1]
mass_exact, mass_slq = density_exact[near_zero].sum() * dt, density_slq[near_zero].sum() * dt
print(f"mass within 1% of λ_max around zero: exact {mass_exact:.3f}, SLQ {mass_slq:.3f}")
assert abs(mass_slq - mass_exact) < 0.05  # 10 probes: the standard error of a mass is ~ 0.01 here
used_nodes = nodes_slq[weights_slq > 0]
for lam in eig[::-1][:10]:
    assert np.abs(used_nodes - lam).min() < 1e-6 * eig[-1]
assert abs(trace_est - np.trace(H)) < 4 * trace_se
print("all checks passed")
