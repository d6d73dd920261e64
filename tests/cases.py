"""The test networks every curvature test builds from, and the comparison helpers they share.

A :class:`Case` names everything that defines a problem: the widths, activation and loss, the number
of samples and how their labels are drawn, the scale of the initial point, whether (and how long) it
is trained, and the seed. :func:`build` turns a case into ``(objective, params)``; the same case always
gives the same problem (and is built once per test session). Families used by several test files are
made by the functions below (:func:`layered`, :func:`uneven_family`), as curvlinops' ``test/cases.py``
lists its problems in one place.

The helpers :func:`relative_error` and :func:`assert_close` are the one relative error and the one
matrix comparison of the test suite: a failing comparison names the worst entry. :func:`load_tool`
imports a side-experiment script of ``tools/`` for the tests of its functions.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib.util
import os

import numpy as np

from hessian_spectra import Objective, mlp, train

# --------------------------------------------------------------------------------------------
# Comparisons
# --------------------------------------------------------------------------------------------

#: Relative Frobenius error of an "exact" identity between two routes: the two sides are sums of the
#: same products in different orders (P ≲ 150 entries per row, N ≤ 60 terms), so they agree to a few
#: ulps of the largest entries, ~1e-15; 1e-10 leaves room for accumulation and conditioning while
#: failing any missing or wrong term, which shows up at order 1.
EXACT = 1e-10


def relative_error(a, b) -> float:
    """Frobenius-norm relative error ‖a − b‖ / max(‖b‖, tiny)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-300))


def assert_close(actual, expected, *, rtol: float, atol: float = 0.0, what: str = "") -> None:
    """Assert ‖actual − expected‖_F ≤ rtol·‖expected‖_F + atol (shapes equal).

    On failure the message gives the relative error and the worst entry: its index, both values and
    their difference, so that a wrong block of a matrix shows where it is.
    """
    a, b = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    if a.shape != b.shape:
        raise AssertionError(f"{what}: shape {a.shape} vs expected {b.shape}")
    err = float(np.linalg.norm(a - b))
    bound = rtol * float(np.linalg.norm(b)) + atol
    if not err <= bound:  # also fails on NaN
        diff = np.abs(a - b)
        idx = np.unravel_index(int(np.nanargmax(diff)) if np.any(np.isfinite(diff)) else 0, a.shape)
        raise AssertionError(
            f"{what}: ‖actual − expected‖ = {err:.3e} > rtol·‖expected‖ + atol = {bound:.3e} "
            f"(relative error {relative_error(a, b):.2e}, rtol {rtol:.0e}, atol {atol:.0e}); worst entry "
            f"{tuple(int(i) for i in idx)}: {a[idx]!r} vs {b[idx]!r} (difference {a[idx] - b[idx]:.3e})"
        )


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------

#: Distance below which a ReLU pre-activation counts as "at the kink", where the Hessian does not
#: exist; :func:`build` redraws the data of a ReLU case until every pre-activation is farther away.
RELU_KINK = 1e-6


@dataclasses.dataclass(frozen=True)
class Case:
    """One test problem.

    - ``sizes``: the widths ``(n_0, ..., n_L)``; ``sizes[-1]`` is the number of classes C.
    - ``labels``: ``"balanced"`` (``arange(N) % C`` shuffled: every class present), ``"uniform"`` (i.i.d.
      uniform) or a tuple of class counts (class c takes ``counts[c]`` consecutive samples; N is their sum).
    - inputs are i.i.d. N(0, 1), plus ``class_shift`` · e_y in the first C coordinates (separable-ish
      classes, Papyan's setting) when ``class_shift`` is nonzero.
    - the initial point is N(0, ``init_scale``²) in every weight and bias (seed ``seed + 1``);
      ``train_steps`` GD steps of learning rate ``lr`` move it (0: the initial point itself).
    """

    sizes: tuple[int, ...]
    activation: str = "tanh"
    loss: str = "cross_entropy"
    n_samples: int = 18
    labels: str | tuple[int, ...] = "balanced"
    class_shift: float = 0.0
    init_scale: float = 0.5
    train_steps: int = 0
    lr: float = 0.2
    seed: int = 0

    def __post_init__(self):
        if isinstance(self.labels, tuple) and sum(self.labels) != self.n_samples:
            object.__setattr__(self, "n_samples", int(sum(self.labels)))

    @property
    def name(self) -> str:
        """A readable id: ``tanh-cross_entropy-3-4-4-3-N18-init`` (or ``-trained150``)."""
        point = f"trained{self.train_steps}" if self.train_steps else "init"
        widths = "-".join(map(str, self.sizes))
        return f"{self.activation}-{self.loss}-{widths}-N{self.n_samples}-{point}"

    def trained(self, steps: int, lr: float | None = None) -> Case:
        """The same problem after ``steps`` GD steps from the same initial point."""
        return dataclasses.replace(self, train_steps=steps, lr=self.lr if lr is None else lr)

    def replace(self, **changes) -> Case:
        return dataclasses.replace(self, **changes)


