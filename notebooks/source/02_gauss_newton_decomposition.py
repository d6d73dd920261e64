# %% [markdown]
# # 2 · The Gauss-Newton decomposition $H = G + R$
#
# Why does the Hessian of a trained network look like notebook 1's picture — a bulk at zero and a
# few outliers? The first half of the answer is the chain rule, applied twice. It splits the
# Hessian into two matrices with very different shapes (Sagun et al. 2018, Sec. 2):
#
# $$ H \;=\; \underbrace{\frac1N\sum_i J_i^\top A_i J_i}_{G\ \text{(Gauss-Newton)}} \;+\;
#    \underbrace{\frac1N\sum_i\sum_c r_{ic}\,\nabla^2 f_{ic}}_{R\ \text{(residual)}} . $$
#
# We derive each piece, compute it with the library, and check it numerically. Then we see why $G$
# has at most $N(C-1)$ nonzero eigenvalues, why $R$ fades during training, and how $G$ differs from
# two matrices often confused with it: the *empirical Fisher* and the *gradient covariance*.

# %%
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's notebook widget is not needed

import autograd
import matplotlib.pyplot as plt
import numpy as np
from autograd.scipy.special import logsumexp

import hessian_spectra as hs
from hessian_spectra import losses, plots, spectrum
from hessian_spectra.curvature import decomposition

# %matplotlib inline

SEED = 0
rng = np.random.default_rng(SEED)

# %% [markdown]
# ## A problem small enough to see everything
#
# $N = 24$ points from $C = 3$ Gaussian clusters in $\mathbb R^5$, a network $5 \to 12 \to 3$ with
# $\tanh$ hidden units (smooth, so every second derivative exists everywhere), softmax cross-entropy.
# Notation for sample $i$: logits $f_i = f(w, x_i) \in \mathbb R^C$, loss $\ell_i = \ell(f_i, y_i)$,
# mean loss $L = \frac1N\sum_i \ell_i$.

# %%
data = hs.blobs(n_samples=24, n_clusters=3, dim=5, spread=2.0, seed=SEED)
X, y = data.X, data.y
sizes = (5, 12, 3)
objective = hs.Objective(X, y, sizes, activation="tanh", loss="cross_entropy")
N, C, P = objective.n_samples, objective.n_classes, objective.n_params
print(f"N = {N}, C = {C}, P = {P}")

w0 = hs.init_params(sizes, "normal", seed=SEED, scale=0.5)
run = hs.train(
    objective, w0, optimizer="gd", lr=0.5, steps=2000, snapshot_steps=[0, 20, 100, 500, 2000], progress=False
)
w = run.snapshots[100]  # a point part-way through training (notebook 1 looked at the end)
print(f"loss at w: {objective.loss_value(w):.3f}, accuracy {objective.accuracy(w):.2f}")

# %% [markdown]
# ## The chain rule once: the gradient
#
# Let $J_i = \partial f_i / \partial w \in \mathbb R^{C \times P}$ be the Jacobian of sample $i$'s
# logits and $r_i = \nabla_f \ell(f_i, y_i) \in \mathbb R^C$ the gradient of the loss with respect to
# the logits. Then
#
# $$ \nabla L(w) = \frac1N \sum_i J_i^\top r_i , \qquad r_i = p_i - e_{y_i}\ \text{for cross-entropy},
#    \quad p_i = \mathrm{softmax}(f_i). $$

# %%
J = decomposition.per_sample_jacobians(objective, w)  # (N, C, P)
logits = np.asarray(objective.logits(w))  # (N, C)
r = losses.logit_gradient(logits, y, "cross_entropy")  # (N, C): p_i - e_{y_i}
grad_chain_rule = np.einsum("icp,ic->p", J, r) / N  # (1/N) Σ_i J_iᵀ r_i

# %%
grad_autograd = objective.gradient(w)  # reverse mode on L directly
print("relative difference:", np.linalg.norm(grad_chain_rule - grad_autograd) / np.linalg.norm(grad_autograd))

