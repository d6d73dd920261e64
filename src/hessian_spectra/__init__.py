"""hessian-spectra: exact Hessians of small MLPs, their Gauss-Newton split, and their spectra.

A reference implementation, in NumPy/SciPy with autograd, of what is known about the Hessian of
over-parametrized networks (Sagun et al. 2016, 2018; Papyan 2019, 2020; Ghorbani et al. 2019).
"""

__version__ = "0.1.0"  # the only copy: setup.cfg reads it (version = attr: hessian_spectra.__version__)

from ._checks import DenseTooLargeError, NonFiniteResultError
from .curvature import hessian_terms
from .data import Dataset, blobs, digits, random_inputs, two_blobs
from .mlp import flatten, forward, init_params, n_params, unflatten
from .objective import Objective
from .spectrum import eigenvalues, outlier_counts
from .training import TrainingDivergedError, train

__all__ = [
    "DenseTooLargeError",
    "Dataset",
    "NonFiniteResultError",
    "Objective",
    "TrainingDivergedError",
    "blobs",
    "digits",
    "eigenvalues",
    "flatten",
    "forward",
    "hessian_terms",
    "init_params",
    "n_params",
    "outlier_counts",
    "random_inputs",
    "train",
    "two_blobs",
    "unflatten",
]
