# %% [markdown]
# # 3 · Why the outliers track the classes
#
# Notebook 2 showed that the Hessian's outliers are eigenvalues of the Gauss-Newton term
# $G = \frac1N\sum_i J_i^\top A_i J_i$. Why are there about $C$ of them — one per class?
# Papyan (2019, 2020) answered by splitting $G$ along the class structure of the data:
#
# $$ G = G_0 + G_1 + G_2 + G_3 , $$
#
# where $G_1$ is built from $C$ **class-mean vectors** (so it has rank $\le C$ and gives the $C$
# outliers), $G_2$ from cross-class deviations (a second, smaller level), and $G_3$ from the
# within-class scatter (the bulk). We build every piece, compute the outliers from a tiny $C \times C$
# matrix, and knock them out.

# %%
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's notebook widget is not needed

import matplotlib.pyplot as plt
import numpy as np

import hessian_spectra as hs
from hessian_spectra import spectrum
from hessian_spectra.curvature import papyan

# %matplotlib inline

SEED = 0
rng = np.random.default_rng(SEED)

# The closed-form "fast" engine; engine="reference" gives the same matrices through autograd, slowly.
ENGINE = "fast"

# %% [markdown]
# We reuse notebook 1's trained network: $k = C = 5$ Gaussian clusters in $\mathbb R^{16}$, $N = 300$,
# a ReLU network $16 \to 20 \to 20 \to 5$ ($P = 865$), 600 steps of gradient descent.

# %%
C = 5
data = hs.blobs(n_samples=300, n_clusters=C, dim=16, spread=1.0, seed=SEED)
X, y = data.X, data.y
sizes = (16, 20, 20, C)
objective = hs.Objective(X, y, sizes, activation="relu", loss="cross_entropy")
w = hs.train(
    objective, hs.init_params(sizes, "normal", seed=SEED), optimizer="gd", lr=0.1, steps=600, progress=False
).params
terms = hs.hessian_terms(X, y, w, sizes, "relu", "cross_entropy", terms=("H", "G"), engine=ENGINE)
H, G = terms["H"], terms["G"]
eig_H = spectrum.eigenvalues(H)
print(f"P = {objective.n_params}; top 7 eigenvalues of H: {np.round(eig_H[::-1][:7], 4)}")

# %% [markdown]
# ## Step 1: $G$ as a sum of outer products of gradients
#
# From notebook 2, $A_i = \sum_{c'} p_{ic'}(e_{c'} - p_i)(e_{c'} - p_i)^\top$. Define for every sample
# $i$ and every class $c'$ the vector
#
# $$ \delta_{i,c'} = \sqrt{p_{ic'}}\; J_i^\top (e_{c'} - p_i) \in \mathbb R^P . $$
#
# $J_i^\top(e_{c'} - p_i) = -\nabla_w \ell(f_i, c')$ is minus the gradient of the loss the sample would
# have *if its label were $c'$*. Then $J_i^\top A_i J_i = \sum_{c'} \delta_{i,c'}\delta_{i,c'}^\top$, and
#
# $$ G = \frac1N \sum_i \sum_{c'} \delta_{i,c'}\,\delta_{i,c'}^\top : $$
#
# a second moment of $NC$ gradient-like vectors. If those vectors cluster, $G$ has large
# eigenvalues along the cluster means.

# %%
deltas = papyan.per_sample_deltas(objective, w)  # (N, C, P)
G_from_deltas = np.einsum("icp,icq->pq", deltas, deltas) / objective.n_samples
print("‖G_from_deltas - G‖ / ‖G‖ =", np.linalg.norm(G_from_deltas - G) / np.linalg.norm(G))

