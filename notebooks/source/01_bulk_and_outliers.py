# %% [markdown]
# # 1 · The bulk and the outliers
#
# Train a small network on clustered data, compute its **exact** Hessian, and look at all of its
# eigenvalues. Two things stand out (Sagun, Bottou & LeCun 2016; Sagun et al. 2018):
#
# - a **bulk**: almost all eigenvalues sit at (or extremely close to) zero;
# - a few **outliers**: isolated eigenvalues well to the right of the bulk — here, as many as there
#   are clusters in the data.
#
# We count the outliers three ways (the three rules of Sagun et al. 2018, Table 1) and end by
# checking the Hessian itself against an independent computation.
#
# *Prerequisites:* calculus (gradients, second derivatives) and linear algebra (symmetric matrices,
# eigenvalues). Everything is computed by the `hessian_spectra` library; the notebook only calls it.

# %%
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's notebook widget is not needed

import matplotlib.pyplot as plt
import numpy as np

import hessian_spectra as hs
from hessian_spectra import mlp, plots, spectrum

# %matplotlib inline

SEED = 0
rng = np.random.default_rng(SEED)

# The closed-form "fast" engine; engine="reference" gives the same matrices through autograd, slowly.
ENGINE = "fast"
print("curvature engine:", ENGINE)

# %% [markdown]
# ## The data: $k$ Gaussian clusters
#
# We draw $N$ points in $\mathbb R^d$ from $k$ Gaussian clusters, $x \sim \mathcal N(\mu_j, s^2 I_d)$
# with centres $\mu_j$ uniform in $[-10, 10]^d$, and give every cluster its own class, so there are
# $C = k$ classes. Each feature is then standardized (its mean removed and divided by its standard
# deviation over the whole draw), as in the code of Sagun et al. (2018); `standardize="global"`
# would instead remove one scalar mean and divide by one scalar standard deviation.

# %%
K = 5
data = hs.blobs(n_samples=300, n_clusters=K, dim=16, spread=1.0, seed=SEED)
X, y = data.X, data.y
print("inputs", X.shape, "labels", np.bincount(y))

# a picture: the two leading principal directions of the inputs
Xc = X - X.mean(axis=0)
_, _, Vt = np.linalg.svd(Xc, full_matrices=False)
Z = Xc @ Vt[:2].T
fig, ax = plt.subplots(figsize=(4.5, 4))
ax.scatter(Z[:, 0], Z[:, 1], c=y, cmap="tab10", s=10)
ax.set_title(f"{K} clusters, first two principal components")
plt.show()

# %% [markdown]
# ## The network and the loss
#
# A multilayer perceptron with widths $(n_0, n_1, \dots, n_L)$ computes
#
# $$ h_0 = x, \qquad z_l = h_{l-1} W_l + b_l, \qquad h_l = \sigma(z_l)\ (l < L), \qquad f = z_L \in \mathbb R^C, $$
#
# with $\sigma = \mathrm{ReLU}$. All weights and biases are stacked in one vector
# $w \in \mathbb R^P$ with $P = \sum_l (n_{l-1} + 1)\, n_l$. The training loss is the mean
# softmax cross-entropy
#
# $$ L(w) = \frac1N \sum_{i=1}^N \ell(f(w, x_i), y_i), \qquad \ell(f, y) = \log \sum_c e^{f_c} - f_y . $$

# %%
sizes = (16, 20, 20, K)
objective = hs.Objective(X, y, sizes, activation="relu", loss="cross_entropy")
P = objective.n_params
print("P =", P)
assert P == sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))  # the formula above

# %% [markdown]
# ## Training by gradient descent
#
# Starting from $w_0$ with every entry $\sim \mathcal N(0, 0.1^2)$ (as in the code of Sagun et al.),
# we take full-batch steps $w_{t+1} = w_t - \eta\,\nabla L(w_t)$ with $\eta = 0.1$.

# %%
w0 = hs.init_params(sizes, "normal", seed=SEED)
result = hs.train(objective, w0, optimizer="gd", lr=0.1, steps=600, progress=False)
w = result.params
print(
    f"loss {objective.loss_value(w0):.3f} -> {objective.loss_value(w):.2e},",
    f"training accuracy {objective.accuracy(w):.2f}",
)

