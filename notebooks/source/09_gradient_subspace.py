# %% [markdown]
# # 9 · The gradient in a tiny subspace
#
# Notebooks 1–3 looked at the Hessian at the end of training: $C$ outliers, one per class, carried by
# Papyan's class means. Gur-Ari, Roberts & Dyer (2018) looked at it **during** training and found that,
# after a short initial phase,
#
# - the gradient $g_t = \nabla L(w_t)$ lies almost entirely in the span of the top-$C$ eigenvectors of
#   the Hessian $H(w_t)$, $C$ the number of classes, and
# - that span changes slowly from step to step.
#
# With exact Hessians we can measure both, link them to the class means of notebook 3, and find out
# when the first statement does **not** hold: plain gradient descent with a small step size damps
# exactly the directions the claim is about.

# %%
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's notebook widget is not needed

import matplotlib.pyplot as plt
import numpy as np
import scipy.linalg

import hessian_spectra as hs
from hessian_spectra import spectrum
from hessian_spectra.curvature import lanczos, matrix_free, papyan

# %matplotlib inline

SEED = 0
rng = np.random.default_rng(SEED)

# The closed-form "fast" engine; engine="reference" gives the same matrices through autograd, slowly.
ENGINE = "fast"

# %% [markdown]
# ## Two measurements
#
# Write the Hessian's eigendecomposition as $H = \sum_j \lambda_j q_j q_j^\top$ with
# $\lambda_1 \ge \lambda_2 \ge \dots$ The projector on the top-$k$ eigenspace is $P_k = \sum_{j\le k} q_j
# q_j^\top$, and the **fraction of the gradient in it** is
#
# $$ f_k = \frac{\lVert P_k g\rVert^2}{\lVert g\rVert^2} = \frac{\sum_{j\le k} (q_j^\top g)^2}{g^\top g} \in [0, 1] . $$
#
# For two $k$-dimensional subspaces with orthonormal bases $V$ and $W$, the singular values of
# $V^\top W$ are the cosines of their principal angles $\theta_1, \dots, \theta_k$, and their
# **overlap** is the mean squared cosine,
#
# $$ \mathrm{overlap}(V, W) = \frac1k \sum_j \cos^2\theta_j = \frac1k \lVert V^\top W\rVert_F^2 , $$
#
# 1 for the same subspace, 0 for orthogonal ones, and about $k/P$ for two random ones.
# `spectrum.projection_fractions(g, Q)` returns $f_1, \dots, f_m$ for the columns of `Q`;
# `spectrum.subspace_overlap(V, W)` the overlap.

# %%
C = 5
blobs = hs.blobs(n_samples=300, n_clusters=C, dim=16, spread=1.0, seed=SEED)
sizes = (16, 20, 20, C)
objective = hs.Objective(blobs.X, blobs.y, sizes, activation="relu", loss="cross_entropy")
w0 = hs.init_params(sizes, "normal", seed=SEED)
P = objective.n_params


def top_eigenpairs(objective, w, k):
    """The k + 1 largest eigenvalues (descending) and the k top eigenvectors of the exact H at w."""
    H = hs.hessian_terms(
        objective.X, objective.y, w, objective.layer_sizes, objective.activation, objective.loss,
        terms=("H",), engine=ENGINE,
    )["H"]  # fmt: skip
    lam, Q = spectrum.eigh(H)  # ascending
    return lam[::-1][: k + 1], Q[:, ::-1][:, :k]


lam0, Q0 = top_eigenpairs(objective, w0, 2 * C)
g0 = objective.gradient(w0)
f0 = spectrum.projection_fractions(g0, Q0)
print(f"P = {P}; at the initial point f_1 … f_{2 * C} =", np.round(f0, 3))

# %% [markdown]
# The same numbers by the definitions: an explicit $P \times P$ projector, and SciPy's principal
# angles between the top-5 eigenspace and a random 5-dimensional subspace.

# %%
P5 = Q0[:, :C] @ Q0[:, :C].T
print(
    "f_5 by the projector:",
    np.linalg.norm(P5 @ g0) ** 2 / np.linalg.norm(g0) ** 2,
    " by the library:",
    f0[C - 1],
)
R = rng.standard_normal((P, C))
angles = scipy.linalg.subspace_angles(Q0[:, :C], R)
print(
    f"overlap with a random 5-d subspace: {spectrum.subspace_overlap(Q0[:, :C], R):.5f} "
    f"(mean cos² of SciPy's angles {np.mean(np.cos(angles) ** 2):.5f}; k/P = {C / P:.5f})"
)

