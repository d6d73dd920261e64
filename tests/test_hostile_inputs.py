"""Hostile and careless input, class by class (issue 12; the table is docs/bad-input.md).

Every class of bad input has a test here, and each docstring names its class:

- data loss and unsafe writes: an output equal to an input or to another output, symlinks and
  special files as outputs, outputs checked before the work, atomic writes with fsync, stale
  temporaries of killed writers;
- hostile files: only the needed keys read, declared shapes and dtypes checked before reading,
  files that are not npz (and pickles), flipped bytes, non-finite results;
- the command line: user errors name the flag and exit 2, bugs stay tracebacks, divergence
  messages, --plot formats, a closed stdout, end-to-end runs of the real CLI;
- memory: the ulimit -v and cgroup limits;
- the library: complex and non-symmetric matrices, outlier counts of an all-equal spectrum;
- behaviour kept: pickles never run, clear messages for missing keys and for bad IDX files.

Files are written here with plain NumPy and zipfile (the documented format), not with the code
under test. Expensive steps are replaced by a tripwire (``no_work``) where a test shows that a
refusal comes before the work.
"""

from __future__ import annotations

import os
import pickle
import signal
import socket
import stat
import subprocess
import sys
import tracemalloc
import zipfile

import numpy as np
import pytest

from hessian_spectra import _checks, cli, io, plots, spectrum, training
from hessian_spectra.curvature import curvature_matrices, fast, matrix_free
from hessian_spectra.objective import Objective

# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------

SIZES = (2, 3, 2)  # P = 2·3 + 3 + 3·2 + 2 = 17
P = 17


def _run_arrays(scale: float = 1.0) -> dict:
    """A tiny run file's arrays, in the documented layout (docs/file-format.md)."""
    rng = np.random.default_rng(0)
    params = 0.3 * scale * rng.standard_normal(P)
    return {
        "X": rng.standard_normal((6, 2)),
        "y": np.array([0, 1, 0, 1, 0, 1]),
        "layer_sizes": np.array(SIZES, dtype=np.int64),
        "activation": np.array("tanh"),
        "loss": np.array("cross_entropy"),
        "params": params,
        "params_init": params / 2,
    }


def _write_run(path, scale: float = 1.0, **override) -> None:
    arrays = {**_run_arrays(scale), **override}
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})


def _npy_bytes(array: np.ndarray) -> bytes:
    import io as _stdio

    buf = _stdio.BytesIO()
    np.lib.format.write_array(buf, np.asarray(array), allow_pickle=False)
    return buf.getvalue()


def _npz_with_raw_members(path, raw: dict[str, bytes]) -> None:
    """An npz whose run-file members are the tiny run's, except those given as raw ``.npy`` bytes."""
    members = {k: _npy_bytes(v) for k, v in _run_arrays().items()}
    members.update(raw)
    with zipfile.ZipFile(path, "w") as z:
        for key, data in members.items():
            z.writestr(key + ".npy", data)


def _header_bytes(descr: str, shape: tuple) -> bytes:
    import io as _stdio

    buf = _stdio.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _one_line_error(capsys, *fragments) -> str:
    """The single stderr line of a refused command; it must start with the program's prefix and
    hold every fragment."""
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert err[0].startswith("hessian-spectra: error: "), err[0]
    for f in fragments:
        assert f in err[0], (f, err[0])
    assert "allow_pickle" not in err[0] and "Traceback" not in err[0]
    return err[0]


@pytest.fixture
def no_work(monkeypatch):
    """A tripwire: training, dense assembly and the matrix-free solvers raise if they are reached,
    so a test using it shows that a refusal came before any work."""

    def tripwire(*args, **kwargs):
        raise AssertionError("the work started before the refusal")

    monkeypatch.setattr(training, "train", tripwire)
    import hessian_spectra.curvature as curvature

    monkeypatch.setattr(curvature, "curvature_matrices", tripwire)
    monkeypatch.setattr(matrix_free, "top_eigenvalues", tripwire)
    monkeypatch.setattr(matrix_free, "spectral_density", tripwire)


TRAIN = ["train", "--samples", "30", "--dim", "3", "--classes", "3", "--hidden", "4", "--steps", "3"]


def _status(argv) -> int:
    """The exit status of ``cli.main(argv)``, whether returned or raised by argparse (SystemExit)."""
    try:
        return cli.main(argv)
    except SystemExit as exc:
        return exc.code


