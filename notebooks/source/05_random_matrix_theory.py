# %% [markdown]
# # 5 · Random matrices: Marchenko–Pastur and the BBP transition
#
# For a model that is *linear in its parameters* the residual term vanishes ($\nabla^2 f = 0$), so
# $H = G$, and $G$ is a sample covariance matrix of the data in disguise. Random-matrix theory then
# predicts the whole spectrum (Sagun et al. 2018, App. B):
#
# - with structureless (isotropic) data, the nonzero eigenvalues fill a **bulk** with the
#   Marchenko–Pastur shape and sharp edges;
# - one structured direction in the data (a "spike") produces an **outlier**, but only once it is
#   strong enough — the Baik–Ben Arous–Péché (BBP) transition.
#
# This is the cleanest setting in which "bulk from parameters, outliers from data" is a theorem.

# %%
import warnings

warnings.filterwarnings("ignore", message="IProgress not found")  # tqdm's notebook widget is not needed

import matplotlib.pyplot as plt
import numpy as np

import hessian_spectra as hs
from hessian_spectra import rmt, spectrum

# %matplotlib inline

SEED = 0
rng = np.random.default_rng(SEED)

# %% [markdown]
# ## The Marchenko–Pastur law
#
# Let $x_1, \dots, x_N \in \mathbb R^M$ have independent entries of mean 0 and variance $\sigma^2$,
# and $S = \frac1N \sum_i x_i x_i^\top$. As $M, N \to \infty$ with $M/N \to \alpha$, the histogram of
# the eigenvalues of $S$ tends to (Marchenko & Pastur 1967)
#
# $$ \rho(x) = \frac{\sqrt{(\lambda_+ - x)(x - \lambda_-)}}{2\pi\sigma^2\alpha\,x}
#    \quad\text{on } [\lambda_-, \lambda_+], \qquad \lambda_\pm = \sigma^2(1 \pm \sqrt\alpha)^2 , $$
#
# plus, when $\alpha > 1$, a fraction $1 - 1/\alpha$ of exact zeros ($S$ has rank $N < M$). Even
# though every population eigenvalue equals $\sigma^2$, the sample eigenvalues spread over a whole
# interval: the spread is the price of estimating $M$ directions from $N$ samples.

# %%
fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
mp_checks = {}
for ax, (M, N) in zip(axes, [(200, 800), (400, 200)], strict=True):
    alpha = M / N
    Xg = rmt.gaussian_inputs(N, M, seed=SEED)
    S = Xg.T @ Xg / N
    eig_S = spectrum.eigenvalues(S)
    lo, hi = rmt.marchenko_pastur_edges(alpha)
    n_zero = spectrum.count_zero(eig_S)
    ks = rmt.ks_distance_to_mp(eig_S, alpha)
    mp_checks[alpha] = {"ks": ks, "n_zero": n_zero, "M": M, "N": N, "max": eig_S[-1], "edge": hi}
    ax.hist(
        eig_S[np.abs(eig_S) > spectrum.zero_tolerance(eig_S)],
        bins=50,
        density=True,
        alpha=0.5,
        label="eigenvalues of S (nonzero)",
    )
    x = np.linspace(1e-3, hi * 1.05, 400)
    ax.plot(x, rmt.marchenko_pastur_density(x, alpha) * max(1.0, alpha), "k", label="MP density")
    ax.set_title(f"α = M/N = {alpha:g}: {n_zero} exact zeros; KS distance {ks:.3f}")
    ax.set_xlabel("eigenvalue")
    ax.legend()
    print(
        f"α = {alpha}: edges [{lo:.3f}, {hi:.3f}], observed [{eig_S[n_zero]:.3f}, {eig_S[-1]:.3f}], "
        f"zeros {n_zero} (theory M - N = {max(0, M - N)})"
    )
plt.show()

# %% [markdown]
# (For $\alpha > 1$ the histogram shows the nonzero eigenvalues only, so the density is rescaled by
# $\alpha$ to integrate to one over them.) The Kolmogorov–Smirnov distance is the largest gap between
# the empirical distribution function of the eigenvalues and the law's
# (`ks_distance_to_mp`, which counts the point mass at zero for $\alpha > 1$).

# %% [markdown]
# ## The Hessian of softmax regression *is* such a matrix
#
# Softmax regression is a network with no hidden layer: $f(x) = xW + b$, $W \in \mathbb R^{d\times C}$.
# It is linear in $w = (W, b)$, so $R = 0$ and $H = G = \frac1N\sum_i J_i^\top A_i J_i$. Write
# $\tilde x = (x, 1)$ for the input with the constant feature of the bias. In the parameter layout
# of the library (for each input feature $a$, its $C$ weights), $J_i = \tilde x_i^\top \otimes I_C$, so
#
# $$ J_i^\top A_i J_i = (\tilde x_i \tilde x_i^\top) \otimes A_i . $$
#
# At $w = 0$ every sample has $p = \mathbf 1/C$ and the same $A_0 = \frac1C\big(I - \frac1C\mathbf 1\mathbf 1^\top\big)$, hence
#
# $$ H = \tilde S \otimes A_0, \qquad \tilde S = \frac1N\sum_i \tilde x_i \tilde x_i^\top . $$
#
# $A_0$ has eigenvalue $1/C$ ($C-1$ times) and $0$ (along $\mathbf 1$), so the spectrum of $H$ is
# $d+1$ structural zeros plus $C-1$ copies of the spectrum of $\tilde S/C$: Marchenko–Pastur with
# $\alpha = (d+1)/N$ and $\sigma^2 = 1/C$.