# %% [markdown]
# ## Along training
#
# Gradient descent ($w_{t+1} = w_t - \eta g_t$, $\eta = 0.1$) and SGD (minibatches of 20, the same
# $\eta$) from the same initial point; every 50 steps we diagonalize the exact Hessian and record
# $f_k$ for all $k \le 2C$, the top eigenvalues and the top-$C$ eigenvectors. For SGD, $g_t$ is the
# full-batch gradient at the SGD iterate.


# %%
def follow(objective, w0, optimizer, lr, steps=400, every=50, batch_size=None):
    """Train, and at every ``every`` steps the fractions f_1..f_2C, the top eigenvalues, the top-C
    eigenvectors and the gradient's fraction in span{δ_c} (section 4)."""
    C = objective.n_classes
    checkpoints = list(range(0, steps + 1, every))
    res = hs.train(
        objective, w0, optimizer=optimizer, lr=lr, steps=steps, batch_size=batch_size,
        snapshot_steps=checkpoints, seed=SEED, progress=False,
    )  # fmt: skip
    out = {"step": np.array(checkpoints), "f": [], "lam": [], "V": [], "f_G1": [], "loss": []}
    for t in checkpoints:
        w = res.snapshots[t]
        lam, Q = top_eigenpairs(objective, w, 2 * C)
        g = objective.gradient(w)
        basis_G1 = papyan.class_mean_basis(papyan.class_means_by_products(objective, w))
        out["f"].append(spectrum.projection_fractions(g, Q))
        out["lam"].append(lam)
        out["V"].append(Q[:, :C])
        out["f_G1"].append(spectrum.projection_fractions(g, basis_G1)[-1])
        out["loss"].append(objective.loss_value(w))
    out.update({key: np.array(out[key]) for key in ("f", "lam", "f_G1", "loss")})
    out["last"] = res.snapshots[checkpoints[-1]]
    return out


gd = follow(objective, w0, "gd", 0.1)
sgd = follow(objective, w0, "sgd", 0.1, batch_size=20)
print("loss along GD: ", np.round(gd["loss"], 4))

# %%
ks = [1, C - 1, C, 2 * C]
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
for run, ls, name in ((gd, "-", "GD"), (sgd, "--", "SGD")):
    for j, k in enumerate(ks):
        ax1.plot(
            run["step"], run["f"][:, k - 1], ls, marker="o", ms=3, color=f"C{j}", label=f"{name}, k = {k}"
        )
ax1.set_xlabel("step")
ax1.set_ylabel("f_k = ‖P_k g‖² / ‖g‖²")
ax1.set_title("the gradient in the top-k eigenspace of H (blobs, C = 5)")
ax1.legend(fontsize=7, ncol=2)
for t_idx, color in ((0, "C7"), (3, "C4"), (-1, "C3")):
    ax2.plot(
        np.arange(1, 2 * C + 1), gd["f"][t_idx], "o-", color=color, label=f"GD, step {gd['step'][t_idx]}"
    )
ax2.axvline(C, color="0.5", ls=":")
ax2.set_xlabel("k")
ax2.set_title("f_k against k: the knee at k = C")
ax2.legend()
plt.show()

# %% [markdown]
# At the initial point the gradient is spread out ($f_{2C} \approx 0.4$). Within about 150 steps
# $f_C$ exceeds 0.99 for both GD and SGD, while $f_{C-1}$ stays well below: the gradient lives in
# the top-$C$ eigenspace, and needs all $C$ of its directions.

# %% [markdown]
# ## The top-$C$ subspace changes slowly
#
# Overlap of the top-$C$ eigenspaces 50 steps apart, and of each later one with the one at step 100
# (Gur-Ari et al. follow $V_{\text{top}}(t_1)$ against $V_{\text{top}}(t)$ this way).


