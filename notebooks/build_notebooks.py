"""Write the course notebooks (``notebooks/*.ipynb``) from their Python sources (``notebooks/source/``).

The notebooks are *generated*: each one is a plain Python file in the "percent" format, so that it
can be read, reviewed, diffed and linted as code, and this script turns it into an ``.ipynb`` with
:mod:`nbformat`. The stored notebooks carry **no outputs**; the test suite executes every one of them
(``tests/test_notebooks.py``), and a reader runs them to see the figures.

Source format (one file per notebook)::

    # %% [markdown]
    # # A title
    # Text with math, $H = G + R$.

    # %%
    import numpy as np

    # %% [exercise ex02_1]
    def softmax_logit_hessian(logits):
        raise NotImplementedError

    # %% [check ex02_1]
    check("ex02_1", softmax_logit_hessian)

- ``# %% [markdown]`` starts a markdown cell; each following line loses its leading ``# ``.
- ``# %%`` starts a code cell. A line ``# %matplotlib inline`` (a magic, which is not Python) is
  written to the notebook as ``%matplotlib inline``.
- ``# %% [exercise ID]`` and ``# %% [check ID]`` start the code cells of an exercise: the student's
  stub and the call of its checker. They carry the metadata ``{"hessian_spectra": {"exercise": ID,
  "role": "stub" | "check"}}`` and a tag, which the tests and ``--solved`` use to bind the library's
  reference solution in place of the stub (:func:`solved_notebook`).

Usage::

    python notebooks/build_notebooks.py              # (re)write every notebook
    python notebooks/build_notebooks.py --check      # exit 1 if a stored notebook is out of date
    python notebooks/build_notebooks.py --solved DIR # also write the exercise notebooks, solved, to DIR

Cell ids are derived from the file name and the cell's position, so rebuilding an unchanged source
gives a byte-identical notebook.
"""

from __future__ import annotations

import argparse
import copy
import pathlib
import re
import sys

import nbformat

HERE = pathlib.Path(__file__).resolve().parent
SOURCE_DIR = HERE / "source"

#: (source folder, output folder) pairs: main notebooks and exercise notebooks.
LAYOUT = (
    (SOURCE_DIR, HERE),
    (SOURCE_DIR / "exercises", HERE / "exercises"),
)

_HEADER = re.compile(r"^# %%(?:\s*\[(?P<kind>[a-z]+)(?:\s+(?P<arg>[A-Za-z0-9_]+))?\])?\s*$")
_MAGIC = re.compile(r"^# (%[a-z_]+.*)$")

KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def _markdown_text(lines: list[str]) -> str:
    out = []
    for line in lines:
        if line.startswith("# "):
            out.append(line[2:])
        elif line.rstrip() == "#":
            out.append("")
        elif not line.strip():
            out.append("")
        else:
            raise ValueError(f"markdown line does not start with '# ': {line!r}")
    return "\n".join(out).strip("\n")


def _code_text(lines: list[str]) -> str:
    return "\n".join(_MAGIC.sub(r"\1", line) for line in lines).strip("\n")


def parse_source(text: str) -> list[dict]:
    """Split a percent-format source into cells: ``[{"kind", "arg", "lines"}, ...]``."""
    cells: list[dict] = []
    current = None
    for line in text.splitlines():
        m = _HEADER.match(line)
        if m:
            current = {"kind": m.group("kind") or "code", "arg": m.group("arg"), "lines": []}
            cells.append(current)
        elif current is not None:
            current["lines"].append(line)
        elif line.strip() and not line.startswith("#"):
            raise ValueError(f"code before the first '# %%' marker: {line!r}")
    for cell in cells:
        if cell["kind"] not in ("code", "markdown", "exercise", "check"):
            raise ValueError(f"unknown cell kind [{cell['kind']}]")
        if cell["kind"] in ("exercise", "check") and not cell["arg"]:
            raise ValueError(f"a [{cell['kind']}] cell needs an exercise id, e.g. [{cell['kind']} ex02_1]")
    return cells