# %% [markdown]
# ## The loss in logit space: $A_i$
#
# The second derivative of $\ell(f, y) = \log\sum_c e^{f_c} - f_y$ with respect to the logits is
#
# $$ A = \nabla_f^2 \ell = \mathrm{diag}(p) - p\,p^\top
#      = \sum_{c} p_c\,(e_c - p)(e_c - p)^\top . $$
#
# The second form (expand it, using $\sum_c p_c = 1$) shows that $A$ is positive semidefinite, and
# $A\mathbf 1 = p - p = 0$: adding the same constant to every logit changes nothing. So $A$ has rank
# at most $C - 1$. It does not depend on the label $y$. (For the mean squared error
# $\ell = \frac12\lVert f - e_y\rVert^2$, $A = I_C$.)

# %%
A = losses.logit_hessian(logits, y, "cross_entropy")  # (N, C, C)
p = losses.softmax(logits)
A_as_sum = np.einsum("ic,icd,ice->ide", p, np.eye(C)[None] - p[:, None, :], np.eye(C)[None] - p[:, None, :])

# %%
i = 0  # check one sample against autograd's Hessian of ℓ(f) = logsumexp(f) - f_y in logit space
A_autograd = autograd.hessian(lambda f: logsumexp(f) - f[y[i]])(logits[i])
print("A_0 vs autograd:", np.abs(A[i] - A_autograd).max())
print("diag(p) - ppᵀ vs Σ_c p_c (e_c - p)(e_c - p)ᵀ:", np.abs(A - A_as_sum).max())
print("max |A_i 1|:", np.abs(A.sum(axis=2)).max())
print("eigenvalues of A_0:", np.round(np.linalg.eigvalsh(A[0]), 5))

# %% [markdown]
# ## The chain rule twice: $H = G + R$
#
# Differentiate $\nabla L = \frac1N\sum_i J_i^\top r_i$ once more. The product rule gives two terms:
# $r_i$ changes because $f_i$ changes ($\partial r_i/\partial w = A_i J_i$), and $J_i$ changes because
# the network is not linear in $w$ ($\partial J_i / \partial w$ involves the Hessians $\nabla^2 f_{ic}$
# of each logit):
#
# $$ H = \frac1N \sum_i J_i^\top A_i J_i + \frac1N \sum_i \sum_c r_{ic}\,\nabla^2 f_{ic} = G + R . $$
#
# We compute each term by its own route, so that $H = G + R$ is a real check:
#
# - $G$ from the Jacobians and the $A_i$, written exactly as the formula;
# - $R$ as the Hessian of $v \mapsto \frac1N\sum_i r_i^\top f(v, x_i)$ with the $r_i$ *frozen* at $w$
#   (its Hessian at $w$ is exactly $R$; the library's `residual_term`);
# - $H$ as autograd's Hessian of $L$.

# %%
G = np.einsum("icp,icd,idq->pq", J, A, J) / N  # (1/N) Σ_i J_iᵀ A_i J_i
R = decomposition.residual_term(objective, w)
H = hs.hessian_terms(X, y, w, sizes, "tanh", "cross_entropy", engine="reference")["H"]

# %%
print("‖H - (G + R)‖ / ‖H‖ =", np.linalg.norm(H - (G + R)) / np.linalg.norm(H))
# two more routes to G: the library's accumulation, and the Hessian of the loss of the network
# linearized at w, f_lin(v) = f(w) + J (v - w), whose second derivative is G exactly
G_library = decomposition.gauss_newton(objective, w)
G_linearized = decomposition.gauss_newton_linearized(objective, w)
print("G vs library:", np.linalg.norm(G - G_library) / np.linalg.norm(G))
print("G vs Hessian of the linearized model:", np.linalg.norm(G - G_linearized) / np.linalg.norm(G))