def _cli(*argv) -> subprocess.CompletedProcess:
    """Run the real command line in a fresh interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "hessian_spectra.cli", *argv], capture_output=True, text=True, check=False
    )


# --------------------------------------------------------------------------------------------
# Data loss and unsafe writes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["run.npz", "--out", "run.npz"], "--out run.npz is the input RUN run.npz"),
        (["run.npz", "--out", "o.npz", "--plot", "run.npz"], "--plot run.npz is the input RUN"),
        (["run.npz", "--out", "d/../run.npz"], "--out d/../run.npz is the input RUN"),
        (["link.npz", "--out", "run.npz"], "--out run.npz is the input RUN link.npz"),
        (["run.npz", "--out", "hard.npz"], "--out hard.npz is the input RUN"),
        (["run.npz", "--out", "x.png", "--plot", "./x.png"], "are the same file"),
        (["run.npz", "--out", "o.npz", "--top-k", "2", "--density", "--plot", "run.npz"], "is the input"),
    ],
    ids=["out=run", "plot=run", "other-spelling", "through-symlink", "hard-link", "out=plot", "matrix-free"],
)
def test_an_output_equal_to_an_input_or_another_output_is_refused_before_any_work(
    argv, fragment, tmp_path, monkeypatch, capsys, no_work
):
    """Data loss: an output that is the input (by name, by another spelling, through a symlink or
    a hard link) or another output of the same command is refused in one line with exit 2 before
    any work, and the run file keeps every byte."""
    monkeypatch.chdir(tmp_path)
    _write_run("run.npz")
    before = (tmp_path / "run.npz").read_bytes()
    os.mkdir("d")
    os.symlink("run.npz", "link.npz")
    os.link("run.npz", "hard.npz")
    assert cli.main(["hessian", *argv]) == 2
    _one_line_error(capsys, fragment)
    assert (tmp_path / "run.npz").read_bytes() == before
    assert not (tmp_path / "o.npz").exists() and not (tmp_path / "x.png").exists()


def test_train_never_writes_over_its_mnist_files(tmp_path, capsys, no_work):
    """Data loss: `train --data mnist --mnist-dir D --out D/<an IDX file>` is refused before any
    work; the IDX file keeps its bytes."""
    from hessian_spectra import data

    folder = tmp_path / "mnist"
    folder.mkdir()
    data.write_idx(folder / "train-images-idx3-ubyte", np.zeros((20, 28, 28), dtype=np.uint8))
    data.write_idx(folder / "train-labels-idx1-ubyte", (np.arange(20) % 10).astype(np.uint8))
    labels = folder / "train-labels-idx1-ubyte"
    before = labels.read_bytes()
    argv = ["train", "--data", "mnist", "--mnist-dir", str(folder), "--samples", "10", "--out", str(labels)]
    assert cli.main(argv) == 2
    _one_line_error(capsys, "is the input --mnist-dir")
    assert labels.read_bytes() == before


def test_symlinks_and_special_files_are_never_replaced(tmp_path, capsys, no_work):
    """Unsafe writes: an --out that is a symbolic link (to a file, or dangling), a FIFO, a socket, a
    folder or (as root) a device node is refused in one line with exit 2, by the command line and
    by io.save_npz alike; afterwards the link still points at its target, the target keeps its
    bytes, and each special file is still what it was."""
    run = tmp_path / "run.npz"
    _write_run(run)
    target = tmp_path / "target.npz"
    target.write_bytes(b"keep")
    (tmp_path / "link.npz").symlink_to(target)
    (tmp_path / "dangling.npz").symlink_to(tmp_path / "nowhere.npz")
    os.mkfifo(tmp_path / "fifo")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(tmp_path / "sock"))
    (tmp_path / "folder").mkdir()
    cases = {
        "link.npz": "is a symbolic link",
        "dangling.npz": "is a symbolic link",
        "fifo": "is a FIFO",
        "sock": "is a socket",
        "folder": "is a folder",
    }
    if os.geteuid() == 0:  # only root may make a device node; this one is /dev/null's (1, 3)
        os.mknod(tmp_path / "device", stat.S_IFCHR | 0o666, os.makedev(1, 3))
        cases["device"] = "is a device"
    try:
        for name, fragment in cases.items():
            assert cli.main(["hessian", str(run), "--out", str(tmp_path / name)]) == 2, name
            _one_line_error(capsys, f"--out {tmp_path / name} {fragment}")
            with pytest.raises(io.UnsafeOutputError, match=fragment):
                io.save_npz(tmp_path / name, a=np.zeros(1))
    finally:
        sock.close()
    assert os.readlink(tmp_path / "link.npz") == str(target) and target.read_bytes() == b"keep"
    assert os.readlink(tmp_path / "dangling.npz") == str(tmp_path / "nowhere.npz")
    assert not (tmp_path / "nowhere.npz").exists()
    assert stat.S_ISFIFO(os.lstat(tmp_path / "fifo").st_mode)
    assert stat.S_ISSOCK(os.lstat(tmp_path / "sock").st_mode)
    if "device" in cases:
        assert stat.S_ISCHR(os.lstat(tmp_path / "device").st_mode)


@pytest.mark.parametrize(
    "out, fragment",
    [
        ("folder", "is a folder"),
        ("afile/x.npz", "afile is a file, not a folder"),
        ("missing/x.npz", "does not exist"),
        ("readonly.npz", "is read-only"),
        ("", "empty path"),
    ],
)
@pytest.mark.parametrize("command", ["train", "hessian"])
def test_unwritable_outputs_are_refused_before_the_work(
    command, out, fragment, tmp_path, monkeypatch, capsys, no_work
):
    """Outputs checked before the work: `train` and `hessian` refuse an --out that is a folder, lies
    under a file or in a missing folder, is read-only (mode 0444, refused even for root) or empty,
    before training or assembling anything."""
    monkeypatch.chdir(tmp_path)
    _write_run("run.npz")
    os.mkdir("folder")
    (tmp_path / "afile").write_text("x")
    (tmp_path / "readonly.npz").write_bytes(b"old")
    os.chmod("readonly.npz", 0o444)
    argv = [*TRAIN, "--no-progress"] if command == "train" else ["hessian", "run.npz"]
    assert cli.main([*argv, "--out", out]) == 2
    _one_line_error(capsys, "--out", fragment)
    assert (tmp_path / "readonly.npz").read_bytes() == b"old"


@pytest.mark.parametrize(
    "failure, status, fragment",
    [
        (
            OSError(28, "No space left on device"),
            2,
            "--out {out}: could not be written (No space left on device)",
        ),
        (KeyboardInterrupt(), 130, "hessian-spectra: interrupted"),
    ],
    ids=["disk-full", "ctrl-c"],
)
def test_a_write_that_fails_midway_leaves_the_old_file(
    failure, status, fragment, tmp_path, monkeypatch, capsys
):
    """Atomic writes: when the disk fills up (ENOSPC) or the user presses Ctrl-C in the middle of
    writing --out, the command prints one line (exit 2, or 130 for the interrupt), the previous
    file at --out keeps its bytes, and no temporary is left behind."""
    run, out = tmp_path / "run.npz", tmp_path / "h.npz"
    _write_run(run)
    out.write_bytes(b"previous result")
    real_savez = np.savez

    def savez_then_fail(fh, **arrays):
        real_savez(fh, **{k: arrays[k] for k in list(arrays)[:2]})  # part of the file is written
        raise failure

    monkeypatch.setattr(np, "savez", savez_then_fail)
    assert cli.main(["hessian", str(run), "--out", str(out)]) == status
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment.format(out=out) in err[0], err
    assert out.read_bytes() == b"previous result"
    assert sorted(os.listdir(tmp_path)) == ["h.npz", "run.npz"]


def test_bench_json_is_checked_before_the_benchmark(tmp_path, monkeypatch, capsys):
    """Outputs checked before the work: `bench --json FOLDER` is refused before the benchmark runs
    (its run_benchmark is a tripwire here), with exit 2 and the flag named."""
    from hessian_spectra.bench import load_benchmark

    benchmark = load_benchmark()

    def tripwire(*args, **kwargs):
        raise AssertionError("the benchmark ran before the refusal")

    monkeypatch.setattr(benchmark, "run_benchmark", tripwire)
    with pytest.raises(SystemExit) as info:
        benchmark.main(["--workload", "tiny", "--json", str(tmp_path)], prog="hessian-spectra bench")
    assert info.value.code == 2
    assert f"--json {tmp_path} is a folder" in capsys.readouterr().err


def test_atomic_write_syncs_the_file_before_the_rename_and_the_folder_after(tmp_path, monkeypatch):
    """Atomic writes: the temporary's data are fsynced before os.replace puts it in place, and the
    folder is fsynced after the rename (so the rename itself survives a crash); the file that ends
    up at the path is the inode that was synced."""
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        st = os.fstat(fd)
        events.append(("fsync", "folder" if stat.S_ISDIR(st.st_mode) else "file", st.st_ino))
        real_fsync(fd)

    def replace(src, dst):
        events.append(("replace", os.stat(src).st_ino))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    io.save_npz(tmp_path / "f.npz", a=np.arange(3.0))
    ino = (tmp_path / "f.npz").stat().st_ino
    assert events == [("fsync", "file", ino), ("replace", ino), ("fsync", "folder", tmp_path.stat().st_ino)]
    assert os.listdir(tmp_path) == ["f.npz"]


def test_a_killed_writers_temporary_is_removed_by_the_next_write(tmp_path):
    """Stale temporaries: a writer killed by SIGKILL in the middle of a write leaves the old file
    intact and its temporary ``.NAME.HOST-PID.TOKEN.tmp``; the next write of NAME removes that
    temporary and leaves those of a live process and of another machine alone."""
    target = tmp_path / "out.npz"
    np.savez(target, a=np.arange(3))
    code = (
        "import os, signal\nfrom hessian_spectra import io\n"
        f"with io.atomic_path({str(target)!r}) as tmp:\n"
        "    open(tmp, 'wb').write(b'x' * 100_000)\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    killed = subprocess.Popen([sys.executable, "-c", code])
    assert killed.wait() == -signal.SIGKILL
    (left,) = [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]
    host, pid = left[len(".out.npz.") :].split(".")[0].rsplit("-", 1)
    assert left.startswith(".out.npz.") and int(pid) == killed.pid  # the dead writer is named
    with np.load(target) as f:
        np.testing.assert_array_equal(f["a"], [0, 1, 2])
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        of_live = f".out.npz.{host}-{live.pid}.0123456789ab.tmp"
        of_other_machine = f".out.npz.{host}x-{killed.pid}.0123456789ab.tmp"
        for name in (of_live, of_other_machine):
            (tmp_path / name).write_bytes(b"y")
        io.save_npz(target, a=np.arange(4))
    finally:
        live.kill()
        live.wait()
    assert sorted(p for p in os.listdir(tmp_path) if p.endswith(".tmp")) == sorted(
        [of_live, of_other_machine]
    )
    with np.load(target) as f:
        np.testing.assert_array_equal(f["a"], [0, 1, 2, 3])


# --------------------------------------------------------------------------------------------
# Hostile files
# --------------------------------------------------------------------------------------------


def test_only_the_needed_keys_are_read(tmp_path):
    """Hostile files: a run file with an extra 64 MiB array of zeros (deflated to a few tens of KB)
    is loaded without reading that member: the peak of traced allocations stays under 4 MiB."""
    path = tmp_path / "run.npz"
    _write_run(path)
    n = 2**23  # float64: 64 MiB
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as z:
        with z.open("extra.npy", "w", force_zip64=True) as fh:
            fh.write(_header_bytes("<f8", (n,)))
            chunk = bytes(2**20)
            for _ in range(8 * n // len(chunk)):
                fh.write(chunk)
    assert path.stat().st_size < 2**20
    tracemalloc.start()
    try:
        objective, params, raw = io.load_run(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "extra" not in raw and params.shape == (P,)
    assert peak < 4 * 2**20, peak


@pytest.mark.parametrize(
    "key, member, fragment",
    [
        ("X", _header_bytes("<f8", (10**12, 2)) + bytes(96), "declares shape (1000000000000, 2)"),
        ("params", _npy_bytes(np.zeros(P))[:-40], "truncated or corrupt"),
        ("params", _npy_bytes(np.zeros(P, dtype=complex)), "params must be real numbers of shape (17,)"),
        ("params", _npy_bytes(np.zeros(P - 1)), "params must be real numbers of shape (17,)"),
        ("X", _npy_bytes(np.zeros((6, 3))), "X must be real numbers of shape (n, 2)"),
        ("y", _npy_bytes(np.zeros(5, dtype=np.int64)), "y must be integers of shape (6,)"),
        ("layer_sizes", _npy_bytes(np.array("2-3-2")), "layer_sizes must be integers of shape (n,)"),
        ("layer_sizes", _npy_bytes(np.array([2.0, 3.0, 2.0])), "layer_sizes must be integers"),
        ("activation", _npy_bytes(np.array([1, 2])), "activation must be a string"),
        ("layer_sizes", b"\x93NUMPY\x01\x00\x10\x00{'descr': !!!}    \n", "unreadable array header"),
    ],
    ids=["huge-shape", "truncated", "complex", "wrong-P", "wrong-width", "wrong-N", "str-sizes",
         "float-sizes", "int-name", "bad-header"],
)  # fmt: skip
def test_declared_shapes_and_dtypes_are_checked_before_reading(key, member, fragment, tmp_path, capsys):
    """Hostile files: each member's header is checked before its data are read: a declared shape
    the stored bytes cannot hold (10¹² rows in 96 bytes), a truncated member, the wrong dtype
    (complex parameters, string or float layer sizes) or shape (P, the input width, N) are one
    BadFileError naming the file and the key, never a MemoryError; the CLI says it in one line."""
    path = tmp_path / "bad.npz"
    _npz_with_raw_members(path, {key: member})
    with pytest.raises(io.BadFileError) as info:
        io.load_run(path)
    assert fragment in str(info.value) and str(path) in str(info.value)
    assert cli.main(["hessian", str(path), "--out", str(tmp_path / "o.npz")]) == 2
    _one_line_error(capsys, fragment)


def test_a_member_larger_than_the_memory_available_is_refused_before_reading(tmp_path, monkeypatch):
    """Hostile files: an honest member (4 MiB of inputs) larger than the memory available (1 MiB,
    injected) is refused from its header, naming the memory, instead of being allocated."""
    path = tmp_path / "big.npz"
    _npz_with_raw_members(path, {"X": _npy_bytes(np.zeros((2**18, 2)))})
    monkeypatch.setattr(_checks, "available_memory_bytes", lambda: 2**20)
    with pytest.raises(
        io.BadFileError, match=r"X, shape \(262144, 2\) of float64, need 4.00 MiB, but only 1.00 MiB"
    ):
        io.load_run(path)


class _Plant:
    """Unpickling this object creates the file at ``path`` (a stand-in for any payload)."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_files_that_are_not_npz_get_one_line_and_pickles_never_run(tmp_path, capsys):
    """Hostile files (and the kept behaviour: pickles refused): a text file renamed .npz, an empty
    file, a truncated npz, a single .npy, a pickle, and an npz whose X holds a pickled object are
    each one BadFileError line naming the file, never NumPy's advice to use allow_pickle; the
    pickled payload never runs (it does run under np.load(allow_pickle=True), so the plant is live)."""
    _write_run(tmp_path / "good.npz")
    marker = tmp_path / "payload-ran"
    files = {
        "text.npz": (b"X,y\n1,2\n", "not an npz file"),
        "empty.npz": (b"", "empty file"),
        "truncated.npz": ((tmp_path / "good.npz").read_bytes()[:300], "truncated or corrupt"),
        "single.npz": (_npy_bytes(np.zeros(3)), "single-array .npy file"),
        "pickle.npz": (pickle.dumps(_Plant(str(marker))), "Python pickle"),
    }
    for name, (content, _) in files.items():
        (tmp_path / name).write_bytes(content)
    np.savez(tmp_path / "object.npz", **{**_run_arrays(), "X": np.array([_Plant(str(marker))], dtype=object)})
    files["object.npz"] = (None, "X holds Python objects (pickled data)")
    for name, (_, fragment) in files.items():
        with pytest.raises(io.BadFileError) as info:
            io.load_run(tmp_path / name)
        message = str(info.value)
        assert (
            fragment in message and name in message and "\n" not in message and "allow_pickle" not in message
        )
        assert cli.main(["hessian", str(tmp_path / name), "--out", str(tmp_path / "o.npz")]) == 2
        _one_line_error(capsys, fragment)
    assert not marker.exists()
    with np.load(tmp_path / "object.npz", allow_pickle=True) as f:
        f["X"]
    assert marker.exists()


