"""Pin every dependency to the minimum version that setup.cfg declares, as a pip constraints file.

The second CI job (``.ci/run``) installs the project with ``pip install -c <this file's output>``, so
the versions it tests are the declared floors themselves: raising or lowering a floor in setup.cfg
changes what CI installs, and the two cannot drift apart.

    python tools/floor_constraints.py --output floors.txt          # write the constraints
    python tools/floor_constraints.py --check-installed            # installed versions == floors?

Each requirement of ``install_requires`` and of the chosen extras (``--extra``, default: all) must
state its floor as ``>=V`` (or ``~=V``, or an exact ``==V`` pin); the output line is ``name==V``
with the name normalized as pip compares names (PEP 503) and the environment marker kept. A
requirement without a floor, or one package with two different floors in two sections, is an error:
a floor CI cannot pin is a floor nobody tested.
"""

from __future__ import annotations

import argparse
import configparser
import pathlib
import re
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

_NAME = re.compile(r"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*(\[[^\]]*\])?\s*(.*)$", re.S)
_CLAUSE = re.compile(r"\s*(===|==|!=|<=|>=|~=|<|>)\s*([^\s,;]+)\s*$")
_FLOOR_OPERATORS = (">=", "~=", "==")


def normalize_name(name: str) -> str:
    """The PEP 503 form of a distribution name: lower case, runs of ``-``, ``_``, ``.`` as one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_floor(requirement: str) -> tuple[str, str, str]:
    """``(normalized name, floor version, marker)`` of one PEP 508 requirement string.

    The floor is the version of the requirement's single ``>=``, ``~=`` or ``==`` clause; other
    clauses (``<``, ``<=``, ``!=``) may bound it from above. ``marker`` is the text after ``;``
    (empty when there is none). Raises ``ValueError`` naming the requirement when it has no floor,
    more than one, an exclusive ``>`` bound, a wildcard pin or a URL.
    """
    text, _, marker = requirement.partition(";")
    match = _NAME.match(text)
    if match is None:
        raise ValueError(f"requirement {requirement!r}: expected 'name>=version'")
    name, _extras, rest = match.groups()
    rest = rest.strip()
    if rest.startswith("@"):
        raise ValueError(f"requirement {requirement!r}: a URL requirement has no version floor to pin")
    if rest.startswith("(") and rest.endswith(")"):
        rest = rest[1:-1]
    floors = []
    for clause in filter(None, (c.strip() for c in rest.split(","))):
        parsed = _CLAUSE.match(clause)
        if parsed is None:
            raise ValueError(f"requirement {requirement!r}: cannot read the version clause {clause!r}")
        operator, version = parsed.groups()
        if operator in (">", "==="):
            raise ValueError(
                f"requirement {requirement!r}: {operator!r} gives no floor to install; state it as '>=version'"
            )
        if operator in _FLOOR_OPERATORS:
            if "*" in version:
                raise ValueError(f"requirement {requirement!r}: a wildcard pin has no single floor")
            floors.append(version)
    if len(floors) != 1:
        what = "no floor" if not floors else f"{len(floors)} floors"
        raise ValueError(f"requirement {requirement!r} has {what}; expected exactly one '>=version'")
    return normalize_name(name), floors[0], marker.strip()


def _requirement_lines(value: str) -> list[str]:
    if value.strip().startswith("file:"):
        raise ValueError(f"requirements read from a file ({value.strip()!r}) are not supported")
    lines = (line.split(" #", 1)[0].strip() for line in value.splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def declared_requirements(setup_cfg: pathlib.Path, extras: list[str] | None = None) -> dict[str, list[str]]:
    """The requirement strings of ``install_requires`` and of each chosen extra, by section.

    ``extras=None`` takes every extra of ``[options.extras_require]``; an extra that setup.cfg does
    not define raises ``ValueError`` naming ``--extra``.
    """
    config = configparser.ConfigParser(interpolation=None)
    if not config.read(setup_cfg, encoding="utf-8"):
        raise ValueError(f"--setup-cfg: cannot read {setup_cfg}")
    sections = {
        "install_requires": _requirement_lines(config.get("options", "install_requires", fallback=""))
    }
    defined = (
        dict(config.items("options.extras_require")) if config.has_section("options.extras_require") else {}
    )
    chosen = sorted(defined) if extras is None else extras
    for extra in chosen:
        if extra not in defined:
            raise ValueError(f"--extra: setup.cfg defines no extra {extra!r}; it defines {sorted(defined)}")
        sections[f"extra {extra!r}"] = _requirement_lines(defined[extra])
    return sections


def floor_constraints(setup_cfg: pathlib.Path, extras: list[str] | None = None) -> list[str]:
    """Constraint lines ``name==floor`` (``; marker`` kept), one per package, sorted by name.

    A package listed in several sections must have the same floor in each; otherwise
    ``ValueError`` names the package and both sections.
    """
    seen: dict[tuple[str, str], tuple[str, str]] = {}
    for section, requirements in declared_requirements(setup_cfg, extras).items():
        for requirement in requirements:
            name, floor, marker = parse_floor(requirement)
            previous = seen.setdefault((name, marker), (floor, section))
            if previous[0] != floor:
                raise ValueError(
                    f"{name}: floor {previous[0]} in {previous[1]} but {floor} in {section}; "
                    "one package has one floor"
                )
    lines = []
    for (name, marker), (floor, _section) in sorted(seen.items()):
        lines.append(f"{name}=={floor}" + (f"; {marker}" if marker else ""))
    return lines


def mismatched_installs(constraints: list[str]) -> list[str]:
    """The constraints that the running environment does not satisfy exactly, each with the reason.

    A package is satisfied when it is installed at the pinned version (compared as PEP 440
    versions, so ``2.1`` equals ``2.1.0``). Packages whose marker excludes this environment are
    skipped.
    """
    from importlib import metadata

    from packaging.markers import Marker
    from packaging.version import Version

    problems = []
    for line in constraints:
        pin, _, marker = line.partition(";")
        if marker.strip() and not Marker(marker.strip()).evaluate():
            continue
        name, floor = pin.split("==")
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name}: not installed (floor {floor})")
            continue
        if Version(installed) != Version(floor):
            problems.append(f"{name}: {installed} installed, floor {floor}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--setup-cfg", type=pathlib.Path, default=ROOT / "setup.cfg", help="setup.cfg to read"
    )
    parser.add_argument(
        "--extra",
        action="append",
        dest="extras",
        metavar="NAME",
        help="an extra whose floors to include (repeatable; default: every extra)",
    )
    parser.add_argument("--output", type=pathlib.Path, help="write the constraints here (default: stdout)")
    parser.add_argument(
        "--check-installed",
        action="store_true",
        help="instead of writing, exit 1 unless every declared package is installed at its floor",
    )
    args = parser.parse_args(argv)
    try:
        constraints = floor_constraints(args.setup_cfg, args.extras)
    except ValueError as error:
        parser.error(str(error))
    if args.check_installed:
        problems = mismatched_installs(constraints)
        for problem in problems:
            print(problem, file=sys.stderr)
        print(
            f"{len(constraints) - len(problems)} of {len(constraints)} packages at their floor: "
            + ", ".join(constraints)
        )
        return 1 if problems else 0
    text = "".join(line + "\n" for line in constraints)
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
