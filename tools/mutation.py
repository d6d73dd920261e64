"""Mutation testing of the core modules with mutmut (3.x), one module at a time, one worker.

Each module is mutated in a scratch copy of the repository (``src/``, ``tests/``, ``setup.cfg``,
``pyproject.toml``) under ``--workdir`` (default ``/tmp/hessian-spectra-mutation/<module>``), with a
``[tool.mutmut]`` section appended to the copy's ``pyproject.toml`` that names the module's file(s) and
the test files that exercise it (:data:`MODULES`). mutmut then runs, for each mutant, only those of
the selected tests that call the mutated function, stopping at the first failure (``pytest -x``).
Nothing is written into the repository itself.

Usage (from the repository root, in the project's venv with ``pip install mutmut``)::

    python tools/mutation.py data                 # every mutant of data.py
    python tools/mutation.py fast --sample 80     # 80 mutants drawn at random (seed 0) from fast.py
    python tools/mutation.py --list               # the module table
    python tools/mutation.py data --report        # the score of the last run, and the survivors' diffs
    python tools/mutation.py data --survivors-of /tmp/hessian-spectra-mutation/data --workdir /tmp/after
                                                  # the survivors of a kept run, against today's tests

See tools/mutation.md for the scores of the last full run and what was done about the survivors.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import shutil
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
PKG = "src/hessian_spectra"

#: module -> (files to mutate, test files that exercise them)
MODULES: dict[str, tuple[list[str], list[str]]] = {
    # the CLI subprocess of test_a_new_users_mnist_command_works cannot load a mutant (mutmut's
    # trampolines need its configuration in the working directory): left out here
    "data": (
        [f"{PKG}/data.py"],
        ["tests/test_data.py", "--deselect", "tests/test_data.py::test_a_new_users_mnist_command_works"],
    ),
    "mlp": ([f"{PKG}/mlp.py"], ["tests/test_mlp.py", "tests/test_decomposition.py"]),
    "losses": ([f"{PKG}/losses.py"], ["tests/test_losses.py", "tests/test_decomposition.py"]),
    "training": ([f"{PKG}/training.py"], ["tests/test_training.py"]),
    "spectrum": ([f"{PKG}/spectrum.py"], ["tests/test_spectrum.py"]),
    "rmt": ([f"{PKG}/rmt.py"], ["tests/test_rmt.py"]),
    "landscape": ([f"{PKG}/landscape.py"], ["tests/test_landscape.py"]),
    "reference": (
        [f"{PKG}/curvature/reference.py", f"{PKG}/curvature/terms.py", f"{PKG}/curvature/__init__.py"],
        ["tests/test_hessian_reference.py", "tests/test_fast.py", "tests/test_decomposition.py"],
    ),
    "decomposition": ([f"{PKG}/curvature/decomposition.py"], ["tests/test_decomposition.py"]),
    "papyan": ([f"{PKG}/curvature/papyan.py"], ["tests/test_papyan.py"]),
    "fast": ([f"{PKG}/curvature/fast.py"], ["tests/test_fast.py"]),
}

#: pytest options for every run: no cache folder, no hypothesis database in the copy.
PYTEST_ARGS = ["-p", "no:cacheprovider", "-o", "addopts=", "-W", "ignore::DeprecationWarning"]


def _copy_repository(workdir: pathlib.Path) -> None:
    if workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis")
    for name in ("src", "tests"):
        shutil.copytree(ROOT / name, workdir / name, ignore=ignore)
    for name in ("setup.cfg", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, workdir / name)


def _configure(workdir: pathlib.Path, files: list[str], tests: list[str]) -> None:
    section = {
        "source_paths": ["src"],
        "only_mutate": files,
        "pytest_add_cli_args_test_selection": tests,
        "pytest_add_cli_args": PYTEST_ARGS,
        "use_git_change_detection": False,
    }
    lines = ["", "[tool.mutmut]"] + [f"{k} = {json.dumps(v)}" for k, v in section.items()]
    with open(workdir / "pyproject.toml", "a") as fh:
        fh.write("\n".join(lines) + "\n")


def _mutant_names(workdir: pathlib.Path) -> list[str]:
    """Every mutant of the last generation, from mutmut's ``.meta`` files."""
    names = []
    for meta in sorted((workdir / "mutants").rglob("*.py.meta")):
        names += sorted(json.loads(meta.read_text())["exit_code_by_key"])
    return names


