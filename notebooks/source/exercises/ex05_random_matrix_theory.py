# %% [markdown]
# # Exercises for notebook 5 · Random matrices
#
# Write each function in the cell marked **your code here**, run it, then run the check cell below
# it (✔ = correct; otherwise it prints what differs and a hint).

# %%
import numpy as np  # noqa: F401 (for your code)

from hessian_spectra.teaching import check

# %% [markdown]
# ## Exercise 5.1 · The Marchenko–Pastur edges
#
# Return the tuple $(\lambda_-, \lambda_+)$ with $\lambda_\pm = \sigma^2 (1 \pm \sqrt\alpha)^2$.


# %% [exercise ex05_1]
def marchenko_pastur_edges(alpha, sigma2=1.0):
    """(λ₋, λ₊) = (σ²(1 − √α)², σ²(1 + √α)²)."""
    # your code here
    raise NotImplementedError


# %% [check ex05_1]
check("ex05_1", marchenko_pastur_edges)

# %% [markdown]
# ## Exercise 5.2 · The Marchenko–Pastur density
#
# $$ \rho(x) = \frac{\sqrt{(\lambda_+ - x)(x - \lambda_-)}}{2\pi\sigma^2\alpha\, x} \quad \text{for } \lambda_- < x < \lambda_+,
#    \qquad \rho(x) = 0 \text{ elsewhere} . $$
#
# `x` is an array; return $\rho$ at every point (same shape). Points at or below 0 get 0 (the point
# mass $1 - 1/\alpha$ at zero for $\alpha > 1$ is not part of the density). Avoid dividing by zero.


# %% [exercise ex05_2]
def marchenko_pastur_density(x, alpha, sigma2=1.0):
    """The continuous part of the MP law at the points x."""
    # your code here
    raise NotImplementedError


# %% [check ex05_2]
check("ex05_2", marchenko_pastur_density)

# %% [markdown]
# ## Exercise 5.3 · The BBP outlier
#
# For a spike $\ell$ in the population covariance $\sigma^2\,\mathrm{diag}(\ell, 1, \dots, 1)$ and ratio
# $\alpha$, the top eigenvalue of the sample covariance tends to
# $\sigma^2\,\ell\,\bigl(1 + \alpha/(\ell - 1)\bigr)$ when $\ell > 1 + \sqrt\alpha$, and to the bulk
# edge $\sigma^2(1+\sqrt\alpha)^2$ otherwise. Return that limit.


# %% [exercise ex05_3]
def bbp_outlier(spike, alpha, sigma2=1.0):
    """The BBP limit of the largest eigenvalue."""
    # your code here
    raise NotImplementedError


# %% [check ex05_3]
check("ex05_3", bbp_outlier)

# %% [markdown]
# ## Exercise 5.4 · The Hessian of logistic regression
#
# For the loss $\frac1N\sum_i \log(1 + e^{-y_i w^\top x_i})$ (labels $\pm1$, no bias) the Hessian is
#
# $$ H = \frac1N \sum_i s_i (1 - s_i)\, x_i x_i^\top, \qquad s_i = \sigma(w^\top x_i) = \frac{1}{1 + e^{-w^\top x_i}} , $$
#
# independent of the labels. `X` has shape $(N, d)$ and `w` shape $(d,)$; return the $d\times d$
# matrix. One test input has $|w^\top x_i|$ in the hundreds: compute $\sigma$ without overflow, e.g.
# $\sigma(t) = \frac12(\tanh(t/2) + 1)$.


# %% [exercise ex05_4]
def logistic_regression_hessian(X, w):
    """H = (1/N) Σ_i s_i (1 − s_i) x_i x_iᵀ with s_i = σ(wᵀ x_i)."""
    # your code here
    raise NotImplementedError


# %% [check ex05_4]
check("ex05_4", logistic_regression_hessian)