def test_every_flipped_byte_is_refused_or_harmless(tmp_path):
    """Hostile files: a run file with one byte inverted (every byte of the zip's central directory,
    which names each member's version, flags and compression method, and every 5th byte before
    it) either loads with exactly the original contents (the byte was in a timestamp or an unread
    field) or raises BadFileError; no other exception, and never different numbers (the archive's
    CRC and the header checks catch every change to what is read)."""
    path = tmp_path / "run.npz"
    _write_run(path, params_init=None)
    original = _run_arrays()
    raw = path.read_bytes()
    end_record = raw.rindex(b"PK\x05\x06")  # zip format: the directory's offset is at bytes 16-19
    directory = int.from_bytes(raw[end_record + 16 : end_record + 20], "little")
    outcomes = {"same": 0, "refused": 0}
    flipped = tmp_path / "flipped.npz"
    for i in [*range(0, directory, 5), *range(directory, len(raw))]:
        data = bytearray(raw)
        data[i] ^= 0xFF
        flipped.write_bytes(bytes(data))
        try:
            objective, params, _ = io.load_run(flipped)
        except io.BadFileError:
            outcomes["refused"] += 1
            continue
        np.testing.assert_array_equal(objective.X, original["X"])
        np.testing.assert_array_equal(objective.y, original["y"])
        np.testing.assert_array_equal(params, original["params"])
        assert objective.layer_sizes == SIZES and (objective.activation, objective.loss) == (
            "tanh",
            "cross_entropy",
        )
        outcomes["same"] += 1
    assert outcomes["refused"] > 0 and outcomes["same"] > 0, outcomes


