"""Files: outputs that never destroy anything, inputs read defensively, the run and Hessian files.

Writing (:func:`check_output_path`, :func:`check_distinct_paths`, :func:`atomic_path` and the
``save_*`` functions built on it; ``docs/bad-input.md`` gives the reasons):

- an output path is refused (:class:`UnsafeOutputError`) when it is a symbolic link, a folder, a
  special file (FIFO, device, socket), a read-only file, or lies in a folder that does not exist,
  is a file, or cannot be written; and when it is one of the command's inputs or another of its
  outputs. Callers check every output before the work starts;
- the data go to a temporary file ``.NAME.HOST-PID.TOKEN.tmp`` in the destination folder, which
  is flushed to disk (``fsync``) and renamed over ``NAME`` (``os.replace``, atomic on POSIX);
  then the folder is fsynced so that the rename itself survives a crash. An interrupted write
  leaves ``NAME`` as it was;
- a temporary left by a writer that was killed (its process is gone; SIGKILL runs no cleanup) is
  removed by the next write to the same ``NAME``.

Reading (:class:`NpzReader`, :func:`load_npz`, :func:`load_run`): an npz file is opened as the
zip archive it is, and only the members asked for are read, one at a time, each after its header
(dtype and shape) has been checked against what is expected, against the member's stored size and
against the memory available. Object arrays (pickles) are never loaded. Every problem with a file
is one :class:`BadFileError` line naming the file and what is wrong.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import socket
import stat
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from ._checks import DenseTooLargeError, check_bytes_fit, check_layer_sizes

#: Keys every Hessian file (and every run file) must hold (``docs/file-format.md``).
HESSIAN_FILE_KEYS = ("X", "y", "layer_sizes", "activation", "loss", "params")


class BadFileError(ValueError):
    """An input file that is not what it should be: not an npz archive, empty, truncated, corrupt,
    holding pickled objects, or missing a key, or a key of the wrong dtype or shape. The message is
    one line naming the file and what is wrong."""


class UnsafeOutputError(ValueError):
    """An output path that must not be written (see :func:`check_output_path`)."""


# --------------------------------------------------------------------------------------------
# Output paths
# --------------------------------------------------------------------------------------------


def _kind_of(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a folder"
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a special file"


def _file_on_the_path(path: str) -> str:
    """The nearest existing ancestor of ``path`` (a file, when the path runs through one)."""
    ancestor = os.path.dirname(os.path.abspath(path))
    while not os.path.lexists(ancestor):
        ancestor = os.path.dirname(ancestor)
    return ancestor


def _check_destination(path: str, label: str) -> None:
    """Refuse what is at ``path`` now, if anything, unless it is a writable regular file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except NotADirectoryError:
        raise UnsafeOutputError(f"{label}: {_file_on_the_path(path)} is a file, not a folder") from None
    if stat.S_ISLNK(st.st_mode):
        raise UnsafeOutputError(
            f"{label} is a symbolic link (to {os.readlink(path)}); outputs are written neither "
            "through links nor over them: give the target's own path, or remove the link"
        )
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeOutputError(
            f"{label} is {_kind_of(st.st_mode)}; outputs are written to regular files only"
        )
    if not os.access(path, os.W_OK) or not st.st_mode & 0o222:  # the bits too: root may write anything
        raise UnsafeOutputError(f"{label} is read-only; make it writable or choose another path")


def check_output_path(path: str | os.PathLike, label: str | None = None, make_folder: bool = False) -> str:
    """Refuse, with an :class:`UnsafeOutputError`, an output path that cannot or must not be written.

    ``label`` names the path in the message (the command line passes its flag, ``"--out PATH"``).
    Refused: an empty path; a symbolic link, even a dangling one (replacing it would break the
    link, writing through it would change a file at a place the user did not name); a folder, a
    FIFO, a device or a socket; a read-only file; a path whose folder does not exist (unless
    ``make_folder``: then it is created), is a file, or is not writable. An existing writable
    regular file is accepted: it will be replaced. Returns ``path`` as a ``str``.
    """
    p = os.fspath(path)
    label = label or p
    if not p:
        raise UnsafeOutputError(f"{label}: empty path; give a file name")
    if p.endswith(os.sep) or os.path.basename(p) in (".", ".."):
        raise UnsafeOutputError(f"{label} names a folder; give a file name")
    _check_destination(p, label)
    folder = os.path.dirname(os.path.abspath(p))
    if not os.path.isdir(folder):
        ancestor = _file_on_the_path(p)
        if not os.path.isdir(ancestor):
            raise UnsafeOutputError(f"{label}: {ancestor} is a file, not a folder")
        if not make_folder:
            raise UnsafeOutputError(f"{label}: the folder {folder} does not exist (create it first)")
        os.makedirs(folder, exist_ok=True)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UnsafeOutputError(f"{label}: cannot write in the folder {folder} (permission denied)")
    return p


