r"""What every course exercise shares: its table row, the comparison of answers, the run, the registry.

An exercise asks a student to rewrite one function of the library. It is one row, :class:`Exercise`:
its id (``"ex02_3"``: notebook 2, exercise 3), the library's reference solution, a generator of test
inputs drawn from a seeded ``numpy.random.Generator``, a comparison with explicit tolerances
(:class:`Exact`, :class:`Close`, :class:`CloseFields`) and a hint. :meth:`Exercise.check` calls the
student's function and the reference on every input and compares the two answers:

- when they agree on every input it prints one line starting with ``✔`` and returns ``True``;
- otherwise it prints what differs on the first failing input — a wrong shape, non-finite entries, or
  the worst entries with their index, the student's value, the expected value and the difference
  (and says so when a constant factor, a sign or a transpose explains the whole difference) —
  followed by the hint, and returns ``False``. A function that still raises ``NotImplementedError``
  is reported as "not implemented yet"; any other exception is reported with the failing line.

Floating-point answers agree when, entry by entry,

.. math::

    |a - e| \le \text{rtol}\,|e| + \text{atol}\cdot s, \qquad s = \max |e| \text{ over the whole answer},

so ``atol`` is in units of the answer's largest magnitude and a tolerance does not depend on the
scale of the inputs. Each row states its ``rtol`` and ``atol`` and why.
"""

from __future__ import annotations

import copy
import re
import traceback
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .. import Objective

# --------------------------------------------------------------------------------------------
# Comparing an answer with the expected one
# --------------------------------------------------------------------------------------------


def _format_index(idx) -> str:
    return str(tuple(int(i) for i in idx)) if len(idx) != 1 else str(int(idx[0]))


def compare_arrays(actual, expected, rtol: float, atol: float, name: str = "your output") -> str | None:
    r"""``None`` when ``actual`` matches ``expected`` entrywise, else a message saying what differs.

    Entries agree when :math:`|a - e| \le \text{atol} + \text{rtol}\,|e|` (NumPy's ``isclose`` rule;
    ``atol`` is absolute here). The message names a shape mismatch, non-finite entries, or the number
    of entries outside the tolerance and the three worst ones (index, your value, expected value,
    difference), and says so when the whole difference is a constant factor, a sign or a transpose.
    """
    try:
        a = np.asarray(actual, dtype=np.float64)
    except (TypeError, ValueError):
        return f"{name} could not be read as an array of numbers (got a {type(actual).__name__})"
    e = np.asarray(expected, dtype=np.float64)
    if a.shape != e.shape:
        msg = f"{name} has shape {a.shape}, but the expected output has shape {e.shape}"
        if a.size == e.size:
            msg += " (same number of entries: a reshape or a missing axis?)"
        return msg
    if not np.all(np.isfinite(a)):
        bad = np.argwhere(~np.isfinite(a))
        where = f" e.g. at index {_format_index(bad[0])}" if a.ndim else ""
        return (
            f"{name} has {len(bad)} non-finite entries (NaN or inf){where}; the expected output is "
            "finite everywhere. Overflow in exp()? Subtract the maximum before exponentiating."
        )
    err = np.abs(a - e)
    bound = atol + rtol * np.abs(e)
    bad = err > bound
    if not np.any(bad):
        return None
    if a.ndim == 0:
        return (
            f"{name} is {float(a):.10g}, expected {float(e):.10g} (diff {float(err):.2e}; allowed "
            f"{float(bound):.1e})"
        )
    lines = [
        f"{int(bad.sum())} of {a.size} entries of {name} differ from the expected output "
        f"(allowed: |diff| ≤ {atol:.1e} + {rtol:.1e}·|expected|)."
    ]
    # a diagnosis that explains the whole difference at once
    scale = float(np.vdot(a, e) / np.vdot(e, e)) if np.vdot(e, e) > 0 else np.nan
    if np.isfinite(scale) and scale != 1.0 and np.all(np.abs(a - scale * e) <= bound):
        if abs(scale + 1.0) < 1e-9:
            lines.append("Your output is exactly minus the expected one: a sign error?")
        else:
            lines.append(
                f"Your output is the expected one times {scale:.6g} everywhere: a missing or extra factor?"
            )
    elif a.ndim == 2 and a.shape[0] == a.shape[1] and np.all(np.abs(a.T - e) <= bound):
        lines.append("Your output is the transpose of the expected one.")
    order = np.argsort((err / np.maximum(bound, 1e-300)).ravel())[::-1][:3]
    lines.append("worst entries:")
    for flat in order:
        idx = np.unravel_index(flat, a.shape)
        lines.append(
            f"  at index {_format_index(idx)}: yours {a[idx]:.10g}, expected {e[idx]:.10g} (diff {err[idx]:.2e})"
        )
    return "\n".join(lines)