# %% [markdown]
# ## Why $G$ has at most $N(C-1)$ nonzero eigenvalues
#
# Each term $J_i^\top A_i J_i$ is a $P \times P$ matrix of rank at most $\operatorname{rank} A_i \le C-1$.
# A sum of $N$ such terms has rank at most $N(C-1)$, so **at least $P - N(C-1)$ eigenvalues of $G$
# are exactly zero**, whatever the network. Here $P = 111$ and $N(C-1) = 48$. $G$ is also positive
# semidefinite (each $A_i$ is), so the nonzero ones are positive.
#
# In floating point "exactly zero" means "zero up to round-off": we call an eigenvalue zero when
# $|\lambda| \le P\,\varepsilon\,\max_j|\lambda_j|$ with $\varepsilon = 2^{-52}$ (the library's
# `zero_tolerance`, the same rule as `numpy.linalg.matrix_rank`).

# %%
eig_G = spectrum.eigenvalues(G)
tol = spectrum.zero_tolerance(eig_G)
n_nonzero = P - spectrum.count_zero(eig_G, tol)
print(f"nonzero eigenvalues of G: {n_nonzero}  (bound N(C-1) = {N * (C - 1)})")
print(
    f"the smallest 'nonzero' one is {np.sort(np.abs(eig_G))[::-1][n_nonzero - 1]:.1e}, "
    f"the largest 'zero' one {np.sort(np.abs(eig_G))[::-1][n_nonzero]:.1e} (tolerance {tol:.1e})"
)

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.semilogy(np.arange(1, P + 1), np.sort(np.abs(eig_G))[::-1], ".")
ax.axvline(N * (C - 1) + 0.5, color="C3", ls="--", label="N(C-1)")
ax.axhline(tol, color="0.5", label="round-off tolerance")
ax.set_xlabel("rank (largest first)")
ax.set_ylabel("|eigenvalue of G|")
ax.legend()
plt.show()

# %% [markdown]
# The cliff sits exactly at $N(C-1) = 48$: 48 honest eigenvalues, then $P - 48 = 63$ round-off
# zeros, about ten orders of magnitude lower. With more parameters and the same data, the
# number of zeros grows: at least $P - N(C-1)$ — the first reason why the bulk grows with width.

# %% [markdown]
# ## How small is $R$ at the end of training? It depends on the loss
#
# $R$ is weighted by the residuals $r_i$, which shrink as the network fits the data, and $G$ is
# positive semidefinite, so **every negative eigenvalue of $H$ comes from $R$**. But $G$ carries the
# weights $A_i$, and whether those shrink too depends on the loss:
#
# - **mean squared error:** $A_i = I$ never shrinks while $r_i = f_i - e_{y_i} 	o 0$, so $R/G 	o 0$;
# - **cross-entropy:** with $p_i pprox e_{y_i}$, *both* $r_i = p_i - e_{y_i}$ and
#   $A_i = \mathrm{diag}(p_i) - p_ip_i^\top$ are of order $1 - p_{i,y_i}$, so $R$ and $G$ shrink
#   together and their ratio need not go to zero.
#
# We follow three ratios along a cross-entropy run and a mean-squared-error run of the same network
# on the same data: $\lVert R\rVert_F / \lVert G\rVert_F$ (Frobenius norms),
# $\max_j|\lambda_j(R)| / \lambda_{\max}(G)$ (spectral norms), and
# $|\lambda_{\min}(H)| / \lambda_{\max}(H)$ (how negative the Hessian gets).


# %%
def residual_ratios(obj, ws):
    G_s = decomposition.gauss_newton(obj, ws)
    R_s = decomposition.residual_term(obj, ws)
    eig_G, eig_R, eig_H = (spectrum.eigenvalues(M) for M in (G_s, R_s, G_s + R_s))
    return {
        "loss": obj.loss_value(ws),
        "frobenius": np.linalg.norm(R_s) / np.linalg.norm(G_s),
        "spectral": np.abs(eig_R).max() / eig_G[-1],
        "negative": -eig_H[0] / eig_H[-1],
    }