def _same_file(a: str, b: str) -> bool:
    """Whether ``a`` and ``b`` name one file: the same path once links are resolved, or (when both
    exist) the same inode, which also catches hard links and case-insensitive file systems."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_distinct_paths(inputs, outputs) -> None:
    """Refuse an output that is one of the inputs or the same file as another output.

    ``inputs`` and ``outputs`` map a label (a flag, e.g. ``"--out"``) to a path, as a mapping or as
    ``(label, path)`` pairs. A write replaces the file at its path, so an output equal to an input
    would destroy the input, and two equal outputs would leave only the last one.
    """
    inputs = list(inputs.items() if isinstance(inputs, Mapping) else inputs)
    outputs = outputs.items() if isinstance(outputs, Mapping) else outputs
    outs = [(label, os.fspath(p)) for label, p in outputs if p is not None]
    for label, out in outs:
        for in_label, inp in inputs:
            if inp is not None and _same_file(out, os.fspath(inp)):
                raise UnsafeOutputError(
                    f"{label} {out} is the input {in_label} {inp}; writing it would destroy the "
                    "input: choose another output path"
                )
    for i, (label, out) in enumerate(outs):
        for other_label, other in outs[i + 1 :]:
            if _same_file(out, other):
                raise UnsafeOutputError(
                    f"{label} {out} and {other_label} {other} are the same file; give each output "
                    "its own path"
                )


# --------------------------------------------------------------------------------------------
# Atomic writes and their temporaries
# --------------------------------------------------------------------------------------------

#: This machine in temporary names: a killed writer's temporary is recognised as stale only on
#: the machine that ran it (a shared file system also holds other machines' live temporaries).
_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"


def _temp_name(base: str, suffix: str) -> str:
    return f".{base}.{_HOST}-{os.getpid()}.{secrets.token_hex(6)}{suffix}.tmp"


def _process_is_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, owned by someone else
        return False
    return False


def remove_stale_temporaries(path: str | os.PathLike) -> list[str]:
    """Delete the temporaries that killed writers of ``path`` left behind; return their paths.

    A temporary ``.NAME.HOST-PID.TOKEN[.SUFFIX].tmp`` beside ``path`` is stale when ``HOST`` is
    this machine and process ``PID`` no longer exists. Temporaries of live processes (perhaps
    writing now) and of other machines are left alone.
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    pattern = re.compile(
        re.escape("." + os.path.basename(path) + ".")
        + re.escape(_HOST)
        + r"-(?P<pid>[0-9]+)\.[0-9a-f]+(?:\.[A-Za-z0-9]+)?\.tmp"
    )
    removed = []
    try:
        names = os.listdir(folder)
    except OSError:
        return removed
    for name in names:
        m = pattern.fullmatch(name)
        if not m or int(m["pid"]) == os.getpid() or not _process_is_gone(int(m["pid"])):
            continue
        full = os.path.join(folder, name)
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISREG(os.lstat(full).st_mode):
                os.remove(full)
                removed.append(full)
    return removed


def _fsync_folder(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some file systems refuse to sync a folder (EINVAL)
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "", make_folder: bool = True) -> Iterator[str]:
    """Yield a new temporary path beside ``path``; on success make it ``path``, else delete it.

    ``path`` is checked first (:func:`check_output_path`; its folder is created when missing and
    ``make_folder``) and once more just before the rename. On success the temporary is fsynced,
    renamed over ``path`` with ``os.replace`` (readers see the old file or the new one, never a
    mixture), and the folder is fsynced. The temporary gets the permissions of a new file under the
    umask. Stale temporaries of ``path`` are removed first (:func:`remove_stale_temporaries`).
    """
    path = check_output_path(path, make_folder=make_folder)
    folder = os.path.dirname(os.path.abspath(path))
    remove_stale_temporaries(path)
    while True:
        tmp = os.path.join(folder, _temp_name(os.path.basename(path), suffix))
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:  # pragma: no cover - a 48-bit token collided
            continue
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        _check_destination(path, path)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    _fsync_folder(folder)


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


