r"""Exercises of notebook 8, *the edge of stability*: GD on a quadratic, its threshold, the sharpness.

GD with step size :math:`\eta` on :math:`\tfrac12\lambda x^2` multiplies the iterate by
:math:`1 - \eta\lambda` at every step, so it converges iff :math:`\eta < 2/\lambda`; near a point a
loss is such a quadratic in the Hessian's eigenbasis, and along full-batch GD on a network the
sharpness :math:`\lambda_{\max}(H)` rises to :math:`2/\eta` and hovers there (Cohen, Kaur, Li, Kolter &
Talwalkar, 2021). The student writes:

- ex08_1: the GD iterates on :math:`\tfrac12\sum_j \lambda_j x_j^2`, :math:`x_t = (1-\eta\lambda_j)^t x_0`;
- ex08_2: the step size at which GD on :math:`\tfrac12 x^\top A x` stops converging,
  :math:`2/\lambda_{\max}(A)`;
- ex08_3: the sharpness by power iteration on Hessian-vector products;
- ex08_4: the edge-of-stability summary of a sharpness trace — the first measurement that reaches
  :math:`(1 - \text{reach})\,2/\eta`, the factor the sharpness rose by until then, and the fraction of
  the later measurements within ``band`` of :math:`2/\eta`.
"""

from __future__ import annotations

import numpy as np

from .. import mlp, stability
from ..curvature.fast_products import fast_curvature_operator
from ..objective import Objective
from .checking import Case, Close, CloseFields, Exercise


def divergence_step_size(A):
    r"""Reference for ex08_2: :math:`2/\lambda_{\max}(A)`, the smallest step size at which GD on
    :math:`\tfrac12 x^\top A x` (A symmetric positive semidefinite, :math:`\lambda_{\max} > 0`) no
    longer converges from every start: :func:`hessian_spectra.stability.stability_threshold` of
    :math:`\lambda_{\max}(A)`."""
    return stability.stability_threshold(float(np.linalg.eigvalsh(np.asarray(A, dtype=float))[-1]))


def sharpness_by_power_iteration(hvp, v0, n_iter):
    r"""Reference for ex08_3: the Rayleigh quotient after ``n_iter`` power steps
    :math:`v \leftarrow Hv/\lVert Hv\rVert` from ``v0``, with ``hvp(v)`` :math:`= Hv`
    (:func:`hessian_spectra.stability.power_iteration`)."""
    return stability.power_iteration(hvp, v0, n_iter)[0]


def edge_summary(steps, sharpness, lr, band, reach):
    r"""Reference for ex08_4: ``crossing_index`` (the first measurement with
    :math:`\lambda\eta/2 \ge 1 - \text{reach}`, or −1), ``sharpening`` (:math:`\lambda` there over
    :math:`\lambda` at the first measurement; NaN without a crossing) and ``fraction_in_band`` (of the
    measurements after the crossing, those with :math:`|\lambda\eta/2 - 1| \le \text{band}`; NaN when
    there are none), from :func:`hessian_spectra.stability.edge_of_stability`."""
    s = stability.edge_of_stability(steps, sharpness, lr, band, reach)
    index = s["crossing_index"]
    return {
        "crossing_index": -1 if index is None else int(index),
        "sharpening": s["sharpening"],
        "fraction_in_band": s["fraction_in_band"],
    }


def _quadratic_cases(rng) -> list[Case]:
    cases = []
    for d, lr, steps in [(1, 0.1, 0), (3, 0.3, 20), (6, 0.05, 60), (4, 0.9, 40)]:
        lam = rng.uniform(-0.5, 2.5, size=d) / lr  # some beyond 2/η, some negative
        x0 = rng.normal(size=d)
        cases.append(
            Case((lam, lr, x0, steps), f"{d} curvature(s) up to {lam.max() * lr:.2f}/η, {steps} steps")
        )
    lam = np.array([2.0, 1.0, 0.0])  # η = 1: λ = 2 sits exactly at the threshold and flips sign
    cases.append(Case((lam, 1.0, np.ones(3), 7), "λ = 2, 1, 0 at η = 1 (the first exactly at 2/η)"))
    return cases