def _generate(workdir: pathlib.Path) -> list[str]:
    """Generate the mutants without running any (mutmut's own generation step)."""
    code = (
        "import os, sys; sys.path.insert(0, os.getcwd())\n"
        "from mutmut.__main__ import copy_src_dir, copy_also_copy_files, setup_source_paths, create_mutants\n"
        "from mutmut.mutation.trampoline import set_mutant_under_test\n"
        "os.makedirs('mutants', exist_ok=True); set_mutant_under_test('mutant_generation')\n"
        "copy_src_dir(); copy_also_copy_files(); setup_source_paths(); create_mutants(1)\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=workdir, check=True, capture_output=True)
    return _mutant_names(workdir)


def report(workdir: pathlib.Path, show_diffs: bool = True) -> dict:
    """Counts per status of the last run in ``workdir`` and the diffs of the survivors."""
    from collections import Counter

    status_by_code = {0: "survived", 1: "killed", 3: "killed", -24: "timeout", 24: "timeout", 33: "no tests"}
    counts, survivors = Counter(), []
    for meta in sorted((workdir / "mutants").rglob("*.py.meta")):
        for name, code in json.loads(meta.read_text())["exit_code_by_key"].items():
            if code is None:
                continue
            status = status_by_code.get(code, f"exit {code}")
            counts[status] += 1
            if status in ("survived", "no tests"):
                survivors.append(name)
    tried = sum(counts.values())
    killed = counts.get("killed", 0)
    print(
        f"{workdir.name}: {killed}/{tried} killed; "
        + ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
    )
    if show_diffs:
        for name in survivors:
            out = subprocess.run(["mutmut", "show", name], cwd=workdir, capture_output=True, text=True)
            changed = [
                line for line in out.stdout.splitlines()
                if line[:1] in "-+" and not line.startswith(("---", "+++"))
            ]  # fmt: skip
            print(f"{name.split('.')[-1]}:  " + "  |  ".join(line.strip() for line in changed))
    return {"counts": dict(counts), "survivors": survivors}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("module", nargs="?", choices=sorted(MODULES))
    parser.add_argument("--sample", type=int, default=None, help="run this many mutants drawn at random")
    parser.add_argument("--seed", type=int, default=0, help="seed of the sample (numpy Generator)")
    parser.add_argument("--workdir", type=pathlib.Path, default=None)
    parser.add_argument(
        "--survivors-of", type=pathlib.Path, default=None, metavar="DIR",
        help="run only the mutants that survived (or had no test) in the run kept in DIR",
    )  # fmt: skip
    parser.add_argument("--report", action="store_true", help="only report the last run")
    parser.add_argument("--list", action="store_true", help="print the module table")
    args = parser.parse_args(argv)
    if args.list or args.module is None:
        for name, (files, tests) in MODULES.items():
            print(f"{name:14s} {' '.join(files)}  <-  {' '.join(tests)}")
        return 0
    workdir = args.workdir or pathlib.Path("/tmp/hessian-spectra-mutation") / args.module
    if args.report:
        report(workdir)
        return 0
    files, tests = MODULES[args.module]
    _copy_repository(workdir)
    _configure(workdir, files, tests)
    names = []
    if args.survivors_of is not None:
        names = report(args.survivors_of, show_diffs=False)["survivors"]
        print(f"{args.module}: re-running the {len(names)} survivors of {args.survivors_of}", flush=True)
    elif args.sample is not None:
        import numpy as np

        every = _generate(workdir)
        rng = np.random.default_rng(args.seed)
        k = min(args.sample, len(every))
        names = sorted(rng.choice(every, size=k, replace=False).tolist())
        print(f"{args.module}: {k} of {len(every)} mutants drawn with seed {args.seed}", flush=True)
    proc = subprocess.run(["mutmut", "run", "--max-children", "1", *names], cwd=workdir)
    report(workdir, show_diffs=False)
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
