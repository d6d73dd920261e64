# %% [markdown]
# # Exercises for notebook 9 · The gradient in a tiny subspace
#
# Write each function in the cell marked **your code here**, run it, then run the check cell below
# it (✔ = correct; otherwise it prints what differs and a hint).

# %%
import autograd  # noqa: F401 (for your code)
import numpy as np  # noqa: F401 (for your code)
import scipy.linalg  # noqa: F401 (for your code)

from hessian_spectra import losses  # noqa: F401 (for your code)
from hessian_spectra.curvature.decomposition import per_sample_jacobians  # noqa: F401 (for your code)
from hessian_spectra.teaching import check

# %% [markdown]
# ## Exercise 9.1 · A vector's fraction in the top-$k$ eigenspace
#
# For a symmetric matrix $A = \sum_j \lambda_j q_j q_j^\top$ with $\lambda_1 \ge \lambda_2 \ge \dots$ and
# orthonormal eigenvectors $q_j$, the projector on the top-$k$ eigenspace is
# $P_k = \sum_{j \le k} q_j q_j^\top$. Return the fraction of the squared norm of `v` in that space,
#
# $$ f_k = \frac{\lVert P_k v\rVert^2}{\lVert v\rVert^2} = \frac{\sum_{j \le k} (q_j^\top v)^2}{v^\top v} . $$


# %% [exercise ex09_1]
def top_eigenspace_fraction(A, v, k):
    """‖P_k v‖² / ‖v‖², P_k the projector on the eigenvectors of the k largest eigenvalues of A."""
    # your code here
    raise NotImplementedError


# %% [check ex09_1]
check("ex09_1", top_eigenspace_fraction)

# %% [markdown]
# ## Exercise 9.2 · How much two subspaces share
#
# `A` (shape $(P, a)$) and `B` (shape $(P, b)$) are bases — not necessarily orthonormal — of two
# subspaces. With orthonormal bases $Q_A$, $Q_B$ of the same spans, the singular values of
# $Q_A^\top Q_B$ are the cosines of the $\min(a, b)$ principal angles $\theta_j$ between the subspaces.
# Return their mean squared cosine,
#
# $$ \mathrm{overlap} = \frac{1}{\min(a, b)} \sum_j \cos^2\theta_j = \frac{\lVert Q_A^\top Q_B\rVert_F^2}{\min(a, b)} , $$
#
# 1 when one subspace contains the other, 0 when they are orthogonal.


# %% [exercise ex09_2]
def subspace_overlap(A, B):
    """Mean squared cosine of the principal angles between the column spans of A and B."""
    # your code here
    raise NotImplementedError


# %% [check ex09_2]
check("ex09_2", subspace_overlap)

# %% [markdown]
# ## Exercise 9.3 · The gradient's fraction in the top-$k$ Hessian eigenspace
#
# Gur-Ari, Roberts & Dyer (2018) follow $f_k$ of exercise 9.1 for the gradient $g = \nabla L(w)$ and
# the Hessian $H = \nabla^2 L(w)$ of the training loss. For an `objective` (a `hessian_spectra.Objective`)
# at `params`, return $f_k = \lVert P_k g\rVert^2 / \lVert g\rVert^2$ with $P_k$ the projector on the
# top-$k$ eigenvectors of the exact $H$. `autograd.hessian(objective.loss_value)(params)` gives $H$ and
# `objective.gradient(params)` gives $g$.


# %% [exercise ex09_3]
def gradient_top_fraction(objective, params, k):
    """‖P_k ∇L‖² / ‖∇L‖² for the top-k eigenvectors of the exact Hessian of the objective."""
    # your code here
    raise NotImplementedError


# %% [check ex09_3]
check("ex09_3", gradient_top_fraction)

# %% [markdown]
# ## Exercise 9.4 · The directions of $G_1$: Papyan's class means
#
# For a sample $i$ of class $c = y_i$ and a label $c'$, $\delta_{i,c'} = \sqrt{p_{c'}(x_i)}\, J_i^\top
# (e_{c'} - p(x_i))$ (notebook 3). Average over the samples of class $c$, then over the $C - 1$ *wrong*
# labels:
#
# $$ \delta_c = \frac{1}{C-1} \sum_{c' \ne c} \mathrm{Ave}_{i \in c}\; \delta_{i,c'} \in \mathbb R^P . $$
#
# Their span is the range of $G_1 = (C-1)\sum_c \pi_c\,\delta_c\delta_c^\top$. Return the $\delta_c$ as an
# array of shape $(C, P)$ (cross-entropy objectives). `per_sample_jacobians(objective, params)` gives
# $J$ (shape $(N, C, P)$) and `losses.softmax(objective.logits(params))` gives $p$.


# %% [exercise ex09_4]
def class_mean_directions(objective, params):
    """Papyan's class means δ_c, shape (C, P)."""
    # your code here
    raise NotImplementedError


# %% [check ex09_4]
check("ex09_4", class_mean_directions)
