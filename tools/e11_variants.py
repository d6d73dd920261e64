"""Side experiments for E11: which ingredient of Papyan's regime moves top-C(G)/eig(G1)?

Runs E11 (full configuration unless ``--quick``) once per variant, each changing one setting, into
``<out>/<variant>/`` (cached points are reused on a rerun), and prints one row per variant: the
end-of-training ratio median λ_c(G)/λ_c(G1), the overlap of the top-C eigenvectors of G with the
class-mean span, λ_1(G − G1) and λ_1(ΠGΠ) over λ_C+1(G), tr G3/tr G1, λ_1(G2)/λ_1(G1), the feature collapse
tr Σ_W/tr Σ_B, the median probability spread κ and the median ratio of each layer's diagonal block.
The table is also written to ``<out>/variants.json``.

Usage::

    python tools/e11_variants.py --out results-e11-variants [--seed 0] [--quick] [--only NAME ...]
"""

from __future__ import annotations

import argparse
import json
import os

import numpy as np

from hessian_spectra.experiments import e11_class_structure as e11
from hessian_spectra.experiments import run

#: name -> overrides of E11's configuration (one setting changed each).
VARIANTS = {
    "baseline": {},
    "no-weight-decay": {"weight_decay": 0.0},
    "weight-decay-3e-2": {"weight_decay": 3e-2},
    "longer-3x": {"steps_factor": 3},
    "n100": {"n_samples": 100},
    "spread-0.5": {"input_spread": 0.5},
    "spread-0.25": {"input_spread": 0.25},
    "spread-0": {"input_spread": 0.0},
    "wide-128": {"hidden": [128, 128]},
}


def overrides_for(name: str, quick: bool) -> dict:
    """The E11 overrides of variant ``name`` (``steps_factor`` multiplies the configured steps)."""
    over = dict(VARIANTS[name])
    factor = over.pop("steps_factor", None)
    if factor is not None:
        steps = e11.EXPERIMENT.config(quick)["steps"]
        over["steps"] = int(factor * steps)
    return over


def row(numbers: dict) -> dict:
    """The numbers of one variant's end of training (see the module docstring)."""
    C = numbers["n_classes"]
    end = numbers["snapshots"][-1]
    lam_next = end["top_G"][C]
    return {
        "N": numbers["n_samples"],
        "weight_decay": numbers["weight_decay"],
        "steps": numbers["steps"],
        "input_spread": numbers["input_spread"],
        "accuracy": end["accuracy"],
        "loss": end["loss"],
        "ratio": float(np.median(end["ratio_top_C_G_to_G1"])),
        "overlap": end["overlap"],
        "knock_out": end["top_G_minus_G1"][0] / lam_next,
        "projected": end["top_G_projected"][0] / lam_next,
        "trG3_trG1": end["traces"]["G3"] / end["traces"]["G1"],
        "G2_over_G1": end["G2_top"][0] / end["G1"][0],
        "feature_collapse": end["feature_collapse"],
        "kappa": end["probability_spread_median"],
        "layer_ratios": [layer["median_ratio"] for layer in end["layers"]],
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", required=True, help="results folder (one subfolder per variant)")
    p.add_argument("--seed", type=int, default=0, help="the one seed of every variant")
    p.add_argument("--quick", action="store_true", help="E11's quick configuration instead of the full one")
    p.add_argument("--only", nargs="+", choices=sorted(VARIANTS), help="run only these variants")
    args = p.parse_args(argv)
    names = args.only or list(VARIANTS)
    table = {}
    for name in names:
        folder = os.path.join(args.out, name)
        run(
            "E11",
            folder,
            quick=args.quick,
            seed=args.seed,
            progress=False,
            overrides=overrides_for(name, args.quick),
            n_seeds=1,
        )
        with open(os.path.join(folder, "E11", f"seed-{args.seed}", "numbers.json"), encoding="utf-8") as fh:
            table[name] = row(json.load(fh))
        r = table[name]
        print(
            f"{name:>17}: N {r['N']:>4} λ {r['weight_decay']:<6g} steps {r['steps']:>6} spread {r['input_spread']:<4g} "
            f"acc {r['accuracy']:.3f} loss {r['loss']:.3g} | ratio {r['ratio']:.2f} overlap {r['overlap']:.3f} "
            f"G−G1 {r['knock_out']:.2f} ΠGΠ {r['projected']:.2f} | trG3/trG1 {r['trG3_trG1']:.2f} "
            f"λ1(G2)/λ1(G1) {r['G2_over_G1']:.2f} "
            f"NC1 {r['feature_collapse']:.3f} κ {r['kappa']:.2f} | layers "
            + " ".join(f"{v:.2f}" for v in r["layer_ratios"]),
            flush=True,
        )
    with open(os.path.join(args.out, "variants.json"), "w", encoding="utf-8") as fh:
        json.dump({"seed": args.seed, "quick": args.quick, "variants": table}, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