fig, ax = plt.subplots(figsize=(5, 3))
ax.semilogy(result.history["step"], result.history["loss"])
ax.set_xlabel("step")
ax.set_ylabel("training loss")
plt.show()

# %% [markdown]
# ## The Hessian
#
# The Hessian is the $P \times P$ matrix of second derivatives
#
# $$ H(w) = \nabla^2 L(w), \qquad H_{jk} = \frac{\partial^2 L}{\partial w_j\, \partial w_k}. $$
#
# It is symmetric, so it has $P$ real eigenvalues $\lambda_1 \ge \dots \ge \lambda_P$ and an
# orthonormal basis of eigenvectors. We compute it exactly (no sampling, no approximation) at the
# initial point and at the trained point.

# %%
H0 = hs.hessian_terms(X, y, w0, sizes, "relu", "cross_entropy", engine=ENGINE)["H"]
H = hs.hessian_terms(X, y, w, sizes, "relu", "cross_entropy", engine=ENGINE)["H"]
eig0 = spectrum.eigenvalues(H0)  # ascending
eig = spectrum.eigenvalues(H)
print("H is", H.shape, "and symmetric:", np.array_equal(H, H.T))

# %% [markdown]
# **Check.** A Hessian-vector product is the derivative of the gradient along $v$:
#
# $$ H v = \lim_{h \to 0} \frac{\nabla L(w + h v) - \nabla L(w - h v)}{2h}, $$
#
# and the central difference has error $O(h^2)$. The gradient comes from autograd's reverse mode,
# an independent route from the one that built $H$.
#
# One caveat: ReLU is piecewise linear, so $L$ is smooth only between the "kinks" where some
# pre-activation $z_l$ of some sample changes sign. The difference quotient is valid only if no
# pre-activation changes sign between $w - hv$ and $w + hv$; with a unit vector $v$ and
# $h = 10^{-5}$ that is almost always so, and we check it.

# %%
v = rng.standard_normal(P)
v /= np.linalg.norm(v)
h = 1e-5
fd = (objective.gradient(w + h * v) - objective.gradient(w - h * v)) / (2 * h)
print("relative difference |Hv - FD| / |Hv| =", np.linalg.norm(H @ v - fd) / np.linalg.norm(H @ v))


def relu_pattern(params):
    """Signs of every hidden pre-activation of every sample (which side of each kink we are on)."""
    zs, _ = mlp.forward_all(params, X, sizes, "relu")
    return [np.sign(z) for z in zs[:-1]]


no_kink_crossed = all(
    np.array_equal(a, b) for a, b in zip(relu_pattern(w + h * v), relu_pattern(w - h * v), strict=True)
)
print("no pre-activation changes sign on the segment:", no_kink_crossed)

# %% [markdown]
# ## Before and after training
#
# Ordered eigenvalues (largest first) and a histogram of all $P$ of them, with a logarithmic
# count axis so that both the bulk and the few outliers are visible (Sagun et al. 2018, Fig. 1).

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 3.8))
plots.plot_ordered_eigenvalues(axes[0], eig0, label="initial point")
plots.plot_ordered_eigenvalues(axes[0], eig, label="after training")
axes[0].legend()
axes[0].set_title(f"all {P} eigenvalues")
plots.plot_histogram(axes[1], eig0, bins=80)
axes[1].set_title("initial point")
plots.plot_histogram(axes[2], eig, bins=80)
axes[2].set_title("after training")
fig.tight_layout()
plt.show()
print(f"initial point: eigenvalues in [{eig0.min():.3f}, {eig0.max():.3f}]")
print(f"after training: eigenvalues in [{eig.min():.2e}, {eig.max():.3f}]")

# %% [markdown]
# At the random initial point many eigenvalues are already at zero, but the rest spread far in both
# directions: the initial point is a saddle with large negative curvature. After training the
# spectrum has collapsed toward zero: a **bulk** around zero (with small negative eigenvalues) and
# a handful of positive **outliers**, well separated from it. How concentrated is the bulk? Count the eigenvalues that are tiny compared with the
# largest one.

# %%
summary = spectrum.summarize(eig)
tiny = np.abs(eig) <= 1e-3 * eig.max()
print(f"{tiny.sum()} of {P} eigenvalues ({tiny.mean():.0%}) have |λ| ≤ 1e-3 λ_max")
print(
    "negative eigenvalues:",
    summary["negative"]["count"],
    f"- the most negative is {summary['negative']['most_negative']:.2e},",
    f"{summary['negative']['ratio_to_top']:.1%} of the largest eigenvalue",
)