def layered(
    activation="tanh", loss="cross_entropy", depth=3, n=18, n_in=3, width=4, n_classes=3, seed=0, **kw
) -> Case:
    """``depth`` layers of equal hidden ``width`` (depth 1: no hidden layer), balanced labels, N(0, 0.5²)
    initial weights: large enough that the hidden units are away from their linear regime."""
    sizes = (n_in,) + (width,) * (depth - 1) + (n_classes,)
    return Case(sizes, activation, loss, n_samples=n, seed=seed, **kw)


def class_structured(counts=(6, 6, 6), activation="tanh", width=5, seed=0, trained_steps=0) -> Case:
    """Papyan's setting: C = len(counts) classes of the given sizes (unbalanced allowed), inputs shifted
    by 1.5·e_y, a 3-width-width-C network, cross-entropy; trained with learning rate 0.3."""
    C = len(counts)
    return Case(
        (3, width, width, C), activation, "cross_entropy", labels=tuple(counts), class_shift=1.5,
        train_steps=trained_steps, lr=0.3, seed=seed,
    )  # fmt: skip


def _uneven_widths(rng, depth: int) -> tuple[int, ...]:
    """Layer sizes ``(n_0, ..., n_depth)`` in [2, 6] with consecutive widths all different."""
    sizes = [int(rng.integers(2, 7))]
    for _ in range(depth):
        sizes.append(int(rng.choice([n for n in range(2, 7) if n != sizes[-1]])))
    return tuple(sizes)


def uneven(depth: int, activation: str, loss: str, trained: bool, seed: int) -> Case:
    """A tiny network with uneven widths in [2, 6] and 20-40 samples (both drawn from ``seed``), uniform
    labels, N(0, 0.6²) initial weights, at its initial point or after 25 GD steps of learning rate 0.03:
    consecutive widths differ, so that a transposed block or a swapped index changes a shape."""
    rng = np.random.default_rng(seed)
    sizes = _uneven_widths(rng, depth)
    N = int(rng.integers(20, 41))
    return Case(
        sizes, activation, loss, n_samples=N, labels="uniform", init_scale=0.6,
        train_steps=25 if trained else 0, lr=0.03, seed=seed,
    )  # fmt: skip


ACTIVATIONS = ("relu", "tanh", "sigmoid", "softplus", "linear")
LOSSES = ("cross_entropy", "mse")


def uneven_family() -> list[Case]:
    """Every depth 1-4 × activation × loss; init or trained alternates so that every activation,
    every loss and every depth is checked at both points."""
    return [
        uneven(depth, act, loss, (depth + i + j) % 2 == 1, seed=1000 * depth + 10 * i + j)
        for depth in (1, 2, 3, 4)
        for i, act in enumerate(ACTIVATIONS)
        for j, loss in enumerate(LOSSES)
    ]


# --------------------------------------------------------------------------------------------
# The builder
# --------------------------------------------------------------------------------------------


def _labels(case: Case, rng) -> np.ndarray:
    C, N = case.sizes[-1], case.n_samples
    if isinstance(case.labels, tuple):
        return np.repeat(np.arange(C), case.labels)
    if case.labels == "balanced":
        y = np.arange(N) % C
        rng.shuffle(y)
        return y
    if case.labels == "uniform":
        return rng.integers(0, C, N)
    raise ValueError(f"labels must be 'balanced', 'uniform' or a tuple of class counts; got {case.labels!r}")


def _near_relu_kink(objective: Objective, params) -> bool:
    zs, _ = mlp.forward_all(params, objective.X, objective.layer_sizes, objective.activation)
    return min((np.abs(z).min() for z in zs[:-1]), default=1.0) <= RELU_KINK


@functools.lru_cache(maxsize=512)
def _build(case: Case):
    rng = np.random.default_rng(case.seed)
    C, n_in = case.sizes[-1], case.sizes[0]
    w0 = mlp.init_params(case.sizes, "normal", seed=case.seed + 1, scale=case.init_scale)
    for _ in range(100):
        X = rng.normal(size=(case.n_samples, n_in))
        y = _labels(case, rng)
        if case.class_shift:
            X = X + case.class_shift * np.eye(C, n_in)[y]
        objective = Objective(X, y, case.sizes, case.activation, case.loss)
        w = w0
        if case.train_steps:
            w = train(objective, w0, lr=case.lr, steps=case.train_steps, progress=False).params
        if case.activation != "relu" or not _near_relu_kink(objective, w):
            w.setflags(write=False)
            return objective, w
    raise AssertionError(f"{case.name}: could not place the relu pre-activations away from 0")


def build(case: Case) -> tuple[Objective, np.ndarray]:
    """``(objective, params)`` of ``case`` (a fresh copy of the parameters each call)."""
    objective, params = _build(case)
    return objective, params.copy()


def load_tool(name: str):
    """The module of the script ``tools/<name>.py`` (the scripts are not a package)."""
    path = os.path.join(os.path.dirname(__file__), os.pardir, "tools", f"{name}.py")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
