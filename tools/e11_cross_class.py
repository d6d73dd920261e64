r"""Side experiment of E11 (not part of its verdict): why the cross-class term G2 is as large as the
class-mean term G1 in our networks, instead of forming Papyan's lower C(C − 1) level.

Papyan's vectors (``curvature.papyan``) are :math:`\delta_{c,c'} = \mathrm{Ave}_{i\in c}
\sqrt{p_{c'}(x_i)}\, J_i^\top(e_{c'} - p(x_i))`; G1 is built from their mean over the wrong classes,
:math:`\delta_c`, and G2 from the deviations :math:`\nu_{c,c'} = \delta_{c,c'} - \delta_c`. How the
probability a class puts on the wrong classes is shared among them decides their relative size. In
a model where the Jacobians are the same for every sample of a class and the logit directions
:math:`e_{c'} - e_c` have their natural Gram matrix, a class whose wrong mass is spread evenly over
the C − 1 wrong classes gives :math:`\lambda(G_2)/\lambda(G_1) \approx 1/C`, and a class confused
with a single other class gives about :math:`(C-2)^2/(C-1)` (≈ 7 for C = 10). MNIST's digits are
confused in pairs (4/9, 3/5, 7/9), so the second case is the likely one.

The script measures, at the end of E11's training runs (the cached points of ``reproduce E11`` in
``--results``, or a new run there):

- the wrong-class mass :math:`q_{c,c'} = \mathrm{Ave}_{i\in c} p_{c'}(x_i)` and, per class, its
  effective number of wrong classes :math:`n_c = (\sum_{c'} q_{c,c'})^2/\sum_{c'} q_{c,c'}^2`
  (C − 1 when even, 1 when a single class takes it all) and the share of the largest;
- :math:`\lambda_1(G_2)/\lambda_1(G_1)` and :math:`\operatorname{tr} G_2/\operatorname{tr} G_1` from
  Papyan's class means (their Gram matrices, as E11 does);
- the same with each sample's wrong mass **evened out** (:math:`p_{c'} \to (1 - p_y)/(C-1)` for
  every :math:`c' \ne y`, in both places where p enters :math:`\delta_{i,c'}`), with the Jacobians,
  the data and the parameters unchanged: the counterfactual that isolates how the wrong mass is
  shared.

Usage::

    python tools/e11_cross_class.py --results results_full [--quick] --seeds 5
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from hessian_spectra import losses, mlp
from hessian_spectra.curvature import papyan
from hessian_spectra.experiments import e11_class_structure as e11
from hessian_spectra.experiments import runner
from hessian_spectra.objective import Objective


def evened_probabilities(p, y) -> np.ndarray:
    r"""``p`` with every sample's wrong mass :math:`1 - p_{y_i}` shared evenly by its C − 1 wrong classes."""
    p = np.asarray(p, dtype=float)
    n, C = p.shape
    rows = np.arange(n)
    out = np.repeat(((1.0 - p[rows, y]) / (C - 1))[:, None], C, axis=1)
    out[rows, y] = p[rows, y]
    return out


def class_means_with(objective: Objective, params, probabilities=None, weighting: str = "classes"):
    r"""Papyan's class means :math:`\delta_{c,c'}` (:class:`papyan.ClassMeans`) with the softmax
    probabilities replaced by ``probabilities`` (N × C; ``None``: the network's own).

    :math:`\delta_{c,c'} = \nabla_w \sum_i u_i^{(c,c')\top} f_i` for the cotangents
    :math:`u_i^{(c,c')} = [y_i = c]\, \sqrt{p_{i,c'}}\,(e_{c'} - p_i)/N_c`: one backward pass per
    (c, c′) pair, stacked (:meth:`mlp.ForwardPass.backward`), the Jacobians those of the network.
    """
    fp = mlp.forward_pass(params, objective.X, objective.layer_sizes, objective.activation)
    p = losses.softmax(fp.logits) if probabilities is None else np.asarray(probabilities, dtype=float)
    y = np.asarray(objective.y)
    N, C = p.shape
    counts = np.bincount(y, minlength=C)
    eye = np.eye(C)
    cot = np.zeros((C, C, N, C))
    for c in range(C):
        members = (y == c)[:, None]
        for k in range(C):
            cot[c, k] = members * np.sqrt(p[:, k : k + 1]) * (eye[k] - p) / counts[c]
    grads = fp.parameter_gradient(fp.backward(cot.reshape(C * C, N, C)))
    return papyan.class_means_from_deltas(grads.reshape(C, C, -1), counts, weighting)


def wrong_mass(p, y) -> dict:
    r"""Per class: the effective number of wrong classes and the largest wrong class's share."""
    p = np.asarray(p, dtype=float)
    C = p.shape[1]
    n_eff, top_share = [], []
    for c in range(C):
        q = np.delete(p[np.asarray(y) == c].mean(axis=0), c)
        n_eff.append(q.sum() ** 2 / np.sum(q**2))
        top_share.append(q.max() / q.sum())
    return {"n_eff": np.asarray(n_eff), "top_share": np.asarray(top_share)}


