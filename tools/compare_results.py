"""Compare the numbers of two reproduction folders (``hessian-spectra reproduce all --out DIR``).

Walks every ``<id>/numbers.json`` of both folders in parallel and reports, per experiment, the
largest difference between corresponding numbers: absolute, and relative to the largest magnitude
of the numbers it belongs to (each list is compared as a whole, so that round-off in an eigenvalue
near zero is measured against the spectrum it sits in). Strings, booleans and structure (keys,
lengths) must agree exactly.

Usage::

    python tools/compare_results.py results_before results_after [--rtol 1e-9]

Exit status 0 when every relative difference is within ``--rtol``, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys


def _numbers(obj):
    """Every number in ``obj`` (nested lists), flattened; ``None`` if ``obj`` is not all numbers."""
    if isinstance(obj, bool):
        return None
    if isinstance(obj, int | float):
        return [float(obj)]
    if isinstance(obj, list):
        out = []
        for x in obj:
            sub = _numbers(x)
            if sub is None:
                return None
            out += sub
        return out
    return None


def compare(a, b, path="") -> tuple[list[str], float, float]:
    """``(mismatches, largest absolute difference, largest relative difference)`` of two JSON values."""
    nums_a, nums_b = _numbers(a), _numbers(b)
    if nums_a is not None and nums_b is not None and isinstance(a, list) == isinstance(b, list):
        if len(nums_a) != len(nums_b):
            return [f"{path}: {len(nums_a)} numbers vs {len(nums_b)}"], math.inf, math.inf
        scale = max((abs(x) for x in nums_a + nums_b if math.isfinite(x)), default=0.0)
        worst_abs = 0.0
        for x, y in zip(nums_a, nums_b, strict=True):
            if math.isnan(x) and math.isnan(y) or x == y:
                continue
            if not (math.isfinite(x) and math.isfinite(y)):
                return [f"{path}: {x} vs {y}"], math.inf, math.inf
            worst_abs = max(worst_abs, abs(x - y))
        return [], worst_abs, (worst_abs / scale if scale > 0 else 0.0)
    if isinstance(a, dict) and isinstance(b, dict):
        if set(a) != set(b):
            return [f"{path}: keys differ: {sorted(set(a) ^ set(b))}"], math.inf, math.inf
        mism, wa, wr = [], 0.0, 0.0
        for k in a:
            m, x, y = compare(a[k], b[k], f"{path}.{k}")
            mism += m
            wa, wr = max(wa, x), max(wr, y)
        return mism, wa, wr
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: lengths {len(a)} vs {len(b)}"], math.inf, math.inf
        mism, wa, wr = [], 0.0, 0.0
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            m, p, q = compare(x, y, f"{path}[{i}]")
            mism += m
            wa, wr = max(wa, p), max(wr, q)
        return mism, wa, wr
    if a != b:
        return [f"{path}: {a!r} vs {b!r}"], math.inf, math.inf
    return [], 0.0, 0.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before")
    parser.add_argument("after")
    parser.add_argument("--rtol", type=float, default=1e-9)
    args = parser.parse_args(argv)
    ids = sorted(
        d for d in os.listdir(args.before) if os.path.isfile(os.path.join(args.before, d, "numbers.json"))
    )
    worst = 0.0
    ok = True
    for exp in ids:
        other = os.path.join(args.after, exp, "numbers.json")
        if not os.path.exists(other):
            print(f"{exp}: missing in {args.after}")
            ok = False
            continue
        with open(os.path.join(args.before, exp, "numbers.json")) as fa, open(other) as fb:
            mism, wa, wr = compare(json.load(fa), json.load(fb))
        worst = max(worst, wr)
        status = "ok" if not mism and wr <= args.rtol else "DIFFERS"
        ok &= status == "ok"
        print(f"{exp}: largest difference {wa:.3g} absolute, {wr:.3g} relative  {status}")
        for m in mism[:10]:
            print(f"    {m}")
    print(f"largest relative difference over {len(ids)} experiments: {worst:.3g}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
