# %% [markdown]
# # 8 · The edge of stability
#
# Notebooks 1–7 looked at the Hessian at the end of training. Here we watch its largest eigenvalue —
# the **sharpness** $\lambda_{\max}(H)$ — *during* full-batch gradient descent. Cohen, Kaur, Li,
# Kolter & Talwalkar (2021) found that it does something no classical analysis predicts:
#
# - it first **rises** (*progressive sharpening*),
# - until it reaches $2/\eta$, the largest curvature at which gradient descent with step size $\eta$
#   is stable on a quadratic,
# - and then **hovers at $2/\eta$** while the loss keeps falling, though no longer monotonically.
#
# We start from the quadratic, where $2/\eta$ comes from, then train a small network at three step
# sizes with the exact Hessian measured every few steps, and split it, as in notebook 2, into the
# Gauss-Newton term $G$ and the residual $R$ to see which of them sharpens.

# %%
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's notebook widget is not needed

import matplotlib.pyplot as plt
import numpy as np
from autograd import jacobian

import hessian_spectra as hs
from hessian_spectra import losses, stability
from hessian_spectra.curvature import lanczos, reference
from hessian_spectra.curvature.fast_products import fast_curvature_operator

# %matplotlib inline

SEED = 0
rng = np.random.default_rng(SEED)

# %% [markdown]
# ## Gradient descent on a quadratic
#
# On $q(x) = \tfrac12 \lambda x^2$ the gradient is $\lambda x$, so one step of size $\eta$ is
#
# $$ x_{t+1} = x_t - \eta\lambda x_t = (1 - \eta\lambda)\,x_t, \qquad x_t = (1-\eta\lambda)^t x_0 . $$
#
# The iterates shrink iff $|1 - \eta\lambda| < 1$, i.e. iff $0 < \eta < 2/\lambda$. At
# $\eta = 2/\lambda$ the factor is $-1$: $x$ flips sign forever at constant size. Beyond, it grows
# geometrically, flipping sign at every step. Read the other way round: GD with step size $\eta$
# is stable on every curvature below $2/\eta$ and on none above.

# %%
lam = 2.0
etas = {"0.9 · 2/λ": 0.9 * 2 / lam, "2/λ": 2 / lam, "1.1 · 2/λ": 1.1 * 2 / lam}
paths = {name: stability.gd_on_quadratic([lam], eta, [1.0], 40)[:, 0] for name, eta in etas.items()}

fig, ax = plt.subplots(figsize=(7, 3.5))
for name, x in paths.items():
    ax.semilogy(np.abs(x), "o-", ms=3, label=f"η = {name}")
ax.set_xlabel("step t")
ax.set_ylabel("|x_t|")
ax.legend()
plt.show()

# %%
x, by_hand = 1.0, [1.0]
for _ in range(40):
    x = x - etas["1.1 · 2/λ"] * lam * x  # the GD step itself
    by_hand.append(x)
print("closed form vs GD by hand, largest difference:", np.abs(paths["1.1 · 2/λ"] - by_hand).max())
print("signs of x_1 … x_6 at η = 2/λ:", np.sign(paths["2/λ"][1:7]))

# %% [markdown]
# With several directions, $q(x) = \tfrac12 x^\top A x$, write $A = \sum_j \lambda_j u_j u_j^\top$. In
# the coordinates $z_j = u_j^\top x$ the quadratic is $\tfrac12\sum_j \lambda_j z_j^2$ and every
# coordinate follows its own factor $1 - \eta\lambda_j$. GD converges iff every one does:
#
# $$ \text{GD on } \tfrac12 x^\top A x \text{ is stable} \iff \eta < 2/\lambda_{\max}(A) . $$
#
# Only the sharpest direction matters. Near a point $w$ a loss is approximately such a quadratic
# with $A = \nabla^2 L(w)$, which is why the sharpness $\lambda_{\max}(H)$ decides whether GD can
# stay there.

# %%
Q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
A = Q @ np.diag([4.0, 1.0, 0.25]) @ Q.T
x0 = rng.standard_normal(3)
for eta in (0.45, 0.55):  # 2/η = 4.44 (stable) and 3.64 (below λ_max = 4)
    z = stability.gd_on_quadratic(np.array([4.0, 1.0, 0.25]), eta, Q.T @ x0, 30)  # in A's eigenbasis
    print(f"η = {eta}: 2/η = {2 / eta:.2f};  |z_30| along λ = 4, 1, 0.25: {np.round(np.abs(z[-1]), 6)}")