# %% [markdown]
# ## Step 2: the class means and the four terms
#
# Group the samples by their true class $c$ (so $\delta_{i,c'}$ with $i$ in class $c$ is also written
# $\delta_{i,c,c'}$). Take means within each class, $\delta_{c,c'} = \mathrm{Ave}_{i \in c}\,\delta_{i,c,c'}$,
# then the mean over the *wrong* labels and the deviations from it:
#
# $$ \delta_c = \frac{1}{C-1}\sum_{c' \ne c}\delta_{c,c'}, \qquad \nu_{c,c'} = \delta_{c,c'} - \delta_c \quad (c' \ne c). $$
#
# With class weights $\pi_c = N_c/N$, splitting each class's second moment into mean and scatter gives
# the exact decomposition (Papyan 2020)
#
# $$ \begin{aligned}
# G_0 &= \textstyle\sum_c \pi_c\,\delta_{c,c}\delta_{c,c}^\top &&\text{(the true-label means; small near a minimum)}\\
# G_1 &= \textstyle (C-1)\sum_c \pi_c\,\delta_c\delta_c^\top &&\text{(rank} \le C\text{: the outliers)}\\
# G_2 &= \textstyle\sum_c \pi_c \sum_{c'\ne c}\nu_{c,c'}\nu_{c,c'}^\top &&\text{(cross-class level, rank} \le C(C-2))\\
# G_3 &= \textstyle\sum_c \pi_c\,\mathrm{Ave}_{i\in c}\sum_{c'}(\delta_{i,c,c'} - \delta_{c,c'})(\cdots)^\top &&\text{(within-class scatter: the bulk)}
# \end{aligned} $$
#
# The cross terms vanish because deviations from a mean average to zero and
# $\sum_{c' \ne c}\nu_{c,c'} = 0$.

# %%
dec = papyan.class_mean_decomposition(objective, w)
print("‖G0 + G1 + G2 + G3 - G‖ / ‖G‖ =", np.linalg.norm(dec.total - G) / np.linalg.norm(G))
for name in ("G0", "G1", "G2", "G3"):
    M = getattr(dec, name)
    e = spectrum.eigenvalues(M)
    print(
        f"{name}: ‖·‖_F = {np.linalg.norm(M):.2e}, rank {int(np.sum(e > spectrum.zero_tolerance(e)))}, "
        f"largest eigenvalue {e[-1]:.2e}"
    )

# %% [markdown]
# $G_0$ is tiny: the network has learned, so the true-label gradients average out. $G_1$ has rank
# $C = 5$ and $G_2$ rank $C(C-2) = 15$; $G_3$ carries most of the rank (713 of 865 here) but only small
# eigenvalues.

# %% [markdown]
# ## Step 3: the outliers from a $C \times C$ matrix
#
# If $V$ is the $m \times P$ matrix whose rows are vectors $v_j$, then $V^\top V = \sum_j v_jv_j^\top$ (a
# $P\times P$ matrix) and $VV^\top$ (the $m\times m$ Gram matrix, entries $v_j^\top v_k$) have the same
# nonzero eigenvalues: if $VV^\top u = \lambda u$ then $V^\top V (V^\top u) = \lambda\, V^\top u$. For
# $G_1$ the rows are $\sqrt{(C-1)\pi_c}\,\delta_c$: **the $C$ outliers come from a $5 \times 5$
# eigenproblem** instead of an $865 \times 865$ one. The same trick gives $G_0 + G_1 + G_2 =
# \sum_c\pi_c\sum_{c'}\delta_{c,c'}\delta_{c,c'}^\top$ from a $C^2 \times C^2$ Gram matrix.

# %%
eig_G1_gram = papyan.g1_eigenvalues_from_gram(dec)  # C values, ascending
eig_G012_gram = papyan.g012_eigenvalues_from_gram(dec)  # C² values, ascending
eig_G1_dense = spectrum.eigenvalues(dec.G1)[-C:]
print("G1 from the 5×5 Gram:  ", np.round(eig_G1_gram[::-1], 5))
print("G1 from dense eigh:    ", np.round(eig_G1_dense[::-1], 5))
print()
print("top 5 of H:            ", np.round(eig_H[::-1][:C], 5))
print("top 5 of G0+G1+G2:     ", np.round(eig_G012_gram[::-1][:C], 5))
print("next 5 of H:           ", np.round(eig_H[::-1][C : 2 * C], 5))
print("next 5 of G0+G1+G2:    ", np.round(eig_G012_gram[::-1][C : 2 * C], 5))

# %%
fig, ax = plt.subplots(figsize=(7.5, 4))
n_show = 30
ax.plot(np.arange(1, n_show + 1), eig_H[::-1][:n_show], "o-", ms=4, color="0.3", label="H")
ax.plot(np.arange(1, C + 1), eig_G1_gram[::-1], "s", mfc="none", ms=9, color="C3", label="G1 (5×5 Gram)")
ax.plot(np.arange(1, C * C + 1), eig_G012_gram[::-1], "x", ms=7, color="C0", label="G0+G1+G2 (25×25 Gram)")
ax.set_xlabel("rank (largest first)")
ax.set_ylabel("eigenvalue")
ax.set_title("the outliers of H and the class-mean levels")
ax.legend()
plt.show()

