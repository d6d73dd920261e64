"""The documentation cannot drift: the API page matches the docstrings, every public function has
a docstring, and every Python example in README.md and docs/*.md runs."""

import importlib
import inspect
import pathlib
import re
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import make_api_docs  # noqa: E402

DOC_FILES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _python_blocks(path):
    text = path.read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def test_api_page_is_generated_from_the_current_docstrings():
    """docs/api.md equals what tools/make_api_docs.py renders now (regenerate it if this fails)."""
    assert (ROOT / "docs" / "api.md").read_text(encoding="utf-8") == make_api_docs.render()


@pytest.mark.parametrize("modname", make_api_docs.MODULES)
def test_every_public_function_has_a_docstring(modname):
    """Each public function and class of the package documents itself."""
    try:
        module = importlib.import_module(modname)
    except ImportError:
        pytest.skip(f"{modname} not present")
    missing = [name for name, obj in make_api_docs.public_members(module) if not inspect.getdoc(obj)]
    assert not missing, f"{modname}: no docstring for {missing}"


@pytest.mark.parametrize(
    "path, index, code",
    [(p, i, c) for p in DOC_FILES for i, c in enumerate(_python_blocks(p))],
    ids=lambda v: v.name if isinstance(v, pathlib.Path) else (str(v) if isinstance(v, int) else ""),
)
def test_documentation_examples_run(path, index, code, tmp_path, monkeypatch):
    """Every ```python block in the README and docs executes without error (in a scratch folder)."""
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{path.name}[{index}]", "exec"), {"__name__": "__doc_example__"})


def test_reproduction_numbers_are_generated_from_the_runs():
    """Every generated block of docs/reproduce.md (verdict tables, times, each experiment's checks and
    values) equals what tools/make_reproduce_docs.py builds from docs/results/*.json, the summaries
    of the runs (regenerate with `python tools/make_reproduce_docs.py` if this fails)."""
    import make_reproduce_docs

    text = (ROOT / "docs" / "reproduce.md").read_text(encoding="utf-8")
    assert make_reproduce_docs.render(text, make_reproduce_docs.load_summaries()) == text


def test_reproduction_generator_rebuilds_a_tampered_block(tmp_path):
    """The drift test can fail: a hand-edited number inside a generated block is replaced by the
    summary's own on rendering (checked on a fabricated summary)."""
    import make_reproduce_docs

    summary = {
        "mode": "quick",
        "seeds": [0, 1, 2],
        "seconds": 60.0,
        "records": [
            {
                "id": "E9",
                "source": "S18 Fig. 5",
                "data": "MNIST",
                "claim": "c",
                "paper_number": "p",
                "verdict": "partly",
                "checks": {"a": {"holds": True, "seeds_holding": 3, "n_seeds": 3, "per_seed": [1, 1, 1]}},
                "values": {"x": {"median": 0.5, "min": 0.25, "max": 0.75, "per_seed": [0.25, 0.5, 0.75]}},
                "seconds": 1.0,
            }
        ],
    }
    fresh = make_reproduce_docs.render(
        "<!-- begin generated: numbers E9 -->\n<!-- end generated: numbers E9 -->", {"quick": summary}
    )
    assert "0.5 [0.25, 0.75]" in fresh and "✓ 3/3 seeds" in fresh
    tampered = fresh.replace("0.5 [0.25, 0.75]", "0.6 [0.25, 0.75]")
    assert make_reproduce_docs.render(tampered, {"quick": summary}) == fresh


def test_benchmark_tables_are_generated_from_the_runs():
    """Every generated block of docs/matrix-free.md (the route crossovers, the matrix-free benchmark
    against the peers and its targets) equals what tools/make_bench_docs.py builds from the
    benchmarks' JSON in docs/results/ (regenerate with `python tools/make_bench_docs.py`)."""
    import make_bench_docs

    text = (ROOT / "docs" / "matrix-free.md").read_text(encoding="utf-8")
    assert "<!-- begin generated: routes -->" in text and "<!-- begin generated: targets -->" in text
    assert make_bench_docs.render(text, make_bench_docs.load()) == text


def test_route_constants_are_the_measured_crossovers():
    """hessian_spectra.cli.DENSE_ROUTE_MAX_P holds the crossovers that benchmarks/bench_routes.py
    measured in the run recorded in docs/results/bench_routes.json (top-k and density); --bottom-k
    keeps the dense route whenever H fits (None), a choice made on accuracy, not on time."""
    import json

    from hessian_spectra import cli

    measured = json.loads((ROOT / "docs" / "results" / "bench_routes.json").read_text(encoding="utf-8"))
    for key in ("top", "density"):
        assert cli.DENSE_ROUTE_MAX_P[key] == measured["crossovers"][key]["crossover"], key
    assert cli.DENSE_ROUTE_MAX_P["bottom"] is None


def test_benchmark_generator_rebuilds_a_tampered_block():
    """The benchmark drift test can fail: a hand-edited crossover inside the routes block is replaced
    by the run's own on rendering (checked on a fabricated benchmark result)."""
    import make_bench_docs

    machine = {
        "date": "2026-01-01T00:00:00Z",
        "cpus": 2,
        "load_average_1min": 0.1,
        "python": "3.11",
        "numpy": "2",
        "scipy": "1",
        "hessian_spectra": "0",
    }
    row = {
        "P": 1600,
        "dense_s": 1.0,
        "dense_assemble_s": 0.5,
        "dense_eigh_s": 0.5,
        "top_s": 0.5,
        "top_products": 30,
        "top_max_err_over_norm": 1e-12,
        "bottom_s": 0.5,
        "bottom_products": 40,
        "bottom_converged": 20,
        "bottom_max_err_over_norm": 1e-12,
        "density_s": 3.0,
    }
    result = {
        "settings": {
            "k": 20,
            "tol": 1e-5,
            "threads": 1,
            "data": "mnist",
            "samples": 1000,
            "steps": 500,
            "lr": 0.1,
        },
        "machine_before": machine,
        "machine_after": machine,
        "rows": [row],
        "crossovers": {
            "top": {"dense_preferred": [], "inaccurate": [], "crossover": 0},
            "bottom": {"dense_preferred": [], "inaccurate": [], "crossover": 0},
            "density": {"dense_preferred": [1600], "inaccurate": [], "crossover": 1600},
        },
    }
    results = {"bench_routes.json": result}
    fresh = make_bench_docs.render(
        "<!-- begin generated: routes -->\n<!-- end generated: routes -->", results
    )
    assert "crossover **1,600**" in fresh and "| 1,600 | 1.0 (0.5 + 0.5) |" in fresh
    tampered = fresh.replace("crossover **1,600**", "crossover **3,000**")
    assert make_bench_docs.render(tampered, results) == fresh
