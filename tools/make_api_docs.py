"""Generate docs/api.md from the docstrings of the public modules.

Run ``python tools/make_api_docs.py`` after changing a public function; ``tests/test_docs.py``
fails when docs/api.md differs from what this script writes, so the reference cannot drift.
"""

from __future__ import annotations

import importlib
import inspect
import pathlib
import sys

MODULES = [
    "hessian_spectra.data",
    "hessian_spectra.mlp",
    "hessian_spectra.losses",
    "hessian_spectra.objective",
    "hessian_spectra.training",
    "hessian_spectra.curvature",
    "hessian_spectra.curvature.reference",
    "hessian_spectra.curvature.decomposition",
    "hessian_spectra.curvature.papyan",
    "hessian_spectra.curvature.fast",
    "hessian_spectra.curvature.fast_products",
    "hessian_spectra.curvature.matrix_free",
    "hessian_spectra.curvature.lanczos",
    "hessian_spectra.spectrum",
    "hessian_spectra.rmt",
    "hessian_spectra.landscape",
    "hessian_spectra.stability",
    "hessian_spectra.plots",
    "hessian_spectra.io",
    "hessian_spectra.teaching",
    "hessian_spectra.teaching.checking",
    "hessian_spectra.teaching.bulk_and_outliers",
    "hessian_spectra.teaching.gauss_newton_decomposition",
    "hessian_spectra.teaching.why_outliers_track_classes",
    "hessian_spectra.teaching.data_vs_parameters",
    "hessian_spectra.teaching.random_matrix_theory",
    "hessian_spectra.teaching.small_vs_large_batch",
    "hessian_spectra.teaching.matrix_free",
    "hessian_spectra.teaching.edge_of_stability",
]

HEADER = """# API reference

Generated from the docstrings by `tools/make_api_docs.py` (a test checks that this page is up to
date). Every public function of the package is listed with its signature and its docstring, which
states the equation it implements. Equations use LaTeX notation.
"""


def public_members(module):
    """Functions and classes defined in ``module`` whose names do not start with an underscore."""
    names = getattr(module, "__all__", None) or [n for n in vars(module) if not n.startswith("_")]
    out = []
    for name in sorted(names):
        obj = getattr(module, name)
        if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__:
            out.append((name, obj))
    return out


def _signature(obj) -> str:
    try:
        return str(inspect.signature(obj))
    except (TypeError, ValueError):
        return "(...)"


def render() -> str:
    parts = [HEADER]
    for modname in MODULES:
        try:
            module = importlib.import_module(modname)
        except ImportError:
            continue
        parts.append(f"\n## `{modname}`\n")
        doc = inspect.getdoc(module) or ""
        parts.append(doc.split("\n\n")[0] + "\n")
        for name, obj in public_members(module):
            kind = "class " if inspect.isclass(obj) else ""
            parts.append(f"\n### {kind}`{name}{_signature(obj)}`\n")
            parts.append("\n```text\n" + (inspect.getdoc(obj) or "(no docstring)") + "\n```\n")
            if inspect.isclass(obj):
                for mname, meth in sorted(vars(obj).items()):
                    if mname.startswith("_") or not (inspect.isfunction(meth) or isinstance(meth, property)):
                        continue
                    fn = meth.fget if isinstance(meth, property) else meth
                    sig = "" if isinstance(meth, property) else _signature(fn)
                    parts.append(f"\n#### `{name}.{mname}{sig}`\n")
                    parts.append("\n```text\n" + (inspect.getdoc(fn) or "(no docstring)") + "\n```\n")
    return "".join(parts)


def main() -> int:
    target = pathlib.Path(__file__).resolve().parents[1] / "docs" / "api.md"
    text = render()
    if "--check" in sys.argv:
        return 0 if target.exists() and target.read_text(encoding="utf-8") == text else 1
    target.write_text(text, encoding="utf-8")
    print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
