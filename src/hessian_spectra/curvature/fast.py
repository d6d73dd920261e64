r"""Closed-form assembly of the exact Hessian H, Gauss-Newton term G and residual term R of an MLP.

The idea goes back to Bishop (1992), *Exact calculation of the Hessian matrix for the multilayer
perceptron*: every second derivative of an MLP's loss is a product of forward quantities
(activations), backward quantities (error signals) and layer-to-layer Jacobians. Here that
structure is arranged so that each block of the dense matrix, summed over samples, is **one matrix
product whose inner dimension is the sample index**. The derivation, with the notation used below,
is in ``docs/theory.md`` (section "Closed-form assembly"); the short version follows.

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
:math:`n_l`-times smaller one when :math:`m = l+1` because then :math:`E = D'_l` is diagonal, and
which for :math:`m = l+2` has the main product's rows and columns (:math:`E_{l+2,l}[b,p] =
\sigma'(z_{l+1})[b]\,W_{l+1}[p,b]\,\sigma'(z_l)[p]`), so it is formed in the same strips.
Sagun et al. (2018, Eq. 2) is the split :math:`H = G + R`; :math:`R` here is their
:math:`\frac1N\sum_{i,c} r_{ic}\nabla^2 f_{ic}` written out layer by layer.

**Cost.** Every computed entry costs :math:`2N` flops per directly computed term, so a term
costs about :math:`N P^2` flops. Only the blocks :math:`l \le m` are computed, and in a diagonal
block only the pairs :math:`a \le b` and, since its kernels are symmetric (entry :math:`(a,q,b,p)`
equals :math:`(a,p,b,q)`), only the kernel columns :math:`p \le q`: a diagonal block costs a quarter
of its dense product. Each strip of a product is written, while it is in cache, both into its
place in the upper triangle and, transposed tile by tile, into the mirrored place in the lower
triangle, so every returned matrix is exactly symmetric without a separate symmetrization pass.
When ``G`` and ``R`` are both requested, ``H`` is their sum (no third product). Measured against
autograd, JAX and PyTorch in ``docs/performance.md``.

**Memory.** The outputs (``8 P²`` bytes each) plus a workspace bounded by ``workspace_bytes``
(default 512 MiB): the per-sample quantities of one chunk of samples and one strip of one
block's product. The chunk size is chosen so that the per-sample arrays fit in half the workspace;
the strip buffers (a quarter of it) are allocated once per call and reused by every strip, since
fresh pages cost the kernel a zero-fill as large as the copies themselves.
"""

from __future__ import annotations

import enum
import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tqdm.auto import tqdm

from .. import mlp
from .._checks import check_dense_fits, check_positive_int
from ..losses import Loss
from ..objective import Objective
from .terms import TERMS, check_terms

#: Default bound on the engine's own working memory (bytes), on top of the output matrices.
DEFAULT_WORKSPACE_BYTES = 512 * 2**20

#: Target size (bytes) of one strip's products: large enough for an efficient GEMM, small enough
#: to stay in cache while it is copied into place.
_STRIP_PAIR_BYTES = 64 * 2**20


# --------------------------------------------------------------------------------------------
# Per-sample quantities of one chunk of samples
# --------------------------------------------------------------------------------------------


