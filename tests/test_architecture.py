"""The shape of the package: its import graph has no cycle and no module reaches into another's
private names. Read from the source with ``ast`` (every import counts, also those inside
functions, which is where a hidden cycle would sit)."""

from __future__ import annotations

import ast
import pathlib
import sys

import pytest

SRC = pathlib.Path(__file__).resolve().parents[1] / "src"
PACKAGE = "hessian_spectra"


def _modules() -> dict[str, pathlib.Path]:
    """Dotted module name -> file, for every module of the package (``pkg.sub`` for ``pkg/sub/__init__.py``)."""
    out = {}
    for path in sorted((SRC / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _is_package(name: str, modules: dict[str, pathlib.Path]) -> bool:
    return modules[name].name == "__init__.py"


def _imports(name: str, modules: dict[str, pathlib.Path]):
    """Yield ``(target module, imported names, line)`` for every import of a package module in ``name``.

    ``from M import n`` counts as an import of ``M.n`` when that is a module, else of ``M``; relative
    imports are resolved against ``name``'s package.
    """
    tree = ast.parse(modules[name].read_text(encoding="utf-8"))
    package = name if _is_package(name, modules) else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in modules:
                    yield alias.name, [], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target not in modules:
                continue
            plain = []
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in modules:
                    yield sub, [], node.lineno
                else:
                    plain.append(alias.name)
            if plain:
                yield target, plain, node.lineno


def test_the_import_graph_of_the_package_has_no_cycle():
    """Depth-first search over the module graph (every import, module- or function-level) finds no
    back edge; a cycle is reported as the chain of modules that closes it."""
    modules = _modules()
    graph = {m: sorted({t for t, _, _ in _imports(m, modules) if t != m}) for m in modules}
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    stack: list[str] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for t in graph[m]:
            if state.get(t) == 1:
                cycle = stack[stack.index(t) :] + [t]
                pytest.fail("import cycle: " + " -> ".join(cycle))
            if t not in state:
                visit(t)
        stack.pop()
        state[m] = 2

    for m in modules:
        if m not in state:
            visit(m)


def test_no_module_imports_another_modules_private_names():
    """No ``from M import _name`` and no ``M._name`` for another module M of the package (dunder
    names aside): what modules share is public and documented."""
    modules = _modules()
    offences = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        aliases = {}  # local name -> package module it is bound to
        for target, names, line in _imports(name, modules):
            offences += [
                f"{name}:{line} imports {target}.{n}"
                for n in names
                if n.startswith("_") and not n.startswith("__")
            ]
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom | ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    for target, _, _ in _imports(name, modules):
                        if target.endswith("." + alias.name) or target == alias.name:
                            aliases[local] = target
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in aliases
                and aliases[node.value.id] != name
                and node.attr.startswith("_")
                and not node.attr.startswith("__")
            ):
                offences.append(f"{name}:{node.lineno} uses {aliases[node.value.id]}.{node.attr}")
    assert not offences, "\n".join(offences)


def test_the_checker_finds_a_planted_cycle(tmp_path, monkeypatch):
    """The cycle test is not vacuous: two modules importing each other (one inside a function) are
    reported."""
    pkg = tmp_path / PACKAGE
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from . import b\n")
    (pkg / "b.py").write_text("def f():\n    from .a import g\n")
    monkeypatch.setattr(sys.modules[__name__], "SRC", tmp_path)
    with pytest.raises(pytest.fail.Exception, match="import cycle"):
        test_the_import_graph_of_the_package_has_no_cycle()