def test_non_finite_results_are_refused_before_writing(tmp_path, capsys):
    """Non-finite results: at parameters of size 1e200 a ReLU network overflows float64 (the fast
    engine itself, unchecked, returns a non-finite H); curvature_matrices raises
    NonFiniteResultError naming the overflow instead of returning it, for both engines, and
    `hessian --no-eigvals` exits 2 in one line and writes nothing."""
    arrays = _run_arrays(scale=1e200)
    objective = Objective(arrays["X"], arrays["y"], SIZES, "relu")  # relu: nothing saturates
    with np.errstate(all="ignore"):
        unchecked = fast.fast_engine(objective, arrays["params"], ("H",))["H"]
        assert not np.all(np.isfinite(unchecked))
        for engine in ("fast", "reference"):
            with pytest.raises(_checks.NonFiniteResultError, match="overflows float64.*largest \\|w\\| = "):
                curvature_matrices(objective, arrays["params"], ("H",), engine=engine)
    run, out = tmp_path / "run.npz", tmp_path / "h.npz"
    _write_run(run, scale=1e200, activation=np.array("relu"))
    assert cli.main(["hessian", str(run), "--out", str(out), "--no-eigvals"]) == 2
    _one_line_error(capsys, "non-finite entries", "overflowing parameters", "nothing written")
    assert not out.exists()


@pytest.mark.parametrize(
    "flags",
    [
        ["--top-k", "2", "--matrix-free"],
        ["--bottom-k", "2", "--matrix-free"],
        ["--density", "--matrix-free"],
        ["--density", "--top-k", "2"],  # at this P the CLI routes --top-k with --density to dense
    ],
)
def test_non_finite_products_are_refused_on_every_route(tmp_path, capsys, flags):
    """Non-finite results on the spectral routes: at parameters of size 1e200 the matrix-free
    products overflow (the eigensolvers would fail inside scipy on NaN vectors); every route of
    `hessian --top-k/--bottom-k/--density` exits 2 in one line naming the overflow and writes nothing,
    and the library's operator raises NonFiniteResultError on the first product."""
    run, out = tmp_path / "run.npz", tmp_path / "h.npz"
    _write_run(run, scale=1e200, activation=np.array("relu"))
    assert cli.main(["hessian", str(run), "--out", str(out), *flags]) == 2
    _one_line_error(capsys, "non-finite entries", "overflowing parameters", "nothing written")
    assert not out.exists()
    arrays = _run_arrays(scale=1e200)
    op = matrix_free.hessian_operator(Objective(arrays["X"], arrays["y"], SIZES, "relu"), arrays["params"])
    with pytest.raises(_checks.NonFiniteResultError, match="product H·v has .* non-finite entries"):
        op @ np.ones(op.shape[0])


# --------------------------------------------------------------------------------------------
# The command line
# --------------------------------------------------------------------------------------------

TRAIN_BASE = ["train", "--samples", "30", "--steps", "1", "--no-progress", "--out", "r.npz"]


