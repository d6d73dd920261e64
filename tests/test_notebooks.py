"""The notebooks are executed, not just stored: every one runs top to bottom without error.

- ``notebooks/*.ipynb`` (the course) execute with nbclient in an ipykernel of the test environment;
  each ends with a "Verifying results" cell of asserts against an independent route, so an error
  anywhere, including a failed assert, fails the test.
- ``notebooks/exercises/*.ipynb`` are executed twice: as handed out (every stub raises
  NotImplementedError, every check cell must report ``False`` without crashing the notebook) and with
  the library's reference solutions bound in place of the stubs (every check cell must return
  ``True``).
- The stored notebooks are exactly what ``notebooks/build_notebooks.py`` writes from
  ``notebooks/source/`` (no outputs, no drift).

The executing tests are marked ``notebooks`` (``pytest -m notebooks``); the others are quick.
"""

import importlib.util
import pathlib
import re
import time

import pytest

nbformat = pytest.importorskip("nbformat")

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
MAIN = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
EXERCISE_NOTEBOOKS = sorted((NOTEBOOK_DIR / "exercises").glob("*.ipynb"))

#: Per-notebook timeout for one cell (s). The notebooks are written to run in under a minute each on
#: 2 cores; the generous bound only catches a hung kernel.
CELL_TIMEOUT = 300

#: The kernels run with single-threaded BLAS: when other processes compete for the 2 cores of CI,
#: OpenBLAS's spinning threads make a notebook slower, not faster (measured: notebook 4 took 16 s with
#: one thread and 21 s with two, at a load average of 4).
SINGLE_THREAD_ENV = {"OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture
def kernel_env(monkeypatch):
    """The environment the notebook kernels inherit (see :data:`SINGLE_THREAD_ENV`)."""
    for key, value in SINGLE_THREAD_ENV.items():
        monkeypatch.setenv(key, value)


def _build_module():
    spec = importlib.util.spec_from_file_location("build_notebooks", NOTEBOOK_DIR / "build_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


build = _build_module()


def _execute(nb, cwd: pathlib.Path) -> float:
    from nbclient import NotebookClient

    t0 = time.perf_counter()
    NotebookClient(
        nb, timeout=CELL_TIMEOUT, kernel_name="python3", resources={"metadata": {"path": str(cwd)}}
    ).execute()
    return time.perf_counter() - t0


def _check_results(nb) -> dict:
    """``{exercise id: the text/plain value displayed by its check cell}``."""
    out = {}
    for i, exercise_id, _ in build.exercise_cells(nb, "check"):
        results = [o for o in nb.cells[i].outputs if o.output_type == "execute_result"]
        out[exercise_id] = results[-1]["data"]["text/plain"] if results else None
    return out


def _printed(nb, index: int) -> str:
    return "".join(o.get("text", "") for o in nb.cells[index].outputs if o.output_type == "stream")


# --------------------------------------------------------------------------------------------
# Quick structural tests
# --------------------------------------------------------------------------------------------


def test_there_are_eight_notebooks_and_eight_exercise_notebooks():
    """One notebook per story of the course, in order, and one exercise notebook for each."""
    stems = [p.stem for p in MAIN]
    assert [s[:3] for s in stems] == [f"{k:02d}_" for k in range(1, 9)]
    assert [p.stem for p in EXERCISE_NOTEBOOKS] == [f"ex{s}" for s in stems]


@pytest.mark.parametrize("path", MAIN + EXERCISE_NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_generated_from_its_source(path):
    """The stored .ipynb is byte for byte what build_notebooks.py writes from notebooks/source/ —
    regenerate with ``python notebooks/build_notebooks.py`` if this fails."""
    source = {target: src for src, target in build.sources()}[path]
    assert path.read_text(encoding="utf-8") == build.render(build.build_notebook(source))


@pytest.mark.parametrize("path", MAIN + EXERCISE_NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_stored_without_outputs(path):
    """Notebooks are stored without outputs (docs/teaching.md): no outputs, no execution counts."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None


@pytest.mark.parametrize("path", MAIN, ids=lambda p: p.stem)
def test_notebook_follows_the_house_style(path):
    """First code cell: imports and SEED = 0 with an injected Generator; last cell: asserts under a
    "Verifying results" heading."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "SEED = 0" in code[0].source and "np.random.default_rng(SEED)" in code[0].source
    assert "%matplotlib inline" in code[0].source
    headings = [
        c.source for c in nb.cells if c.cell_type == "markdown" and "## Verifying results" in c.source
    ]
    assert headings and "assert " in code[-1].source


def test_every_exercise_has_one_stub_and_one_check_cell():
    """The exercise notebooks cover the registry exactly: each id has a stub defining the solution's
    name and a check cell calling its checker on that name."""
    from hessian_spectra.teaching import EXERCISES

    seen = {}
    for path in EXERCISE_NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        for i, exercise_id, role in build.exercise_cells(nb):
            seen.setdefault(exercise_id, {})[role] = (path, nb.cells[i].source)
    assert set(seen) == set(EXERCISES)
    for exercise_id, roles in seen.items():
        ex = EXERCISES[exercise_id]
        assert set(roles) == {"stub", "check"}, exercise_id
        assert re.search(rf"^def {ex.name}\(", roles["stub"][1], flags=re.M), exercise_id
        assert "raise NotImplementedError" in roles["stub"][1]
        assert f'check("{exercise_id}", {ex.name})' in roles["check"][1], exercise_id
        assert f"ex{exercise_id[2:4]}_" in roles["stub"][0].stem  # the notebook of the right chapter


# --------------------------------------------------------------------------------------------
# Execution
# --------------------------------------------------------------------------------------------


@pytest.mark.notebooks
@pytest.mark.parametrize("path", MAIN, ids=lambda p: p.stem)
def test_notebook_executes(path, kernel_env):
    """The notebook runs top to bottom in a fresh kernel, its final asserts included."""
    nb = nbformat.read(path, as_version=4)
    seconds = _execute(nb, NOTEBOOK_DIR)
    assert "all checks passed" in _printed(nb, len(nb.cells) - 1)
    print(f"{path.name}: {seconds:.1f} s")


@pytest.mark.notebooks
@pytest.mark.parametrize("path", EXERCISE_NOTEBOOKS, ids=lambda p: p.stem)
def test_exercise_notebook_runs_as_handed_out(path, kernel_env):
    """With every stub unimplemented the notebook still runs to the end: each check cell reports
    "not implemented yet" and returns False."""
    nb = nbformat.read(path, as_version=4)
    _execute(nb, path.parent)
    results = _check_results(nb)
    assert results and set(results.values()) == {"False"}
    for i, _, _ in build.exercise_cells(nb, "check"):
        assert "not implemented yet" in _printed(nb, i)


@pytest.mark.notebooks
@pytest.mark.parametrize("path", EXERCISE_NOTEBOOKS, ids=lambda p: p.stem)
def test_exercise_notebook_passes_with_the_reference_solutions(path, kernel_env):
    """With the library's solutions bound in place of the stubs (build_notebooks.solved_notebook, the
    instructors' key) every check cell returns True."""
    nb = build.solved_notebook(nbformat.read(path, as_version=4))
    _execute(nb, path.parent)
    results = _check_results(nb)
    assert results and set(results.values()) == {"True"}, results
