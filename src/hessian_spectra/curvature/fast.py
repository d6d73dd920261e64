r"""Closed-form assembly of the exact Hessian H, Gauss-Newton term G and residual term R of an MLP.

The idea goes back to Bishop (1992), *Exact calculation of the Hessian matrix for the multilayer
perceptron*: every second derivative of an MLP's loss is a product of forward quantities
(activations), backward quantities (error signals) and layer-to-layer Jacobians. Here that
structure is arranged so that each block of the dense matrix, summed over samples, is **one matrix
product whose inner dimension is the sample index**. The derivation, with the notation used below,
is in ``docs/theory-fast.md``; the short version follows.

**Notation** (one sample :math:`i`, index omitted; layers :math:`l = 0..L-1` as in the code).
Layer :math:`l` maps its input :math:`h_l` (width :math:`n_l`; :math:`h_0 = x`) to
:math:`z_l = \tilde h_l \tilde W_l` with :math:`\tilde h_l = [h_l, 1]` and
:math:`\tilde W_l = [W_l; b_l]`, an :math:`(n_l+1)\times n_{l+1}` matrix whose row-major
vectorization is exactly the flat layout of :mod:`hessian_spectra.mlp`. Then
:math:`h_{l+1} = \sigma(z_l)` and :math:`f = z_{L-1}`. Write

- :math:`T_{ml} = \partial z_m / \partial z_l` (:math:`n_{m+1}\times n_{l+1}`, :math:`T_{ll} = I`,
  :math:`T_{m,l} = W_m^\top \operatorname{diag}\sigma'(z_{m-1})\, T_{m-1,l}`);
- :math:`B_l = T_{L-1,l} = \partial f/\partial z_l` and :math:`g_l = \partial\ell/\partial z_l = r B_l`;
- :math:`A = \nabla_f^2\ell`, :math:`r = \nabla_f\ell` (:mod:`hessian_spectra.losses`);
- :math:`S_m`, the part of :math:`\partial^2\ell/\partial z_m^2` that comes from the curvature of
  the hidden nonlinearities: :math:`S_{L-1} = 0`,
  :math:`S_m = D'_m W_{m+1} S_{m+1} W_{m+1}^\top D'_m + \operatorname{diag}(\sigma''(z_m)\odot
  g_{m+1} W_{m+1}^\top)` with :math:`D'_m = \operatorname{diag}\sigma'(z_m)`, so that
  :math:`\partial^2\ell/\partial z_m^2 = B_m^\top A B_m + S_m`.

**Blocks.** For layers :math:`l \le m`, the entry of a term at row :math:`(l, a, p)` (weight
:math:`\tilde W_l[a, p]`) and column :math:`(m, b, q)` is

.. math::

    G &= \tfrac1N \textstyle\sum_i \tilde h_l[a]\,\tilde h_m[b]\,(B_l^\top A B_m)[p, q],\\
    R &= \tfrac1N \textstyle\sum_i \tilde h_l[a]\,\tilde h_m[b]\,(T_{ml}^\top S_m)[p, q]
         \;+\; [l < m]\;\tfrac1N \textstyle\sum_i \tilde h_l[a]\,E_{ml}[b, p]\, g_m[q],\\
    H &= G + R,

with :math:`E_{ml} = \partial h_m/\partial z_l = \operatorname{diag}\sigma'(z_{m-1})\,T_{m-1,l}`
(zero in the bias row :math:`b = n_m`). The first sum is a single GEMM
``(ĥ_l ⊙ ĥ_m)ᵀ @ K`` with the Khatri-Rao rows :math:`\tilde h_l[a]\tilde h_m[b]` on the left
and the per-sample coefficient matrices :math:`K_i[p, q]` on the right, sample index inner;
the cross term is a second GEMM (``(ĥ_l ⊙ g_m)ᵀ @ E``), which collapses to an
:math:`n_l`-times smaller one when :math:`m = l+1` because then :math:`E = D'_l` is diagonal.
Sagun et al. (2018, Eq. 2) is the split :math:`H = G + R`; :math:`R` here is their
:math:`\frac1N\sum_{i,c} r_{ic}\nabla^2 f_{ic}` written out layer by layer.

**Cost.** Every entry of the upper block triangle costs :math:`2N` flops per directly computed
term, so a term costs about :math:`N P^2` flops (the diagonal blocks are computed in row strips
that skip most of their lower half). Only the upper block triangle is computed; the lower one is
copied from it, so every returned matrix is exactly symmetric. When ``G`` and ``R`` are both
requested, ``H`` is their sum (no third product).

**Memory.** The outputs (``8 P²`` bytes each) plus a workspace bounded by ``workspace_bytes``
(default 256 MiB): the per-sample quantities of one chunk of samples and one strip of one
block's product. The chunk size is chosen so that the per-sample arrays fit in half the workspace.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from tqdm.auto import tqdm

from .. import losses as _losses
from .. import mlp
from .._checks import check_choice, check_dense_fits, check_positive_int
from ..objective import Objective
from . import TERMS, register_engine

#: Default bound on the engine's own working memory (bytes), on top of the output matrices.
DEFAULT_WORKSPACE_BYTES = 256 * 2**20

#: Row strips of a diagonal block hold at most this many input units (keeps the redundant lower
#: part of the strips, about ``strip / (2 n)`` of the block, small).
_DIAGONAL_STRIP = 12


# --------------------------------------------------------------------------------------------
# Per-sample quantities of one chunk of samples
# --------------------------------------------------------------------------------------------


class _Chunk:
    """Forward and backward quantities of a chunk of samples (see the module docstring).

    Attributes (all float64, leading axis = samples in the chunk):

    - ``ht[l]``: :math:`\\tilde h_l = [h_l, 1]`, shape ``(c, n_l + 1)``;
    - ``d1[l]``: :math:`\\sigma'(z_l)` for hidden layers, shape ``(c, n_{l+1})``;
    - ``g[l]``: :math:`g_l = \\partial\\ell/\\partial z_l`, shape ``(c, n_{l+1})``;
    - ``Tt[m, l]``: :math:`T_{ml}^\\top`, shape ``(c, n_{l+1}, n_{m+1})`` for ``l < m``;
    - ``AB[m]``: :math:`A B_m`, shape ``(c, C, n_{m+1})``;
    - ``S[m]``: :math:`S_m`, shape ``(c, n_{m+1}, n_{m+1})`` (``None`` where it is zero).
    """

    def __init__(self, X, y, layers, act, loss):
        L = len(layers)
        c = X.shape[0]
        ones = np.ones((c, 1))
        hs, zs = [X], []
        for l, (W, b) in enumerate(layers):
            z = hs[-1] @ W + b
            zs.append(z)
            if l < L - 1:
                hs.append(act.fn(z))
        self.ht = [np.hstack([h, ones]) for h in hs]
        self.d1 = [act.d1(z) for z in zs[:-1]]
        d2 = [act.d2(z) for z in zs[:-1]]
        logits = zs[-1]
        r = _losses.logit_gradient(logits, y, loss)
        A = _losses.logit_hessian(logits, y, loss)

        # Backward pass: g_{L-1} = r, g_l = (g_{l+1} W_{l+1}ᵀ) ⊙ σ'(z_l).
        g = [None] * L
        g[L - 1] = r
        dh = [None] * L  # dh[l] = ∂ℓ/∂h_{l+1} = g_{l+1} W_{l+1}ᵀ
        for l in range(L - 2, -1, -1):
            dh[l] = g[l + 1] @ layers[l + 1][0].T
            g[l] = dh[l] * self.d1[l]
        self.g = g

        # Transposed layer-to-layer Jacobians: Tᵀ_{m,l} = (Tᵀ_{m-1,l} ⊙ σ'(z_{m-1})) W_m.
        Tt = {}
        for l in range(L - 1):
            Tt[l + 1, l] = self.d1[l][:, :, None] * layers[l + 1][0][None, :, :]
            for m in range(l + 2, L):
                prev = Tt[m - 1, l] * self.d1[m - 1][:, None, :]
                Tt[m, l] = (prev.reshape(-1, prev.shape[2]) @ layers[m][0]).reshape(c, prev.shape[1], -1)
        self.Tt = Tt

        # A B_m = A (Tᵀ_{L-1,m})ᵀ; for m = L-1, B = I.
        self.AB = [None] * L
        for m in range(L):
            self.AB[m] = A if m == L - 1 else A @ Tt[L - 1, m].transpose(0, 2, 1)

        # σ″ part of ∂²ℓ/∂z_m²: S_m = D′_m W_{m+1} S_{m+1} W_{m+1}ᵀ D′_m + diag(σ″(z_m) ⊙ dh_m).
        S = [None] * L
        for m in range(L - 2, -1, -1):
            diag = d2[m] * dh[m]
            nxt = S[m + 1]
            if nxt is None and not np.any(diag):
                continue
            n = diag.shape[1]
            Sm = np.zeros((c, n, n))
            if nxt is not None:
                Wn = layers[m + 1][0]  # (n_{m+1}, n_{m+2})
                k = nxt.shape[1]
                tmp = (nxt.reshape(c * k, k) @ Wn.T).reshape(c, k, n)  # S_{m+1} W_{m+1}ᵀ
                Sm[:] = (tmp.transpose(0, 2, 1).reshape(c * n, k) @ Wn.T).reshape(c, n, n)
                Sm *= self.d1[m][:, :, None]
                Sm *= self.d1[m][:, None, :]
            idx = np.arange(n)
            Sm[:, idx, idx] += diag
            S[m] = Sm
        self.S = S
        self.n_samples = c

    def transposed_jacobian(self, m, l):
        """:math:`T_{ml}^\\top` (``None`` for ``m == l``, meaning the identity)."""
        return None if m == l else self.Tt[m, l]

    def kernel_G(self, l, m):
        """Per-sample :math:`B_l^\\top A B_m`, shape ``(c, n_{l+1}, n_{m+1})``."""
        L = len(self.g)
        if l == L - 1:
            return self.AB[m]
        return self.Tt[L - 1, l] @ self.AB[m]

    def kernel_R(self, l, m):
        """Per-sample :math:`T_{ml}^\\top S_m` (``None`` when :math:`S_m = 0`)."""
        if self.S[m] is None:
            return None
        return self.S[m] if l == m else self.Tt[m, l] @ self.S[m]


# --------------------------------------------------------------------------------------------
# Writing into the dense matrices
# --------------------------------------------------------------------------------------------


def _block_view(M, rows: slice, cols: slice, shape4) -> np.ndarray:
    """The block ``M[rows, cols]`` as a 4-d view ``(n_a, n_p, n_b, n_q)`` (never a copy)."""
    return M[rows, cols].reshape(shape4, copy=False)


def _write(dest, src, accumulate: bool) -> None:
    if accumulate:
        dest += src
    else:
        dest[...] = src


def _symmetrize_from_upper(M, tile: int = 256) -> None:
    """Copy the upper triangle of ``M`` onto its lower triangle, in cache-sized tiles."""
    P = M.shape[0]
    for i0 in range(0, P, tile):
        i1 = min(P, i0 + tile)
        d = M[i0:i1, i0:i1]
        lower = np.tril_indices(i1 - i0, -1)
        d[lower] = d.T[lower]
        for j0 in range(i1, P, tile):
            j1 = min(P, j0 + tile)
            M[j0:j1, i0:i1] = M[i0:i1, j0:j1].T


# --------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------


def _plan(terms, has_residual_kernel: bool):
    """Which per-sample kernels to multiply, and where each result goes.

    Returns ``(kernels, targets, cross)``: ``kernels`` is an ordered list among ``"G"``,
    ``"R"``, ``"H"`` (the coefficient matrices :math:`B^\\top A B`, :math:`T^\\top S` and their
    sum); ``targets[k]`` lists the output terms that receive kernel ``k``'s product; ``cross`` the
    terms that receive the cross term (every directly computed ``"H"`` or ``"R"``). When ``G``
    and ``R`` are both requested, ``H`` is not computed directly but as ``G + R`` at the end.
    """
    derived_H = "H" in terms and "G" in terms and "R" in terms
    direct = [t for t in terms if not (t == "H" and derived_H)]
    targets: dict[str, list[str]] = {}
    for t in direct:
        if t == "G":
            k = "G"
        elif t == "R":
            k = "R" if has_residual_kernel else None
        else:  # "H"
            k = "H" if has_residual_kernel else "G"
        if k is not None:
            targets.setdefault(k, []).append(t)
    cross = [t for t in direct if t in ("H", "R")]
    return list(targets), targets, cross


def hessian_gn_residual(
    objective: Objective,
    params,
    terms: Sequence[str] = TERMS,
    chunk_size: int | None = None,
    workspace_bytes: int = DEFAULT_WORKSPACE_BYTES,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    r"""Exact dense :math:`H`, :math:`G`, :math:`R` of :math:`L(w) = \frac1N\sum_i\ell(f(w,x_i),y_i)`.

    :math:`H = G + R` (Sagun et al., 2018, Eq. 2) with
    :math:`G = \frac1N\sum_i J_i^\top A_i J_i` and
    :math:`R = \frac1N\sum_i\sum_c r_{ic}\nabla^2 f_{ic}`, assembled in closed form (Bishop, 1992):
    for layers :math:`l \le m` the block of a term is

    .. math::

        X_{(l,a,p),(m,b,q)} = \tfrac1N\sum_i \tilde h_{l,i}[a]\,\tilde h_{m,i}[b]\,K_i[p,q]
        \;+\;[\text{cross}]\;\tfrac1N\sum_i \tilde h_{l,i}[a]\,E_{ml,i}[b,p]\,g_{m,i}[q]

    with :math:`K = B_l^\top A B_m` for G, :math:`T_{ml}^\top S_m` for R and their sum for H; the
    cross term (:math:`l<m`) belongs to R and H. Each sum is one GEMM with the sample index as
    inner dimension; about :math:`N P^2` flops per computed term. See the module docstring and
    ``docs/theory-fast.md``.

    Parameters
    ----------
    objective : :class:`~hessian_spectra.objective.Objective`
        Data, network and loss.
    params : array, shape (P,)
        Flat parameter vector.
    terms : sequence of ``"H"``, ``"G"``, ``"R"``
        Which matrices to return. With both G and R, H is computed as their sum.
    chunk_size : int, optional
        Samples per chunk. Default: as many as fit in half of ``workspace_bytes`` (all N for the
        paper's networks).
    workspace_bytes : int
        Bound on the engine's own working memory besides the outputs (default 256 MiB). The
        peak memory is ``8 P² · len(terms)`` bytes for the outputs plus at most about this.
    progress : bool
        Show a tqdm progress bar over (chunk, block) steps.

    Returns
    -------
    dict
        ``{term: P×P float64 array}``, C-contiguous and exactly symmetric.
    """
    params = objective.check_params(params)
    if isinstance(terms, str):
        terms = (terms,)
    terms = tuple(terms)
    if not terms:
        raise ValueError(f"terms must name at least one of {TERMS}")
    for t in terms:
        check_choice("terms", t, TERMS)
    if len(set(terms)) != len(terms):
        raise ValueError(f"terms must not repeat a term; got {terms}")
    workspace_bytes = check_positive_int("workspace_bytes", workspace_bytes, 2**20)
    sizes = objective.layer_sizes
    P = objective.n_params
    check_dense_fits(P, n_matrices=len(terms))
    N = objective.n_samples
    L = len(sizes) - 1
    widths = list(sizes)
    per_sample = _bytes_per_sample(widths)
    if chunk_size is None:
        chunk_size = int(max(1, min(N, (workspace_bytes // 2) // per_sample)))
    else:
        chunk_size = min(check_positive_int("chunk_size", chunk_size), N)
    act = mlp.get_activation(objective.activation)
    layers = mlp.unflatten(params, sizes)
    slices = mlp.param_slices(sizes)
    offsets = [sl[0].start for sl in slices] + [P]
    blocks = [(l, m) for l in range(L) for m in range(l, L)]

    out = {t: np.zeros((P, P)) for t in terms}
    derived_H = "H" in terms and "G" in terms and "R" in terms
    direct = [t for t in terms if not (t == "H" and derived_H)]
    written: set = set()
    X, y = objective.X, objective.y
    n_chunks = -(-N // chunk_size)
    bar = tqdm(total=n_chunks * len(blocks), desc="Hessian blocks", unit="block", disable=not progress)
    inv_n = 1.0 / N
    for c0 in range(0, N, chunk_size):
        ch = _Chunk(X[c0 : c0 + chunk_size], y[c0 : c0 + chunk_size], layers, act, objective.loss)
        for l, m in blocks:
            # S_m = 0 (always for the last layer; everywhere for relu and linear): R has no
            # Khatri-Rao part in this block and H's kernel is G's.
            kernels, targets, cross = _plan(terms, ch.S[m] is not None)
            rows = slice(offsets[l], offsets[l + 1])
            cols = slice(offsets[m], offsets[m + 1])
            shape4 = (widths[l] + 1, widths[l + 1], widths[m] + 1, widths[m + 1])
            views = {t: _block_view(out[t], rows, cols, shape4) for t in direct}
            _main_products(ch, l, m, kernels, targets, views, written, inv_n, workspace_bytes)
            if l < m and cross:
                _cross_products(ch, l, m, [views[t] for t in cross], inv_n, workspace_bytes)
            bar.update()
    bar.close()
    for t in direct:
        _symmetrize_from_upper(out[t])
    if derived_H:
        np.add(out["G"], out["R"], out=out["H"])
    return {t: out[t] for t in terms}


def _bytes_per_sample(widths) -> int:
    """Bytes of the per-sample arrays of :class:`_Chunk` and of one block's kernel stack."""
    L = len(widths) - 1
    n = widths[1:]
    total = sum(widths) + 2 * sum(n) + n[-1] * n[-1]
    total += sum(n[l] * n[m] for l in range(L) for m in range(l + 1, L))  # Tᵀ
    total += sum(n[-1] * k for k in n)  # A B
    total += sum(k * k for k in n[:-1])  # S
    total += 3 * max(n[l] * n[m] for l in range(L) for m in range(l, L))  # kernel stack
    return 8 * total


def _main_products(ch: _Chunk, l, m, kernels, targets, views, written, inv_n, workspace_bytes):
    """Add :math:`\\frac1N\\sum_i \\tilde h_l[a]\\tilde h_m[b] K_i[p,q]` for each kernel."""
    if not kernels:
        return
    c = ch.n_samples
    hl, hm = ch.ht[l], ch.ht[m]
    na, nb = hl.shape[1], hm.shape[1]
    np_, nq = ch.g[l].shape[1], ch.g[m].shape[1]
    nk = len(kernels)
    K = np.empty((c, nk, np_, nq))
    for j, k in enumerate(kernels):
        if k == "G":
            K[:, j] = ch.kernel_G(l, m)
        elif k == "R":
            K[:, j] = ch.kernel_R(l, m)
        else:
            K[:, j] = ch.kernel_G(l, m)
            K[:, j] += ch.kernel_R(l, m)
    K *= inv_n
    K2 = K.reshape(c, nk * np_ * nq)
    # Strip height: rows of the product (pairs (a, b)) that fit in a quarter of the workspace.
    row_bytes = 8 * nb * (nk * np_ * nq + c)
    strip = max(1, min(na, (workspace_bytes // 4) // row_bytes))
    if l == m:
        strip = min(strip, _DIAGONAL_STRIP)
    for a0 in range(0, na, strip):
        a1 = min(na, a0 + strip)
        b0 = a0 if l == m else 0
        left = (hl[:, a0:a1, None] * hm[:, None, b0:]).reshape(c, -1)
        prod = (left.T @ K2).reshape(a1 - a0, nb - b0, nk, np_, nq)
        for j, k in enumerate(kernels):
            src = prod[:, :, j].transpose(0, 2, 1, 3)
            for t in targets[k]:
                key = (t, l, m, a0)
                _write(views[t][a0:a1, :, b0:, :], src, key in written)
                written.add(key)


def _cross_products(ch: _Chunk, l, m, dests, inv_n, workspace_bytes):
    """Add :math:`\\frac1N\\sum_i \\tilde h_l[a] E_{ml}[b,p] g_m[q]` (``l < m``) to each block view."""
    c = ch.n_samples
    hl = ch.ht[l]
    na = hl.shape[1]
    gm = ch.g[m] * inv_n
    np_, nq = ch.g[l].shape[1], gm.shape[1]
    if m == l + 1:
        # E = diag σ′(z_l): only b = p survives.
        Y = (ch.d1[l][:, :, None] * gm[:, None, :]).reshape(c, np_ * nq)
        prod = (hl.T @ Y).reshape(na, np_, nq)
        idx = np.arange(np_)
        for d in dests:
            d[:, idx, idx, :] += prod
        return
    nb = ch.g[m - 1].shape[1]  # n_m: h_m has no bias row here
    Et = (ch.Tt[m - 1, l] * ch.d1[m - 1][:, None, :]).reshape(c, np_ * nb)  # Et[i, p, b]
    row_bytes = 8 * nq * (np_ * nb + c)
    strip = max(1, min(na, (workspace_bytes // 4) // row_bytes))
    for a0 in range(0, na, strip):
        a1 = min(na, a0 + strip)
        left = (hl[:, a0:a1, None] * gm[:, None, :]).reshape(c, -1)
        prod = (left.T @ Et).reshape(a1 - a0, nq, np_, nb).transpose(0, 2, 3, 1)
        for d in dests:
            d[a0:a1, :, :nb, :] += prod


@register_engine("fast")
def fast_engine(objective: Objective, params, terms: Sequence[str]) -> dict[str, np.ndarray]:
    """The ``"fast"`` engine of :func:`hessian_spectra.curvature.hessian_terms`."""
    return hessian_gn_residual(objective, params, terms)