# %% [markdown]
# ## Counting the outliers three ways
#
# Sort the eigenvalues in decreasing order, $\lambda_1 \ge \lambda_2 \ge \dots$, and look at the top
# $m$ of them ($m = 200$, or all when $P < 200$). Sagun et al. (2018) count the outliers by
#
# 1. **the largest gap**: the count is $\arg\max_j (\lambda_j - \lambda_{j+1})$;
# 2. **the largest ratio**: the count is $\arg\max_j \lambda_j / \lambda_{j+1}$, over the $j$ where
#    $\lambda_{j+1}$ is not itself at round-off level (here: $\lambda_{j+1} \ge 10^{-3}\lambda_1$);
# 3. **a threshold**: the count is the number of eigenvalues above a threshold $\tau$. The paper
#    picked $\tau$ by hand; the library puts it at the *elbow* of the curve $j \mapsto \lambda_j$,
#    the point farthest below the chord once both axes are scaled to $[0, 1]$.

# %%
counts = spectrum.outlier_counts(eig)
tau = spectrum.elbow_threshold(eig)
print("outlier counts:", counts, f"(elbow threshold τ = {tau:.2e})")

top = np.sort(eig)[::-1][:40]
fig, ax = plt.subplots(figsize=(7, 3.8))
ax.plot(np.arange(1, top.size + 1), top, "o-", ms=4)
ax.axvline(counts["gap"] + 0.5, color="C3", ls="--", label=f"largest gap: {counts['gap']}")
ax.axvline(counts["ratio"] + 0.5, color="C2", ls=":", lw=2, label=f"largest ratio: {counts['ratio']}")
ax.axhline(tau, color="0.5", label=f"elbow threshold: {counts['elbow']}")
ax.set_xlabel("rank (largest first)")
ax.set_ylabel("eigenvalue")
ax.set_title(f"top 40 eigenvalues; the data have k = {K} clusters")
ax.legend()
plt.show()

# %% [markdown]
# The largest gap and the largest ratio both find **$k = 5$ outliers**, one per cluster. The elbow
# threshold lands lower: below the five outliers the ordered eigenvalues keep falling steeply for a
# while before they flatten into the bulk, and the elbow sits at the end of that second, smaller
# group. That group is real structure, not noise — notebook 3 shows where it comes from (Papyan's
# cross-class level) — which is why the paper chose its thresholds by hand.
#
# In small networks the rules do not always agree; notebook 4 sweeps the number of clusters and the
# width. Notebooks 2 and 3 explain *why* there are about $k$ outliers.

# %%
top_k = np.sort(eig)[::-1][: K + 1]
print("top k+1 eigenvalues:", np.round(top_k, 4))
print(f"ratio λ_k / λ_(k+1) = {top_k[K - 1] / top_k[K]:.2f}")

# %% [markdown]
# ## Verifying results
#
# - The Hessian agrees with autograd's dense Hessian $\nabla^2 L$ (`autograd.hessian`, the
#   library's reference route) to round-off, and its products with finite differences of the
#   gradient.
# - The largest gap and the largest ratio both count $k$ outliers, and the $k$-th eigenvalue
#   stands clearly above the next one.
# - The bulk is concentrated: most eigenvalues (about three quarters) are below $10^{-3}\lambda_{\max}$ in absolute value.

# %%
H_autograd = hs.hessian_terms(X, y, w, sizes, "relu", "cross_entropy", engine="reference")["H"]
rel = np.linalg.norm(H - H_autograd) / np.linalg.norm(H_autograd)
print(f"‖H - H_autograd‖ / ‖H_autograd‖ = {rel:.1e}")
assert rel < 1e-10  # both are exact: the difference is round-off
# Between kinks L is smooth: the central difference's truncation error O(h²‖∇³L‖) and its
# round-off O(ε‖∇L‖/h) are both orders of magnitude below the 1e-6 allowed here.
assert no_kink_crossed
assert np.linalg.norm(H @ v - fd) <= 1e-6 * np.linalg.norm(H @ v)
assert counts["gap"] == K and counts["ratio"] == K
assert top_k[K - 1] > 1.5 * top_k[K]
assert tiny.mean() > 0.6  # about three quarters here
print("all checks passed")