def collapsed_last_layer_means(objective: Objective, params, centred: bool, weighting: str = "classes"):
    r"""Papyan's class means of the last layer in the collapsed model: every sample of class c has the
    class's mean features :math:`\tilde h_c = [\bar h_c; 1]` and the class's evened probabilities
    (:math:`\bar p_{c,c}`, the rest shared evenly), so
    :math:`\delta_{c,c'} = \sqrt{\tilde p_{c,c'}}\,(e_{c'} - \tilde p_c) \otimes \tilde h_c`.
    ``centred=True`` replaces :math:`\tilde h_c` by :math:`\tilde h_c - \frac1C\sum_d \tilde h_d`: the
    same model without the component the classes' features share."""
    fp = mlp.forward_pass(params, objective.X, objective.layer_sizes, objective.activation)
    y = np.asarray(objective.y)
    p = losses.softmax(fp.logits)
    C = p.shape[1]
    h = np.hstack([fp.hs[-1], np.ones((y.size, 1))])
    feats = np.stack([h[y == c].mean(axis=0) for c in range(C)])
    if centred:
        feats = feats - feats.mean(axis=0)
    probs = evened_probabilities(np.stack([p[y == c].mean(axis=0) for c in range(C)]), np.arange(C))
    eye = np.eye(C)
    delta_cc = np.stack(
        [
            np.stack(
                [np.outer(feats[c], np.sqrt(probs[c, k]) * (eye[k] - probs[c])).ravel() for k in range(C)]
            )
            for c in range(C)
        ]
    )
    return papyan.class_means_from_deltas(delta_cc, np.bincount(y, minlength=C), weighting)


def common_fraction(objective: Objective, params) -> float:
    r""":math:`\lVert \frac1C\sum_c \tilde h_c\rVert^2 / \frac1C\sum_c \lVert\tilde h_c\rVert^2` of the
    last hidden layer's class-mean features with the bias coordinate (1 when the classes' features
    coincide, 0 when they average to zero)."""
    fp = mlp.forward_pass(params, objective.X, objective.layer_sizes, objective.activation)
    y = np.asarray(objective.y)
    h = np.hstack([fp.hs[-1], np.ones((y.size, 1))])
    feats = np.stack([h[y == c].mean(axis=0) for c in range(objective.n_classes)])
    return float(np.sum(feats.mean(axis=0) ** 2) / np.mean(np.sum(feats**2, axis=1)))


def last_layer(means, objective: Objective):
    r"""The class means restricted to the last layer's parameters (W_L, b_L)."""
    ws, bs = mlp.param_slices(objective.layer_sizes)[-1]
    return papyan.class_means_from_deltas(
        means.delta_cc[..., ws.start : bs.stop], means.class_counts, means.weighting
    )


def cross_class_numbers(means) -> dict:
    r""":math:`\lambda_1(G_2)/\lambda_1(G_1)` and :math:`\operatorname{tr}G_2/\operatorname{tr}G_1`."""
    g1 = papyan.g1_eigenvalues_from_gram(means)
    g2 = papyan.g2_eigenvalues_from_gram(means)
    return {"top": float(np.max(g2) / np.max(g1)), "trace": float(np.sum(g2) / np.sum(g1))}


def run_seed(results: str, quick: bool, seed: int) -> dict:
    exp = e11.EXPERIMENT
    ctx = runner.Context(exp, results, quick, seed, False, exp.config(quick, {}))
    obj, tr, snaps, _ = e11.training_run(ctx)
    w = tr[f"w_{snaps[-1]}"]
    ours = class_means_with(obj, w, weighting=ctx.config["weighting"])
    reference = papyan.class_means(obj, w, weighting=ctx.config["weighting"])
    err = np.abs(ours.delta_cc - reference.delta_cc).max() / np.abs(reference.delta_cc).max()
    if err > 1e-10:  # two routes to the same class means: a bug if they differ
        raise AssertionError(f"class means differ from curvature.papyan's by {err:.2e} (relative)")
    p = losses.softmax(obj.logits(w))
    evened = class_means_with(obj, w, evened_probabilities(p, obj.y), ctx.config["weighting"])
    mass = wrong_mass(p, obj.y)
    weighting = ctx.config["weighting"]
    return {
        "common_fraction": common_fraction(obj, w),
        "last": cross_class_numbers(last_layer(ours, obj)),
        "model": cross_class_numbers(collapsed_last_layer_means(obj, w, False, weighting)),
        "model_centred": cross_class_numbers(collapsed_last_layer_means(obj, w, True, weighting)),
        "seed": seed,
        "N": obj.n_samples,
        "C": obj.n_classes,
        "n_eff": float(np.median(mass["n_eff"])),
        "top_share": float(np.median(mass["top_share"])),
        "actual": cross_class_numbers(ours),
        "evened": cross_class_numbers(evened),
        "route_error": float(err),
    }


def table(rows) -> str:
    lines = [
        "| seed | N | median n_c (of C − 1) | median top share | λ1(G2)/λ1(G1) | tr G2/tr G1 | "
        "λ1(G2)/λ1(G1), evened | tr G2/tr G1, evened | last layer: λ1(G2)/λ1(G1) | common fraction | "
        "collapsed model | collapsed model, centred |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        a, e = r["actual"], r["evened"]
        lines.append(
            f"| {r['seed']} | {r['N']} | {r['n_eff']:.2f} (of {r['C'] - 1}) | {r['top_share']:.2f} | "
            f"{a['top']:.2f} | {a['trace']:.2f} | {e['top']:.3f} | {e['trace']:.3f} | {r['last']['top']:.2f} | "
            f"{r['common_fraction']:.2f} | {r['model']['top']:.3f} | {r['model_centred']['top']:.3f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--results", required=True, help="results folder of reproduce E11 (its cache is reused)")
    ap.add_argument("--quick", action="store_true", help="E11's quick configuration")
    ap.add_argument("--seed", type=int, default=0, help="first seed")
    ap.add_argument("--seeds", type=int, default=1, help="number of seeds")
    args = ap.parse_args(argv)
    if args.seeds < 1:
        raise SystemExit("--seeds must be a positive integer")
    t0 = time.process_time()
    rows = [run_seed(args.results, args.quick, s) for s in range(args.seed, args.seed + args.seeds)]
    print(table(rows))
    print(f"CPU time {time.process_time() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
