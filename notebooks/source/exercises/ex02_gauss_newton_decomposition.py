# %% [markdown]
# # Exercises for notebook 2 · The Gauss-Newton decomposition
#
# Write each function in the cell marked **your code here**, run it, then run the check cell below
# it (✔ = correct; otherwise it prints what differs and a hint). You may use the library's building
# blocks named in each exercise, but not the function you are rewriting.

# %%
import numpy as np  # noqa: F401 (for your code)

from hessian_spectra import losses  # noqa: F401 (for your code)
from hessian_spectra.curvature.decomposition import per_sample_jacobians, per_sample_loss_gradients  # noqa: F401 (for your code)
from hessian_spectra.teaching import check

# %% [markdown]
# ## Exercise 2.1 · The softmax logit Hessian $A_i$
#
# For logits $f_i \in \mathbb R^C$ (the rows of `logits`, shape $(N, C)$), with
# $p_i = \mathrm{softmax}(f_i)$, the Hessian of the cross-entropy with respect to the logits is
#
# $$ A_i = \mathrm{diag}(p_i) - p_i p_i^\top . $$
#
# Return all of them as an array of shape $(N, C, C)$. Careful: one test input has logits of size
# 800, where a naive `np.exp` overflows; $\mathrm{softmax}(f) = \mathrm{softmax}(f - \max_c f_c)$.


# %% [exercise ex02_1]
def softmax_logit_hessian(logits):
    """A_i = diag(p_i) - p_i p_iᵀ for every row f_i of logits (N, C); returns (N, C, C)."""
    # your code here
    raise NotImplementedError


# %% [check ex02_1]
check("ex02_1", softmax_logit_hessian)

# %% [markdown]
# ## Exercise 2.2 · The logit gradient $r_i$
#
# For $\ell(f, y) = \log\sum_c e^{f_c} - f_y$, the gradient with respect to the logits is
# $r = p - e_y$. Return $r_i$ for every sample: shape $(N, C)$, with labels `y` of shape $(N,)$.


# %% [exercise ex02_2]
def softmax_logit_gradient(logits, y):
    """r_i = softmax(f_i) - e_{y_i} for every sample; returns (N, C)."""
    # your code here
    raise NotImplementedError


# %% [check ex02_2]
check("ex02_2", softmax_logit_gradient)

# %% [markdown]
# ## Exercise 2.3 · The Gauss-Newton product $G = \frac1N\sum_i J_i^\top A_i J_i$
#
# Given an `Objective` (data, network, loss) and a parameter vector, return the $P\times P$
# Gauss-Newton term. Building blocks:
#
# - `per_sample_jacobians(objective, params)` → $J$, shape $(N, C, P)$, with $J_i = \partial f_i/\partial w$;
# - `losses.logit_hessian(objective.logits(params), objective.y, objective.loss)` → $A$, shape
#   $(N, C, C)$ (it is $\mathrm{diag}\,p - pp^\top$ for cross-entropy, $I$ for the squared error).
#
# `np.einsum` writes the sum in one line.


# %% [exercise ex02_3]
def gauss_newton(objective, params):
    """G = (1/N) Σ_i J_iᵀ A_i J_i, a P×P array."""
    # your code here
    raise NotImplementedError


# %% [check ex02_3]
check("ex02_3", gauss_newton)

# %% [markdown]
# ## Exercise 2.4 · The empirical Fisher
#
# With the per-sample loss gradients $g_i = \nabla_w \ell(f(w, x_i), y_i)$
# (`per_sample_loss_gradients(objective, params)`, shape $(N, P)$), return
# $G_{\rm emp} = \frac1N \sum_i g_i g_i^\top$. (Notebook 2 shows why this is *not* $G$ near a minimum.)


# %% [exercise ex02_4]
def empirical_fisher(objective, params):
    """The uncentred second moment (1/N) Σ_i g_i g_iᵀ of the per-sample loss gradients."""
    # your code here
    raise NotImplementedError


# %% [check ex02_4]
check("ex02_4", empirical_fisher)
