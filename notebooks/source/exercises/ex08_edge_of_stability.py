# %% [markdown]
# # Exercises for notebook 8 · The edge of stability
#
# Write each function in the cell marked **your code here**, run it, then run the check cell below
# it (✔ = correct; otherwise it prints what differs and a hint).

# %%
import numpy as np  # noqa: F401 (for your code)

from hessian_spectra.teaching import check

# %% [markdown]
# ## Exercise 8.1 · GD on a quadratic
#
# Gradient descent with step size $\eta$ on $q(x) = \tfrac12\sum_j \lambda_j x_j^2$ updates every
# coordinate on its own: $x_{t+1,j} = x_{t,j} - \eta\lambda_j x_{t,j}$. Return the iterates
# $x_0, x_1, \dots, x_{\text{steps}}$ as an array of shape `(steps + 1, d)` (row 0 is `x0`). The
# curvatures may be negative or beyond $2/\eta$: those coordinates grow.


# %% [exercise ex08_1]
def gd_on_quadratic(curvatures, lr, x0, steps):
    """The GD iterates on ½ Σ_j λ_j x_j², rows t = 0 … steps."""
    # your code here
    raise NotImplementedError


# %% [check ex08_1]
check("ex08_1", gd_on_quadratic)

# %% [markdown]
# ## Exercise 8.2 · Where GD on a quadratic stops converging
#
# For a symmetric positive semidefinite matrix $A$ with $\lambda_{\max}(A) > 0$, GD on
# $\tfrac12 x^\top A x$ converges from every start iff every eigen-coordinate does, i.e. iff
# $|1 - \eta\lambda_j| < 1$ for all $j$. Return the smallest step size at which it no longer does.


# %% [exercise ex08_2]
def divergence_step_size(A):
    """The step size at which GD on ½ xᵀAx stops converging."""
    # your code here
    raise NotImplementedError


# %% [check ex08_2]
check("ex08_2", divergence_step_size)

# %% [markdown]
# ## Exercise 8.3 · The sharpness by power iteration
#
# `hvp(v)` returns $Hv$ (a Hessian-vector product; here sometimes a plain matrix product). From
# `v0`, repeat `n_iter` times $v \leftarrow Hv/\lVert Hv\rVert$, and return the Rayleigh quotient
# $v^\top H v$ of the last (unit) vector. It converges to the eigenvalue of largest magnitude, with
# its sign, at the rate $(\lambda_2/\lambda_1)^{2k}$.


# %% [exercise ex08_3]
def sharpness_by_power_iteration(hvp, v0, n_iter):
    """The Rayleigh quotient after n_iter normalized power steps from v0."""
    # your code here
    raise NotImplementedError


# %% [check ex08_3]
check("ex08_3", sharpness_by_power_iteration)

# %% [markdown]
# ## Exercise 8.4 · Reading the edge of stability off a sharpness trace
#
# `sharpness[i]` is $\lambda_{\max}(H)$ measured at GD step `steps[i]` with step size `lr`
# $= \eta$. With $\rho_i = \texttt{sharpness}_i\,\eta/2$ return a dict with
#
# - `"crossing_index"`: the first $i$ with $\rho_i \ge 1 - \texttt{reach}$ (the sharpness has reached
#   $2/\eta$, up to the allowance `reach`), or $-1$ if there is none;
# - `"sharpening"`: `sharpness[crossing] / sharpness[0]` (`nan` without a crossing);
# - `"fraction_in_band"`: among the measurements **after** the crossing, the fraction with
#   $|\rho_i - 1| \le \texttt{band}$ (`nan` if there are none).


# %% [exercise ex08_4]
def edge_summary(steps, sharpness, lr, band, reach):
    """Crossing index, sharpening factor and fraction of later measurements at the edge."""
    # your code here
    raise NotImplementedError


# %% [check ex08_4]
check("ex08_4", edge_summary)