# %% [markdown]
# The $C^2$ eigenvalues of the between-class part $G_0 + G_1 + G_2$ reproduce the Hessian's top of the
# spectrum: the five outliers, and below them the second, smaller level that notebook 1's elbow
# threshold caught (Papyan's cross-class "mini-outliers"). $G_1$ alone lands somewhat below the
# outliers, because $G_1$ and $G_2$ are not orthogonal: $G_2$ adds to them. The three-level hierarchy
# — $C$ outliers, $C(C-1)$ mini-outliers, the bulk — is what Papyan (2019) measured in large networks.

# %% [markdown]
# ## Step 4: knock the class means out
#
# If the outliers live in the span of the class means $\{\delta_c\}$ (the range of $G_1$), then
# removing that span should remove them. Let $Q$ be an orthonormal basis of
# $\mathrm{span}\{\delta_1,\dots,\delta_C\}$ and $\Pi = I - QQ^\top$. The *knocked-out* Hessian
# $\Pi H \Pi$ is $H$ restricted to the directions orthogonal to the class means (Papyan 2020). We also
# show the cruder $G - G_1$.

# %%
H_ko = papyan.knock_out(H, dec, "project_class_means")
G_minus_G1 = papyan.knock_out(G, dec, "subtract_G1")
eig_H_ko = spectrum.eigenvalues(H_ko)
eig_G_ko = spectrum.eigenvalues(G_minus_G1)

fig, ax = plt.subplots(figsize=(7.5, 4))
ax.plot(np.arange(1, n_show + 1), eig_H[::-1][:n_show], "o-", ms=4, label="H")
ax.plot(
    np.arange(1, n_show + 1), eig_H_ko[::-1][:n_show], "o-", ms=4, label="Π H Π (class means projected out)"
)
ax.plot(np.arange(1, n_show + 1), eig_G_ko[::-1][:n_show], ".--", label="G − G1")
ax.set_xlabel("rank (largest first)")
ax.set_ylabel("eigenvalue")
ax.legend()
plt.show()
print("outlier counts of H:      ", spectrum.outlier_counts(eig_H))
print("outlier counts of Π H Π:  ", spectrum.outlier_counts(eig_H_ko))
print(f"largest eigenvalue: H {eig_H[-1]:.4f}, Π H Π {eig_H_ko[-1]:.4f}, G − G1 {eig_G_ko[-1]:.4f}")

# %% [markdown]
# With the five class-mean directions removed, the group of five outliers is gone: the largest
# remaining eigenvalue is about the size of the Hessian's sixth, and the curve no longer drops after
# rank 5. The outliers of the Hessian **are** the class means of the gradients. That is why their
# number follows the number of classes, and why changing the data moves them (notebook 4).

# %% [markdown]
# ## Verifying results
#
# - $\frac1N\sum_{i,c'}\delta_{i,c'}\delta_{i,c'}^\top$ and $G_0 + G_1 + G_2 + G_3$ both equal $G$
#   computed by the curvature engine (closed form, an independent route) at round-off.
# - The eigenvalues from the $C\times C$ and $C^2\times C^2$ Gram matrices equal those of the dense
#   $P \times P$ matrices at round-off.
# - The Hessian's top 5 eigenvalues match those of $G_0+G_1+G_2$ within 10%, and $G_1$'s within a third.
# - After projecting out the class means no eigenvalue is left above the midpoint between the
#   Hessian's 5th and 6th eigenvalues.


# %%
def rel(a, b):
    return np.linalg.norm(a - b) / np.linalg.norm(b)


assert rel(G_from_deltas, G) < 1e-10  # exact identities: round-off only
assert rel(dec.total, G) < 1e-10
assert np.abs(eig_G1_gram - eig_G1_dense).max() < 1e-10 * eig_G1_dense.max()
eig_G012_dense = spectrum.eigenvalues(dec.G0 + dec.G1 + dec.G2)[-C * C :]
assert np.abs(np.sort(eig_G012_gram) - eig_G012_dense).max() < 1e-10 * eig_G012_dense.max()
top_H = eig_H[::-1][:C]
assert np.all(np.abs(eig_G012_gram[::-1][:C] - top_H) <= 0.10 * top_H)
assert np.all(np.abs(eig_G1_gram[::-1] - top_H) <= top_H / 3)
midpoint = 0.5 * (eig_H[-C] + eig_H[-C - 1])
assert np.count_nonzero(eig_H > midpoint) == C and np.count_nonzero(eig_H_ko > midpoint) == 0
print("all checks passed")