class _Chunk:
    """Forward and backward quantities of a chunk of samples (notation of the module docstring).

    Attributes (float64, leading axis = the ``c`` samples of the chunk):

    - ``ht[l]``: :math:`\\tilde h_l = [h_l, 1]`, shape ``(c, n_l + 1)``, and ``ht_t[l]``, its
      contiguous transpose;
    - ``d1[l]``: :math:`\\sigma'(z_l)` for the hidden layers, shape ``(c, n_{l+1})``;
    - ``g[l]``: :math:`g_l = \\partial\\ell/\\partial z_l`, shape ``(c, n_{l+1})``;
    - ``Tt[m, l]``: :math:`T_{ml}^\\top`, shape ``(c, n_{l+1}, n_{m+1})`` for ``l < m``;
    - ``AB[m]``: :math:`A B_m`, shape ``(c, C, n_{m+1})``;
    - ``S[m]``: :math:`S_m`, ``None`` where it vanishes (always for the last layer, everywhere for
      relu and linear), the diagonal ``(c, n_{m+1})`` where it is diagonal (``m = L-2``,
      ``S_diagonal[m]``), else ``(c, n_{m+1}, n_{m+1})``.
    """

    def __init__(self, X, y, params, layer_sizes, activation: str, loss: Loss):
        fp = mlp.forward_pass(params, X, layer_sizes, activation)
        layers = fp.layers
        L = len(layers)
        c = X.shape[0]
        self.n_samples = c
        self.ht = [np.hstack([h, np.ones((c, 1))]) for h in fp.hs]
        self.ht_t = [np.ascontiguousarray(h.T) for h in self.ht]
        self.d1 = fp.d1
        A = loss.hessian(fp.logits, y)
        # Backward pass (hessian_spectra.mlp): g_{L-1} = r;  g_l = (g_{l+1} W_{l+1}ᵀ) ⊙ σ′(z_l).
        self.g = fp.backward(loss.gradient(fp.logits, y))

        # Transposed Jacobians: Tᵀ_{l+1,l} = diag σ′(z_l) W_{l+1};  Tᵀ_{m,l} = (Tᵀ_{m-1,l} ⊙ σ′(z_{m-1})) W_m.
        self.Tt = {}
        for l in range(L - 1):
            self.Tt[l + 1, l] = self.d1[l][:, :, None] * layers[l + 1][0][None, :, :]
            for m in range(l + 2, L):
                prev = self.Tt[m - 1, l] * self.d1[m - 1][:, None, :]
                n_l = prev.shape[1]
                self.Tt[m, l] = (prev.reshape(c * n_l, -1) @ layers[m][0]).reshape(c, n_l, -1)

        # A B_m with B_m = T_{L-1,m} (B_{L-1} = I).
        self.AB = [A if m == L - 1 else A @ self.Tt[L - 1, m].transpose(0, 2, 1) for m in range(L)]

        # σ″ part of ∂²ℓ/∂z_m²: S_{L-1} = 0,  S_m = D′_m W_{m+1} S_{m+1} W_{m+1}ᵀ D′_m + diag(σ″(z_m) ⊙ dh_m)
        # with dh_m = ∂ℓ/∂h_{m+1} = g_{m+1} W_{m+1}ᵀ.
        self.S = [None] * L
        self.S_diagonal = [False] * L
        d2 = fp.d2()
        for m in range(L - 2, -1, -1):
            diag = d2[m] * (self.g[m + 1] @ layers[m + 1][0].T)
            nxt = self.S[m + 1]
            if nxt is None:
                if np.any(diag):
                    self.S[m], self.S_diagonal[m] = diag, True
                continue
            W = layers[m + 1][0]  # (n_{m+1}, n_{m+2})
            n, k = W.shape
            if self.S_diagonal[m + 1]:  # W diag(s) Wᵀ
                Sm = ((W[None, :, :] * nxt[:, None, :]).reshape(c * n, k) @ W.T).reshape(c, n, n)
            else:  # W S Wᵀ, by two products with the shared W
                tmp = (nxt.reshape(c * k, k) @ W.T).reshape(c, k, n)  # (S Wᵀ)_i
                Sm = (tmp.transpose(0, 2, 1).reshape(c * n, k) @ W.T).reshape(c, n, n)
            Sm *= self.d1[m][:, :, None]
            Sm *= self.d1[m][:, None, :]
            idx = np.arange(n)
            Sm[:, idx, idx] += diag
            self.S[m] = Sm

    def kernel_G(self, l, m):
        """Per-sample :math:`B_l^\\top A B_m`, shape ``(c, n_{l+1}, n_{m+1})``."""
        L = len(self.g)
        return self.AB[m] if l == L - 1 else self.Tt[L - 1, l] @ self.AB[m]

    def cross_factor(self, l, m, scale):
        """Per-sample :math:`\\sigma'(z_l)[p]\\, g_m[q] \\cdot` ``scale``, shape ``(c, n_{l+1} n_{m+1})``: the
        right factor of the cross term of the blocks ``m = l + 1`` and ``m = l + 2``."""
        return (self.d1[l][:, :, None] * (self.g[m] * scale)[:, None, :]).reshape(self.n_samples, -1)

    def kernel_R(self, l, m):
        """Per-sample :math:`T_{ml}^\\top S_m` as a dense ``(c, n_{l+1}, n_{m+1})`` array."""
        S = self.S[m]
        if self.S_diagonal[m]:
            if l == m:
                out = np.zeros((S.shape[0], S.shape[1], S.shape[1]))
                idx = np.arange(S.shape[1])
                out[:, idx, idx] = S
                return out
            return self.Tt[m, l] * S[:, None, :]
        return S if l == m else self.Tt[m, l] @ S


# --------------------------------------------------------------------------------------------
# The workspace of one call: reused buffers, and the record of the products when asked for
# --------------------------------------------------------------------------------------------