def _psd_with_spectrum(rng, values) -> np.ndarray:
    Q, _ = np.linalg.qr(rng.normal(size=(len(values), len(values))))
    A = Q @ np.diag(values) @ Q.T
    return (A + A.T) / 2


def _matrix_cases(rng) -> list[Case]:
    cases = [Case((np.array([[4.0]]),), "the 1×1 matrix [4]")]
    for P in (3, 8, 20):
        values = np.concatenate([[rng.uniform(2.0, 10.0)], rng.uniform(0.0, 1.5, size=P - 1)])
        cases.append(Case((_psd_with_spectrum(rng, values),), f"a {P}×{P} positive semidefinite matrix"))
    values = np.array([3.0, 3.0, 0.0, 0.0, 0.5])  # a repeated top eigenvalue and a null space
    cases.append(Case((_psd_with_spectrum(rng, values),), "a 5×5 matrix with λ_max twice and two zeros"))
    return cases


def _network_hvp():
    """The Hessian-vector product of a fixed small tanh network (MSE) and its dimension: λ_max ≈ 6.52,
    the next largest magnitude 3.55, the most negative eigenvalue −2.29 (P = 51)."""
    data = np.random.default_rng(8)
    X = data.normal(size=(30, 4))
    y = data.integers(0, 3, size=30)
    sizes = (4, 6, 3)
    objective = Objective(X, y, sizes, "tanh", "mse")
    w = mlp.init_params(sizes, "normal", seed=9, scale=0.8)
    op = fast_curvature_operator(objective, w, "H")
    return (lambda v: op @ v), objective.n_params


def _power_cases(rng) -> list[Case]:
    cases = []
    for P, gap in [(5, 0.5), (30, 0.6)]:
        values = np.concatenate([[5.0], 5.0 * rng.uniform(-gap, gap, size=P - 1)])
        A = _psd_with_spectrum(rng, values)
        cases.append(
            Case((lambda v, A=A: A @ v, rng.normal(size=P), 120), f"{P}×{P}, |λ_2/λ_1| ≤ {gap}, 120 steps")
        )
    values = np.array([-6.0, 2.0, 1.0, 0.5])  # the largest magnitude is negative
    A = _psd_with_spectrum(rng, values)
    cases.append(
        Case((lambda v, A=A: A @ v, rng.normal(size=4), 150), "4×4 whose largest |λ| is −6, 150 steps")
    )
    hvp, P = _network_hvp()
    cases.append(
        Case((hvp, rng.normal(size=P), 300), f"the Hessian of a 4-6-3 tanh network (P = {P}), 300 steps")
    )
    return cases


def _trace_cases(rng) -> list[Case]:
    cases = []
    steps = np.arange(0, 300, 10)
    for T, start, kind in [(4.0, 1.0, "hovers"), (3.0, 1.2, "climbs past"), (5.0, 1.0, "never reaches")]:
        lr = 2.0 / T
        rise = np.linspace(start, T if kind != "never reaches" else 0.8 * T, 8)
        if kind == "hovers":
            rest = T * (1 + rng.uniform(-0.3, 0.3, size=steps.size - 8))
        elif kind == "climbs past":
            rest = T * np.linspace(1.0, 1.6, steps.size - 8)
        else:
            rest = np.full(steps.size - 8, 0.8 * T)
        cases.append(
            Case((steps, np.concatenate([rise, rest]), lr, 0.2, 0.05), f"2/η = {T:g}: the sharpness {kind}")
        )
    lam = np.array([1.0, 2.0, 2.9, 3.0])  # 2.9 ≥ 0.95·3 is the crossing, one measurement after
    cases.append(Case((np.arange(4), lam, 2.0 / 3.0, 0.2, 0.05), "4 measurements, the crossing at the 3rd"))
    cases.append(
        Case((np.arange(3), np.array([1.0, 2.0, 3.2]), 2.0 / 3.0, 0.2, 0.05), "crossing at the last one")
    )
    return cases


