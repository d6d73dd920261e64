# %% [markdown]
# # Exercises for notebook 4 · Data move the outliers, parameters grow the bulk
#
# Counting "zero" eigenvalues is how one sees the bulk grow with the parameter count — but in
# floating point nothing is exactly zero. Write each function in the cell marked **your code
# here**, run it, then run the check cell below it.

# %%
import numpy as np  # noqa: F401 (for your code)

from hessian_spectra.teaching import check

# %% [markdown]
# ## Exercise 4.1 · The round-off scale
#
# A backward-stable eigensolver returns the eigenvalues of a symmetric matrix with errors of order
# $\varepsilon\,\lVert H\rVert_2$, times a modest function of $P$. The library calls an eigenvalue zero
# when it is below
#
# $$ \tau = P\,\varepsilon\,\max_j |\lambda_j| , \qquad \varepsilon = 2^{-52} \ (\texttt{np.finfo(np.float64).eps}), $$
#
# with $P$ the number of eigenvalues. Return $\tau$.


# %% [exercise ex04_1]
def zero_tolerance(eigvals):
    """τ = P · ε · max_j |λ_j|."""
    # your code here
    raise NotImplementedError


# %% [check ex04_1]
check("ex04_1", zero_tolerance)

# %% [markdown]
# ## Exercise 4.2 · Counting zeros
#
# Return the number of eigenvalues with $|\lambda| \le \tau$ (exercise 4.1), as an `int`.


# %% [exercise ex04_2]
def count_zero(eigvals):
    """Number of eigenvalues with |λ| ≤ τ."""
    # your code here
    raise NotImplementedError


# %% [check ex04_2]
check("ex04_2", count_zero)

# %% [markdown]
# ## Exercise 4.3 · The bulk edge
#
# Once the top `n_outliers` eigenvalues are set aside, the right edge of the bulk is the largest
# remaining eigenvalue. Return it (a float).


# %% [exercise ex04_3]
def bulk_edge(eigvals, n_outliers):
    """The largest eigenvalue after removing the n_outliers largest ones."""
    # your code here
    raise NotImplementedError


# %% [check ex04_3]
check("ex04_3", bulk_edge)
