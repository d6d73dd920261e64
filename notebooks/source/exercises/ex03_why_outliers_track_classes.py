# %% [markdown]
# # Exercises for notebook 3 · Why the outliers track the classes
#
# Write each function in the cell marked **your code here**, run it, then run the check cell below
# it (✔ = correct; otherwise it prints what differs and a hint).

# %%
import numpy as np  # noqa: F401 (for your code)

from hessian_spectra import losses  # noqa: F401 (for your code)
from hessian_spectra.curvature.decomposition import per_sample_jacobians  # noqa: F401 (for your code)
from hessian_spectra.teaching import check

# %% [markdown]
# ## Exercise 3.1 · Papyan's vectors $\delta_{i,c'}$
#
# For every sample $i$ and every class $c'$,
#
# $$ \delta_{i,c'} = \sqrt{p_{c'}(x_i)}\; J_i^\top (e_{c'} - p(x_i)) \in \mathbb R^P , $$
#
# so that $J_i^\top A_i J_i = \sum_{c'}\delta_{i,c'}\delta_{i,c'}^\top$. Return them as an array of shape
# $(N, C, P)$. Use `per_sample_jacobians(objective, params)` for $J$ (shape $(N, C, P)$) and
# `losses.softmax(objective.logits(params))` for $p$ (shape $(N, C)$).


# %% [exercise ex03_1]
def per_sample_deltas(objective, params):
    """δ[i, c'] = sqrt(p_ic') J_iᵀ (e_c' − p_i); returns (N, C, P)."""
    # your code here
    raise NotImplementedError


# %% [check ex03_1]
check("ex03_1", per_sample_deltas)

# %% [markdown]
# ## Exercise 3.2 · Eigenvalues from a Gram matrix
#
# For $m$ vectors $v_j \in \mathbb R^P$ (the rows of `vectors`, shape $(m, P)$), the $P \times P$ matrix
# $\sum_j v_j v_j^\top = V^\top V$ and the $m\times m$ Gram matrix $VV^\top$ have the same nonzero
# eigenvalues. Return the $m$ eigenvalues of $VV^\top$ in ascending order.


# %% [exercise ex03_2]
def gram_eigenvalues(vectors):
    """Eigenvalues (ascending) of V Vᵀ for V = vectors (m × P)."""
    # your code here
    raise NotImplementedError


# %% [check ex03_2]
check("ex03_2", gram_eigenvalues)

# %% [markdown]
# ## Exercise 3.3 · The $C$ outliers from a $C\times C$ matrix
#
# `means` holds Papyan's class means (a `ClassMeans`): `means.delta_c` (shape $(C, P)$, row $c$ is
# $\delta_c$) and `means.class_weights` (the $\pi_c$, shape $(C,)$). The term
# $G_1 = (C-1)\sum_c \pi_c\, \delta_c\delta_c^\top$ has rank $\le C$. Return its $C$ eigenvalues,
# ascending, from a $C \times C$ Gram matrix (exercise 3.2 with the right rows).


# %% [exercise ex03_3]
def g1_eigenvalues_from_gram(means):
    """The C eigenvalues (ascending) of G1 = (C − 1) Σ_c π_c δ_c δ_cᵀ."""
    # your code here
    raise NotImplementedError


# %% [check ex03_3]
check("ex03_3", g1_eigenvalues_from_gram)

# %% [markdown]
# ## Exercise 3.4 · The knock-out
#
# Let $Q$ be an orthonormal basis of $\mathrm{span}\{\delta_1, \dots, \delta_C\}$ and
# $\Pi = I - QQ^\top$. Return $\Pi M \Pi$ for a symmetric $P\times P$ matrix `M`. The class means may
# be linearly dependent: build $Q$ from a thin SVD of `means.delta_c.T` and keep only the directions
# whose singular value is above $10^{-10}$ times the largest.


# %% [exercise ex03_4]
def knock_out_class_means(M, means):
    """Π M Π with Π the projector onto the orthogonal complement of span{δ_c}."""
    # your code here
    raise NotImplementedError


# %% [check ex03_4]
check("ex03_4", knock_out_class_means)
