"""The package as installed holds what setup.cfg declares: one version, the MIT licence, a
threadpoolctl that can limit NumPy's BLAS, and floors that CI installs exactly (tools/floor_constraints.py
reads every requirement, pins it at its floor, and refuses a requirement whose floor it cannot pin)."""

import configparser
import json
import pathlib
import re
import subprocess
import sys
import textwrap

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import floor_constraints  # noqa: E402


def test_version_has_one_source(capsys):
    """``hessian-spectra --version``, the installed distribution's metadata (what ``pip show``
    prints) and ``hessian_spectra.__version__`` agree: setup.cfg reads the version from the package
    (after changing it, reinstall to refresh the metadata)."""
    from importlib import metadata

    import hessian_spectra
    from hessian_spectra import cli

    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    printed = capsys.readouterr().out.split()
    assert printed == ["hessian-spectra", hessian_spectra.__version__]
    assert metadata.version("hessian-spectra") == hessian_spectra.__version__


def test_distribution_ships_the_mit_licence():
    """The metadata declares MIT and lists the LICENSE file, whose text is the MIT licence with the
    project's copyright line."""
    from importlib import metadata

    meta = metadata.metadata("hessian-spectra")
    assert meta["License"] == "MIT"
    assert "LICENSE" in (meta.get_all("License-File") or [])
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n\nCopyright (c) 2026 the hessian-spectra developers\n")
    assert 'THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND' in text


_BLAS_UNDER_A_LIMIT = """
import json
import numpy
from threadpoolctl import threadpool_info, threadpool_limits

blas = numpy.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"]
with threadpool_limits(limits=1, user_api="blas"):
    inside = [d["num_threads"] for d in threadpool_info() if d["user_api"] == "blas"]
print(json.dumps({"numpy_blas": blas, "threads_inside_the_limit": inside}))
"""


def test_threadpoolctl_limits_the_blas_numpy_loads():
    """In a process that imported NumPy alone, ``threadpool_limits(1, "blas")`` (the call behind the
    library's single-thread guard for training) finds NumPy's own OpenBLAS and sets it to one thread.
    threadpoolctl before 3.5 does not recognise the ``scipy_openblas`` library of NumPy 2's wheels,
    so the guard silently did nothing: this fails at a floor below 3.5."""
    done = subprocess.run([sys.executable, "-c", _BLAS_UNDER_A_LIMIT], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout)
    if "openblas" not in seen["numpy_blas"].lower():
        pytest.skip(f"NumPy is built with {seen['numpy_blas']}, not OpenBLAS")
    assert seen["threads_inside_the_limit"], "threadpoolctl sees no BLAS library in a NumPy-only process"
    assert all(n == 1 for n in seen["threads_inside_the_limit"]), seen


SETUP_CFG = """\
[metadata]
name = example

[options]
install_requires =
    NumPy>=2.1.0
    scipy >= 1.13.0, <2
    # a comment line
    threadpoolctl>=3.5.0  # an inline comment
    tomli>=1.1.0; python_version < "3.11"

[options.extras_require]
data =
    scikit_learn>=1.4.2
test =
    pytest>=7.0.0
    Scikit.Learn>=1.4.2
    ruff~=0.17.0
bench =
    torch[cpu]==2.13.0
"""


def _write(tmp_path, text):
    path = tmp_path / "setup.cfg"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_constraints_of_a_known_setup_cfg(tmp_path):
    """Each package pinned at its floor, once, under its PEP 503 name, markers kept, extras of a
    requirement dropped (pip refuses them in a constraints file), sorted: the exact expected text."""
    path = _write(tmp_path, SETUP_CFG)
    assert floor_constraints.floor_constraints(path) == [
        "numpy==2.1.0",
        "pytest==7.0.0",
        "ruff==0.17.0",
        "scikit-learn==1.4.2",
        "scipy==1.13.0",
        "threadpoolctl==3.5.0",
        'tomli==1.1.0; python_version < "3.11"',
        "torch==2.13.0",
    ]
    assert floor_constraints.floor_constraints(path, ["data"]) == [
        "numpy==2.1.0",
        "scikit-learn==1.4.2",
        "scipy==1.13.0",
        "threadpoolctl==3.5.0",
        'tomli==1.1.0; python_version < "3.11"',
    ]