# --------------------------------------------------------------------------------------------
# Reading npz files
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArraySpec:
    """What an npz member must be: one of the dtype ``kinds`` (NumPy's one-letter codes: ``"f"``
    float, ``"i"``/``"u"`` integers, ``"U"`` string) and the ``shape`` (``None`` for an axis of any
    length; the number of axes is fixed)."""

    kinds: str
    shape: tuple

    def describe(self) -> str:
        """In words, e.g. ``"real numbers of shape (n, 4)"`` (``n``: any length)."""
        if self.kinds == "U":
            what = "a string"
        elif self.kinds[0] in "iu":  # integers first: integral floats may be accepted as well
            what = "integers"
        else:
            what = "real numbers"
        dims = ", ".join("n" if d is None else str(d) for d in self.shape)
        return what if not self.shape else f"{what} of shape ({dims}{',' if len(self.shape) == 1 else ''})"

    def accepts(self, dtype: np.dtype, shape: tuple) -> bool:
        return (
            dtype.kind in self.kinds
            and len(shape) == len(self.shape)
            and all(want is None or want == got for want, got in zip(self.shape, shape, strict=True))
        )


#: Members up to this size are read without consulting the memory guard (which reads /proc and
#: the cgroup files, a few milliseconds; a mebibyte fits wherever this package runs at all).
_MEMORY_CHECK_BYTES = 2**20