@pytest.mark.parametrize(
    "extra, fragment",
    [
        (["--hidden", "-4"], "argument --hidden: expected widths ≥ 1"),
        (["--hidden", "30,,30"], "argument --hidden"),
        (["--hidden", ","], "argument --hidden"),
        (["--hidden", ""], "argument --hidden"),
        (["--clusters", "0"], "argument --clusters: expected an integer ≥ 1; got 0"),
        (["--seed", "-1"], "argument --seed: expected an integer ≥ 0; got -1"),
        (["--lr", "nan"], "argument --lr"),
        (["--lr", "0"], "argument --lr"),
        (["--spread", "-1"], "argument --spread"),
        (["--steps", "-1"], "argument --steps"),
        (["--samples", "3x"], "argument --samples"),
        (["--classes", "10", "--samples", "3"], "10 clusters of --classes (one cluster each)"),
        (["--data", "random", "--classes", "10", "--samples", "5"], "without a training sample"),
        (["--data", "digits", "--samples", "5"], "--samples 5 leaves 5 of the 10 classes without"),
        (["--clusters", "2", "--classes", "3"], "--clusters 2 is below --classes 3"),
        (["--batch-size", "5"], "--batch-size has no effect with --optimizer gd"),
        (["--sequential-batches"], "--sequential-batches has no effect with --optimizer gd"),
        (["--optimizer", "sgd"], "--optimizer sgd needs --batch-size"),
        (["--optimizer", "sgd", "--batch-size", "500"], "--batch-size 500 exceeds --samples 30"),
        (["--data", "random", "--clusters", "3"], "--clusters has no effect with --data random"),
        (["--data", "digits", "--dim", "5"], "--dim has no effect with --data digits"),
        (["--data", "two-blobs", "--no-standardize"], "--standardize/--no-standardize has no effect"),
        (["--mnist-dir", "."], "--mnist-dir has no effect with --data blobs"),
        (["--data", "mnist", "--mnist-dir", "no-such-folder"], "--mnist-dir no-such-folder is not a folder"),
        (["--samples", "100000000000"], "--samples/--dim/--hidden: the data (N = 100,000,000,000"),
        (["--hidden", "100000000,100000000"], "--samples/--dim/--hidden"),
        (["--activation", "gelu"], "argument --activation: invalid choice"),
    ],
)
def test_train_user_errors_name_the_flag_and_exit_2(extra, fragment, tmp_path, monkeypatch, capsys, no_work):
    """The command line: malformed values (negative or empty widths, zero clusters, a negative seed,
    NaN or zero rates), sizes that leave classes or clusters empty, flags without effect in the
    chosen data set or optimizer, and sizes beyond memory are each refused before any work with
    one line naming the flag (never the library's argument name) and exit 2."""
    monkeypatch.chdir(tmp_path)
    assert _status([*TRAIN_BASE, *extra]) == 2
    _one_line_error(capsys, fragment)
    assert not (tmp_path / "r.npz").exists()


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["hessian", "nothing.npz", "--out", "o.npz"], "RUN nothing.npz: no such file"),
        (["hessian", "bare.npz", "--out", "o.npz", "--at-init"], "--at-init: bare.npz has no params_init"),
        (["hessian", "bare.npz"], "the following arguments are required: --out"),
        (["hessian", "bare.npz", "--out", "o.npz", "--engine", "quick"], "argument --engine: invalid choice"),
        (["hessian", "bare.npz", "--out", "o.npz", "--plot", "s.jpg"], "--plot: a figure file must end in"),
        (["hessian", "bare.npz", "--out", "o.npz", "--plot", "s"], "s has no extension"),
        (["hessian", "bare.npz", "--out", "o.npz", "--no-eigvals", "--plot", "s.png"], "--no-eigvals skips"),
        (["hessian", "bare.npz", "--out", "o.npz", "--top-k", "2", "--plot", "s.png"], "add --density"),
        (["hessian", "bare.npz", "--out", "o.npz", "--bottom-k", "2", "--plot", "s.png"], "add --density"),
        (
            ["hessian", "bare.npz", "--out", "o.npz", "--top-k", "17"],
            "--top-k must be an integer from 1 to P - 1 = 16",
        ),
        (
            ["hessian", "bare.npz", "--out", "o.npz", "--top-k", "2", "--tol", "nan"],
            "--tol must be a finite number > 0",
        ),
        (
            ["hessian", "bare.npz", "--out", "o.npz", "--top-k", "2", "--maxiter", "-1"],
            "--maxiter must be an integer ≥ 0",
        ),
        (
            ["hessian", "bare.npz", "--out", "o.npz", "--bottom-k", "2", "--max-products", "0"],
            "--max-products must be an integer ≥ 1",
        ),
        (
            ["hessian", "bare.npz", "--out", "o.npz", "--bottom-k", "17"],
            "--bottom-k must be an integer from 1 to P - 1 = 16",
        ),
        (
            ["hessian", "bare.npz", "--out", "o.npz", "--density", "--eigensolver", "block"],
            "--eigensolver sets the eigensolver of --top-k/--bottom-k",
        ),
        (["hessian", "bare.npz", "--out", "o.npz", "--matrix-free"], "--matrix-free chooses the route"),
        (
            ["hessian", "bare.npz", "--out", "o.npz", "--density", "--seed", "-1"],
            "--seed must be an integer ≥ 0",
        ),
        (
            ["hessian", "bare.npz", "--out", "o.npz", "--density", "--tol", "1e-3"],
            "--tol sets the eigensolver of --top-k/--bottom-k",
        ),
        (
            ["hessian", "bare.npz", "--out", "o.npz", "--seed", "3"],
            "--seed seeds the matrix-free random vectors",
        ),
        (
            ["hessian", "bare.npz", "--out", "o.npz", "--seed", "0"],  # the default value, given
            "--seed seeds the matrix-free random vectors",
        ),
        (
            ["hessian", "bare.npz", "--out", "o.npz", "--top-k", "2", "--sigma2", "relative"],
            "--sigma2 sets the kernel of --density",
        ),
        (
            ["hessian", "bare.npz", "--out", "o.npz", "--no-eigvals", "--driver", "evd"],
            "--driver chooses how eigenvalues are computed: it has no effect with --no-eigvals",
        ),
        (
            ["hessian", "bare.npz", "--out", "o.npz", "--top-k", "2", "--matrix-free", "--driver", "evr"],
            "--driver chooses the dense route's eigh driver, but this run takes the matrix-free route",
        ),
        (
            [
                "hessian",
                "bare.npz",
                "--out",
                "o.npz",
                "--top-k",
                "6",
                "--matrix-free",
                "--eigensolver",
                "lobpcg",
            ],
            "--top-k 6 is more than --eigensolver lobpcg computes at P = 17: at most 5",
        ),
        (["reproduce", "E1", "--out", "bare.npz", "--no-progress"], "--out bare.npz is not a folder"),
        (["reproduce", "E99", "--no-progress"], "unknown experiment 'E99'"),
        (["reproduce", "E1", "--seed", "-1", "--no-progress"], "--seed must be an integer with 0 <= seed"),
        (["reproduce", "E1", "--mnist", "nope", "--no-progress"], "--mnist must be a folder"),
    ],
)
def test_hessian_and_reproduce_user_errors_name_the_flag_and_exit_2(
    argv, fragment, tmp_path, monkeypatch, capsys, no_work
):
    """The command line: a missing run file, --at-init without initial parameters, a missing or
    invalid flag, a --plot that would not be written or not in the format its name says,
    matrix-free settings out of range or without effect (--tol without --top-k, --seed on the
    dense path, --sigma2 without --density, --driver with --no-eigvals or on the matrix-free route,
    each also when given at its default value), and a results folder that is a file are refused before any work in one line
    with exit 2."""
    monkeypatch.chdir(tmp_path)
    _write_run("bare.npz", params_init=None)
    assert _status(argv) == 2
    _one_line_error(capsys, fragment)
    assert not (tmp_path / "o.npz").exists()