# %%
def overlaps(run, t_ref=100):
    steps = list(run["step"])
    nxt = [spectrum.subspace_overlap(a, b) for a, b in zip(run["V"][:-1], run["V"][1:], strict=True)]
    i_ref = steps.index(t_ref)
    ref = [spectrum.subspace_overlap(run["V"][i_ref], V) for V in run["V"][i_ref:]]
    return np.array(steps[:-1]), np.array(nxt), np.array(steps[i_ref:]), np.array(ref)


fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
for run, ls, name in ((gd, "-", "GD"), (sgd, "--", "SGD")):
    t_next, o_next, t_ref, o_ref = overlaps(run)
    ax1.plot(t_next, o_next, ls, marker="o", color="C0", label=f"{name}: V(t) vs V(t + 50)")
    ax1.plot(t_ref, o_ref, ls, marker="s", color="C1", label=f"{name}: V(100) vs V(t)")
ax1.set_xlabel("t")
ax1.set_ylabel("mean cos² of the principal angles")
ax1.set_ylim(-0.02, 1.02)
ax1.legend(fontsize=8)
for j in range(2 * C):
    ax2.semilogy(gd["step"], gd["lam"][:, j], color="C3" if j < C else "0.6")
ax2.set_xlabel("step")
ax2.set_title("top 10 eigenvalues of H along GD (top 5 red)")
plt.show()
t_next, o_next, t_ref, o_ref = overlaps(gd)
print(
    "GD, overlap of V(t) and V(t + 50):",
    dict(zip(t_next.tolist(), np.round(o_next, 4).tolist(), strict=True)),
)
print(
    "GD, overlap of V(100) and V(t):   ", dict(zip(t_ref.tolist(), np.round(o_ref, 4).tolist(), strict=True))
)

# %% [markdown]
# Once the $C$ outliers have separated from the bulk (step 100–150), the top-$C$ subspace hardly moves:
# the overlap of subspaces 50 steps apart is above 0.99, and the one at step 100 still shares most
# of its directions with the one at step 400 (overlap 0.88).

# %% [markdown]
# ## Why: the class means of notebook 3
#
# Notebook 3 found the outliers in $G_1 = (C-1)\sum_c \pi_c\,\delta_c\delta_c^\top$, whose range is
# $\mathrm{span}\{\delta_1, \dots, \delta_C\}$ with
# $\delta_c = \frac1{C-1}\sum_{c'\ne c}\mathrm{Ave}_{i\in c}\sqrt{p_{c'}(x_i)}\,J_i^\top(e_{c'} - p(x_i))$.
# The gradient is built from the same ingredients, $g = \frac1N\sum_i J_i^\top(p(x_i) - e_{y_i})$. When
# the predictions are uniform, $p(x_i) = \mathbf 1/C$, we have $\sum_{c'}(e_{c'} - p) = 0$, so
# $\sum_{c' \ne c} \sqrt{1/C}\,(e_{c'} - p) = -\sqrt{1/C}\,(e_c - p)$ and
#
# $$ \delta_c = \frac{1}{(C-1)\sqrt C}\, \mathrm{Ave}_{i\in c} J_i^\top (p(x_i) - e_c), \qquad
#    g = (C-1)\sqrt C \sum_c \pi_c\, \delta_c \quad (\pi_c = N_c/N) : $$
#
# exactly, the gradient lies in the range of $G_1$. Away from uniform predictions the weights
# $\sqrt{p_{c'}}$ and $p_{c'}$ differ and the identity holds only approximately. We check the identity
# (zero last layer: every logit is 0) and then measure along GD.

# %%
layers = hs.unflatten(gd["last"], sizes)
layers[-1] = (np.zeros_like(layers[-1][0]), np.zeros_like(layers[-1][1]))
w_uniform = hs.flatten(layers)
means_u = papyan.class_means_by_products(objective, w_uniform)
g_u = objective.gradient(w_uniform)
combination = (C - 1) * np.sqrt(C) * means_u.class_weights @ means_u.delta_c
identity_error = np.linalg.norm(combination - g_u) / np.linalg.norm(g_u)
print(f"uniform predictions: ‖(C−1)√C Σ π_c δ_c − g‖ / ‖g‖ = {identity_error:.1e}")