class NpzReader:
    """An npz file opened for checked, lazy reading (use it as a context manager).

    Opening reads only the zip directory; :meth:`read` reads one member after checking its
    header. ``keys`` lists the arrays the archive holds. An empty, truncated or corrupt file, a
    file that is not a zip archive (a text file, a pickle, a single ``.npy``) or not a regular
    file raises :class:`BadFileError`; a missing file raises ``FileNotFoundError``.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            raise FileNotFoundError(f"no such file: {self.path}") from None
        except OSError as exc:
            raise BadFileError(f"{self.path}: cannot be read ({exc.strerror})") from None
        if not stat.S_ISREG(st.st_mode):
            raise BadFileError(f"{self.path} is {_kind_of(st.st_mode)}, not an npz file")
        if st.st_size == 0:
            raise BadFileError(f"{self.path}: empty file (0 bytes), not an npz file")
        try:
            with open(self.path, "rb") as fh:
                start = fh.read(6)
        except OSError as exc:
            raise BadFileError(f"{self.path}: cannot be read ({exc.strerror})") from None
        if not start.startswith((b"PK\x03\x04", b"PK\x05\x06")):
            raise BadFileError(f"{self.path}: not an npz file ({self._what_it_is(start)})")
        try:
            self._zip = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as exc:
            raise BadFileError(f"{self.path}: truncated or corrupt npz file ({exc})") from None
        self._members = {
            info.filename[: -len(".npy")]: info
            for info in self._zip.infolist()
            if info.filename.endswith(".npy")
        }

    @staticmethod
    def _what_it_is(start: bytes) -> str:
        if start.startswith(b"\x93NUMPY"):
            return "it is a single-array .npy file; an npz file is a zip archive of them"
        if start[:1] == b"\x80":
            return "it is a Python pickle, which this package never loads"
        return "an npz file is a zip archive, and this file does not start like one"

    @property
    def keys(self) -> tuple[str, ...]:
        """The names of the arrays in the archive."""
        return tuple(self._members)

    def close(self) -> None:
        """Close the archive."""
        self._zip.close()

    def __enter__(self) -> NpzReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def require(self, keys) -> None:
        """Raise :class:`BadFileError` naming the ``keys`` the archive lacks, if any."""
        missing = [k for k in keys if k not in self._members]
        if missing:
            raise BadFileError(f"{self.path}: missing key(s) {', '.join(missing)}")

    def read(self, key: str, spec: ArraySpec | None = None):
        """The array ``key`` (a 0-d string comes back as ``str``), read only after its header checks out.

        The header must parse, declare no Python objects (pickles are refused, never loaded), match
        ``spec`` when given, declare exactly as many bytes as the member stores, and fit in the
        memory available; the data must then pass the archive's CRC check.
        """
        self.require((key,))
        info = self._members[key]
        where = f"{self.path}: {key}"
        try:
            with self._zip.open(info) as fh:
                try:
                    version = np.lib.format.read_magic(fh)
                    if version == (1, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
                    elif version == (2, 0):
                        shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
                    else:
                        raise ValueError(f"npy format version {version}")
                except (ValueError, SyntaxError, TypeError) as exc:
                    raise BadFileError(
                        f"{where} has an unreadable array header ({type(exc).__name__})"
                    ) from None
                if dtype.hasobject:
                    raise BadFileError(
                        f"{where} holds Python objects (pickled data), which this package never loads"
                    )
                if spec is not None and not spec.accepts(dtype, shape):
                    raise BadFileError(
                        f"{where} must be {spec.describe()}; the file declares {dtype} of shape {shape}"
                    )
                nbytes = int(np.prod(shape, dtype=np.float64)) * dtype.itemsize
                if info.file_size != fh.tell() + nbytes:
                    raise BadFileError(
                        f"{where} declares shape {shape} of {dtype} ({nbytes:,} bytes) but the archive "
                        f"stores {info.file_size - fh.tell():,} bytes of data: truncated or corrupt"
                    )
                if nbytes > _MEMORY_CHECK_BYTES:
                    try:
                        check_bytes_fit(f"{where}, shape {shape} of {dtype},", nbytes)
                    except DenseTooLargeError as exc:
                        raise BadFileError(str(exc)) from None
                fh.seek(0)  # read_array parses the header again; it is a few hundred bytes
                array = np.lib.format.read_array(fh, allow_pickle=False)
                if fh.read(1):  # pragma: no cover - excluded by the size check above
                    raise BadFileError(f"{where} has data beyond its declared shape")
        except BadFileError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as exc:
            raise BadFileError(f"{where} is corrupt ({exc})") from None
        except RuntimeError as exc:  # zipfile: NotImplementedError (compression, version), encryption
            raise BadFileError(f"{where} cannot be read: {exc}") from None
        if array.ndim == 0 and array.dtype.kind == "U":
            return str(array)
        return array


def load_npz(
    path: str | os.PathLike,
    required: tuple[str, ...] = (),
    optional: tuple[str, ...] = (),
    specs: Mapping[str, ArraySpec] | None = None,
) -> dict:
    """Load arrays of an npz file into a plain dict (0-d string arrays become ``str``).

    Only the ``required`` and ``optional`` keys are read (every key when both are empty); missing
    ``required`` keys raise a :class:`BadFileError` naming them and the file; ``specs`` maps keys to
    the :class:`ArraySpec` their headers must match. See :class:`NpzReader` for what else is checked.
    """
    specs = specs or {}
    with NpzReader(path) as f:
        f.require(required)
        keys = (*required, *(k for k in optional if k in f.keys)) if required or optional else f.keys
        return {k: f.read(k, specs.get(k)) for k in keys}


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


#: Longest network name or loss name a run file may hold (the longest in the package has 13 letters).
_MAX_NAME = 64


def load_run(path, point: str = "params"):
    """Read a run (or Hessian) file back: ``(objective, params, raw)``.

    ``params`` is the parameter vector stored under ``point`` (``"params"``, the trained one, or
    ``"params_init"``); ``raw`` holds the arrays read, and nothing else of the file is read. The
    headers are checked before any data: ``layer_sizes`` integers, ``activation`` and ``loss``
    strings, ``X`` real of shape (N, n_0), ``y`` integer (or integral floats) of shape (N,), the
    parameters real of shape (P,) for the P of ``layer_sizes``. The objective is rebuilt, and so
    validated, from them; any problem raises a :class:`BadFileError` naming the file.
    """
    from .mlp import n_params
    from .objective import Objective

    path = os.fspath(path)
    with NpzReader(path) as f:
        f.require((*HESSIAN_FILE_KEYS, point))
        raw = {
            "layer_sizes": f.read("layer_sizes", ArraySpec("iu", (None,))),
            "activation": f.read("activation", ArraySpec("U", ())),
            "loss": f.read("loss", ArraySpec("U", ())),
        }
        try:
            sizes = check_layer_sizes(raw["layer_sizes"])
        except ValueError as exc:
            raise BadFileError(f"{path}: {exc}") from None
        for key in ("activation", "loss"):
            if len(raw[key]) > _MAX_NAME:
                raise BadFileError(f"{path}: {key} is a string of {len(raw[key])} characters, not a name")
        raw["X"] = f.read("X", ArraySpec("fiu", (None, sizes[0])))
        raw["y"] = f.read("y", ArraySpec("iuf", (raw["X"].shape[0],)))
        raw[point] = f.read(point, ArraySpec("fiu", (n_params(sizes),)))
    try:
        objective = Objective(raw["X"], raw["y"], sizes, raw["activation"], raw["loss"])
        params = objective.check_params(raw[point])
    except ValueError as exc:
        raise BadFileError(f"{path}: {exc}") from None
    return objective, params, raw


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
