"""Files: atomic writes, the run file and the self-contained Hessian file (``docs/file-format.md``).

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

#: Keys every Hessian file must hold (``docs/file-format.md``).
HESSIAN_FILE_KEYS = ("X", "y", "layer_sizes", "activation", "loss", "params")

#: Keys every run file must hold.
RUN_FILE_KEYS = ("X", "y", "layer_sizes", "activation", "loss", "params", "params_init")


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
    text = json.dumps(obj, indent=2, default=_json_default, allow_nan=True)
    save_text(path, text + "\n")


def save_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` atomically."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)


def load_json(path: str | os.PathLike):
    """Read a JSON file written by :func:`save_json`."""
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _json_default(o):
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
