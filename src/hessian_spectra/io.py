"""Files: atomic writes, the run file and the self-contained Hessian file (``docs/file-format.md``).

- :func:`save_run` / :func:`load_run`: the run file that ``hessian-spectra train`` writes (data,
  network, loss, initial and final parameters, history, configuration) and every later command reads;
- :func:`hessian_file_contract`: the keys that make a Hessian file stand on its own;
- :func:`save_npz`, :func:`save_json`, :func:`save_text`, :func:`load_npz`, :func:`load_json`.

Every output is written to a temporary file in the destination folder and renamed into place
(``os.replace`` is atomic on POSIX), so an interrupted write never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator

import numpy as np

#: Keys every Hessian file (and every run file) must hold (``docs/file-format.md``).
HESSIAN_FILE_KEYS = ("X", "y", "layer_sizes", "activation", "loss", "params")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[str]:
    """Yield a temporary path beside ``path``; on success rename it to ``path``, else delete it."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix="." + os.path.basename(path) + ".", suffix=suffix + ".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600 files; give the result ordinary permissions
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise


def save_npz(path: str | os.PathLike, **arrays) -> None:
    """``numpy.savez`` (uncompressed) written atomically. ``path`` should end in ``.npz``."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **arrays)


def save_json(path: str | os.PathLike, obj) -> None:
    """Write ``obj`` as indented JSON, atomically (NumPy scalars and arrays are converted)."""
    text = json.dumps(obj, indent=2, default=jsonable, allow_nan=True)
    save_text(path, text + "\n")


def save_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)


def load_json(path: str | os.PathLike):
    """Read a JSON file written by :func:`save_json`."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def jsonable(o):
    """``o`` as a JSON value when it is a NumPy scalar or array (the ``default`` of :func:`json.dumps`)."""
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, np.bool_):
        return bool(o)
    raise TypeError(f"cannot write {type(o).__name__} as JSON")


def load_npz(path: str | os.PathLike, required: tuple[str, ...] = ()) -> dict:
    """Load an npz file into a plain dict (0-d string arrays become ``str``).

    Missing ``required`` keys raise a ``ValueError`` naming them and the file.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file: {path}")
    try:
        with np.load(path, allow_pickle=False) as data:
            out = {k: data[k] for k in data.files}
    except (ValueError, OSError) as exc:
        raise ValueError(f"{path}: not a readable npz file ({exc})") from None
    for k, v in out.items():
        if v.ndim == 0 and v.dtype.kind == "U":
            out[k] = str(v)
    missing = [k for k in required if k not in out]
    if missing:
        raise ValueError(f"{path}: missing key(s) {', '.join(missing)}")
    return out


# --------------------------------------------------------------------------------------------
# The run file and the Hessian file
# --------------------------------------------------------------------------------------------


def save_run(path, dataset, objective, init: str, params_init, result, config: dict) -> None:
    """Write a run file: data (and the test split), network, loss, initial and final parameters,
    the training history (``history_<name>``) and the configuration (JSON text)."""
    save_npz(
        path,
        X=objective.X,
        y=objective.y,
        X_test=dataset.X_test,
        y_test=dataset.y_test,
        layer_sizes=np.asarray(objective.layer_sizes, dtype=np.int64),
        activation=np.array(objective.activation),
        loss=np.array(objective.loss),
        init=np.array(init),
        params=result.params,
        params_init=np.asarray(params_init),
        **{f"history_{k}": v for k, v in result.history.items()},
        config=np.array(json.dumps(config, default=str)),
    )


def load_run(path):
    """Read a run (or Hessian) file back: ``(objective, params, raw)``, with ``raw`` the file's dict.

    The objective is rebuilt, and so validated, from the file's ``X``, ``y``, ``layer_sizes``,
    ``activation`` and ``loss``.
    """
    from .objective import Objective

    raw = load_npz(path, required=HESSIAN_FILE_KEYS)
    objective = Objective(
        raw["X"],
        raw["y"],
        tuple(int(s) for s in raw["layer_sizes"]),
        str(raw["activation"]),
        str(raw["loss"]),
    )
    return objective, objective.check_params(raw["params"]), raw


def hessian_file_contract(objective, params) -> dict:
    """The keys that make a Hessian file self-contained (``docs/file-format.md``): the data, the
    network, the loss and the parameters the matrices were computed at."""
    return {
        "X": objective.X,
        "y": objective.y,
        "layer_sizes": np.asarray(objective.layer_sizes, dtype=np.int64),
        "activation": np.array(objective.activation),
        "loss": np.array(objective.loss),
        "params": params,
    }