V1 = papyan.class_mean_basis(papyan.class_means_by_products(objective, gd["last"]))
print("GD: fraction of g in span{δ_c} along training:", np.round(gd["f_G1"], 3))
print(
    f"GD, step {gd['step'][-1]}: overlap of the top-{C} space of H with span{{δ_c}}:",
    round(spectrum.subspace_overlap(gd["V"][-1], V1), 4),
)

# %% [markdown]
# The gradient's fraction in $\mathrm{span}\{\delta_c\}$ stays near 0.99 all along, and after the
# initial phase that span nearly *is* the top-$C$ eigenspace of $H$ (overlap ≈ 0.97). On these tight,
# separable clusters, "the gradient lies in the top-$C$ subspace" and "the outliers are the class
# means" are one fact seen twice.

# %% [markdown]
# ## Where it fails: stable gradient descent damps the sharp directions
#
# Near a point $w$, $L(w + \Delta) \approx L(w) + g^\top\Delta + \frac12\Delta^\top H\Delta$, and one GD step
# changes the gradient to $g - \eta H g = (I - \eta H)\, g$. In the eigenbasis the component along
# $q_j$ is multiplied by $1 - \eta\lambda_j$ at every step. For a quadratic $L(w) = \frac12 w^\top H w$
# this is exact: with $a_j = q_j^\top g_0$,
#
# $$ f_k(t) = \frac{\sum_{j\le k} (1 - \eta\lambda_j)^{2t} a_j^2}{\sum_j (1 - \eta\lambda_j)^{2t} a_j^2} . $$
#
# While $0 < \eta\lambda_j < 2$ the sharpest directions shrink fastest: GD drives the gradient **out**
# of the top eigenspace. Only beyond $\eta\lambda_j = 2$ (the edge of stability, Cohen et al. 2021)
# does a component grow and oscillate. First the quadratic, by simulation and by the formula:

# %%
lam_q = np.concatenate([[10.0, 8.0, 6.0], np.linspace(0.5, 0.01, 47)])  # 3 outliers and a bulk
Qq, _ = np.linalg.qr(rng.standard_normal((50, 50)))
Hq = (Qq * lam_q) @ Qq.T
wq = rng.standard_normal(50)
eta = 0.1
sim, formula = [], []
a = Qq.T @ (Hq @ wq)
for t in range(30):
    sim.append(spectrum.projection_fractions(Hq @ wq, Qq[:, :3])[-1])
    damped = (1 - eta * lam_q) ** (2 * t) * a**2
    formula.append(damped[:3].sum() / damped.sum())
    wq = wq - eta * (Hq @ wq)
print("quadratic, f_3 by simulation:", np.round(sim[::5], 5))
print("quadratic, f_3 by the formula:", np.round(formula[::5], 5))

# %% [markdown]
# Now a network where this matters: the 8×8 digits (10 classes), a ReLU network $64 \to 16 \to 10$
# ($P = 1{,}210$), 300 images, GD and SGD at $\eta = 0.1$, and GD at $\eta = 1$, whose
# $\eta\lambda_{\max}$ starts near 2.

# %%
digits = hs.digits(n_samples=300, seed=SEED)
sizes_d = (64, 16, 10)
objective_d = hs.Objective(digits.X, digits.y, sizes_d, activation="relu", loss="cross_entropy")
w0_d = hs.init_params(sizes_d, "normal", seed=SEED)
Cd = objective_d.n_classes
runs_d = {
    "GD, η = 0.1": (0.1, follow(objective_d, w0_d, "gd", 0.1, every=100)),
    "SGD (batch 20), η = 0.1": (0.1, follow(objective_d, w0_d, "sgd", 0.1, every=100, batch_size=20)),
    "GD, η = 1": (1.0, follow(objective_d, w0_d, "gd", 1.0, every=25)),
}
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4))
for (name, (eta_run, run)), color in zip(runs_d.items(), ("C0", "C1", "C2"), strict=True):
    ax1.semilogy(run["step"], np.maximum(run["f"][:, Cd - 1], 1e-7), "o-", ms=3, color=color, label=name)
    ax2.plot(run["step"], eta_run * run["lam"][:, 0], "o-", ms=3, color=color, label=name)