def test_an_eigensolver_that_converges_nothing_is_one_line(tmp_path, capsys):
    """The command line: a --max-products budget too small for any eigenvalue to converge (one
    Hessian-vector product for the top 2 by Lanczos) ends in one line naming --max-products and
    --tol, exit 2, and no output file."""
    run, out = tmp_path / "run.npz", tmp_path / "o.npz"
    _write_run(run)
    argv = ["hessian", str(run), "--out", str(out), "--top-k", "2", "--matrix-free", "--max-products", "1"]
    assert cli.main(argv) == 2
    _one_line_error(capsys, "--max-products, --tol", "none of the 2 largest eigenvalues converged")
    assert not out.exists()


def test_hessian_refuses_what_this_run_or_machine_cannot_do(tmp_path, monkeypatch, capsys, no_work):
    """The command line: --decompose on a one-class run (the class-mean split needs two classes)
    and --driver evd_2stage where no bundled OpenBLAS provides it are refused before any work,
    naming the flag."""
    one_class = tmp_path / "one.npz"
    rng = np.random.default_rng(0)
    _write_run(
        one_class,
        layer_sizes=np.array([2, 3, 1]),
        y=np.zeros(6, dtype=np.int64),
        params=rng.standard_normal(2 * 3 + 3 + 3 + 1),
        params_init=None,
    )
    assert cli.main(["hessian", str(one_class), "--out", str(tmp_path / "o.npz"), "--decompose"]) == 2
    _one_line_error(capsys, "--decompose: the class-mean split needs at least 2 classes", "C = 1")
    monkeypatch.setattr(spectrum, "two_stage_available", lambda: False)
    run = tmp_path / "run.npz"
    _write_run(run)
    assert cli.main(["hessian", str(run), "--out", str(tmp_path / "o.npz"), "--driver", "evd_2stage"]) == 2
    _one_line_error(capsys, "--driver evd_2stage needs the OpenBLAS")


@pytest.mark.parametrize(
    "error",
    [ValueError("internal"), ZeroDivisionError("internal"), ImportError("internal"), FileNotFoundError("x")],
)
def test_a_bug_is_a_traceback_not_a_user_error(error, tmp_path, monkeypatch):
    """Bugs stay bugs: an exception raised inside the work (planted in the eigenvalue routine) is
    not printed as a user error with exit 2 but propagates out of main() with its traceback, even
    when it is a ValueError, an ArithmeticError or an ImportError."""
    run = tmp_path / "run.npz"
    _write_run(run)

    def planted(*args, **kwargs):
        raise error

    monkeypatch.setattr(spectrum, "eigenvalues", planted)
    with pytest.raises(type(error), match=str(error.args[0])):
        cli.main(["hessian", str(run), "--out", str(tmp_path / "o.npz")])


def test_divergence_names_the_learning_rate_or_the_data(tmp_path, monkeypatch, capsys):
    """Divergence: `--lr 1e6` (the loss grows from about 1 to 1e9) is blamed on --lr; with inputs of
    size 1e300 (--spread 1e300 --no-standardize) the loss is already enormous before the first
    update and the message blames the data, not --lr. One line each, exit 2, no run file."""
    monkeypatch.chdir(tmp_path)
    assert cli.main([*TRAIN, "--no-progress", "--lr", "1e6", "--out", "r.npz"]) == 2
    _one_line_error(capsys, "--lr 1e+06: training diverged at step")
    argv = [*TRAIN, "--no-progress", "--spread", "1e300", "--no-standardize", "--out", "r.npz"]
    assert cli.main(argv) == 2
    line = _one_line_error(capsys, "not --lr", "lower --spread", "drop --no-standardize")
    assert "|x| = " in line
    assert not (tmp_path / "r.npz").exists()