# %% [markdown]
# ## A network and its sharpness
#
# The blobs of E12: 200 points from 12 Gaussian clusters in 8 dimensions, 4 classes (three clusters
# each, so the classes are not linearly separable), each feature standardized; an 8-12-12-4 ReLU
# network with weights and biases $\mathcal N(0, 0.05^2)$ and the mean squared error to one-hot
# targets, $\ell = \tfrac12\lVert f - e_y\rVert^2$ (as Cohen et al. use). $P = 316$: small enough for
# the exact Hessian at every measurement.
#
# The sharpness three ways: the dense eigendecomposition; the **power method** on Hessian-vector
# products, $v \leftarrow Hv/\lVert Hv\rVert$, whose Rayleigh quotient converges at the rate
# $(\lambda_2/\lambda_1)^{2k}$; and **Lanczos** (notebook 7), which needs far fewer products when
# $\lambda_2$ is close to $\lambda_1$ — as it is here, at the start of training.

# %%
data = hs.blobs(n_samples=200, n_clusters=12, n_classes=4, dim=8, spread=1.0, seed=SEED)
sizes = (8, 12, 12, 4)
objective = hs.Objective(data.X, data.y, sizes, "relu", "mse")
w0 = hs.init_params(sizes, "normal", seed=SEED, scale=0.05)
P = objective.n_params

exact0 = stability.curvature_extremes(objective, w0, "exact")
eig0 = np.linalg.eigvalsh(reference.hessian(objective, w0))  # autograd's dense Hessian
H_op = fast_curvature_operator(objective, w0, "H")  # Hv in closed form, no P×P matrix
v0 = rng.standard_normal(P)
power = {k: stability.power_iteration(H_op, v0, k)[0] for k in (10, 100, 1000)}
top_lanczos, _, info = lanczos.extreme_eigenpairs(H_op, 1, tol=1e-10, seed=SEED)
print(
    f"P = {P}; sharpness at init {exact0['h_top']:.8f} (dense: {eig0[-1]:.8f}); λ_2/λ_1 = {eig0[-2] / eig0[-1]:.4f}"
)
print(
    "power iteration, relative error after 10, 100, 1000 products:",
    {k: f"{1 - v / eig0[-1]:.1e}" for k, v in power.items()},
)
print(f"Lanczos: relative error {abs(1 - top_lanczos[0] / eig0[-1]):.1e} after {info['n_products']} products")

# %% [markdown]
# ## Gradient descent at three step sizes
#
# `stability.sharpness_along_gd` runs full-batch GD and, every few steps, measures $\lambda_{\max}(H)$,
# $\lambda_{\max}(G)$ and the extreme eigenvalues of $R$ (exactly here: dense matrices). We choose the
# step sizes by their thresholds $2/\eta \in \{2.5, 3, 3.5\}$, all more than twice the sharpness at
# the start.

# %%
thresholds = [2.5, 3.0, 3.5]
steps, every = 600, 10
traces = {T: stability.sharpness_along_gd(objective, w0, 2 / T, steps, every) for T in thresholds}

fig, (ax_s, ax_l) = plt.subplots(1, 2, figsize=(12, 4))
for j, (T, tr) in enumerate(traces.items()):
    ax_s.plot(tr.steps, tr.h_top, color=f"C{j}", label=f"η = {2 / T:.3g}")
    ax_s.axhline(T, color=f"C{j}", ls="--", lw=0.8)
    ax_l.semilogy(tr.loss, color=f"C{j}", lw=0.8)
ax_s.set_xlabel("GD step")
ax_s.set_ylabel("λ_max(H)   (dashed: 2/η)")
ax_s.legend()
ax_l.set_xlabel("GD step")
ax_l.set_ylabel("training loss")
plt.show()

# %%
summaries = {
    T: stability.edge_of_stability(tr.steps, tr.h_top, 2 / T, band=0.2, reach=0.05)
    for T, tr in traces.items()
}
for T, s in summaries.items():
    rises = np.mean(np.diff(traces[T].loss[int(s["crossing_step"]) :]) > 0)
    print(
        f"2/η = {T}: reaches 2/η at step {s['crossing_step']:.0f} after rising ×{s['sharpening']:.2f}; "
        f"{s['fraction_in_band']:.0%} of the later measurements within 20 % of 2/η "
        f"(median {s['median_ratio_after']:.3f}·2/η); the loss rises on {rises:.0%} of the later steps"
    )

