r"""E8 — large batch, then small batch from where it stopped: one basin (Sagun et al., 2018, Sec. 4,
Figs. 7 and 8).

S18 trained AlexNet on CIFAR-10 with batch 1,000 for 25,000 steps (part I), then continued from that
point with batch 32 at the same constant learning rate for 25,000 more (part II). The training loss
jumps at the switch and recovers; part II ends ≈ 1 % better in test accuracy; and on the line
:math:`\theta(\alpha) = (1-\alpha)\,\theta_I + \alpha\,\theta_{II}`, :math:`\alpha \in [-1, 2]`, the
training loss is ≈ 0 on [0, 2]: no barrier between the two endpoints, which "climbed uphill and then
fell downhill" into the same basin.

Our scale: 1,000 training examples of scikit-learn's 8×8 digits (797 for testing), an MLP 64-30-30-10
with ReLU (P = 3,190), :math:`\mathcal N(0, 0.1^2)` initialization, mean cross-entropy, learning rate
0.1. Part I uses batches of 1,000, i.e. the full training set (GD); part II batches of 32. 10,000 steps
per part (quick: 2,000). Test loss and accuracy are evaluated on parameter snapshots (100 per part).
"""

from __future__ import annotations

import numpy as np

from .. import data as _data
from .. import mlp
from ..landscape import barrier, loss_on_line
from ..objective import Objective
from .runner import Experiment, single_thread_blas

#: A "jump" at the switch: the training loss over the first 10 % of part II rises above the loss at the
#: switch by more than this factor (our choice: a 10 % rise).
JUMP_FACTOR = 1.10

CONFIGS = {
    "quick": {
        "n_samples": 1000,
        "n_test": 797,
        "hidden": [30, 30],
        "activation": "relu",
        "lr": 0.1,
        "steps": 2000,
        "large_batch": 1000,
        "small_batch": 32,
        "line_alphas": [-1.0, 2.0, 31],
        "n_snapshots": 100,
    },
    "full": {
        "n_samples": 1000,
        "n_test": 797,
        "hidden": [30, 30],
        "activation": "relu",
        "lr": 0.1,
        "steps": 10000,
        "large_batch": 1000,
        "small_batch": 32,
        "line_alphas": [-1.0, 2.0, 61],
        "n_snapshots": 100,
    },
}


def _problem(ctx):
    cfg = ctx.config
    ds = _data.digits(n_samples=cfg["n_samples"], n_test=cfg["n_test"], seed=ctx.seed_for("data"))
    sizes = (ds.dim, *map(int, cfg["hidden"]), ds.n_classes)
    obj = Objective(ds.X, ds.y, sizes, cfg["activation"], "cross_entropy")
    test = obj.with_data(ds.X_test, ds.y_test)
    p0 = mlp.init_params(sizes, "normal", seed=ctx.seed_for("init"))
    return obj, test, p0