EXERCISES = (
    Exercise(
        id="ex08_1",
        title="the GD iterates on ½ Σ_j λ_j x_j²: x_t = (1 − ηλ_j)^t x_0, t = 0 … steps",
        solution=stability.gd_on_quadratic,
        cases=_quadratic_cases,
        # Powers of one number per direction: a loop of t multiplications and a closed-form power
        # agree to a few ulps per step, ~1e-14 relative after 60 steps. rtol = 1e-10 holds for either
        # route; atol = 1e-13 of the largest entry covers entries that cancel to zero. A sign error
        # (1 + ηλ) or a missing t = 0 row is an O(1) difference.
        compare=Close(rtol=1e-10, atol=1e-13),
        hint="the gradient of ½λx² is λx, so one step multiplies x by (1 − ηλ); return an array of shape "
        "(steps + 1, d) whose row t is (1 − η·curvatures)**t * x0 (row 0 is x0 itself).",
    ),
    Exercise(
        id="ex08_2",
        title="the step size at which GD on ½ xᵀAx stops converging: 2/λ_max(A)",
        solution=divergence_step_size,
        cases=_matrix_cases,
        # One eigenvalue and a division: any backward-stable eigensolver gives λ_max to ~1e-15·‖A‖,
        # so rtol = 1e-10. 1/λ_max, 2/trace or 2/λ_min are O(1) off.
        compare=Close(rtol=1e-10, atol=0.0),
        hint="in the eigenbasis of A each coordinate is a quadratic ½λ_j z_j², multiplied by (1 − ηλ_j) per "
        "step; all converge iff |1 − ηλ_j| < 1 for every j, i.e. η < 2/λ_max(A) (np.linalg.eigvalsh).",
    ),
    Exercise(
        id="ex08_3",
        title="the sharpness by power iteration: v ← Hv/‖Hv‖, then the Rayleigh quotient vᵀHv",
        solution=sharpness_by_power_iteration,
        cases=_power_cases,
        # The cases converge: |λ_2/λ_1| ≤ 0.6 and 120 or more steps leave an error below 1e-40 of λ_1
        # on the synthetic matrices; on the network (|λ_2/λ_1| = 0.54) 300 steps leave ~1e-150. Any
        # correct power method therefore agrees with the reference to round-off: rtol = 1e-8. The
        # norm ‖Hv‖ of an unnormalized last vector, or |λ| for a negative dominant λ, is off.
        compare=Close(rtol=1e-8, atol=0.0),
        hint="normalize v0; repeat n_iter times: w = hvp(v), v = w / ‖w‖; return v @ hvp(v) (a Rayleigh "
        "quotient of a unit vector: it keeps the eigenvalue's sign).",
    ),
    Exercise(
        id="ex08_4",
        title="the edge-of-stability summary of a sharpness trace: crossing, sharpening, fraction at the edge",
        solution=edge_summary,
        cases=_trace_cases,
        # The index is compared exactly; the sharpening is a ratio of two inputs and the fraction a
        # ratio of counts (NaN where expected): rtol = 1e-12. Counting the crossing itself among the
        # later measurements, or ignoring the 5 % allowance (reach), changes the index or the fraction.
        compare=CloseFields(rtol=1e-12, atol=0.0),
        hint="ρ = sharpness·lr/2; the crossing is the first index with ρ ≥ 1 − reach (−1 if none); sharpening = "
        "sharpness[crossing]/sharpness[0] (nan if none); fraction_in_band = mean of |ρ − 1| ≤ band over the "
        "measurements strictly after the crossing (nan if there are none). Return the three in a dict.",
    ),
)

__all__ = ["EXERCISES", "divergence_step_size", "edge_summary", "sharpness_by_power_iteration"]