@pytest.mark.parametrize(
    "name, magic",
    [("f.png", b"\x89PNG\r\n\x1a\n"), ("f.pdf", b"%PDF-"), ("F.SVG", b"<?xml"), ("f.svg", b"<?xml")],
)
def test_save_figure_writes_the_format_its_extension_names(name, magic, tmp_path):
    """--plot formats: save_figure writes PNG, PDF or SVG as the extension (in any case) names,
    read off the files' signatures; any other extension, or none, is refused and nothing is written."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1])
    plots.save_figure(fig, tmp_path / name)
    head = (tmp_path / name).read_bytes()[:200]
    assert head.startswith(magic) and (b"<svg" in head or not name.lower().endswith(".svg"))
    for bad in ("f.jpg", "f", "f.npz"):
        fig, _ = plt.subplots()
        with pytest.raises(ValueError, match=r"must end in \.png, \.pdf or \.svg"):
            plots.save_figure(fig, tmp_path / bad)
        plt.close(fig)
        assert not (tmp_path / bad).exists()


def test_hessian_plot_pdf_is_a_pdf(tmp_path, capsys):
    """--plot formats: `hessian RUN --out H --plot s.pdf` writes a PDF (not PNG bytes) and says so."""
    run = tmp_path / "run.npz"
    _write_run(run)
    assert (
        cli.main(["hessian", str(run), "--out", str(tmp_path / "h.npz"), "--plot", str(tmp_path / "s.pdf")])
        == 0
    )
    assert (tmp_path / "s.pdf").read_bytes().startswith(b"%PDF-")
    assert f"plot -> {tmp_path / 's.pdf'}" in capsys.readouterr().out


class _ClosedPipe:
    """A stdout whose reader has gone away."""

    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_stdout_ends_quietly_with_status_141(tmp_path, monkeypatch, capsys):
    """A closed pipe: when stdout's reader is gone (`hessian ... | head -c 3`), the command exits
    with status 141 and nothing on stderr, after its files (npz and plot) are written; the same in
    a fresh interpreter whose stdout is a pipe without a reader."""
    run = tmp_path / "run.npz"
    _write_run(run)
    out, png = tmp_path / "h.npz", tmp_path / "s.png"
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert (
        cli.main(["hessian", str(run), "--out", str(out), "--plot", str(png)]) == cli.EXIT_BROKEN_PIPE == 141
    )
    assert out.exists() and png.exists() and capsys.readouterr().err == ""
    monkeypatch.undo()
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "hessian_spectra.cli",
                "hessian",
                str(run),
                "--out",
                str(tmp_path / "h2.npz"),
            ],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            check=False,
        )
    finally:
        os.close(write_end)
    assert proc.returncode == 141 and proc.stderr == ""
    assert (tmp_path / "h2.npz").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["hessian", "run.npz", "--out", "run.npz"],
        ["train", "--hidden", "30,,30", "--out", "r.npz"],
        ["hessian", "text.npz", "--out", "o.npz"],
        ["train", "--samples", "100000000000", "--out", "r.npz"],
    ],
    ids=["out-is-input", "empty-width", "text-npz", "huge-samples"],
)
def test_end_to_end_user_errors_exit_2_with_one_line(argv, tmp_path, monkeypatch):
    """End to end (the real CLI in a fresh interpreter): a user error gives exit status 2 and
    exactly one line on stderr, no traceback."""
    monkeypatch.chdir(tmp_path)
    _write_run("run.npz")
    (tmp_path / "text.npz").write_text("not an archive\n")
    proc = _cli(*argv)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and lines[0].startswith("hessian-spectra: error: "), (
        proc.stderr
    )


def test_end_to_end_a_bug_exits_1_with_its_traceback(tmp_path):
    """End to end: a bug (planted: the eigenvalue routine divides by zero) ends with the
    interpreter's traceback and exit status 1, not with a user-error line."""
    run = tmp_path / "run.npz"
    _write_run(run)
    code = (
        "import sys\nfrom hessian_spectra import cli, spectrum\n"
        "spectrum.eigenvalues = lambda *a, **k: 1 / 0\n"
        f"sys.exit(cli.main(['hessian', {str(run)!r}, '--out', {str(tmp_path / 'o.npz')!r}]))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "ZeroDivisionError" in proc.stderr
    assert "hessian-spectra: error" not in proc.stderr


# --------------------------------------------------------------------------------------------
# Memory
# --------------------------------------------------------------------------------------------


def _fake_proc(tmp_path, cgroup: str, mountinfo: str):
    proc = tmp_path / "proc-self"
    proc.mkdir()
    (proc / "cgroup").write_text(cgroup)
    (proc / "mountinfo").write_text(mountinfo)
    return proc


def _write_files(folder, **files):
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("_", ".", 1)).write_text(text)


def test_memory_guard_reads_the_cgroup_v2_limit_at_every_level(tmp_path):
    """Memory (cgroup v2, injected files): the room is the smallest over the process's group and its
    parents of memory.max minus the working set (memory.current minus inactive_file): the parent's
    1e9 − (4e8 − 1e8) = 7e8 binds while the group's own limit is 'max'; with the group's own
    limit 5e8 and usage 4.5e8 (no memory.stat) it is 5e7. The mount point's name has an escaped
    space, as /proc/self/mountinfo writes it."""
    mount = tmp_path / "cg v2"
    parent, group = mount / "user.slice", mount / "user.slice" / "app.scope"
    _write_files(
        parent,
        memory_max="1000000000\n",
        memory_current="400000000\n",
        memory_stat="anon 1\ninactive_file 100000000\n",
    )
    _write_files(group, memory_max="max\n", memory_current="300000000\n")
    escaped = str(mount).replace(" ", "\\040")
    proc = _fake_proc(
        tmp_path,
        "0::/user.slice/app.scope\n",
        f"30 23 0:26 / {escaped} rw,nosuid - cgroup2 cgroup2 rw\n31 23 0:27 / /proc rw - proc proc rw\n",
    )
    assert _checks.cgroup_memory_room(str(proc)) == 700_000_000
    _write_files(group, memory_max="500000000\n", memory_current="450000000\n")
    assert _checks.cgroup_memory_room(str(proc)) == 50_000_000


def test_memory_guard_reads_the_cgroup_v1_limit_inside_a_container(tmp_path):
    """Memory (cgroup v1, injected files): with the memory hierarchy mounted at the container's own
    group (mount root /docker/abc) and the process in /docker/abc/sub, an unlimited group
    (9223372036854771712) defers to the mount's limit 2e9 minus the working set
    1.5e9 − 5e8 = 1e9; a limit of 8e8 on sub with 5e8 used binds instead (3e8: the group is found
    below the mount); without any memory mount there is no cgroup limit (None)."""
    mount = tmp_path / "memory"
    _write_files(mount / "sub", memory_limit_in_bytes="9223372036854771712\n", memory_usage_in_bytes="10\n")
    _write_files(
        mount,
        memory_limit_in_bytes="2000000000\n",
        memory_usage_in_bytes="1500000000\n",
        memory_stat="inactive_file 1\ntotal_inactive_file 500000000\n",
    )
    proc = _fake_proc(
        tmp_path,
        "5:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc/sub\n0::/\n",
        f"35 31 0:32 /docker/abc {mount} rw,relatime - cgroup cgroup rw,memory\n",
    )
    assert _checks.cgroup_memory_room(str(proc)) == 1_000_000_000
    _write_files(mount / "sub", memory_limit_in_bytes="800000000\n", memory_usage_in_bytes="500000000\n")
    assert _checks.cgroup_memory_room(str(proc)) == 300_000_000
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "cgroup").write_text("4:memory:/x\n")
    (empty / "mountinfo").write_text("")
    assert _checks.cgroup_memory_room(str(empty)) is None


