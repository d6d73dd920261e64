# %% [markdown]
# # Exercises for notebook 6 · Small batch, large batch
#
# Write each function in the cell marked **your code here**, run it, then run the check cell below
# it (✔ = correct; otherwise it prints what differs and a hint).

# %%
import numpy as np  # noqa: F401 (for your code)

from hessian_spectra.teaching import check

# %% [markdown]
# ## Exercise 6.1 · The height of a barrier
#
# The loss was evaluated on the line $\theta(\alpha) = (1-\alpha)\theta_0 + \alpha\theta_1$ at the points
# `alphas` (in any order, extending beyond $[0, 1]$, and containing 0 and 1 exactly); `losses_on_line`
# holds the values. Return
#
# $$ \max_{\alpha \in [0, 1]} L(\theta(\alpha)) - \max\bigl(L(\theta_0), L(\theta_1)\bigr) , $$
#
# which is $\le 0$ when the loss never rises above the worse endpoint.


# %% [exercise ex06_1]
def barrier_height(alphas, losses_on_line):
    """max over α in [0, 1] of the loss, minus the larger endpoint loss."""
    # your code here
    raise NotImplementedError


# %% [check ex06_1]
check("ex06_1", barrier_height)

# %% [markdown]
# ## Exercise 6.2 · Outliers above the largest ratio
#
# Sort decreasingly, $\lambda_1 \ge \lambda_2 \ge \dots$ Near zero, the ratio of two round-off-sized
# eigenvalues means nothing, so only the ratios $\lambda_j/\lambda_{j+1}$ with
# $\lambda_{j+1} \ge 10^{-3}\lambda_1$ count. Return $\arg\max_j \lambda_j/\lambda_{j+1}$ over those $j$
# (counting from 1), or 1 when there is no such $j$, or 0 when $\lambda_1 \le 0$.


# %% [exercise ex06_2]
def outlier_count_ratio(eigvals):
    """Number of eigenvalues above the largest admissible ratio λ_j / λ_{j+1}."""
    # your code here
    raise NotImplementedError


# %% [check ex06_2]
check("ex06_2", outlier_count_ratio)

# %% [markdown]
# ## Exercise 6.3 · Negative eigenvalues
#
# With $\tau = P\varepsilon\max_j|\lambda_j|$ (exercise 4.1), the negative eigenvalues are those with
# $\lambda < -\tau$. Return a dict with the keys
# `"count"` (int), `"fraction"` (count / number of eigenvalues), `"most_negative"` (the smallest
# one, or 0.0 if there are none), `"sum"` (of the negative ones) and `"ratio_to_top"`
# ($|\text{most negative}| / \lambda_{\max}$, or `float("nan")` when $\lambda_{\max} \le 0$).


# %% [exercise ex06_3]
def negative_stats(eigvals):
    """Count, fraction, most negative value, sum and ratio to the top of the negative eigenvalues."""
    # your code here
    raise NotImplementedError


# %% [check ex06_3]
check("ex06_3", negative_stats)