def _largest_magnitude(values) -> float:
    """:math:`s = \\max |e|` over all entries of all arrays in ``values`` (0 when they are empty)."""
    sizes = [np.abs(np.asarray(v, dtype=np.float64)).max() for v in values if np.size(v)]
    return float(max(sizes)) if sizes else 0.0


@dataclass(frozen=True)
class Exact:
    """An integer (a count) that must equal the expected one exactly."""

    def __call__(self, actual, expected, name: str = "your output") -> str | None:
        try:
            value = int(actual)
        except (TypeError, ValueError):
            return f"{name} should be an integer; got {actual!r}"
        if value != float(actual):
            return f"{name} should be an integer; got {actual!r}"
        if value != int(expected):
            return f"{name} is {value}, but the expected count is {int(expected)}"
        return None


@dataclass(frozen=True)
class Close:
    r"""An array (or a number), or with ``names`` a tuple of arrays, close to the expected one.

    :math:`|a - e| \le \text{rtol}\,|e| + \text{atol}\cdot s` entrywise, :math:`s` the largest
    :math:`|e|` over the whole answer (every item of a tuple): see the module docstring.
    """

    rtol: float
    atol: float
    #: the names of a tuple's items, in order (empty: the answer is one array)
    names: tuple[str, ...] = ()

    def __call__(self, actual, expected) -> str | None:
        if not self.names:
            absolute = self.atol * _largest_magnitude([expected])
            return compare_arrays(actual, expected, self.rtol, absolute)
        if not isinstance(actual, tuple | list) or len(actual) != len(self.names):
            return (
                f"your function should return a tuple ({', '.join(self.names)}) of {len(self.names)} "
                f"items; got {type(actual).__name__}"
            )
        absolute = self.atol * _largest_magnitude(expected)
        for item, a, e in zip(self.names, actual, expected, strict=True):
            msg = compare_arrays(a, e, self.rtol, absolute, name=item)
            if msg:
                return msg
        return None


@dataclass(frozen=True)
class CloseFields:
    r"""A dict with the expected keys: integers and booleans equal, NaN where NaN is expected, and
    floats within :math:`\text{rtol}\,|e| + \text{atol}\cdot s` (:math:`s` the largest expected float)."""

    rtol: float
    atol: float

    def __call__(self, actual, expected: dict) -> str | None:
        if not isinstance(actual, dict):
            return f"your function should return a dict with keys {sorted(expected)}; got {type(actual).__name__}"
        missing = sorted(set(expected) - set(actual))
        extra = sorted(set(actual) - set(expected))
        if missing or extra:
            return f"the dict's keys differ: missing {missing}, unexpected {extra}"
        floats = [e for e in expected.values() if isinstance(e, float | np.floating) and np.isfinite(e)]
        absolute = self.atol * _largest_magnitude(floats)
        for key, e in expected.items():
            a = actual[key]
            if isinstance(e, bool | np.bool_):
                if bool(a) != bool(e):
                    return f"{key!r} is {a!r}, expected {e!r}"
            elif isinstance(e, int | np.integer):
                msg = Exact()(a, e, name=repr(key))
                if msg:
                    return msg
            elif np.isnan(e):
                if not (isinstance(a, float | np.floating) and np.isnan(a)):
                    return f"{key!r} is {a!r}, expected nan"
            else:
                msg = compare_arrays(a, e, self.rtol, absolute, name=repr(key))
                if msg:
                    return msg
        return None


# --------------------------------------------------------------------------------------------
# One exercise: a row of a notebook's table, and running it on a student's function
# --------------------------------------------------------------------------------------------


class Case(NamedTuple):
    """One test input: the positional arguments of the function, and how the message names them."""

    args: tuple
    description: str


def _fresh(arg):
    """A fresh copy of an input for every call (a student's function may modify its arguments)."""
    if isinstance(arg, Objective):
        return arg  # immutable
    return copy.deepcopy(arg)