def test_memory_guard_reads_the_address_space_limit(tmp_path):
    """Memory (ulimit -v, injected values): the room is RLIMIT_AS minus the VmSize already mapped
    (2 GiB − 1 GiB = 1 GiB); an unlimited RLIMIT_AS (−1) sets none; MemAvailable is read in bytes."""
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmPeak:\t 2000000 kB\nVmSize:\t 1048576 kB\n")
    assert _checks.address_space_room(limit=2**31, status_path=str(status)) == 2**30
    assert _checks.address_space_room(limit=-1, status_path=str(status)) is None
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemAvailable:    8000000 kB\n")
    assert _checks.meminfo_available(str(meminfo)) == 8_000_000 * 1024


def test_the_dense_guard_takes_the_least_limit_and_names_it(tmp_path, monkeypatch, capsys):
    """Memory: with 8 GiB of MemAvailable but a cgroup room of 1 KiB (injected), the dense request
    of `hessian --decompose` is refused before any work, in one line that names the cgroup limit
    and the ways out (drop --decompose, or the matrix-free path)."""
    monkeypatch.setattr(_checks, "memory_limits", lambda: {"MemAvailable": 8 * 2**30, "cgroup": 1024})
    assert _checks.available_memory_bytes() == 1024
    run = tmp_path / "run.npz"
    _write_run(run)
    assert cli.main(["hessian", str(run), "--out", str(tmp_path / "h.npz"), "--decompose"]) == 2
    _one_line_error(capsys, "of memory is available (cgroup)", "drop --decompose", "--top-k K --density")


def test_a_dense_request_under_ulimit_v_is_one_line_exit_2(tmp_path):
    """Memory, end to end: in a fresh interpreter whose address space is limited (RLIMIT_AS set to
    200 MiB beyond what it has mapped after its imports), `hessian --decompose` at P = 3,019 (four
    matrices of 73 MB) exits 2 with one line naming ulimit -v, instead of a MemoryError traceback."""
    run, out = tmp_path / "run.npz", tmp_path / "h.npz"
    rng = np.random.default_rng(1)
    sizes = (100, 29, 3)  # P = 100·29 + 29 + 29·3 + 3 = 3,019
    np.savez(
        run,
        X=rng.standard_normal((6, 100)),
        y=np.array([0, 1, 2, 0, 1, 2]),
        layer_sizes=np.array(sizes, dtype=np.int64),
        activation=np.array("tanh"),
        loss=np.array("cross_entropy"),
        params=0.1 * rng.standard_normal(3019),
    )
    code = (
        "import resource, sys\n"
        "import scipy.linalg, hessian_spectra.cli as cli, hessian_spectra.curvature.fast, hessian_spectra.curvature.papyan\n"
        "vm = int(open('/proc/self/status').read().split('VmSize:')[1].split()[0]) * 1024\n"
        "resource.setrlimit(resource.RLIMIT_AS, (vm + 200 * 2**20, resource.getrlimit(resource.RLIMIT_AS)[1]))\n"
        f"sys.exit(cli.main(['hessian', {str(run)!r}, '--out', {str(out)!r}, '--decompose']))\n"
    )
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False, env=env)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr[-2000:]
    assert "4 dense 3,019×3,019 matrices" in lines[0] and "(ulimit -v)" in lines[0] and not out.exists()


# --------------------------------------------------------------------------------------------
# The library
# --------------------------------------------------------------------------------------------


def test_complex_and_non_symmetric_input_is_refused_never_cast():
    """Library: the Hermitian [[1, 1j], [-1j, 1]] (eigenvalues 0 and 2) is refused, never cast to
    the identity (eigenvalues 1, 1); a non-symmetric matrix is refused instead of having one
    triangle read; complex inputs or parameters are refused by Objective and in run files."""
    with pytest.raises(ValueError, match="M must be real"):
        spectrum.eigenvalues(np.array([[1, 1j], [-1j, 1]]))
    with pytest.raises(ValueError, match="M must be symmetric"):
        spectrum.eigenvalues(np.array([[1.0, 2.0], [0.0, 1.0]]))
    arrays = _run_arrays()
    with pytest.raises(ValueError, match="X must be real"):
        Objective(arrays["X"] + 0j, arrays["y"], SIZES, "tanh")
    objective = Objective(arrays["X"], arrays["y"], SIZES, "tanh")
    with pytest.raises(ValueError, match="params must be real"):
        objective.check_params(arrays["params"] + 1j)


@pytest.mark.parametrize("rule", ["gap", "ratio", "elbow"])
def test_outlier_counts_of_an_all_equal_spectrum_are_zero(rule):
    """Library: on an all-equal (3, 3, ..., 3) or all-zero spectrum nothing stands out, so every
    outlier count is 0; one eigenvalue 10 over a bulk of 1s counts 1 (the rules still see it)."""
    for flat in (np.full(20, 3.0), np.zeros(20)):
        assert spectrum.outlier_counts(flat)[rule] == 0
    assert spectrum.outlier_counts(np.concatenate([[10.0], np.ones(19)]))[rule] == 1


# --------------------------------------------------------------------------------------------
# Behaviour kept
# --------------------------------------------------------------------------------------------


def test_missing_keys_and_bad_idx_files_keep_their_clear_messages(tmp_path, capsys):
    """Kept behaviour: a file without y says `missing key(s) y`; a corrupt IDX file in --mnist-dir
    is one line naming that file and what is wrong, with exit 2."""
    from hessian_spectra import data

    partial = tmp_path / "partial.npz"
    np.savez(partial, X=np.zeros((2, 2)))
    assert cli.main(["hessian", str(partial), "--out", str(tmp_path / "o.npz")]) == 2
    _one_line_error(capsys, f"{partial}: missing key(s) y, layer_sizes, activation, loss, params")
    folder = tmp_path / "mnist"
    folder.mkdir()
    (folder / "train-images-idx3-ubyte").write_bytes(b"\x01\x02\x08\x03" + bytes(12))
    data.write_idx(folder / "train-labels-idx1-ubyte", (np.arange(20) % 10).astype(np.uint8))
    argv = ["train", "--data", "mnist", "--mnist-dir", str(folder), "--samples", "10", "--no-progress"]
    assert cli.main([*argv, "--out", str(tmp_path / "r.npz")]) == 2
    _one_line_error(capsys, "train-images-idx3-ubyte: not an IDX file")
