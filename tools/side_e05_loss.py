"""Side experiment of E5: does the second outlier fade because of the softmax cross-entropy?

For each blob std, E5's network (2-h-h-2 ReLU, the same data, initial point and GD with the
authors' stop at gradient norm 1e-4 or a step cap) is trained once with cross-entropy and once
with the mean squared error to one-hot targets, whose logit Hessian A_i = I does not annihilate the
all-ones direction of logit space. The script prints, per std, the largest-ratio outlier count of
each loss and, for cross-entropy, the cosine of Papyan's two class-mean vectors delta_0, delta_1
(curvature.papyan.class_means), which sets the ratio of G1's two eigenvalues.

    python tools/side_e05_loss.py [--h 18] [--steps 4000] [--seeds 3]

Its output is quoted in docs/reproduce/E5.md.
"""

from __future__ import annotations

import argparse

import numpy as np

from hessian_spectra import data, mlp, spectrum
from hessian_spectra.curvature import papyan
from hessian_spectra.experiments.runner import dense_spectra, derive_seed, single_thread_blas
from hessian_spectra.objective import Objective
from hessian_spectra.training import train_many


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--h", type=int, default=18)
    parser.add_argument("--steps", type=int, default=4000)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = (2, args.h, args.h, 2)
    print("std  seed  count CE  count MSE  cos(delta_0, delta_1) CE")
    for std in (0.2, 0.4, 0.6, 0.8, 1.0):
        for seed in range(args.seeds):
            # the seeds E5 draws for this point (experiment id "E5", keys as in e05.blob_point)
            ds = data.two_blobs(n_samples=100, std=std, seed=derive_seed(seed, "E5", "data", std))
            p0 = mlp.init_params(sizes, "normal", seed=derive_seed(seed, "E5", "init", args.h))
            counts, cosine = {}, None
            for loss in ("cross_entropy", "mse"):
                obj = Objective(ds.X, ds.y, sizes, "relu", loss)
                with single_thread_blas():
                    w = train_many(obj, p0[None, :], 0.1, args.steps, grad_tol=1e-4).params[0]
                counts[loss] = spectrum.outlier_count_ratio(dense_spectra(obj, w)["H"])
                if loss == "cross_entropy":
                    d = papyan.class_means(obj, w).delta_c
                    cosine = float(d[0] @ d[1] / (np.linalg.norm(d[0]) * np.linalg.norm(d[1])))
            print(f"{std:3.1f}  {seed:4d}  {counts['cross_entropy']:8d}  {counts['mse']:9d}  {cosine:+.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
