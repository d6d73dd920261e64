# %% [markdown]
# # Exercises for notebook 7 · Matrix-free methods
#
# Write each function in the cell marked **your code here**, run it, then run the check cell below
# it (✔ = correct; otherwise it prints what differs and a hint).

# %%
import autograd  # noqa: F401 (for your code)
import numpy as np  # noqa: F401 (for your code)

from hessian_spectra import losses  # noqa: F401 (for your code)
from hessian_spectra.teaching import check

# %% [markdown]
# ## Exercise 7.1 · The Gauss-Newton product, matrix-free
#
# Compute $Gv = \frac1N\sum_i J_i^\top A_i (J_i v)$ without forming $G$ or any $J_i$:
#
# 1. $u = (J_i v)_i$, shape $(N, C)$: a Jacobian-vector product of the logits,
#    `autograd.make_jvp(objective.logits)(params)(v)` returns `(logits, u)`;
# 2. $s_i = A_i u_i$: for cross-entropy $A_i u_i = p_i \odot u_i - p_i\,(p_i^\top u_i)$, for
#    `objective.loss == "mse"` simply $u_i$;
# 3. $\frac1N\sum_i J_i^\top s_i$: a vector-Jacobian product,
#    `vjp, logits = autograd.make_vjp(objective.logits)(params)`, then `vjp(s) / N`.


# %% [exercise ex07_1]
def gauss_newton_vector_product(objective, params, v):
    """G v without forming G."""
    # your code here
    raise NotImplementedError


# %% [check ex07_1]
check("ex07_1", gauss_newton_vector_product)

# %% [markdown]
# ## Exercise 7.2 · Lanczos with full reorthogonalization
#
# For a symmetric matrix `A` (here a NumPy array; only `A @ q` is needed), a start vector `v0` and
# `n_steps` $= m$: set $q_1 = v_0/\lVert v_0\rVert$, and for $j = 1, \dots, m$
#
# $$ w = Aq_j - \alpha_j q_j - \beta_{j-1} q_{j-1}, \quad \alpha_j = q_j^\top A q_j, $$
#
# then orthogonalize $w$ against **all** previous $q$'s (do it twice: $w \leftarrow w - Q^\top(Qw)$),
# and, if $j < m$, $\beta_j = \lVert w\rVert$, $q_{j+1} = w/\beta_j$. Return `(alpha, beta)` with shapes
# $(m,)$ and $(m-1,)$. (The test matrices have distinct eigenvalues, so no $\beta_j$ vanishes.)


# %% [exercise ex07_2]
def lanczos_tridiagonal(A, v0, n_steps):
    """The diagonal alpha (m,) and off-diagonal beta (m-1,) of the Lanczos matrix T."""
    # your code here
    raise NotImplementedError


# %% [check ex07_2]
check("ex07_2", lanczos_tridiagonal)

# %% [markdown]
# ## Exercise 7.3 · Gauss quadrature from $T$
#
# Diagonalize the tridiagonal $T = U\,\mathrm{diag}(\theta)\,U^\top$ (diagonal `alpha`, off-diagonal
# `beta`). Return `(nodes, weights)`: the eigenvalues $\theta$ in ascending order and the weights
# $U_{1j}^2$ (squares of the first row of $U$). A $1\times1$ $T$ (empty `beta`) has node $\alpha_1$ and
# weight 1.


# %% [exercise ex07_3]
def gauss_quadrature(alpha, beta):
    """Nodes (ascending) and weights (first row of U, squared) of the Lanczos matrix."""
    # your code here
    raise NotImplementedError


# %% [check ex07_3]
check("ex07_3", gauss_quadrature)

# %% [markdown]
# ## Exercise 7.4 · The smoothed SLQ density
#
# `nodes` and `weights` have shape $(n_v, m)$: the quadrature of each of $n_v$ probes. Return, at
# every point $t$ of `grid`,
#
# $$ \hat\phi(t) = \frac{1}{n_v} \sum_{l=1}^{n_v} \sum_{j=1}^m w_{lj}\,
#    \frac{1}{\sqrt{2\pi\sigma^2}}\, e^{-(t - \theta_{lj})^2/(2\sigma^2)} \qquad (\sigma^2 = \texttt{sigma2}). $$


# %% [exercise ex07_4]
def smoothed_density(nodes, weights, grid, sigma2):
    """The Gaussian-smoothed density of the weighted nodes, averaged over probes, on grid."""
    # your code here
    raise NotImplementedError


# %% [check ex07_4]
check("ex07_4", smoothed_density)