objective_mse = hs.Objective(X, y, sizes, activation="tanh", loss="mse")
run_mse = hs.train(
    objective_mse, w0, optimizer="gd", lr=0.2, steps=2000, snapshot_steps=run.snapshots.keys(), progress=False
)
ratios = {}
for name, obj, r_run in (("cross-entropy", objective, run), ("MSE", objective_mse, run_mse)):
    ratios[name] = [residual_ratios(obj, ws) for _, ws in sorted(r_run.snapshots.items())]
    print(name)
    for step, q in zip(sorted(r_run.snapshots), ratios[name], strict=True):
        print(
            f"  step {step:5d}  loss {q['loss']:.2e}   ‖R‖/‖G‖ {q['frobenius']:.3f}   "
            f"spectral {q['spectral']:.3f}   |λ_min(H)|/λ_max(H) {q['negative']:.3f}"
        )

# %%
G_end = decomposition.gauss_newton(objective, run.params)
R_end = decomposition.residual_term(objective, run.params)
eig_G_end, eig_R_end, eig_H_end = (spectrum.eigenvalues(M) for M in (G_end, R_end, G_end + R_end))
fig = plots.decomposition_figure(
    {"H": eig_H_end, "G": eig_G_end, "R": eig_R_end},
    title="cross-entropy, end of training: H, G and R",
    top=30,
)
plt.show()
print("top 5 of H:", np.round(eig_H_end[::-1][:5], 5))
print("top 5 of G:", np.round(eig_G_end[::-1][:5], 5))

# %% [markdown]
# With the mean squared error the residual term really disappears: at the end $R$ is a thousandth
# of $G$ and $H = G$ to three digits. With cross-entropy it does not: $\lVert R\rVert_F$ stays near
# 40% of $\lVert G\rVert_F$. What changes is its *shape*. $R$ spreads its weight over many directions
# of both signs, none of them large: its largest eigenvalue is about a sixth of $G$'s, and the
# most negative eigenvalue of $H$ falls from 76% of the largest one at the start to 9% at the end.
# So the top eigenvalues of $H$ — the outliers — are $G$'s, within about 10%, while $R$ shapes the
# bulk around zero (right panel: $R$ has eigenvalues of both signs, $G$ none below zero).

# %% [markdown]
# ## $G$, the empirical Fisher and the gradient covariance
#
# Write $g_i = \nabla_w \ell_i = J_i^\top r_i$ for the per-sample loss gradients. Three $P \times P$
# matrices are easy to confuse:
#
# | matrix | definition | label used |
# |---|---|---|
# | Gauss-Newton $G$ | $\frac1N\sum_i J_i^\top A_i J_i = \frac1N\sum_i \mathbb E_{\hat y \sim p_i}\big[\nabla\ell(f_i,\hat y)\nabla\ell(f_i,\hat y)^\top\big]$ | drawn from the model |
# | empirical Fisher $G_{\rm emp}$ | $\frac1N \sum_i g_i g_i^\top$ | the observed $y_i$ |
# | gradient covariance $\Sigma$ | $\frac1N \sum_i (g_i - \bar g)(g_i - \bar g)^\top = G_{\rm emp} - \bar g\bar g^\top$ | the observed $y_i$, centred |
#
# The middle form of $G$ follows from $A = \sum_{\hat y} p_{\hat y}(e_{\hat y} - p)(e_{\hat y} - p)^\top$:
# $G$ is the Fisher information of the model's own predictive distribution (the library's
# `model_fisher` computes it that way, an exact sum over the $C$ labels). $G_{\rm emp}$ replaces the
# model's labels by the observed ones. Sagun et al. (2018) wrote $\ell = -\log p_y$ and split the
# Hessian as $H = G_{\rm emp} + R_{\rm emp}$, which is also exact; the two splits differ away from a
# minimum.
#
# Near a confident fit they differ a lot: with $p_i \approx e_{y_i}$, the entries of $A_i$ are of
# order $1 - p_{i,y_i}$ but $r_i r_i^\top$ is of order $(1 - p_{i,y_i})^2$, so $G_{\rm emp}$ becomes
# much smaller than $G$.