def build_notebook(source: pathlib.Path) -> nbformat.NotebookNode:
    """The notebook (without outputs) written by ``source``, a percent-format Python file."""
    stem = source.stem
    nb = nbformat.v4.new_notebook()
    nb.metadata = {
        "kernelspec": dict(KERNELSPEC),
        "language_info": {"name": "python"},
        "hessian_spectra": {"source": str(source.relative_to(HERE))},
    }
    for i, cell in enumerate(parse_source(source.read_text(encoding="utf-8"))):
        cid = f"{stem[:48]}-{i:03d}"
        if cell["kind"] == "markdown":
            nb.cells.append(nbformat.v4.new_markdown_cell(_markdown_text(cell["lines"]), id=cid))
            continue
        c = nbformat.v4.new_code_cell(_code_text(cell["lines"]), id=cid)
        if cell["kind"] in ("exercise", "check"):
            role = "stub" if cell["kind"] == "exercise" else "check"
            c.metadata = {"hessian_spectra": {"exercise": cell["arg"], "role": role}, "tags": [role]}
        nb.cells.append(c)
    nbformat.validate(nb)
    return nb


def exercise_cells(nb, role: str | None = None):
    """``(index, exercise id, role)`` of every exercise cell of ``nb`` (optionally one role only)."""
    out = []
    for i, cell in enumerate(nb.cells):
        meta = cell.get("metadata", {}).get("hessian_spectra", {})
        if "exercise" in meta and (role is None or meta.get("role") == role):
            out.append((i, meta["exercise"], meta["role"]))
    return out


def solved_notebook(nb) -> nbformat.NotebookNode:
    """A copy of an exercise notebook whose stub cells bind the library's reference solutions.

    Each ``stub`` cell becomes ``name = reference_solution("exNN_M")`` (see
    :func:`hessian_spectra.teaching.reference_solution`), where ``name`` is the function the stub
    defines; the ``check`` cells are left as they are, so they now call the checkers on the
    solutions.
    """
    from hessian_spectra.teaching import EXERCISES

    out = copy.deepcopy(nb)
    for i, exercise_id, _ in exercise_cells(out, "stub"):
        if exercise_id not in EXERCISES:
            raise KeyError(f"cell {i} names exercise {exercise_id!r}, which is not in EXERCISES")
        name = EXERCISES[exercise_id].name
        if not re.search(rf"^def {name}\(", out.cells[i].source, flags=re.M):
            raise ValueError(f"the stub cell of {exercise_id} does not define {name}()")
        out.cells[i].source = (
            "# Solved copy: the library's reference solution is bound in place of the stub.\n"
            "from hessian_spectra.teaching import reference_solution\n\n"
            f'{name} = reference_solution("{exercise_id}")'
        )
    return out


def sources() -> list[tuple[pathlib.Path, pathlib.Path]]:
    """``(source, target notebook)`` for every notebook, main notebooks first."""
    pairs = []
    for src_dir, out_dir in LAYOUT:
        for src in sorted(src_dir.glob("*.py")):
            pairs.append((src, out_dir / f"{src.stem}.ipynb"))
    return pairs


def render(nb) -> str:
    return nbformat.writes(nb) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="only check that the stored notebooks are current"
    )
    parser.add_argument("--solved", metavar="DIR", help="also write solved exercise notebooks into DIR")
    args = parser.parse_args(argv)
    stale = []
    for src, target in sources():
        text = render(build_notebook(src))
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if args.check:
            if current != text:
                stale.append(target)
            continue
        if current != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target.relative_to(HERE.parent)}")
        if args.solved and exercise_cells(build_notebook(src), "stub"):
            out = pathlib.Path(args.solved)
            out.mkdir(parents=True, exist_ok=True)
            (out / target.name).write_text(render(solved_notebook(build_notebook(src))), encoding="utf-8")
            print(f"wrote {out / target.name} (solved)")
    if args.check and stale:
        for t in stale:
            print(f"out of date: {t.relative_to(HERE.parent)}", file=sys.stderr)
        print("run: python notebooks/build_notebooks.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