class _Workspace:
    """Named float64 buffers, each grown to the largest size asked for and then reused, and the
    optional record of every block product.

    The hot loops would otherwise allocate a fresh temporary per strip; large temporaries come
    from fresh pages that the kernel must zero on first touch, which costs as much as the copies.
    A view returned by :meth:`get` is valid until ``name`` is asked for again. ``products`` is
    ``None`` (nothing recorded) or a list that :meth:`gemm` appends each product's shapes to.
    """

    def __init__(self, products: list | None = None):
        self._buffers = {}
        self.products = products

    def get(self, name: str, shape) -> np.ndarray:
        """An uninitialized array of ``shape`` backed by the buffer ``name``."""
        n = math.prod(shape)
        buf = self._buffers.get(name)
        if buf is None or buf.size < n:
            buf = self._buffers[name] = np.empty(n)
        return buf[:n].reshape(shape)

    def carve(self, name: str, *shapes) -> list[np.ndarray]:
        """Consecutive arrays of the given shapes from one buffer ``name`` (so that the buffers of
        a strip share one allocation whose size is the largest strip's, not a sum of maxima)."""
        sizes = [math.prod(s) for s in shapes]
        flat = self.get(name, (sum(sizes),))
        out, k = [], 0
        for shape, n in zip(shapes, sizes, strict=True):
            out.append(flat[k : k + n].reshape(shape))
            k += n
        return out

    def gemm(self, a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``out = a @ b``: every sample-sum product of the assembly goes through here."""
        if self.products is not None:
            self.products.append((a.shape, b.shape))
        return np.matmul(a, b, out=out)


def product_flops(shapes) -> int:
    """Flops of the products ``[((m, k), (k, n)), ...]``: ``Σ 2 m k n``."""
    return sum(2 * a[0] * a[1] * b[1] for a, b in shapes)


# --------------------------------------------------------------------------------------------
# What to multiply for one block, and where the products go
# --------------------------------------------------------------------------------------------


class _Residual(enum.Enum):
    """What :math:`S_m` (the σ″ part of :math:`\\partial^2\\ell/\\partial z_m^2`) is in a block."""

    ZERO = "S_m vanishes: the block has no R product"
    DIAGONAL = "a diagonal block with diagonal S_m: R is the cheap product with the diagonal only"
    FULL = "S_m is a full matrix: R is a product with the kernel T_mlᵀ S_m"


class _Cross(enum.Enum):
    """How the cross term :math:`\\frac1N\\sum_i \\tilde h_l[a] E_{ml}[b,p] g_m[q]` of a block is formed."""

    NONE = "diagonal block (l = m): no cross term"
    IN_STRIP = "m = l + 2: a product 'X' with the same rows and columns as the main ones (_main_strip)"
    APART = "m = l + 1 or m > l + 2: by _cross_products"


@dataclass(frozen=True)
class _BlockPlan:
    """Products to form for a block and how each requested term is made of them.

    - ``kernels``: the per-sample coefficient matrices to multiply, among ``"G"``
      (:math:`B_l^\\top A B_m`), ``"R"`` (:math:`T_{ml}^\\top S_m`) and ``"H"`` (their sum; used only
      when H alone is requested, so that it costs one product);
    - ``combos[t]``: the products that add up to term ``t`` in a strip (kernels, and ``"X"``, the
      in-strip cross term; H = G + R, when H is requested with only one of G and R, is formed while
      they are in cache);
    - ``diag_targets``: terms that receive the diagonal-:math:`S_m` product;
    - ``cross_targets``: terms that receive the cross term from :func:`_cross_products`.
    """

    kernels: tuple
    combos: dict
    diag_targets: tuple
    cross_targets: tuple

    @property
    def in_strip_cross(self) -> bool:
        """Whether a term takes the cross term as the in-strip product ``"X"``."""
        return any("X" in combo for combo in self.combos.values())

    @classmethod
    def make(cls, terms, residual: _Residual, cross: _Cross) -> _BlockPlan:
        """The plan of a block whose :math:`S_m` is ``residual`` and cross term ``cross``."""
        wants = set(terms)
        gets_cross = tuple(t for t in terms if t in ("H", "R")) if cross is not _Cross.NONE else ()
        full = residual is _Residual.FULL
        if wants == {"H"} and full:
            kernels, combos = ("H",), {"H": ("H",)}
        else:
            kernels = tuple(k for k, needs in (("G", {"G", "H"}), ("R", {"R", "H"})) if wants & needs)
            if not full:
                kernels = tuple(k for k in kernels if k != "R")
            combos = {
                t: {"G": ("G",), "R": ("R",) if full else (), "H": ("G", "R") if full else ("G",)}[t]
                for t in terms
            }
        if cross is _Cross.IN_STRIP:
            combos = {t: (*combo, "X") if t in gets_cross else combo for t, combo in combos.items()}
        diag_targets = tuple(t for t in terms if t in ("H", "R")) if residual is _Residual.DIAGONAL else ()
        return cls(kernels, combos, diag_targets, gets_cross if cross is _Cross.APART else ())


@dataclass(frozen=True)
class _Block:
    """Block ``(l, m)`` of the output (``l ≤ m``) for one chunk of samples: its plan, the 4-d views
    ``views[t][a, p, b, q]`` of its place in each assembled term ``t`` and of the mirrored place
    (``mirrors``, the lower triangle), and whether the chunk adds to what earlier chunks wrote."""

    l: int
    m: int
    plan: _BlockPlan
    views: dict
    mirrors: dict
    accumulate: bool

    @property
    def diagonal(self) -> bool:
        return self.l == self.m


@dataclass(frozen=True)
class _StripFactors:
    """The right factors of a block's strip products (:func:`_main_strip`).

    ``K``: the stacked kernels (:func:`_kernel_stack`) or ``None``; ``s_diag``: the diagonal
    :math:`S_m/N` or ``None``; ``cross``: ``(d_t, Y, W_t)`` of the in-strip cross term or ``None``.
    """

    K: np.ndarray | None
    s_diag: np.ndarray | None
    cross: tuple | None


def _kernel_stack(ws: _Workspace, ch: _Chunk, l, m, kernels, scale) -> np.ndarray:
    """``(c, len(kernels) · n_{l+1} · n_{m+1})`` array of the scaled per-sample kernels.

    On a diagonal block (``l = m``) every kernel is symmetric (:math:`B_l^\\top A B_l`, :math:`S_l`),
    and only its columns ``p ≤ q`` are returned: ``(c, len(kernels) · n_{l+1}(n_{l+1}+1)/2)``.
    """
    c, np_, nq = ch.n_samples, ch.g[l].shape[1], ch.g[m].shape[1]
    nk = len(kernels)
    n_cols = np_ * (np_ + 1) // 2 if l == m else np_ * nq
    out = ws.get("kernel_stack", (c, nk * n_cols))
    K = ws.get("kernels", (c, nk, np_, nq)) if l == m else out.reshape(c, nk, np_, nq)
    for j, k in enumerate(kernels):
        if k == "G":
            K[:, j] = ch.kernel_G(l, m)
        elif k == "R":
            K[:, j] = ch.kernel_R(l, m)
        else:
            K[:, j] = ch.kernel_G(l, m)
            K[:, j] += ch.kernel_R(l, m)
    K *= scale
    if l == m:  # symmetric kernels: the columns p ≤ q suffice (see _main_strip)
        iu = np.ravel_multi_index(np.triu_indices(np_), (np_, nq))
        np.take(K.reshape(c, nk, np_ * nq), iu, axis=2, out=out.reshape(c, nk, -1))
    return out


def _pair_strips(na: int, nb: int, upper: bool, pairs: int) -> list:
    """Index pairs ``(a, b)`` in strips of at most ``pairs`` pairs, a-major: all pairs, or ``a ≤ b``.

    The strips have nearly equal sizes. Returns, per strip, ``(size, runs)``: its number of pairs
    and its runs ``(a, b0, b1, k0)`` (row ``a``, columns ``b0:b1``, held at strip positions
    ``k0 : k0 + b1 - b0``), so that each run is built, and lands in its output sub-block, by one
    strided operation.
    """
    total = na * (na + 1) // 2 if upper else na * nb
    n_strips = -(-total // max(1, pairs))
    ends = iter(np.linspace(0, total, n_strips + 1).round().astype(int)[1:].tolist())
    end = next(ends)
    strips, runs, size, k = [], [], 0, 0
    for a in range(na):
        b = a if upper else 0
        while b < nb:
            take = min(nb - b, end - k)
            runs.append((a, b, b + take, size))
            size += take
            b += take
            k += take
            if k == end:
                strips.append((size, runs))
                runs, size = [], 0
                end = next(ends, total)
    return strips


def _pair_diagonal(view) -> np.ndarray:
    """Writable view ``D[a, b, p] = view[a, p, b, p]`` of a 4-d block view ``(n_a, n_p, n_b, n_p)``."""
    s0, s1, s2, s3 = view.strides
    shape = (view.shape[0], view.shape[2], view.shape[1])
    return np.lib.stride_tricks.as_strided(view, shape, (s0, s2, s1 + s3), writeable=True)


def _khatri_rao_rows(left_t, right_t, runs, out) -> np.ndarray:
    """Fill ``out`` (``(size, c)``): row ``k0 + j`` of run ``(a, b0, b1, k0)`` is
    ``left_t[a] * right_t[b0 + j]``, the sample-wise products of a strip's pairs (rows of the
    transposed Khatri-Rao factor, so that every write is contiguous)."""
    for a, b0, b1, k0 in runs:
        np.multiply(right_t[b0:b1], left_t[a], out=out[k0 : k0 + b1 - b0])
    return out


def _main_strip(ws: _Workspace, ch: _Chunk, block: _Block, factors: _StripFactors, strip) -> None:
    """Add :math:`\\frac1N\\sum_i \\tilde h_l[a]\\tilde h_m[b] K_i[p,q]` for the pairs of one strip.

    One GEMM ``(ĥ_l ⊙ ĥ_m)ᵀ K`` (Khatri-Rao rows on the left, sample index inner) for the strip's
    pairs ``(a, b)`` (:func:`_pair_strips`; on a diagonal block only pairs ``a ≤ b``). While the
    product is in cache, each run of pairs is copied into its sub-block ``[a, :, b0:b1, :]`` of the
    output view and, transposed pair by pair, into the mirror view (the lower triangle; on a
    diagonal block without the pair ``a = b``, whose tile is symmetric and already complete). H = G + R
    is formed there when H is assembled with only one of G and R. With a diagonal :math:`S_m`
    (``s_diag``), the entries ``(a, p, b, p)`` and their mirrors also receive ``(ĥ_l ⊙ ĥ_m)ᵀ s_diag``.

    ``cross = (d_t, Y, W_t)`` (blocks with ``m = l + 2``) adds the cross term as a product ``"X"``
    with the same rows and columns: :math:`E_{ml}[b,p] = \\sigma'(z_{m-1})[b]\\,W_{m-1}[p,b]\\,
    \\sigma'(z_l)[p]`, so the term is :math:`W_{m-1}[p,b]\\sum_i (\\tilde h_l[a]\\sigma'(z_{m-1})[b])
    (\\sigma'(z_l)[p]\\,g_m[q])/N`: the GEMM ``(ĥ_l ⊙ d)ᵀ Y`` scaled row by row by
    ``W_t[b] = W_{m-1}[:, b]``
    (``d_t`` and ``W_t`` carry a zero row for the bias ``b = n_m``, which has no cross term).
    """
    l, m = block.l, block.m
    kernels, combos, diag_targets = block.plan.kernels, block.plan.combos, block.plan.diag_targets
    views, mirrors, accumulate = block.views, block.mirrors, block.accumulate
    K, s_diag, cross = factors.K, factors.s_diag, factors.cross
    size, runs = strip
    c, np_, nq = ch.n_samples, ch.g[l].shape[1], ch.g[m].shape[1]
    nk = len(kernels)
    left, prod, full, prod_d, left_x, prod_x = ws.carve(
        "strip",
        (size, c),
        (size, K.shape[1] if kernels else 0),
        (size, nk, np_ * nq) if l == m else (0,),
        (size, np_) if diag_targets else (0,),
        (size, c) if cross is not None else (0,),
        (size, np_ * nq) if cross is not None else (0,),
    )
    _khatri_rao_rows(ch.ht_t[l], ch.ht_t[m], runs, left)
    # The runs of the mirror: on a diagonal block the pair a = b (first of its row) is left out.
    mirror_runs = [
        (a, b0 + 1, b1, k0 + 1) if l == m and b0 == a else (a, b0, b1, k0) for a, b0, b1, k0 in runs
    ]
    products = {}
    if kernels:
        ws.gemm(left, K, prod)
        if l == m:  # entry (a, q, b, p) equals (a, p, b, q): expand the columns p ≤ q to all (p, q)
            prod = np.take(prod.reshape(size, nk, -1), _triangle_expansion(np_), axis=2, out=full)
        prod = prod.reshape(size, nk, np_, nq)
        products.update({k: prod[:, j] for j, k in enumerate(kernels)})
    if cross is not None:
        d_t, Y, W_t = cross
        _khatri_rao_rows(ch.ht_t[l], d_t, runs, left_x)
        cross_prod = ws.gemm(left_x, Y, prod_x).reshape(size, np_, nq)
        for _, b0, b1, k0 in runs:
            cross_prod[k0 : k0 + b1 - b0] *= W_t[b0:b1, :, None]
        products["X"] = cross_prod
    for t, combo in combos.items():
        if not combo:
            continue
        src = [products[k] for k in combo]
        for dests, rr in ((views[t], runs), (mirrors[t], mirror_runs)):
            for a, b0, b1, k0 in rr:
                if b1 == b0:
                    continue
                dest = dests[a, :, b0:b1, :]
                part = [x[k0 : k0 + b1 - b0].transpose(1, 0, 2) for x in src]
                if accumulate:
                    for x in part:
                        dest += x
                elif len(part) == 1:
                    np.copyto(dest, part[0])
                else:
                    np.add(part[0], part[1], out=dest)
                    for x in part[2:]:
                        dest += x
    if diag_targets:
        ws.gemm(left, s_diag, prod_d)  # the entries (a, p, b, p)
        for t in diag_targets:
            for dests, rr in ((views[t], runs), (mirrors[t], mirror_runs)):
                diag = _pair_diagonal(dests)
                for a, b0, b1, k0 in rr:
                    diag[a, b0:b1] += prod_d[k0 : k0 + b1 - b0]


@functools.lru_cache(maxsize=32)
def _triangle_expansion(n: int) -> np.ndarray:
    """Index array mapping each ``(p, q)`` of an ``n × n`` matrix (row-major) to the position of
    ``(min(p, q), max(p, q))`` among the upper-triangle entries (row-major, as ``np.triu_indices``)."""
    tri = np.zeros((n, n), dtype=np.intp)
    iu = np.triu_indices(n)
    tri[iu] = np.arange(iu[0].size)
    tri.T[iu] = np.arange(iu[0].size)
    tri = tri.ravel()
    tri.flags.writeable = False  # shared by every strip of every call (cached)
    return tri


def _assemble_block(ws: _Workspace, ch: _Chunk, block: _Block, scale, workspace_bytes, layers) -> None:
    """Add block ``(l, m)`` of one chunk of samples to the output views and their mirrors: the main
    products (:func:`_main_strip`, strip by strip; with the cross term when ``m = l + 2``), then the
    cross term of the other off-diagonal blocks (:func:`_cross_products`)."""
    l, m, plan = block.l, block.m, block.plan
    c = ch.n_samples
    na, nb = ch.ht[l].shape[1], ch.ht[m].shape[1]
    np_, nq = ch.g[l].shape[1], ch.g[m].shape[1]
    n_cols = np_ * (np_ + 1) // 2 if block.diagonal else np_ * nq
    budget = min(_STRIP_PAIR_BYTES, workspace_bytes // 4)
    if plan.kernels or plan.diag_targets or plan.in_strip_cross:
        cross = None
        if plan.in_strip_cross:  # m = l + 2 (see _main_strip)
            d_t = np.zeros((nb, c))
            d_t[:-1] = ch.d1[m - 1].T
            W_t = np.zeros((nb, np_))
            W_t[:-1] = layers[m - 1][0].T
            cross = (d_t, ch.cross_factor(l, m, scale), W_t)
        factors = _StripFactors(
            K=_kernel_stack(ws, ch, l, m, plan.kernels, scale) if plan.kernels else None,
            s_diag=ch.S[m] * scale if plan.diag_targets else None,
            cross=cross,
        )
        # Per pair of a strip: its left factor (c), its product (nk·n_cols, expanded to nk·np·nq on a
        # diagonal block), the diagonal-S product (np) and the cross term's factor and product.
        nk = len(plan.kernels)
        pair_bytes = 8 * (c + nk * (n_cols + (np_ * nq if block.diagonal else 0)) + np_)
        if cross is not None:
            pair_bytes += 8 * (c + np_ * nq)
        for strip in _pair_strips(na, nb, block.diagonal, max(1, budget // pair_bytes)):
            _main_strip(ws, ch, block, factors, strip)
    if plan.cross_targets:
        dests = [v[t] for t in plan.cross_targets for v in (block.views, block.mirrors)]
        _cross_products(ws, ch, l, m, dests, scale, budget)


def _cross_products(ws: _Workspace, ch: _Chunk, l, m, dests, scale, budget) -> None:
    """Add :math:`\\frac1N\\sum_i \\tilde h_l[a]\\,E_{ml}[b,p]\\,g_m[q]` (``l < m``) to each block view."""
    c = ch.n_samples
    hl = ch.ht[l]
    na = hl.shape[1]
    np_, nq = ch.g[l].shape[1], ch.g[m].shape[1]
    if m == l + 1:
        # E_{l+1,l} = diag σ′(z_l): only b = p survives, a product n_l + 1 times smaller.
        Y = ch.cross_factor(l, m, scale)
        rows = max(1, budget // (8 * (np_ * nq + c)))
        diags = [  # D[a, p, q] = d[a, p, p, q]
            np.lib.stride_tricks.as_strided(
                d, (na, np_, nq), (d.strides[0], d.strides[1] + d.strides[2], d.strides[3]), writeable=True
            )
            for d in dests
        ]
        for a0 in range(0, na, rows):
            a1 = min(na, a0 + rows)
            prod = ws.get("strip", (a1 - a0, np_ * nq))
            ws.gemm(ch.ht_t[l][a0:a1], Y, prod)
            for d in diags:
                d[a0:a1] += prod.reshape(a1 - a0, np_, nq)
        return
    nb = ch.g[m - 1].shape[1]  # n_m; the bias row of W̃_m has no cross term
    Et = (ch.Tt[m - 1, l] * ch.d1[m - 1][:, None, :]).reshape(c, np_ * nb)  # E_{ml}ᵀ[i, p, b]
    g_t = np.ascontiguousarray((ch.g[m] * scale).T)
    # Columns (a, q) of the right factor, whole rows a at a time where they fit.
    for size, runs in _pair_strips(na, nq, False, max(1, budget // (8 * (c + np_ * nb)))):
        right, prod = ws.carve("strip", (size, c), (np_ * nb, size))
        _khatri_rao_rows(ch.ht_t[l], g_t, runs, right)
        prod = ws.gemm(Et.T, right.T, prod).reshape(np_, nb, size)
        for d in dests:
            for a, q0, q1, k0 in runs:
                d[a, :, :nb, q0:q1] += prod[:, :, k0 : k0 + q1 - q0]


# --------------------------------------------------------------------------------------------
# Dense output helpers
# --------------------------------------------------------------------------------------------


def _block_view(M, rows: slice, cols: slice, shape4) -> np.ndarray:
    """The block ``M[rows, cols]`` as a 4-d view ``(n_a, n_p, n_b, n_q)`` (never a copy)."""
    return M[rows, cols].reshape(shape4, copy=False)


def _mirror_view(M, rows: slice, cols: slice, shape4) -> np.ndarray:
    """The block ``M[cols, rows]`` (the mirror of ``M[rows, cols]``) as a 4-d view indexed like
    :func:`_block_view`: ``mirror[a, p, b, q]`` is the entry at row ``(b, q)``, column ``(a, p)``."""
    n_a, n_p, n_b, n_q = shape4
    return M[cols, rows].reshape((n_b, n_q, n_a, n_p), copy=False).transpose(2, 3, 0, 1)


def bytes_per_sample(layer_sizes) -> int:
    """Upper bound on the bytes of the engine's per-sample arrays (the chunk-size rule).

    Counts, per sample: activations and error signals of every layer, the transposed Jacobians
    :math:`T_{ml}^\\top` (all ``l < m``), :math:`A B_m`, :math:`S_m`, and the kernel stack and
    temporaries of the largest block.
    """
    widths = list(layer_sizes)
    L = len(widths) - 1
    n = widths[1:]
    C = n[-1]
    total = 8 * sum(widths) + C * C
    total += sum(n[l] * n[m] for l in range(L) for m in range(l + 1, L))
    total += C * sum(n)
    total += sum(k * k for k in n[:-1])
    total += 4 * max(n[l] * n[m] for l in range(L) for m in range(l, L))
    return 8 * total


# --------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------


def hessian_gn_residual(
    objective: Objective,
    params,
    terms: Sequence[str] = TERMS,
    chunk_size: int | None = None,
    workspace_bytes: int = DEFAULT_WORKSPACE_BYTES,
    progress: bool = False,
    products: list | None = None,
) -> dict[str, np.ndarray]:
    r"""Exact dense :math:`H`, :math:`G`, :math:`R` of :math:`L(w) = \frac1N\sum_i\ell(f(w,x_i),y_i)`.

    :math:`H = G + R` (Sagun et al., 2018, Eq. 2) with :math:`G = \frac1N\sum_i J_i^\top A_i J_i`
    and :math:`R = \frac1N\sum_i\sum_c r_{ic}\nabla^2 f_{ic}`, assembled in closed form after
    Bishop (1992). For layers :math:`l \le m`, the entry at row :math:`(l,a,p)` (weight
    :math:`\tilde W_l[a,p]`) and column :math:`(m,b,q)` is

    .. math::

        X = \tfrac1N\sum_i \tilde h_{l,i}[a]\,\tilde h_{m,i}[b]\,K_i[p,q]
            \;+\;[X \in \{H, R\},\ l<m]\ \tfrac1N\sum_i \tilde h_{l,i}[a]\,E_{ml,i}[b,p]\,g_{m,i}[q]

    with :math:`K = B_l^\top A B_m` for G, :math:`T_{ml}^\top S_m` for R and their sum for H
    (notation in the module docstring; derivation in ``docs/theory.md`` (section "Closed-form assembly")). Each sum is one
    GEMM whose inner dimension is the sample index; a directly computed term costs about
    :math:`N P^2` flops. H is never a third product: with G and R it is their sum, with one of them
    it is formed blockwise from the same products, and alone it is one product with the summed
    kernel.

    Parameters
    ----------
    objective : :class:`~hessian_spectra.objective.Objective`
        Data, network and loss.
    params : array, shape (P,)
        Flat parameter vector (layout of :mod:`hessian_spectra.mlp`).
    terms : sequence of ``"H"``, ``"G"``, ``"R"``
        Which matrices to return.
    chunk_size : int, optional
        Samples per chunk. Default: as many as fit in half of ``workspace_bytes`` by
        :func:`bytes_per_sample` (all N = 1,000 samples of the paper's networks).
    workspace_bytes : int
        Bound on the engine's own working memory besides the outputs, default 512 MiB: half for
        the per-sample arrays of one chunk, a quarter for one strip of one block's product and its
        left factor. **Peak memory** ≈ ``8 P² · len(terms)`` bytes (the outputs) + at most about
        ``workspace_bytes`` (measured by ``hessian-spectra bench``; BLAS's own buffers aside).
    progress : bool
        Show a tqdm progress bar over the (chunk, block) steps.
    products : list, optional
        When given, the shapes ``((m, k), (k, n))`` of every block product are appended to it
        (:func:`product_flops` counts their flops; the benchmark times the same products on random
        operands: the floor of the algorithm on the machine). Nothing is recorded otherwise.
    Returns
    -------
    dict
        ``{term: P×P float64 array}`` in the order of ``terms``; C-contiguous, exactly symmetric
        (each entry of the upper triangle is computed once and written to both of its places).
    """
    params = objective.check_params(params)
    terms = check_terms(terms)
    workspace_bytes = check_positive_int("workspace_bytes", workspace_bytes, 2**20)
    sizes = objective.layer_sizes
    P = objective.n_params
    N = objective.n_samples
    if chunk_size is None:
        chunk_size = int(max(1, min(N, (workspace_bytes // 2) // bytes_per_sample(sizes))))
    else:
        chunk_size = min(check_positive_int("chunk_size", chunk_size), N)
    check_dense_fits(P, n_matrices=len(terms))

    layers = mlp.unflatten(params, sizes)
    L = len(layers)
    offsets = [sl[0].start for sl in mlp.param_slices(sizes)] + [P]
    # With G and R both requested, H = G + R is one streaming addition at the end (cheaper than
    # scattering a third matrix); otherwise every requested term is assembled block by block.
    derived_H = "H" in terms and "G" in terms and "R" in terms
    out = {t: np.empty((P, P)) if derived_H and t == "H" else np.zeros((P, P)) for t in terms}
    assembled = tuple(t for t in terms if not (derived_H and t == "H"))
    scale = 1.0 / N
    n_chunks = -(-N // chunk_size)
    pairs = [(l, m) for l in range(L) for m in range(l, L)]
    ws = _Workspace(products)
    with tqdm(total=n_chunks * len(pairs), desc="Hessian blocks", unit="block", disable=not progress) as bar:
        for c0 in range(0, N, chunk_size):
            samples = slice(c0, c0 + chunk_size)
            ch = _Chunk(
                objective.X[samples], objective.y[samples], params, sizes, objective.activation,
                objective.loss_function,
            )  # fmt: skip
            for l, m in pairs:
                if ch.S[m] is None:
                    residual = _Residual.ZERO
                elif ch.S_diagonal[m] and l == m:
                    residual = _Residual.DIAGONAL
                else:
                    residual = _Residual.FULL
                cross = _Cross.NONE if l == m else _Cross.IN_STRIP if m == l + 2 else _Cross.APART
                shape4 = (sizes[l] + 1, sizes[l + 1], sizes[m] + 1, sizes[m + 1])
                rows, cols = slice(offsets[l], offsets[l + 1]), slice(offsets[m], offsets[m + 1])
                block = _Block(
                    l,
                    m,
                    _BlockPlan.make(assembled, residual, cross),
                    views={t: _block_view(out[t], rows, cols, shape4) for t in assembled},
                    mirrors={t: _mirror_view(out[t], rows, cols, shape4) for t in assembled},
                    accumulate=c0 > 0,
                )
                _assemble_block(ws, ch, block, scale, workspace_bytes, layers)
                bar.update()
            del ch  # before the next chunk's arrays exist
    if derived_H:  # G and R are exactly symmetric, so is their sum
        np.add(out["G"], out["R"], out=out["H"])
    return out


def fast_engine(objective: Objective, params, terms: Sequence[str]) -> dict[str, np.ndarray]:
    """The ``"fast"`` engine of :func:`hessian_spectra.curvature.hessian_terms`: :func:`hessian_gn_residual`."""
    return hessian_gn_residual(objective, params, terms)