# %%
def fisher_family(ws):
    return {
        "G": decomposition.gauss_newton(objective, ws),
        "model Fisher": decomposition.model_fisher(objective, ws),
        "empirical Fisher": decomposition.empirical_fisher(objective, ws),
        "gradient covariance": decomposition.gradient_covariance(objective, ws),
    }


for step in (0, 2000):
    mats = fisher_family(run.snapshots[step])
    top = {name: spectrum.eigenvalues(M)[-1] for name, M in mats.items()}
    print(
        f"step {step}: loss {objective.loss_value(run.snapshots[step]):.1e}; largest eigenvalue: "
        + ", ".join(f"{k} {v:.2e}" for k, v in top.items())
    )

# %%
mats_end = fisher_family(run.params)
fig, ax = plt.subplots(figsize=(6.5, 3.8))
for name in ("G", "empirical Fisher", "gradient covariance"):
    ax.semilogy(
        np.arange(1, 61),
        np.clip(spectrum.eigenvalues(mats_end[name])[::-1][:60], 1e-20, None),
        ".-",
        label=name,
    )
ax.set_xlabel("rank (largest first)")
ax.set_ylabel("eigenvalue")
ax.set_title("end of training")
ax.legend()
plt.show()

# %% [markdown]
# At the random start the three matrices have top eigenvalues of the same order (the observed
# labels even make $G_{\rm emp}$ larger than $G$). At the end of training the empirical Fisher and
# the gradient covariance are three orders of magnitude below $G$. Their ranks differ too:
# $G_{\rm emp}$ is a sum of $N$ outer products (rank $\le N = 24$) and $\Sigma$ of $N$ centred ones
# (rank $\le N - 1 = 23$), against $N(C-1) = 48$ for $G$. So "the Hessian is the gradient covariance"
# is wrong near a minimum of the cross-entropy; near a minimum the Hessian's large eigenvalues are
# those of $G$, the Fisher information of the model's own labels.

# %% [markdown]
# ## Verifying results
#
# Against independent routes, at round-off level (relative Frobenius error below $10^{-10}$):
#
# - the chain-rule gradient vs autograd's reverse mode;
# - $G + R$ vs autograd's dense Hessian (and $G$ by three routes: the formula, the library's
#   accumulation, the Hessian of the linearized model);
# - $G$ vs the model Fisher (an exact sum over labels), and $\Sigma + \bar g\bar g^\top$ vs $G_{\rm emp}$;
# - S18's split $H = G_{\rm emp} + R_{\rm emp}$.
#
# And the statements of the notebook: $G$ has exactly $N(C-1)$ eigenvalues above round-off here
# (at most that many in general); with MSE the residual term vanishes during training, with
# cross-entropy it stays but its eigenvalues end up well below $G$'s outliers.


# %%
def rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


# all routes are exact; 1e-10 leaves room for round-off in sums of ~N·P² products
assert rel(grad_chain_rule, grad_autograd) < 1e-10
assert np.abs(A[i] - A_autograd).max() < 1e-12
assert rel(G + R, H) < 1e-10
assert rel(G, G_library) < 1e-10 and rel(G, G_linearized) < 1e-10
mats = fisher_family(w)
assert rel(mats["model Fisher"], mats["G"]) < 1e-10
g_bar = objective.gradient(w)
assert rel(mats["gradient covariance"] + np.outer(g_bar, g_bar), mats["empirical Fisher"]) < 1e-10
R_emp = decomposition.empirical_fisher_residual(objective, w)
assert rel(mats["empirical Fisher"] + R_emp, H) < 1e-10
assert n_nonzero == N * (C - 1)
# what this run shows about R (observations about these two runs, with generous margins):
ce, mse = ratios["cross-entropy"], ratios["MSE"]
assert mse[-1]["frobenius"] < 0.01 < 0.1 * mse[0]["frobenius"]  # MSE: R vanishes relative to G
assert ce[-1]["spectral"] < 0.35  # CE: R's top is well below G's
assert ce[-1]["negative"] < 0.2 * ce[0]["negative"]  # CE: negative curvature fades (by 8x here)
print("all checks passed")
