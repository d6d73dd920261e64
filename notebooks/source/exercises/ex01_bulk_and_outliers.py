# %% [markdown]
# # Exercises for notebook 1 · The bulk and the outliers
#
# Write each function in the cell marked **your code here**, run that cell, then run the check cell
# below it. The check calls your function on a few random inputs and compares it with the library's
# own implementation: it prints ✔ when everything agrees, and otherwise what differs (shape, which
# entries, by how much) and a hint. Use NumPy; do not call the library function you are rewriting.

# %%
import numpy as np  # noqa: F401 (for your code)

from hessian_spectra.teaching import check

# %% [markdown]
# ## Exercise 1.1 · Counting parameters
#
# A network with widths $(n_0, n_1, \dots, n_L)$ has, for each layer $l = 1, \dots, L$, a weight
# matrix $W_l \in \mathbb R^{n_{l-1}\times n_l}$ and a bias $b_l \in \mathbb R^{n_l}$. Write
# `n_params(layer_sizes)` returning the total number $P$ of parameters (an `int`).
# For example `n_params((16, 20, 20, 5))` is 865.


# %% [exercise ex01_1]
def n_params(layer_sizes):
    """Number of parameters P of an MLP with widths layer_sizes = (n_0, ..., n_L)."""
    # your code here
    raise NotImplementedError


# %% [check ex01_1]
check("ex01_1", n_params)

# %% [markdown]
# ## Exercise 1.2 · Outliers above the largest gap
#
# Given the eigenvalues of a Hessian (a 1-d array, in any order), sort them in decreasing order
# $\lambda_1 \ge \lambda_2 \ge \dots \ge \lambda_m$ and return the number of eigenvalues above the
# largest gap between consecutive ones:
#
# $$ \text{count} = \arg\max_{j} \, (\lambda_j - \lambda_{j+1}) \quad (\text{with } j \text{ starting at } 1). $$
#
# (The library looks at the top 200 eigenvalues only; the test inputs have fewer.)


# %% [exercise ex01_2]
def outlier_count_gap(eigvals):
    """Number of eigenvalues above the largest gap of the decreasingly sorted eigvals."""
    # your code here
    raise NotImplementedError


# %% [check ex01_2]
check("ex01_2", outlier_count_gap)

# %% [markdown]
# ## Exercise 1.3 · The elbow threshold
#
# Sort decreasingly, $\lambda_1 \ge \dots \ge \lambda_m$, and put the curve on the unit square:
# $x_j = (j-1)/(m-1)$ and $y_j = (\lambda_j - \lambda_m)/(\lambda_1 - \lambda_m)$ for $j = 1, \dots, m$.
# The elbow is the point farthest below the chord from $(0, 1)$ to $(1, 0)$, i.e. the $j$ that
# minimizes $x_j + y_j$. Return the eigenvalue $\lambda_j$ there (a float). Notebook 1 counts the
# outliers as the eigenvalues strictly above it.


# %% [exercise ex01_3]
def elbow_threshold(eigvals):
    """The eigenvalue at the elbow of the decreasingly sorted eigvals."""
    # your code here
    raise NotImplementedError


# %% [check ex01_3]
check("ex01_3", elbow_threshold)

# %% [markdown]
# When all three checks print ✔, try your counter on a real spectrum: compute the Hessian of
# notebook 1's network and compare `outlier_count_gap(eig)` with `hessian_spectra.spectrum.outlier_counts(eig)`.