# %% [markdown]
# Each run sharpens until it meets its own threshold, and stops there: the three curves part at
# three different heights, set by $\eta$ alone. A run at a smaller step size keeps sharpening past
# where a larger one stopped, so it is not the network that runs out of sharpness. After the
# crossing the loss still falls by a factor of ten or more, with spikes at first and small
# oscillations later — it rises on a good fraction of the steps.
#
# ## Why GD does not blow up at the edge
#
# At the edge the top curvature is about $2/\eta$, so along the top eigenvector $u$ the factor
# $1 - \eta\lambda_{\max}$ is about $-1$: the iterate's coordinate along $u$ should flip sign at every
# step at nearly constant size, as on the quadratic at $\eta = 2/\lambda$. We continue the largest-step
# run for a few steps by hand and watch that coordinate.

# %%
T = thresholds[0]
w_edge = traces[T].params
H_edge = reference.hessian(objective, w_edge)  # autograd's dense Hessian
lam_edge, U_edge = np.linalg.eigh(H_edge)
u = U_edge[:, -1]
print(f"at step {steps}: λ_max = {lam_edge[-1]:.4f}, 2/η = {T}, 1 − ηλ_max = {1 - 2 / T * lam_edge[-1]:+.3f}")
w, along = w_edge.copy(), [u @ w_edge]
for _ in range(8):
    w = w - 2 / T * objective.gradient(w)
    along.append(u @ w)
moves = np.diff(along)  # u·(w_{t+1} − w_t)
print("the moves along u, steps 600 → 608:", np.round(moves, 6))

# %% [markdown]
# ## Which term sharpens: $G$ or $R$?
#
# $H = G + R$ (notebook 2). With the mean squared error $G = \frac1N\sum_i J_i^\top J_i$ is positive
# semidefinite and $R = \frac1N\sum_{i,c} r_{ic}\nabla^2 f_{ic}$ is weighted by the residuals
# $r_i = f_i - e_{y_i}$, which shrink as the fit improves. We plot $\lambda_{\max}(H)$, $\lambda_{\max}(G)$,
# $\lVert R\rVert_2 = \max(|\lambda_{\min}(R)|, |\lambda_{\max}(R)|)$ and $u^\top R u$ along the top
# eigenvector of $H$ — the part of the sharpness that $R$ supplies, since
# $\lambda_{\max}(H) = u^\top G u + u^\top R u$.

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 3.6), sharey=True)
for ax, (T, tr) in zip(axes, traces.items(), strict=True):
    ax.plot(tr.steps, tr.h_top, "k-", label="λ_max(H)")
    ax.plot(tr.steps, tr.g_top, "C0--", label="λ_max(G)")
    ax.plot(tr.steps, np.maximum(np.abs(tr.r_top), np.abs(tr.r_bottom)), "C3:", label="‖R‖₂")
    ax.plot(tr.steps, tr.r_along_top, "C2-.", label="uᵀRu")
    ax.axhline(T, color="0.5", ls="--", lw=0.7)
    ax.set_title(f"2/η = {T}")
    ax.set_xlabel("GD step")
axes[0].legend()
plt.show()
for T, tr in traces.items():
    s = summaries[T]
    i = s["crossing_index"]
    share = (tr.g_top[i] - tr.g_top[0]) / (tr.h_top[i] - tr.h_top[0])
    r_late = np.median(np.maximum(np.abs(tr.r_top), np.abs(tr.r_bottom))[i + 1 :] / tr.h_top[i + 1 :])
    print(
        f"2/η = {T}: λ_max(G) accounts for {share:.1%} of the rise; at the edge ‖R‖₂ ≈ {r_late:.1%} of λ_max(H)"
    )

# %% [markdown]
# The Gauss-Newton term carries the sharpening: $\lambda_{\max}(G)$ rises with $\lambda_{\max}(H)$ and
# sits on it at the edge. $R$ is not zero — around the first overshoot of $2/\eta$, when the loss
# spikes and the residuals grow, it supplies a visible part of the sharpness — but at the edge it is a
# few percent of $\lambda_{\max}$ and shrinks with the loss. The edge of stability, in this network, is
# a property of $G$, i.e. of the Jacobians of the network's outputs.
#
# ## Cross-entropy
#
# With softmax cross-entropy $A_i = \operatorname{diag}p_i - p_ip_i^\top$ vanishes as the predictions
# become confident, so once the data are fit the curvature falls with the loss (Cohen et al. note
# the same). One run at $2/\eta = 2$:

# %%
ce_objective = hs.Objective(data.X, data.y, sizes, "relu", "cross_entropy")
ce = stability.sharpness_along_gd(ce_objective, w0, 1.0, steps, every)
fig, ax = plt.subplots(figsize=(7, 3.5))
ax.plot(ce.steps, ce.h_top, label="λ_max(H)")
ax.axhline(2.0, color="C0", ls="--", lw=0.8)
ax2 = ax.twinx()
ax2.semilogy(ce.loss, color="C1", lw=0.8)
ax.set_xlabel("GD step")
ax.set_ylabel("λ_max(H)   (dashed: 2/η)")
ax2.set_ylabel("loss (orange)")
plt.show()
print(
    f"cross-entropy: peak sharpness {ce.h_top.max():.3f}, at the end {ce.h_top[-1]:.3f}; loss {ce.loss[-1]:.2e}"
)

# %% [markdown]
# ## Verifying results
#
# - The quadratic: the closed form equals GD run by hand; at $\eta = 2/\lambda$ the iterate flips sign
#   at constant size, at $1.1\cdot 2/\lambda$ it grows; with $A$, only the coordinate with
#   $\lambda > 2/\eta$ grows.
# - The sharpness at the start: the exact route and Lanczos equal autograd's dense eigenvalue
#   (to $10^{-10}$ and $10^{-8}$); the power method approaches it from below, no slower than
#   $(\lambda_2/\lambda_1)^{2k}$.
# - The library's exact route against independent dense matrices at the end of a run: $\lambda_{\max}(H)$
#   against autograd's Hessian, $\lambda_{\max}(G)$ against $\frac1N\sum_i J_i^\top J_i$ from autograd
#   Jacobians.
# - The phenomenon, for this seed: each MSE run rises at least twofold before it reaches $2/\eta$, then
#   spends at least 80 % of its later measurements within 20 % of $2/\eta$, while the loss falls by a
#   factor of at least 10; $G$ accounts for at least 90 % of the rise; the cross-entropy sharpness ends
#   below half its peak.
# - At the edge the moves of the iterates along the top eigenvector alternate in sign.

# %%
assert np.abs(paths["1.1 · 2/λ"] - by_hand).max() < 1e-12 * np.abs(by_hand).max()
assert np.allclose(np.abs(paths["2/λ"]), 1.0) and np.all(np.diff(np.sign(paths["2/λ"])) != 0)
assert abs(paths["1.1 · 2/λ"][-1]) > 1e2 and abs(paths["0.9 · 2/λ"][-1]) < 1e-2
z_stable = stability.gd_on_quadratic(np.array([4.0, 1.0, 0.25]), 0.45, Q.T @ x0, 30)[-1]
z_unstable = stability.gd_on_quadratic(np.array([4.0, 1.0, 0.25]), 0.55, Q.T @ x0, 30)[-1]
assert np.all(np.abs(z_stable) < np.abs(Q.T @ x0)) and abs(z_unstable[0]) > 10 * abs(x0 @ Q[:, 0])
dense0 = eig0[-1]
assert abs(top_lanczos[0] - dense0) < 1e-8 * dense0 and abs(exact0["h_top"] - dense0) < 1e-10 * dense0
# the power method's Rayleigh quotients stay below λ_max and approach it at the rate (λ_2/λ_1)^{2k}
errors = [dense0 - power[k] for k in (10, 100, 1000)]
assert all(e > -1e-12 for e in errors) and errors[0] > errors[1] > errors[2]
assert errors[1] < 2 * errors[0] * (eig0[-2] / eig0[-1]) ** (2 * 90)  # from 10 to 100 steps
J = jacobian(objective.logits)(w_edge)  # (N, C, P)
G_edge = np.einsum("ncp,ncq->pq", J, J) / objective.n_samples  # A_i = I for MSE
end = stability.curvature_extremes(objective, w_edge, "exact")
assert abs(end["h_top"] - lam_edge[-1]) < 1e-10 * lam_edge[-1]
assert abs(end["g_top"] - np.linalg.eigvalsh(G_edge)[-1]) < 1e-10 * lam_edge[-1]
assert np.allclose(losses.logit_hessian(objective.logits(w_edge), objective.y, "mse"), np.eye(4))
for T, s in summaries.items():
    tr = traces[T]
    i = s["crossing_index"]
    assert s["sharpening"] >= 2 and s["n_after"] >= 10 and s["fraction_in_band"] >= 0.8, (T, s)
    assert tr.loss[-1] < 0.1 * tr.loss[int(s["crossing_step"])]
    assert (tr.g_top[i] - tr.g_top[0]) / (tr.h_top[i] - tr.h_top[0]) > 0.9
assert ce.h_top[-1] < 0.5 * ce.h_top.max()
assert np.all(np.sign(moves[1:]) != np.sign(moves[:-1]))
print("all checks passed")