# %%
N, d, C = 400, 99, 3
Xs = rmt.gaussian_inputs(N, d, seed=SEED)
softmax_reg = rmt.softmax_regression(Xs, n_classes=C, seed=SEED)  # an Objective with sizes (d, C)
w_zero = np.zeros(softmax_reg.n_params)
H_sr = hs.hessian_terms(
    softmax_reg.X,
    softmax_reg.y,
    w_zero,
    softmax_reg.layer_sizes,
    "linear",
    "cross_entropy",
    engine="reference",
)["H"]  # autograd's Hessian

X_tilde = np.hstack([Xs, np.ones((N, 1))])
S_tilde = X_tilde.T @ X_tilde / N
A0 = (np.eye(C) - np.ones((C, C)) / C) / C
H_kron = np.kron(S_tilde, A0)
print("‖H - S̃ ⊗ A0‖ / ‖H‖ =", np.linalg.norm(H_sr - H_kron) / np.linalg.norm(H_sr))

# %%
law = rmt.softmax_regression_mp(N, d, C)
print(law)
eig_H = spectrum.eigenvalues(H_sr)
n_struct = law["n_structural_zeros"]
eig_rest = eig_H[n_struct:]  # drop the d + 1 structural zeros (the smallest eigenvalues)
ks_H = rmt.ks_distance_to_mp(eig_rest, law["alpha"], law["sigma2"])
lo, hi = rmt.marchenko_pastur_edges(law["alpha"], law["sigma2"])

fig, ax = plt.subplots(figsize=(6, 3.8))
ax.hist(eig_rest, bins=40, density=True, alpha=0.5, label=f"{eig_rest.size} eigenvalues of H")
x = np.linspace(lo * 0.9, hi * 1.05, 400)
ax.plot(x, rmt.marchenko_pastur_density(x, law["alpha"], law["sigma2"]), "k", label="MP density")
ax.set_title(f"softmax regression at w = 0: KS distance {ks_H:.3f}")
ax.set_xlabel("eigenvalue")
ax.legend()
plt.show()

# %% [markdown]
# A few hundred eigenvalues already follow the law closely: an autograd Hessian and a formula from
# 1967 agree. Note what sets the bulk here: the *ratio* $\alpha$ of features to samples, not the
# labels, and not any structure in the data (there is none).

# %% [markdown]
# ## A spike in the data: the BBP transition
#
# Now give the data one special direction: population covariance $\mathrm{diag}(\ell, 1, \dots, 1)$,
# i.e. the first coordinate has variance $\ell > 1$. Does $S$ get an outlier near $\ell$? Only if the
# spike is strong enough (Baik, Ben Arous & Péché 2005):
#
# $$ \lambda_{\max}(S) \to \begin{cases} \ell\left(1 + \dfrac{\alpha}{\ell - 1}\right) & \ell > 1 + \sqrt\alpha, \\[2mm]
#    \lambda_+ = (1 + \sqrt\alpha)^2 & \ell \le 1 + \sqrt\alpha . \end{cases} $$
#
# Below the threshold the spike is swallowed by the bulk; above it, an outlier separates, pushed
# up from $\ell$ by the noise. We check this on the Hessian of logistic regression (one output, no
# bias), $H = \frac1N\sum_i s_i(1-s_i)\,x_ix_i^\top$ with $s_i = \sigma(w^\top x_i)$, which at $w = 0$
# is exactly $S/4$ (Sagun et al. 2018 write it $\frac1N T X X^\top T^\top$).

# %%
M, N_b = 200, 800
alpha_b = M / N_b
spikes = np.linspace(1.0, 6.0, 11)
n_draws = 10  # one draw fluctuates by about sqrt(2/N) ≈ 5% in the spike's sample variance; average a few
observed = np.zeros((spikes.size, n_draws))
for j, ell in enumerate(spikes):
    for t in range(n_draws):
        Xb = rmt.gaussian_inputs(N_b, M, spike=ell, seed=rng)
        H_log = rmt.logistic_regression_hessian(Xb, np.zeros(M))
        observed[j, t] = 4 * spectrum.eigenvalues(H_log)[-1]  # λ_max(S) = 4 λ_max(H) at w = 0
predicted = np.array([rmt.bbp_outlier(ell, alpha_b) for ell in spikes])
obs_mean, obs_std = observed.mean(axis=1), observed.std(axis=1)
threshold = rmt.bbp_threshold(alpha_b)

