"""Notebook 9's exercises (hessian_spectra.teaching.gradient_subspace): an independent and a typical
wrong solution for each row, from the definitions (an explicit projector, SciPy's principal angles,
autograd's Hessian and Jacobians), used by tests/test_exercises.py's checker tests (accepts the
reference and the independent solution, rejects the wrong one, reports a stub)."""

import autograd
import numpy as np
import scipy.linalg

from hessian_spectra import losses
from hessian_spectra.curvature import curvature_matrices
from hessian_spectra.teaching import EXERCISES

IDS = [eid for eid in EXERCISES if eid.startswith("ex09_")]

# --------------------------------------------------------------------------------------------
# Independent implementations (from the definitions, not from the library's code)
# --------------------------------------------------------------------------------------------


def ind_top_eigenspace_fraction(A, v, k):
    w, V = np.linalg.eigh(np.asarray(A))
    top = V[:, np.argsort(w)[::-1][:k]]
    projector = top @ top.T  # the P×P projector, formed explicitly
    return float(np.linalg.norm(projector @ v) ** 2 / np.linalg.norm(v) ** 2)


def ind_subspace_overlap(A, B):
    return float(np.mean(np.cos(scipy.linalg.subspace_angles(A, B)) ** 2))


def ind_gradient_top_fraction(objective, params, k):
    H = autograd.hessian(objective.loss_value)(params)
    return ind_top_eigenspace_fraction(H, autograd.grad(objective.loss_value)(params), k)


def ind_class_mean_directions(objective, params):
    J = np.asarray(autograd.jacobian(lambda q: objective.logits(q))(params))  # (N, C, P)
    p = losses.softmax(np.asarray(objective.logits(params)))
    C = objective.n_classes
    out = np.zeros((C, params.size))
    for c in range(C):
        members = np.flatnonzero(objective.y == c)
        for c2 in range(C):
            if c2 == c:
                continue
            vecs = [np.sqrt(p[i, c2]) * J[i].T @ (np.eye(C)[c2] - p[i]) for i in members]
            out[c] += np.mean(vecs, axis=0) / (C - 1)
    return out


INDEPENDENT_EX09 = {eid: globals()[f"ind_{EXERCISES[eid].name}"] for eid in IDS}

# --------------------------------------------------------------------------------------------
# Typical mistakes
# --------------------------------------------------------------------------------------------


def _wrong_fraction(A, v, k):  # eigh's order is ascending: the first k columns are the bottom k
    V = np.linalg.eigh(np.asarray(A))[1][:, :k]
    return float(np.sum((V.T @ v) ** 2) / (v @ v))


def _wrong_overlap(A, B):  # bases used as they are, not orthonormalized
    return float(np.linalg.norm(A.T @ B) ** 2 / min(A.shape[1], B.shape[1]))


def _wrong_gradient_fraction(objective, params, k):  # the Gauss-Newton term G instead of H
    G = curvature_matrices(objective, params, ("G",), engine="fast")["G"]
    return ind_top_eigenspace_fraction(G, objective.gradient(params), k)


def _wrong_class_means(objective, params):  # averaged over all C labels, the true one included
    C = objective.n_classes
    right = ind_class_mean_directions(objective, params) * (C - 1)
    J = np.asarray(autograd.jacobian(lambda q: objective.logits(q))(params))
    p = losses.softmax(np.asarray(objective.logits(params)))
    for c in range(C):
        members = np.flatnonzero(objective.y == c)
        right[c] += np.mean([np.sqrt(p[i, c]) * J[i].T @ (np.eye(C)[c] - p[i]) for i in members], axis=0)
    return right / C


WRONG_EX09 = {
    "ex09_1": _wrong_fraction,
    "ex09_2": _wrong_overlap,
    "ex09_3": _wrong_gradient_fraction,
    "ex09_4": _wrong_class_means,
}