def test_command_line_writes_the_file(tmp_path):
    """``--output`` writes one constraint a line, the same lines as the function returns."""
    path = _write(tmp_path, SETUP_CFG)
    out = tmp_path / "floors.txt"
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "floor_constraints.py"), "--setup-cfg", str(path)]
        + ["--extra", "test", "--output", str(out)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert out.read_text(encoding="utf-8").splitlines() == [
        "numpy==2.1.0",
        "pytest==7.0.0",
        "ruff==0.17.0",
        "scikit-learn==1.4.2",
        "scipy==1.13.0",
        "threadpoolctl==3.5.0",
        'tomli==1.1.0; python_version < "3.11"',
    ]


@pytest.mark.parametrize(
    "requirement, message",
    [
        ("tqdm", "has no floor"),
        ("tqdm<5", "has no floor"),
        ("tqdm>4.60", "'>' gives no floor"),
        ("tqdm>=4.60,>=4.62", "has 2 floors"),
        ("tqdm==4.*", "wildcard"),
        ("tqdm @ https://example.org/tqdm.whl", "URL requirement"),
    ],
)
def test_a_requirement_without_one_floor_is_refused(tmp_path, requirement, message):
    """A requirement CI cannot pin at one version raises ValueError naming the requirement."""
    path = _write(tmp_path, f"[options]\ninstall_requires =\n    numpy>=2.1.0\n    {requirement}\n")
    with pytest.raises(ValueError, match=message) as info:
        floor_constraints.floor_constraints(path)
    assert repr(requirement) in str(info.value)


def test_two_floors_for_one_package_are_refused(tmp_path):
    """The same package (names compared as pip compares them) with different floors in two sections
    is an error naming the package and both floors."""
    path = _write(
        tmp_path,
        "[options]\ninstall_requires =\n    numpy>=2.1.0\n"
        "[options.extras_require]\ndata =\n    scikit-learn>=1.4.2\ntest =\n    scikit_learn>=1.2\n",
    )
    with pytest.raises(
        ValueError, match=r"scikit-learn: floor 1\.4\.2 in extra 'data' but 1\.2 in extra 'test'"
    ):
        floor_constraints.floor_constraints(path)


def test_an_unknown_extra_names_the_flag(tmp_path):
    """``--extra`` with a name setup.cfg does not define: a message naming the flag, exit status 2."""
    path = _write(tmp_path, SETUP_CFG)
    with pytest.raises(ValueError, match="--extra: setup.cfg defines no extra 'docs'"):
        floor_constraints.floor_constraints(path, ["docs"])
    done = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "floor_constraints.py"), "--setup-cfg", str(path)]
        + ["--extra", "docs"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 2 and "--extra" in done.stderr


def test_project_floors_agree_with_an_independent_parser():
    """For the project's own setup.cfg, every requirement read by ``packaging`` (pip's parser) has a
    ``>=`` floor that its own specifier admits, and the tool pins exactly that version."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    values = [config.get("options", "install_requires")] + [
        value for _, value in config.items("options.extras_require")
    ]
    expected = {}
    for value in values:
        for line in filter(None, (raw.strip() for raw in value.splitlines())):
            requirement = Requirement(line)
            floors = [s.version for s in requirement.specifier if s.operator in (">=", "==")]
            assert len(floors) == 1, line
            assert requirement.specifier.contains(floors[0], prereleases=True), line
            expected[canonicalize_name(requirement.name)] = floors[0]
    pinned = dict(line.split("==") for line in floor_constraints.floor_constraints(ROOT / "setup.cfg"))
    assert pinned == expected
    assert {"numpy", "scipy", "threadpoolctl", "autograd"} <= set(pinned)


def test_check_installed_compares_versions_not_strings(monkeypatch):
    """``--check-installed`` accepts ``2.1`` for a floor of ``2.1.0`` and reports a package installed
    above its floor or missing; a marker that excludes this interpreter skips the package."""
    installed = {"numpy": "2.1", "scipy": "1.14.0"}

    def version(name):
        if name not in installed:
            raise floor_constraints_metadata.PackageNotFoundError(name)
        return installed[name]

    from importlib import metadata as floor_constraints_metadata

    monkeypatch.setattr(floor_constraints_metadata, "version", version)
    problems = floor_constraints.mismatched_installs(
        [
            "numpy==2.1.0",
            "scipy==1.13.0",
            "tqdm==4.60.0",
            'tomli==1.1.0; python_version < "3.0"',
        ]
    )
    assert problems == ["scipy: 1.14.0 installed, floor 1.13.0", "tqdm: not installed (floor 4.60.0)"]


def _declared_sections():
    """``{README row label: [packaging.Requirement]}`` read from setup.cfg with ``packaging``."""
    config = configparser.ConfigParser(interpolation=None)
    config.read(ROOT / "setup.cfg", encoding="utf-8")
    values = {"(none)": config.get("options", "install_requires")}
    values.update({f"`{extra}`": value for extra, value in config.items("options.extras_require")})
    return {
        label: [Requirement(line) for line in filter(None, (raw.strip() for raw in value.splitlines()))]
        for label, value in values.items()
    }


def test_readme_extras_table_states_the_declared_floors():
    """Each row of the README's extras table names every package of its section of setup.cfg, and
    every 'name ≥ version' it states is that package's declared floor (versions compared as PEP 440
    versions, so '2.1' stands for '2.1.0')."""
    from packaging.version import Version

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    text = text[text.index("## Installation extras") :]
    text = text[: text.index("\n## ", 1)]  # the extras section only
    rows = dict(re.findall(r"^\| (\(none\)|`\w+`) \| (.*) \|$", text, flags=re.M))
    sections = _declared_sections()
    assert set(rows) == set(sections)
    for label, requirements in sections.items():
        row = rows[label].lower()
        stated = {
            canonicalize_name(name): version for name, version in re.findall(r"([\w.-]+) ≥ ([\w.]+)", row)
        }
        for requirement in requirements:
            name = canonicalize_name(requirement.name)
            assert name in row, f"README row {label} does not name {name}"
            floors = [s.version for s in requirement.specifier if s.operator in (">=", "==")]
            if name in stated:
                assert Version(stated.pop(name)) == Version(floors[0]), f"{label}: {name}"
        assert not stated, f"README row {label} states floors for undeclared packages: {stated}"