def _phase(ctx, part: int, obj, test, start, batch: int) -> dict:
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
        record_every=max(1, steps // 400),
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


def compute(ctx) -> dict:
    cfg = ctx.config
    obj, test, p0 = _problem(ctx)
    base = {"seed": ctx.seed, **{k: v for k, v in cfg.items() if k != "line_alphas"}}
    parts = []
    for part in ctx.bar([1, 2], "two phases"):
        batch = cfg["large_batch"] if part == 1 else cfg["small_batch"]
        start = p0 if part == 1 else parts[0]["params"]
        parts.append(
            ctx.point(
                f"part{part}",
                {**base, "part": part},
                lambda part=part, batch=batch, start=start: _phase(ctx, part, obj, test, start, batch),
            )
        )
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
    early = np.asarray(parts[1]["loss"])[p2_steps <= max(1, steps // 10)]
    return {
        "switch_step": steps,
        "curves": curves,
        "line": line,
        "barrier": barrier(line["alpha"], line["train_loss"]),
        "loss_at_switch": float(parts[0]["loss"][-1]),
        "max_loss_early_part2": float(early.max()),
        "test_accuracy_part1": float(parts[0]["test_accuracy"][-1]),
        "test_accuracy_part2": float(parts[1]["test_accuracy"][-1]),
        "train_loss_part2": float(parts[1]["loss"][-1]),
    }


def plot(ctx, numbers) -> None:
    import matplotlib.pyplot as plt

    c = numbers["curves"]
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(14, 4))
    for name, col in (("part1", "C0"), ("part2", "C1")):
        ax1.semilogy(c[name]["step"], c[name]["train_loss"], color=col, lw=0.8, label=f"{name} train")
        ax1.semilogy(
            c[name]["snapshot_step"], c[name]["test_loss"], "--", color=col, lw=0.8, label=f"{name} test"
        )
        ax2.plot(c[name]["step"], c[name]["train_accuracy"], color=col, lw=0.8, label=f"{name} train")
        ax2.plot(
            c[name]["snapshot_step"], c[name]["test_accuracy"], "--", color=col, lw=0.8, label=f"{name} test"
        )
    for ax in (ax1, ax2):
        ax.axvline(numbers["switch_step"], color="k", lw=0.8, ls=":", label="switch LB → SB")
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    ax1.set_ylabel("loss")
    ax2.set_ylabel("accuracy")
    ax2.set_ylim(
        max(0.0, min(c["part1"]["test_accuracy"][len(c["part1"]["test_accuracy"]) // 5 :]) - 0.05), 1.005
    )
    ax1.set_title("part I: batch 1,000; part II: batch 32 (Fig. 7)", fontsize=10)
    line = numbers["line"]
    ax3.semilogy(line["alpha"], line["train_loss"], "C0-", label="train loss")
    ax3.semilogy(line["alpha"], line["test_loss"], "C1--", label="test loss")
    for a, name in ((0, "end of I"), (1, "end of II")):
        ax3.axvline(a, color="0.6", lw=0.6, ls=":")
        ax3.annotate(name, (a, 0.97), xycoords=("data", "axes fraction"), ha="center", va="top", fontsize=8)
    ax3.set_xlabel("α  (θ = (1−α) θ_I + α θ_II)")
    ax3.set_title(f"the line (Fig. 8): barrier {numbers['barrier']['height']:+.2g}", fontsize=10)
    ax3.legend(fontsize=8)
    fig.suptitle(ctx.title("LB then SB on 1,000 digits, 64-30-30-10 (S18: AlexNet, CIFAR-10)"))
    fig.tight_layout()
    ctx.save_figure(fig, "fig7_8_two_phase")


def judge(numbers) -> tuple[str, dict, dict]:
    jump = numbers["max_loss_early_part2"] / max(numbers["loss_at_switch"], 1e-300)
    gain = numbers["test_accuracy_part2"] - numbers["test_accuracy_part1"]
    checks = {
        "no barrier on the line": bool(numbers["barrier"]["none"]),
        f"loss jumps at the switch (> ×{JUMP_FACTOR:g})": jump > JUMP_FACTOR,
        "part II ends with higher test accuracy": gain > 0,
    }
    ours = (
        f"barrier {numbers['barrier']['height']:+.2g}; loss ×{jump:.2f} after the switch; test accuracy "
        f"{numbers['test_accuracy_part1']:.3f} → {numbers['test_accuracy_part2']:.3f} ({gain:+.1%})"
    )
    values = {"loss jump": jump, "test accuracy gain": gain, "barrier": numbers["barrier"]["height"]}
    return ours, checks, values


EXPERIMENT = Experiment(
    id="E8",
    slug="two_phase",
    source="Sagun et al. 2018, Sec. 4, Figs. 7, 8",
    claim="switching from large to small batch makes the loss jump then recover, ends slightly better on "
    "test, and the two endpoints are joined by a line without a barrier",
    paper_number="SB ≈ 1 % better test accuracy; train loss ≈ 0 on α ∈ [0, 2] (AlexNet, CIFAR-10)",
    rule=f"reproduced if all three hold, partly if two: no barrier on α ∈ [0, 1] (E7's rule); the train loss in "
    f"the first 10 % of part II exceeds the loss at the switch by > ×{JUMP_FACTOR:g}; part II's final test "
    "accuracy is higher than part I's.",
    configs=CONFIGS,
    compute=compute,
    plot=plot,
    judge=judge,
    data="8×8 digits",
)