def _call(fn: Callable, args: tuple) -> tuple[bool, Any]:
    """``(True, output)``; ``(False, None)`` for NotImplementedError; ``(False, message)`` for an error."""
    try:
        return True, fn(*(_fresh(a) for a in args))
    except NotImplementedError:
        return False, None
    except Exception as exc:  # noqa: BLE001 - any error of the student's code is reported, not raised
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" (line {tb[-1].lineno}: {tb[-1].line})" if tb and tb[-1].line else ""
        return False, f"raised {type(exc).__name__}: {exc}{where}"


@dataclass(frozen=True)
class Exercise:
    """One exercise: a row of its notebook's table.

    ``id`` is ``"exNN_M"`` (notebook NN, exercise M); ``title`` says what the student writes;
    ``solution`` is the library's reference (its ``__name__`` is the name of the function the student
    writes); ``cases(rng)`` draws the test inputs; ``compare(actual, expected)`` returns ``None`` or
    what differs; ``hint`` is printed after a wrong answer.
    """

    id: str
    title: str
    solution: Callable
    cases: Callable[[np.random.Generator], list[Case]]
    compare: Callable[[Any, Any], str | None]
    hint: str

    @property
    def name(self) -> str:
        """The name of the function the student writes (the reference solution's name)."""
        return self.solution.__name__

    def check(self, student_fn: Callable, seed: int = 0, verbose: bool = True) -> bool:
        """Run ``student_fn`` on the inputs drawn from ``seed``; ``True`` when it agrees with the
        reference on all of them. Prints the verdict unless ``verbose`` is false."""
        name = getattr(student_fn, "__name__", repr(student_fn))
        label = f"{self.id} {name}"

        def say(text: str) -> None:
            if verbose:
                print(text)

        if not callable(student_fn):
            say(f"✘ {label}: expected a function, got {type(student_fn).__name__}")
            return False
        cases = self.cases(np.random.default_rng(seed))
        for k, case in enumerate(cases, start=1):
            expected = self.solution(*(_fresh(a) for a in case.args))
            ok, out = _call(student_fn, case.args)
            if not ok and out is None:
                say(
                    f"✘ {label}: not implemented yet (it raises NotImplementedError). Write it in the cell "
                    "above, run that cell, then run this one again."
                )
                return False
            if not ok:
                say(f"✘ {label} {out}\n  on test input {k} of {len(cases)}: {case.description}")
                return False
            msg = self.compare(out, expected)
            if msg:
                body = "\n".join("  " + line for line in msg.splitlines())
                say(
                    f"✘ {label}: wrong on test input {k} of {len(cases)} ({case.description}):\n{body}\n"
                    f"  Hint: {self.hint}"
                )
                return False
        say(f"✔ {label}: correct on all {len(cases)} test inputs.")
        return True


# --------------------------------------------------------------------------------------------
# The registry
# --------------------------------------------------------------------------------------------

_EXERCISE_ID = re.compile(r"^ex(\d\d)_(\d+)$")


class Registry(Mapping[str, Exercise]):
    """Exercise id → :class:`Exercise`, in course order, from the notebooks' tables.

    Each table is the ``EXERCISES`` tuple of one notebook's module; the ids must have the form
    ``exNN_M``, be unique, and every id of a table must name the same notebook NN.
    """

    def __init__(self, *tables: Sequence[Exercise]):
        rows: dict[str, Exercise] = {}
        for table in tables:
            notebooks = set()
            for row in table:
                m = _EXERCISE_ID.match(row.id)
                if not m:
                    raise ValueError(f"exercise id must look like 'ex02_3'; got {row.id!r}")
                if row.id in rows:
                    raise ValueError(f"exercise id {row.id!r} appears twice")
                notebooks.add(m.group(1))
                rows[row.id] = row
            if len(notebooks) > 1:
                raise ValueError(
                    f"one table holds the exercises of one notebook; got notebooks {sorted(notebooks)}"
                )
        self._rows = rows

    def __getitem__(self, exercise_id: str) -> Exercise:
        return self._rows[exercise_id]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def lookup(self, exercise_id: str) -> Exercise:
        """The exercise ``exercise_id``; a ValueError naming the known ids when there is none."""
        if exercise_id not in self._rows:
            raise ValueError(f"exercise_id must be one of {', '.join(self._rows)}; got {exercise_id!r}")
        return self._rows[exercise_id]


__all__ = ["Case", "Close", "CloseFields", "Exact", "Exercise", "Registry", "compare_arrays"]