fig, ax = plt.subplots(figsize=(6, 3.8))
ax.errorbar(
    spikes,
    obs_mean,
    yerr=obs_std,
    fmt="o",
    capsize=3,
    label=f"largest eigenvalue of S = 4H (mean ± sd of {n_draws} draws)",
)
fine = np.linspace(1.0, 6.0, 200)
ax.plot(fine, [rmt.bbp_outlier(s, alpha_b) for s in fine], "k", label="BBP prediction")
ax.axhline(rmt.marchenko_pastur_edges(alpha_b)[1], color="0.6", ls="--", label="bulk edge λ₊")
ax.axvline(threshold, color="C3", ls=":", label=f"threshold 1 + √α = {threshold:.2f}")
ax.set_xlabel("spike ℓ")
ax.set_ylabel("eigenvalue")
ax.legend(fontsize=8)
plt.show()
for ell, o, sd, p in zip(spikes, obs_mean, obs_std, predicted, strict=True):
    print(f"ℓ = {ell:.1f}: observed {o:.3f} ± {sd:.3f}, predicted {p:.3f}")

# %% [markdown]
# Below $\ell = 1.5$ the largest eigenvalue sits at the bulk edge whatever the spike; above, it
# follows the BBP curve. The agreement is best far from the threshold: near it the outlier is
# barely separated from the bulk and finite-size effects are largest.

# %% [markdown]
# ## Classes are spikes
#
# Where would a spike come from in a classification problem? From the classes. Put two classes at
# $\pm\mu$ with $\mu = m\,e_1$: $x_i = \pm\mu + \text{noise}$. The mixture has covariance
# $I + \mu\mu^\top$, a spike $\ell = 1 + m^2$ along $\mu$. So the Hessian of two-class softmax
# regression at $w = 0$ is MP bulk **plus one outlier**, at the BBP position (times $\sigma^2 = 1/2$,
# the nonzero eigenvalue of $A_0$ for $C = 2$) — one outlier per direction in which the class means
# differ. In a deep network the class-mean directions live in gradient space rather than input
# space, but the mechanism is the same; notebook 3 makes it precise.

# %%
m = 2.0
y2 = np.arange(N) % 2
X2 = rmt.gaussian_inputs(N, d, seed=SEED)
X2[:, 0] += m * np.where(y2 == 0, 1.0, -1.0)
two_class = rmt.softmax_regression(X2, y2, n_classes=2)
H2 = hs.hessian_terms(
    two_class.X,
    two_class.y,
    np.zeros(two_class.n_params),
    two_class.layer_sizes,
    "linear",
    "cross_entropy",
    engine="reference",
)["H"]
eig2 = spectrum.eigenvalues(H2)
law2 = rmt.softmax_regression_mp(N, d, 2)
edge2 = rmt.marchenko_pastur_edges(law2["alpha"], law2["sigma2"])[1]
bbp2 = rmt.bbp_outlier(1 + m**2, law2["alpha"], law2["sigma2"])
print(f"top 3 eigenvalues {np.round(eig2[::-1][:3], 3)}; bulk edge {edge2:.3f}; BBP prediction {bbp2:.3f}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.hist(eig2[law2["n_structural_zeros"] :], bins=60, log=True, alpha=0.6)
ax.axvline(bbp2, color="C3", ls=":", label="BBP prediction")
ax.axvline(edge2, color="0.5", ls="--", label="MP edge")
ax.set_xlabel("eigenvalue")
ax.set_ylabel("count (log)")
ax.set_title("two classes at ±μ: MP bulk and one outlier")
ax.legend()
plt.show()

# %% [markdown]
# ## Verifying results
#
# - Autograd's Hessian of softmax regression equals $\tilde S \otimes A_0$ at round-off.
# - The spectra follow the Marchenko–Pastur law: Kolmogorov–Smirnov distance below 0.05 (with
#   a few hundred eigenvalues the finite-size distance is a few hundredths), with $M - N$ exact zeros
#   when $\alpha > 1$.
# - BBP: averaged over draws, the top eigenvalue is within 3% of $\ell(1 + \alpha/(\ell-1))$ once
#   $\ell \ge 2.5$ (one draw fluctuates by about 5%; closer to the threshold finite-size effects are
#   larger); below the threshold, within 3% of the bulk edge. The two-class outlier (one draw)
#   matches BBP within 5%, and the next eigenvalue stays at the bulk edge.

# %%
assert np.linalg.norm(H_sr - H_kron) / np.linalg.norm(H_sr) < 1e-12  # exact identity
assert ks_H < 0.05
for alpha, chk in mp_checks.items():
    assert chk["ks"] < 0.05, (alpha, chk)
    assert chk["n_zero"] == max(0, chk["M"] - chk["N"])
above = spikes >= 2.5
assert np.all(np.abs(obs_mean[above] - predicted[above]) <= 0.03 * predicted[above])
below = spikes < threshold
assert np.all(np.abs(obs_mean[below] - predicted[below]) <= 0.03 * predicted[below])
assert abs(eig2[-1] - bbp2) <= 0.05 * bbp2 and eig2[-2] < 1.05 * edge2
print("all checks passed")