ax1.set_xlabel("step")
ax1.set_ylabel("f_C (log scale)")
ax1.set_title("digits: the gradient's fraction in the top-10 space")
ax1.legend(fontsize=8)
ax2.axhline(2, color="0.3", ls="--")
ax2.set_xlabel("step")
ax2.set_ylabel("η λ_max")
ax2.set_title("the stability threshold η λ_max = 2")
ax2.legend(fontsize=8)
plt.show()
for name, (eta_run, run) in runs_d.items():
    print(name)
    for t, f_C, sharp in zip(run["step"], run["f"][:, Cd - 1], eta_run * run["lam"][:, 0], strict=True):
        print(f"   step {t:3d}: f_C = {f_C:.1e}, η λ_max = {sharp:.2f}")

# %% [markdown]
# With $\eta = 0.1$, GD's $\eta\lambda_{\max}$ stays below 0.5 and its gradient leaves the top-10
# space: $f_C$ falls from 0.31 to $4 \cdot 10^{-4}$ at step 200 and below $10^{-4}$ after. SGD with the
# same $\eta$ keeps it there, $f_C$ = 0.6–0.8 from step 200 on: the minibatch noise, largest along the
# class-mean directions, keeps exciting what GD damps. GD with $\eta = 1$ sits in the top space
# ($f_C$ = 0.6–0.98) during its first 100 steps, while $\eta\lambda_{\max}$ climbs to 3.6 — beyond 2,
# where the sharp components grow and oscillate instead of shrinking — and leaves it ($f_C$ = 0.01–0.04)
# once $\lambda_{\max}$ has fallen back below $2/\eta$. The reproduction of this claim on MNIST (experiment E13,
# `docs/reproduce/E13.md`) measures the same contrast with learning-rate and batch-size sweeps.

# %% [markdown]
# ## Verifying results
#
# - $f_k$ by `projection_fractions` equals $\lVert P_k g\rVert^2/\lVert g\rVert^2$ with an explicit
#   projector, and `subspace_overlap` the mean $\cos^2$ of SciPy's principal angles, at round-off.
# - The top-$C$ eigenspace from matrix-free Lanczos equals the dense one (overlap $1 - 10^{-8}$).
# - The class means by vector-Jacobian products equal those from per-sample Jacobians, and at uniform
#   predictions $g = (C-1)\sqrt C\sum_c\pi_c\delta_c$, at round-off.
# - On the quadratic, simulated GD follows the damping formula at round-off.
# - On blobs, $f_C \ge 0.99$ and $f_{C-1} \le 0.8$ from step 150 on for GD and SGD, and the overlap of
#   top-$C$ spaces 50 steps apart is above 0.99 there. On digits at $\eta = 0.1$, GD's $f_C$ is below
#   0.01 from step 200 on, while SGD's median there is above 0.3.


# %%
assert abs(np.linalg.norm(P5 @ g0) ** 2 / np.linalg.norm(g0) ** 2 - f0[C - 1]) < 1e-12
assert abs(spectrum.subspace_overlap(Q0[:, :C], R) - np.mean(np.cos(angles) ** 2)) < 1e-12
_, V_lanczos, _ = lanczos.extreme_eigenpairs(
    matrix_free.hessian_operator(objective, gd["last"]), C, seed=SEED, return_eigenvectors=True
)
assert spectrum.subspace_overlap(V_lanczos, gd["V"][-1]) > 1 - 1e-8
means_ref = papyan.class_means(objective, gd["last"], method="autograd")
means_vjp = papyan.class_means_by_products(objective, gd["last"])
assert np.abs(means_vjp.delta_c - means_ref.delta_c).max() < 1e-12 * np.abs(means_ref.delta_c).max()
assert identity_error < 1e-12
assert np.max(np.abs(np.array(sim) - np.array(formula))) < 1e-12
for run in (gd, sgd):
    later = run["step"] >= 150
    assert np.all(run["f"][later, C - 1] >= 0.99) and np.all(run["f"][later, C - 2] <= 0.8)
t_next, o_next, _, _ = overlaps(gd)
assert np.all(o_next[t_next >= 150] > 0.99)
gd_d, sgd_d = runs_d["GD, η = 0.1"][1], runs_d["SGD (batch 20), η = 0.1"][1]
assert np.all(gd_d["f"][gd_d["step"] >= 200, Cd - 1] < 0.01)
assert np.median(sgd_d["f"][sgd_d["step"] >= 200, Cd - 1]) > 0.3
print("all checks passed")
